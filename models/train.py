"""Training loops of the reference MAGE (Sec. 4.2): first the VQ-VAE (Eq. 1), then the generator (Eq. 7).

Both read a split directory through :class:`ti2v.datagen.dataset.ShardDataset`, run on CPU or CUDA (bf16
autocast on CUDA), and under ``torchrun`` (env ``WORLD_SIZE`` > 1) wrap the model in DistributedDataParallel
with a DistributedSampler (NCCL on GPUs, gloo on CPU). Rank 0 writes, in ``--out``:

    last.ckpt           resumable training state (model, optimizer, step), every ``ckpt_every`` steps
    vqvae.ckpt          the VQ-VAE alone (stage 1)            model.ckpt   VQ-VAE + generator + vocabulary (stage 2)
    metrics.jsonl       one JSON line per log / eval          samples/     reconstruction PNGs, sample GIFs

A run restarts from ``last.ckpt`` when it exists (``resume=False`` starts over). The generator stage encodes
clips with the frozen VQ-VAE and caches the tokens of every (video, raw frame) it has seen, so later epochs
skip the encoder.
"""

from __future__ import annotations

import json
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader

from .api import load_vqvae, save_model, save_vqvae
from .checkpoint import CheckpointError, load_checkpoint, optimizer_from_flat, optimizer_to_flat, prefixed, \
    save_checkpoint, with_prefix
from .config import MAGEConfig, TrainConfig, replace, to_dict
from .mage import MAGE
from .sampling import sample_tokens
from .vocabulary import Vocabulary
from .vqvae import VQVAE


# ----------------------------------------------------------------------------------------------- plumbing
class Env:
    """Device, distributed rank and autocast for one process."""

    def __init__(self, device: str | None = None):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        want = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if want.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError("--device cuda asked for but CUDA is not available")
        if want.startswith("cuda"):
            if self.world > 1:
                want = f"cuda:{self.local_rank}"
            torch.cuda.set_device(torch.device(want))
        self.device = torch.device(want)
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.is_main = self.rank == 0

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.cuda else nullcontext()

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            return DDP(model, device_ids=[self.device.index] if self.cuda else None, broadcast_buffers=False)
        return model

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def collate(items: list[dict]) -> dict[str, Any]:
    """Stack a list of ShardDataset samples (annotations are dropped)."""
    return {
        "video": torch.stack([torch.as_tensor(np.asarray(it["video"])) for it in items]),
        "caption": [it["caption"] for it in items],
        "eta": torch.tensor([float(it["eta"]) for it in items], dtype=torch.float32),
        "index": torch.tensor([int(it["index"]) for it in items], dtype=torch.long),
        "frame_indices": torch.stack([torch.as_tensor(np.asarray(it["frame_indices"]), dtype=torch.long)
                                      for it in items]),
    }


def open_dataset(root: str | Path, split: str | None, clip_length: int, caption: str = "explicit",
                 eta: float | None = None, seed: int = 0):
    from ti2v.datagen.dataset import ShardDataset  # written by the datagen issue

    try:
        return ShardDataset(root, split=split, clip_length=clip_length, caption=caption, eta=eta, seed=seed,
                            with_annotations=False)
    except TypeError:  # an older reader without the flag
        return ShardDataset(root, split=split, clip_length=clip_length, caption=caption, eta=eta, seed=seed)


def batches(dataset, batch_size: int, env: Env, seed: int, workers: int, start_epoch: int = 0,
            shuffle: bool = True, collate_fn=None) -> Iterator[dict]:
    """Endless iterator of batches (``collate_fn``, default :func:`collate`); each rank sees its own shard of
    every epoch."""
    collate_fn = collate_fn or collate
    from torch.utils.data.distributed import DistributedSampler

    epoch = start_epoch
    while True:
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)  # fresh speed draws every epoch
        if env.world > 1:
            sampler = DistributedSampler(dataset, env.world, env.rank, shuffle=shuffle, seed=seed, drop_last=True)
            sampler.set_epoch(epoch)
            loader = DataLoader(dataset, batch_size, sampler=sampler, num_workers=workers, collate_fn=collate_fn,
                                drop_last=True, persistent_workers=False)
        else:
            g = torch.Generator().manual_seed(seed + epoch)
            loader = DataLoader(dataset, batch_size, shuffle=shuffle, generator=g, num_workers=workers,
                                collate_fn=collate_fn, drop_last=len(dataset) >= batch_size)
        for b in loader:
            yield b
        epoch += 1


