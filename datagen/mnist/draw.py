"""Drawing planned Moving MNIST videos: glyphs max-composited along their planned tracks on a 64x64 canvas."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .plan import CANVAS, GLYPH, MnistPlan


def plan_glyphs(plan: MnistPlan, images: np.ndarray) -> np.ndarray:
    """The glyph of every slot, uint8 [SLOTS, 28, 28] (zeros for empty slots)."""
    out = np.zeros((len(plan.labels), GLYPH, GLYPH), dtype=np.uint8)
    for slot, index in enumerate(plan.glyph_index):
        if index >= 0:
            out[slot] = images[index]
    return out


def draw_videos(plans: Sequence[MnistPlan], glyphs: np.ndarray) -> np.ndarray:
    """uint8 [B, F, 64, 64, 1] for B plans of equal length; ``glyphs`` is uint8 [B, SLOTS, 28, 28].

    Every present digit is drawn at its track position with max-compositing. ``windows[b, t, y, x]`` is the
    28x28 view of video b, frame t whose top-left corner is (x, y), so each slot is one gather and one scatter
    for the whole batch (numpy's per-call cost is paid per batch, not per frame).
    """
    tracks = np.stack([p.tracks for p in plans])  # [B, SLOTS, F, 2]
    present = np.stack([p.labels >= 0 for p in plans])  # [B, SLOTS]
    batch, slots, frames, _ = tracks.shape
    video = np.zeros((batch, frames, CANVAS, CANVAS), dtype=np.uint8)
    span = CANVAS - GLYPH + 1
    s_b, s_t, s_y, s_x = video.strides
    windows = np.lib.stride_tricks.as_strided(
        video, shape=(batch, frames, span, span, GLYPH, GLYPH), strides=(s_b, s_t, s_y, s_x, s_y, s_x), writeable=True
    )
    t = np.arange(frames)
    for slot in range(slots):
        b = np.flatnonzero(present[:, slot])
        if len(b) == 0:
            continue
        # (video, frame) pairs are distinct within one slot, so the scatter has no collisions
        bi, ti = np.repeat(b, frames), np.tile(t, len(b))
        x, y = tracks[bi, slot, ti, 0], tracks[bi, slot, ti, 1]
        windows[bi, ti, y, x] = np.maximum(windows[bi, ti, y, x], glyphs[bi, slot])
    return video[..., None]


def draw_video(plan: MnistPlan, glyphs: np.ndarray) -> np.ndarray:
    """uint8 [F, 64, 64, 1]: one plan drawn (see draw_videos)."""
    return draw_videos([plan], glyphs[None])[0]
