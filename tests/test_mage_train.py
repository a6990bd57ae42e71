"""End to end on tiny Single Moving MNIST shards: ti2v-train vqvae, ti2v-train mage, resume, load + generate."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

torch.set_num_threads(2)

pytest.importorskip("ti2v.datagen.dataset")

TINY_VQ = ["--set", "vqvae.channels=[8,16]", "--set", "vqvae.code_dim=16", "--set", "vqvae.codebook_size=32",
           "--set", "vqvae.res_blocks=1", "--set", "vqvae_train.eval_clips=2", "--set", "vqvae_train.log_every=1",
           "--set", "vqvae_train.sample_every=2"]
TINY_MAGE = ["--set", "mage.d_model=32", "--set", "mage.heads=4", "--set", "mage.ff_dim=64", "--set",
             "mage.axial_blocks=3", "--set", "mage.text_layers=1", "--set", "data.clip_length=4",
             "--set", "mage_train.eval_clips=2", "--set", "mage_train.log_every=1", "--set", "mage_train.sample_every=2",
             "--set", "mage_train.ckpt_every=2", "--set", "mage_train.warmup_steps=1"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from ti2v.datagen.cli import main as datagen

    out = tmp_path_factory.mktemp("mnist")
    for split, n, seed in (("train", 6, 0), ("test", 3, 1)):
        res = CliRunner().invoke(datagen, ["mnist", "--variant", "single", "--split", split, "--num-videos", str(n),
                                           "--out", str(out), "--seed", str(seed), "--digits", "sklearn"])
        assert res.exit_code == 0, res.output
    return out


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_train_vqvae_then_mage_then_resume_and_generate(data, tmp_path):
    from ti2v.models.api import load_model
    from ti2v.models.train_cli import main

    runner = CliRunner()
    vq_out, mg_out = tmp_path / "vq", tmp_path / "mage"
    res = runner.invoke(main, ["vqvae", "--data", str(data), "--out", str(vq_out), "--device", "cpu", "--steps", "3",
                               "--batch-size", "8", "--workers", "0", *TINY_VQ])
    assert res.exit_code == 0, res.output
    assert (vq_out / "vqvae.ckpt").exists() and (vq_out / "last.ckpt").exists()
    logged = rows(vq_out / "metrics.jsonl")
    assert {"perplexity", "dead_codes"} <= set(logged[0]) and logged[-1]["kind"] == "eval"
    assert list((vq_out / "samples").glob("*.png"))

    args = ["mage", "--data", str(data), "--out", str(mg_out), "--vqvae", str(vq_out / "vqvae.ckpt"), "--device", "cpu",
            "--batch-size", "2", "--workers", "0", *TINY_MAGE]
    res = runner.invoke(main, args + ["--steps", "2"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, args + ["--steps", "3"])  # resumes from last.ckpt at step 2
    assert res.exit_code == 0, res.output
    logged = [r for r in rows(mg_out / "metrics.jsonl") if r.get("kind") != "eval"]
    assert [r["step"] for r in logged] == [1, 2, 3]
    evals = [r for r in rows(mg_out / "metrics.jsonl") if r.get("kind") == "eval"]
    assert {"tf_acc", "gen_acc", "gen_psnr", "recon_psnr"} <= set(evals[-1])
    assert list((mg_out / "samples").glob("*.gif"))

    model = load_model(mg_out / "model.ckpt")
    assert model.info["step"] == 3
    first = np.zeros((64, 64, 1), np.uint8)
    video = model.generate(first, "the digit 3 is moving up then down .", speed=0.5, num_samples=1, seed=0)
    assert video.shape == (1, 4, 64, 64, 1) and video.dtype == np.uint8
