"""Moving MNIST shards end to end through the real command: bytes, split rule, verify, resume, bad input.

scikit-learn's bundled digits stand in for MNIST (``--digits sklearn``): MNIST cannot be downloaded here.
"""

from __future__ import annotations

import filecmp
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

from ti2v.datagen.shard import open_shard


def make(out, variant="modified", split="train", n=120, workers=1, seed=5, shard_size=40, extra=()):
    return datagen("mnist", "--variant", variant, "--split", split, "--num-videos", n, "--out", out, "--seed", seed,
                   "--shard-size", shard_size, "--workers", workers, "--digits", "sklearn", *extra, check=True)


def annotations(split_dir):
    rows = []
    for path in sorted(split_dir.glob("shard-*.h5")):
        with open_shard(path) as f:
            labels, moving, tracks = f["annotations/labels"][:], f["annotations/moving"][:], f["annotations/tracks"][:]
            rows += list(zip(labels, moving, tracks))
    return rows


def test_same_seed_same_bytes_for_one_and_two_workers(tmp_path):
    make(tmp_path / "a", workers=1)
    make(tmp_path / "b", workers=2)
    a, b = tmp_path / "a" / "train", tmp_path / "b" / "train"
    names = sorted(p.name for p in a.glob("*.h5"))
    assert names == sorted(p.name for p in b.glob("*.h5")) and len(names) == 3
    for name in names + ["manifest.json"]:
        assert filecmp.cmp(a / name, b / name, shallow=False), name
    other = tmp_path / "c"
    make(other, seed=6)
    assert not filecmp.cmp(a / names[0], other / "train" / names[0], shallow=False)


def _axis_combinations(split_dir, variant):
    combos = set()
    for labels, moving, tracks in annotations(split_dir):
        slots = np.flatnonzero(moving)
        axes = tuple(int(np.ptp(tracks[s, :, 0]) == 0) for s in slots)  # 0 horizontal, 1 vertical
        combos.add((tuple(int(labels[s]) for s in slots), axes))
    return combos


@pytest.mark.parametrize("variant", ["single", "double", "modified"])
def test_no_digit_axis_combination_in_both_splits(tmp_path, variant):
    n = 200 if variant == "single" else 900
    make(tmp_path, variant=variant, split="train", n=n, shard_size=n)
    make(tmp_path, variant=variant, split="test", n=n, shard_size=n, seed=9)
    train, test = _axis_combinations(tmp_path / "train", variant), _axis_combinations(tmp_path / "test", variant)
    assert train and test
    assert not train & test
    if variant == "single":  # each label in one axis per split, and both axes used across the splits
        assert len(train) == 10 and len(test) == 10


def test_shard_schema_and_attributes(tmp_path):
    make(tmp_path, n=40, shard_size=40)
    with open_shard(tmp_path / "train" / "shard-00000.h5") as f:
        assert f["videos"].shape == (40, 20, 64, 64, 1) and f["videos"].chunks == (1, 20, 64, 64, 1)
        assert f["videos"].compression == "gzip"
        assert f.attrs["dataset"] == "mnist-modified" and f.attrs["split"] == "train"
        assert list(f.attrs["speed_interval"]) == [1.0, 2.0]
        assert "sklearn-digits" in f.attrs["digit_source"]
        config = json.loads(f.attrs["config"])
        assert config["variant"] == "modified" and config["seed"] == 5
        assert f["captions/explicit"][0] == f["captions/ambiguous"][0]
        for key in ("labels", "moving", "tracks", "phrases", "bounce", "stop_frame", "digit_images"):
            assert f[f"annotations/{key}"].shape[0] == 40


