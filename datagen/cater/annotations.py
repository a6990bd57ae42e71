"""The CATER-GEN annotation record of one video (what ``ShardWriter.add`` stores under /annotations).

K = 8 object slots (scene.MAX_OBJECTS); slot k is the plan's object k, slots >= num_objects are padding
(ints -1, floats NaN, strings "", bools False). A = 2 action slots, in caption order. F frames, H = W = the
resolution. Pixel coordinates: x right, y down, pixel (i, j) covers [i, i+1] x [j, j+1].

    num_objects            int8                     objects in the scene
    shape, size, color, material   str [K]          attributes ("" for padding)
    positions              float32 [F, K, 3]        base centre (x, y, z of the lowest point), table units
    rotations              float32 [F, K, 3]        Euler XYZ radians (only z, the yaw, is used)
    visible                bool    [F, K]           False while contained under a cone (and for padding)
    centers_2d             float32 [F, K, 2]        projected centre (silhouette centroid point, scene.py)
    boxes_2d               float32 [F, K, 4]        projected box x0, y0, x1, y1 of the whole (unoccluded) object
    masks                  uint8   [F, H, W]        instance segmentation: 0 background, k + 1 object k
    motion_field           float16 [F, H, W, 2]     per-pixel displacement (dx, dy) in pixels of the surface point
                                                    seen at frame t, from frame 0 to frame t; 0 on background
    num_actions            int8                     1 or 2
    action_slot            int8    [A]              acting object (-1 padding)
    action_kind            str     [A]              slide | pick_place | rotate | contain ("" padding)
    action_end             int16   [A]              raw frame at which the action has finished (all start at 0)
    target_cell            int8    [A, 2]           final cell labels (x, y) of slide / pick_place, 0 otherwise
    contained_slot         int8    [A]              object hidden by a contain action, -1 otherwise
    actions                str (JSON)               the full action list (actions.Action fields)
    match_objects_explicit / _ambiguous   bool [A, K]     objects the sentence's referring expression matches
    match_targets_explicit / _ambiguous   bool [A, K]     contain: objects the contained-object phrase matches
    match_cells_explicit / _ambiguous     bool [A, 6, 6]  cells the target phrase matches, indexed
                                                          [grid.cell_index(x), grid.cell_index(y)]
    match_explicit / match_ambiguous      str (JSON)      the same per sentence as lists (captions.py)
    plan_json              str (JSON)               the whole plan (ScenePlan.to_dict)
"""

from __future__ import annotations

import json

import numpy as np

from .camera import Camera
from .geometry import world_vertices
from .grid import cell_index
from .plan import ScenePlan
from .scene import MAX_OBJECTS

MAX_ACTIONS = 2


def projected(plan: ScenePlan, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(centres [F, N, 2], boxes [F, N, 4]) in pixels of a ``size`` image."""
    cam = Camera(size)
    centers = cam.project(plan.centers_3d())
    boxes = np.zeros((plan.frames, plan.num_objects, 4))
    for f in range(plan.frames):
        for k, o in enumerate(plan.objects):
            uv = cam.project(world_vertices(o.shape, o.half, plan.positions[f, k], float(plan.yaws[f, k])))
            boxes[f, k] = (uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max())
    return centers, boxes


def _match_arrays(matches: list[dict]):
    objs = np.zeros((MAX_ACTIONS, MAX_OBJECTS), bool)
    targets = np.zeros((MAX_ACTIONS, MAX_OBJECTS), bool)
    cells = np.zeros((MAX_ACTIONS, 6, 6), bool)
    for a, m in enumerate(matches):
        objs[a, m["subject"]] = True
        targets[a, m["target_objects"]] = True
        for x, y in m["cells"]:
            cells[a, cell_index(x), cell_index(y)] = True
    return objs, targets, cells


def build(plan: ScenePlan, masks: np.ndarray, motion: np.ndarray) -> dict:
    K, A, F = MAX_OBJECTS, MAX_ACTIONS, plan.frames
    n = plan.num_objects
    size = masks.shape[-1]
    centers, boxes = projected(plan, size)

    def pad(arr: np.ndarray) -> np.ndarray:  # [F, n, ...] -> float32 [F, K, ...], NaN padding
        out = np.full((arr.shape[0], K) + arr.shape[2:], np.nan, np.float32)
        out[:, :n] = arr
        return out

    rot = np.zeros((F, n, 3))
    rot[..., 2] = plan.yaws
    vis = np.zeros((F, K), bool)
    vis[:, :n] = plan.visible
    out = {
        "num_objects": np.int8(n),
        "shape": [o.shape for o in plan.objects] + [""] * (K - n),
        "size": [o.size for o in plan.objects] + [""] * (K - n),
        "color": [o.color for o in plan.objects] + [""] * (K - n),
        "material": [o.material for o in plan.objects] + [""] * (K - n),
        "positions": pad(plan.positions),
        "rotations": pad(rot),
        "visible": vis,
        "centers_2d": pad(centers),
        "boxes_2d": pad(boxes),
        "masks": masks.astype(np.uint8),
        "motion_field": motion.astype(np.float16),
        "num_actions": np.int8(len(plan.actions)),
    }
    slot = np.full(A, -1, np.int8)
    end = np.full(A, -1, np.int16)
    cell = np.zeros((A, 2), np.int8)
    contained = np.full(A, -1, np.int8)
    kinds = [""] * A
    for i, a in enumerate(plan.actions):
        slot[i], end[i], kinds[i] = a.slot, a.end, a.kind
        if a.target_cell is not None:
            cell[i] = a.target_cell
        if a.contained is not None:
            contained[i] = a.contained
    out.update(action_slot=slot, action_kind=kinds, action_end=end, target_cell=cell, contained_slot=contained)
    out["actions"] = json.dumps([a.to_dict() for a in plan.actions], sort_keys=True)
    for mode, matches in (("explicit", plan.match_explicit), ("ambiguous", plan.match_ambiguous)):
        o, t, c = _match_arrays(matches)
        out[f"match_objects_{mode}"] = o
        out[f"match_targets_{mode}"] = t
        out[f"match_cells_{mode}"] = c
        out[f"match_{mode}"] = json.dumps(matches, sort_keys=True)
    out["plan_json"] = plan.to_json()
    return out
