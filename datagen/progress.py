"""One progress bar for every long job: a live bar with ETA on a terminal; in a log file (Slurm, nohup, a
pipe) the same bar written as a plain line at most every 30 seconds, so a log never stays silent for long."""

from __future__ import annotations

import sys

from tqdm import tqdm

LOG_INTERVAL_S = 30.0


def progress_bar(total: int, desc: str, unit: str = "it", initial: int = 0, enabled: bool = True) -> tqdm:
    tty = sys.stderr.isatty()
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=not enabled,
                mininterval=0.1 if tty else LOG_INTERVAL_S, maxinterval=LOG_INTERVAL_S if not tty else 10.0,
                dynamic_ncols=tty, ncols=None if tty else 100, ascii=not tty)
