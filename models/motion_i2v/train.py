"""``ti2v-train motion-i2v``: train both stages of the Motion-I2V-style baseline on a split's clips.

One run trains the field predictor (flow matching on the true fields) and the renderer side by side; for the last
``1 - predicted_from`` of the steps half of every batch is rendered from fields sampled by stage 1, so the
renderer learns to cope with the predictor's errors. It shares the MAGE trainer's plumbing (``StageRun``: resume
from ``last.ckpt``, wall-time limit, DDP under torchrun, bf16 autocast on CUDA, metrics.jsonl, progress) and
writes, in ``--out``: ``last.ckpt``, ``model.ckpt`` (what ``ti2v-bench evaluate`` and ``load_model`` read),
``metrics.jsonl`` and ``samples/motion_i2v-<step>.gif`` (truth left, generated right).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ti2v.datagen.dataset import ShardDataset
from ti2v.datagen.errors import InputError

from ..config import replace, to_dict
from ..train import Env, StageRun, _eval_root, batches, lr_at, psnr, save_sample_gif
from ..vocabulary import Vocabulary
from .api import MotionI2VModel, save_motion_i2v
from .hints import hint_maps, region_map, sample_hints
from .model import MotionI2V

STAGE = "motion_i2v"


def collate(items: list[dict]) -> dict[str, Any]:
    """ShardDataset items with ``motion`` -> batch tensors (frames uint8 [B, T, C, H, W], true motion, tracks)."""
    motion = [it["motion"] for it in items]
    return {
        "video": torch.stack([it["video"] for it in items]),
        "caption": [it["caption"] for it in items],
        "eta": torch.tensor([float(it["eta"]) for it in items], dtype=torch.float32),
        "field": torch.from_numpy(np.stack([m["field"] for m in motion])),
        "visible": torch.from_numpy(np.stack([m["visible"] for m in motion])),
        "objects": torch.from_numpy(np.stack([m["owner0"] >= 0 for m in motion])),
        "motion": motion,
    }


def conditions(batch: dict, cfg, rng: np.random.Generator) -> tuple[torch.Tensor, list[str]]:
    """Hint and region maps [B, 2(T-1)+2, R, R], drawn from each clip's true motion (hints.sample_hints), and the
    captions to train with: a clip given trajectories gets another clip's caption with probability
    ``hint_over_text``, so that where a user's trajectory and the text disagree, the trajectory wins."""
    out, captions = [], list(batch["caption"])
    for i, m in enumerate(batch["motion"]):
        traj, region = sample_hints(m, cfg.frames, cfg.resolution, rng, cfg)
        out.append(torch.cat([hint_maps(traj, cfg.frames, cfg.resolution, cfg.field_down, cfg.field_scale),
                              region_map(region, cfg.resolution, cfg.field_down)]))
        if traj is not None and len(captions) > 1 and rng.random() < cfg.hint_over_text:
            captions[i] = batch["caption"][(i + int(rng.integers(1, len(captions)))) % len(captions)]
    return torch.stack(out), captions


def open_clips(root, split, cfg, caption: str, eta: float | None, seed: int) -> ShardDataset:
    ds = ShardDataset(root, split=split, clip_length=cfg.frames, caption=caption, eta=eta, seed=seed,
                      with_annotations=False, motion=True)
    shape = ds.sample(0, annotations=False)["video"].shape  # [T, H, W, C]
    if shape[1:] != (cfg.resolution, cfg.resolution, cfg.in_channels):
        raise InputError(f"{ds.split_dir}: clips are {shape[1]}x{shape[2]}x{shape[3]}, the preset's model takes "
                         f"{cfg.resolution}x{cfg.resolution}x{cfg.in_channels} (motion_i2v.resolution / "
                         "in_channels; use the preset of this dataset)")
    return ds


def trained_minutes(last: Path) -> float:
    """Wall time already spent on a run being resumed (0 for a new one)."""
    from ..checkpoint import read_header

    return float(read_header(last).get("minutes", 0.0)) if last.exists() else 0.0


def device_name(env: Env) -> str:
    if env.cuda:
        return f"{env.world} x {torch.cuda.get_device_name(env.device)}"
    return f"cpu ({torch.get_num_threads()} threads) x {env.world}"


def build_config(preset: dict, vocab: Vocabulary):
    return replace(preset["motion_i2v"], vocab_size=len(vocab),
                   frames=int(preset["data"].get("clip_length", preset["motion_i2v"].frames)))