def fit_frames(frames: torch.Tensor, resolution: int, channels: int) -> torch.Tensor:
    """[N, C, H, W] uint8 -> [N, channels, R, R] uint8: centre-crop to a square and resize when needed."""
    n, c, h, w = frames.shape
    if c != channels:
        if channels == 1:
            frames = frames.float().mean(1, keepdim=True).round().to(torch.uint8)
        elif c == 1:
            frames = frames.expand(n, channels, h, w)
        else:
            raise ValueError(f"data has {c} channels, the VQ-VAE takes {channels}")
    if (h, w) == (resolution, resolution):
        return frames
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    x = frames[:, :, top:top + s, left:left + s].float()
    x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)


def _eval_root(data, split):
    """The dataset folder OUT holding the eval split (the parent when ``data`` is itself a split folder)."""
    return data if split else Path(data).parent


def lr_at(step: int, tc: TrainConfig) -> float:
    if tc.warmup_steps and step < tc.warmup_steps:
        return tc.lr * (step + 1) / tc.warmup_steps
    if tc.schedule == "cosine":
        t = min(1.0, (step - tc.warmup_steps) / max(1, tc.steps - tc.warmup_steps))
        return tc.lr * 0.5 * (1 + math.cos(math.pi * t))
    return tc.lr


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-frame PSNR (data range 255) of uint8 tensors [..., C, H, W] -> [...] (capped at 100 dB)."""
    mse = (a.float() - b.float()).pow(2).flatten(-3).mean(-1)
    return (10 * torch.log10(255.0**2 / mse.clamp_min(1e-10))).clamp(max=100.0)


def describe(row: dict) -> str:
    """A metrics row as one readable line (no timestamps)."""
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items() if k != "time")


class Logger:
    def __init__(self, out: Path, enabled: bool):
        self.enabled = enabled
        self.path = out / "metrics.jsonl"

    def write(self, **row: Any) -> None:
        if self.enabled:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")


def _progress(total: int, initial: int, enabled: bool, desc: str):
    from ti2v.datagen.progress import progress_bar

    return progress_bar(total, desc, unit="step", initial=initial, enabled=enabled)


def _save_gif(path: Path, frames: np.ndarray, fps: float = 4.0) -> None:
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    frames = frames[..., 0] if frames.shape[-1] == 1 else frames
    imageio.mimsave(str(path), list(frames), duration=1000.0 / fps, loop=0)  # milliseconds


@torch.no_grad()
def save_sample_gif(path: Path, model, dataset, n: int = 4) -> None:
    """GIF for any loaded generator with ``generate_batch`` (uint8 [B, T, H, W, C]) and ``net``: one row per clip,
    ground truth on the left, the generated video (seed 0) on the right; captions in a .txt beside it."""
    model.net.eval()
    items = [dataset.sample(i, annotations=False) for i in range(min(n, len(dataset)))]
    truth = np.stack([it["video"] for it in items])  # [b, T, H, W, C]
    gen = model.generate_batch([v[0] for v in truth], [it["caption"] for it in items],
                               [it["eta"] for it in items], seed=0)
    rows = np.concatenate([truth, gen], axis=3)  # [b, T, H, 2W, C]
    _save_gif(path, np.concatenate(list(rows), axis=1))
    (path.parent / (path.stem + ".txt")).write_text("\n".join(
        f"{it['caption']}  eta={it['eta']:.2f}" for it in items) + "\n")


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


def _make_optimizer(model: torch.nn.Module, tc: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=tc.lr, betas=tc.betas,
                            eps=tc.eps, weight_decay=tc.weight_decay)


def _resume(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, stage: str, prefix: str) -> int:
    tensors, info = load_checkpoint(path)
    if info.get("kind") != "train" or info.get("stage") != stage:
        raise CheckpointError(f"{path}: not a {stage} training checkpoint (kind={info.get('kind')}, "
                              f"stage={info.get('stage')}); pass --no-resume or another --out")
    changed = _changed_settings(info, model, stage)
    if changed:
        raise CheckpointError(f"{path}: this run was trained with other {stage} settings ({'; '.join(changed)}); "
                              "resume with the same settings, or pass --no-resume or another --out")
    try:
        model.load_state_dict(prefixed(tensors, prefix))
    except RuntimeError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"{path}: its {stage} weights do not fit the model built from these settings "
                              f"({first.strip()}); pass --no-resume or another --out") from None
    optimizer_from_flat(opt, {k: v for k, v in tensors.items() if k.startswith("optim.")}, info["optimizer"])
    return int(info["step"])


def _changed_settings(info: dict, model: torch.nn.Module, stage: str) -> list[str]:
    """Model settings of a training checkpoint that differ from the model's (``key: saved -> now``)."""
    saved = (info.get("config") or {}).get(stage)
    cfg = getattr(model, "cfg", None)
    if not isinstance(saved, dict) or cfg is None:
        return []
    now = to_dict(cfg)
    return [f"{stage}.{k}: {saved[k]!r} -> {v!r}" for k, v in now.items() if k in saved and saved[k] != v]


