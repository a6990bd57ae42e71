"""MODEL resolution: plug-ins, video folders, checkpoints (missing, corrupt, code-running pickles)."""

import pickle
import sys
import textwrap

import numpy as np
import pytest
import torch

from ti2v.benchmark.models_adapter import (FolderModel, ModelError, OracleBaseline, StaticBaseline,
                                           check_checkpoint, resolve_model)


def test_static_and_oracle():
    f = np.random.default_rng(0).integers(0, 255, (64, 64, 1), dtype=np.uint8)
    v = StaticBaseline().generate(f, "x", 0.5, num_samples=2, frames=10)
    assert v.shape == (2, 10, 64, 64, 1) and (v == f).all()
    ref = np.random.default_rng(1).integers(0, 255, (10, 64, 64, 1), dtype=np.uint8)
    assert (OracleBaseline().generate_from_reference(ref, 3) == ref).all()
    assert isinstance(resolve_model("oracle"), OracleBaseline)


def test_plugin_module_callable(tmp_path, monkeypatch):
    (tmp_path / "my_gen_plugin.py").write_text(textwrap.dedent("""
        import numpy as np
        CALLS = []
        def generate(first_frame, caption, speed, num_samples=1, seed=0, frames=10):
            CALLS.append((caption, speed, seed))
            return np.repeat(np.repeat(first_frame[None, None], frames, 1), num_samples, 0)
        class Gen:
            def generate(self, first_frame, caption, speed, num_samples=1, seed=0, frames=10):
                return np.zeros((num_samples, frames) + first_frame.shape, np.uint8)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    m = resolve_model("my_gen_plugin:generate")
    out = m.generate(first_frame=np.ones((8, 8, 1), np.uint8), caption="c", speed=0.25, num_samples=2, seed=3,
                     frames=4)
    assert out.shape == (2, 4, 8, 8, 1)
    assert sys.modules["my_gen_plugin"].CALLS == [("c", 0.25, 3)]
    assert resolve_model("my_gen_plugin:Gen").generate(np.ones((8, 8, 1), np.uint8), "c", 0.1).shape == (1, 10, 8, 8, 1)
    with pytest.raises(ModelError, match="no attribute 'nope'"):
        resolve_model("my_gen_plugin:nope")
    with pytest.raises(ModelError, match="cannot import module"):
        resolve_model("no_such_module_xyz:f")


def test_video_folder(tmp_path):
    import imageio.v3 as iio

    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (10, 16, 16, 1), dtype=np.uint8)
    np.save(tmp_path / "0.npy", a)
    b = rng.integers(0, 255, (3, 10, 16, 16, 1), dtype=np.uint8)
    np.save(tmp_path / "1.npy", b)
    for k in range(2):
        np.save(tmp_path / f"2_{k}.npy", b[k])
    g = rng.integers(0, 255, (10, 16, 16, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "3.gif", g, duration=100, loop=0)
    m = resolve_model(str(tmp_path))
    assert isinstance(m, FolderModel)
    assert (m.load(0, 1, 10, 1)[0] == a).all()
    assert (m.load(1, 3, 10, 1) == b).all()
    assert (m.load(2, 2, 10, 1) == b[:2]).all()
    gif = m.load(3, 1, 10, 3)
    assert gif.shape == (1, 10, 16, 16, 3)
    with pytest.raises(ModelError, match="clip index 7"):
        m.load(7, 1, 10, 1)
    with pytest.raises(ModelError, match="has 1 samples, 2 needed"):
        m.load(0, 2, 10, 1)


def test_missing_and_corrupt_checkpoint(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "model.ckpt"))
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(ModelError, match="not a checkpoint .neither a safetensors nor a torch.save file"):
        resolve_model(str(bad))
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        resolve_model(str(empty))
    ok = tmp_path / "plain.pt"
    torch.save({"w": torch.zeros(3)}, ok)
    assert check_checkpoint(ok) == {"w": (3,)}


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.mkdir, (pathlib.Path(self.marker),))


def test_code_running_pickle_is_refused(tmp_path):
    # the payload is live: plain pickle.loads runs it
    probe = tmp_path / "probe_dir"
    pickle.loads(pickle.dumps(_Evil(str(probe))))
    assert probe.exists()
    marker = tmp_path / "pwned_dir"
    for name, writer in (("evil.ckpt", lambda p, o: p.write_bytes(pickle.dumps(o))),
                         ("evil_zip.pt", lambda p, o: torch.save(o, p))):
        path = tmp_path / name
        writer(path, {"state": _Evil(str(marker))})
        with pytest.raises(ModelError, match="refused"):
            resolve_model(str(path))
        assert not marker.exists()


def test_mage_checkpoint_goes_through_api(tmp_path):
    api = pytest.importorskip("ti2v.models.api")
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.ckpt"
    save_file({"x": torch.zeros(2)}, str(foreign))
    with pytest.raises(ModelError, match="foreign.ckpt"):
        resolve_model(str(foreign))
    assert hasattr(api, "load_model")


def test_tiny_mage_checkpoint_and_vqvae_oracle(tmp_path):
    """A real (untrained, tiny) MAGE model.ckpt goes through ti2v.models.api; --vqvae feeds the oracle."""
    pytest.importorskip("ti2v.models.api")
    from ti2v.models.api import save_model, save_vqvae
    from ti2v.models.config import MAGEConfig, VQVAEConfig
    from ti2v.models.mage import MAGE
    from ti2v.models.vocabulary import Vocabulary
    from ti2v.models.vqvae import VQVAE

    torch.manual_seed(0)
    vq = VQVAE(VQVAEConfig(channels=(8, 16), codebook_size=16, code_dim=8, res_blocks=1, kmeans_init=False))
    voc = Vocabulary.build()
    mage = MAGE(MAGEConfig(vocab_size=len(voc.to_list()), codebook_size=16, d_model=32, heads=2, ff_dim=64,
                           axial_blocks=1, text_layers=1))
    save_model(tmp_path / "model.ckpt", vq, mage, voc)
    save_vqvae(tmp_path / "vq.ckpt", vq)
    m = resolve_model(str(tmp_path / "model.ckpt"))
    first = np.zeros((64, 64, 1), np.uint8)
    out = m.generate(first_frame=first, caption="the digit 1 is moving up .", speed=0.5, num_samples=1, seed=0,
                     frames=10)
    assert out.shape == (1, 10, 64, 64, 1) and out.dtype == np.uint8
    oracle = resolve_model("oracle", vqvae=str(tmp_path / "vq.ckpt"))
    ref = np.random.default_rng(0).integers(0, 255, (10, 64, 64, 1), dtype=np.uint8)
    rec = oracle.generate_from_reference(ref, 1)
    assert rec.shape == (1, 10, 64, 64, 1) and (rec[0, 0] == ref[0]).all()
    assert oracle.name == "oracle through VQ-VAE (vq.ckpt)" and resolve_model("oracle").name == "oracle"
    with pytest.raises(ModelError, match="vq.ckpt"):
        resolve_model(str(tmp_path / "vq.ckpt"))  # a VQ-VAE-only checkpoint is not a full model


def test_training_checkpoint_points_at_model_ckpt(tmp_path):
    from ti2v.models.checkpoint import save_checkpoint

    last = save_checkpoint(tmp_path / "last.ckpt", {"w": torch.zeros(1)}, {"kind": "train", "stage": "mage"})
    with pytest.raises(ModelError) as e:
        resolve_model(str(last))
    msg = str(e.value)
    assert "a training checkpoint" in msg and str(tmp_path / "model.ckpt") in msg
    assert msg.count(str(last)) == 1  # the path once, not once per layer
