"""The Motion-I2V-style generator: shared text encoder -> stage 1 field predictor -> stage 2 renderer.

    e_s = TextEncoder(s)                                   (shared with MAGE, Sec. 3.3.1 of the MAGE paper)
    x_1 = FieldPredictor.sample(frame 1, e_s, eta, hints)   (field_predictor.py: flow matching)
    (d_t, v_t) = x_1 unpacked, t = 2..T                     (pixels, visibility at resolution R)
    frame_t = Renderer(frame 1, d_t, v_t)                   (renderer.py: splat + refine)
    L = L_field + L_render                                 (the two stages train side by side; the renderer
                                                            reads true fields, then also predicted ones)
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..text_encoder import TextEncoder
from .field_predictor import FieldPredictor
from .renderer import Renderer
from .warp import resize_field


class MotionI2V(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.text = TextEncoder(cfg)
        self.field = FieldPredictor(cfg)
        self.renderer = Renderer(cfg)

    # ------------------------------------------------------------------ field <-> diffusion state
    def field_state(self, field: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """True motion of frames 2..T (field [B, T', H, W, 2] pixels, visible [B, T', H, W]) -> x_1 [B, 3T', R, R]."""
        r = self.cfg.field_resolution
        f = resize_field(field, r) / self.cfg.field_scale
        v = resize_field(visible.float()[..., None], r) * 2 - 1
        return torch.cat([f, v], -1).permute(0, 1, 4, 2, 3).flatten(1, 2)

    def unpack_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, 3T', R, R] -> (field [B, T', R, R, 2] pixels, visibility [B, T', R, R] in [0, 1])."""
        b, _, r, _ = x.shape
        s = x.view(b, -1, 3, r, r).permute(0, 1, 3, 4, 2)
        return s[..., :2] * self.cfg.field_scale, ((s[..., 2] + 1) / 2).clamp(0, 1)

    # ------------------------------------------------------------------ training
    def forward(self, frames, text_ids, text_valid, speed, field, visible, cond, objects=None, predicted: int = 0,
                generator=None) -> dict:
        """frames float [B, T, C, H, W] in [0, 1]; field/visible of frames 2..T at full resolution; cond [B, 3T'+1,
        R, R]; objects [B, H, W] bool, frame-1 object pixels (weighted in L_field). The renderer of the first
        ``predicted`` clips reads a field sampled by stage 1 (no gradient).
        -> dict(loss = L_field + L_render, field, render, frames)."""
        e_s = self.text(text_ids, text_valid)
        frame1 = frames[:, 0]
        x1 = self.field_state(field, visible)
        weight = None
        if objects is not None:
            share = nn.functional.adaptive_avg_pool2d(objects.float()[:, None], self.cfg.field_resolution)[:, 0]
            weight = 1 + self.cfg.object_weight * share
        l_field = self.field.loss(x1, frame1, e_s, text_valid, speed, cond, weight, generator)
        f_in, v_in = self.unpack_state(x1)
        if predicted:
            with torch.no_grad():
                xp = self.field.sample(frame1[:predicted], e_s[:predicted], text_valid[:predicted],
                                       speed[:predicted], cond[:predicted], self.cfg.sample_steps, generator)
            fp, vp = self.unpack_state(xp)
            f_in = torch.cat([fp, f_in[predicted:]])
            v_in = torch.cat([vp, v_in[predicted:]])
        out = self.renderer(frame1, f_in, v_in)
        l_render = (out.float() - frames[:, 1:].float()).abs().mean()
        return {"loss": l_field + l_render, "field": l_field.detach(), "render": l_render.detach(), "frames": out}

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def generate(self, frame1, text_ids, text_valid, speed, cond, generator=None, steps: int | None = None):
        """frame1 [B, C, H, W] in [0, 1] -> (frames 2..T [B, T', C, H, W] in [0, 1], field px, visibility)."""
        e_s = self.text(text_ids, text_valid)
        x = self.field.sample(frame1, e_s, text_valid, speed, cond, steps or self.cfg.sample_steps, generator)
        field, vis = self.unpack_state(x)
        return self.renderer(frame1, field, vis), field, vis
