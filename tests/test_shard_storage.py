"""Shards any HDF5 from 1.10 on reads: the writer's format bounds, Debian's h5dump (HDF5 1.10) and an older h5py.

h5dump runs when the binary is on PATH (``apt-get install hdf5-tools``; skipped otherwise). The older h5py runs
when ``TI2V_OLD_H5PY_PYTHON`` names a Python that has one (e.g. a venv with ``h5py==3.11.0``, HDF5 1.14; skipped
otherwise): it reads every dataset and attribute and its bytes are compared with the writer's. ``make interop-test``
(run by CI) installs both and sets ``TI2V_REQUIRE_INTEROP=1``, which turns these skips into failures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from ti2v.datagen.shard import ShardWriter, open_shard

REQUIRED = os.environ.get("TI2V_REQUIRE_INTEROP") == "1"  # CI: a missing reader is a failure, not a skip
ATTRS = {"dataset": "mnist-single", "split": "train", "generator_version": "t", "config": {"a": 1, "b": "x"},
         "seed": 3, "speed_interval": [1.0, 2.0], "frames": 4, "shard_index": 0, "first_index": 0}


def _write(path, n=5):
    rng = np.random.default_rng(0)
    videos = rng.integers(0, 255, (n, 4, 8, 8, 1), dtype=np.uint8)
    with ShardWriter(path, ATTRS, capacity=n) as writer:
        bounds = writer._file.id.get_access_plist().get_libver_bounds()
        for i, video in enumerate(videos):
            writer.add(video, f"caption {i} é", f"ambiguous {i}",
                       {"labels": np.array([i, i + 1], np.int64), "tracks": rng.random((4, 2)).astype(np.float32),
                        "masks": rng.integers(0, 2, (4, 64, 64), dtype=np.uint8), "phrases": [f"p{i}", "q"]})
    return videos, bounds


def test_shard_written_with_hdf5_1_10_formats(tmp_path):
    path = tmp_path / "shard-00000.h5"
    videos, bounds = _write(path)
    assert bounds == (h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_V110), bounds  # not "latest" (HDF5 2.0's formats)
    assert path.read_bytes()[:9] == b"\x89HDF\r\n\x1a\n\x03"  # superblock version 3: HDF5 1.10's
    with open_shard(path) as f:
        assert np.array_equal(f["videos"][:], videos)


def _dump_binary(path, dataset, out):
    subprocess.run(["h5dump", "-d", dataset, "-b", "LE", "-o", str(out), str(path)], check=True,
                   capture_output=True, timeout=60)
    return out.read_bytes()


@pytest.mark.skipif(shutil.which("h5dump") is None and not REQUIRED, reason="h5dump not installed (apt-get install hdf5-tools)")
def test_h5dump_reads_a_shard(tmp_path):
    path = tmp_path / "shard-00000.h5"
    videos, _ = _write(path)
    header = subprocess.run(["h5dump", "-H", str(path)], capture_output=True, text=True, timeout=60)
    assert header.returncode == 0 and "error" not in header.stderr.lower(), header.stderr
    for name in ("videos", "captions", "annotations", "config", "videos_sha256"):
        assert name in header.stdout
    assert _dump_binary(path, "/videos", tmp_path / "v.bin") == videos.tobytes()
    with h5py.File(path, "r") as f:
        for name in ("annotations/labels", "annotations/tracks", "annotations/masks"):
            assert _dump_binary(path, "/" + name, tmp_path / "a.bin") == f[name][:].tobytes(), name
    captions = subprocess.run(["h5dump", "-d", "/captions/explicit", str(path)], capture_output=True, text=True,
                              timeout=60, check=True).stdout
    assert all(f'"caption {i} ' in captions for i in range(5))  # h5dump 1.10 prints the é as octal escapes


_READ_ALL = r"""
import hashlib, json, sys, h5py, numpy as np
out = {"hdf5": h5py.version.hdf5_version, "attrs": {}, "data": {}}
with h5py.File(sys.argv[1], "r") as f:
    for k, v in f.attrs.items():
        out["attrs"][k] = v.decode() if isinstance(v, bytes) else (v.tolist() if hasattr(v, "tolist") else v)
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            a = obj[()]
            if a.dtype == object:
                out["data"][name] = [x.decode() for x in a.reshape(-1)]
            else:
                out["data"][name] = hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
    f.visititems(visit)
print(json.dumps(out))
"""


@pytest.mark.skipif(not os.environ.get("TI2V_OLD_H5PY_PYTHON") and not REQUIRED,
                    reason="set TI2V_OLD_H5PY_PYTHON to a Python with an older h5py (e.g. 3.11, HDF5 1.14)")
def test_older_h5py_reads_every_dataset_and_attribute(tmp_path):
    path = tmp_path / "shard-00000.h5"
    _write(path)
    proc = subprocess.run([os.environ["TI2V_OLD_H5PY_PYTHON"], "-c", _READ_ALL, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    old = json.loads(proc.stdout)
    new = json.loads(subprocess.run([sys.executable, "-c", _READ_ALL, str(path)], capture_output=True, text=True,
                                    check=True, timeout=120).stdout)
    assert old["hdf5"] != new["hdf5"], "the older h5py must link another HDF5"
    assert old["attrs"] == new["attrs"] and old["data"] == new["data"]
    assert len(old["data"]) == 7 and json.loads(old["attrs"]["config"]) == ATTRS["config"]
