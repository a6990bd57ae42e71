"""``ti2v-bench evaluate``: generate for every test clip, score, and write the report.

Reproducibility: clips, speeds (``--speed random`` draws eta from (seed, clip index)), generator seeds
(derived from (seed, clip index)) and random-init feature nets (seeded) depend only on the arguments, so the same
arguments give the same ``report.json``; wall-clock facts live under its ``run`` key only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import feature_nets as FN
from . import mnist_control
from . import trajectory_control as TC
from . import weights as W
from .data import ClipReader
from .inputs import check_clip
from .models_adapter import FolderModel, ModelError, OracleBaseline, resolve_model
from .video_metrics import FIDScore, FrameScores, I3DScores, LPIPSScore, VGGDiversity

ALL_METRICS = ("psnr", "ssim", "lpips", "fid", "fvd", "div_vgg", "div_i3d", "control")
METRIC_WEIGHTS = {"lpips": "alexnet", "fid": "inception-fid", "fvd": "i3d", "div_i3d": "i3d", "div_vgg": "vgg16"}


class MetricUnavailable(RuntimeError):
    pass


@dataclass
class EvalConfig:
    model: str
    data: str
    split: str | None = "test"
    captions: str = "explicit"
    samples: int | None = None
    metrics: tuple[str, ...] | None = None
    speed: str | float = "random"
    limit: int | None = None
    batch_size: int = 8
    device: str = "auto"
    seed: int = 0
    out: str | None = None
    strict: bool = False
    random_weights: bool = False  # tests and timing only; reported as such
    resize: dict = field(default_factory=dict)  # feature-net input sizes (tests only): inception, i3d, vgg
    vqvae: str | None = None
    grid_clips: int = 4
    clip_length: int = 10
    judge: str | None = None  # CATER judge: "template", "shipped" or a judge file; None: judge.DEFAULT
    trajectory_control: bool = False  # also score a trajectory-conditioned sample per clip (trajectory_control.py)
    inputs: list[dict] | None = None  # inputs.jsonl lines of `ti2v-bench inputs`: each clip must match its line
    verify: bool = True  # check the sha256 of the shards scored against manifest.json first (--no-verify: skip)
    fvd_extractor: str = "stylegan-v"  # I3D for FVD and I3D diversity: feature_nets.I3D_EXTRACTORS


def default_metrics(captions: str) -> tuple[str, ...]:
    if captions == "ambiguous":
        return ALL_METRICS
    return ("psnr", "ssim", "lpips", "fid", "fvd", "control")


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"--device {device!r}: expected auto, cpu or cuda")
    return device


def clip_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0] & 0x7FFFFFFF)


_SHA_CACHE: dict = {}


def _weight_record(name: str) -> dict:
    p = W.find(name)
    if p is None:
        return {"file": W.get(name).filename, "status": "missing"}
    key = (str(p), p.stat().st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = W.verify(name)
    r = dict(_SHA_CACHE[key])
    r.pop("path", None)
    return r


def i3d_weights_name(cfg: EvalConfig) -> str:
    """The weights entry of the chosen FVD extractor (``i3d``: StyleGAN-V's TorchScript; ``i3d-tats``)."""
    if cfg.fvd_extractor not in FN.I3D_EXTRACTORS:
        raise ValueError(f"--fvd-extractor {cfg.fvd_extractor!r}; allowed: {', '.join(FN.I3D_EXTRACTORS)}")
    return FN.I3D_EXTRACTORS[cfg.fvd_extractor]


def build_accumulators(metrics, cfg: EvalConfig, device: str, samples: int):
    acc, skipped, used_weights = {}, {}, {}
    pretrained = not cfg.random_weights
    rs = cfg.resize or {}

    def need(metric):
        name = i3d_weights_name(cfg) if metric in ("fvd", "div_i3d") else METRIC_WEIGHTS[metric]
        entry = W.get(name)
        if pretrained and W.find(name) is None:
            e = W.WeightsMissing(entry)
            if cfg.strict:
                raise MetricUnavailable(f"--strict: metric {metric} needs {e}")
            skipped[metric] = {"status": "skipped", "reason": "weights missing", "file": entry.filename,
                               "command": W.fetch_command(name)}
            return False
        if not pretrained:
            used_weights[name] = {"file": entry.filename, "status": "random-init (not comparable)"}
            return True
        # checked before use: a file that does not match its pin never produces a number
        record = _weight_record(name)
        if record["status"] == "checksum mismatch":
            reason = (f"weights file {entry.filename} has sha256 {record['sha256'][:16]}..., which does not start "
                      f"with its pin {entry.sha256_prefix}; fetch it again with: {W.fetch_command(name)} --force")
            if cfg.strict:
                raise MetricUnavailable(f"--strict: metric {metric}: {reason}")
            skipped[metric] = {"status": "skipped", "reason": "checksum mismatch", "detail": reason,
                               "file": entry.filename, "sha256": record["sha256"], "pin": entry.sha256_prefix,
                               "command": f"{W.fetch_command(name)} --force"}
            return False
        if record["status"] == "unpinned" and cfg.strict:
            raise MetricUnavailable(f"--strict: metric {metric} needs {entry.filename}, which is unpinned (no "
                                    f"published checksum; its sha256 is {record['sha256']}); --strict uses only "
                                    "pinned weights, drop it to score with the sha256 recorded in the report")
        used_weights[name] = record
        return True

    if "psnr" in metrics or "ssim" in metrics:
        acc["frame"] = FrameScores(device=device)
    if "lpips" in metrics and need("lpips"):
        acc["lpips"] = LPIPSScore(FN.build_lpips(pretrained, seed=cfg.seed), device, batch=max(8, cfg.batch_size * 9))
    if "fid" in metrics and need("fid"):
        acc["fid"] = FIDScore(FN.build_inception(pretrained, resize=rs.get("inception", 299), seed=cfg.seed), device,
                              batch=max(8, cfg.batch_size * 4))
    want_fvd = "fvd" in metrics and need("fvd")
    want_div_i3d = "div_i3d" in metrics and samples > 1 and need("div_i3d")
    if want_fvd or want_div_i3d:
        acc["i3d"] = I3DScores(FN.build_i3d(pretrained, resize=rs.get("i3d", 224), seed=cfg.seed, device=device,
                                            extractor=cfg.fvd_extractor),
                               device, batch=cfg.batch_size, fvd=want_fvd, diversity=want_div_i3d)
    if "div_vgg" in metrics and samples > 1 and need("div_vgg"):
        acc["div_vgg"] = VGGDiversity(FN.build_vgg16(pretrained, resize=rs.get("vgg", 224), seed=cfg.seed), device,
                                      batch=max(samples, cfg.batch_size * samples))
    for m in ("div_vgg", "div_i3d"):
        if m in metrics and samples < 2:
            skipped[m] = {"status": "not applicable", "reason": "diversity needs >= 2 samples per clip"}
    return acc, skipped, used_weights


def control_scorer(dataset: str, reader: ClipReader, cfg: EvalConfig, device: str = "cpu"):
    if dataset.startswith("mnist"):
        missing = [k for k in mnist_control.REQUIRED_KEYS if k not in reader.annotation_keys]
        if missing:
            raise KeyError(f"metric control on {dataset}: shards in {reader.dir} lack annotation(s) "
                           f"{', '.join(missing)}")
        return "mnist", None
    if dataset.startswith("cater"):
        from . import cater_control

        return "cater", cater_control.CaterScorer.for_reader(reader, cfg, device)
    raise KeyError(f"metric control: no controllability scorer for dataset {dataset!r}")


def generate_clip(model, clip, samples: int, seed: int, frames: int, trajectories=None) -> np.ndarray:
    """``trajectories`` (float32 [P, T, 2], :mod:`.trajectory_control`) is passed only when given, for models that
    take it."""
    if isinstance(model, OracleBaseline):
        out = model.generate_from_reference(clip.video, samples)
    elif isinstance(model, FolderModel):
        out = model.load(clip.index, samples, frames, clip.video.shape[-1])
    else:
        extra = {} if trajectories is None else {"trajectories": trajectories}
        out = model.generate(first_frame=clip.video[0].copy(), caption=clip.caption, speed=clip.eta,
                             num_samples=samples, seed=seed, frames=frames, **extra)
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().numpy()
    out = np.asarray(out)
    want = (samples,) + clip.video.shape
    if out.dtype != np.uint8 or out.shape != want:
        raise ModelError(f"model output for clip {clip.index}: expected uint8 {want}, got {out.dtype} {out.shape}")
    return out


FVD_MIN_CLIPS = 2048  # below this the Frechet distance is biased upwards (StyleGAN-V compares 2,048 clips)


def fvd_protocol(results: dict, cfg: EvalConfig, i3d_weights: dict, strides: list[float]) -> dict:
    """What an FVD number depends on, so that two reports can be compared (or shown not to be comparable)."""
    clips = int(min(results.get("fvd_clips_generated", 0), results.get("fvd_clips_reference", 0)))
    out = {"clips_generated": results.get("fvd_clips_generated"), "clips_reference": results.get("fvd_clips_reference"),
           "clip_length": cfg.clip_length, "given_frame_included": True,
           "frame_stride_mean": round(float(np.mean(strides)), 4) if strides else None,
           "frame_stride_from": "the speed eta (raw frames between clip frames)",
           "resize": (cfg.resize or {}).get("i3d", 224), "covariance": "population (over N)",
           "extractor_name": cfg.fvd_extractor,
           "extractor": i3d_weights.get("file"), "extractor_sha256": i3d_weights.get("sha256"),
           "extractor_status": i3d_weights.get("status")}
    if clips < FVD_MIN_CLIPS:
        out["warning"] = (f"FVD over {clips} clips (< {FVD_MIN_CLIPS}) is biased upwards; compare it only with FVD "
                          "over the same number of clips")
    return out


def evaluate(cfg: EvalConfig, progress=None) -> dict:
    t_start = time.time()
    device = resolve_device(cfg.device)
    if cfg.captions not in ("explicit", "ambiguous"):
        raise ValueError(f"--captions {cfg.captions!r}: expected explicit or ambiguous")
    samples = cfg.samples or (1 if cfg.captions == "explicit" else 5)
    if samples < 1:
        raise ValueError(f"--samples {samples}: must be >= 1")
    metrics = tuple(cfg.metrics) if cfg.metrics else default_metrics(cfg.captions)
    bad = [m for m in metrics if m not in ALL_METRICS]
    if bad:
        raise ValueError(f"unknown metric(s) {', '.join(bad)}; known: {', '.join(ALL_METRICS)}")
    limit = cfg.limit if cfg.inputs is None else min(cfg.limit or len(cfg.inputs), len(cfg.inputs))
    reader = ClipReader(cfg.data, cfg.split, cfg.captions, cfg.speed, cfg.seed, cfg.clip_length, limit)
    if len(reader) == 0:
        raise ValueError(f"no clips to evaluate in {reader.dir}")
    if cfg.inputs is not None and len(reader) < limit:
        raise ValueError(f"the inputs list {limit} clips, {reader.dir} holds {len(reader)}")
    checked = reader.verify_checksums() if cfg.verify else None  # before anything is generated or scored
    dataset = reader.dataset
    control = control_scorer(dataset, reader, cfg, device) if "control" in metrics else None
    model = resolve_model(cfg.model, device, cfg.vqvae)
    traj = None
    if cfg.trajectory_control and TC.model_takes_trajectories(model):
        judge = control[1].judge if control is not None and control[0] == "cater" else None
        traj = TC.TrajectoryScorer.for_reader(reader, cfg, device, judge)
    acc, skipped, used_weights = build_accumulators(metrics, cfg, device, samples)

    per_clip, control_records, control_etas, grid, traj_records, strides = [], [], [], [], [], []
    batch_gen, batch_ref = [], []
    torch.manual_seed(cfg.seed)
    timings = {k: 0.0 for k in list(acc) + ["generate", "control"]}
    if cfg.trajectory_control:
        timings["trajectory"] = 0.0

    def flush():
        if not batch_gen:
            return
        g = torch.from_numpy(np.stack(batch_gen)).permute(0, 1, 2, 5, 3, 4).contiguous()  # [B, K, T, C, H, W]
        r = torch.from_numpy(np.stack(batch_ref)).permute(0, 1, 4, 2, 3).contiguous()
        for k, a in acc.items():
            t0 = time.time()
            a.update(g, r)
            timings[k] += time.time() - t0
        batch_gen.clear()
        batch_ref.clear()

    for n, clip in enumerate(reader):
        if cfg.inputs is not None:
            check_clip(cfg.inputs[n], clip)
        t0 = time.time()
        gen = generate_clip(model, clip, samples, clip_seed(cfg.seed, clip.index), cfg.clip_length)
        timings["generate"] += time.time() - t0
        rec = {"index": clip.index, "eta": round(clip.eta, 6)}
        strides.append(float(np.diff(clip.frame_indices).mean()) if len(clip.frame_indices) > 1 else 0.0)
        if control is not None:
            t0 = time.time()
            kind, scorer = control
            recs = []
            for s in range(samples):
                if kind == "mnist":
                    recs.append(mnist_control.score_clip(gen[s], clip.annotations, clip.frame_indices, dataset))
                else:
                    recs.append(scorer.score_clip(gen[s], clip))
            control_records.extend(recs)
            control_etas.extend([clip.eta] * samples)
            key = "motion_correct" if kind == "mnist" else "action_correct"
            rec[key] = float(np.mean([x[key] for x in recs]))
            timings["control"] += time.time() - t0
        if traj is not None:
            # a second, trajectory-conditioned video (one sample, same seed): the other metrics score the normal
            # generation only, so they stay comparable with models that take no trajectories
            t0 = time.time()
            k, centres = traj.target(clip)
            video = generate_clip(model, clip, 1, clip_seed(cfg.seed, clip.index), cfg.clip_length,
                                  trajectories=centres[None])[0]
            r = traj.score_clip(video, clip, k, centres)
            traj_records.append(r)
            rec.update(r)
            timings["trajectory"] += time.time() - t0
        per_clip.append(rec)
        if len(grid) < cfg.grid_clips:
            grid.append({"index": clip.index, "caption": clip.caption, "eta": clip.eta, "generated": gen[0],
                         "truth": clip.video})
        batch_gen.append(gen)
        batch_ref.append(clip.video)
        if len(batch_gen) >= cfg.batch_size:
            flush()
        if progress:
            progress(n + 1, len(reader))
    flush()

    results: dict = {}
    if "frame" in acc:
        ps, ss = acc["frame"].per_clip()
        for rec, p, s in zip(per_clip, ps, ss):
            rec["psnr"], rec["ssim"] = round(float(p), 6), round(float(s), 6)
        fr = acc["frame"].result()
        if "psnr" in metrics:
            results["psnr"] = fr["psnr"]
        if "ssim" in metrics:
            results["ssim"] = fr["ssim"]
    for key in ("lpips", "fid", "i3d", "div_vgg"):
        if key in acc:
            results.update(acc[key].result())
    for m in list(results):
        if m in ("div_i3d", "div_vgg") and results[m] is None:
            del results[m]
    for m, info in skipped.items():
        results[m] = info
    metric_out = {m: results[m] for m in metrics if m in results and m != "control"}
    extras = {k: v for k, v in results.items() if k not in metric_out and k not in ALL_METRICS}

    control_out = None
    if control is not None:
        kind, scorer = control
        if kind == "mnist":
            control_out = {"kind": "mnist", **mnist_control.summarize(control_records)}
        else:
            control_out = {"kind": "cater", **scorer.summarize(control_records)}

    import lpips as _lpips
    import torchvision

    try:
        from importlib.metadata import version as _v

        ti2v_version = _v("ti2v")
    except Exception:
        ti2v_version = "unknown"
    first = reader.attrs
    report = {
        "ti2v_bench_report": 1,
        "model": cfg.model,
        "model_name": getattr(model, "name", cfg.model),
        "data": {
            "dir": str(reader.dir), "dataset": dataset, "split": cfg.split, "shards": len(reader.paths),
            "clips": len(reader), "frames_per_clip": cfg.clip_length, "samples_per_clip": samples,
            "resolution": list(grid[0]["truth"].shape[1:3]), "channels": int(grid[0]["truth"].shape[-1]),
            "captions": cfg.captions, "generator_version": str(first.get("generator_version")),
            "speed_interval": [float(x) for x in first["speed_interval"]], "shard_seed": int(first["seed"]),
            "frames_scored": {"psnr/ssim/lpips/fid/div_vgg": f"2..{cfg.clip_length}",
                              "fvd/div_i3d": f"1..{cfg.clip_length}"},
            "generated_frames_scored": len(reader) * samples * (cfg.clip_length - 1),
            "checksums": ({"verified": False, "reason": "--no-verify"} if checked is None else
                          {"verified": True, "shards": checked["shards"], "of": checked["of"],
                           "bytes": checked["bytes"], "against": "manifest.json sha256"}),
        },
        "speed": {"mode": "random" if cfg.speed == "random" else "fixed",
                  "eta": None if cfg.speed == "random" else float(cfg.speed),
                  "eta_mean": float(np.mean([r["eta"] for r in per_clip]))},
        "seed": cfg.seed,
        "inputs_checked": cfg.inputs is not None,
        "metrics": metric_out,
        "metric_details": extras,
        "control": control_out,
        "weights": used_weights if used_weights else {},
        "random_init_networks": bool(cfg.random_weights),
        "feature_resize": {"inception": cfg.resize.get("inception", 299), "i3d": cfg.resize.get("i3d", 224),
                           "vgg": cfg.resize.get("vgg", 224)},
        "versions": {"ti2v": ti2v_version, "torch": torch.__version__.split("+")[0],
                     "torchvision": torchvision.__version__.split("+")[0], "numpy": np.__version__,
                     "lpips": getattr(_lpips, "__version__", "0.1.4")},
        "per_clip": per_clip,
    }
    if "fvd" in metric_out and isinstance(metric_out["fvd"], float):
        report["fvd_protocol"] = fvd_protocol(results, cfg, used_weights.get(i3d_weights_name(cfg), {}), strides)
    if cfg.trajectory_control:
        report["trajectory_control"] = traj.summarize(traj_records) if traj is not None else dict(TC.NOT_APPLICABLE)
    report["run"] = {"device": device, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_start)),
                     "elapsed_s": round(time.time() - t_start, 3),
                     "verify_s": None if checked is None else round(checked["seconds"], 3),
                     "seconds": {k: round(v, 6) for k, v in timings.items()}}
    if cfg.out:
        from .report import write_report

        write_report(report, Path(cfg.out), grid, control_records, control_etas)
    return report
