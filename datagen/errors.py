"""One-line user errors with exit code 2, shared by every command.

Commands raise :class:`click.UsageError` / :class:`click.BadParameter` (exit 2); library code raises
:class:`InputError`, which the CLI entry points turn into the same one-line message and exit code.
"""

from __future__ import annotations

import os
from pathlib import Path

import click


class InputError(ValueError):
    """Bad input from a user: the message names the bad value and what is allowed."""


def ensure_writable_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """Create ``path`` if needed and check that files can be written there, else a one-line exit-2 error."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / ".ti2v-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise click.BadParameter(f"{p} is not a writable directory ({e.strerror or e})", param_hint=option) from None
    return p


def positive_int(value: int, option: str) -> int:
    if value is None or value <= 0:
        raise click.BadParameter(f"{value} is not allowed; it must be a positive integer", param_hint=option)
    return value
