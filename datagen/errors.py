"""One-line user errors with exit code 2, shared by every command.

Commands raise :class:`click.UsageError` / :class:`click.BadParameter` (exit 2); library code raises
:class:`InputError`, which the CLI entry points turn into the same one-line message and exit code.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

import click


class InputError(ValueError):
    """Bad input from a user: the message names the bad value and what is allowed."""


class Terminated(BaseException):
    """SIGTERM arrived (a scheduler's kill, ``timeout``): raised in the main thread so ``finally`` blocks release
    locks and stop worker processes, as Ctrl-C's KeyboardInterrupt does. Not an Exception: nothing swallows it."""


def _raise_terminated(signum, frame):
    raise Terminated()


def _probe_write(folder: Path) -> None:
    """Write and remove a file in ``folder`` (OSError if it cannot be done); a name of its own, because array
    tasks on several hosts start together in one --out."""
    fd, probe = tempfile.mkstemp(prefix=".ti2v-write-test-", dir=folder)
    os.close(fd)
    os.unlink(probe)


def ensure_writable_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """Create ``path`` if needed and check that files can be written there, else a one-line exit-2 error."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        _probe_write(p)
    except OSError as e:
        raise click.BadParameter(f"{p} is not a writable directory ({e.strerror or e})", param_hint=option) from None
    return p


def check_out_dir(out: str | os.PathLike, option: str = "--out") -> None:
    """``out`` must be (or be creatable as) a writable folder: checked before a long job starts, creating nothing
    (a job that fails at its first write after minutes of work loses them)."""
    p = Path(out).absolute()
    if p.exists() and not p.is_dir():
        raise click.BadParameter(f"{out} is a file, not a folder", param_hint=option)
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise click.BadParameter(f"{out} cannot be made: {probe} is a file", param_hint=option)
    try:
        _probe_write(probe)
    except OSError as e:
        raise click.BadParameter(f"{out} is not writable ({probe}: {e.strerror or e})", param_hint=option) from None


def safe_yaml(text, what: str):
    """``yaml.safe_load``, with any YAML error as one InputError line saying where and what is allowed (a
    ``!!python/...`` tag is named and refused, never constructed)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        if isinstance(e, yaml.constructor.ConstructorError) and "tag" in str(e.problem):
            tag = str(e.problem).split("tag", 1)[1].strip().strip("'")
            tag = tag.replace("tag:yaml.org,2002:", "!!")
            raise InputError(f"{what}{where}: tag {tag} is not allowed; presets are plain YAML (mappings, lists, "
                             "numbers, strings, true/false)") from None
        raise InputError(f"{what}{where}: not valid YAML ({e.problem or e})") from None


def run_group(group: click.Group, args=None, extra_errors: tuple[type[Exception], ...] = ()) -> None:
    """Run a click group as a console script: errors about user input become one line on stderr and exit 2.

    click's own usage errors print a usage block; a user who typed a bad value wants the one line that names it.
    Ctrl-C (SIGINT) ends with "Aborted." and exit 130, SIGTERM with "Terminated." and exit 143, after the
    command's ``finally`` blocks have stopped its workers (``runner``) and released its locks.
    """
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        group.main(args=args, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except Terminated:
        click.echo("Terminated.", err=True)
        sys.exit(143)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        message = " ".join(e.format_message().split())
        click.echo(f"Error: {message}", err=True)
        sys.exit(2 if isinstance(e, click.UsageError) else e.exit_code)
    except (InputError, *extra_errors) as e:
        click.echo(f"Error: {' '.join(str(e).split())}", err=True)
        sys.exit(2)
    finally:
        signal.signal(signal.SIGTERM, previous)
