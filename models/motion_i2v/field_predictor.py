"""Stage 1: the motion-field predictor, a conditional flow-matching model over the clip's motion field.

Motion-I2V's first stage denoises the displacement fields from the reference frame to every later frame,
conditioned on that frame and the text. Here the state x holds, for each generated frame t = 2..T at resolution
R = resolution / field_down, the forward displacement of every frame-1 pixel (dx, dy) / field_scale and its
visibility 2v - 1 (3 (T-1) channels). Flow matching (rectified flow) with a straight path:

    x_tau = (1 - tau) x_0 + tau x_1,   x_0 ~ N(0, I),  x_1 = the true field,  tau ~ U(0, 1)
    x^_1 = f_theta(x_tau, tau | frame 1, caption, eta, hints)           (the network predicts the clean field)
    v = (x^_1 - x_tau) / (1 - tau)                                       (the velocity of the straight path)
    L_field = || x^_1 - x_1 ||^2
    sampling: Euler steps x += v / K from a seeded x_0, K = sample_steps (the last step lands on x^_1)

so a fixed seed gives a fixed field, and an ambiguous caption gives different plausible fields for different
seeds. Why predict x_1 rather than v = x_1 - x_0: a v-network has to carry every cell's noise through its
tokens (108 numbers per 128-wide token here), leaving no room for the motion; measured on 8 clips, a v-network
trained 400 steps recovered the field from the noisy state at tau = 0.875 (1.6 px error) but from pure noise not
at all (9.9 px, as much as predicting no motion), so its samples were wrong whatever the number of steps.
Objects cover a few percent of a frame, so the squared error of their cells is weighted by
1 + object_weight (frame-1 object pixels, from the owner map); otherwise the background's easy zeros make up
most of the loss.

f_theta is a small diffusion transformer: patch tokens of [x_tau, hint maps, region map, frame 1 at R] (so a
token's output can follow the edges of what it moves) plus a convolutional embedding of frame 1 at the token
grid; each block has self-attention over the grid, cross-attention to the text encoder's e_s, and an MLP, all
modulated (adaLN, zero-initialised gates) by the embeddings of tau and of eta (the speed phi shared with MAGE).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..conditions import SpeedEmbedding


def timestep_embedding(tau: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of tau in [0, 1] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=tau.device, dtype=torch.float32) / half)
    angle = 1000.0 * tau.float()[:, None] * freqs[None]
    return torch.cat([angle.cos(), angle.sin()], dim=-1)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class FieldBlock(nn.Module):
    """Self-attention over the token grid, cross-attention to the caption, MLP; adaLN-modulated by c."""

    def __init__(self, d: int, heads: int, ff: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False)
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.norm_x = nn.LayerNorm(d)
        self.cross = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))
        self.ada = nn.Linear(d, 6 * d)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, x, c, text, text_pad):
        s1, g1, b1, s2, g2, b2 = self.ada(nn.functional.silu(c)).chunk(6, dim=-1)
        h = _modulate(self.norm1(x), b1, s1)
        x = x + g1[:, None] * self.attn(h, h, h, need_weights=False)[0]
        q = self.norm_x(x)
        x = x + self.cross(q, text, text, key_padding_mask=text_pad, need_weights=False)[0]
        x = x + g2[:, None] * self.mlp(_modulate(self.norm2(x), b2, s2))
        return x


class FirstFrameEncoder(nn.Module):
    """Frame 1 [B, C, H, W] in [0, 1] -> features [B, d, G, G] at the token grid (stride field_down x patch)."""

    def __init__(self, channels: int, d: int, stride: int):
        super().__init__()
        layers, width = [nn.Conv2d(channels, 32, 3, padding=1), nn.SiLU()], 32
        for _ in range(int(math.log2(stride))):
            nxt = min(d, width * 2)
            layers += [nn.Conv2d(width, nxt, 3, stride=2, padding=1), nn.GroupNorm(8, nxt), nn.SiLU()]
            width = nxt
        layers.append(nn.Conv2d(width, d, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, frame):
        return self.net(frame)


class FieldPredictor(nn.Module):
    """f_theta of the module docstring."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        d, p, n = cfg.d_model, cfg.patch, cfg.frames - 1
        self.state_channels = 3 * n
        cond_channels = 2 * n + 1 + 1 + cfg.in_channels  # hints (dx, dy per frame, given), region, frame 1
        self.patch_in = nn.Conv2d(self.state_channels + cond_channels, d, p, stride=p)
        self.image = FirstFrameEncoder(cfg.in_channels, d, cfg.field_down * p)
        grid = cfg.field_resolution // p
        self.pos = nn.Parameter(torch.zeros(grid * grid, d))
        nn.init.normal_(self.pos, std=0.02)
        self.time = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.speed = SpeedEmbedding(d)
        self.blocks = nn.ModuleList(FieldBlock(d, cfg.heads, cfg.ff_dim, cfg.dropout) for _ in range(cfg.blocks))
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False)
        self.ada_out = nn.Linear(d, 2 * d)
        nn.init.zeros_(self.ada_out.weight)
        nn.init.zeros_(self.ada_out.bias)
        self.out = nn.Linear(d, self.state_channels * p * p)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x, tau, image, e_s, text_valid, speed, cond):
        """x [B, 3(T-1), R, R], tau [B], image [B, C, H, W], e_s [B, L, d], text_valid [B, L] bool, speed [B],
        cond [B, 2(T-1)+2, R, R] (hints.hint_maps, hints.region_map) -> x^_1 [B, 3(T-1), R, R]."""
        b, _, r, _ = x.shape
        p = self.cfg.patch
        small = nn.functional.adaptive_avg_pool2d(image, r) * 2 - 1
        tokens = self.patch_in(torch.cat([x, cond, small], 1)) + self.image(image)  # [B, d, G, G]
        g = tokens.shape[-1]
        tokens = tokens.flatten(2).transpose(1, 2) + self.pos
        c = self.time(timestep_embedding(tau, tokens.shape[-1])) + self.speed(speed)
        for block in self.blocks:
            tokens = block(tokens, c, e_s, ~text_valid)
        shift, scale = self.ada_out(nn.functional.silu(c)).chunk(2, dim=-1)
        out = self.out(_modulate(self.norm_out(tokens), shift, scale))  # [B, G*G, S*p*p]
        out = out.transpose(1, 2).reshape(b, self.state_channels * p * p, g, g)
        return nn.functional.pixel_shuffle(out, p)

    def loss(self, x1, image, e_s, text_valid, speed, cond, weight=None, generator=None):
        """L_field for true fields x1 [B, 3(T-1), R, R]; ``weight`` [B, R, R] weighs the cells."""
        x0 = torch.randn(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
        tau = torch.rand(x1.shape[0], generator=generator, device=x1.device)
        xt = (1 - tau[:, None, None, None]) * x0 + tau[:, None, None, None] * x1
        err = (self(xt, tau, image, e_s, text_valid, speed, cond).float() - x1.float()).pow(2)
        if weight is None:
            return err.mean()
        return (err * weight[:, None]).sum() / (weight.sum() * err.shape[1])

    @torch.no_grad()
    def sample(self, image, e_s, text_valid, speed, cond, steps: int, generator=None):
        """Euler integration from seeded noise -> x1 estimate [B, 3(T-1), R, R]."""
        b = image.shape[0]
        r = self.cfg.field_resolution
        x = torch.randn((b, self.state_channels, r, r), generator=generator, device=image.device)
        for k in range(steps):
            tau = torch.full((b,), k / steps, device=image.device)
            x1_hat = self(x, tau, image, e_s, text_valid, speed, cond).float()
            x = x + (x1_hat - x) / (steps - k)  # dt v with v = (x^_1 - x) / (1 - tau), dt = 1 / steps
        return x
