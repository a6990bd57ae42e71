"""VQ-VAE of Sec. 3.2 (Eq. 1): frames -> 16x16 codebook indices -> frames.

Encoder E downsamples by ``n`` (4 for 64x64 MNIST, 8 for 128x128 CATER) with strided convolutions and a few
residual blocks at the token resolution (a simple ResNet in the spirit of DALL-E's, paper ref. [26]); the
decoder mirrors it. The codebook C (K x D = 512 x 256) is learned by exponential moving averages, which
replaces the codebook term ||sg(e_x) - e~_x||^2 of Eq. 1 (van den Oord et al., appendix); the commitment term
beta * ||e_x - sg(e~_x)||^2 and the reconstruction term (MSE) are optimised by gradient descent.

Codebook health: the first batch initialises the codebook (k-means++-like seeding from encoder outputs), codes
unused for ``restart_after`` steps are restarted on encoder outputs of the current batch (drawn where the
codebook fits worst),
and every forward reports the batch perplexity and the number of dead codes. Under DistributedDataParallel the
EMA statistics are all-reduced, so every rank holds the same codebook.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from .config import VQVAEConfig


def _dist_on() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.GroupNorm(8 if ch % 8 == 0 else 1, ch), nn.SiLU(), nn.Conv2d(ch, ch, 3, padding=1),
            nn.GroupNorm(8 if ch % 8 == 0 else 1, ch), nn.SiLU(), nn.Conv2d(ch, ch, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _widths(cfg: VQVAEConfig) -> list[int]:
    levels = cfg.downsample.bit_length() - 1
    ch = list(cfg.channels)
    return [ch[min(i, len(ch) - 1)] for i in range(levels + 1)]


class Encoder(nn.Module):
    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        w = _widths(cfg)
        layers: list[nn.Module] = [nn.Conv2d(cfg.in_channels, w[0], 3, padding=1)]
        for i in range(len(w) - 1):
            layers += [nn.SiLU(), nn.Conv2d(w[i], w[i + 1], 4, stride=2, padding=1)]
        layers += [ResBlock(w[-1]) for _ in range(cfg.res_blocks)]
        layers += [nn.GroupNorm(8 if w[-1] % 8 == 0 else 1, w[-1]), nn.SiLU(), nn.Conv2d(w[-1], cfg.code_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        w = _widths(cfg)
        layers: list[nn.Module] = [nn.Conv2d(cfg.code_dim, w[-1], 3, padding=1)]
        layers += [ResBlock(w[-1]) for _ in range(cfg.res_blocks)]
        for i in range(len(w) - 1, 0, -1):
            layers += [nn.SiLU(), nn.ConvTranspose2d(w[i], w[i - 1], 4, stride=2, padding=1)]
        layers += [nn.SiLU(), nn.Conv2d(w[0], cfg.in_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class EMACodebook(nn.Module):
    """Vector quantiser with EMA codebook updates, k-means++ initialisation and dead-code restart.

    A code unused for ``restart_after`` consecutive steps is dead: it is moved onto an encoder output of the
    current batch drawn with probability proportional to its squared distance to the nearest code (k-means++
    style), so restarts go where the codebook fits worst (digit strokes, not the empty background).
    """

    def __init__(self, num_codes: int, dim: int, decay: float = 0.99, restart_after: int = 20,
                 kmeans_init: bool = True, eps: float = 1e-5):
        super().__init__()
        self.num_codes, self.dim, self.decay, self.eps = num_codes, dim, decay, eps
        self.restart_after = restart_after
        self.register_buffer("embedding", torch.randn(num_codes, dim) * 0.1)
        self.register_buffer("ema_count", torch.ones(num_codes))
        self.register_buffer("ema_sum", self.embedding.clone())
        self.register_buffer("unused_steps", torch.zeros(num_codes, dtype=torch.long))
        self.register_buffer("initialized", torch.tensor(0 if kmeans_init else 1, dtype=torch.uint8))
        self.restarted = 0

    def distances(self, flat: torch.Tensor) -> torch.Tensor:
        emb = self.embedding
        return flat.pow(2).sum(1, keepdim=True) - 2 * flat @ emb.t() + emb.pow(2).sum(1)[None]

    def indices(self, flat: torch.Tensor) -> torch.Tensor:
        return self.distances(flat).argmin(1)

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.embedding)

    @staticmethod
    def _seed_points(pool: torch.Tensor, k: int, generator: torch.Generator, start: torch.Tensor | None = None):
        """k points of pool by k-means++ seeding (greedy, distance-proportional), given optional existing centres."""
        pool = pool.cpu()
        chosen = []
        if start is None or len(start) == 0:
            first = pool[torch.randint(0, len(pool), (1,), generator=generator)]
            chosen.append(first)
            dmin = (pool - first).pow(2).sum(1)
        else:
            dmin = torch.cdist(pool, start.cpu()).pow(2).min(1).values
        while sum(len(c) for c in chosen) < k:
            w = dmin.clamp_min(0)
            if float(w.sum()) <= 0:
                w = torch.ones_like(w)
            i = torch.multinomial(w, 1, generator=generator)
            chosen.append(pool[i])
            dmin = torch.minimum(dmin, (pool - pool[i]).pow(2).sum(1))
        return torch.cat(chosen)[:k]

    @torch.no_grad()
    def _kmeans_init(self, flat: torch.Tensor, iters: int = 10) -> None:
        flat = _gather(flat)
        g = torch.Generator(device="cpu").manual_seed(0)
        pool = flat[torch.randperm(len(flat), generator=g)[:8192].to(flat.device)]
        centres = self._seed_points(pool, self.num_codes, g).to(flat.device)
        for _ in range(iters):
            assign = torch.cdist(pool, centres).argmin(1)
            counts = torch.bincount(assign, minlength=self.num_codes).float()
            sums = torch.zeros_like(centres).index_add_(0, assign, pool)
            moved = counts > 0
            centres[moved] = sums[moved] / counts[moved, None]
        self.embedding.copy_(centres)
        self.ema_sum.copy_(centres)
        self.ema_count.fill_(1.0)
        self.initialized.fill_(1)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, idx: torch.Tensor, dist_min: torch.Tensor) -> None:
        counts = torch.bincount(idx, minlength=self.num_codes).to(flat.dtype)
        sums = torch.zeros(self.num_codes, self.dim, device=flat.device, dtype=flat.dtype).index_add_(0, idx, flat)
        if _dist_on():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.ema_count.sum()
        count = (self.ema_count + self.eps) / (total + self.num_codes * self.eps) * total
        self.embedding.copy_(self.ema_sum / count[:, None])
        used = counts > 0
        self.unused_steps[used] = 0
        self.unused_steps[~used] += 1
        dead = (self.unused_steps >= self.restart_after).nonzero().flatten()
        self.restarted = len(dead)
        if len(dead):  # the same restart on every rank: same gathered pool, same generator seed
            pool = _gather(flat)
            weights = _gather(dist_min.contiguous()).clamp_min(0).cpu()
            g = torch.Generator(device="cpu").manual_seed(int(self.unused_steps.sum().item()) % (2**31))
            if float(weights.sum()) <= 0:
                weights = torch.ones_like(weights)
            pick = torch.multinomial(weights, len(dead), replacement=len(dead) > len(weights),
                                     generator=g).to(flat.device)
            new = pool[pick] + 1e-3 * torch.randn(len(dead), self.dim, generator=g).to(flat.device)
            self.embedding[dead] = new
            self.ema_sum[dead] = new
            self.ema_count[dead] = 1.0
            self.unused_steps[dead] = 0

    def dead_codes(self) -> int:
        """Codes unused for at least ``restart_after`` steps before this step's restart."""
        return int(self.restarted)

    def forward(self, z: torch.Tensor):
        """z float [B, D, h, w] -> (quantised straight-through [B, D, h, w], idx [B, h, w], commit, stats)."""
        b, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d).float()
        if self.training and not bool(self.initialized):
            self._kmeans_init(flat.detach())
        dists = self.distances(flat.detach())
        dist_min, idx = dists.min(1)
        if self.training:
            self._ema_update(flat.detach(), idx, dist_min)
        q = self.lookup(idx).view(b, h, w, d).permute(0, 3, 1, 2).to(z.dtype)
        commit = F.mse_loss(z, q.detach())
        q_st = z + (q - z).detach()
        with torch.no_grad():
            probs = torch.bincount(idx, minlength=self.num_codes).float() / idx.numel()
            perplexity = torch.exp(-(probs * torch.log(probs + 1e-10)).sum())
        stats = {"perplexity": float(perplexity), "dead_codes": self.dead_codes(),
                 "used_codes": int((probs > 0).sum())}
        return q_st, idx.view(b, h, w), commit, stats


