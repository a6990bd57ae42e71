"""CATER actions as closed-form trajectories, and the one function that evaluates them at a frame.

The planner calls :func:`pose_at` for every frame and stores the result; the renderer sets exactly those poses
before rendering each frame (Blender never interpolates), so the stored scene state and the pixels cannot
disagree (CATER saved linear positions while Blender used Bezier curves).

Timing: every action starts at frame 0 (CATER-GEN) and ends at frame ``end``. With 32 raw frames ``end`` is
drawn from [20, 30] (CATER's 20-30 frame actions); for other frame counts the range scales with the video,
[round(F * 20/32), round(F * 30/32)] clipped to [1, F - 1], so tiny test videos still finish their motion.
Within an action, progress u in [0, 1] is eased with smoothstep (slow in, slow out).
pick-place and contain: rise to LIFT in the first 20% of the action, move until 80%, lower for the rest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

KINDS = ("slide", "pick_place", "rotate", "contain")
LIFT = 2.0  # height of the base of a picked-up object (CATER: 2 units); taller than any object (1.5)
RISE_END = 0.2
MOVE_END = 0.8


@dataclass(frozen=True)
class Action:
    slot: int  # object that acts
    kind: str  # one of KINDS
    start: int  # first frame (always 0 in CATER-GEN)
    end: int  # frame at which the object is at rest at its target
    target_xy: tuple[float, float] | None = None  # final (x, y) for slide / pick_place / contain
    target_cell: tuple[int, int] | None = None  # final cell for slide / pick_place
    contained: int | None = None  # slot of the contained object (contain)
    angle: float = 0.0  # yaw change in radians (rotate)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["target_xy"] = list(self.target_xy) if self.target_xy is not None else None
        d["target_cell"] = list(self.target_cell) if self.target_cell is not None else None
        return d


def duration_range(frames: int) -> tuple[int, int]:
    lo = max(1, min(frames - 1, int(round(frames * 20 / 32))))
    hi = max(lo, min(frames - 1, int(round(frames * 30 / 32))))
    return lo, hi


def smoothstep(u):
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def progress(action: Action, frame: int) -> float:
    if action.end <= action.start:
        return 1.0
    return float(np.clip((frame - action.start) / (action.end - action.start), 0.0, 1.0))


def pose_at(action: Action, start: tuple[float, float, float, float], frame: int) -> tuple[float, float, float, float]:
    """Pose (x, y, z of the base, yaw) of the acting object at ``frame``, from its pose at the start."""
    x0, y0, z0, yaw0 = start
    u = progress(action, frame)
    if action.kind == "rotate":
        return x0, y0, z0, yaw0 + action.angle * float(smoothstep(u))
    tx, ty = action.target_xy
    if action.kind == "slide":
        s = float(smoothstep(u))
        return x0 + (tx - x0) * s, y0 + (ty - y0) * s, z0, yaw0
    # pick_place and contain: rise, move, lower
    if u <= RISE_END:
        h = float(smoothstep(u / RISE_END))
        return x0, y0, z0 + (LIFT - z0) * h, yaw0
    if u <= MOVE_END:
        s = float(smoothstep((u - RISE_END) / (MOVE_END - RISE_END)))
        return x0 + (tx - x0) * s, y0 + (ty - y0) * s, LIFT, yaw0
    h = float(smoothstep((u - MOVE_END) / (1.0 - MOVE_END)))
    return tx, ty, LIFT * (1.0 - h), yaw0
