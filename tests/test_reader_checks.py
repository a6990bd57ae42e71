"""Issue 18, "the reader checks what it serves": every shard carries its identity and the reader checks it against
manifest.json on open; `ti2v-bench evaluate` verifies the checksums of what it scores unless --no-verify; `verify`
catches edited manifests and answers broken ones with one line each, never a traceback; a corrupt chunk read
through ShardDataset is one line naming the file and the video."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cli_utils import datagen, error_line
from ti2v.datagen.errors import InputError
from ti2v.datagen.runner import sha256_file

MNIST = ["mnist", "--variant", "single", "--split", "test", "--num-videos", "6", "--shard-size", "2",
         "--digits", "sklearn"]


def _make(root: Path, seed: int) -> Path:
    from ti2v.datagen.cli import main

    r = CliRunner().invoke(main, [*MNIST, "--out", str(root), "--seed", str(seed)])
    assert r.exit_code == 0, r.output
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two tiny Single Moving MNIST test splits (3 shards of 2 videos), seeds 3 and 4."""
    base = tmp_path_factory.mktemp("reader-checks")
    return _make(base / "seed3", 3), _make(base / "seed4", 4)


@pytest.fixture
def split(built, tmp_path) -> Path:
    """A fresh copy of the seed-3 split folder (OUT/test)."""
    shutil.copytree(built[0], tmp_path / "data")
    return tmp_path / "data" / "test"


def manifest(d: Path) -> dict:
    return json.loads((d / "manifest.json").read_text())


def write(d: Path, m) -> None:
    (d / "manifest.json").write_text(m if isinstance(m, str) else json.dumps(m, indent=1))


def dataset(d: Path, **kw):
    from ti2v.datagen.dataset import ShardDataset

    return ShardDataset(d.parent, "test", **kw)


def refused(d: Path, *named: str) -> str:
    with pytest.raises(InputError) as e:
        dataset(d)
    msg = str(e.value)
    assert "\n" not in msg
    for text in named:
        assert text in msg, msg
    return msg


# ------------------------------------------------------------------ identity
def test_shards_carry_their_identity(split):
    from ti2v.datagen.shard import config_digest

    m = manifest(split)
    for i, entry in enumerate(m["shards"]):
        with h5py.File(split / entry["file"]) as f:
            assert (f.attrs["dataset"], f.attrs["split"], int(f.attrs["shard_index"])) == ("mnist-single", "test", i)
            assert int(f.attrs["shard_seed"]) == entry["seed"] and int(f.attrs["seed"]) == m["config"]["seed"] == 3
            assert int(f.attrs["num_videos"]) == entry["num_videos"] and int(f.attrs["first_index"]) == entry["start"]
            assert f.attrs["config_sha256"] == config_digest(m["config"])
    assert len(dataset(split)) == 6


def test_swapped_shards_refused(split):
    a, b = split / "shard-00000.h5", split / "shard-00001.h5"
    a.rename(split / "x")
    b.rename(a)
    (split / "x").rename(b)
    refused(split, "shard-00000.h5", "shard_index is 1 in the shard, 0 in manifest.json")


def test_shard_of_another_seed_refused(split, built):
    """Copied in with the manifest's sha256 updated, so only the shard's identity tells."""
    other = built[1] / "test" / "shard-00001.h5"
    shutil.copy(other, split / "shard-00001.h5")
    m = manifest(split)
    m["shards"][1]["sha256"] = sha256_file(split / "shard-00001.h5")
    write(split, m)
    msg = refused(split, "shard-00001.h5", "shard_seed is")
    assert str(manifest(built[1] / "test")["shards"][1]["seed"]) in msg and str(m["shards"][1]["seed"]) in msg
    proc = datagen("verify", split)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "shard-00001.h5: shard_seed is" in proc.stderr and "config_sha256" in proc.stderr


@pytest.mark.parametrize("edit, named", [
    (lambda m: m.update(num_videos=5), "num_videos 5, but its shards' counts add up to 6"),
    (lambda m: (m.update(num_videos=5), m["shards"][1].update(num_videos=1)), "start 4, but the shards before it"),
    (lambda m: (m.update(num_videos=5), m["shards"][2].update(num_videos=1)),
     "shard-00002.h5: num_videos is 2 in the shard, 1 in manifest.json"),
], ids=["total", "middle-entry", "last-entry"])
def test_manifest_count_one_short_refused(split, edit, named):
    m = manifest(split)
    edit(m)
    write(split, m)
    refused(split, named)


def test_file_outside_the_split_refused(split):
    m = manifest(split)
    m["shards"][0]["file"] = "../../../etc/passwd"
    write(split, m)
    refused(split, "../../../etc/passwd", "not a plain file name")


def test_fewer_rows_than_the_count_refused(split):
    _drop_last_row(split / "shard-00001.h5")
    refused(split, "shard-00001.h5", "/videos has 1 rows, its num_videos attribute says 2")


def _drop_last_row(path: Path) -> None:
    with h5py.File(path, "a") as f:
        v = f["videos"][:]
        del f["videos"]
        f.create_dataset("videos", data=v[:-1], chunks=(1,) + v.shape[1:], compression="gzip")


# ------------------------------------------------------------------ evaluate verifies checksums
def _evaluate(d: Path, tmp_path: Path, *extra: str):
    from ti2v.benchmark.cli import main

    out = tmp_path / "report"
    r = CliRunner().invoke(main, ["evaluate", "oracle", "--data", str(d.parent), "--metrics", "psnr,control",
                                  "--limit", "3", "--out", str(out), *extra])
    return r, out


