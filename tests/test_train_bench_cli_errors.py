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


# ------------------------------------------------------------------ presets, --set, --device, --out, resuming
import os  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

TINY = ["--set", "vqvae.channels=[8]", "--set", "vqvae.code_dim=8", "--set", "vqvae.codebook_size=16",
        "--set", "vqvae.res_blocks=0", "--steps", "1", "--batch-size", "4", "--workers", "0", "--eval-split", ""]


@pytest.fixture
def read_only(tmp_path):
    """A folder nobody can write to (chmod 555; as root, where chmod does not bind, /sys)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        (ro / "probe").write_bytes(b"")
    except OSError:
        yield ro
        ro.chmod(0o755)
        return
    (ro / "probe").unlink()
    ro.chmod(0o755)
    if not Path("/sys").is_dir() or os.access("/sys", os.W_OK) and _writable(Path("/sys")):
        pytest.skip("no read-only folder available")
    yield Path("/sys")


def _writable(p: Path) -> bool:
    try:
        (p / ".ti2v-probe").write_bytes(b"")
    except OSError:
        return False
    (p / ".ti2v-probe").unlink()
    return True


def _preset_file(tmp_path, text):
    p = tmp_path / "preset.yaml"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize(
    "text, named",
    [
        ('vqvae: !!python/object/apply:os.system ["echo pwned"]\n', "!!python/object/apply:os.system"),
        ("vqvae: [8, 16\n", "not valid YAML"),
        ("- just\n- a list\n", "mapping of sections"),
        ("vqvae:\n  code_dim: many\n", "vqvae.code_dim='many'"),
    ],
)
def test_train_bad_preset_file(data, tmp_path, text, named):
    proc = run_cli("ti2v.models.train_cli", "vqvae", "--preset", _preset_file(tmp_path, text), "--data", data,
                   "--out", tmp_path / "run")
    assert proc.returncode == 2
    line = error_line(proc)
    assert named in line and "pwned" not in proc.stdout
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, named",
    [
        (["vqvae", "--set", "vqvae.code_dim=abc"], "vqvae.code_dim='abc'"),
        (["vqvae", "--set", "vqvae.channels=[8, 0]"], "vqvae.channels=[8, 0]"),
        (["vqvae", "--set", "vqvae_train.schedule=linear"], "cosine, constant"),
        (["vqvae", "--set", "mage.heads=0"], "mage.heads=0"),
        (["vqvae", "--set", "mage.dropout=1.5"], "mage.dropout=1.5"),
        (["vqvae", "--set", "vqvae.code_dim=[1,"], "not valid YAML"),
        (["vqvae", "--device", "tpu"], "'tpu'"),
        (["motion-i2v", "--device", "cuda:x"], "'cuda:x'"),
    ],
)
def test_train_bad_values_one_line(data, tmp_path, args, named):
    proc = run_cli("ti2v.models.train_cli", *args, "--data", data, "--out", tmp_path / "run")
    assert proc.returncode == 2
    line = error_line(proc)
    assert named in line
    assert not (tmp_path / "run").exists()


def test_train_cuda_without_cuda(data, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = run_cli("ti2v.models.train_cli", "vqvae", "--device", "cuda", "--data", data, "--out", tmp_path / "run")
    assert proc.returncode == 2
    assert "CUDA is not available" in error_line(proc)
    assert not (tmp_path / "run").exists()


def test_train_out_is_a_file_or_read_only(data, tmp_path, read_only):
    f = tmp_path / "afile"
    f.write_text("x")
    for out, named in ((f, "is a file"), (f / "run", "is a file"), (read_only / "run", "not writable")):
        proc = run_cli("ti2v.models.train_cli", "vqvae", "--data", data, "--out", out, *TINY)
        assert proc.returncode == 2, proc.stderr
        assert named in error_line(proc)
    assert f.read_text() == "x" and not (read_only / "run").exists()


@pytest.mark.parametrize("command", ["mage", "mmvid", "motion-i2v"])
def test_every_trainer_checks_out_before_it_starts(data, tmp_path, command):
    f = tmp_path / "afile"
    f.write_text("x")
    extra = ("--vqvae", f) if command in ("mage", "mmvid") else ()  # any existing file: --out is checked first
    proc = run_cli("ti2v.models.train_cli", command, "--data", data, "--out", f / "run", *extra, *TINY)
    assert proc.returncode == 2, proc.stderr
    assert "is a file" in error_line(proc)
    assert f.read_text() == "x"


def test_train_resume_with_changed_model_settings(data, tmp_path):
    out = tmp_path / "run"
    run_cli("ti2v.models.train_cli", "vqvae", "--data", data, "--out", out, *TINY, check=True)
    assert (out / "last.ckpt").exists()
    proc = run_cli("ti2v.models.train_cli", "vqvae", "--data", data, "--out", out, *TINY,
                   "--set", "vqvae.code_dim=4", "--steps", "2")
    assert proc.returncode == 2
    line = error_line(proc)
    assert "vqvae.code_dim: 8 -> 4" in line and "--no-resume" in line


# ------------------------------------------------------------------ ti2v-bench: callables, --out, videos, shards
@pytest.mark.parametrize("spec", ["os:system", "builtins:print", "subprocess:Popen", "json:loads"])
def test_bench_callable_must_be_generate_like(data, spec, tmp_path):
    proc = run_cli("ti2v.benchmark.cli", "evaluate", spec, "--data", data, "--metrics", "psnr")
    assert proc.returncode == 2
    line = error_line(proc)
    assert spec in line and "generate(first_frame, caption, speed" in line


def test_bench_out_is_a_file_or_read_only(data, tmp_path, read_only):
    f = tmp_path / "afile"
    f.write_text("x")
    for out, named in ((f, "is a file"), (read_only / "rep", "not writable")):
        proc = run_cli("ti2v.benchmark.cli", "evaluate", "static", "--data", data, "--metrics", "psnr",
                       "--out", out)
        assert proc.returncode == 2, proc.stderr
        assert named in error_line(proc)
    assert f.read_text() == "x" and not (read_only / "rep").exists()


def test_bench_four_channel_npy_refused(data, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(4):
        np.save(videos / f"{i}.npy", np.full((10, 64, 64, 4), 200, np.uint8))
    proc = run_cli("ti2v.benchmark.cli", "evaluate", videos, "--data", data, "--metrics", "psnr")
    assert proc.returncode == 2
    line = error_line(proc.__class__(proc.args, proc.returncode, proc.stdout,
                                     "\n".join(x for x in proc.stderr.splitlines() if not x.startswith("note:"))))
    assert "4 channels" in line and "[T, H, W, 1]" in line


def _hand_made(src: Path, dst: Path, make) -> Path:
    """A copy of the test split whose shard's /videos is replaced by ``make(old_videos)``."""
    import h5py

    shutil.copytree(src / "test", dst / "test")
    for shard in sorted((dst / "test").glob("shard-*.h5")):
        with h5py.File(shard, "a") as f:
            old = f["videos"][:]
            del f["videos"]
            new, frames = make(old, shard)
            f.create_dataset("videos", data=new)
            f.attrs["frames"] = frames
    return dst


