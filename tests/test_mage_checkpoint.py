"""One-file checkpoint + API: round trip, generate(), clear errors for truncated / foreign / pickle files."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from ti2v.models.api import MAGEModel, load_model, load_vqvae, save_model, save_vqvae
from ti2v.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ti2v.models.config import MAGEConfig, VQVAEConfig
from ti2v.models.mage import MAGE
from ti2v.models.vocabulary import Vocabulary
from ti2v.models.vqvae import VQVAE

torch.set_num_threads(2)


def tiny_parts(stochastic=False):
    torch.manual_seed(0)
    vq = VQVAE(VQVAEConfig(in_channels=1, resolution=32, downsample=4, codebook_size=16, code_dim=8, channels=(8,),
                           res_blocks=0)).eval()
    vocab = Vocabulary.build()
    cfg = MAGEConfig(vocab_size=len(vocab), codebook_size=16, tokens_h=8, tokens_w=8, frames=4, d_model=32, heads=4,
                     ff_dim=64, text_layers=1, axial_blocks=3, stochastic=stochastic, r_dim=8, psi_channels=8)
    mage = MAGE(cfg).eval()
    if stochastic:
        torch.nn.init.normal_(mage.adain.affine.weight, std=1.0)
    return vq, mage, vocab


@pytest.fixture()
def ckpt(tmp_path):
    vq, mage, vocab = tiny_parts()
    return save_model(tmp_path / "model.ckpt", vq, mage, vocab, {"step": 7}), (vq, mage, vocab)


def frame(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 1), dtype=np.uint8)


def test_round_trip_and_generate(ckpt):
    path, (vq, mage, vocab) = ckpt
    model = load_model(path)
    assert isinstance(model, MAGEModel) and model.info["step"] == 7
    for a, b in zip(mage.state_dict().values(), model.mage.state_dict().values()):
        assert torch.equal(a, b)
    f = frame()
    video = model.generate(f, "the digit 3 is moving up then down .", speed=0.3, num_samples=2, seed=0)
    assert video.shape == (2, 4, 32, 32, 1) and video.dtype == np.uint8
    assert np.array_equal(video[:, 0], np.stack([f, f]))
    # channel-first input, fewer frames, same result for the shared frames
    chw = model.generate(f.transpose(2, 0, 1), "the digit 3 is moving up then down .", speed=0.3, frames=3)
    assert chw.shape == (1, 3, 32, 32, 1)
    assert np.array_equal(chw[0], video[0, :3])
    assert load_vqvae(path).cfg.resolution == 32


def test_stochastic_generate_seeds(tmp_path):
    vq, mage, vocab = tiny_parts(stochastic=True)
    model = load_model(save_model(tmp_path / "s.ckpt", vq, mage, vocab))
    f, cap = frame(1), "the cone is sliding to the first quadrant ."
    a = model.generate(f, cap, 0.5, num_samples=2, seed=3)
    b = model.generate(f, cap, 0.5, num_samples=2, seed=3)
    c = model.generate(f, cap, 0.5, num_samples=2, seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a[0], a[1])  # samples of one call draw their own r


def test_truncated_checkpoint_gives_clear_error(ckpt, tmp_path):
    path, _ = ckpt
    data = path.read_bytes()
    for cut in (len(data) - 100, len(data) // 2, 40, 5):
        bad = tmp_path / f"cut{cut}.ckpt"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated|too short"):
            load_model(bad)


def test_foreign_files_give_clear_errors(tmp_path, ckpt):
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(other))
    with pytest.raises(CheckpointError, match="foreign|ti2v metadata"):
        load_model(other)
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError):
        load_model(junk)
    torch_file = tmp_path / "torch.ckpt"
    torch.save({"w": torch.zeros(3)}, torch_file)
    with pytest.raises(CheckpointError, match="pickle|zip"):
        load_model(torch_file)
    with pytest.raises(CheckpointError, match="no such"):
        load_model(tmp_path / "missing.ckpt")
    # a VQ-VAE-only checkpoint is not a full model
    vq, _, _ = tiny_parts()
    with pytest.raises(CheckpointError, match="not a full model"):
        load_model(save_vqvae(tmp_path / "vq.ckpt", vq))


class _Exploit:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["TI2V_PWNED"]),))


def test_pickle_that_would_run_code_is_refused(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("TI2V_PWNED", str(marker))
    bad = tmp_path / "model.ckpt"
    bad.write_bytes(pickle.dumps({"state": _Exploit()}, protocol=4))
    with pytest.raises(CheckpointError, match="pickle"):
        load_model(bad)
    zipped = tmp_path / "zipped.ckpt"
    torch.save({"state": _Exploit()}, zipped)
    with pytest.raises(CheckpointError):
        load_model(zipped)
    assert not marker.exists()


def test_weights_not_matching_config_are_reported(tmp_path):
    vq, mage, vocab = tiny_parts()
    path = save_model(tmp_path / "m.ckpt", vq, mage, vocab)
    tensors, info = load_checkpoint(path)
    info["config"]["mage"]["d_model"] = 64
    info["config"]["mage"]["ff_dim"] = 128
    meta = {k: v for k, v in info.items() if k not in ("format", "version")}
    save_checkpoint(tmp_path / "bad.ckpt", tensors, meta)
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(tmp_path / "bad.ckpt")


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_checkpoint_permissions_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = save_checkpoint(tmp_path / f"m{umask:o}.ckpt", {"w": torch.zeros(2)}, {"kind": "model"})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert not list(tmp_path.glob("*.tmp"))
