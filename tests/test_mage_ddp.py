"""Training under torchrun: two CPU processes (gloo) run DistributedDataParallel for both stages.

What it proves: the DDP path starts, keeps the ranks in step (a stuck rank or an unused parameter would hang or
raise), logs and checkpoints once (rank 0 only), and leaves a checkpoint that loads and generates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from cli_utils import REPO, datagen

TINY_VQ = ["--set", "vqvae.channels=[8,16]", "--set", "vqvae.code_dim=16", "--set", "vqvae.codebook_size=32",
           "--set", "vqvae.res_blocks=1", "--set", "vqvae_train.eval_clips=2", "--set", "vqvae_train.log_every=1"]
TINY_MAGE = ["--set", "mage.d_model=32", "--set", "mage.heads=4", "--set", "mage.ff_dim=64", "--set",
             "mage.axial_blocks=3", "--set", "mage.text_layers=1", "--set", "data.clip_length=4",
             "--set", "mage_train.eval_clips=2", "--set", "mage_train.log_every=1", "--set", "mage_train.warmup_steps=1"]


def torchrun(*args) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "ti2v.models.train_cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=REPO)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    for split, n in (("train", 8), ("test", 2)):
        datagen("mnist", "--variant", "single", "--split", split, "--num-videos", n, "--out", out,
                "--digits", "sklearn", check=True)
    return out


def steps_logged(path) -> list[int]:
    rows = [r for r in map(json.loads, path.read_text().splitlines()) if r.get("kind") != "eval"]
    assert {r["world"] for r in rows} == {2}  # really two processes
    return [r["step"] for r in rows]


def test_two_process_ddp_trains_both_stages(data, tmp_path):
    from ti2v.models.api import load_model

    vq, mg = tmp_path / "vq", tmp_path / "mage"
    proc = torchrun("vqvae", "--data", data, "--out", vq, "--device", "cpu", "--steps", 3, "--batch-size", 8,
                    "--workers", 0, *TINY_VQ)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert steps_logged(vq / "metrics.jsonl") == [1, 2, 3]  # rank 0 alone writes
    proc = torchrun("mage", "--data", data, "--out", mg, "--vqvae", vq / "vqvae.ckpt", "--device", "cpu",
                    "--steps", 3, "--batch-size", 2, "--workers", 0, *TINY_MAGE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert steps_logged(mg / "metrics.jsonl") == [1, 2, 3]
    model = load_model(mg / "model.ckpt")
    assert model.info["step"] == 3
    video = model.generate(np.zeros((64, 64, 1), np.uint8), "the digit 3 is moving up then down .", speed=0.5)
    assert video.shape == (1, 4, 64, 64, 1)
