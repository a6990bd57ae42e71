"""ti2v-train and ti2v-bench answer bad input the way ti2v-datagen does: one line naming the value, exit 2."""

from __future__ import annotations

import pytest

from cli_utils import datagen, error_line, run_cli


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("ms")
    for split in ("train", "test"):
        datagen("mnist", "--variant", "single", "--split", split, "--num-videos", "4", "--out", out,
                "--digits", "sklearn", check=True)
    return out


@pytest.mark.parametrize(
    "args, named",
    [
        (["vqvae", "--preset", "nope"], "nope"),
        (["vqvae", "--set", "vqvae.nope=3"], "nope"),
        (["vqvae", "--set", "foo"], "foo"),
        (["vqvae", "--steps", "0"], "--steps"),
        (["vqvae", "--lr", "-1"], "--lr"),
        (["mage", "--vqvae", "README.md"], "README.md"),
    ],
)
def test_train_bad_input(data, tmp_path, args, named):
    proc = run_cli("ti2v.models.train_cli", *args, "--data", data, "--out", tmp_path / "run")
    assert proc.returncode == 2
    assert named in error_line(proc)
    assert not (tmp_path / "run" / "last.ckpt").exists()


def test_train_data_without_split_folder(tmp_path):
    proc = run_cli("ti2v.models.train_cli", "vqvae", "--data", tmp_path, "--out", tmp_path / "run")
    assert proc.returncode == 2
    assert "not a split folder" in error_line(proc)


@pytest.mark.parametrize(
    "args, named",
    [
        (["static", "--data", "nowhere"], "nowhere"),
        (["static", "--speed", "1.5"], "1.5"),
        (["static", "--metrics", "psnr,bogus"], "bogus"),
        (["nothing.here:gen"], "nothing.here"),
    ],
)
def test_bench_bad_input(data, args, named):
    if "--data" not in args:
        args = [*args, "--data", str(data)]
    proc = run_cli("ti2v.benchmark.cli", "evaluate", *args)
    assert proc.returncode == 2
    assert named in error_line(proc)
