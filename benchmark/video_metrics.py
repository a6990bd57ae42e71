"""Streaming metric pipelines over batches of generated and reference videos.

All accumulators take ``gen`` uint8 [B, K, T, C, H, W] (K samples per clip) and ``ref`` uint8 [B, T, C, H, W].

* frames scored: PSNR, SSIM, LPIPS, FID and VGG diversity use frames 2..T (the generated ones; frame 1 is the given input and
  would inflate every similarity score); FVD and I3D diversity use the whole T-frame clip (I3D needs >= 9 frames).
* similarity metrics with K > 1 samples: every sample is compared with the reference, then averaged.
* FID: frame-level, generated frames of all samples vs reference frames; FVD: one feature per clip and sample.
* Diversity (Dorkenwald et al. 2021): for each clip, the mean over ordered pairs (i != j) of the K samples of the
  MSE between their features; VGG-16: the mean over the five relu taps and over the generated frames 2..T (frame 1
  is the same given frame in every sample and would scale the score by (T-1)/T); I3D: the 400-d logits of the
  whole clip.
  Averaged over clips. Undefined (None) for K = 1.
"""

from __future__ import annotations

import numpy as np
import torch

from . import feature_nets as FN
from .frame_metrics import PSNR_CAP_DB, psnr_per_frame, ssim_per_frame
from .frechet import frechet_from_features

FID_DDOF = 1  # sample covariance, as pytorch-fid (np.cov); FVD keeps the population covariance of StyleGAN-V


def _frames(gen: torch.Tensor, first: int = 1) -> torch.Tensor:
    """[B, K, T, C, H, W] -> [B*K*(T-first), C, H, W]."""
    return gen[:, :, first:].reshape(-1, *gen.shape[-3:])


class FrameScores:
    name = "psnr_ssim"

    def __init__(self, data_range: float = 255.0, device="cpu"):
        self.data_range, self.device = data_range, device
        self.psnr: list[np.ndarray] = []
        self.ssim: list[np.ndarray] = []

    def update(self, gen, ref):
        b, k, t = gen.shape[:3]
        g = _frames(gen).to(self.device)
        r = ref[:, None, 1:].expand(b, k, t - 1, *ref.shape[-3:]).reshape(-1, *ref.shape[-3:]).to(self.device)
        # per frame, then mean over frames of a clip sample, then mean over samples
        self.psnr.append(psnr_per_frame(g, r, self.data_range).view(b, k, t - 1).mean((1, 2)).cpu().numpy())
        self.ssim.append(ssim_per_frame(g, r, self.data_range).view(b, k, t - 1).mean((1, 2)).cpu().numpy())

    def per_clip(self):
        return np.concatenate(self.psnr), np.concatenate(self.ssim)

    def result(self):
        p, s = self.per_clip()
        return {
            "psnr": float(p.mean()), "ssim": float(s.mean()),
            "psnr_cap_db": PSNR_CAP_DB, "data_range": self.data_range,
            "protocol": "per frame (frames 2..T), mean over frames, samples, clips; SSIM 11-tap Gaussian sigma 1.5",
        }


class LPIPSScore:
    name = "lpips"

    def __init__(self, net, device="cpu", batch: int = 64):
        self.net, self.device, self.batch = net.to(device), device, batch
        self.values: list[np.ndarray] = []

    @torch.no_grad()
    def update(self, gen, ref):
        b, k, t = gen.shape[:3]
        g = _frames(gen)
        r = ref[:, None, 1:].expand(b, k, t - 1, *ref.shape[-3:]).reshape(-1, *ref.shape[-3:])
        out = []
        for i in range(0, len(g), self.batch):
            x = FN.to_rgb01(g[i : i + self.batch].to(self.device)) * 2 - 1
            y = FN.to_rgb01(r[i : i + self.batch].to(self.device)) * 2 - 1
            out.append(self.net(x, y).flatten().float().cpu())
        self.values.append(torch.cat(out).view(b, k, t - 1).mean((1, 2)).numpy())

    def result(self):
        return {"lpips": float(np.concatenate(self.values).mean())}


