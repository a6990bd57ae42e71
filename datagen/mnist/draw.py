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
    for slot in np.flatnonzero(plan.labels >= 0).tolist():
        glyph = glyphs[slot]
        for t, (x, y) in enumerate(plan.tracks[slot].tolist()):  # Python ints: cheap slicing
            region = video[t, y : y + GLYPH, x : x + GLYPH]
            np.maximum(region, glyph, out=region)
    return video[..., None]
