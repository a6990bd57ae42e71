"""From image points to table cells: the fixed CATER camera (``ti2v.datagen.cater.camera``) turned backwards.

An object's projected centre u lies on the camera ray through it; the ray meets the plane z = h at one table
point. h is the height of the object's centre point above its base, a property of (shape, size) that the
generator defines (:func:`centre_height`). A lifted object's point is wrong mid-air, which is why only table
positions (first and last frames, objects at rest) are judged for cells; and why it is wrong is itself evidence:
:func:`height_over_path` reads how high above the table the located centre was from how far its table point
strays from the object's straight path.
"""

from __future__ import annotations

import numpy as np

def camera(size: int):
    from ti2v.datagen.cater.camera import Camera

    return Camera(size)


def backproject(cam, uv: np.ndarray, h: np.ndarray | float) -> np.ndarray:
    """Pixel points [..., 2] -> table points [..., 2] on the plane z = h."""
    uv = np.asarray(uv, np.float64)
    d_cam = np.stack([(uv[..., 0] - cam.size / 2) / cam.focal_px, -(uv[..., 1] - cam.size / 2) / cam.focal_px,
                      -np.ones(uv.shape[:-1])], -1)
    d = d_cam @ cam.rotation.T
    t = (np.asarray(h, np.float64) - cam.position[2]) / d[..., 2]
    return cam.position[:2] + t[..., None] * d[..., :2]


def height_over_path(cam_position, q: np.ndarray, h: float, start, end, miss: float = 0.25,
                     samples: int = 121) -> np.ndarray:
    """The least height above the plane z = h at which the camera ray through each table point can have passed
    over the straight path from ``start`` to ``end``.

    Every CATER move is straight over the table: a slide along the table, a pick-place (and a contain) up by 2
    units, across at that height, down again (``ti2v.datagen.cater.actions``). ``q`` [T, 2] are the object's
    table points found by back-projecting its located centre onto z = h (:func:`backproject`). A sliding object's
    ray meets z = h on its path: height 0. A lifted object's ray meets that plane beyond it, seen from the camera;
    followed from the camera towards q it passes over a path point at height ``(C_z - h) (1 - lambda)``, lambda
    the fraction of the horizontal way from the camera to q where it does. Path points the ray's line passes
    within ``miss`` table units of (sideways, the direction an image measures well) all explain it; the least
    height among them is returned (so a path along the line of sight, where a far point and a lifted near one
    look alike, reads as low as it can), or the nearest point's when none is that close. NaN rows stay NaN.
    """
    c = np.asarray(cam_position, np.float64)
    q = np.asarray(q, np.float64)
    a, b = np.asarray(start, np.float64), np.asarray(end, np.float64)
    path = a[None] + np.linspace(0.0, 1.0, samples)[:, None] * (b - a)[None]  # [S, 2]
    r = q - c[None, :2]  # [T, 2] horizontal way from the camera to q
    rr = np.maximum((r * r).sum(-1), 1e-12)
    normal = np.stack([-r[:, 1], r[:, 0]], -1) / np.sqrt(rr)[:, None]
    rel = path[None] - c[None, None, :2]  # [1, S, 2]
    off = np.abs((rel * normal[:, None]).sum(-1))  # [T, S] sideways miss of each path point
    height = (c[2] - h) * (1.0 - (rel * r[:, None]).sum(-1) / rr[:, None])  # [T, S]
    near = off <= np.maximum(miss, np.nan_to_num(off, nan=np.inf).min(1, keepdims=True))
    out = np.where(near, np.abs(height), np.inf).argmin(1)
    out = height[np.arange(len(q)), out]
    out[np.isnan(q).any(-1)] = np.nan
    return out


def cell_of(xy) -> tuple[int, int]:
    from ti2v.datagen.cater.grid import cell_of as co

    return co(float(xy[0]), float(xy[1]))


def centre_height(shape: str, size: str) -> float:
    """Height above its base of the 3D point whose projection is the object's annotated 2D centre (the
    generator's own definition, ``ObjectSpec.center_height``)."""
    from ti2v.datagen.cater.scene import ObjectSpec

    return ObjectSpec(shape, size, "gray", "rubber").center_height
