"""Running the console commands the way a user does: a real subprocess, its exit code and its stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cli(module: str, *args: str, check: bool = False, timeout: float = 300, env: dict | None = None):
    """Run ``python -m <module> ARGS`` (e.g. ti2v.datagen.cli) and return the CompletedProcess."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=full_env, cwd=REPO,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{module} {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def datagen(*args: str, **kw):
    return run_cli("ti2v.datagen.cli", *args, **kw)


def error_line(proc) -> str:
    """The one line a failing command printed on stderr (asserts it is exactly one)."""
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected a one-line error, got:\n{proc.stderr}"
    return lines[0]
