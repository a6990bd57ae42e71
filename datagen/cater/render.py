"""Render a planned video: Cycles RGB per frame, plus instance masks and motion field from the ray caster.

This is the only layer that imports bpy (through blender_scene), so the planner, captions and tests of
them import without Blender. A process keeps one :class:`Renderer` (scene built once) for all its videos.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from .plan import ScenePlan
from .raycast import RayCaster


@dataclass
class RenderSettings:
    resolution: int = 128
    samples: int = 32
    denoise: bool = True
    device: str = "cpu"
    threads: int | None = None


@dataclass
class Timing:
    render_s: float = 0.0  # inside bpy.ops.render.render (Cycles path tracing + denoising)
    other_s: float = 0.0  # planning, posing, PNG save + readback, ray casting, annotations, shard writing
    frames: int = 0
    per_frame_render: list = field(default_factory=list)
    per_frame_other: list = field(default_factory=list)


class Renderer:
    def __init__(self, settings: RenderSettings):
        from .blender_scene import BlenderScene, blender_version

        t = time.perf_counter()
        self.settings = settings
        self.scene = BlenderScene(settings.resolution, settings.samples, settings.denoise, settings.device, settings.threads)
        self.caster = RayCaster(settings.resolution)
        self.blender_version = blender_version()
        self.tmpdir = tempfile.mkdtemp(prefix="ti2v-cater-")
        self.build_s = time.perf_counter() - t
        self.timing = Timing()

    def close(self) -> None:
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def render_frame(self, plan: ScenePlan, f: int) -> np.ndarray:
        self.scene.set_frame(plan.positions[f], plan.yaws[f], plan.visible[f])
        path = os.path.join(self.tmpdir, "frame.png")
        t = time.perf_counter()
        self.scene.render()
        dt = time.perf_counter() - t
        self.scene.save(path)
        self.timing.render_s += dt
        self.timing.per_frame_render.append(dt)
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise RuntimeError(f"Cycles wrote no image at {path}")
        return img[:, :, ::-1]

    def render_video(self, plan: ScenePlan):
        """(rgb uint8 [F, H, W, 3], masks uint8 [F, H, W], motion float32 [F, H, W, 2])."""
        t0 = time.perf_counter()
        r0 = self.timing.render_s
        self.scene.set_objects(plan.objects)
        s = self.settings.resolution
        rgb = np.zeros((plan.frames, s, s, 3), np.uint8)
        masks = np.zeros((plan.frames, s, s), np.uint8)
        motion = np.zeros((plan.frames, s, s, 2), np.float32)
        for f in range(plan.frames):
            tf = time.perf_counter()
            rf = self.timing.render_s
            rgb[f] = self.render_frame(plan, f)
            masks[f], motion[f] = self.caster.frame(plan.objects, plan.positions, plan.yaws, plan.visible, f)
            self.timing.per_frame_other.append((time.perf_counter() - tf) - (self.timing.render_s - rf))
        self.timing.frames += plan.frames
        self.timing.other_s += (time.perf_counter() - t0) - (self.timing.render_s - r0)
        return rgb, masks, motion