def test_single_shards_mark_empty_slots_as_docs_say_and_pixels_follow_the_used_slots(tmp_path):
    """docs/FORMAT.md: unused slots hold -1 (labels, tracks, stop_frame); pixels are the used slots' glyphs only,
    and the readers (motion field, controllability) take the -1 slots as absent."""
    from ti2v.benchmark import mnist_control
    from ti2v.datagen.dataset import ShardDataset

    make(tmp_path, variant="single", n=12, shard_size=12)
    with open_shard(tmp_path / "train" / "shard-00000.h5") as f:
        labels, tracks = f["annotations/labels"][:], f["annotations/tracks"][:]
        stop, glyphs, videos = f["annotations/stop_frame"][:], f["annotations/digit_images"][:], f["videos"][:]
        assert (labels[:, 1:] == -1).all() and (labels[:, 0] >= 0).all()
        assert (tracks[:, 1:] == -1).all() and (stop[:, 1:] == -1).all() and (glyphs[:, 1:] == 0).all()
        assert (tracks[:, 0] >= 0).all() and (stop[:, 0] == 20).all()  # single digits bounce to the end
    for i in range(len(videos)):
        for t in range(20):
            x, y = tracks[i, 0, t]
            expected = np.zeros((64, 64), np.uint8)
            expected[y:y + 28, x:x + 28] = glyphs[i, 0]
            assert np.array_equal(videos[i, t, ..., 0], expected)
    ds = ShardDataset(tmp_path, "train", eta=1.0, motion=True)
    item = ds[3]
    assert item["motion"]["present"].tolist() == [True, False, False]
    assert item["motion"]["moving"].tolist() == [True, False, False]
    rec = mnist_control.score_clip(ds.raw_video(3)[item["frame_indices"].numpy()], item["annotations"],
                                   item["frame_indices"].numpy(), "mnist-single")
    assert [d["slot"] for d in rec["digits"]] == [0] and rec["motion_correct"]


def test_verify_catches_flipped_byte_and_truncation(tmp_path):
    make(tmp_path)
    assert datagen("verify", tmp_path).returncode == 0
    shard = tmp_path / "train" / "shard-00001.h5"
    data = bytearray(shard.read_bytes())
    backup = bytes(data)
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(data)
    proc = datagen("verify", tmp_path)
    assert proc.returncode == 1 and "shard-00001.h5" in proc.stderr
    shard.write_bytes(backup[: len(backup) // 3])
    proc = datagen("verify", tmp_path / "train")
    assert proc.returncode == 1 and "shard-00001.h5" in proc.stderr
    shard.write_bytes(backup)
    assert datagen("verify", tmp_path).returncode == 0


def test_killed_run_resumes_complete_without_duplicates(tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "ti2v.datagen.cli", "mnist", "--variant", "double", "--split", "train",
            "--num-videos", "3000", "--shard-size", "250", "--out", str(out), "--digits", "sklearn", "--seed", "2"]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    split = out / "train"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(split.glob("shard-*.h5"))) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(split.glob("shard-*.h5")))
    assert 2 <= done_before < 12, "the kill should land mid-run"
    assert not (split / "manifest.json").exists()
    subprocess.run(args, cwd=REPO, check=True, capture_output=True)
    assert datagen("verify", out).returncode == 0
    manifest = json.loads((split / "manifest.json").read_text())
    assert manifest["num_videos"] == 3000 and len(manifest["shards"]) == 12
    assert not list(split.glob("*.tmp"))
    # identical to an uninterrupted run
    make(tmp_path / "clean", variant="double", n=3000, shard_size=250, seed=2)
    for name in ["manifest.json"] + [f"shard-{i:05d}.h5" for i in range(12)]:
        assert filecmp.cmp(split / name, tmp_path / "clean" / "train" / name, shallow=False), name


def test_rerun_with_other_settings_is_refused(tmp_path):
    make(tmp_path, n=40)
    proc = datagen("mnist", "--variant", "modified", "--split", "train", "--num-videos", 40, "--out", tmp_path,
                   "--seed", 99, "--shard-size", 40, "--digits", "sklearn")
    assert proc.returncode == 2 and "seed" in error_line(proc)


