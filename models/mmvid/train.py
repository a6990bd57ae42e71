"""``ti2v-train mmvid``: the MMVID-style transformer on the tokens of a frozen VQ-VAE (stage 1 of ``ti2v-train``).

The same plumbing as MAGE's stage 2 (``StageRun``: resume from ``last.ckpt``, wall-time limit, DDP under
torchrun, bf16 autocast on CUDA, metrics.jsonl, progress; ``TokenCache`` for the codes), writing ``last.ckpt``,
``model.ckpt`` (VQ-VAE + transformer + vocabulary: what ``load_model`` and ``ti2v-bench evaluate`` read),
``metrics.jsonl`` and ``samples/mmvid-<step>.gif`` (ground truth left, mask-predict sample right).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..config import MMVIDConfig, replace, to_dict
from ..train import Env, StageRun, TokenCache, _eval_root, batches, collate, fit_frames, lr_at, open_dataset, \
    psnr, save_sample_gif
from ..api import load_vqvae
from ..vocabulary import Vocabulary
from ..vqvae import VQVAE
from .api import MMVIDModel, save_mmvid
from .model import MMVID
from .sampling import head_scores, mask_predict

STAGE = "mmvid"


def build_config(preset: dict, vqvae: VQVAE, vocab: Vocabulary) -> MMVIDConfig:
    """The preset's transformer on this VQ-VAE's codebook and token grid, at the preset's clip length."""
    vc = vqvae.cfg
    return replace(preset["mmvid"], vocab_size=len(vocab), codebook_size=vc.codebook_size, tokens_h=vc.tokens,
                   tokens_w=vc.tokens, frames=int(preset["data"].get("clip_length", preset["mmvid"].frames)))


