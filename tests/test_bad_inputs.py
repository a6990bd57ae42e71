"""Issue 18: bad input is one line on stderr and exit 2, and leaves nothing behind (no output folder, no run.json,
no temporary folder), checked before anything is created; --set values go through the command-line checks."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cli_utils import REPO, datagen, error_line

MNIST = ["mnist", "--variant", "single", "--split", "test", "--num-videos", "2", "--digits", "sklearn"]
CATER = ["cater", "--version", "v1", "--split", "test", "--num-videos", "2", "--resolution", "32", "--samples", "1",
         "--frames", "4", "--no-denoise", "--threads", "1", "--shard-size", "2"]


def refused(proc, folder, *named) -> str:
    """One 'Error:' line naming ``named``, exit 2, no traceback, and ``folder`` still empty."""
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    line = error_line(proc)
    assert line.startswith("Error: ")
    for text in named:
        assert text in line, line
    assert not any(folder.iterdir()), sorted(p.name for p in folder.iterdir())
    return line


# ------------------------------------------------------------------ 1. seeds
@pytest.mark.parametrize("seed", [str(2**70), "-1", str(2**63)])
@pytest.mark.parametrize("command", [MNIST, CATER, ["regenerate", "mnist-single", "--scale", "0.001", "--digits",
                                                    "sklearn", "--set"]])
def test_seed_outside_0_to_2_63(tmp_path, command, seed):
    args = [*command, f"seed={seed}"] if command[-1] == "--set" else [*command, "--seed", seed]
    line = refused(datagen(*args, "--out", tmp_path / "out"), tmp_path, seed)
    assert "0..2**63-1" in line


def test_largest_seed_is_allowed(tmp_path):
    datagen(*MNIST, "--seed", str(2**63 - 1), "--out", tmp_path, check=True)
    assert json.loads((tmp_path / "test" / "run.json").read_text())["seed"] == 2**63 - 1


# ------------------------------------------------------------------ 2. --num-videos
@pytest.mark.parametrize("command", [MNIST, CATER])
def test_too_many_videos_refused_at_once(tmp_path, command):
    args = list(command)
    args[args.index("--num-videos") + 1] = "1000000000000"
    t = time.perf_counter()
    refused(datagen(*args, "--out", tmp_path / "out", timeout=60), tmp_path, "1000000000000", "1..10,000,000")
    assert time.perf_counter() - t < 30


def test_too_many_shards_refused(tmp_path):
    args = [*MNIST[:-2], "--num-videos", "10000000", "--shard-size", "1", "--digits", "sklearn"]
    refused(datagen(*args, "--out", tmp_path / "out"), tmp_path, "100,000 shards", "at least 100")


# ------------------------------------------------------------------ 3. CATER --resolution
@pytest.mark.parametrize("value", ["1", "2", "15", "1025", "100000"])
def test_cater_resolution_range(tmp_path, value):
    args = list(CATER)
    args[args.index("--resolution") + 1] = value
    refused(datagen(*args, "--out", tmp_path / "out"), tmp_path, value, "16..1,024")


def test_cater_help_states_the_ranges():
    text = " ".join(datagen("cater", "--help", check=True).stdout.split())
    assert "16..1024" in text and "2..300" in text and "1..4096" in text and "0..2**63-1" in text


# ------------------------------------------------------------------ 4. regenerate --set
@pytest.mark.parametrize("preset, value, named", [
    ("mnist-single", "frames=abc", "'abc'"),
    ("mnist-single", "frames=-3", "8..1,000"),
    ("mnist-single", "shard_size=0", "1..10,000,000"),
    ("mnist-single", "seed=[1,2]", "[1, 2]"),
    ("mnist-single", "variant=triple", "single, double, modified"),
    ("mnist-single", "distractor_prob=5", "0..1"),
    ("cater-gen-v1", "resolution=0", "16..1,024"),
    ("cater-gen-v1", "samples=many", "'many'"),
    ("cater-gen-v1", "denoise=maybe", "true, false"),
    ("cater-gen-v1", "objects=3-4", "v1"),
])
def test_regenerate_set_goes_through_the_option_checks(tmp_path, preset, value, named):
    args = ["regenerate", preset, "--scale", "0.001", "--digits", "sklearn", "--set", value]
    refused(datagen(*args, "--out", tmp_path / "out"), tmp_path, f"--set {value.split('=')[0]}", named)


def test_preset_file_values_are_checked(tmp_path):
    preset = tmp_path / "p.yaml"
    preset.write_text("dataset: mnist-single\ngenerator: mnist\nseed: 1\nshard_size: 10\nsplits: {test: 10}\n"
                      "options: {variant: single, frames: 20, distractor_prob: 2, digits: sklearn}\n")
    proc = datagen("regenerate", preset, "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert f"distractor_prob in preset {preset}" in error_line(proc)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ 5. run.json only after validation
def test_a_refused_run_does_not_block_the_corrected_one(tmp_path):
    refused(datagen(*MNIST, "--seed", str(2**70), "--out", tmp_path / "out"), tmp_path, "--seed")
    datagen(*MNIST, "--seed", "1", "--out", tmp_path / "out", check=True)


def test_run_json_without_shards_or_live_run_is_replaced(tmp_path):
    """A run that failed before its first shard (a render error, say) left run.json; the next run may replace it."""
    split = tmp_path / "test"
    split.mkdir()
    (split / "run.json").write_text(json.dumps({"seed": 5, "frames": 9}))
    datagen(*MNIST, "--out", tmp_path, check=True)
    assert json.loads((split / "run.json").read_text())["seed"] == 0


# ------------------------------------------------------------------ 6. free disk space
def test_full_disk_refused_with_both_numbers(tmp_path, monkeypatch, capsys):
    from ti2v.datagen import limits
    from ti2v.datagen.cli import main
    from ti2v.datagen.errors import run_group

    monkeypatch.setattr(limits, "free_bytes", lambda path: 10_000)
    with pytest.raises(SystemExit) as e:
        run_group(main, [*MNIST[:-4], "--num-videos", "1000", "--digits", "sklearn", "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    # 1000 videos x 20 frames x 64 x 64 bytes / 16
    assert "10.0 kB free" in lines[0] and "needs about 5.1 MB" in lines[0] and "1,000 videos" in lines[0]
    assert not any(tmp_path.iterdir())


def test_space_estimate_counts_only_missing_shards(tmp_path):
    from ti2v.datagen import limits

    assert limits.videos_to_make(tmp_path, 10, 4) == 10
    (tmp_path / "shard-00001.h5").write_bytes(b"")
    assert limits.videos_to_make(tmp_path, 10, 4) == 6
    assert limits.videos_to_make(tmp_path, 10, 4, shard_index=0, num_shards=2) == 6  # shards 0 and 2
    # a published Modified Double train split is estimated below what it takes (5.47 KiB/video measured)
    assert limits.video_bytes("mnist", {"frames": 20}) * 24000 // limits.COMPRESSION < 24000 * 5.47 * 1024


# ------------------------------------------------------------------ 7. CATER temporaries
@pytest.fixture
def tmpdir_env(tmp_path):
    folder = tmp_path / "systemp"
    folder.mkdir()
    return folder, dict(os.environ, TMPDIR=str(folder), PYTHONUNBUFFERED="1")


def test_cater_run_leaves_nothing_in_tmpdir(tmp_path, tmpdir_env):
    pytest.importorskip("bpy")
    folder, env = tmpdir_env
    proc = subprocess.run([sys.executable, "-m", "ti2v.datagen.cli", *CATER, "--out", str(tmp_path / "out")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out" / "test" / "manifest.json").exists()
    assert not list(folder.iterdir())


def _has_gpu() -> bool:
    from ti2v.datagen.cater.job import check_device
    from ti2v.datagen.errors import InputError

    try:
        return check_device("gpu") != "cpu"
    except InputError:
        return False


@pytest.mark.parametrize("command", [[*CATER, "--device", "gpu"],
                                     ["regenerate", "cater-gen-v1", "--scale", "0.001", "--set", "device=gpu"]])
def test_gpu_without_a_gpu_refused_before_anything_is_made(tmp_path, tmpdir_env, command):
    pytest.importorskip("bpy")
    if _has_gpu():
        pytest.skip("this machine has a GPU Cycles can use")
    folder, env = tmpdir_env
    where = tmp_path / "where"
    where.mkdir()
    proc = subprocess.run([sys.executable, "-m", "ti2v.datagen.cli", *command, "--out", str(where / "out")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    refused(proc, where, "--device gpu", "--device cpu")
    assert not list(folder.iterdir())  # and no worker temporary folder


@pytest.mark.parametrize("how", ["sigint", "sigkill-parent"])
def test_stopped_cater_run_leaves_nothing_in_tmpdir(tmp_path, tmpdir_env, how):
    pytest.importorskip("bpy")
    folder, env = tmpdir_env
    args = list(CATER)
    args[args.index("--num-videos") + 1] = "200"
    proc = subprocess.Popen([sys.executable, "-m", "ti2v.datagen.cli", *args, "--out", str(tmp_path / "out")],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list(folder.rglob("ti2v-cater-*")):  # the worker's renderer is up
            time.sleep(0.1)
        assert list(folder.rglob("ti2v-cater-*")), "the worker never built its renderer"
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGINT if how == "sigint" else signal.SIGKILL)
        proc.wait(60)
        deadline = time.time() + 30  # after SIGKILL the worker notices its parent is gone within 0.25 s
        while time.time() < deadline and list(folder.iterdir()):
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not list(folder.iterdir()), [str(p) for p in folder.rglob("*")][:5]


# ------------------------------------------------------------------ 8. bench/bad_inputs.py
SOME = ["mnist --seed 2**70", "mnist full disk", "cater --resolution 1", "regenerate --set distractor_prob=5",
        "regenerate preset with !!python/object", "train --data without splits",
        "train mage --vqvae is not a checkpoint", "bench inputs --seed -1"]


def test_bad_input_probes(tmp_path):
    spec = importlib.util.spec_from_file_location("bad_inputs", REPO / "bench" / "bad_inputs.py")
    bad = importlib.util.module_from_spec(spec)
    sys.modules["bad_inputs"] = bad  # its dataclasses look their module up
    spec.loader.exec_module(bad)
    assert len(bad.PROBES) >= 40 and {"datagen", "train", "bench"} == {p.cli for p in bad.PROBES}
    probes = {p.name: p for p in bad.PROBES}
    data = bad.make_data(tmp_path / "data")
    results = [bad.run_probe(probes[name], data) for name in SOME]
    assert all(r.ok for r in results), bad.table(results)
