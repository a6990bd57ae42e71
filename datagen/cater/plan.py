"""The pure, seeded CATER-GEN planner: objects, placements, 1-2 actions, every frame's state, captions.

No bpy here: a plan is fully decided (and checked: no two objects intersect at any frame, everything stays in
view) before anything is rendered, and the renderer only replays ``positions`` / ``yaws`` / ``visible``.
Intersection test per frame: each object is its footprint's bounding circle extruded over [z, z + height];
two visible objects collide when their circles are closer than r1 + r2 + MOTION_MARGIN and their vertical
intervals overlap (a lifted object at z = 2 passes over everything, the tallest object being 1.5).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from . import actions as act
from .camera import Camera
from .captions import make_captions
from .grid import GRID_HALF, all_cells, cell_center, cell_of
from .scene import SIZES, ObjectSpec, sample_objects

PLACE_MARGIN = 0.25  # centres at least r1 + r2 + 0.25 apart at placement (docs/DATASETS.md, CATER-GEN)
MOTION_MARGIN = 0.05  # clearance kept at every frame of motion
VIEW_MARGIN = 0.02  # fraction of the image kept free at the border
_VIEW_CAMERA = Camera(1000)


@dataclass
class ScenePlan:
    version: str
    frames: int
    objects: list[ObjectSpec]
    positions: np.ndarray  # float [F, N, 3]: base centre (x, y, z of the lowest point)
    yaws: np.ndarray  # float [F, N]: rotation about the vertical axis, radians
    visible: np.ndarray  # bool [F, N]: False while contained under a cone
    actions: list[act.Action]
    caption_explicit: str = ""
    caption_ambiguous: str = ""
    match_explicit: list = field(default_factory=list)
    match_ambiguous: list = field(default_factory=list)

    @property
    def num_objects(self) -> int:
        return len(self.objects)

    def centers_3d(self) -> np.ndarray:
        """[F, N, 3] points whose projections are the objects' 2D centres."""
        c = self.positions.copy()
        c[..., 2] += np.array([o.center_height for o in self.objects])
        return c

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "frames": self.frames,
            "objects": [o.attrs() for o in self.objects],
            "positions": np.round(self.positions, 6).tolist(),
            "yaws": np.round(self.yaws, 6).tolist(),
            "visible": self.visible.tolist(),
            "actions": [a.to_dict() for a in self.actions],
            "caption_explicit": self.caption_explicit,
            "caption_ambiguous": self.caption_ambiguous,
            "match_explicit": self.match_explicit,
            "match_ambiguous": self.match_ambiguous,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "ScenePlan":
        """The plan back from :meth:`to_dict` (e.g. a shard's ``plan_json``; poses rounded to 1e-6)."""
        acts = [act.Action(**dict(a, target_xy=tuple(a["target_xy"]) if a["target_xy"] is not None else None,
                                  target_cell=tuple(a["target_cell"]) if a["target_cell"] is not None else None))
                for a in d["actions"]]
        return cls(d["version"], int(d["frames"]), [ObjectSpec(**o) for o in d["objects"]],
                   np.asarray(d["positions"], float).reshape(int(d["frames"]), -1, 3),
                   np.asarray(d["yaws"], float).reshape(int(d["frames"]), -1),
                   np.asarray(d["visible"], bool).reshape(int(d["frames"]), -1), acts,
                   d["caption_explicit"], d["caption_ambiguous"], d["match_explicit"], d["match_ambiguous"])


def evaluate(objects: list[ObjectSpec], start_xy: np.ndarray, start_yaw: np.ndarray, actions: list[act.Action], frames: int):
    """Per-frame state of every object under ``actions`` (the same numbers the renderer will set)."""
    n = len(objects)
    pos = np.zeros((frames, n, 3))
    pos[:, :, :2] = start_xy[None]
    yaw = np.tile(start_yaw[None], (frames, 1))
    vis = np.ones((frames, n), bool)
    for a in actions:
        s0 = (start_xy[a.slot, 0], start_xy[a.slot, 1], 0.0, start_yaw[a.slot])
        for f in range(frames):
            x, y, z, w = act.pose_at(a, s0, f)
            pos[f, a.slot] = (x, y, z)
            yaw[f, a.slot] = w
    for a in actions:
        if a.kind == "contain":
            top = objects[a.contained].height
            for f in range(frames):
                if pos[f, a.slot, 2] < top and act.progress(a, f) > act.MOVE_END:
                    vis[f, a.contained] = False
                    pos[f, a.contained, :2] = pos[f, a.slot, :2]  # travels with the cone
    return pos, yaw, vis


def collisions(objects: list[ObjectSpec], pos: np.ndarray, vis: np.ndarray, margin: float = MOTION_MARGIN) -> list[tuple[int, int, int]]:
    """(frame, i, j) for every pair of visible objects that intersect."""
    r = np.array([o.radius for o in objects])
    h = np.array([o.height for o in objects])
    d = np.linalg.norm(pos[:, :, None, :2] - pos[:, None, :, :2], axis=-1)  # [F, N, N]
    close = d < (r[:, None] + r[None, :] + margin)[None]
    z0 = pos[:, :, 2]
    z1 = z0 + h[None]
    overlap = (z0[:, :, None] < z1[:, None, :]) & (z0[:, None, :] < z1[:, :, None])
    both = vis[:, :, None] & vis[:, None, :]
    pairs = np.triu(np.ones(close.shape[1:], bool), 1)  # each unordered pair once
    f, i, j = np.nonzero(close & overlap & both & pairs[None])
    return list(zip(f.tolist(), i.tolist(), j.tolist()))


