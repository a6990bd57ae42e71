"""One prepared command for a lent GPU: every baseline's training and sampling speed, Cycles on the GPU, every
metric on the GPU, and a short real training run, into one JSON (under 10 minutes in all on one GPU).

    .venv/bin/python bench/gpu_run.py --out runs/gpu/gpu_run.json            # on the GPU machine
    .venv/bin/python bench/gpu_run.py --toy --device cpu --out /tmp/g.json   # toy sizes, any CPU (the test runs this)

Sections (each one timed; a failing section records its error and the run goes on; a section that would start
after --minutes is skipped and says so):

* ``train_step``   MAGE, Motion-I2V-style and MMVID-style at their Single Moving MNIST preset sizes: forward +
                   backward + Adam at batch 32 under bf16 autocast on CUDA -> s/step, clips/s;
* ``generation``   one 10-frame video per clip at batch 64 (MAGE greedy with the KV cache, Motion-I2V-style 8 flow
                   steps + renderer, MMVID-style 12 mask-predict iterations) -> clips/s, tokens only for MAGE and
                   MMVID (the VQ-VAE decode is listed apart);
* ``cycles``       one CATER-GEN-v2 video rendered at 128 px (32 samples + denoising) with Cycles on OptiX/CUDA and
                   on the CPU -> s/frame each (skipped when bpy is missing);
* ``metrics``      ``ti2v-bench evaluate static`` with every metric (random-init networks: the GPU machine cannot
                   download weights) on a synthetic Single Moving MNIST split, ambiguous captions, 2 samples ->
                   clips/s per metric;
* ``short_training`` Motion-I2V-style on a fresh Single Moving MNIST split for --train-minutes, its learning
                   curve (the metrics.jsonl rows) and final evaluation.

The JSON's ``device`` names the GPU; bench/leaderboard.py reads a ``gpu_run`` entry's budget from it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import traceback
from pathlib import Path

import torch

TOY = {"batch": 2, "gen_batch": 2, "frames": 4}
FULL = {"batch": 32, "gen_batch": 64, "frames": 10}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def autocast(device: torch.device):
    from contextlib import nullcontext

    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def _text(batch: int, device):
    from ti2v.models.vocabulary import Vocabulary

    vocab = Vocabulary.build()
    ids, valid = vocab.batch(["the digit 3 is moving up then down ."] * batch, 64)
    return vocab, ids.to(device), valid.to(device)


def builders(toy: bool, device: torch.device):
    """name -> (model, make_batch(b) -> train args, generate(b))."""
    from ti2v.models.config import load_preset, replace
    from ti2v.models.mage import MAGE
    from ti2v.models.mmvid.model import MMVID
    from ti2v.models.mmvid.sampling import mask_predict
    from ti2v.models.motion_i2v.model import MotionI2V
    from ti2v.models.motion_i2v.train import build_config
    from ti2v.models.sampling import sample_tokens

    sizes = TOY if toy else FULL
    t = sizes["frames"]
    small = {"d_model": 32, "heads": 4, "ff_dim": 64, "text_layers": 1}
    preset = load_preset("mnist-single")
    vocab, _, _ = _text(1, device)
    mage_cfg = replace(preset["mage"], vocab_size=len(vocab), frames=t, **({**small, "axial_blocks": 3} if toy else {}))
    mmvid_cfg = replace(preset["mmvid"], vocab_size=len(vocab), frames=t,
                        **({**small, "axial_blocks": 3, "sample_steps": 2} if toy else {}))
    mi_preset = dict(preset)
    mi_preset["data"] = {**preset["data"], "clip_length": t}
    mi_cfg = replace(build_config(mi_preset, vocab),
                     **({**small, "blocks": 1, "renderer_width": 8, "sample_steps": 2} if toy else {}))
    out = {}

    def tokens(b, k):
        return torch.randint(0, k, (b, t, 16, 16), device=device)

    mage = MAGE(mage_cfg).to(device)
    out["mage"] = (mage, lambda b: (tokens(b, mage_cfg.codebook_size), *_text(b, device)[1:],
                                    torch.rand(b, device=device)),
                   lambda b: sample_tokens(mage, tokens(b, mage_cfg.codebook_size)[:, 0], *_text(b, device)[1:],
                                           torch.rand(b, device=device)))
    mmvid = MMVID(mmvid_cfg).to(device)
    out["mmvid"] = (mmvid, lambda b: (tokens(b, mmvid_cfg.codebook_size), *_text(b, device)[1:],
                                      torch.rand(b, device=device)),
                    lambda b: mask_predict(mmvid, tokens(b, mmvid_cfg.codebook_size)[:, 0], *_text(b, device)[1:],
                                           torch.rand(b, device=device)))
    mi = MotionI2V(mi_cfg).to(device)
    r = mi_cfg.field_resolution
    n_cond = 2 * (t - 1) + 2

    def mi_batch(b):
        frames = torch.rand(b, t, 1, 64, 64, device=device)
        field = torch.randn(b, t - 1, 64, 64, 2, device=device)
        visible = torch.ones(b, t - 1, 64, 64, device=device)
        cond = torch.zeros(b, n_cond, r, r, device=device)
        return (frames, *_text(b, device)[1:], torch.rand(b, device=device), field, visible, cond)

    out["motion-i2v"] = (mi, mi_batch,
                         lambda b: mi.generate(torch.rand(b, 1, 64, 64, device=device), *_text(b, device)[1:],
                                               torch.rand(b, device=device), torch.zeros(b, n_cond, r, r, device=device)))
    return out


def train_step(toy: bool, device: torch.device, repeats: int) -> dict:
    rows = {}
    b = (TOY if toy else FULL)["batch"]
    for name, (model, make_batch, _) in builders(toy, device).items():
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        model.train()
        times = []
        for i in range(repeats + 1):  # the first step (allocation, kernel choice) is not counted
            args = make_batch(b)
            sync(device)
            t0 = time.perf_counter()
            with autocast(device):
                loss = model(*args)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sync(device)
            if i:
                times.append(time.perf_counter() - t0)
        s = sorted(times)[len(times) // 2]
        rows[name] = {"batch": b, "s_per_step": round(s, 4), "clips_per_s": round(b / s, 2),
                      "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
                      "bf16": device.type == "cuda"}
    return rows


@torch.inference_mode()
def generation(toy: bool, device: torch.device, repeats: int) -> dict:
    rows = {}
    b = (TOY if toy else FULL)["gen_batch"]
    for name, (model, _, generate) in builders(toy, device).items():
        model.eval()
        times = []
        for i in range(repeats + 1):
            sync(device)
            t0 = time.perf_counter()
            with autocast(device):
                generate(b)
            sync(device)
            if i:
                times.append(time.perf_counter() - t0)
        s = sorted(times)[len(times) // 2]
        rows[name] = {"batch": b, "s_per_batch": round(s, 4), "clips_per_s": round(b / s, 2)}
    return rows


def cycles(toy: bool, device: torch.device) -> dict:
    try:
        import bpy  # noqa: F401
    except ImportError:
        return {"status": "skipped", "reason": "bpy is not installed"}
    from ti2v.datagen.cater.job import CaterConfig, WriteCaterShard, get_renderer
    from ti2v.datagen.runner import ShardJob

    res, samples, frames = (32, 1, 2) if toy else (128, 32, 8)
    rows = {}
    kinds = ["gpu", "cpu"] if device.type == "cuda" else ["cpu"]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            cfg = CaterConfig("v2", 8, 8, frames, res, samples, True, kind, os.cpu_count())
            try:
                renderer = get_renderer(cfg)
            except Exception as e:  # no OptiX/CUDA device for Cycles
                rows[kind] = {"status": "failed", "reason": " ".join(str(e).split())[:300]}
                continue
            warm = CaterConfig("v2", 8, 8, 2, res, samples, True, kind, os.cpu_count())
            WriteCaterShard(warm)(ShardJob(0, 1, 0, 1, Path(tmp) / f"warm-{kind}.h5", "cater-gen-v2", "train"),
                                  lambda n: None)
            r0 = renderer.timing.render_s
            t0 = time.perf_counter()
            WriteCaterShard(cfg)(ShardJob(0, 12345, 0, 1, Path(tmp) / f"{kind}.h5", "cater-gen-v2", "train"),
                                 lambda n: None)
            wall = time.perf_counter() - t0
            rows[kind] = {"device": renderer.scene.device, "resolution": res, "samples": samples, "frames": frames,
                          "render_s_per_frame": round((renderer.timing.render_s - r0) / frames, 4),
                          "wall_s_per_frame": round(wall / frames, 4)}
    return rows


def metrics(toy: bool, device: torch.device, tmp: Path) -> dict:
    from ti2v.benchmark.evaluate import ALL_METRICS, EvalConfig, evaluate
    from ti2v.benchmark.synthetic import make_mnist_split

    clips = 4 if toy else 256
    make_mnist_split(tmp / "metrics-data", num_videos=clips, seed=0)
    resize = {"inception": 75, "i3d": 32, "vgg": 32} if toy else {}
    cfg = EvalConfig(model="static", data=str(tmp / "metrics-data"), split="test", captions="ambiguous", samples=2,
                     metrics=ALL_METRICS, device=device.type, random_weights=True, resize=resize,
                     batch_size=2 if toy else 16)
    rep = evaluate(cfg)
    seconds = rep["run"]["seconds"]
    return {"clips": clips, "samples": 2, "random_init_networks": True,
            "clips_per_s": {k: round(clips / v, 2) if v else None for k, v in seconds.items()},
            "seconds": seconds, "elapsed_s": rep["run"]["elapsed_s"]}


def short_training(toy: bool, device: torch.device, tmp: Path, minutes: float) -> dict:
    from ti2v.datagen.mnist.generate import MnistSettings, generate_split
    from ti2v.datagen.run_options import Execution
    from ti2v.models.config import load_preset
    from ti2v.models.motion_i2v.train import train_motion_i2v

    data = tmp / "train-data"
    for split, n, seed in (("train", 16 if toy else 4000, 0), ("test", 4 if toy else 256, 1)):
        generate_split(data, MnistSettings("single", split, 20, 1.0, "sklearn", None, seed), n, 1000, Execution())
    overrides = ["motion_i2v_train.log_every=1", "motion_i2v_train.eval_clips=2", "motion_i2v.d_model=32",
                 "motion_i2v.heads=4", "motion_i2v.ff_dim=64", "motion_i2v.blocks=1", "motion_i2v.text_layers=1",
                 "motion_i2v.renderer_width=8", "motion_i2v.sample_steps=2", "motion_i2v_train.steps=3",
                 "motion_i2v_train.batch_size=2", "motion_i2v_train.num_workers=0"] if toy else \
        ["motion_i2v_train.batch_size=32", "motion_i2v_train.eval_every=250", "motion_i2v_train.eval_clips=64",
         "motion_i2v_train.sample_every=0", "motion_i2v_train.num_workers=4", "motion_i2v_train.log_every=25"]
    preset = load_preset("mnist-single", overrides)
    out = tmp / "train-run"
    t0 = time.perf_counter()
    final = train_motion_i2v(preset, data, out, device=device.type, max_minutes=minutes)
    curve = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return {"model": "motion-i2v", "dataset": "mnist-single (sklearn digits)", "minutes": round((time.perf_counter() - t0) / 60, 2),
            "steps": max((r["step"] for r in curve), default=0), "final_eval": final, "curve": curve}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path, help="the JSON to write")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--toy", action="store_true", help="toy sizes: a pipeline check on any CPU in seconds")
    ap.add_argument("--minutes", type=float, default=9.0, help="no section starts after this")
    ap.add_argument("--train-minutes", type=float, default=3.0, help="wall time of the short training run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sections", default="train_step,generation,cycles,metrics,short_training")
    args = ap.parse_args()
    device = torch.device(args.device)
    start = time.perf_counter()
    report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({os.cpu_count()} cores)",
              "torch": torch.__version__, "python": platform.python_version(), "toy": args.toy,
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sections": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        jobs = {"train_step": lambda: train_step(args.toy, device, args.repeats),
                "generation": lambda: generation(args.toy, device, args.repeats),
                "cycles": lambda: cycles(args.toy, device),
                "metrics": lambda: metrics(args.toy, device, tmp),
                "short_training": lambda: short_training(args.toy, device, tmp, args.train_minutes)}
        for name in [s.strip() for s in args.sections.split(",") if s.strip()]:
            if name not in jobs:
                raise SystemExit(f"--sections: unknown section {name!r}; known: {', '.join(jobs)}")
            if time.perf_counter() - start > 60 * args.minutes:
                report["sections"][name] = {"status": "skipped", "reason": f"past --minutes {args.minutes}"}
                continue
            t0 = time.perf_counter()
            print(f"[gpu_run] {name} ...", flush=True)
            try:
                result = jobs[name]()
            except Exception as e:
                result = {"status": "failed", "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-2000:]}
            result = result if isinstance(result, dict) else {"result": result}
            result.setdefault("wall_s", round(time.perf_counter() - t0, 2))
            report["sections"][name] = result
            print(f"[gpu_run] {name}: {json.dumps(result)[:400]}", flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=1) + "\n")  # after every section: a killed run keeps its part
    report["elapsed_s"] = round(time.perf_counter() - start, 2)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"[gpu_run] wrote {args.out} ({report['elapsed_s']} s)")


if __name__ == "__main__":
    main()
