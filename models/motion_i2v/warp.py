"""Forward splatting of the first frame along a motion field (stage 2's first step).

The field is a forward one (the trajectory of every frame-1 pixel, as Motion-I2V predicts), so frame t is made
by moving frame 1's pixels to where they go: each source pixel q lands at q + d_t(q) and is shared bilinearly
among the four pixels around that point, weighted by its visibility v_t(q) and an importance exp(Z_t(q)) that
decides who is in front where several land together (softmax splatting, Niklaus and Liu 2020). Why forward: the
predictor then only has to say how the pixels it can see in frame 1 move (on a digit: one vector per frame),
instead of also drawing where each object will be, which a backward field (defined on frame t's pixels) needs.
Pixels no source lands on (disocclusions) come out empty, with zero coverage, and the refiner paints them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pixel_grid(h: int, w: int, device=None) -> torch.Tensor:
    """Pixel centres (x, y) float32 [H, W, 2]: pixel (i, j) covers [i, i+1] x [j, j+1]."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32) + 0.5,
                            torch.arange(w, device=device, dtype=torch.float32) + 0.5, indexing="ij")
    return torch.stack([xs, ys], -1)


def forward_splat(values: torch.Tensor, field: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """values [B, C, H, W] (shared by all frames) or [B, T, C, H, W]; field [B, T, H, W, 2] pixels; weight
    [B, T, H, W] >= 0 -> (normalised splat [B, T, C, H, W], coverage [B, T, H, W] = splatted weight)."""
    b, t, h, w, _ = field.shape
    if values.dim() == 4:
        values = values[:, None].expand(b, t, *values.shape[1:])
    c = values.shape[2]
    pos = pixel_grid(h, w, field.device) + field.float() - 0.5  # continuous pixel index of the landing point
    x0, y0 = pos[..., 0].floor(), pos[..., 1].floor()
    fx, fy = pos[..., 0] - x0, pos[..., 1] - y0
    src = values.float().reshape(b * t, c, h * w)
    wgt = weight.float().reshape(b * t, h * w)
    num = src.new_zeros(b * t, c, h * w)
    den = src.new_zeros(b * t, h * w)
    for dx, dy, bil in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + dx, y0 + dy
        inside = ((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)).reshape(b * t, h * w)
        index = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).long().reshape(b * t, h * w)
        share = bil.reshape(b * t, h * w) * wgt * inside
        den = den.scatter_add(1, index, share)
        num = num.scatter_add(2, index[:, None].expand(-1, c, -1), src * share[:, None])
    out = num / den.clamp_min(1e-6)[:, None]
    return out.view(b, t, c, h, w), den.view(b, t, h, w)


def resize_field(field: torch.Tensor, size: int) -> torch.Tensor:
    """[B, T, h, w, K] -> [B, T, size, size, K] by area averaging (down) or bilinear interpolation (up)."""
    b, t, h, w, k = field.shape
    x = field.permute(0, 1, 4, 2, 3).flatten(0, 1)
    if size < h:
        x = F.adaptive_avg_pool2d(x, size)
    elif size > h:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.view(b, t, k, size, size).permute(0, 1, 3, 4, 2)
