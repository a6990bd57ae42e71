"""Every console script answers -h and --version, and every option of every command has a help text."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from ti2v.benchmark.cli import main as bench
from ti2v.datagen.cli import main as datagen
from ti2v.models.train_cli import main as train


def _commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,), cmd


@pytest.mark.parametrize("group", [datagen, bench, train], ids=["ti2v-datagen", "ti2v-bench", "ti2v-train"])
def test_help_version_and_option_help(group):
    r = CliRunner().invoke(group, ["-h"])
    assert r.exit_code == 0 and "Usage:" in r.output
    r = CliRunner().invoke(group, ["--version"])
    assert r.exit_code == 0 and "version" in r.output
    missing = [f"{' '.join(path)} {p.opts[0]}" for path, cmd in _commands(group) for p in cmd.params
               if isinstance(p, click.Option) and not p.hidden and not p.help]
    assert not missing, f"options without help: {missing}"
