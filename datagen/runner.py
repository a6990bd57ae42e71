"""Resumable shard runs: which shards a split has, who makes them, and the manifest that proves them.

A split is cut into shards with fixed video ranges and seeds derived from (run seed, dataset, split, shard
index), so a shard's bytes depend only on its job, never on the worker or executor that made it. A shard is
written under a temporary name and renamed when complete (see ``shard.ShardWriter``); a rerun with the same
arguments keeps every complete shard, drops temporary leftovers and makes only what is missing.
``run.json`` in the split folder pins the configuration, so a rerun with different arguments is refused
instead of mixing two datasets (while no shard and no live run depend on it, a new run replaces it).
``manifest.json`` is written when every shard of the split exists.

Runs that overlap (the tasks of a Slurm array, or a second command into the same folder) coordinate through
locks in ``<split>/.locks``: each run holds ``owner-<host>-<pid>.lock`` while it lives and names its
temporaries ``shard-NNNNN.h5.<host>-<pid>.tmp``, so start-up removes only temporaries whose owner's lock is free
(a killed run's); ``split.lock`` is held briefly to pin ``run.json``, clean up, and write the manifest (once, by
whichever run finds every shard complete); ``run-<share>.lock`` is held for the whole run, so a second run that
would make the same shards is refused (one line, exit 2) or waits for it (``--wait``).
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing as mp
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from filelock import FileLock, Timeout
from tqdm import tqdm

from .progress import progress_bar

from .errors import InputError
from .manifest import MANIFEST, load_manifest  # noqa: F401  (load_manifest: imported from here by callers)
from .shard import FORMAT_VERSION, ShardFormatError, config_digest, open_shard, tmp_path_for

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
    tmp: Path | None = None  # where the shard is written before its rename (default: ShardWriter's <name>.tmp)
    config_sha256: str = ""  # config_digest of the split's configuration (set by run_shards)

    def identity(self) -> dict:
        """The identity attributes a writer stores beside its own (docs/FORMAT.md, Identity): the shard's seed
        and the digest of the split configuration that manifest.json will hold."""
        out = {"shard_seed": int(self.seed)}
        if self.config_sha256:
            out["config_sha256"] = self.config_sha256
        return out


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


def _pin_run(split_dir: Path, config: dict, locks: Path | None = None, tag: str | None = None) -> None:
    """Record the run's configuration, or refuse if the folder holds a run with another one.

    A run.json that no shard and no live run depends on (a run that failed before its first shard, say) is
    replaced: it protects nothing, and keeping it would block the corrected command. Called under split.lock."""
    run_file = split_dir / RUN_FILE
    canonical = json.loads(json.dumps(config, sort_keys=True))
    if run_file.exists():
        previous = json.loads(run_file.read_text())
        if previous == canonical:
            return
        if any(split_dir.glob("shard-*.h5")) or (locks is not None and _other_owner_alive(locks, tag)):
            changed = sorted(k for k in set(previous) | set(canonical) if previous.get(k) != canonical.get(k))
            raise InputError(
                f"{split_dir} already holds a run with other settings ({', '.join(changed)} differ); "
                "use another --out or remove that folder"
            )
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


def _init_worker(q, parent: int, tmp: str) -> None:
    """In each worker: progress goes to ``q``; Ctrl-C at the terminal (sent to the whole process group) is left
    to the parent, which stops the workers itself; the worker exits when its parent is gone (killed with
    SIGKILL, say), instead of writing on, orphaned, into a split the next run is cleaning up; and temporary files
    (the renderer's frames, Blender's session folder) go to ``tmp``, the run's folder that the parent removes."""
    global _PROGRESS
    _PROGRESS = q
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["TMPDIR"] = tmp  # read by Blender when bpy is first imported, in this worker
    tempfile.tempdir = tmp
    threading.Thread(target=_exit_with_parent, args=(parent, tmp), daemon=True, name="ti2v-parent-watch").start()


_REAPER = "import shutil, sys; sys.stdin.buffer.read(); shutil.rmtree(sys.argv[1], ignore_errors=True)"
_PYTHON = sys.executable  # read before bpy is imported in a worker


