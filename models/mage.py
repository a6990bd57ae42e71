"""MAGE, the motion-anchor-based video generator (Sec. 3.3, Fig. 2), and its training loss (Eq. 7).

Given the first frame's tokens z_1, a caption s and a speed eta:
  e_s = TextEncoder(s);  M = MotionAnchor(Emb(z_1), e_s)            (Eq. 2)
  c = phi(eta);  r ~ q_psi(r | z_1..T) in training, N(0, I) at inference  (Eqs. 3-4)
  M~ = AdaIN(M, r) + c  (stochastic mode)  or  M + c  (deterministic mode)  (Eq. 5)
  logits of z_2..z_T = Head(G(PE([M~, Emb(z_1), ..., Emb(z_{T-1})])))[1:]   (Eq. 6)
  L = CE(z_2..z_T) + alpha ||c||^2 + beta KL(q || N(0, I))                  (Eq. 7)
The cross-entropy is averaged over all predicted tokens (the 1/T sum of Eq. 7 with a per-token mean).
The token embedding Emb is shared by the motion anchor's query and the transformer input.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .axial_transformer import AxialTransformer
from .conditions import AdaIN, RandomnessEncoder, SpeedEmbedding
from .config import MAGEConfig
from .motion_anchor import MotionAnchor
from .text_encoder import TextEncoder


class MAGE(nn.Module):
    def __init__(self, cfg: MAGEConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.tok_emb = nn.Embedding(cfg.codebook_size, d)
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        self.text = TextEncoder(cfg)
        self.anchor = MotionAnchor(cfg)
        self.speed = SpeedEmbedding(d)
        if cfg.stochastic:
            self.psi = RandomnessEncoder(cfg)
            self.adain = AdaIN(d, cfg.r_dim)
        self.transformer = AxialTransformer(cfg)
        self.head = nn.Linear(d, cfg.codebook_size)

    def motion_anchor(self, z1, text_ids, text_valid, speed, clip_tokens=None, r=None, generator=None):
        """-> (M~ [B, h, w, d], c [B, d], kl scalar). clip_tokens: the whole clip, for q_psi in training."""
        e_s = self.text(text_ids, text_valid)
        m = self.anchor(self.tok_emb(z1), e_s, text_valid)
        c = self.speed(speed.to(m.device))
        kl = m.new_zeros(())
        if self.cfg.stochastic:
            if r is None:
                if clip_tokens is not None:
                    r, mu, logvar = self.psi(clip_tokens)
                    kl = RandomnessEncoder.kl(mu, logvar)
                else:
                    r = torch.randn(z1.shape[0], self.cfg.r_dim, generator=generator, device=z1.device)
            m = self.adain(m, r)
        return m + c[:, None, None].to(m.dtype), c, kl

    def logits(self, tokens: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits: tokens [B, T, h, w] -> [B, T-1, h, w, K] predicting tokens[:, 1:]."""
        x = torch.cat([m[:, None], self.tok_emb(tokens[:, :-1])], dim=1)
        return self.head(self.transformer(x)[:, 1:])

    def forward(self, tokens, text_ids, text_valid, speed) -> dict:
        """tokens long [B, T, h, w] (z_1..z_T), text [B, L], speed [B] -> dict(loss, ce, c_norm, kl, acc, logits)."""
        m, c, kl = self.motion_anchor(tokens[:, 0], text_ids, text_valid, speed, clip_tokens=tokens)
        logits = self.logits(tokens, m)
        target = tokens[:, 1:]
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1))
        c_norm = c.float().pow(2).sum(-1).mean()
        loss = ce + self.cfg.alpha * c_norm + self.cfg.beta * kl.float()
        with torch.no_grad():
            acc = (logits.argmax(-1) == target).float().mean()
        return {"loss": loss, "ce": ce.detach(), "c_norm": c_norm.detach(), "kl": kl.detach(), "acc": acc,
                "logits": logits}
