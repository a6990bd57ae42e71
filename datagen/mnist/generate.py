"""Making Moving MNIST shards: plan every video of a shard from the shard's seed, draw it, write it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..run_options import Execution
from ..runner import ShardJob, plan_jobs, run_shards
from ..shard import ShardWriter
from ..speed import MNIST_INTERVAL
from .digits import DigitSet, check_digit_source, load_digits
from .draw import draw_videos, plan_glyphs
from .plan import DATASET_NAMES, plan_video

GENERATOR_VERSION = "ti2v-mnist-2"  # 2: empty digit slots hold track -1 and stop_frame -1 (pixels as in 1)
DRAW_BATCH = 32  # videos planned and drawn together (fastest measured); plans still come one by one from the stream


@dataclass(frozen=True)
class MnistSettings:
    variant: str
    split: str
    frames: int = 20
    distractor_prob: float = 1.0
    digits: str = "mnist"  # "mnist" or "sklearn"
    mnist_dir: str | None = None
    seed: int = 0

    def config(self) -> dict:
        """What defines the data (the run's identity); where MNIST was read from does not."""
        d = asdict(self)
        d.pop("mnist_dir")
        d["generator_version"] = GENERATOR_VERSION
        return d


@lru_cache(maxsize=4)
def _digits(kind: str, split: str, mnist_dir: str | None) -> DigitSet:
    return load_digits(kind, split, Path(mnist_dir) if mnist_dir else None)


def write_mnist_shard(settings: MnistSettings, job: ShardJob, tick=lambda n: None) -> None:
    digits = _digits(settings.digits, settings.split, settings.mnist_dir)
    pools = digits.by_label()
    rng = np.random.default_rng(job.seed)
    attrs = {
        "dataset": DATASET_NAMES[settings.variant],
        "split": settings.split,
        "generator_version": GENERATOR_VERSION,
        "config": settings.config(),
        "seed": settings.seed,
        "speed_interval": list(MNIST_INTERVAL),
        "frames": settings.frames,
        "shard_index": job.index,
        "first_index": job.start,
        "digit_source": digits.source,
        **job.identity(),
    }
    with ShardWriter(job.path, attrs, capacity=job.count, tmp=job.tmp) as writer:
        for start in range(0, job.count, DRAW_BATCH):
            plans = [
                plan_video(settings.variant, settings.split, settings.frames, rng, pools, settings.distractor_prob)
                for _ in range(min(DRAW_BATCH, job.count - start))
            ]
            glyphs = np.stack([plan_glyphs(plan, digits.images) for plan in plans])
            for plan, glyph, video in zip(plans, glyphs, draw_videos(plans, glyphs)):
                annotations = plan.annotations()
                annotations["digit_images"] = glyph
                writer.add(video, plan.caption, plan.caption, annotations)
            tick(len(plans))


def generate_split(out_dir: Path, settings: MnistSettings, num_videos: int, shard_size: int,
                   execution: Execution = Execution()) -> tuple[Path, dict | None]:
    """Make (or finish) OUT/<split>; returns the split folder and its manifest (None while shards are missing)."""
    from functools import partial

    from .plan import DATASET_NAMES

    check_digit_source(settings.digits, settings.split, Path(settings.mnist_dir) if settings.mnist_dir else None)
    split_dir = Path(out_dir) / settings.split
    dataset = DATASET_NAMES[settings.variant]
    config = dict(settings.config(), num_videos=num_videos, shard_size=shard_size)
    jobs = plan_jobs(split_dir, dataset, settings.split, num_videos, shard_size, settings.seed)
    manifest = run_shards(split_dir, jobs, partial(write_mnist_shard, settings), config=config,
                          workers=execution.workers, executor=execution.executor, address=execution.address,
                          select=execution.select(jobs), wait=execution.wait, desc=f"{dataset} {settings.split}")
    return split_dir, manifest
