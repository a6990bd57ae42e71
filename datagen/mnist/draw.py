"""Drawing a planned Moving MNIST video: glyphs max-composited along their planned tracks on a 64x64 canvas."""

from __future__ import annotations

import numpy as np

from .plan import CANVAS, GLYPH, MnistPlan


def plan_glyphs(plan: MnistPlan, images: np.ndarray) -> np.ndarray:
    """The glyph of every slot, uint8 [SLOTS, 28, 28] (zeros for empty slots)."""
    out = np.zeros((len(plan.labels), GLYPH, GLYPH), dtype=np.uint8)
    for slot, index in enumerate(plan.glyph_index):
        if index >= 0:
            out[slot] = images[index]
    return out


def draw_video(plan: MnistPlan, glyphs: np.ndarray) -> np.ndarray:
    """uint8 [F, 64, 64, 1]: every present digit drawn at its track position with max-compositing."""
    frames = plan.tracks.shape[1]
    video = np.zeros((frames, CANVAS, CANVAS), dtype=np.uint8)
    # windows[t, y, x] is the 28x28 view of frame t whose top-left corner is (x, y): one gather and one
    # scatter per digit instead of a slice per frame.
    span = CANVAS - GLYPH + 1
    s_t, s_y, s_x = video.strides
    windows = np.lib.stride_tricks.as_strided(
        video, shape=(frames, span, span, GLYPH, GLYPH), strides=(s_t, s_y, s_x, s_y, s_x), writeable=True
    )
    t = np.arange(frames)
    for slot in np.flatnonzero(plan.labels >= 0):
        x, y = plan.tracks[slot, :, 0], plan.tracks[slot, :, 1]
        windows[t, y, x] = np.maximum(windows[t, y, x], glyphs[slot])
    return video[..., None]