def train_motion_i2v(preset: dict, data: str | Path, out: str | Path, split: str | None = "train",
                     eval_split: str | None = "test", device: str | None = None, resume: bool = True,
                     max_minutes: float | None = None) -> dict:
    """Train both stages; returns the last eval metrics (see :func:`evaluate_clips`)."""
    env = Env(device)
    tc = preset["motion_i2v_train"]
    out = Path(out)
    vocab = Vocabulary.build()
    cfg = build_config(preset, vocab)
    caption = preset["data"].get("caption", "explicit")
    ds = open_clips(data, split, cfg, caption, None, tc.seed)
    eval_ds = open_clips(_eval_root(data, split), eval_split, cfg, caption, 0.5, tc.seed + 1) if eval_split else None
    if env.is_main:
        out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(tc.seed + env.rank)
    model = MotionI2V(cfg).to(env.device)
    prior = trained_minutes(out / "last.ckpt") if resume else 0.0
    run = StageRun(STAGE, model, tc, out, env, resume, max_minutes)
    it = batches(ds, tc.batch_size, env, tc.seed, tc.num_workers,
                 start_epoch=run.step * tc.batch_size // max(1, len(ds)), collate_fn=collate)
    started = time.time()

    def save() -> None:
        minutes = round(prior + (time.time() - started) / 60, 2)
        run.save_last({"config": {STAGE: to_dict(cfg), "train": to_dict(tc)}, "vocabulary": vocab.to_list(),
                       "minutes": minutes})
        if env.is_main:
            save_motion_i2v(out / "model.ckpt", model, vocab, {"step": run.step, "dataset": preset.get("dataset"),
                                                                "train": to_dict(tc), "minutes": minutes,
                                                                "device": device_name(env)})

    def evaluate() -> dict:
        if not (env.is_main and eval_ds is not None):
            return {}
        return run.log_eval({"stage": STAGE, "kind": "eval", "step": run.step, "time": time.time(),
                             **evaluate_clips(MotionI2VModel(model, vocab), eval_ds, tc.eval_clips)})

    def samples() -> None:
        if env.is_main and eval_ds is not None:
            save_sample_gif(out / "samples" / f"{STAGE}-{run.step:07d}.gif", MotionI2VModel(model, vocab), eval_ds)

    def train_step() -> None:
        batch = next(it)
        rng = np.random.default_rng([tc.seed, env.rank, run.step])
        cond, captions = conditions(batch, cfg, rng)
        cond = cond.to(env.device)
        frames = batch["video"].to(env.device).float() / 255.0
        ids, valid = vocab.batch(captions, cfg.max_text_len)
        predicted = len(frames) // 2 if run.step >= cfg.predicted_from * tc.steps else 0
        model.train()
        with env.autocast():
            res = run.net(frames, ids.to(env.device), valid.to(env.device), batch["eta"].to(env.device),
                          batch["field"][:, 1:].to(env.device), batch["visible"][:, 1:].to(env.device), cond,
                          objects=batch["objects"].to(env.device), predicted=predicted)
        run.optimise(res["loss"], len(frames))
        if run.due(tc.log_every) or run.step == tc.steps:
            row = {"stage": STAGE, "step": run.step, "loss": float(res["loss"].detach()),
                   "field_loss": float(res["field"]), "render_l1": float(res["render"]),
                   "predicted_fields": predicted, "clips_per_s": run.throughput(), "lr": lr_at(run.step, tc),
                   "world": env.world, "minutes": round((time.time() - started) / 60, 3)}
            run.log_row(row, field=f"{row['field_loss']:.3f}", l1=f"{row['render_l1']:.4f}",
                        cps=f"{row['clips_per_s']:.1f}")

    result = run.loop(train_step, save, samples, evaluate)
    env.close()
    return result


@torch.no_grad()
def evaluate_clips(model: MotionI2VModel, dataset, clips: int, batch_size: int = 16) -> dict:
    """On the first ``clips`` clips (seed 0): PSNR of generated frames 2..T, PSNR when rendering the true field
    (stage 2's ceiling), and the field's mean end-point error (px) on pixels that move."""
    net, cfg = model.net, model.config
    net.eval()
    n = min(clips, len(dataset))
    sums = {"gen_psnr": 0.0, "true_field_psnr": 0.0, "field_epe_px": 0.0}
    dev = model.device
    for s in range(0, n, batch_size):
        batch = collate([dataset[i] for i in range(s, min(n, s + batch_size))])
        video = batch["video"]
        b = len(video)
        gen, field = model.generate_batch(list(video[:, 0]), batch["caption"], batch["eta"], seed=0,
                                          return_field=True)
        gen = torch.from_numpy(gen).permute(0, 1, 4, 2, 3)
        sums["gen_psnr"] += float(psnr(gen[:, 1:], video[:, 1:]).mean(1).sum())
        true_state = net.field_state(batch["field"][:, 1:].to(dev), batch["visible"][:, 1:].to(dev))
        tf, tv = net.unpack_state(true_state)
        ren = net.renderer(video[:, 0].to(dev).float() / 255, tf, tv)
        ren = (ren * 255).round().clamp(0, 255).to(torch.uint8).cpu()
        sums["true_field_psnr"] += float(psnr(ren, video[:, 1:]).mean(1).sum())
        err = (torch.from_numpy(field) - tf.cpu()).norm(dim=-1)  # [B, T', R, R]
        moving = tf.cpu().norm(dim=-1) > 0.5
        sums["field_epe_px"] += float(sum((err[i][moving[i]].mean() if moving[i].any() else err[i].mean())
                                          for i in range(b)))
    return {k: v / max(n, 1) for k, v in sums.items()} | {"clips": n}