def _gather(x: torch.Tensor) -> torch.Tensor:
    if not _dist_on():
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


class VQVAE(nn.Module):
    """E, C, D of Eq. 1. Images are uint8 or float in [0, 255]; internally x / 255 - 0.5."""

    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.codebook = EMACodebook(cfg.codebook_size, cfg.code_dim, cfg.ema_decay, cfg.restart_after,
                                    cfg.kmeans_init)
        self.decoder = Decoder(cfg)

    @staticmethod
    def normalize(x: torch.Tensor) -> torch.Tensor:
        return x.float() / 255.0 - 0.5

    @staticmethod
    def to_uint8(x: torch.Tensor) -> torch.Tensor:
        return ((x.float() + 0.5) * 255.0).round().clamp(0, 255).to(torch.uint8)

    def forward(self, x: torch.Tensor):
        """x [B, C, H, W] (uint8 or 0-255 float) -> dict(recon (normalised), loss, recon_loss, commit, stats)."""
        target = self.normalize(x)
        z = self.encoder(target)
        q, idx, commit, stats = self.codebook(z)
        recon = self.decoder(q)
        recon_loss = F.mse_loss(recon.float(), target)
        loss = recon_loss + self.cfg.beta * commit.float()
        return {"recon": recon, "indices": idx, "loss": loss, "recon_loss": recon_loss.detach(),
                "commit": commit.detach(), "stats": stats}

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] images -> [N, h, w] long code indices."""
        z = self.encoder(self.normalize(x))
        b, d, h, w = z.shape
        return self.codebook.indices(z.permute(0, 2, 3, 1).reshape(-1, d).float()).view(b, h, w)

    @torch.no_grad()
    def decode(self, idx: torch.Tensor) -> torch.Tensor:
        """[N, h, w] code indices -> [N, C, H, W] uint8 images."""
        q = self.codebook.lookup(idx).permute(0, 3, 1, 2)
        return self.to_uint8(self.decoder(q))
