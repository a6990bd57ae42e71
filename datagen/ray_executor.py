"""Fanning the shards of a run out to a Ray cluster (``--executor ray [--address ADDR]``).

Each Ray task makes whole shards through the same picklable ``write_shard`` the local pool uses, writing to the
shared output folder under a temporary name and renaming when complete, so a retried or duplicated task can
never leave a partial shard. Failed tasks are retried by Ray; a rerun of the command resumes exactly like a
local run, because completeness is judged from the files, not from Ray's state.
"""

from __future__ import annotations

from typing import Callable, Sequence

from .errors import InputError

MAX_RETRIES = 3


def _make_shard(write_shard: Callable, job) -> int:
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
    try:
        task = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=True)(_make_shard)
        by_ref = {task.remote(write_shard, job): job for job in todo}
        pending = list(by_ref)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                ray.get(ref)  # re-raise a task's final error here
                bar.update(by_ref[ref].count)
    finally:
        if started_here:
            ray.shutdown()
