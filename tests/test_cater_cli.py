"""``ti2v-datagen cater`` as a user runs it: one-line exit-2 errors, resume after SIGKILL, worker-count independence."""

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from cli_utils import REPO, datagen, error_line

from ti2v.datagen.cater.cli import parse_objects

TINY = ["--version", "v2", "--objects", "3-4", "--resolution", "32", "--frames", "4", "--samples", "2", "--threads", "1", "--seed", "5"]


@pytest.mark.parametrize("value", ["9-3", "0-2", "a-b", "1-9", "3-"])
def test_bad_objects(tmp_path, value):
    proc = datagen("cater", "--objects", value, "--num-videos", "1", "--out", tmp_path)
    assert proc.returncode == 2
    line = error_line(proc)
    assert value in line and "--objects" in line


def test_objects_parse():
    assert parse_objects("3-8") == (3, 8) and parse_objects("5") == (5, 5) and parse_objects("2-2") == (2, 2)


def test_unknown_version(tmp_path):
    proc = datagen("cater", "--version", "v3", "--num-videos", "1", "--out", tmp_path)
    assert proc.returncode == 2
    assert "v3" in error_line(proc)


def test_unwritable_out(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = datagen("cater", "--num-videos", "1", "--out", blocker / "sub")
    assert proc.returncode == 2
    assert "--out" in error_line(proc)


def _shards(split_dir):
    out = []
    for p in sorted(split_dir.glob("shard-*.h5")):
        with h5py.File(p, "r") as f:
            out.append(
                (
                    [s.decode() for s in f["captions/explicit"][:]],
                    [s.decode() for s in f["captions/ambiguous"][:]],
                    [s.decode() for s in f["annotations/plan_json"][:]],
                    f["videos"][:],
                    f["annotations/masks"][:],
                )
            )
    return out


def test_killed_run_resumes_and_matches_other_worker_count(tmp_path):
    args = [sys.executable, "-m", "ti2v.datagen.cli", "cater", *TINY, "--num-videos", "4", "--shard-size", "1"]
    killed = tmp_path / "killed"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(args + ["--out", str(killed)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = killed / "train" / "shard-00000.h5"
    deadline = time.time() + 120
    while not first.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert first.exists()
    assert not (killed / "train" / "manifest.json").exists()
    done_before = len(list((killed / "train").glob("shard-*.h5")))
    assert done_before < 4
    rerun = subprocess.run(args + ["--out", str(killed)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    manifest = json.loads((killed / "train" / "manifest.json").read_text())
    assert manifest["num_videos"] == 4 and len(manifest["shards"]) == 4
    verify = datagen("verify", killed / "train")
    assert verify.returncode == 0, verify.stderr[-2000:]

    two = tmp_path / "two"
    clean = subprocess.run(args + ["--out", str(two), "--workers", "2"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr[-2000:]
    a, b = _shards(killed / "train"), _shards(two / "train")
    assert len(a) == len(b) == 4
    for sa, sb in zip(a, b):
        assert sa[0] == sb[0] and sa[1] == sb[1] and sa[2] == sb[2]  # plans and captions
        assert np.array_equal(sa[4], sb[4])  # masks
        assert np.abs(sa[3].astype(int) - sb[3].astype(int)).max() <= 2  # Cycles pixels (same seed, same settings)
    with h5py.File(killed / "train" / "shard-00000.h5", "r") as f:
        assert f.attrs["dataset"] == "cater-gen-v2" and list(f.attrs["speed_interval"]) == [3, 6]
        assert f.attrs["resolution"] == 32 and f.attrs["samples"] == 2 and f.attrs["blender_version"]
        assert f["annotations/masks"].shape == (1, 4, 32, 32)


def test_v1_and_ambiguous_default(tmp_path):
    proc = datagen("cater", *TINY[4:], "--version", "v1", "--ambiguous", "--num-videos", "1", "--out", tmp_path,
                   "--split", "test")
    assert proc.returncode == 0, proc.stderr[-2000:]
    with h5py.File(tmp_path / "test" / "shard-00000.h5", "r") as f:
        assert f.attrs["dataset"] == "cater-gen-v1" and f.attrs["default_caption"] == "ambiguous"
        shapes = [s.decode() for s in f["annotations/shape"][0]]
        assert shapes[:2] == ["cone", "snitch"] and shapes[2:] == [""] * 6
    prev = datagen("preview", tmp_path / "test", "--out", tmp_path / "p.png", "--masks")
    assert prev.returncode == 0, prev.stderr[-2000:]


def test_gpu_without_gpu_is_one_line_error(tmp_path):
    proc = datagen("cater", *TINY, "--device", "gpu", "--num-videos", "1", "--out", tmp_path)
    if proc.returncode == 0:  # a machine with a GPU Cycles can use
        return
    assert proc.returncode == 2
    assert "--device gpu" in error_line(proc)


def test_num_videos_is_required(tmp_path):
    proc = datagen("cater", "--out", tmp_path)
    assert proc.returncode == 2 and "--num-videos" in error_line(proc)
    assert not any(tmp_path.iterdir())


def test_v1_refuses_an_object_count(tmp_path):
    proc = datagen("cater", "--version", "v1", "--objects", "3-8", "--num-videos", "1", "--out", tmp_path)
    assert proc.returncode == 2
    line = error_line(proc)
    assert "3-8" in line and "v1" in line
    assert not any(tmp_path.iterdir())


def test_v2_without_objects_has_three_to_eight(tmp_path):
    proc = datagen("cater", *TINY[4:], "--num-videos", "1", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"n_min": 3' in (tmp_path / "train" / "run.json").read_text()
