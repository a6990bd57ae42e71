"""Ground-truth motion of a clip, in one form for every dataset: what a motion-field model trains on.

For clip frames t = 0..T-1 (raw frames ``frame_indices``; clip frame 0 is raw frame 0):

    field    float32 [T, H, W, 2]  forward displacement (dx, dy) in pixels of every frame-0 pixel: the point seen at
                                   q in frame 0 is at q + field[t, q] in frame t (its trajectory; 0 for background)
    visible  bool    [T, H, W]     that point is still what is seen there in frame t (not covered by another
                                   object, not contained), so splatting frame 0 along the field explains frame t
    owner0   int16   [H, W]        who is seen at each pixel of frame 0: object slot k, or -1 for the background
    tracks   float32 [K, T, 2]     every object slot's centre (x, y) in pixels per clip frame (sparse trajectories)
    present  bool    [K]           the slot holds an object
    moving   bool    [K]           the object moves at some point of the clip

Moving MNIST stores tracks and glyphs, and the field is derived from them exactly. Digits are max-composited,
so the owner of a pixel is the slot whose glyph is brightest there (ties go to the lower slot) and a pixel where
every glyph is 0 is background. A digit translates rigidly, so its pixels' field is its track's offset from
frame 0; a frame-0 pixel is visible in frame t when the owner at its new place is still its owner (background:
when no digit covers it then). Splatting frame 0's visible pixels along the field reproduces frame t exactly,
except for ink that a brighter digit hid in frame 0 (no frame-0 pixel carries it).

CATER-GEN stores the renderer's *backward* field (``motion_field``: per pixel of frame t, the displacement of the
surface point seen there since frame 0) and instance masks. The forward field is its inverse: every pixel p of
frame t whose source pixel q = round(p - d_t(p)) in frame 0 shows the same object (or background) gives
field[t, q] = d_t(p), visible. Frame-0 pixels no pixel of frame t comes from (covered or contained since) are not
visible; an object's get the offset of its projected centre, the background's stay 0.
"""

from __future__ import annotations

import numpy as np

MNIST_GLYPH = 28


def mnist_owner(tracks_t: np.ndarray, glyphs: np.ndarray, present: np.ndarray, size: int) -> np.ndarray:
    """Owner map int16 [H, W] of one frame: tracks_t int [K, 2] top-left corners, glyphs uint8 [K, 28, 28]."""
    best = np.zeros((size, size), np.int16)
    owner = np.full((size, size), -1, np.int16)
    g = MNIST_GLYPH
    for k in np.flatnonzero(present):
        x, y = int(tracks_t[k, 0]), int(tracks_t[k, 1])
        window = best[y:y + g, x:x + g]
        ink = glyphs[k].astype(np.int16)
        wins = ink > window  # strictly brighter: ties stay with the lower slot
        window[wins] = ink[wins]
        owner[y:y + g, x:x + g][wins] = k
    return owner


def mnist_motion(annotations: dict, frame_indices: np.ndarray, size: int = 64) -> dict:
    """The clip's motion (module docstring) from Moving MNIST annotations ``tracks``, ``labels``, ``digit_images``."""
    idx = np.asarray(frame_indices)
    labels = np.asarray(annotations["labels"])
    present = labels >= 0
    tracks = np.asarray(annotations["tracks"]).astype(np.int64)[:, idx]  # [K, T, 2] top-left corners
    glyphs = np.asarray(annotations["digit_images"])
    t_count = len(idx)
    owners = np.stack([mnist_owner(tracks[:, t], glyphs, present, size) for t in range(t_count)])
    own0 = owners[0]
    offset = tracks - tracks[:, :1]  # [K, T, 2]
    field = np.zeros((t_count, size, size, 2), np.float32)
    visible = np.zeros((t_count, size, size), bool)
    ys, xs = np.mgrid[0:size, 0:size]
    for t in range(t_count):
        vis = (own0 < 0) & (owners[t] < 0)  # background stays visible where no digit covers it
        for k in np.flatnonzero(present):
            mine = own0 == k
            field[t][mine] = offset[k, t]
            tx, ty = xs[mine] + offset[k, t, 0], ys[mine] + offset[k, t, 1]
            vis[mine] = owners[t][ty, tx] == k  # tracks keep every glyph inside the canvas
        visible[t] = vis
    centre = tracks.astype(np.float32) + MNIST_GLYPH / 2
    moving = present & (np.abs(offset).sum((1, 2)) > 0)
    return {"field": field, "visible": visible, "owner0": own0, "tracks": centre, "present": present,
            "moving": moving}


def cater_motion(annotations: dict, frame_indices: np.ndarray) -> dict:
    """The clip's motion (module docstring) from the CATER-GEN annotations the renderer stored."""
    idx = np.asarray(frame_indices)
    backward = np.asarray(annotations["motion_field"])[idx].astype(np.float32)  # [T, H, W, 2]
    owners = np.asarray(annotations["masks"])[idx].astype(np.int16) - 1  # [T, H, W], -1 background
    t_count, h, w = owners.shape
    own0 = owners[0]
    n = int(annotations["num_objects"])
    centres = np.nan_to_num(np.asarray(annotations["centers_2d"])[idx].transpose(1, 0, 2).astype(np.float32))
    field = np.zeros((t_count, h, w, 2), np.float32)
    visible = np.zeros((t_count, h, w), bool)
    ys, xs = np.mgrid[0:h, 0:w]
    for t in range(t_count):
        for k in range(n):  # not seen again: moved with the object's centre
            field[t][own0 == k] = centres[k, t] - centres[k, 0]
        qx = np.clip(np.floor(xs + 0.5 - backward[t, ..., 0]).astype(np.int64), 0, w - 1)
        qy = np.clip(np.floor(ys + 0.5 - backward[t, ..., 1]).astype(np.int64), 0, h - 1)
        seen = own0[qy, qx] == owners[t]  # p shows what its source pixel q showed in frame 0
        field[t][qy[seen], qx[seen]] = backward[t][seen]
        visible[t][qy[seen], qx[seen]] = True
    present = np.arange(centres.shape[0]) < n
    positions = np.asarray(annotations["positions"])[idx]  # [T, K, 3]
    yaws = np.asarray(annotations["rotations"])[idx][..., 2]
    moved = (np.abs(positions - positions[:1]).max((0, 2)) > 1e-6) | (np.abs(yaws - yaws[:1]).max(0) > 1e-6)
    return {"field": field, "visible": visible, "owner0": own0, "tracks": centres, "present": present,
            "moving": present & moved}


def clip_motion(dataset: str, annotations: dict, frame_indices: np.ndarray, size: int) -> dict:
    """Dispatch on the shard's dataset name."""
    if dataset.startswith("mnist"):
        return mnist_motion(annotations, frame_indices, size)
    if dataset.startswith("cater"):
        return cater_motion(annotations, frame_indices)
    raise ValueError(f"no motion field for dataset {dataset!r}")