@pytest.mark.parametrize(
    "args, names",
    [
        (["--variant", "single", "--num-videos", "0"], "0"),
        (["--variant", "single", "--num-videos", "-4"], "-4"),
        (["--variant", "triple", "--num-videos", "4"], "triple"),
        (["--variant", "single", "--num-videos", "4", "--shard-size", "0"], "--shard-size"),
        (["--variant", "modified", "--num-videos", "4", "--frames", "5"], "5"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, args, names):
    proc = datagen("mnist", "--split", "train", "--out", tmp_path, "--digits", "sklearn", *args)
    assert proc.returncode == 2
    assert names in error_line(proc)


def test_unwritable_output_and_missing_mnist(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = datagen("mnist", "--variant", "single", "--split", "train", "--num-videos", 4, "--out", blocker / "sub",
                   "--digits", "sklearn")
    assert proc.returncode == 2 and str(blocker) in error_line(proc)
    proc = datagen("mnist", "--variant", "single", "--split", "train", "--num-videos", 4, "--out", tmp_path / "o",
                   "--mnist-dir", tmp_path / "empty")
    line = error_line(proc)
    assert proc.returncode == 2 and "fetch mnist" in line and "--digits sklearn" in line


def test_info_and_preview(tmp_path):
    make(tmp_path, n=40, shard_size=40)
    proc = datagen("info", tmp_path, "--json", check=True)
    summary = json.loads(proc.stdout)["splits"][0]
    assert summary["num_videos"] == 40 and summary["frames"] == 20 and summary["height"] == 64
    for name in ("sheet.png", "clip.gif"):
        datagen("preview", tmp_path, "--out", tmp_path / name, "--count", 3, check=True)
        import imageio.v2 as imageio

        image = imageio.imread(tmp_path / name)
        assert image.shape[0] > 64 and image.shape[1] > 64
    sheet = imageio.imread(tmp_path / "sheet.png")
    assert sheet.shape[1] >= 20 * 64  # one row of 20 frames per video
    proc = datagen("preview", tmp_path, "--out", tmp_path / "x.jpg")
    assert proc.returncode == 2 and "x.jpg" in error_line(proc)
    proc = datagen("preview", tmp_path, "--out", tmp_path / "m.png", "--masks")
    assert proc.returncode == 2 and "masks" in error_line(proc)


def test_train_and_test_splits_draw_different_glyph_pools(tmp_path):
    make(tmp_path, split="train", n=40, shard_size=40)
    make(tmp_path, split="test", n=40, shard_size=40)
    with h5py.File(tmp_path / "train" / "shard-00000.h5") as a, h5py.File(tmp_path / "test" / "shard-00000.h5") as b:
        ga = {g.tobytes() for g in a["annotations/digit_images"][:].reshape(-1, 28, 28) if g.any()}
        gb = {g.tobytes() for g in b["annotations/digit_images"][:].reshape(-1, 28, 28) if g.any()}
    assert ga and gb and not ga & gb


def test_chunk_deflate_is_the_same_whatever_the_heap_holds(tmp_path):
    """Shard bytes must not depend on the process's history: the chunks ShardWriter stored for 3,000 videos are
    recomputed in a fresh process and in this one while the heap is churned with random data. (ISA-L, used before,
    let the heap leak into the output: its one-shot API once in the killed-run test, its streaming API here, at
    about one video in 3,000.)"""
    import hashlib

    from ti2v.datagen.shard import deflate_chunk

    make(tmp_path, variant="double", n=3000, shard_size=1000, seed=11)
    paths = sorted((tmp_path / "train").glob("shard-*.h5"))
    stored, videos = [], []
    for path in paths:
        with open_shard(path) as f:
            ds = f["videos"]
            videos.extend(ds[:])
            stored += [hashlib.sha256(ds.id.read_direct_chunk((i, 0, 0, 0, 0))[1]).hexdigest() for i in range(len(ds))]
    rng = np.random.default_rng(0)
    junk: list[bytes] = []
    churned = []
    for video in videos:
        junk.append(os.urandom(int(rng.integers(1_000, 400_000))))
        if len(junk) > 20:
            junk.pop(int(rng.integers(0, 20)))
        churned.append(hashlib.sha256(deflate_chunk(video)).hexdigest())
    assert churned == stored
    np.save(tmp_path / "videos.npy", np.stack(videos))
    script = ("import hashlib, sys, numpy as np; from ti2v.datagen.shard import deflate_chunk; "
              "print('\\n'.join(hashlib.sha256(deflate_chunk(v)).hexdigest() for v in np.load(sys.argv[1])))")
    fresh = subprocess.run([sys.executable, "-c", script, str(tmp_path / "videos.npy")], capture_output=True,
                           text=True, check=True).stdout.split()
    assert fresh == stored


def test_partly_done_array_run_names_missing_shards(tmp_path):
    args = ["mnist", "--variant", "single", "--split", "train", "--num-videos", 40, "--shard-size", 10,
            "--out", tmp_path, "--digits", "sklearn", "--num-shards", 2]
    datagen(*args, "--shard-index", 0, check=True)
    for command in ("verify", "info"):
        proc = datagen(command, tmp_path)
        line = error_line(proc)
        assert proc.returncode == 2 and "2 of 4 shards present, missing shard-00001.h5, shard-00003.h5" in line
    datagen(*args, "--shard-index", 1, check=True)
    proc = datagen("verify", tmp_path, check=True)
    assert "OK: 1 split (mnist-single/train), 4 shards, 40 videos" in proc.stdout
    proc = datagen("info", tmp_path, check=True)
    assert "NOT the published split" in proc.stdout and "num_videos 40 (published 10000)" in proc.stdout
    assert "settings: digits=sklearn" in proc.stdout