def train_mmvid(preset: dict, data: str | Path, out: str | Path, vqvae_path: str | Path, split: str | None = "train",
                eval_split: str | None = "test", device: str | None = None, resume: bool = True,
                max_minutes: float | None = None) -> dict:
    """Train the transformer (masked-token prediction + the two heads); returns the last eval metrics."""
    env = Env(device)
    tc = preset["mmvid_train"]
    out = Path(out)
    torch.manual_seed(tc.seed + env.rank)
    vq = load_vqvae(vqvae_path, env.device)
    for p in vq.parameters():
        p.requires_grad_(False)
    vocab = Vocabulary.build()
    cfg = build_config(preset, vq, vocab)
    caption = preset["data"].get("caption", "explicit")
    ds = open_dataset(data, split, cfg.frames, caption=caption, seed=tc.seed)
    eval_ds = open_dataset(_eval_root(data, split), eval_split, cfg.frames, caption=caption, eta=None,
                           seed=tc.seed + 1) if eval_split else None
    model = MMVID(cfg).to(env.device)
    if env.is_main:  # only once the checkpoint and the data opened: bad input leaves no run folder behind
        out.mkdir(parents=True, exist_ok=True)
    run = StageRun(STAGE, model, tc, out, env, resume, max_minutes)
    tokens_of = TokenCache(vq, env.device)
    it = batches(ds, tc.batch_size, env, tc.seed, tc.num_workers,
                 start_epoch=run.step * tc.batch_size // max(1, len(ds)))
    started = time.time()

    def save() -> None:
        run.save_last({"config": {STAGE: to_dict(cfg), "train": to_dict(tc)}, "vocabulary": vocab.to_list()})
        if env.is_main:
            save_mmvid(out / "model.ckpt", vq, model, vocab, {"step": run.step, "dataset": preset.get("dataset"),
                                                              "minutes": round((time.time() - started) / 60, 2)})

    def evaluate() -> dict:
        if not (env.is_main and eval_ds is not None):
            return {}
        return run.log_eval({"stage": STAGE, "kind": "eval", "step": run.step, "time": time.time(),
                             **eval_mmvid(MMVIDModel(vq, model, vocab), eval_ds, tc.eval_clips, tokens_of)})

    def samples() -> None:
        if env.is_main and eval_ds is not None:
            save_sample_gif(out / "samples" / f"{STAGE}-{run.step:07d}.gif", MMVIDModel(vq, model, vocab), eval_ds)

    def train_step() -> None:
        batch = next(it)
        tokens = tokens_of(batch)
        ids, valid = vocab.batch(batch["caption"], cfg.max_text_len)
        model.train()
        with env.autocast():
            res = run.net(tokens, ids.to(env.device), valid.to(env.device), batch["eta"].to(env.device))
        run.optimise(res["loss"], tokens.shape[0])
        if run.due(tc.log_every) or run.step == tc.steps:
            row = {"stage": STAGE, "step": run.step, "loss": float(res["loss"].detach()),
                   "mask_ce": float(res["mask_ce"]), "acc": float(res["acc"]), "rel_bce": float(res["rel"]),
                   "cons_bce": float(res["cons"]), "clips_per_s": run.throughput(), "lr": lr_at(run.step, tc),
                   "world": env.world, "minutes": round((time.time() - started) / 60, 3)}
            run.log_row(row, loss=f"{row['loss']:.3f}", acc=f"{row['acc']:.3f}", cps=f"{row['clips_per_s']:.1f}")

    result = run.loop(train_step, save, samples, evaluate)
    env.close()
    return result


@torch.no_grad()
def eval_mmvid(model: MMVIDModel, dataset, clips: int, tokens_of: TokenCache | None = None,
               batch_size: int = 16) -> dict:
    """On the first ``clips`` clips: greedy mask-predict vs ground truth (code accuracy of frames 2..T, PSNR; the
    VQ-VAE reconstruction's PSNR as the ceiling) and how often the relevance head ranks a clip's own caption above
    the next clip's (different) caption."""
    net, vq, vocab = model.net, model.vqvae, model.vocab
    net.eval()
    dev = model.device
    tokens_of = tokens_of or TokenCache(vq, dev)
    n = min(clips, len(dataset))
    sums = {"gen_acc": 0.0, "gen_psnr": 0.0, "recon_psnr": 0.0}
    ranked, pairs = 0, 0
    for s in range(0, n, batch_size):
        batch = collate([dataset[i] for i in range(s, min(n, s + batch_size))])
        tokens = tokens_of(batch)
        ids, valid = vocab.batch(batch["caption"], net.cfg.max_text_len)
        ids, valid, eta = ids.to(dev), valid.to(dev), batch["eta"].to(dev)
        gen = mask_predict(net, tokens[:, 0], ids, valid, eta, temperature=0.0)
        b, t, h, w = tokens.shape
        gt = fit_frames(batch["video"].flatten(0, 1), vq.cfg.resolution, vq.cfg.in_channels).view(
            b, t, vq.cfg.in_channels, vq.cfg.resolution, vq.cfg.resolution)[:, 1:].to(dev)
        frames = vq.decode(gen[:, 1:].reshape(-1, h, w)).view_as(gt)
        recon = vq.decode(tokens[:, 1:].reshape(-1, h, w)).view_as(gt)
        sums["gen_acc"] += float((gen[:, 1:] == tokens[:, 1:]).float().mean()) * b
        sums["gen_psnr"] += float(psnr(frames, gt).mean(1).sum())
        sums["recon_psnr"] += float(psnr(recon, gt).mean(1).sum())
        if b > 1:
            other = (ids.roll(1, 0) != ids).any(1)
            own = head_scores(net, tokens, ids, valid, eta)
            wrong = head_scores(net, tokens, ids.roll(1, 0), valid.roll(1, 0), eta)
            ranked += int(((own > wrong) & other).sum())
            pairs += int(other.sum())
    return {k: v / max(n, 1) for k, v in sums.items()} | {
        "relevance_ranking": ranked / pairs if pairs else None, "clips": n}


__all__ = ["train_mmvid", "eval_mmvid", "build_config"]
