"""VQ-VAE (Eq. 1): reconstruction error falls on a few MNIST-like clips; codebook stats are reported."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ti2v.models.config import VQVAEConfig
from ti2v.models.vqvae import VQVAE

torch.set_num_threads(2)


def mnist_frames(n_clips=4, frames=6, seed=0) -> torch.Tensor:
    """Moving-digit frames (64x64, uint8) from scikit-learn's handwritten digits, the offline MNIST stand-in."""
    from sklearn.datasets import load_digits

    digits = load_digits().images  # [1797, 8, 8] in 0..16
    rng = np.random.default_rng(seed)
    out = np.zeros((n_clips, frames, 1, 64, 64), np.uint8)
    for c in range(n_clips):
        img = torch.tensor(digits[rng.integers(len(digits))] / 16.0, dtype=torch.float32)[None, None]
        glyph = (F.interpolate(img, size=(28, 28), mode="bilinear", align_corners=False)[0, 0] * 255).numpy()
        x, y = rng.integers(0, 37, size=2)
        dx, dy = (7, 0) if c % 2 else (0, 7)
        for t in range(frames):
            xx, yy = (x + dx * t) % 37, (y + dy * t) % 37
            out[c, t, 0, yy:yy + 28, xx:xx + 28] = np.maximum(out[c, t, 0, yy:yy + 28, xx:xx + 28], glyph)
    return torch.from_numpy(out).flatten(0, 1)


def test_reconstruction_error_falls_on_mnist_clips():
    torch.manual_seed(0)
    cfg = VQVAEConfig(in_channels=1, resolution=64, downsample=4, codebook_size=64, code_dim=32, channels=(16, 32),
                      res_blocks=1)
    model = VQVAE(cfg)
    frames = mnist_frames(n_clips=3, frames=4)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(30):
        res = model(frames)
        opt.zero_grad()
        res["loss"].backward()
        opt.step()
        losses.append(float(res["recon_loss"]))
    first, last = np.mean(losses[:3]), np.mean(losses[-5:])
    assert last < 0.35 * first, f"reconstruction MSE {first:.4f} -> {last:.4f}"
    stats = res["stats"]
    assert stats["perplexity"] > 2 and 0 <= stats["dead_codes"] <= cfg.codebook_size
    # inference path: tokens are 16x16 and decode back to uint8 frames
    model.eval()
    idx = model.encode(frames[:2])
    assert idx.shape == (2, 16, 16) and idx.max() < cfg.codebook_size
    rec = model.decode(idx)
    assert rec.dtype == torch.uint8 and rec.shape == frames[:2].shape


def test_downsample_8_for_128px_rgb_gives_16x16_tokens():
    cfg = VQVAEConfig(in_channels=3, resolution=128, downsample=8, codebook_size=32, code_dim=16, channels=(8, 16),
                      res_blocks=1)
    model = VQVAE(cfg).eval()
    x = torch.randint(0, 256, (2, 3, 128, 128), dtype=torch.uint8)
    assert model.encode(x).shape == (2, 16, 16)
    assert model.decode(model.encode(x)).shape == x.shape


def test_dead_codes_are_restarted():
    torch.manual_seed(0)
    cfg = VQVAEConfig(codebook_size=16, code_dim=4, channels=(4,), downsample=1, resolution=8, res_blocks=0,
                      kmeans_init=False, restart_after=2, ema_decay=0.5)
    model = VQVAE(cfg)
    cb = model.codebook
    cb.embedding.fill_(100.0)  # every code far away: all but the nearest are unused
    cb.embedding[0] = 0.0
    cb.ema_sum.copy_(cb.embedding)  # ema_count is 1: the EMA means equal the embedding
    z = torch.randn(4, 4, 8, 8)
    cb.train()
    restarted = 0
    for _ in range(4):
        _, idx, _, stats = cb(z)
        restarted += stats["dead_codes"]
    assert restarted >= 15 - 1  # every never-used code was reported dead and restarted
    assert stats["used_codes"] > 1  # restarted codes landed on encoder outputs and are now used
    assert cb.embedding.abs().max() < 100.0


def test_kmeans_init_uses_encoder_outputs():
    torch.manual_seed(0)
    cb = VQVAE(VQVAEConfig(codebook_size=8, code_dim=4, channels=(4,), downsample=1, resolution=8,
                           res_blocks=0)).codebook.train()
    z = torch.randn(2, 4, 8, 8) * 0.1 + 5.0
    cb(z)
    assert bool(cb.initialized) and (cb.embedding.mean() - 5.0).abs() < 0.5
