"""Options every generating command shares: where shards are made (local pool or Ray) and which share of a split
this process makes (for Slurm arrays and Kubernetes indexed Jobs)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class Execution:
    workers: int = 1
    executor: str = "local"
    address: str | None = None
    shard_index: int | None = None
    num_shards: int | None = None
    wait: bool = False  # wait for a live run making the same shards instead of refusing

    def select(self, jobs) -> set[int] | None:
        """Shard indices this process makes: every num_shards-th shard starting at shard_index, or all."""
        if self.num_shards is None:
            return None
        return {j.index for j in jobs if j.index % self.num_shards == self.shard_index}


def _check(ctx, param, value):
    if value is not None and value < (1 if param.name in ("workers", "num_shards") else 0):
        low = 1 if param.name in ("workers", "num_shards") else 0
        raise click.BadParameter(f"{value} is not allowed; it must be >= {low}")
    return value


def execution_options(f):
    """Add --workers, --executor, --address, --shard-index, --num-shards, --wait; the command receives ``execution``."""
    options = [
        click.option("--workers", type=int, default=1, show_default=True, callback=_check,
                     help="Worker processes (local), or Ray CPUs when --executor ray starts a local Ray."),
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="local: a process pool on this machine; ray: one Ray task per shard (retried on failure)."),
        click.option("--address", default=None, help="Ray cluster address (e.g. ray://head:10001 or auto); default: start a local Ray."),
        click.option("--shard-index", type=int, default=None, callback=_check,
                     help="Make only shards i with i % NUM_SHARDS == SHARD_INDEX (e.g. $SLURM_ARRAY_TASK_ID)."),
        click.option("--num-shards", type=int, default=None, callback=_check,
                     help="How many array tasks split the run (with --shard-index)."),
        click.option("--wait", is_flag=True, default=False,
                     help="If another run is making the same shards of a split, wait for it instead of exiting with an error."),
    ]
    for option in reversed(options):
        f = option(f)

    def wrapper(*args, workers, executor, address, shard_index, num_shards, wait, **kwargs):
        if (shard_index is None) != (num_shards is None):
            raise click.UsageError("--shard-index and --num-shards go together")
        if shard_index is not None and shard_index >= num_shards:
            raise click.BadParameter(f"{shard_index} is not allowed; it must be < --num-shards {num_shards}",
                                     param_hint="--shard-index")
        if address and executor != "ray":
            raise click.BadParameter(f"{address} needs --executor ray", param_hint="--address")
        return f(*args, execution=Execution(workers, executor, address, shard_index, num_shards, wait), **kwargs)

    return functools.update_wrapper(wrapper, f)  # carries f.__click_params__, so later options attach too
