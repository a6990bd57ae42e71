"""Sparse trajectory control and the motion brush, as conditioning maps at the field's resolution.

Motion-I2V lets a user drag a few points (sparse trajectories) and paint the region that may move (the motion
brush). Both become maps the field predictor reads beside the noisy field:

* trajectories float [P, T, 2]: absolute pixel positions (x, y) of P points in every clip frame (frame 0 = where
  the point is in the given first frame). The point's forward displacement in frame t is q_t - q_0, so at the
  cell of q_0 the hint channels hold (q_t - q_0) / field_scale for every generated frame t and a 1 saying a
  hint is there. On an object's pixel these are exactly the values the true field has at that cell; a point
  between an object's pixels (a digit's centre may be dark) still means "move that object so".
* region bool [H, W]: +1 inside, -1 outside; 0 everywhere when no region is given.

Training samples hints from the ground truth: the centre tracks of random objects (moving or not: a still point
says "stay"), moved rigidly by a small random offset, and the region covering the moving objects' frame-1 pixels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def hint_maps(trajectories, frames: int, resolution: int, down: int, scale: float) -> torch.Tensor:
    """float32 [2 (T-1) + 1, R, R]: (dx, dy) of every generated frame, then the given flag, at the cells of the
    trajectories' first points; trajectories [P, >= T, 2] pixel positions, or None."""
    r = resolution // down
    out = torch.zeros(2 * (frames - 1) + 1, r, r)
    if trajectories is not None:
        traj = torch.as_tensor(np.asarray(trajectories, np.float32))
        if traj.ndim != 3 or traj.shape[-1] != 2 or traj.shape[1] < frames:
            raise ValueError(f"trajectories must be [P, T >= {frames}, 2] pixel positions, got {tuple(traj.shape)}")
        for q in traj[:, :frames]:
            x, y = (q[0] / down).floor().long().clamp(0, r - 1).tolist()
            out[:-1, y, x] = ((q[1:] - q[0]) / scale).flatten()
            out[-1, y, x] = 1.0
    return out


def region_map(region, resolution: int, down: int) -> torch.Tensor:
    """float32 [1, R, R]: +1 where the (max-pooled) region is set, -1 elsewhere; zeros when region is None."""
    r = resolution // down
    if region is None:
        return torch.zeros(1, r, r)
    m = torch.as_tensor(np.asarray(region, bool)).float()
    if m.shape != (resolution, resolution):
        raise ValueError(f"region must be a [{resolution}, {resolution}] mask, got {tuple(m.shape)}")
    return F.max_pool2d(m[None, None], down)[0] * 2 - 1


def sample_hints(motion: dict, frames: int, resolution: int, rng: np.random.Generator, cfg) -> tuple:
    """Training conditions drawn from one clip's true motion: (trajectories [P, T, 2] or None, region or None)."""
    traj = None
    present = np.flatnonzero(motion["present"])
    if len(present) and rng.random() < cfg.hint_prob:
        count = int(rng.integers(1, cfg.max_hint_points + 1))
        picks = rng.choice(present, size=min(count, len(present)), replace=False)
        jitter = rng.uniform(-1, 1, size=(len(picks), 1, 2)) * cfg.hint_jitter * resolution
        traj = np.clip(motion["tracks"][picks, :frames] + jitter, 0, resolution - 1e-3).astype(np.float32)
    region = None
    if rng.random() < cfg.region_prob:
        region = np.isin(motion["owner0"], np.flatnonzero(motion["moving"]))
    return traj, region
