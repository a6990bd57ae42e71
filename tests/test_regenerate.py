"""Rebuilding published splits: presets, equality across executors (local pool vs Ray), array-task shares."""

from __future__ import annotations

import gzip
import json
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from cli_utils import datagen, error_line

from ti2v.datagen.regenerate import data_preset_names, load_preset

TINY_CATER = ["--set", "resolution=32", "--set", "samples=2", "--set", "frames=4", "--set", "shard_size=1",
              "--set", "objects=3-4"]


def test_presets_carry_the_paper_split_sizes():
    assert data_preset_names() == ["cater-gen-v1", "cater-gen-v2", "mnist-double", "mnist-modified", "mnist-single"]
    sizes = {n: load_preset(n)["splits"] for n in data_preset_names()}
    assert sizes["mnist-single"] == {"train": 10000, "test": 2000} == sizes["mnist-double"]
    assert sizes["mnist-modified"] == {"train": 24000, "test": 6000} == sizes["cater-gen-v2"]
    assert sizes["cater-gen-v1"] == {"train": 3500, "test": 1500}


def _regen(out, preset, *extra, env=None):
    return datagen("regenerate", preset, "--out", out, *extra, check=True, timeout=900, env=env)


@pytest.mark.parametrize("preset, extra", [
    ("mnist-modified", ["--scale", "0.001", "--digits", "sklearn", "--set", "shard_size=4"]),
    ("cater-gen-v2", ["--scale", "0.0005", "--splits", "test", *TINY_CATER]),
])
def test_local_and_ray_builds_verify_equal_and_a_changed_byte_is_named(tmp_path, preset, extra):
    _regen(tmp_path / "local", preset, *extra)
    systemp = Path(tempfile.mkdtemp(prefix="t", dir="/tmp"))  # short: Ray's socket paths live under it
    try:
        _regen(tmp_path / "ray", preset, *extra, "--executor", "ray", "--workers", "2", env={"TMPDIR": str(systemp)})
        # the workers' temporary files (the renderer's frames, Blender's session folder) are gone; Ray's logs stay
        assert [p.name for p in systemp.iterdir()] in ([], ["ray"])
    finally:
        shutil.rmtree(systemp, ignore_errors=True)
    for split in json.loads((tmp_path / "local" / "regenerate.json").read_text())["split_sizes"]:
        ref = tmp_path / "local" / split / "manifest.json"
        proc = datagen("verify", tmp_path / "ray" / split, "--against", ref)
        assert proc.returncode == 0, proc.stderr
    shard = sorted((tmp_path / "ray" / "test").glob("shard-*.h5"))[-1]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(data)
    proc = datagen("verify", tmp_path / "ray", "--against", tmp_path / "local")
    assert proc.returncode == 1 and shard.name in proc.stderr


def test_array_task_shares_build_the_same_split(tmp_path):
    common = ["--scale", "0.001", "--digits", "sklearn", "--set", "shard_size=5", "--splits", "train"]
    _regen(tmp_path / "whole", "mnist-modified", *common)
    for i in range(3):
        proc = _regen(tmp_path / "shares", "mnist-modified", *common, "--shard-index", str(i), "--num-shards", "3")
        complete = (tmp_path / "shares" / "train" / "manifest.json").exists()
        assert complete == (i == 2), "only the share that completes the split writes the manifest"
        assert ("this share" in proc.stdout) == (i < 2)
    proc = datagen("verify", tmp_path / "shares", "--against", tmp_path / "whole")
    assert proc.returncode == 0, proc.stderr
    whole = json.loads((tmp_path / "whole" / "train" / "manifest.json").read_text())
    seeds = [s["seed"] for s in whole["shards"]]
    assert len(set(seeds)) == len(seeds), "shards of a split never share a seed"


def test_verify_against_a_different_build_fails(tmp_path):
    _regen(tmp_path / "a", "mnist-modified", "--scale", "0.001", "--digits", "sklearn", "--splits", "test")
    _regen(tmp_path / "b", "mnist-modified", "--scale", "0.001", "--digits", "sklearn", "--splits", "test", "--set", "seed=7")
    proc = datagen("verify", tmp_path / "b", "--against", tmp_path / "a" / "test" / "manifest.json")
    assert proc.returncode == 1 and "shard-00000.h5" in proc.stderr


@pytest.mark.parametrize("args, names", [
    (["no-such-preset"], "no-such-preset"),
    (["mnist-single", "--scale", "0"], "--scale"),
    (["mnist-single", "--splits", "val"], "val"),
    (["mnist-single", "--set", "colour=red"], "colour"),
    (["mnist-single", "--shard-index", "3", "--num-shards", "2"], "3"),
    (["mnist-single", "--address", "ray://x:1"], "--executor ray"),
])
def test_regenerate_bad_input(tmp_path, args, names):
    proc = datagen("regenerate", *args, "--out", tmp_path)
    assert proc.returncode == 2 and names in error_line(proc)


def _write_idx(path, array):
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    path.write_bytes(gzip.compress(header + np.ascontiguousarray(array, np.uint8).tobytes()))


def test_mnist_dir_feeds_regenerate(tmp_path):
    """--mnist-dir DIR (as `ti2v-datagen mnist` takes it): the glyphs come from DIR's IDX files, not the cache."""
    root = tmp_path / "idx"
    root.mkdir()
    rng = np.random.default_rng(0)
    images = {}
    for prefix, n in (("train", 20), ("t10k", 10)):
        images[prefix] = rng.integers(1, 256, (n, 28, 28), dtype=np.uint8)
        _write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images[prefix])
        _write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    empty_cache = {"TI2V_CACHE": str(tmp_path / "no-cache")}
    proc = datagen("regenerate", "mnist-single", "--out", tmp_path / "missing", "--scale", "0.0005",
                   env=empty_cache)
    assert proc.returncode == 2 and "--mnist-dir" in error_line(proc)
    datagen("regenerate", "mnist-single", "--out", tmp_path / "o", "--scale", "0.0005", "--mnist-dir", root,
            check=True, env=empty_cache)
    from ti2v.datagen.dataset import ShardDataset

    for split, prefix in (("train", "train"), ("test", "t10k")):
        ds = ShardDataset(tmp_path / "o", split, eta=0.0)
        assert ds.attrs["digit_source"] == "mnist" and len(ds) >= 1
        glyph = ds.annotations(0)["digit_images"][0]
        assert any(np.array_equal(glyph, img) for img in images[prefix]), "glyph read from --mnist-dir"
    assert json.loads((tmp_path / "o" / "regenerate.json").read_text())["published"] is False  # scaled down
    proc = datagen("regenerate", "cater-gen-v1", "--out", tmp_path / "c", "--scale", "0.001", "--mnist-dir", root)
    assert proc.returncode == 2 and "--mnist-dir" in error_line(proc)
