"""From image points to table cells: the fixed CATER camera (``ti2v.datagen.cater.camera``) turned backwards.

An object's projected centre u lies on the camera ray through it; the ray meets the plane z = h at one table
point. h is the height of the object's centre point above its base, a property of (shape, size) that the
generator defines (:func:`centre_height`). A lifted object's point is wrong mid-air, which is why only table
positions (first and last frames, objects at rest) are judged.
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


def cell_of(xy) -> tuple[int, int]:
    from ti2v.datagen.cater.grid import cell_of as co

    return co(float(xy[0]), float(xy[1]))


def centre_height(shape: str, size: str) -> float:
    """Height above its base of the 3D point whose projection is the object's annotated 2D centre (the
    generator's own definition, ``ObjectSpec.center_height``)."""
    from ti2v.datagen.cater.scene import ObjectSpec

    return ObjectSpec(shape, size, "gray", "rubber").center_height