class _FeatureSet:
    def __init__(self):
        self.chunks: list[np.ndarray] = []

    def add(self, x: torch.Tensor):
        self.chunks.append(x.detach().double().cpu().numpy())

    def array(self):
        return np.concatenate(self.chunks)


class FIDScore:
    name = "fid"

    def __init__(self, net, device="cpu", batch: int = 64):
        self.net, self.device, self.batch = net.to(device), device, batch
        self.gen, self.ref = _FeatureSet(), _FeatureSet()

    @torch.no_grad()
    def _feats(self, frames, into):
        for i in range(0, len(frames), self.batch):
            into.add(self.net(frames[i : i + self.batch].to(self.device)))

    def update(self, gen, ref):
        self._feats(_frames(gen), self.gen)
        self._feats(ref[:, 1:].reshape(-1, *ref.shape[-3:]), self.ref)

    def result(self):
        g, r = self.gen.array(), self.ref.array()
        return {"fid": frechet_from_features(g, r, ddof=FID_DDOF), "fid_frames_generated": len(g),
                "fid_frames_reference": len(r)}


class I3DScores:
    """FVD and, for K > 1, I3D diversity, sharing one I3D pass."""

    name = "fvd"

    def __init__(self, net, device="cpu", batch: int = 8, fvd: bool = True, diversity: bool = True):
        self.net, self.device, self.batch = net.to(device), device, batch
        self.do_fvd, self.do_div = fvd, diversity
        self.gen, self.ref = _FeatureSet(), _FeatureSet()
        self.div: list[float] = []

    @torch.no_grad()
    def _feats(self, videos):
        return torch.cat([self.net(videos[i : i + self.batch].to(self.device)).float().cpu()
                          for i in range(0, len(videos), self.batch)])

    def update(self, gen, ref):
        b, k = gen.shape[:2]
        fg = self._feats(gen.reshape(b * k, *gen.shape[2:]))
        if self.do_fvd:
            self.gen.add(fg)
            self.ref.add(self._feats(ref))
        if self.do_div and k > 1:
            f = fg.view(b, k, -1).double()
            for i in range(b):
                self.div.append(pairwise_mse_mean(f[i]))

    def result(self):
        out = {}
        if self.do_fvd:
            g, r = self.gen.array(), self.ref.array()
            out.update(fvd=frechet_from_features(g, r), fvd_clips_generated=len(g), fvd_clips_reference=len(r))
        if self.do_div:
            out["div_i3d"] = float(np.mean(self.div)) if self.div else None
        return out


def pairwise_mse_mean(f: torch.Tensor) -> float:
    """Mean over ordered pairs i != j of mean((f_i - f_j)^2); f: [K, D]."""
    k = f.shape[0]
    if k < 2:
        return float("nan")
    f = f.double().flatten(1)
    sq = (f * f).sum(1)
    d = (sq[:, None] + sq[None, :] - 2 * f @ f.T).clamp_min(0) / f.shape[1]
    return float(d.sum() / (k * (k - 1)))


class VGGDiversity:
    name = "div_vgg"

    def __init__(self, net, device="cpu", batch: int = 32):
        self.net, self.device, self.batch = net.to(device), device, batch
        self.values: list[float] = []

    @torch.no_grad()
    def update(self, gen, ref=None):
        gen = gen[:, :, 1:]  # frame 1 is the given frame, the same in every sample: it would dilute the score
        b, k, t = gen.shape[:3]
        if k < 2:
            return
        for i in range(b):
            frames = gen[i].permute(1, 0, 2, 3, 4).reshape(t * k, *gen.shape[-3:])  # frame-major: [t0 k0.., t1 ..]
            per_frame = []
            for s in range(0, t * k, max(k, (self.batch // k) * k)):
                chunk = frames[s : s + max(k, (self.batch // k) * k)].to(self.device)
                taps = self.net(chunk)
                n_t = chunk.shape[0] // k
                for j in range(n_t):
                    per_frame.append(np.mean([pairwise_mse_mean(tap[j * k : (j + 1) * k].cpu()) for tap in taps]))
            self.values.append(float(np.mean(per_frame)))

    def result(self):
        return {"div_vgg": float(np.mean(self.values)) if self.values else None}
