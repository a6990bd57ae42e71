"""Object attributes and their geometry numbers (docs/DATASETS.md, CATER-GEN: Objects), and seeded sampling of a scene's objects.

Every size-dependent number (footprint radius for collision checks, height, the height whose projection is the
object's 2D centre) lives here so the planner, the ray caster and Blender agree on one object model:
an object of half extent s stands on the table with its lowest point at z = 0;
cube: [-s, s]^2 x [0, 2s]; sphere: radius s; cylinder: radius s, height 2s; cone: base radius s, height 2s;
snitch: three upright tori (major radius 0.8 s, minor 0.2 s) at 0, 60 and 120 degrees about the vertical.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

SHAPES = ("cube", "sphere", "cylinder", "cone", "snitch")
SIZES = {"small": 0.25, "medium": 0.5, "large": 0.75}
SIZE_ORDER = ("small", "medium", "large")
MATERIALS = ("metal", "rubber")
COLORS = {
    "gray": (87, 87, 87),
    "red": (173, 35, 35),
    "blue": (42, 75, 215),
    "green": (29, 105, 20),
    "brown": (129, 74, 25),
    "purple": (129, 38, 192),
    "cyan": (41, 208, 208),
    "yellow": (255, 238, 51),
    "gold": (255, 215, 0),
}
PLAIN_COLORS = tuple(c for c in COLORS if c != "gold")
MAX_OBJECTS = 8
SNITCH_MAJOR = 0.8  # torus major radius / s
SNITCH_MINOR = 0.2  # torus minor radius / s
SNITCH_ANGLES = (0.0, 60.0, 120.0)  # degrees about z of the three torus planes


@dataclass(frozen=True)
class ObjectSpec:
    shape: str
    size: str
    color: str
    material: str

    @property
    def half(self) -> float:
        return SIZES[self.size]

    @property
    def height(self) -> float:
        return 2.0 * self.half

    @property
    def radius(self) -> float:
        """Radius of the footprint's bounding circle about the vertical axis (any yaw)."""
        return self.half * (math.sqrt(2.0) if self.shape == "cube" else 1.0)

    @property
    def center_height(self) -> float:
        """Height above the object's base whose projection is its 2D centre (silhouette centroid)."""
        return self.half * (0.46 if self.shape == "cone" else 1.0)  # cone: fitted to rendered silhouettes

    def attrs(self) -> dict:
        return asdict(self)


def sample_object(rng: np.random.Generator) -> ObjectSpec:
    shape = SHAPES[rng.integers(len(SHAPES))]
    if shape == "snitch":
        return ObjectSpec("snitch", "small", "gold", "metal")
    return ObjectSpec(
        shape,
        SIZE_ORDER[rng.integers(3)],
        PLAIN_COLORS[rng.integers(len(PLAIN_COLORS))],
        MATERIALS[rng.integers(2)],
    )


def sample_objects(rng: np.random.Generator, version: str, n_min: int, n_max: int) -> list[ObjectSpec]:
    """v1: a gold metal cone (medium or large) and the snitch. v2: n in [n_min, n_max] objects, at most one
    snitch, no two objects with the same four attributes (so an explicit caption names exactly one object)."""
    if version == "v1":
        return [ObjectSpec("cone", SIZE_ORDER[1 + rng.integers(2)], "gold", "metal"), ObjectSpec("snitch", "small", "gold", "metal")]
    n = int(rng.integers(n_min, n_max + 1))
    objs: list[ObjectSpec] = []
    while len(objs) < n:
        o = sample_object(rng)
        if o in objs:
            continue
        objs.append(o)
    return objs
