"""Text encoder of Sec. 3.3.1: learned word embeddings + a 2-layer transformer -> e_s in R^{L x d}.

Release sizes (the MAGE authors' release, as in ``templates/presets/train-*.yaml``):
width 512, 16 heads, feed-forward 2048, GELU, dropout 0.1.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .config import MAGEConfig


class TextEncoder(nn.Module):
    def __init__(self, cfg: MAGEConfig):
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=0)
        self.pos = nn.Parameter(torch.zeros(cfg.max_text_len, cfg.d_model))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.heads, cfg.ff_dim, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, cfg.text_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.max_len = cfg.max_text_len

    def forward(self, ids: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """ids long [B, L], valid bool [B, L] -> e_s [B, L, d] (padded positions are masked as keys)."""
        ids, valid = ids[:, : self.max_len], valid[:, : self.max_len]
        x = self.embed(ids) + self.pos[: ids.shape[1]]
        x = self.layers(x, src_key_padding_mask=~valid)
        return self.norm(x)
