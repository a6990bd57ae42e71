"""Progress on long work reaches logs that are not a terminal, one readable line per report."""

from __future__ import annotations

from cli_utils import datagen


def test_datagen_progress_in_a_log_is_plain_lines(tmp_path):
    proc = datagen("mnist", "--variant", "single", "--split", "test", "--num-videos", "3", "--out", tmp_path,
                   "--digits", "sklearn", check=True)
    assert "\r" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert any("3/3" in line and "100%" in line for line in lines), proc.stderr
