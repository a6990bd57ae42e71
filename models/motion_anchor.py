"""Motion anchor of Sec. 3.3.1 (Eq. 2): cross-attention from first-frame tokens to the text.

Q = e_{z1,i,j} W^q, K = e_s W^k, V = e_s W^v;  A_{i,j} = MultiHead(Q, K, V);  M_{i,j} = FFN(e_{z1,i,j}, A_{i,j}).
The FFN fuses the visual embedding and the attended motion clue (residual sum, feed-forward, layer norm), so
M in R^{h x w x d} is spatially aligned with the first frame.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .config import MAGEConfig


class MotionAnchor(nn.Module):
    def __init__(self, cfg: MAGEConfig):
        super().__init__()
        d = cfg.d_model
        self.pos = nn.Parameter(torch.zeros(cfg.tokens_h, cfg.tokens_w, d))  # 2D position of e_{z1}
        nn.init.normal_(self.pos, std=0.02)
        self.norm_q = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, cfg.heads, dropout=cfg.dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, cfg.ff_dim), nn.GELU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(cfg.ff_dim, d), nn.Dropout(cfg.dropout))
        self.norm2 = nn.LayerNorm(d)

    def forward(self, e_z1: torch.Tensor, e_s: torch.Tensor, text_valid: torch.Tensor,
                need_weights: bool = False):
        """e_z1 [B, h, w, d] (token embeddings of the first frame), e_s [B, L, d] -> M [B, h, w, d]."""
        b, h, w, d = e_z1.shape
        q = (e_z1 + self.pos).reshape(b, h * w, d)
        a, weights = self.attn(self.norm_q(q), e_s, e_s, key_padding_mask=~text_valid, need_weights=need_weights)
        m = self.norm1(q + a)
        m = self.norm2(m + self.ffn(m))
        m = m.view(b, h, w, d)
        return (m, weights) if need_weights else m