def _exit_with_parent(parent: int, tmp: str, every: float = 0.25) -> None:
    """The parent that would have removed ``tmp`` is gone: exit, and have ``tmp`` removed once this process is
    gone. Removing it from here would race the main thread: Blender writing a frame at that moment creates the
    frame's folders again (seen in CI: ``tmp/ti2v-cater-*/frame.png`` left after the worker exited). So a small
    reaper process waits for end-of-file on a pipe that only this process holds, which comes when it has exited,
    and only then removes the folder."""
    while True:
        time.sleep(every)
        if os.getppid() != parent:
            try:
                subprocess.Popen([_PYTHON, "-c", _REAPER, tmp], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
            os._exit(1)


def _run_job(write_shard: Callable, job: ShardJob) -> int:
    ticker = _QueueTicker(_PROGRESS)
    write_shard(job, ticker)
    ticker.flush()
    return job.index


LOCK_DIR = ".locks"
_TAGGED_TMP = re.compile(r"^(shard-\d+\.h5)\.(?P<tag>.+)\.tmp$")


def task_tag() -> str:
    """This run's name in its temporaries and owner lock: host and pid."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
    return f"{host}-{os.getpid()}"


def _lock(path: Path, wait: bool, busy: Callable[[], str]) -> FileLock:
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            raise InputError(busy()) from None
        print(f"waiting for {busy().split(';')[0]}", file=sys.stderr, flush=True)
        lock.acquire()
    return lock


@contextmanager
def _split_locked(locks: Path):
    """The short exclusive section of a split: run.json, clean-up, the manifest."""
    lock = FileLock(locks / "split.lock")
    with lock:
        yield


def _owner_alive(locks: Path, tag: str) -> bool:
    path = locks / f"owner-{tag}.lock"
    if not path.exists():
        return False
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    path.unlink(missing_ok=True)
    return False


def _other_owner_alive(locks: Path, tag: str | None) -> bool:
    """Whether a run other than ``tag`` is alive in this split (it holds its owner lock)."""
    for path in locks.glob("owner-*.lock"):
        other = path.name[len("owner-"):-len(".lock")]
        if other != tag and _owner_alive(locks, other):
            return True
    return False


def _remove_stale_temporaries(split_dir: Path, locks: Path, tag: str) -> None:
    """Temporaries of runs that are gone (their owner lock is free); never those of a live overlapping run."""
    for leftover in split_dir.glob("*.tmp"):
        m = _TAGGED_TMP.match(leftover.name)
        if m is None or m["tag"] == tag or not _owner_alive(locks, m["tag"]):
            leftover.unlink(missing_ok=True)  # untagged ones are written only under split.lock, which we hold


def _share_key(jobs: Sequence[ShardJob], wanted: set[int]) -> str:
    if wanted == {j.index for j in jobs}:
        return "all"
    return hashlib.sha256(json.dumps(sorted(wanted)).encode()).hexdigest()[:12]


def _busy_message(split_dir: Path, info_path: Path) -> str:
    try:
        info = json.loads(info_path.read_text())
        who = f" (pid {info['pid']} on {info['host']})"
    except (OSError, ValueError, KeyError):
        who = ""
    return (f"{split_dir} is being written by another run making the same shards{who}; "
            "add --wait to wait for it, or use another --out")


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
    wait: bool = False,
) -> dict | None:
    """Make every missing shard of ``jobs`` (or of the ``select``ed indices), then write the manifest.

    Returns the manifest, or None when shards of the split are still missing (another array task's share).
    A run making the same shards as a live one is refused (InputError), or waits for it when ``wait``.
    """
    split_dir = Path(split_dir)
    split_dir.mkdir(parents=True, exist_ok=True)
    locks = split_dir / LOCK_DIR
    locks.mkdir(exist_ok=True)
    wanted = set(select) if select is not None else {j.index for j in jobs}
    tag = task_tag()
    owner_path = locks / f"owner-{tag}.lock"
    owner = FileLock(owner_path)
    owner.acquire(timeout=0)  # nobody else has this host and pid
    key = _share_key(jobs, wanted)
    info_path = locks / f"run-{key}.json"
    try:
        run_lock = _lock(locks / f"run-{key}.lock", wait, lambda: _busy_message(split_dir, info_path))
        try:
            info_path.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
            with _split_locked(locks):
                _pin_run(split_dir, config, locks, tag)
                _remove_stale_temporaries(split_dir, locks, tag)
            digest = config_digest(json.loads(json.dumps(config, sort_keys=True)))  # as the manifest holds it
            todo = [replace(j, tmp=j.path.with_name(f"{j.path.name}.{tag}.tmp"), config_sha256=digest)
                    for j in jobs if j.index in wanted and not _shard_is_complete(j)]
            _make(todo, jobs, wanted, write_shard, workers=workers, desc=desc, executor=executor, address=address)
            with _split_locked(locks):
                if not all(_shard_is_complete(j) for j in jobs):
                    return None
                return _existing_manifest(split_dir, jobs, config) or write_manifest(split_dir, jobs, config)
        finally:
            run_lock.release()
    finally:
        owner.release()
        owner_path.unlink(missing_ok=True)


def _make(todo, jobs, wanted, write_shard, *, workers, desc, executor, address) -> None:
    total = sum(j.count for j in jobs if j.index in wanted)
    done_videos = total - sum(j.count for j in todo)
    with progress_bar(total, desc, unit="video", initial=done_videos) as bar:
        if executor == "ray":
            from .ray_executor import run_on_ray

            run_on_ray(todo, write_shard, bar, address=address, num_cpus=None if address else max(workers, 1))
        elif (workers <= 1 or len(todo) <= 1) and not getattr(write_shard, "isolated", False):
            for job in todo:
                write_shard(job, bar.update)
        elif todo:
            _run_pool(todo, write_shard, workers, bar)


def _existing_manifest(split_dir: Path, jobs: Sequence[ShardJob], config: dict) -> dict | None:
    """The manifest another run of the same settings already wrote for these shards, so it is written once."""
    try:
        manifest = json.loads((split_dir / MANIFEST).read_text())
        same = (manifest["config"] == json.loads(json.dumps(config, sort_keys=True))
                and [(s["file"], s["index"], s["num_videos"]) for s in manifest["shards"]]
                == [(j.path.name, j.index, j.count) for j in jobs])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return manifest if same else None


def _run_pool(todo: list[ShardJob], write_shard: Callable, workers: int, bar: tqdm) -> None:
    """Worker processes make the shards. On any interruption here (Ctrl-C, SIGTERM, a worker's error) the
    workers are stopped at once, mid-shard, rather than left to finish what they hold: their temporaries are
    removed by the next run (their owner, this run, is gone by then). Their temporary files live in one folder
    of the system temp dir, removed once they have exited, however they ended (a worker killed mid-render cleans
    up nothing itself; Blender's session folder, left by every worker's exit, is in there too)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    tmp = tempfile.mkdtemp(prefix="ti2v-workers-")
    try:
        pool = cf.ProcessPoolExecutor(max_workers=max(1, min(workers, len(todo))), mp_context=ctx,
                                      initializer=_init_worker, initargs=(q, os.getpid(), tmp))
        try:
            futures = [pool.submit(_run_job, write_shard, job) for job in todo]
            pending = set(futures)
            while pending:
                finished, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                _drain(q, bar)
                for fut in finished:
                    fut.result()  # re-raise a worker's error here
        except BaseException:
            _stop_pool(pool)
            raise
        pool.shutdown(wait=True)
        _drain(q, bar)
        q.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _stop_pool(pool: cf.ProcessPoolExecutor, grace: float = 1.0) -> None:
    """Cancel what has not started and end the worker processes: SIGTERM, then SIGKILL after ``grace`` s."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)


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


def job_dict(job: ShardJob) -> dict:
    d = asdict(job)
    d["path"] = str(job.path)
    return d
