"""The picklable shard writer the runner calls: plan, render and store ``job.count`` videos.

A worker process keeps one :class:`~.render.Renderer` (Blender scene built once) in module state for all the
shards it writes. Video i of the split uses the generator ``plan.video_rng(job.seed, job.start + i)``, so a
shard's content depends only on its job, never on the worker count.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass

from pathlib import Path

from ..run_options import Execution
from ..runner import plan_jobs, run_shards
from ..shard import ShardWriter
from ..speed import CATER_INTERVAL
from . import annotations
from .plan import plan_video, video_rng

GENERATOR_VERSION = "cater-gen/1"
_GPU_PROBE = ("from ti2v.datagen.cater.blender_scene import gpu_device\n"
              "print('TI2V_GPU=' + (gpu_device() or ''), flush=True)")
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
    """``write_shard(job, tick)`` for ``runner.run_shards``. Run in a worker process (``isolated``), even with one
    worker: Blender installs its own SIGINT handler in the process that renders, which would swallow Ctrl-C; the
    parent, free of Blender, stops the run."""

    @property
    def isolated(self) -> bool:
        # A process that has loaded Blender already (a test, a notebook) has its handler anyway, and workers
        # spawned from it inherit a sys.path on which Blender's script modules shadow the bpy package.
        return "bpy" not in sys.modules

    config: CaterConfig
    run_seed: int = 0

    def __call__(self, job, tick) -> None:
        cfg = self.config
        renderer = get_renderer(cfg)
        attrs = {
            "dataset": cfg.dataset,
            "split": job.split,
            "generator_version": GENERATOR_VERSION,
            "config": cfg.run_config(),
            "seed": int(self.run_seed),
            "shard_seed": int(job.seed),
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
            **job.identity(),
        }
        with ShardWriter(job.path, attrs, capacity=job.count, tmp=job.tmp) as writer:
            for i in range(job.count):
                plan = plan_video(video_rng(job.seed, job.start + i), cfg.version, cfg.n_min, cfg.n_max, cfg.frames)
                rgb, masks, motion = renderer.render_video(plan)
                t = time.perf_counter()
                ann = annotations.build(plan, masks, motion)
                writer.add(rgb, plan.caption_explicit, plan.caption_ambiguous, ann)
                renderer.timing.other_s += time.perf_counter() - t
                tick(1)


def check_device(device: str) -> str:
    """``--device gpu`` is checked before anything is written: a short Blender process asks Cycles for a GPU
    (the command's own process never imports bpy, which would swallow Ctrl-C). Returns what renders."""
    import subprocess

    from ..errors import InputError

    if device != "gpu":
        return "cpu"
    try:
        proc = subprocess.run([sys.executable, "-c", _GPU_PROBE], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise InputError("--device gpu: asking Cycles for a GPU took over 300 s; use --device cpu") from None
    found = [ln[len("TI2V_GPU="):] for ln in proc.stdout.splitlines() if ln.startswith("TI2V_GPU=")]
    if proc.returncode != 0 or not found:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise InputError(f"--device gpu: Blender could not be asked for a GPU ({last}); use --device cpu")
    if not found[-1]:
        raise InputError("--device gpu: Cycles found no OPTIX/CUDA/HIP/oneAPI/Metal device here; use --device cpu")
    return found[-1]


def generate_split(out_dir: Path, split: str, num_videos: int, shard_size: int, seed: int, options: dict,
                   execution: Execution = Execution()) -> tuple[Path, dict | None]:
    """Render (or finish) OUT/<split> from generator options (the keys of a cater-gen preset's ``options``).

    Returns the split folder and its manifest (None while shards of the split are still missing).
    """
    import os

    from .cli import parse_objects

    n_min, n_max = parse_objects(str(options.get("objects", "3-8")))
    if options.get("version", "v2") == "v1":
        n_min = n_max = 2  # v1 is always the cone and the snitch
    threads = options.get("threads")
    if threads is None and execution.workers > 1 and execution.executor == "local":
        threads = max(1, (os.cpu_count() or 1) // execution.workers)  # share the cores, do not oversubscribe
    cfg = CaterConfig(options.get("version", "v2"), n_min, n_max, int(options.get("frames", 32)),
                      int(options.get("resolution", 128)), int(options.get("samples", 32)),
                      bool(options.get("denoise", True)), options.get("device", "cpu"), threads,
                      bool(options.get("ambiguous", False)))
    split_dir = Path(out_dir) / split
    jobs = plan_jobs(split_dir, cfg.dataset, split, num_videos, shard_size, seed)
    config = dict(cfg.run_config(), seed=seed, split=split, num_videos=num_videos, shard_size=shard_size)
    manifest = run_shards(split_dir, jobs, WriteCaterShard(cfg, seed), config=config, workers=execution.workers,
                          executor=execution.executor, address=execution.address, select=execution.select(jobs),
                          wait=execution.wait,
                          desc=f"{cfg.dataset} {split}")
    return split_dir, manifest
