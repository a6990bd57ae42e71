"""Resumable shard runs: which shards a split has, who makes them, and the manifest that proves them.

A split is cut into shards with fixed video ranges and seeds derived from (run seed, dataset, split, shard
index), so a shard's bytes depend only on its job, never on the worker or executor that made it. A shard is
written under a temporary name and renamed when complete (see ``shard.ShardWriter``); a rerun with the same
arguments keeps every complete shard, drops temporary leftovers and makes only what is missing.
``run.json`` in the split folder pins the configuration, so a rerun with different arguments is refused
instead of mixing two datasets. ``manifest.json`` is written when every shard of the split exists.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing as mp
import os
import queue
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from tqdm import tqdm

from .progress import progress_bar

from .errors import InputError
from .shard import FORMAT_VERSION, ShardFormatError, open_shard, tmp_path_for

MANIFEST = "manifest.json"
RUN_FILE = "run.json"
SPLITS = ("train", "test")


@dataclass(frozen=True)
class ShardJob:
    index: int  # shard index within the split
    seed: int  # derived from the run seed, dataset, split and index
    start: int  # global index (within the split) of the shard's first video
    count: int
    path: Path  # final file name
    dataset: str
    split: str


def derive_seed(seed: int, *parts: Any) -> int:
    """A 63-bit seed from the run seed and labels: stable across Python versions, platforms and processes."""
    text = json.dumps([int(seed), *[str(p) for p in parts]])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.h5"


def plan_jobs(split_dir: Path, dataset: str, split: str, num_videos: int, shard_size: int, seed: int) -> list[ShardJob]:
    split_dir = Path(split_dir)
    jobs = []
    for index, start in enumerate(range(0, num_videos, shard_size)):
        count = min(shard_size, num_videos - start)
        jobs.append(
            ShardJob(index, derive_seed(seed, dataset, split, index), start, count, split_dir / shard_name(index), dataset, split)
        )
    return jobs


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _shard_is_complete(job: ShardJob) -> bool:
    if not job.path.exists():
        return False
    try:
        with open_shard(job.path) as f:
            return int(f.attrs["num_videos"]) == job.count and int(f.attrs["shard_index"]) == job.index
    except (ShardFormatError, OSError, KeyError):
        return False


def _pin_run(split_dir: Path, config: dict) -> None:
    """Record the run's configuration, or refuse if the folder holds a run with another one."""
    run_file = split_dir / RUN_FILE
    canonical = json.loads(json.dumps(config, sort_keys=True))
    if run_file.exists():
        previous = json.loads(run_file.read_text())
        if previous != canonical:
            changed = sorted(k for k in set(previous) | set(canonical) if previous.get(k) != canonical.get(k))
            raise InputError(
                f"{split_dir} already holds a run with other settings ({', '.join(changed)} differ); "
                "use another --out or remove that folder"
            )
        return
    tmp = run_file.with_name(run_file.name + ".tmp")
    tmp.write_text(json.dumps(canonical, sort_keys=True, indent=1))
    os.replace(tmp, run_file)


class _QueueTicker:
    """Progress from worker processes, batched so a fast generator does not flood the queue."""

    def __init__(self, q):
        self.q = q
        self.pending = 0
        self.last = 0.0

    def __call__(self, n: int = 1) -> None:
        self.pending += n
        now = time.monotonic()
        if now - self.last > 0.2:
            self.flush()
            self.last = now

    def flush(self) -> None:
        if self.pending:
            self.q.put(self.pending)
            self.pending = 0


_PROGRESS = None  # a worker process's queue to the parent's progress bar (set by the pool's initializer)


def _init_worker(q) -> None:
    global _PROGRESS
    _PROGRESS = q


def _run_job(write_shard: Callable, job: ShardJob) -> int:
    ticker = _QueueTicker(_PROGRESS)
    write_shard(job, ticker)
    ticker.flush()
    return job.index


