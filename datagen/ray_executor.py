"""Fanning the shards of a run out to a Ray cluster (``--executor ray [--address ADDR]``).

Each Ray task makes whole shards through the same picklable ``write_shard`` the local pool uses, writing to the
shared output folder under a temporary name and renaming when complete, so a retried or duplicated task can
never leave a partial shard. Failed tasks are retried by Ray; a rerun of the command resumes exactly like a
local run, because completeness is judged from the files, not from Ray's state.

Temporary files of a Ray worker process (the renderer's frames, Blender's session folder, both kept for all the
shards the process makes) go to one folder per process, ``<tag>-<pid>-*`` in the node's temp dir, removed when the
process exits; a run that started Ray itself also removes its tag's folders after ``ray.shutdown()``, which
kills the workers before their exit handlers run.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import tempfile
from typing import Callable, Sequence

from .errors import InputError

MAX_RETRIES = 3
_WORKER_TMP: str | None = None


def _use_worker_tmp(tag: str) -> None:
    """Once per Ray worker process, before the first shard (so before bpy is imported): its own temp folder."""
    global _WORKER_TMP
    if _WORKER_TMP is None:
        _WORKER_TMP = tempfile.mkdtemp(prefix=f"{tag}-{os.getpid()}-")
        os.environ["TMPDIR"] = _WORKER_TMP  # read by Blender when bpy is first imported
        tempfile.tempdir = _WORKER_TMP
        atexit.register(shutil.rmtree, _WORKER_TMP, True)


def _make_shard(write_shard: Callable, job, tag: str) -> int:
    _use_worker_tmp(tag)
    write_shard(job, lambda n: None)
    return job.index


def run_on_ray(todo: Sequence, write_shard: Callable, bar, address: str | None = None, num_cpus: int | None = None) -> None:
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'ti2v[dist]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise InputError(f"cannot reach a Ray cluster at {address!r}: {e}") from None
    tag = f"ti2v-ray-{os.getpid()}"
    try:
        task = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=True)(_make_shard)
        by_ref = {task.remote(write_shard, job, tag): job for job in todo}
        pending = list(by_ref)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                ray.get(ref)  # re-raise a task's final error here
                bar.update(by_ref[ref].count)
    finally:
        if started_here:
            ray.shutdown()
            if not address:  # the workers ran on this machine, with this temp dir
                for folder in glob.glob(os.path.join(tempfile.gettempdir(), f"{tag}-*")):
                    shutil.rmtree(folder, ignore_errors=True)
