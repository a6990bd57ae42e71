"""The Moving MNIST family planner (docs/DATASETS.md, Moving MNIST family): pure and seeded, it decides everything before drawing.

A plan holds the digit labels and glyph indices, every digit's top-left track for every raw frame, the
motion phrases and the caption; ``draw.draw_videos`` only composites glyphs along those tracks, and the shard's
annotations are copied from the same plan.

Dynamics on the free span [0, 36] px of each axis (64 - 28):
- single / double: step 0.2 x 36 = 7.2 px per frame on one axis, reflecting off every wall; the phrase names
  the first direction and the one after the first bounce ("up then down"). The start is drawn so that the
  digit really moves in its first direction and bounces before the last frame.
- modified: step 0.1 x 36 = 3.6 px; "right" moves to the wall and stops there, "right then left" bounces once
  and stops at the opposite wall; afterwards the position is held. The start is drawn so that the whole pattern
  ends inside the clip. A static distractor (probability p) with a third label is redrawn while its box
  overlaps either moving digit's first-frame box with IoU > 0.7.

Split rule: a digit-by-axis combination never appears in both splits. Single: digit d moves horizontally in
train iff d is even (vertically in test). Double / modified: for the ordered pair (a, b) with axes (x, y),
0 = horizontal and 1 = vertical, the combination is in train iff (a + b + x + y) is even: two of the four axis
combinations of each of the 90 pairs in each split. The rule is fixed, independent of the run seed, so splits
made with different seeds stay disjoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ...templates import load as load_template

CANVAS = 64
GLYPH = 28
SPAN = CANVAS - GLYPH  # 36
SLOTS = 3  # moving digits in caption order, then the distractor
EMPTY = -1  # labels, tracks and stop_frame of an unused slot (docs/FORMAT.md); nothing is drawn there
VARIANTS = ("single", "double", "modified")
DATASET_NAMES = {"single": "mnist-single", "double": "mnist-double", "modified": "mnist-modified"}
BOUNCE_STEP = 0.2 * SPAN
STOP_STEP = 0.1 * SPAN
HORIZONTAL, VERTICAL = 0, 1
# direction -> (axis, sign); y grows downwards in image coordinates
DIRECTIONS = {"left": (HORIZONTAL, -1), "right": (HORIZONTAL, 1), "up": (VERTICAL, -1), "down": (VERTICAL, 1)}
OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}
AXIS_DIRECTIONS = {HORIZONTAL: ("left", "right"), VERTICAL: ("up", "down")}


@dataclass(frozen=True)
class DigitMotion:
    direction: str  # first direction of motion
    bounce: bool  # bounces (single/double: off every wall; modified: once)
    phrase: str


@dataclass
class MnistPlan:
    variant: str
    labels: np.ndarray  # int8 [SLOTS], -1 for an empty slot
    glyph_index: np.ndarray  # int64 [SLOTS], index into the split's DigitSet, -1 for empty
    moving: np.ndarray  # bool [SLOTS], False for empty slots
    tracks: np.ndarray  # int16 [SLOTS, F, 2] top-left (x, y), -1 for empty slots (EMPTY)
    phrases: list[str]  # [SLOTS], "" for static / empty slots
    bounce: np.ndarray  # bool [SLOTS], False for empty slots
    stop_frame: np.ndarray  # int16 [SLOTS]: first raw frame from which the digit no longer moves (F if never; -1 empty)
    caption: str

    def annotations(self) -> dict:
        return {
            "labels": self.labels,
            "moving": self.moving,
            "tracks": self.tracks,
            "phrases": self.phrases,
            "bounce": self.bounce,
            "stop_frame": self.stop_frame,
        }


@lru_cache(maxsize=None)
def phrase_for(direction: str, bounce: bool) -> str:
    templates = load_template("captions/mnist.yaml")
    return templates["bouncing_phrases" if bounce else "stop_phrases"][direction]


def train_axis_single(label: int) -> int:
    return HORIZONTAL if label % 2 == 0 else VERTICAL


def in_train_pair(a: int, b: int, axis_a: int, axis_b: int) -> bool:
    return (a + b + axis_a + axis_b) % 2 == 0


@lru_cache(maxsize=None)
def allowed_axes(variant: str, split: str, labels: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Axis combinations the split rule allows for these moving labels."""
    want_train = split == "train"
    if variant == "single":
        axis = train_axis_single(labels[0])
        return [(axis if want_train else 1 - axis,)]
    a, b = labels
    return [(x, y) for x in (0, 1) for y in (0, 1) if in_train_pair(a, b, x, y) == want_train]


def bouncing_track(start: float, sign: int, frames: int, step: float) -> list[float]:
    """Positions on one axis reflecting off 0 and SPAN."""
    pos = []
    p, v = start, sign * step
    for _ in range(frames):
        pos.append(p)
        p += v
        if p < 0:
            p, v = -p, -v
        elif p > SPAN:
            p, v = 2 * SPAN - p, -v
    return pos


def stopping_track(start: float, sign: int, bounce: bool, frames: int, step: float) -> tuple[list[float], int]:
    """Move to the wall (and back to the opposite one when bouncing), then hold. Returns positions, stop frame."""
    pos = []
    p, v = start, sign * step
    legs = 2 if bounce else 1
    stop = frames
    for t in range(frames):
        pos.append(p)
        if legs == 0:
            stop = min(stop, t)
            continue
        p += v
        wall = SPAN if v > 0 else 0.0
        if (v > 0 and p >= wall) or (v < 0 and p <= wall):
            p, v, legs = wall, -v, legs - 1
    return pos, stop