def run_shards(
    split_dir: Path,
    jobs: Sequence[ShardJob],
    write_shard: Callable[[ShardJob, Callable[[int], None]], None],
    *,
    config: dict,
    workers: int = 1,
    desc: str = "videos",
    executor: str = "local",
    address: str | None = None,
    select: Iterable[int] | None = None,
) -> dict | None:
    """Make every missing shard of ``jobs`` (or of the ``select``ed indices), then write the manifest.

    Returns the manifest, or None when shards of the split are still missing (another array task's share).
    """
    split_dir = Path(split_dir)
    split_dir.mkdir(parents=True, exist_ok=True)
    _pin_run(split_dir, config)
    for leftover in split_dir.glob("*.tmp"):
        leftover.unlink()
    wanted = set(select) if select is not None else {j.index for j in jobs}
    todo = [j for j in jobs if j.index in wanted and not _shard_is_complete(j)]
    total = sum(j.count for j in jobs if j.index in wanted)
    done_videos = total - sum(j.count for j in todo)
    with progress_bar(total, desc, unit="video", initial=done_videos) as bar:
        if executor == "ray":
            from .ray_executor import run_on_ray

            run_on_ray(todo, write_shard, bar, address=address, num_cpus=None if address else max(workers, 1))
        elif workers <= 1 or len(todo) <= 1:
            for job in todo:
                write_shard(job, bar.update)
        else:
            _run_pool(todo, write_shard, workers, bar)
    if not all(_shard_is_complete(j) for j in jobs):
        return None
    return write_manifest(split_dir, jobs, config)


def _run_pool(todo: list[ShardJob], write_shard: Callable, workers: int, bar: tqdm) -> None:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    with cf.ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx,
                                initializer=_init_worker, initargs=(q,)) as pool:
        futures = [pool.submit(_run_job, write_shard, job) for job in todo]
        pending = set(futures)
        while pending:
            finished, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            _drain(q, bar)
            for fut in finished:
                fut.result()  # re-raise a worker's error here
    _drain(q, bar)
    q.close()


def _drain(q, bar: tqdm) -> None:
    while True:
        try:
            bar.update(q.get_nowait())
        except queue.Empty:
            return


# Shard attributes that decide a renderer's pixels; builds that differ in these may differ in pixels only.
RENDER_ATTRS = ("blender_version", "device", "threads", "samples", "resolution")


def stored_digests(path: Path) -> dict[str, str]:
    with open_shard(path) as f:
        return {part: str(f.attrs[f"{part}_sha256"]) for part in ("videos", "scene")}


def render_settings(path: Path) -> dict:
    with open_shard(path) as f:
        return {k: (f.attrs[k].tolist() if hasattr(f.attrs[k], "tolist") else f.attrs[k]) for k in RENDER_ATTRS if k in f.attrs}


def write_manifest(split_dir: Path, jobs: Sequence[ShardJob], config: dict) -> dict:
    shards = []
    for job in jobs:
        shards.append(
            {
                "file": job.path.name,
                "index": job.index,
                "start": job.start,
                "num_videos": job.count,
                "seed": job.seed,
                "sha256": sha256_file(job.path),
                "content": stored_digests(job.path),
                "render_settings": render_settings(job.path),
            }
        )
    manifest = {
        "format_version": FORMAT_VERSION,
        "dataset": jobs[0].dataset if jobs else None,
        "split": jobs[0].split if jobs else None,
        "num_videos": sum(j.count for j in jobs),
        "config": json.loads(json.dumps(config, sort_keys=True)),
        "shards": shards,
    }
    path = split_dir / MANIFEST
    tmp = tmp_path_for(path)
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return manifest


def load_manifest(split_dir: Path) -> dict:
    path = Path(split_dir) / MANIFEST
    if not path.exists():
        raise InputError(f"{split_dir} has no {MANIFEST}; is it a split folder written by ti2v-datagen?")
    return json.loads(path.read_text())


def job_dict(job: ShardJob) -> dict:
    d = asdict(job)
    d["path"] = str(job.path)
    return d
