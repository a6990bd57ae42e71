"""Instance segmentation and motion field of a planned frame, by casting one ray per pixel centre.

Why not Cycles' object-index and vector passes: the index pass keeps one jittered sample per pixel, the vector
pass gives motion to the neighbouring frame only, and reading them needs a multilayer EXR round trip. Casting
rays through pixel centres against the exact solids (geometry.intersect) with the same camera and the plan's
poses gives per-pixel object ids and the surface point each pixel sees; the motion field is that point's
projection at frame t minus its projection at frame 0 (the object's rigid motion), 0 on the background.
Tests check the masks against Cycles' RGB.
"""

from __future__ import annotations

import numpy as np

from .camera import Camera
from .geometry import intersect, rotation_z, world_vertices


class RayCaster:
    def __init__(self, size: int):
        self.camera = Camera(size)
        self.size = size
        self.rays = self.camera.pixel_rays().reshape(-1, 3)
        c = np.arange(size) + 0.5
        u, v = np.meshgrid(c, c)
        self.pixels = np.stack([u, v], -1).reshape(-1, 2)

    def bbox(self, shape: str, half: float, base: np.ndarray, yaw: float) -> np.ndarray:
        """Projected box [x0, y0, x1, y1] (pixels) of the object's mesh (unclipped, unoccluded)."""
        uv = self.camera.project(world_vertices(shape, half, base, yaw))
        return np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])

    def depth_map(self, shape: str, half: float, base: np.ndarray, yaw: float, box: np.ndarray | None = None):
        """(pixel indices, ray t, local unit-frame hit points) of the pixels the object covers, ignoring others."""
        if box is None:
            box = self.bbox(shape, half, base, yaw)
        x0 = max(0, int(np.floor(box[0])) - 1)
        y0 = max(0, int(np.floor(box[1])) - 1)
        x1 = min(self.size, int(np.ceil(box[2])) + 1)
        y1 = min(self.size, int(np.ceil(box[3])) + 1)
        if x1 <= x0 or y1 <= y0:
            return np.zeros(0, int), np.zeros(0), np.zeros((0, 3))
        cols, rows = np.meshgrid(np.arange(x0, x1), np.arange(y0, y1))
        idx = (rows * self.size + cols).ravel()
        r = rotation_z(yaw)
        o_local = (self.camera.position - base) @ r / half  # R^T (o - base) / s
        d_local = self.rays[idx] @ r / half
        t = intersect(shape, o_local, d_local)
        hit = np.isfinite(t)
        idx, t = idx[hit], t[hit]
        local = o_local[None] + t[:, None] * d_local[hit]
        return idx, t, local

    def frame(self, objects, positions: np.ndarray, yaws: np.ndarray, visible: np.ndarray, frame: int):
        """(mask uint8 [H, W] with k+1 for object k, motion float32 [H, W, 2] from frame 0 to ``frame``)."""
        n_pix = self.size * self.size
        depth = np.full(n_pix, np.inf)
        mask = np.zeros(n_pix, np.uint8)
        motion = np.zeros((n_pix, 2), np.float32)
        for k, o in enumerate(objects):
            if not visible[frame, k]:
                continue
            idx, t, local = self.depth_map(o.shape, o.half, positions[frame, k], float(yaws[frame, k]))
            if len(idx) == 0:
                continue
            nearer = t < depth[idx]
            idx, t, local = idx[nearer], t[nearer], local[nearer]
            depth[idx] = t
            mask[idx] = k + 1
            p0 = (local * o.half) @ rotation_z(float(yaws[0, k])).T + positions[0, k]
            pt = (local * o.half) @ rotation_z(float(yaws[frame, k])).T + positions[frame, k]
            motion[idx] = self.camera.project(pt) - self.camera.project(p0)  # exactly 0 where nothing moved
        return mask.reshape(self.size, self.size), motion.reshape(self.size, self.size, 2)
