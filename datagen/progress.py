"""One progress bar for every long job: a live bar with ETA on a terminal; in a log file (Slurm, nohup, a
pipe) the same bar written as its own plain line at most every 30 seconds, so a log never stays silent for long
and reads line by line."""

from __future__ import annotations

import sys

from tqdm import tqdm

LOG_INTERVAL_S = 30.0


class _LogLines:
    """A stream for tqdm in a log: tqdm redraws a bar in place with a carriage return; here every redraw becomes
    one line, and the blank redraws (clearing the bar around a message) are dropped."""

    def write(self, s: str) -> None:
        text = s.rsplit("\r", 1)[-1].rstrip() if "\r" in s else s
        if text.strip():
            sys.stderr.write(text if text.endswith("\n") else text + "\n")

    def flush(self) -> None:
        sys.stderr.flush()


class _LogBar(tqdm):
    """In a log, a bar that has not advanced says nothing (a command that fails at once prints only its error)."""

    def display(self, msg=None, pos=None):
        if self.n <= getattr(self, "_ti2v_start", 0):
            return True
        return super().display(msg, pos)


def progress_bar(total: int, desc: str, unit: str = "it", initial: int = 0, enabled: bool = True) -> tqdm:
    tty = sys.stderr.isatty()
    bar = (tqdm if tty else _LogBar)(total=total, initial=initial, desc=desc, unit=unit, disable=not enabled,
                file=None if tty else _LogLines(),
                mininterval=0.1 if tty else LOG_INTERVAL_S, maxinterval=LOG_INTERVAL_S if not tty else 10.0,
                dynamic_ncols=tty, ncols=None if tty else 100, ascii=not tty)
    bar._ti2v_start = initial
    return bar
