"""ti2v-bench end to end: reports, reproducibility, skipped metrics, bad input (exit 2)."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from ti2v.benchmark.cli import main
from ti2v.benchmark.report import reproducible_part

FAST = ["--random-weights", "--feature-resize", "inception=75,i3d=32,vgg=32"]


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    """A small Modified Double Moving MNIST test split: the real generator when present, else synthetic."""
    root = tmp_path_factory.mktemp("mnist")
    try:
        from ti2v.datagen.cli import main as datagen

        r = CliRunner().invoke(datagen, ["mnist", "--variant", "modified", "--split", "test", "--num-videos", "6",
                                         "--out", str(root), "--seed", "3", "--digits", "sklearn"])
        assert r.exit_code == 0, r.output
    except Exception:
        shutil.rmtree(root / "test", ignore_errors=True)
        from ti2v.benchmark.synthetic import make_mnist_split

        make_mnist_split(root, num_videos=6, seed=3)
    return root


def run(args, env=None):
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def test_evaluate_static_and_oracle_full(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("TI2V_WEIGHTS", str(tmp_path / "empty_cache"))
    out = tmp_path / "static"
    r = run(["evaluate", "static", "--data", str(mnist), "--limit", "4", "--out", str(out), "--batch-size", "2"]
            + FAST)
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    for f in ("report.md", "samples.png", "samples.gif", "speed.png"):
        assert (out / f).stat().st_size > 100
    m = rep["metrics"]
    assert set(m) >= {"psnr", "ssim", "lpips", "fid", "fvd"}
    assert all(isinstance(m[k], float) for k in ("psnr", "ssim", "lpips", "fid", "fvd"))
    assert rep["control"]["motion_accuracy"] == 0.0
    assert rep["random_init_networks"] is True
    assert rep["data"]["clips"] == 4 and len(rep["per_clip"]) == 4
    md = (out / "report.md").read_text()
    assert "| Mode | Dataset | FID" in md and "| Dataset | SSIM" in md and "NOT comparable" in md
    fp = rep["fvd_protocol"]
    assert fp["clips_generated"] == fp["clips_reference"] == 4 and fp["clip_length"] == rep["data"]["frames_per_clip"]
    assert fp["given_frame_included"] and fp["frame_stride_mean"] > 0 and "2048" in fp["warning"]
    assert "FVD protocol: 4 generated vs 4 reference clips" in md and "is biased upwards" in md

    out2 = tmp_path / "oracle"
    r = run(["evaluate", "oracle", "--data", str(mnist), "--limit", "4", "--out", str(out2),
             "--metrics", "psnr,ssim,control"])
    assert r.exit_code == 0, r.output
    rep2 = json.loads((out2 / "report.json").read_text())
    assert rep2["control"]["motion_accuracy"] >= 0.99
    assert rep2["metrics"]["ssim"] == pytest.approx(1.0)
    assert rep2["metrics"]["psnr"] == pytest.approx(100.0)


def test_same_seed_same_report(mnist, tmp_path):
    args = ["evaluate", "static", "--data", str(mnist), "--limit", "3", "--metrics", "psnr,ssim,control",
            "--seed", "7"]
    a = run(args + ["--out", str(tmp_path / "a")])
    b = run(args + ["--out", str(tmp_path / "b")])
    c = run(args[:-1] + ["8", "--out", str(tmp_path / "c")])
    assert a.exit_code == b.exit_code == c.exit_code == 0
    ra, rb, rc = (json.loads((tmp_path / x / "report.json").read_text()) for x in "abc")
    assert reproducible_part(ra) == reproducible_part(rb)
    assert [p["eta"] for p in ra["per_clip"]] != [p["eta"] for p in rc["per_clip"]]


def test_ambiguous_samples_and_diversity(mnist, tmp_path):
    r = run(["evaluate", "static", "--data", str(mnist), "--limit", "2", "--captions", "ambiguous",
             "--samples", "2", "--metrics", "div_vgg,div_i3d", "--out", str(tmp_path / "amb")] + FAST)
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "amb" / "report.json").read_text())
    assert rep["data"]["samples_per_clip"] == 2
    assert rep["metrics"]["div_vgg"] == pytest.approx(0.0, abs=1e-9)  # static samples are identical
    assert rep["metrics"]["div_i3d"] == pytest.approx(0.0, abs=1e-9)


def test_missing_weights_skipped_or_strict(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("TI2V_WEIGHTS", str(tmp_path / "none"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "none_torch"))
    r = run(["evaluate", "static", "--data", str(mnist), "--limit", "2", "--metrics", "psnr,fid,lpips",
             "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "s" / "report.json").read_text())
    assert rep["metrics"]["fid"]["status"] == "skipped"
    assert rep["metrics"]["fid"]["file"] == "pt_inception-2015-12-05-6726825d.pth"
    assert rep["metrics"]["fid"]["command"] == "ti2v-bench weights fetch inception-fid"
    assert rep["metrics"]["lpips"]["file"] == "alexnet-owt-7be5be79.pth"
    assert isinstance(rep["metrics"]["psnr"], float)
    assert "ti2v-bench weights fetch inception-fid" in (tmp_path / "s" / "report.md").read_text()
    r = CliRunner().invoke(main, ["evaluate", "static", "--data", str(mnist), "--limit", "2", "--metrics", "fid",
                                  "--strict"])
    assert r.exit_code == 2
    assert "pt_inception-2015-12-05-6726825d.pth" in r.output and "weights fetch inception-fid" in r.output


def test_fvd_extractor_tats_uses_its_own_file(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("TI2V_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "none_torch"))
    r = run(["evaluate", "static", "--data", str(mnist), "--limit", "2", "--metrics", "psnr,fvd",
             "--fvd-extractor", "tats", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    fvd = json.loads((tmp_path / "s" / "report.json").read_text())["metrics"]["fvd"]
    assert fvd["status"] == "skipped" and fvd["file"] == "i3d_pretrained_400.pt"
    assert fvd["command"] == "ti2v-bench weights fetch i3d-tats"
    r = run(["evaluate", "static", "--data", str(mnist), "--metrics", "fvd", "--fvd-extractor", "i3d"])
    assert r.exit_code == 2 and "stylegan-v" in r.output and "tats" in r.output


@pytest.mark.parametrize("args,needle", [
    (["--speed", "2"], "'2' is outside [0, 1]"),
    (["--speed", "fast"], "'fast' is neither"),
    (["--metrics", "psnr,bogus"], "unknown metric 'bogus'"),
    (["--captions", "vague"], "vague"),
    (["--limit", "0"], "0"),
])
def test_bad_options_exit_2(mnist, args, needle):
    r = CliRunner().invoke(main, ["evaluate", "static", "--data", str(mnist)] + args)
    assert r.exit_code == 2
    assert needle in r.output


def test_bad_model_and_data_exit_2(mnist, tmp_path):
    r = CliRunner().invoke(main, ["evaluate", str(tmp_path / "nope.ckpt"), "--data", str(mnist)])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = CliRunner().invoke(main, ["evaluate", "static", "--data", str(tmp_path / "nodata")])
    assert r.exit_code == 2 and "nodata" in r.output


def test_shard_lacking_annotation_named(tmp_path):
    import h5py

    from ti2v.benchmark.synthetic import make_mnist_split

    d = make_mnist_split(tmp_path, num_videos=2, seed=1)
    with h5py.File(d / "shard-00000.h5", "a") as f:
        del f["annotations/digit_images"]
    # the shard was edited in place, so its sha256 no longer matches (test_reader_checks.py): skip that check
    r = CliRunner().invoke(main, ["evaluate", "static", "--data", str(tmp_path), "--metrics", "psnr,control",
                                  "--no-verify"])
    assert r.exit_code == 2
    assert "digit_images" in r.output and "control" in r.output


def test_video_folder_model_end_to_end(mnist, tmp_path):
    from ti2v.benchmark.data import ClipReader

    folder = tmp_path / "videos"
    folder.mkdir()
    for c in ClipReader(mnist, "test", seed=0, limit=3):
        np.save(folder / f"{c.index}.npy", c.video)  # the ground truth at the speeds seed 0 draws
    r = run(["evaluate", str(folder), "--data", str(mnist), "--limit", "3", "--metrics", "psnr,control",
             "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["control"]["motion_accuracy"] == 1.0 and rep["metrics"]["psnr"] == pytest.approx(100.0)
    r = CliRunner().invoke(main, ["evaluate", str(folder), "--data", str(mnist), "--limit", "4",
                                  "--metrics", "psnr"])
    assert r.exit_code == 2 and "clip index 3" in r.output


def test_cater_control_end_to_end(tmp_path, tiny_cater):
    r = run(["evaluate", "oracle", "--data", str(tiny_cater), "--metrics", "ssim,control",
             "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    c = rep["control"]
    # the default judge on 64 px renders with 3-5 px small objects (0.67 here; docs/JUDGE.md has its accuracy)
    assert c["kind"] == "cater" and c["action_precision"] >= 0.5 and c["actions"] >= 4
    assert c["judge_cell_accuracy"] == c["judge"]["cell_accuracy"] and c["judge"]["objects_frames"] > 0
    assert c["judge"]["file"] == "cater-judge.safetensors" and c["judge"]["pinned"]  # the shipped judge by default
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "action precision" in md and "judge cell accuracy" in md
    assert f"cater-judge.safetensors (sha256 {c['judge']['sha256'][:16]}..., pinned)" in md
    assert (tmp_path / "rep" / "speed.png").exists()