class StageRun:
    """What both training stages share around their forward pass: the optimizer, resuming from ``last.ckpt``,
    the DDP wrapper, the metrics log, the progress bar, the wall-time limit, one optimisation step, and saving
    ``last.ckpt`` (weights and optimizer state, so a rerun continues exactly)."""

    def __init__(self, stage: str, model: torch.nn.Module, tc: TrainConfig, out: Path, env: Env, resume: bool,
                 max_minutes: float | None):
        self.stage, self.model, self.tc, self.out, self.env = stage, model, tc, out, env
        self.opt = _make_optimizer(model, tc)
        self.last = out / "last.ckpt"
        self.step = _resume(self.last, model, self.opt, stage, stage) if resume and self.last.exists() else 0
        self.net = env.wrap(model)
        self.log = Logger(out, env.is_main)
        self.bar = _progress(tc.steps, self.step, env.is_main, stage)
        self.deadline = time.time() + 60 * max_minutes if max_minutes else None
        self.t0, self.seen = time.perf_counter(), 0

    def optimise(self, loss: torch.Tensor, clips: int) -> None:
        """One Adam step on ``loss`` at the scheduled learning rate; counts ``clips`` for the throughput."""
        for g in self.opt.param_groups:
            g["lr"] = lr_at(self.step, self.tc)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.tc.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tc.grad_clip)
        self.opt.step()
        self.step += 1
        self.seen += clips * self.env.world
        self.bar.update(1)

    def due(self, every: int) -> bool:
        return bool(every) and self.step % every == 0

    def throughput(self) -> float:
        """Clips (or frames) per second since the last call."""
        rate = self.seen / max(time.perf_counter() - self.t0, 1e-9)
        self.t0, self.seen = time.perf_counter(), 0
        return rate

    def log_row(self, row: dict, **postfix) -> None:
        self.bar.set_postfix(**postfix)
        self.log.write(**row)

    def out_of_time(self) -> bool:
        return bool(self.deadline) and time.time() > self.deadline

    def log_eval(self, row: dict) -> dict:
        """An evaluation row: into metrics.jsonl and, as one line, above the progress bar."""
        self.log.write(**row)
        self.bar.write(describe(row))
        return row

    def loop(self, train_step: Callable[[], None], save: Callable[[], None], samples: Callable[[], None],
             evaluate: Callable[[], dict]) -> dict:
        """Call ``train_step`` (one :meth:`optimise` and its log row) until ``tc.steps`` or the wall-time limit,
        with samples, ``last.ckpt`` and an evaluation whenever they are due; then save, sample and evaluate once
        more. Returns the last evaluation ({} when there was none)."""
        tc, result = self.tc, {}
        while self.step < tc.steps:
            train_step()
            if self.due(tc.sample_every):
                samples()
            if self.due(tc.ckpt_every):
                save()
            if self.due(tc.eval_every):
                result = evaluate()
            if self.out_of_time():
                break
        self.bar.close()
        save()
        samples()
        return evaluate() or result

    def save_last(self, meta: dict) -> None:
        if not self.env.is_main:
            return
        ot, ometa = optimizer_to_flat(self.opt)
        save_checkpoint(self.last, {**with_prefix(self.model.state_dict(), self.stage), **ot},
                        {"kind": "train", "stage": self.stage, "step": self.step, "optimizer": ometa, **meta})


