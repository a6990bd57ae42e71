"""Explicit condition and implicit randomness of Sec. 3.3.2 (Eqs. 3-5).

* Speed phi (Eq. 3): c = phi(eta), a linear layer R -> R^d, added channel-wise to the motion anchor; Eq. 7
  penalises alpha * ||c||^2.
* Randomness psi (Eq. 4): a variational information bottleneck; 3D convolution blocks over the token
  embeddings of the whole clip e_{z_1..T}, pooled, then a reparameterisation layer giving r ~ q(r | clip) in
  training; r ~ N(0, I) at inference. Eq. 7 penalises beta * KL(q || N(0, I)).
* Injection (Eq. 5): M = AdaIN(M, r) + c, AdaIN normalising each channel of M over the h x w positions and
  re-scaling / shifting it with affine maps of r.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .config import MAGEConfig


class SpeedEmbedding(nn.Module):
    """phi of Eq. 3."""

    def __init__(self, d: int):
        super().__init__()
        self.linear = nn.Linear(1, d)

    def forward(self, eta: torch.Tensor) -> torch.Tensor:
        """eta [B] in (0, 1) -> c [B, d]."""
        return self.linear(eta.float().view(-1, 1))


def _block(cin: int, cout: int, stride: tuple[int, int, int]) -> nn.Module:
    return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=stride, padding=1), nn.GroupNorm(8 if cout % 8 == 0 else 1, cout),
                         nn.SiLU())


class RandomnessEncoder(nn.Module):
    """psi of Eq. 4: 3D conv blocks + reparameterisation, returns (r, mu, logvar)."""

    def __init__(self, cfg: MAGEConfig):
        super().__init__()
        c = cfg.psi_channels
        self.embed = nn.Embedding(cfg.codebook_size, c)
        self.blocks = nn.Sequential(_block(c, c, (1, 1, 1)), _block(c, 2 * c, (2, 2, 2)),
                                    _block(2 * c, 2 * c, (1, 2, 2)))
        self.head = nn.Linear(2 * c, 2 * cfg.r_dim)
        self.r_dim = cfg.r_dim

    def forward(self, tokens: torch.Tensor, generator: torch.Generator | None = None):
        """tokens long [B, T, h, w] (the whole clip) -> r, mu, logvar, each [B, r_dim]."""
        x = self.embed(tokens).permute(0, 4, 1, 2, 3)  # [B, c, T, h, w]
        x = self.blocks(x).mean(dim=(2, 3, 4))
        mu, logvar = self.head(x).float().chunk(2, dim=-1)
        logvar = logvar.clamp(-10, 10)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + eps * torch.exp(0.5 * logvar), mu, logvar

    @staticmethod
    def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(N(mu, sigma^2) || N(0, I)), summed over r, averaged over the batch."""
        return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1).mean()


class AdaIN(nn.Module):
    """AdaIN(M, r) of Eq. 5 (Huang & Belongie 2017): instance-normalise M over (h, w), scale and shift by r."""

    def __init__(self, d: int, r_dim: int):
        super().__init__()
        self.affine = nn.Linear(r_dim, 2 * d)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, m: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """m [B, h, w, d], r [B, r_dim] -> [B, h, w, d]."""
        mean = m.mean(dim=(1, 2), keepdim=True)
        std = (m.var(dim=(1, 2), keepdim=True, unbiased=False) + 1e-5).sqrt()
        gamma, beta = self.affine(r.to(m.dtype)).chunk(2, dim=-1)
        return (1 + gamma[:, None, None]) * (m - mean) / std + beta[:, None, None]
