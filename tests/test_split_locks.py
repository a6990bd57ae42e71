"""Runs that overlap in one split folder: array tasks started together, a second identical command, --wait."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
import time

from cli_utils import REPO, datagen, error_line
from filelock import FileLock

ARRAY = ["--variant", "single", "--split", "train", "--num-videos", "40", "--shard-size", "10",
         "--digits", "sklearn", "--seed", "4"]


def _cmd(out, *extra):
    return [sys.executable, "-m", "ti2v.datagen.cli", "mnist", *ARRAY, "--out", str(out), *map(str, extra)]


def _same_as_one_process(tmp_path, split):
    datagen(*_cmd(tmp_path / "single")[3:], check=True)
    ref = tmp_path / "single" / "train"
    for name in ["manifest.json"] + [f"shard-{i:05d}.h5" for i in range(4)]:
        assert filecmp.cmp(split / name, ref / name, shallow=False), name


def test_overlapping_array_tasks_finish_the_split_once(tmp_path):
    for trial in range(3):
        out = tmp_path / f"array{trial}"
        procs = [subprocess.Popen(_cmd(out, "--num-shards", 2, "--shard-index", i), cwd=REPO, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in (0, 1)]
        results = [p.communicate(timeout=300) for p in procs]
        for p, (stdout, stderr) in zip(procs, results):
            assert p.returncode == 0, stderr[-3000:]
            assert "Traceback" not in stderr
        assert sum("wrote 40 videos in 4 shards" in stdout for stdout, _ in results) >= 1
        split = out / "train"
        assert not list(split.glob("*.tmp")) and not list((split / ".locks").glob("owner-*"))
        assert datagen("verify", out).returncode == 0
    _same_as_one_process(tmp_path, split)
    # the manifest is written once: a task rerun after the split is complete leaves the file as it is
    before = (split / "manifest.json").stat()
    datagen(*_cmd(out, "--num-shards", 2, "--shard-index", 1)[3:], check=True)
    after = (split / "manifest.json").stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_array_task_starting_late_keeps_the_running_tasks_temporaries(tmp_path):
    """Task 1 starts while task 0 is writing a shard (the normal case in a Slurm array): before, its start-up
    deleted task 0's temporary and task 0 crashed on the rename."""
    out = tmp_path / "late"
    args = [sys.executable, "-m", "ti2v.datagen.cli", "mnist", "--variant", "double", "--split", "train",
            "--num-videos", "12000", "--shard-size", "1000", "--out", str(out), "--digits", "sklearn", "--seed", "3",
            "--num-shards", "2"]
    first = subprocess.Popen(args + ["--shard-index", "0"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    split = out / "train"
    deadline = time.time() + 120
    while time.time() < deadline and not list(split.glob("*.tmp")):
        time.sleep(0.02)
    second = subprocess.run(args + ["--shard-index", "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0 and "Traceback" not in stderr, stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    assert datagen("verify", out).returncode == 0
    assert len(json.loads((split / "manifest.json").read_text())["shards"]) == 12


def test_start_up_removes_only_temporaries_of_dead_runs(tmp_path):
    split = tmp_path / "train"
    (split / ".locks").mkdir(parents=True)
    live = split / "shard-00003.h5.otherhost-11.tmp"
    dead = split / "shard-00002.h5.deadhost-12.tmp"
    legacy = split / "shard-00001.h5.tmp"
    for path in (live, dead, legacy):
        path.write_bytes(b"partial")
    (split / ".locks" / "owner-deadhost-12.lock").write_text("")  # its owner died: the lock is free
    with FileLock(split / ".locks" / "owner-otherhost-11.lock"):  # a live task on another host holds its lock
        datagen(*_cmd(tmp_path, "--num-shards", 2, "--shard-index", 0)[3:], check=True)
        assert live.read_bytes() == b"partial", "a live task's temporary was deleted"
        assert not dead.exists() and not legacy.exists()
        assert not (split / ".locks" / "owner-deadhost-12.lock").exists()


def test_second_identical_run_is_refused_or_waits(tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "ti2v.datagen.cli", "mnist", "--variant", "double", "--split", "train",
            "--num-videos", "12000", "--shard-size", "1000", "--out", str(out), "--digits", "sklearn", "--seed", "2"]
    first = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    split = out / "train"
    deadline = time.time() + 120
    while time.time() < deadline and not list(split.glob("*.tmp")):
        time.sleep(0.02)
    assert first.poll() is None, "the first run should still be making shards"
    second = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
    line = error_line(second)
    assert second.returncode == 2 and str(split) in line and "--wait" in line and f"pid {first.pid}" in line
    waiting = subprocess.run(args + ["--wait"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.wait(timeout=300) == 0, first.stderr.read()[-3000:]
    assert waiting.returncode == 0 and "Traceback" not in waiting.stderr, waiting.stderr[-3000:]
    assert "waiting for" in waiting.stderr and "wrote 12000 videos in 12 shards" in waiting.stdout
    assert datagen("verify", out).returncode == 0
    manifest = json.loads((split / "manifest.json").read_text())
    assert len(manifest["shards"]) == 12 and not list(split.glob("*.tmp"))