# ----------------------------------------------------------------------------------------------- stage 1
def train_vqvae(preset: dict, data: str | Path, out: str | Path, split: str | None = "train",
                eval_split: str | None = "test", device: str | None = None, resume: bool = True,
                max_minutes: float | None = None, frames_per_clip: int = 4) -> dict:
    """Train the VQ-VAE of Eq. 1 on frames of ``data``; returns the last metrics."""
    env = Env(device)
    vcfg, tc = preset["vqvae"], preset["vqvae_train"]
    out = Path(out)
    torch.manual_seed(tc.seed + env.rank)
    clip_len = int(preset["data"].get("clip_length", 10))
    ds = open_dataset(data, split, clip_len, seed=tc.seed)
    model = VQVAE(vcfg).to(env.device)
    if env.is_main:  # only once the data opened: a bad --data leaves no run folder behind
        out.mkdir(parents=True, exist_ok=True)
    run = StageRun("vqvae", model, tc, out, env, resume, max_minutes)
    per_clip = max(1, min(frames_per_clip, clip_len))
    clips = max(1, tc.batch_size // per_clip)
    it = batches(ds, clips, env, tc.seed, tc.num_workers, start_epoch=run.step * clips // max(1, len(ds)))
    row: dict[str, Any] = {}

    def save() -> None:
        run.save_last({"config": {"vqvae": to_dict(vcfg), "train": to_dict(tc)}})
        if env.is_main:
            save_vqvae(out / "vqvae.ckpt", model, {"step": run.step, "dataset": preset.get("dataset")})

    while run.step < tc.steps:
        batch = next(it)
        v = batch["video"]  # [B, T, C, H, W]
        b, t = v.shape[:2]
        pick = torch.stack([torch.randperm(t)[:per_clip] for _ in range(b)])
        frames = v[torch.arange(b)[:, None], pick].flatten(0, 1)
        frames = fit_frames(frames, vcfg.resolution, vcfg.in_channels).to(env.device, non_blocking=True)
        model.train()
        with env.autocast():
            res = run.net(frames)
        run.optimise(res["loss"], len(frames))
        if run.due(tc.log_every) or run.step == tc.steps:
            st = res["stats"]
            row = {"stage": "vqvae", "step": run.step, "loss": float(res["loss"].detach()),
                   "recon": float(res["recon_loss"]), "commit": float(res["commit"]), "perplexity": st["perplexity"],
                   "dead_codes": st["dead_codes"], "used_codes": st["used_codes"], "frames_per_s": run.throughput(),
                   "lr": lr_at(run.step, tc), "world": env.world, "time": time.time()}
            run.log_row(row, loss=f"{row['loss']:.4f}", ppl=f"{st['perplexity']:.0f}", dead=st["dead_codes"],
                        fps=f"{row['frames_per_s']:.0f}")
        if env.is_main and run.due(tc.sample_every):
            _save_recon(out / "samples" / f"vqvae-{run.step:07d}.png", model, frames[:8])
        if run.due(tc.ckpt_every):
            save()
        if run.out_of_time():
            break
    run.bar.close()
    save()
    if env.is_main and eval_split:
        row = {"stage": "vqvae", "kind": "eval", "step": run.step,
               **eval_vqvae(model, open_dataset(_eval_root(data, split), eval_split, clip_len,
                                                eta=0.5, seed=tc.seed), env.device, tc.eval_clips)}
        run.log.write(**row)
    env.close()
    return row


@torch.no_grad()
def _save_recon(path: Path, model: VQVAE, frames: torch.Tensor) -> None:
    import imageio.v2 as imageio

    model.eval()
    rec = model.decode(model.encode(frames))
    grid = torch.cat([torch.cat(list(frames.cpu()), -1), torch.cat(list(rec.cpu()), -1)], -2)
    img = grid.permute(1, 2, 0).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.imwrite(str(path), img[..., 0] if img.shape[-1] == 1 else img)


@torch.no_grad()
def eval_vqvae(model: VQVAE, dataset, device, clips: int = 64) -> dict:
    model.eval()
    vals = []
    for i in range(min(clips, len(dataset))):
        v = torch.as_tensor(np.asarray(dataset[i]["video"]))
        x = fit_frames(v, model.cfg.resolution, model.cfg.in_channels).to(device)
        vals.append(psnr(model.decode(model.encode(x)), x).mean().item())
    return {"recon_psnr": float(np.mean(vals)) if vals else float("nan"), "clips": len(vals)}


# ----------------------------------------------------------------------------------------------- stage 2
class TokenCache:
    """Codebook indices of every (video index, raw frame) encoded so far, as int16 on the CPU."""

    def __init__(self, vqvae: VQVAE, device):
        self.vqvae, self.device, self.store = vqvae, device, {}

    @torch.no_grad()
    def __call__(self, batch: dict) -> torch.Tensor:
        v, idx, fi = batch["video"], batch["index"].tolist(), batch["frame_indices"].tolist()
        b, t = v.shape[:2]
        cfg = self.vqvae.cfg
        missing = [(i, j) for i in range(b) for j in range(t) if (idx[i], fi[i][j]) not in self.store]
        if missing:
            frames = torch.stack([v[i, j] for i, j in missing])
            frames = fit_frames(frames, cfg.resolution, cfg.in_channels).to(self.device)
            codes = torch.cat([self.vqvae.encode(c) for c in frames.split(256)]).to("cpu", torch.int16)
            for (i, j), c in zip(missing, codes):
                self.store[(idx[i], fi[i][j])] = c
        return torch.stack([torch.stack([self.store[(idx[i], fi[i][j])] for j in range(t)]) for i in range(b)]
                           ).long().to(self.device)


def build_mage_config(preset: dict, vqvae: VQVAE, vocab: Vocabulary) -> MAGEConfig:
    vc = vqvae.cfg
    return replace(preset["mage"], vocab_size=len(vocab), codebook_size=vc.codebook_size, tokens_h=vc.tokens,
                   tokens_w=vc.tokens, frames=int(preset["data"].get("clip_length", preset["mage"].frames)))


def train_mage(preset: dict, data: str | Path, out: str | Path, vqvae_path: str | Path, split: str | None = "train",
               eval_split: str | None = "test", device: str | None = None, resume: bool = True,
               max_minutes: float | None = None) -> dict:
    """Train the generator (Eq. 7) on tokens of the frozen VQ-VAE; returns the last eval metrics."""
    env = Env(device)
    tc = preset["mage_train"]
    out = Path(out)
    torch.manual_seed(tc.seed + env.rank)
    vq = load_vqvae(vqvae_path, env.device)
    for p in vq.parameters():
        p.requires_grad_(False)
    vocab = Vocabulary.build()
    cfg = build_mage_config(preset, vq, vocab)
    data_cfg = preset["data"]
    caption = data_cfg.get("caption", "stochastic" if cfg.stochastic else "explicit")
    caption = "ambiguous" if caption == "stochastic" else caption
    ds = open_dataset(data, split, cfg.frames, caption=caption, seed=tc.seed)
    model = MAGE(cfg).to(env.device)
    if env.is_main:  # only once the checkpoint and the data opened: bad input leaves no run folder behind
        out.mkdir(parents=True, exist_ok=True)
    run = StageRun("mage", model, tc, out, env, resume, max_minutes)
    tokens_of = TokenCache(vq, env.device)
    eval_ds = open_dataset(_eval_root(data, split), eval_split, cfg.frames, caption=caption, eta=None, seed=tc.seed + 1) \
        if eval_split else None
    it = batches(ds, tc.batch_size, env, tc.seed, tc.num_workers,
                 start_epoch=run.step * tc.batch_size // max(1, len(ds)))

    def save() -> None:
        run.save_last({"config": {"mage": to_dict(cfg), "train": to_dict(tc)}, "vocabulary": vocab.to_list()})
        if env.is_main:
            save_model(out / "model.ckpt", vq, model, vocab, {"step": run.step, "dataset": preset.get("dataset")})

    def evaluate() -> dict:
        if not (env.is_main and eval_ds is not None):
            return {}
        return run.log_eval({"stage": "mage", "kind": "eval", "step": run.step, "time": time.time(),
                             **eval_mage(model, vq, vocab, eval_ds, env, tc.eval_clips, tokens_of)})

    def samples() -> None:
        if env.is_main and eval_ds is not None:
            _save_samples(out / "samples" / f"mage-{run.step:07d}.gif", model, vq, vocab, eval_ds, env)

    def train_step() -> None:
        batch = next(it)
        tokens = tokens_of(batch)
        ids, valid = vocab.batch(batch["caption"], cfg.max_text_len)
        model.train()
        with env.autocast():
            res = run.net(tokens, ids.to(env.device), valid.to(env.device), batch["eta"].to(env.device))
        run.optimise(res["loss"], tokens.shape[0])
        if run.due(tc.log_every) or run.step == tc.steps:
            row = {"stage": "mage", "step": run.step, "loss": float(res["loss"].detach()), "ce": float(res["ce"]),
                   "acc": float(res["acc"]), "c_norm": float(res["c_norm"]), "kl": float(res["kl"]),
                   "clips_per_s": run.throughput(), "lr": lr_at(run.step, tc), "world": env.world, "time": time.time()}
            run.log_row(row, loss=f"{row['loss']:.3f}", acc=f"{row['acc']:.3f}", cps=f"{row['clips_per_s']:.1f}")

    result = run.loop(train_step, save, samples, evaluate)
    env.close()
    return result


@torch.no_grad()
def eval_mage(model: MAGE, vq: VQVAE, vocab: Vocabulary, dataset, env: Env, clips: int,
              tokens_of: TokenCache | None = None, batch_size: int = 16) -> dict:
    """Teacher-forced loss / token accuracy, and greedy generation vs ground truth (token accuracy, PSNR of
    frames 2..T; PSNR of the VQ-VAE reconstruction as the ceiling), on the first ``clips`` clips."""
    model.eval()
    tokens_of = tokens_of or TokenCache(vq, env.device)
    n = min(clips, len(dataset))
    sums = {"ce": 0.0, "tf_acc": 0.0, "gen_acc": 0.0, "gen_psnr": 0.0, "recon_psnr": 0.0}
    for s in range(0, n, batch_size):
        batch = collate([dataset[i] for i in range(s, min(n, s + batch_size))])
        tokens = tokens_of(batch)
        ids, valid = vocab.batch(batch["caption"], model.cfg.max_text_len)
        ids, valid, eta = ids.to(env.device), valid.to(env.device), batch["eta"].to(env.device)
        with env.autocast():
            res = model(tokens, ids, valid, eta)
        gen = sample_tokens(model, tokens[:, 0], ids, valid, eta, generator=torch.Generator(env.device).manual_seed(0))
        b, t, h, w = tokens.shape
        gt = fit_frames(batch["video"].flatten(0, 1), vq.cfg.resolution, vq.cfg.in_channels).view(
            b, t, vq.cfg.in_channels, vq.cfg.resolution, vq.cfg.resolution)[:, 1:].to(env.device)
        frames = vq.decode(gen[:, 1:].reshape(-1, h, w)).view_as(gt)
        recon = vq.decode(tokens[:, 1:].reshape(-1, h, w)).view_as(gt)
        sums["ce"] += float(res["ce"]) * b
        sums["tf_acc"] += float(res["acc"]) * b
        sums["gen_acc"] += float((gen[:, 1:] == tokens[:, 1:]).float().mean()) * b
        sums["gen_psnr"] += float(psnr(frames, gt).mean(1).sum())
        sums["recon_psnr"] += float(psnr(recon, gt).mean(1).sum())
    return {k: v / max(n, 1) for k, v in sums.items()} | {"clips": n}


@torch.no_grad()
def _save_samples(path: Path, model: MAGE, vq: VQVAE, vocab: Vocabulary, dataset, env: Env, n: int = 4) -> None:
    """GIF: one row per clip, ground truth on the left, greedy generation on the right."""
    model.eval()
    batch = collate([dataset[i] for i in range(min(n, len(dataset)))])
    cfg = vq.cfg
    b, t = batch["video"].shape[:2]
    gt = fit_frames(batch["video"].flatten(0, 1), cfg.resolution, cfg.in_channels).view(
        b, t, cfg.in_channels, cfg.resolution, cfg.resolution)
    z1 = vq.encode(gt[:, 0].to(env.device))
    ids, valid = vocab.batch(batch["caption"], model.cfg.max_text_len)
    gen = sample_tokens(model, z1, ids.to(env.device), valid.to(env.device), batch["eta"].to(env.device),
                        frames=t, generator=torch.Generator(env.device).manual_seed(0))
    h, w = gen.shape[-2:]
    frames = vq.decode(gen.reshape(-1, h, w)).view_as(gt).cpu()
    frames[:, 0] = gt[:, 0]
    rows = torch.cat([gt, frames], dim=-1)  # [b, t, C, H, 2W]
    grid = torch.cat(list(rows), dim=-2)  # [t, C, b*H, 2W]
    _save_gif(path, grid.permute(0, 2, 3, 1).numpy())
    if env.is_main:
        (path.parent / (path.stem + ".txt")).write_text("\n".join(
            f"{c}  eta={e:.2f}" for c, e in zip(batch["caption"], batch["eta"].tolist())) + "\n")
