"""Stage 2: render frames 2..T by splatting frame 1 along the field, then refining.

Motion-I2V's second stage propagates the reference frame's features along the predicted field and lets
motion-augmented temporal attention fix what warping cannot. Here, per generated frame t:

    Z_t = Importance([frame 1, d_t / field_scale, v_t])                  (who is in front where pixels meet)
    (w_t, c_t) = forward_splat(frame 1, d_t, v_t exp(Z_t))              (warp.py: image, coverage)
    u_t = forward_splat(d_t, d_t, v_t exp(Z_t))                         (the field moved to frame t's pixels)
    f_t = Enc([w_t, frame 1, c_t, u_t / field_scale])                   (stride 4, U-Net skips)
    f_t <- TemporalAttention(f_2..f_T) at every position, frames 2..T   (attention along time)
    (s_t, a_t) = Dec(f_t);  m_t = sigmoid(a_t + 4 (min(c_t, 1) - 1/2))
    frame_t = m_t w_t + (1 - m_t) s_t

The blend starts at the coverage (where some visible frame-1 pixel landed, keep the splat); the synthesis s_t
fills disocclusions and appearance changes that move no pixel (an object growing as it is lifted, a contained
object vanishing, a turning cube). L_render = |frame_t - true frame_t|_1, trained on true fields (at the
predictor's resolution) first, then on predicted ones.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .warp import forward_splat, resize_field


def _conv(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.GroupNorm(8, cout), nn.SiLU())


class Refiner(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c, w = cfg.in_channels, cfg.renderer_width
        self.enc0 = nn.Sequential(nn.Conv2d(2 * c + 3, w, 3, padding=1), nn.SiLU())  # no norm at full size
        self.enc1 = _conv(w, 2 * w, 2)
        self.enc2 = _conv(2 * w, 4 * w, 2)
        self.frame_pos = nn.Parameter(torch.zeros(cfg.frames - 1, 4 * w))
        layer = nn.TransformerEncoderLayer(4 * w, cfg.heads, 8 * w, cfg.dropout, batch_first=True, norm_first=True)
        self.temporal = nn.TransformerEncoder(layer, cfg.renderer_layers, enable_nested_tensor=False)
        # decoder: project, upsample, add the skip, convolve (cheap at full resolution: w channels in)
        self.up1 = nn.Conv2d(4 * w, 2 * w, 1)
        self.dec1 = _conv(2 * w, 2 * w)
        self.up0 = nn.Conv2d(2 * w, w, 1)
        self.dec0 = nn.Sequential(nn.Conv2d(w, w, 3, padding=1), nn.SiLU())
        self.out = nn.Conv2d(w, c + 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):
        """x [B, T', 2C+3, H, W] -> (synthesis [B, T', C, H, W] in (0, 1), blend logits [B, T', 1, H, W])."""
        b, t = x.shape[:2]
        e0 = self.enc0(x.flatten(0, 1).contiguous(memory_format=torch.channels_last))  # oneDNN's fast layout
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)  # [B T', 4w, h, w]
        d, h, w = e2.shape[1:]
        seq = e2.view(b, t, d, h, w).permute(0, 3, 4, 1, 2).reshape(b * h * w, t, d) + self.frame_pos[:t]
        seq = self.temporal(seq)
        e2 = seq.view(b, h, w, t, d).permute(0, 3, 4, 1, 2).reshape(b * t, d, h, w)
        y = self.dec1(F.interpolate(self.up1(e2), scale_factor=2, mode="nearest") + e1)
        y = self.dec0(F.interpolate(self.up0(y), scale_factor=2, mode="nearest") + e0)
        out = self.out(y).view(b, t, -1, *y.shape[-2:])
        return torch.sigmoid(out[:, :, :-1]), out[:, :, -1:]


class Renderer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        c = cfg.in_channels
        self.importance = nn.Sequential(nn.Conv2d(c + 3, 16, 3, padding=1), nn.SiLU(), nn.Conv2d(16, 1, 3, padding=1))
        nn.init.zeros_(self.importance[-1].weight)
        nn.init.zeros_(self.importance[-1].bias)
        self.refiner = Refiner(cfg)

    def forward(self, frame1, field, visible):
        """frame1 [B, C, H, W] in [0, 1]; field [B, T', R, R, 2] pixels and visible [B, T', R, R] in [0, 1] at
        any resolution R (upsampled here) -> frames 2..T [B, T', C, H, W] in [0, 1]."""
        size = frame1.shape[-1]
        field = resize_field(field, size)
        vis = resize_field(visible[..., None], size)[..., 0].clamp(0, 1)
        b, t = field.shape[:2]
        scaled = field.permute(0, 1, 4, 2, 3) / self.cfg.field_scale  # [B, T', 2, H, W]
        z = self.importance(torch.cat([frame1[:, None].expand(-1, t, -1, -1, -1), scaled, vis[:, :, None]], 2)
                            .flatten(0, 1)).view(b, t, size, size)
        weight = vis * torch.exp(z.clamp(-6, 6))
        warped, cover = forward_splat(frame1, field, weight)
        moved, _ = forward_splat(scaled, field, weight)
        cover = cover.clamp(max=1)[:, :, None]
        x = torch.cat([warped, frame1[:, None].expand(-1, t, -1, -1, -1), cover, moved], 2)
        synth, blend = self.refiner(x)
        m = torch.sigmoid(blend + 4 * (cover - 0.5))
        return m * warped + (1 - m) * synth