def _error(r) -> str:
    """The one error line of a refused evaluate (CliRunner adds click's usage lines; the console script prints
    the Error line only, tests/test_train_bench_cli_errors.py)."""
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    lines = [x for x in r.output.splitlines() if x.startswith("Error:")]
    assert len(lines) == 1, r.output
    return lines[0]


def test_evaluate_reports_the_verification(split, tmp_path):
    r, out = _evaluate(split, tmp_path)
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    assert rep["data"]["checksums"] == {"verified": True, "shards": 2, "of": 3, "against": "manifest.json sha256",
                                        "bytes": sum((split / f"shard-0000{i}.h5").stat().st_size for i in range(2))}
    assert isinstance(rep["run"]["verify_s"], float)
    assert "verified against manifest.json in" in (out / "report.md").read_text()
    assert "Data: sha256 of 2 of 3 shard(s)" in r.output  # the stderr line (CliRunner mixes the streams)


def test_evaluate_refuses_an_edited_caption(split, tmp_path):
    with h5py.File(split / "shard-00000.h5", "a") as f:
        caps = f["captions/explicit"]
        caps[0] = caps[0].decode().replace("moving", "going")
    dataset(split)  # the identity is intact: only the checksum tells
    r, out = _evaluate(split, tmp_path)
    line = _error(r)
    assert "shard-00000.h5: sha256" in line and "--no-verify" in line and not (out / "report.json").exists()
    r, out = _evaluate(split, tmp_path, "--no-verify")
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    assert rep["data"]["checksums"] == {"verified": False, "reason": "--no-verify"} and rep["run"]["verify_s"] is None
    assert "NOT verified" in (out / "report.md").read_text()


# ------------------------------------------------------------------ a corrupt chunk
def _corrupt_chunk(path: Path, row: int) -> None:
    with h5py.File(path) as f:
        info = f["videos"].id.get_chunk_info(row)
    with open(path, "r+b") as fh:  # the stream's Adler-32 trailer: "incorrect data check"
        fh.seek(info.byte_offset + info.size - 4)
        last = fh.read(4)
        fh.seek(info.byte_offset + info.size - 4)
        fh.write(bytes(b ^ 0xFF for b in last))


def test_corrupt_chunk_is_one_line_naming_file_and_video(split, tmp_path):
    _corrupt_chunk(split / "shard-00001.h5", 1)
    ds = dataset(split)
    assert ds.raw_video(2).shape == (20, 64, 64, 1)
    for read in (lambda: ds.raw_video(3), lambda: ds[3]):
        with pytest.raises(InputError) as e:
            read()
        msg = str(e.value)
        assert "\n" not in msg and "shard-00001.h5: video 1 of the shard (index 3 of the split)" in msg, msg
    ds._file(1).direct = False  # h5py's own read path says the same
    with pytest.raises(InputError, match=r"shard-00001\.h5: video 1 of the shard"):
        ds.raw_video(3)
    proc = datagen("verify", split)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "shard-00001.h5" in proc.stderr
    r, _ = _evaluate(split, tmp_path, "--no-verify", "--limit", "4")
    assert "shard-00001.h5: video 1 of the shard (index 3 of the split) cannot be read" in _error(r)


# ------------------------------------------------------------------ verify
def _outside(d: Path):
    """The split's first shard moved next to the split and listed as ../shard-00000.h5 (sha256 still right)."""
    (d / "shard-00000.h5").rename(d.parent / "shard-00000.h5")
    m = manifest(d)
    m["shards"][0]["file"] = "../shard-00000.h5"
    write(d, m)


def _edit(**changes):
    def apply(d: Path):
        m = manifest(d)
        for key, value in changes.items():
            if key == "config":
                m["config"].update(value)
            else:
                m[key] = value
        write(d, m)
    return apply


def _entry(d: Path):
    m = manifest(d)
    m["shards"][1]["num_videos"] = "two"
    write(d, m)


def _fewer_rows(d: Path):
    _drop_last_row(d / "shard-00001.h5")
    m = manifest(d)
    m["shards"][1]["sha256"] = sha256_file(d / "shard-00001.h5")
    write(d, m)


@pytest.mark.parametrize("damage, named", [
    (_edit(dataset="mnist-double"), "shard-00000.h5: dataset is 'mnist-single' in the shard, 'mnist-double' in"),
    (_edit(config={"frames": 21}), "shard-00000.h5: config_sha256 is"),
    (_outside, "file '../shard-00000.h5' is not a plain file name inside the split folder"),
    (lambda d: write(d, '{"dataset": "mnist-single", "shards": ['), "manifest.json: not valid JSON"),
    (lambda d: write(d, {k: v for k, v in manifest(d).items() if k != "shards"}), "manifest.json: no 'shards'"),
    (_entry, "shards[1] (shard-00001.h5): num_videos 'two' is not a non-negative integer"),
    (_fewer_rows, "shard-00001.h5: /videos is uint8 (1, 20, 64, 64, 1), expected uint8 [2, F, H, W, C]"),
], ids=["dataset", "config", "outside", "json", "no-shards", "bad-entry", "fewer-rows"])
def test_verify_names_the_problem(split, damage, named):
    damage(split)
    proc = datagen("verify", split)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines and all(x.startswith("FAIL ") for x in lines), proc.stderr
    assert any(named in x for x in lines), proc.stderr
    if damage is _outside:
        assert not any("../shard-00000.h5: " in x for x in lines)  # never opened, never hashed
    if damage in (_entry, _outside) or "JSON" in named or "shards" in named:
        proc = datagen("info", split)  # the other commands refuse it with one line
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert error_line(proc).startswith("Error: ")


def test_verify_passes_the_intact_split(split):
    proc = datagen("verify", split)
    assert proc.returncode == 0, proc.stderr
    assert np.all([x.startswith("OK") for x in proc.stdout.strip().splitlines()])
