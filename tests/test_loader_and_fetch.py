"""The shard reader's speed mapping (docs/DATASETS.md) and the MNIST download against a local HTTP server."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import struct
import threading
from functools import partial

import numpy as np
import pytest
import torch
from cli_utils import datagen, error_line

from ti2v.datagen.dataset import ShardDataset
from ti2v.datagen.mnist.digits import DigitSourceError, fetch_mnist, load_mnist
from ti2v.datagen.speed import clip_indices


def test_speed_mapping_spec_values():
    # MNIST, N = 20 raw frames, [s0, s1] = [1, 2]
    assert clip_indices(20, 0.0, 1, 2).tolist() == list(range(10))
    # interval 1.5: round(20 / 1.5) = 13 samples of linspace(0, 19, 13), floored, first 10
    assert clip_indices(20, 0.5, 1, 2).tolist() == [0, 1, 3, 4, 6, 7, 9, 11, 12, 14]
    # interval 2: 10 samples of linspace(0, 19, 10)
    assert clip_indices(20, 1.0, 1, 2).tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 19]
    # CATER, 32 raw frames, [3, 6]: round(32 / 6) = 5 samples, then the last frame repeats
    assert clip_indices(32, 1.0, 3, 6).tolist() == [0, 7, 15, 23, 31, 31, 31, 31, 31, 31]
    with pytest.raises(ValueError):
        clip_indices(20, 1.5, 1, 2)


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    out = tmp_path_factory.mktemp("loader")
    datagen("mnist", "--variant", "double", "--split", "test", "--num-videos", 30, "--shard-size", 12,
            "--out", out, "--digits", "sklearn", check=True)
    return out


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_loader_returns_the_clip_at_those_indices(split, eta):
    ds = ShardDataset(split, "test", eta=eta)
    assert len(ds) == 30
    item = ds[17]  # second shard, row 5
    expected = clip_indices(20, eta, 1, 2)
    assert item["frame_indices"].tolist() == expected.tolist()
    raw = ds.raw_video(17)
    assert torch.equal(item["video"], torch.from_numpy(raw[expected].transpose(0, 3, 1, 2).copy()))
    assert torch.equal(item["first_frame"], item["video"][0])
    assert item["caption"].startswith("the digit ") and item["eta"] == eta
    assert item["annotations"]["tracks"].shape == (3, 20, 2)


def test_loader_draws_speed_per_item_and_batches(split):
    ds = ShardDataset(split, "test", seed=1)
    etas = [ds[i]["eta"] for i in range(30)]
    assert len(set(etas)) == 30 and all(0 <= e <= 1 for e in etas)
    assert etas == [ShardDataset(split, "test", seed=1)[i]["eta"] for i in range(30)]
    loader = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=2)
    batch = next(iter(loader))
    assert batch["video"].shape == (8, 10, 1, 64, 64) and len(batch["caption"]) == 8


def _idx_gz(path, array, dims):
    header = struct.pack(">HBB", 0, 8, len(dims)) + struct.pack(">" + "I" * len(dims), *dims)
    path.write_bytes(gzip.compress(header + array.tobytes()))
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture()
def mnist_server(tmp_path):
    """Tiny IDX files served on 127.0.0.1, with their MD5 table."""
    root = tmp_path / "served"
    root.mkdir()
    rng = np.random.default_rng(0)
    sums = {}
    for prefix, n in (("train", 12), ("t10k", 6)):
        sums[f"{prefix}-images-idx3-ubyte.gz"] = _idx_gz(
            root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), (n, 28, 28))
        sums[f"{prefix}-labels-idx1-ubyte.gz"] = _idx_gz(
            root / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8), (n,))
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", sums, root
    server.shutdown()


def test_fetch_verifies_md5_and_loads(tmp_path, mnist_server):
    url, sums, _ = mnist_server
    dest = fetch_mnist(tmp_path / "cache", mirrors=(url,), files=sums)
    train, test = load_mnist(dest, "train"), load_mnist(dest, "test")
    assert train.images.shape == (12, 28, 28) and test.images.shape == (6, 28, 28)
    assert train.labels.tolist() == [i % 10 for i in range(12)]


def test_fetch_rejects_a_corrupt_download(tmp_path, mnist_server):
    url, sums, root = mnist_server
    bad = dict(sums)
    bad["train-images-idx3-ubyte.gz"] = "0" * 32
    with pytest.raises(DigitSourceError, match="MD5"):
        fetch_mnist(tmp_path / "cache", mirrors=(url,), files=bad)
    assert not (tmp_path / "cache" / "train-images-idx3-ubyte.gz").exists()
    # through the command: the served files are not the real MNIST, so the real MD5 table rejects them
    proc = datagen("fetch", "mnist", "--dest", tmp_path / "c2", "--mirror", url)
    assert proc.returncode == 2 and "MD5" in error_line(proc)


def test_mnist_dir_feeds_the_generator(tmp_path, mnist_server):
    url, sums, root = mnist_server
    datagen("mnist", "--variant", "single", "--split", "train", "--num-videos", 5, "--out", tmp_path / "o",
            "--mnist-dir", root, check=True)
    ds = ShardDataset(tmp_path / "o", "train", eta=0.0)
    assert ds.attrs["digit_source"] == "mnist"
