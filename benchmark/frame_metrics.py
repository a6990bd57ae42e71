"""Per-frame PSNR and SSIM (docs/METRICS.md, PSNR and SSIM), batched in torch.

Protocol: every frame pair gets its own PSNR / SSIM; the clip score is the mean over its frames and the dataset
score the mean over clips. SSIM uses an 11-tap Gaussian window (sigma 1.5, truncate 3.5 as scipy.ndimage),
K1 = 0.01, K2 = 0.03, population covariance, and averages the SSIM map over the "valid" region (the border of
5 px that scikit-image crops), so it equals

    skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False, data_range=R, channel_axis=-1)

Colour frames average the per-channel SSIM (as scikit-image does); grayscale is one channel.
PSNR of two identical frames is infinite; it is capped at PSNR_CAP_DB and the number of capped frames is
reported next to the mean so a cap never hides silently.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

PSNR_CAP_DB = 100.0
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
K1, K2 = 0.01, 0.03


def gaussian_kernel1d(sigma: float = SSIM_SIGMA, truncate: float = SSIM_TRUNCATE, dtype=torch.float64) -> torch.Tensor:
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=dtype)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _as_nchw(x: torch.Tensor) -> torch.Tensor:
    if x.ndim == 3:  # [N, H, W]
        x = x[:, None]
    if x.ndim != 4:
        raise ValueError(f"frames must be [N, C, H, W] or [N, H, W], got shape {tuple(x.shape)}")
    return x


def psnr_per_frame(a: torch.Tensor, b: torch.Tensor, data_range: float = 255.0, cap: float = PSNR_CAP_DB) -> torch.Tensor:
    """PSNR of each frame pair, [N] float64. a, b: [N, C, H, W] (any dtype, same scale as data_range)."""
    a = _as_nchw(a).to(torch.float64)
    b = _as_nchw(b).to(torch.float64)
    if a.shape != b.shape:
        raise ValueError(f"frame shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    mse = ((a - b) ** 2).flatten(1).mean(1)
    floor = data_range**2 * 10 ** (-cap / 10.0)
    return 10.0 * torch.log10(data_range**2 / mse.clamp_min(floor))


def ssim_per_frame(a: torch.Tensor, b: torch.Tensor, data_range: float = 255.0) -> torch.Tensor:
    """SSIM of each frame pair, [N] float64 (see module docstring for the exact settings)."""
    a = _as_nchw(a).to(torch.float64)
    b = _as_nchw(b).to(torch.float64)
    if a.shape != b.shape:
        raise ValueError(f"frame shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    n, c, h, w = a.shape
    k = gaussian_kernel1d().to(a.device)
    win = k.numel()
    if h < win or w < win:
        raise ValueError(f"frames of {h}x{w} are smaller than the {win}-tap SSIM window")
    kx = k.view(1, 1, 1, win).repeat(c, 1, 1, 1)
    ky = k.view(1, 1, win, 1).repeat(c, 1, 1, 1)

    def filt(x):  # separable Gaussian, valid region only (= skimage's crop of (win-1)//2)
        return F.conv2d(F.conv2d(x, kx, groups=c), ky, groups=c)

    ux, uy = filt(a), filt(b)
    uxx, uyy, uxy = filt(a * a), filt(b * b), filt(a * b)
    vx = uxx - ux * ux
    vy = uyy - uy * uy
    vxy = uxy - ux * uy
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)


def video_frame_scores(gen: torch.Tensor, ref: torch.Tensor, data_range: float = 255.0, batch: int = 256):
    """gen, ref: uint8 [N, T, C, H, W]. Returns (psnr [N, T], ssim [N, T]) float64, computed in frame batches."""
    if gen.shape != ref.shape:
        raise ValueError(f"generated {tuple(gen.shape)} and reference {tuple(ref.shape)} videos differ in shape")
    n, t = gen.shape[:2]
    g = gen.reshape(n * t, *gen.shape[2:])
    r = ref.reshape(n * t, *ref.shape[2:])
    ps, ss = [], []
    for i in range(0, n * t, batch):
        ps.append(psnr_per_frame(g[i : i + batch], r[i : i + batch], data_range))
        ss.append(ssim_per_frame(g[i : i + batch], r[i : i + batch], data_range))
    return torch.cat(ps).view(n, t).cpu(), torch.cat(ss).view(n, t).cpu()


def psnr_is_capped(values: torch.Tensor, cap: float = PSNR_CAP_DB) -> int:
    return int((values >= cap - 1e-9).sum().item()) if not math.isnan(cap) else 0
