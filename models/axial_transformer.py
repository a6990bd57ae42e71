"""Axial transformer of Sec. 3.3.3 (Eq. 6): z^_i = G(PE([M~ . z_<i])).

The sequence [M, z_1, ..., z_{T-1}] (time position 0 holds the motion anchor) is a [B, T, h, w, d] tensor.
Each block attends along ONE axis (time, rows or columns, cycling ``axial_order``) and is followed by a
feed-forward layer, both pre-norm residual. Row and column attention see the whole axis; time attention is
causal, so the output at time position i depends on positions <= i only and predicts frame z_{i+1}.

Sampling cache: tokens of frame i reach other frames only through time attention, so for frame-by-frame
generation each time-attention block keeps the keys and values of the earlier positions (per spatial position)
in a preallocated :class:`TimeKVCache`, and a step runs every block on the new frame's h*w tokens only. The
output equals a full recompute (tests/test_mage_model.py checks it).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import MAGEConfig


class TimeKVCache:
    """Keys/values of one time-attention block: [B*h*w, heads, T_max, head_dim] each."""

    def __init__(self, n: int, heads: int, t_max: int, head_dim: int, device, dtype):
        self.k = torch.empty(n, heads, t_max, head_dim, device=device, dtype=dtype)
        self.v = torch.empty_like(self.k)
        self.length = 0


class AxialAttention(nn.Module):
    """Attention along one axis of [B, t, h, w, d]; along time it is causal unless ``causal=False`` (the
    bidirectional MMVID-style model)."""

    def __init__(self, d: int, heads: int, axis: str, dropout: float, causal: bool = True):
        super().__init__()
        self.axis, self.heads, self.head_dim, self.causal = axis, heads, d // heads, causal
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, cache: TimeKVCache | None = None, start: int = 0) -> torch.Tensor:
        """x [B, t, h, w, d] holding time positions start .. start+t-1."""
        b, t, h, w, d = x.shape
        nh, hd = self.heads, self.head_dim
        qkv = self.qkv(x).view(b, t, h, w, 3, nh, hd)
        p = self.dropout if self.training else 0.0
        if self.axis == "t":
            qkv = qkv.permute(4, 0, 2, 3, 5, 1, 6).reshape(3, b * h * w, nh, t, hd)
            q, k, v = qkv[0], qkv[1], qkv[2]
            mask, causal = None, self.causal and t > 1
            if cache is not None:
                if start != cache.length:
                    raise RuntimeError(f"cache holds {cache.length} positions, step starts at {start}")
                cache.k[:, :, start:start + t] = k
                cache.v[:, :, start:start + t] = v
                cache.length = start + t
                k, v = cache.k[:, :, : start + t], cache.v[:, :, : start + t]
                if not self.causal:
                    raise RuntimeError("a key/value cache needs causal time attention")
                if t > 1 and start > 0:  # several new positions after a prefix: explicit causal mask
                    causal = False
                    mask = torch.ones(t, start + t, dtype=torch.bool, device=x.device).tril(start)
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=causal)
            o = o.view(b, h, w, nh, t, hd).permute(0, 4, 1, 2, 3, 5)
        elif self.axis == "h":
            qkv = qkv.permute(4, 0, 1, 3, 5, 2, 6).reshape(3, b * t * w, nh, h, hd)
            o = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], dropout_p=p)
            o = o.view(b, t, w, nh, h, hd).permute(0, 1, 4, 2, 3, 5)
        else:
            qkv = qkv.permute(4, 0, 1, 2, 5, 3, 6).reshape(3, b * t * h, nh, w, hd)
            o = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], dropout_p=p)
            o = o.view(b, t, h, nh, w, hd).permute(0, 1, 2, 4, 3, 5)
        return self.proj(o.reshape(b, t, h, w, d))


class AxialBlock(nn.Module):
    """Pre-norm attention along ``axis`` then a feed-forward layer, both residual. ``cfg`` needs d_model, heads,
    ff_dim, dropout (and causal_time, default True)."""

    def __init__(self, cfg: MAGEConfig, axis: str):
        super().__init__()
        d = cfg.d_model
        self.axis = axis
        self.norm1 = nn.LayerNorm(d)
        self.attn = AxialAttention(d, cfg.heads, axis, cfg.dropout, causal=getattr(cfg, "causal_time", True))
        self.norm2 = nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, cfg.ff_dim), nn.GELU(), nn.Linear(cfg.ff_dim, d))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cache: TimeKVCache | None = None, start: int = 0) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), cache, start))
        return x + self.drop(self.ffn(self.norm2(x)))


class AxialTransformer(nn.Module):
    """G of Eq. 6 with learned time / row / column positional embeddings (PE)."""

    def __init__(self, cfg: MAGEConfig):
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.pos_t = nn.Parameter(torch.zeros(cfg.frames, d))
        self.pos_h = nn.Parameter(torch.zeros(cfg.tokens_h, d))
        self.pos_w = nn.Parameter(torch.zeros(cfg.tokens_w, d))
        for p in (self.pos_t, self.pos_h, self.pos_w):
            nn.init.normal_(p, std=0.02)
        order = cfg.axial_order
        self.blocks = nn.ModuleList(AxialBlock(cfg, order[i % len(order)]) for i in range(cfg.axial_blocks))
        self.norm = nn.LayerNorm(d)

    def positional(self, start: int, t: int) -> torch.Tensor:
        return (self.pos_t[start:start + t, None, None] + self.pos_h[None, :, None] + self.pos_w[None, None, :])

    def new_caches(self, batch: int, device, dtype=torch.float32) -> list[TimeKVCache | None]:
        cfg = self.cfg
        n = batch * cfg.tokens_h * cfg.tokens_w
        return [TimeKVCache(n, cfg.heads, cfg.frames, cfg.d_model // cfg.heads, device, dtype)
                if blk.axis == "t" else None for blk in self.blocks]

    def forward(self, x: torch.Tensor, start: int = 0, caches: list | None = None,
                drop_anchor: bool = False) -> torch.Tensor:
        """x [B, t, h, w, d] at time positions start.. -> hidden states [B, t, h, w, d].

        drop_anchor (prefill from position 0 with caches): after the last time-attention block nothing reads
        position 0 (the motion anchor) any more, so it is dropped there and the result covers positions 1.. only.
        """
        x = x + self.positional(start, x.shape[1]).to(x.dtype)
        last_t = max((i for i, b in enumerate(self.blocks) if b.axis == "t"), default=-1)
        for i, blk in enumerate(self.blocks):
            x = blk(x, caches[i] if caches is not None else None, start)
            if drop_anchor and start == 0 and i == last_t:
                x, start = x[:, 1:], 1
        return self.norm(x)