def settled_from(track: list[list[int]]) -> int:
    """First frame from which a pixel track stays at its final position (0 when it never moves)."""
    k = len(track)
    while k > 0 and track[k - 1] == track[-1]:
        k -= 1
    return k


def _start_for(direction: str, bounce: bool, variant: str, frames: int, u: float) -> float:
    """A start coordinate (from a uniform draw u) from which the stated pattern is fully visible in the clip."""
    _, sign = DIRECTIONS[direction]
    if variant == "modified":
        step = STOP_STEP
        # distance to the first wall: at least one step; a bounce adds a full span and must end by frame F-1
        max_steps = math.ceil(SPAN / step)
        limit = frames - 1 - (max_steps if bounce else 0)
        high = min(SPAN, limit * step)
    else:
        step = BOUNCE_STEP
        # move at least one step before the first wall, and reach it before the last frame
        high = min(SPAN, (frames - 2) * step)
    d = step + u * (high - step)
    return SPAN - d if sign > 0 else d


def min_frames(variant: str) -> int:
    return 12 if variant == "modified" else 8


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two GLYPH x GLYPH boxes given by top-left corners."""
    ix = max(0.0, GLYPH - abs(float(a[0]) - float(b[0])))
    iy = max(0.0, GLYPH - abs(float(a[1]) - float(b[1])))
    inter = ix * iy
    return inter / (2 * GLYPH * GLYPH - inter)


def plan_video(
    variant: str,
    split: str,
    frames: int,
    rng: np.random.Generator,
    pools: list[np.ndarray],
    distractor_prob: float = 1.0,
) -> MnistPlan:
    """One video. ``pools[d]`` are the glyph indices of label d in the split's digit set."""
    n_moving = 1 if variant == "single" else 2
    # One batch of uniforms per video (numpy's per-call overhead dominates otherwise); fixed positions in it.
    u_arr = rng.random(24)
    u = u_arr.tolist()  # Python floats: the same float64 values, without numpy scalar overhead
    labels = sorted(range(10), key=u.__getitem__)[:3]  # three distinct labels (a stable argsort of u[:10])
    moving_labels = tuple(labels[:n_moving])
    axes_options = allowed_axes(variant, split, moving_labels)
    axes = axes_options[int(u[10] * len(axes_options))]

    xy = np.zeros((SLOTS, frames, 2))
    out_labels = [-1] * SLOTS
    glyphs = [-1] * SLOTS
    bounce = [False] * SLOTS
    stop_frame = [frames] * SLOTS
    phrases = [""] * SLOTS
    parts = []
    for slot, (label, axis) in enumerate(zip(moving_labels, axes)):
        u_dir, u_bounce, u_start, u_other, u_glyph = u[11 + 5 * slot : 16 + 5 * slot]
        direction = AXIS_DIRECTIONS[axis][int(u_dir * 2)]
        bounces = True if variant != "modified" else u_bounce < 0.5
        start = _start_for(direction, bounces, variant, frames, u_start)
        _, sign = DIRECTIONS[direction]
        if variant == "modified":
            xy[slot, :, axis], stop_frame[slot] = stopping_track(start, sign, bounces, frames, STOP_STEP)
        else:
            xy[slot, :, axis] = bouncing_track(start, sign, frames, BOUNCE_STEP)
        xy[slot, :, 1 - axis] = u_other * SPAN
        out_labels[slot] = label
        glyphs[slot] = int(pools[label][int(u_glyph * len(pools[label]))])
        bounce[slot] = bounces
        phrases[slot] = phrase_for(direction, bounces)
        parts.append((label, phrases[slot]))
    tracks = np.rint(xy).astype(np.int16)
    moving = np.zeros(SLOTS, dtype=bool)
    moving[:n_moving] = True
    for slot in range(n_moving):
        if stop_frame[slot] < frames:  # the stop as the pixels show it: first frame of the final resting position
            stop_frame[slot] = settled_from(tracks[slot].tolist())
    out_labels = np.array(out_labels, dtype=np.int8)
    glyphs = np.array(glyphs, dtype=np.int64)
    bounce = np.array(bounce, dtype=bool)
    stop_frame = np.array(stop_frame, dtype=np.int16)

    if variant == "modified" and u[21] < distractor_prob:
        label = labels[2]
        while True:
            pos = np.rint(rng.uniform(0, SPAN, size=2)).astype(np.int16)
            if all(iou(pos, tracks[s, 0]) <= 0.7 for s in range(n_moving)):
                break
        tracks[2] = pos
        out_labels[2] = label
        glyphs[2] = pools[label][int(u[22] * len(pools[label]))]
        stop_frame[2] = 0

    empty = out_labels < 0  # single: slots 1-2; double: slot 2; modified without its distractor: slot 2
    tracks[empty] = EMPTY
    stop_frame[empty] = EMPTY

    templates = load_template("captions/mnist.yaml")
    if variant == "single":
        caption = templates["single"].format(d=parts[0][0], m=parts[0][1])
    else:
        caption = templates["double"].format(d1=parts[0][0], m1=parts[0][1], d2=parts[1][0], m2=parts[1][1])
    return MnistPlan(variant, out_labels, glyphs, moving, tracks, phrases, bounce, stop_frame, caption)
