"""Counterfactual plans: the same first frame as a plan, with motion its caption does not describe.

They test a judge: a video rendered from a counterfactual and scored against the original plan's caption and
match sets must be judged wrong. Three kinds, each kept wrong under both the explicit and the ambiguous caption
(the ambiguous match sets are supersets of the explicit ones):

* ``other_cell``: the named object does the named slide / pick-place / contain motion, to a cell outside the
  sentence's cells (explicit cell and ambiguous quadrant) and away from any containable object;
* ``other_action``: the named object does another action (a slide becomes a pick-place and the other way round,
  to the same cell; a rotate becomes a slide; a contain becomes a pick-place elsewhere);
* ``other_object``: an object the sentence does not match does the action instead; the named one stays still.

Counterfactuals change only the first sentence's action (the other one, if any, stays). Pure and seeded, as
the planner is; None when no collision-free, in-view variant is found.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from . import actions as act
from .grid import all_cells, cell_center, cell_of, quadrant_of_cell
from .plan import ScenePlan, collisions, evaluate, in_view
from .scene import SIZES

KINDS = ("other_cell", "other_action", "other_object")


def _with_action(plan: ScenePlan, new: act.Action) -> ScenePlan | None:
    xy, yaw0 = plan.positions[0, :, :2], plan.yaws[0]
    acts = [new] + list(plan.actions[1:])
    if new.slot in {a.slot for a in acts[1:]} or any(a.kind == "contain" and a.contained == new.slot for a in acts[1:]):
        return None
    pos, yaw, vis = evaluate(plan.objects, xy, yaw0, acts, plan.frames)
    if collisions(plan.objects, pos, vis) or not in_view(plan.objects, pos):
        return None
    return replace(plan, positions=pos, yaws=yaw, visible=vis, actions=acts)


def _far_cells(plan: ScenePlan, a: act.Action) -> list[tuple[int, int]]:
    """Cells outside both match sets of the first sentence, and not the actor's own."""
    named = {tuple(c) for m in (plan.match_explicit[0], plan.match_ambiguous[0]) for c in m["cells"]}
    quads = {quadrant_of_cell(c) for c in named}
    here = cell_of(*plan.positions[0, a.slot, :2])
    return [c for c in all_cells() if c not in named and quadrant_of_cell(c) not in quads and c != here]


def counterfactual(plan: ScenePlan, kind: str, rng: np.random.Generator, tries: int = 60) -> ScenePlan | None:
    if kind not in KINDS:
        raise ValueError(f"unknown counterfactual {kind!r}; choose from {', '.join(KINDS)}")
    a = plan.actions[0]
    for _ in range(tries):
        new = None
        if kind == "other_cell" and a.kind in ("slide", "pick_place", "contain"):
            cells = _far_cells(plan, a)
            if not cells:
                return None
            c = cells[rng.integers(len(cells))]
            k = a.kind if a.kind != "contain" else "pick_place"
            new = act.Action(a.slot, k, 0, a.end, target_xy=cell_center(c), target_cell=c)
        elif kind == "other_action":
            if a.kind in ("slide", "pick_place"):
                new = replace(a, kind="pick_place" if a.kind == "slide" else "slide")
            elif a.kind == "rotate":
                here = cell_of(*plan.positions[0, a.slot, :2])
                cells = [c for c in all_cells() if c != here]
                c = cells[rng.integers(len(cells))]
                new = act.Action(a.slot, "slide", 0, a.end, target_xy=cell_center(c), target_cell=c)
            else:  # contain -> a pick-place away from every object it could cover
                cells = _far_cells(plan, a)
                if not cells:
                    return None
                c = cells[rng.integers(len(cells))]
                new = act.Action(a.slot, "pick_place", 0, a.end, target_xy=cell_center(c), target_cell=c)
        elif kind == "other_object":
            matched = set(plan.match_ambiguous[0]["subject"]) | set(plan.match_explicit[0]["subject"])
            busy = {b.slot for b in plan.actions} | {b.contained for b in plan.actions if b.contained is not None}
            free = [k for k in range(plan.num_objects) if k not in matched and k not in busy]
            if a.kind == "rotate":
                free = [k for k in free if plan.objects[k].shape in ("cube", "snitch")]
            if a.kind == "contain":  # another cone big enough to cover the same object
                small = SIZES[plan.objects[a.contained].size]
                free = [k for k in free if plan.objects[k].shape == "cone" and SIZES[plan.objects[k].size] > small]
            if not free:
                return None
            k = int(free[rng.integers(len(free))])
            if a.kind == "rotate":
                ang = float(rng.uniform(math.radians(60), math.radians(300)) * (1 if rng.random() < 0.5 else -1))
                ang = ang if abs(math.degrees(ang)) % 90 > 20 else ang + math.radians(45)
                new = act.Action(k, "rotate", 0, a.end, angle=ang)
            elif a.kind == "contain":
                new = act.Action(k, "contain", 0, a.end, target_xy=a.target_xy, contained=a.contained)
            else:
                new = act.Action(k, a.kind, 0, a.end, target_xy=a.target_xy, target_cell=a.target_cell)
        if new is None:
            return None
        out = _with_action(plan, new)
        if out is not None:
            return out
    return None


def sampled(plan: ScenePlan, frames: np.ndarray) -> ScenePlan:
    """The plan cut to the given raw frames (render only what a clip shows)."""
    idx = np.asarray(frames)
    return replace(plan, frames=len(idx), positions=plan.positions[idx], yaws=plan.yaws[idx],
                   visible=plan.visible[idx])