def in_view(objects: list[ObjectSpec], pos: np.ndarray) -> bool:
    """Every object's bounding cylinder (as a box) projects inside the image at every frame."""
    r = np.array([o.radius for o in objects])
    h = np.array([o.height for o in objects])
    corners = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            for top in (0, 1):
                c = pos.copy()
                c[..., 0] += sx * r
                c[..., 1] += sy * r
                c[..., 2] += top * h
                corners.append(c)
    uv = _VIEW_CAMERA.project(np.stack(corners)) / _VIEW_CAMERA.size
    return bool(np.all(uv > VIEW_MARGIN) and np.all(uv < 1 - VIEW_MARGIN))


def _place(rng: np.random.Generator, objects: list[ObjectSpec], tries: int = 200) -> np.ndarray | None:
    xy = np.zeros((len(objects), 2))
    for k, o in enumerate(objects):
        lim = GRID_HALF - o.radius
        for _ in range(tries):
            p = rng.uniform(-lim, lim, 2)
            if all(np.linalg.norm(p - xy[j]) >= o.radius + objects[j].radius + PLACE_MARGIN for j in range(k)):
                xy[k] = p
                break
        else:
            return None
    return xy


def _affordances(o: ObjectSpec) -> list[str]:
    kinds = ["slide", "pick_place"]
    if o.shape in ("cube", "cylinder", "snitch"):
        kinds.append("rotate")
    if o.shape == "cone":
        kinds.append("contain")
    return kinds


def _sample_action(rng, objects, xy, taken: set[int], contained: set[int], frames: int) -> act.Action | None:
    free = [k for k in range(len(objects)) if k not in taken and k not in contained]
    if not free:
        return None
    slot = int(free[rng.integers(len(free))])
    o = objects[slot]
    kind = _affordances(o)[rng.integers(len(_affordances(o)))]
    lo, hi = act.duration_range(frames)
    end = int(rng.integers(lo, hi + 1))
    if kind in ("slide", "pick_place"):
        here = cell_of(*xy[slot])
        cells = [c for c in all_cells() if c != here]
        cell = cells[rng.integers(len(cells))]
        return act.Action(slot, kind, 0, end, target_xy=cell_center(cell), target_cell=cell)
    if kind == "rotate":
        angle = float(rng.uniform(math.radians(60), math.radians(300)) * (1 if rng.random() < 0.5 else -1))
        return act.Action(slot, kind, 0, end, angle=angle)
    smaller = [k for k in free if k != slot and SIZES[objects[k].size] < SIZES[o.size]]
    if not smaller:
        return None
    target = int(smaller[rng.integers(len(smaller))])
    return act.Action(slot, "contain", 0, end, target_xy=(float(xy[target, 0]), float(xy[target, 1])), contained=target)


def plan_video(rng: np.random.Generator, version: str = "v2", n_min: int = 3, n_max: int = 8, frames: int = 32) -> ScenePlan:
    """Sample one video's plan. Deterministic in the state of ``rng``."""
    if version not in ("v1", "v2"):
        raise ValueError(f"unknown CATER-GEN version {version!r}; use v1 or v2")
    if frames < 2:
        raise ValueError("a CATER-GEN video needs at least 2 frames")
    for _ in range(1000):
        objects = sample_objects(rng, version, n_min, n_max)
        xy = _place(rng, objects)
        if xy is None:
            continue
        yaw0 = rng.uniform(0, 2 * math.pi, len(objects))
        n_actions = int(rng.integers(1, 3))
        actions: list[act.Action] = []
        for _ in range(30):
            if len(actions) == n_actions:
                break
            taken = {a.slot for a in actions}
            contained = {a.contained for a in actions if a.kind == "contain"}
            a = _sample_action(rng, objects, xy, taken, contained, frames)
            if a is None or (a.kind == "contain" and a.contained in taken):
                continue
            pos, yaw, vis = evaluate(objects, xy, yaw0, actions + [a], frames)
            if not collisions(objects, pos, vis) and in_view(objects, pos):
                actions.append(a)
        if len(actions) != n_actions:
            continue
        pos, yaw, vis = evaluate(objects, xy, yaw0, actions, frames)
        if collisions(objects, pos, vis) or not in_view(objects, pos):
            continue
        plan = ScenePlan(version, frames, objects, pos, yaw, vis, actions)
        ex, am, mex, mam = make_captions(rng, version, objects, actions)
        plan.caption_explicit, plan.caption_ambiguous, plan.match_explicit, plan.match_ambiguous = ex, am, mex, mam
        return plan
    raise RuntimeError(f"could not plan a {version} scene with {n_min}-{n_max} objects in 1000 attempts")


def video_rng(shard_seed: int, video_index: int) -> np.random.Generator:
    """The per-video generator: depends only on the shard's seed and the video's index in the split."""
    return np.random.default_rng(np.random.SeedSequence([int(shard_seed), int(video_index)]))