@pytest.fixture(scope="module")
def two_shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("two")
    datagen("mnist", "--variant", "single", "--split", "test", "--num-videos", "4", "--shard-size", "2",
            "--out", out, "--digits", "sklearn", check=True)
    return out


@pytest.mark.parametrize(
    "make, named",
    [
        (lambda v, s: (v[..., 0], v.shape[1]), "5-D"),
        (lambda v, s: (v.astype(np.float32) / 255, v.shape[1]), "float32"),
        (lambda v, s: (v[:, :5], 5), "too few"),
        (lambda v, s: (np.repeat(v, 3, -1) if s.name.endswith("1.h5") else v, v.shape[1]), "every shard"),
    ],
    ids=["3d", "float32", "few-frames", "mixed-channels"],
)
def test_hand_made_shards_refused(two_shards, tmp_path, make, named):
    from ti2v.datagen.dataset import ShardDataset
    from ti2v.datagen.errors import InputError

    root = _hand_made(two_shards, tmp_path, make)
    with pytest.raises(InputError, match=named.replace("[", r"\[")):
        ShardDataset(root, "test", clip_length=10)
    proc = run_cli("ti2v.benchmark.cli", "evaluate", "static", "--data", root, "--metrics", "psnr")
    assert proc.returncode == 2
    assert named in error_line(proc)
    proc = run_cli("ti2v.models.train_cli", "vqvae", "--data", root, "--split", "test", "--out", tmp_path / "run",
                   *TINY)
    assert proc.returncode == 2
    assert named in error_line(proc)


def test_exponent_without_a_decimal_point_is_a_number():
    """PyYAML reads ``5e-4`` as text (YAML 1.1 wants ``5.0e-4``): a float field takes it as the number it means,
    an integer field and a text field keep refusing it."""
    from ti2v.models.config import load_preset

    p = load_preset("mnist-single", ["mage_train.lr=5e-4", "mmvid_train.eps=1E-8", "mage.alpha=+2.5e-3"])
    assert p["mage_train"].lr == 5e-4 and p["mmvid_train"].eps == 1e-8 and p["mage"].alpha == 2.5e-3
    with pytest.raises(ValueError, match=r"mage.d_model='1e2' is not allowed; it must be an integer"):
        load_preset("mnist-single", ["mage.d_model=1e2"])
    with pytest.raises(ValueError, match=r"mage_train.lr='5e-4x'"):
        load_preset("mnist-single", ["mage_train.lr=5e-4x"])
