"""The fixed CATER camera as a pinhole model (docs/DATASETS.md, CATER-GEN: Scene), shared by the planner, annotations and tests.

Blender renders with the same numbers (position (7.48, -6.51, 5.34) aimed at the origin, 35 mm lens on a 32 mm
sensor, square images so the sensor width spans the image), so projecting a 3D point here lands on the pixel
Cycles draws it at. Pixel coordinates: x to the right, y down, pixel (i, j) covers [i, i+1] x [j, j+1].
"""

from __future__ import annotations

import numpy as np

CAMERA_POSITION = np.array([7.48, -6.51, 5.34])
CAMERA_TARGET = np.array([0.0, 0.0, 0.0])
LENS_MM = 35.0
SENSOR_MM = 32.0


def look_at_rotation(position=CAMERA_POSITION, target=CAMERA_TARGET) -> np.ndarray:
    """Camera-to-world rotation (columns: camera x, y, z axes); the camera looks along its -z, y is up."""
    forward = np.asarray(target, float) - np.asarray(position, float)
    forward /= np.linalg.norm(forward)
    z = -forward
    x = np.cross(np.array([0.0, 0.0, 1.0]), z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


class Camera:
    """Pinhole projection for a square image of ``size`` pixels."""

    def __init__(self, size: int, position=CAMERA_POSITION, target=CAMERA_TARGET):
        self.size = int(size)
        self.position = np.asarray(position, float)
        self.rotation = look_at_rotation(position, target)  # camera -> world
        self.focal_px = LENS_MM / SENSOR_MM * self.size

    def matrix_world(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.position
        return m

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, float) - self.position) @ self.rotation

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points [..., 3] -> pixel coordinates [..., 2] (x right, y down)."""
        pc = self.to_camera(points)
        depth = -pc[..., 2]
        u = self.size / 2 + self.focal_px * pc[..., 0] / depth
        v = self.size / 2 - self.focal_px * pc[..., 1] / depth
        return np.stack([u, v], axis=-1)

    def pixel_rays(self) -> np.ndarray:
        """World-space unit ray directions through every pixel centre, [H, W, 3]."""
        c = np.arange(self.size) + 0.5
        u, v = np.meshgrid(c, c)  # v rows, u columns
        d_cam = np.stack([(u - self.size / 2) / self.focal_px, -(v - self.size / 2) / self.focal_px, -np.ones_like(u)], -1)
        d = d_cam @ self.rotation.T
        return d / np.linalg.norm(d, axis=-1, keepdims=True)
