"""The picklable shard writer the runner calls: plan, render and store ``job.count`` videos.

A worker process keeps one :class:`~.render.Renderer` (Blender scene built once) in module state for all the
shards it writes. Video i of the split uses the generator ``plan.video_rng(job.seed, job.start + i)``, so a
shard's content depends only on its job, never on the worker count.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from ..shard import ShardWriter
from ..speed import CATER_INTERVAL
from . import annotations
from .plan import plan_video, video_rng

GENERATOR_VERSION = "cater-gen/1"
_RENDERER = None
_RENDERER_KEY = None


@dataclass(frozen=True)
class CaterConfig:
    version: str = "v2"
    n_min: int = 3
    n_max: int = 8
    frames: int = 32
    resolution: int = 128
    samples: int = 32
    denoise: bool = True
    device: str = "cpu"
    threads: int | None = None
    ambiguous: bool = False

    @property
    def dataset(self) -> str:
        return f"cater-gen-{self.version}"

    def run_config(self) -> dict:
        """What pins a run (threads only change speed, not pixels)."""
        d = asdict(self)
        d.pop("threads")
        d["dataset"] = self.dataset
        d["generator_version"] = GENERATOR_VERSION
        return d


def get_renderer(cfg: CaterConfig):
    global _RENDERER, _RENDERER_KEY
    from .render import Renderer, RenderSettings

    key = (cfg.resolution, cfg.samples, cfg.denoise, cfg.device, cfg.threads)
    if _RENDERER is None or _RENDERER_KEY != key:
        if _RENDERER is not None:
            _RENDERER.close()
        _RENDERER = Renderer(RenderSettings(cfg.resolution, cfg.samples, cfg.denoise, cfg.device, cfg.threads))
        _RENDERER_KEY = key
    return _RENDERER


@dataclass(frozen=True)
class WriteCaterShard:
    """``write_shard(job, tick)`` for ``runner.run_shards``."""

    config: CaterConfig

    def __call__(self, job, tick) -> None:
        cfg = self.config
        renderer = get_renderer(cfg)
        attrs = {
            "dataset": cfg.dataset,
            "split": job.split,
            "generator_version": GENERATOR_VERSION,
            "config": cfg.run_config(),
            "seed": int(job.seed),
            "speed_interval": list(CATER_INTERVAL),
            "frames": cfg.frames,
            "shard_index": job.index,
            "start": job.start,
            "default_caption": "ambiguous" if cfg.ambiguous else "explicit",
            "blender_version": renderer.blender_version,
            "device": renderer.scene.device,
            "samples": cfg.samples,
            "denoise": "openimagedenoise" if cfg.denoise else "none",
            "threads": cfg.threads or 0,
            "resolution": cfg.resolution,
            "max_objects": annotations.MAX_OBJECTS,
        }
        with ShardWriter(job.path, attrs, capacity=job.count) as writer:
            for i in range(job.count):
                plan = plan_video(video_rng(job.seed, job.start + i), cfg.version, cfg.n_min, cfg.n_max, cfg.frames)
                rgb, masks, motion = renderer.render_video(plan)
                t = time.perf_counter()
                ann = annotations.build(plan, masks, motion)
                writer.add(rgb, plan.caption_explicit, plan.caption_ambiguous, ann)
                renderer.timing.other_s += time.perf_counter() - t
                tick(1)
