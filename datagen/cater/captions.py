"""Captions from ``templates/captions/cater.yaml`` and, for every sentence, what makes a video correct.

Both captions are always made. For each sentence (one per action, in action order) the match record holds
``subject``: the object slots the referring expression matches (always including the actor), ``cells``: the
cells the target phrase matches (one for explicit, the quadrant's nine for ambiguous, none for rotate/contain),
``target_objects``: for contain, the slots the contained object's expression matches.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import yaml

from .actions import Action
from .grid import quadrant_cells, quadrant_of_cell
from .scene import ObjectSpec

ATTRIBUTE_ORDER = ("size", "color", "material")


@functools.lru_cache(maxsize=1)
def templates() -> dict:
    text = (resources.files("ti2v.templates") / "captions" / "cater.yaml").read_text()
    return yaml.safe_load(text)


def phrase(obj: ObjectSpec, version: str, keep: tuple[str, ...] = ATTRIBUTE_ORDER) -> str:
    t = templates()["object"]
    if version == "v1":
        return t["v1"].format(shape=obj.shape)
    attrs = " ".join(getattr(obj, a) for a in ATTRIBUTE_ORDER if a in keep)
    return " ".join(t["v2"].format(attributes=attrs, shape=obj.shape).split())


def matching(objects: list[ObjectSpec], obj: ObjectSpec, version: str, keep: tuple[str, ...]) -> list[int]:
    """Slots of every object the expression for ``obj`` (keeping ``keep``) describes."""
    if version == "v1":
        keep = ()
    return [i for i, o in enumerate(objects) if o.shape == obj.shape and all(getattr(o, a) == getattr(obj, a) for a in keep)]


def _sample_keep(rng: np.random.Generator, version: str) -> tuple[str, ...]:
    if version == "v1":
        return ()
    p = float(templates().get("ambiguous_keep_probability", 0.5))
    return tuple(a for a in ATTRIBUTE_ORDER if rng.random() < p)


def make_captions(rng: np.random.Generator, version: str, objects: list[ObjectSpec], actions: list[Action]):
    """(explicit caption, ambiguous caption, explicit matches, ambiguous matches)."""
    t = templates()
    out = {}
    for mode in ("explicit", "ambiguous"):
        sentences, matches = [], []
        for a in actions:
            obj = objects[a.slot]
            keep = ATTRIBUTE_ORDER if mode == "explicit" else _sample_keep(rng, version)
            fields = {"subject": phrase(obj, version, keep)}
            m = {"slot": a.slot, "kind": a.kind, "subject": matching(objects, obj, version, keep), "cells": [], "target_objects": []}
            if a.kind in ("slide", "pick_place"):
                fields.update(x=a.target_cell[0], y=a.target_cell[1], quadrant=quadrant_of_cell(a.target_cell))
                m["cells"] = [list(a.target_cell)] if mode == "explicit" else [list(c) for c in quadrant_cells(quadrant_of_cell(a.target_cell))]
            elif a.kind == "contain":
                tobj = objects[a.contained]
                tkeep = ATTRIBUTE_ORDER if mode == "explicit" else _sample_keep(rng, version)
                fields["target"] = phrase(tobj, version, tkeep)
                m["target_objects"] = matching(objects, tobj, version, tkeep)
            sentences.append(t[mode][a.kind].format(**fields))
            matches.append(m)
        out[mode] = (" ".join(sentences), matches)
    return out["explicit"][0], out["ambiguous"][0], out["explicit"][1], out["ambiguous"][1]
