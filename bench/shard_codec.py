"""Which compression the video dataset uses, by measurement: size and read/write speed per codec.

Generates a Modified Double Moving MNIST shard (scikit-learn digits), rewrites its videos with each candidate
(one video per chunk, as the format requires) and reads them back one video at a time, as a loader does.

Deflate candidates (zlib, zlib-ng and ISA-L at several levels) are written the way ShardWriter writes: compressed in
Python and stored with ``write_direct_chunk``; every one is a standard deflate stream, so HDF5's own gzip filter
reads it (checked here) and the "read" column is the loader's path (``read_direct_chunk`` + inflate).
lzf and no compression go through h5py's filter pipeline, the only way to write them.

    .venv/bin/python bench/shard_codec.py [--videos 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import h5py
import numpy as np
from isal import isal_zlib

from ti2v.datagen.shard import deflate_chunk

class _Isal:
    """ISA-L's streaming API (its one-shot one starts from what its buffer held); not used by ShardWriter: it too
    gave another stream for about one video in 3,000 after heap churn."""

    @staticmethod
    def compress(data, level: int) -> bytes:
        c = isal_zlib.compressobj(level)
        return c.compress(data) + c.flush()


class _Shard:
    """zlib-ng, as ShardWriter uses it (``shard.deflate_chunk``)."""

    compress = staticmethod(deflate_chunk)


DEFLATE = [("zlib", 1, zlib), ("zlib", 4, zlib), ("zlib", 9, zlib), ("zlib-ng", 1, _Shard), ("zlib-ng", 2, _Shard),
           ("isal", 0, _Isal), ("isal", 1, _Isal), ("isal", 2, _Isal), ("isal", 3, _Isal)]
FILTERS = [("lzf", None), (None, None)]


def _deflate_row(videos: np.ndarray, path: Path, module, level: int) -> tuple[float, float]:
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("v", shape=videos.shape, dtype=np.uint8, chunks=(1,) + videos.shape[1:],
                              compression="gzip", compression_opts=1)
        t0 = time.perf_counter()
        for i, video in enumerate(videos):
            ds.id.write_direct_chunk((i, 0, 0, 0, 0), module.compress(video, level))
        write = time.perf_counter() - t0
    with h5py.File(path) as f:
        ds = f["v"]
        assert np.array_equal(ds[len(videos) // 2], videos[len(videos) // 2]), "HDF5's filter must read it back"
        t0 = time.perf_counter()
        for i in range(len(videos)):
            np.frombuffer(isal_zlib.decompress(ds.id.read_direct_chunk((i, 0, 0, 0, 0))[1]), np.uint8)
        read = time.perf_counter() - t0
    return write, read


def _filter_row(videos: np.ndarray, path: Path, codec, level) -> tuple[float, float]:
    t0 = time.perf_counter()
    with h5py.File(path, "w") as f:
        f.create_dataset("v", data=videos, chunks=(1,) + videos.shape[1:], compression=codec, compression_opts=level)
    write = time.perf_counter() - t0
    with h5py.File(path) as f:
        ds = f["v"]
        t0 = time.perf_counter()
        for i in range(len(videos)):
            ds[i]
        read = time.perf_counter() - t0
    return write, read


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "ti2v.datagen.cli", "mnist", "--variant", "modified", "--split", "train",
                        "--num-videos", str(args.videos), "--shard-size", str(args.videos), "--out", tmp,
                        "--digits", "sklearn"], check=True, capture_output=True)
        with h5py.File(Path(tmp) / "train" / "shard-00000.h5") as f:
            videos = f["videos"][:]
        print(f"{len(videos)} videos of {videos.shape[1:]}, {videos[0].nbytes / 1024:.1f} KiB raw each")
        print(f"| codec | KiB/video | write videos/s | read videos/s |\n|---|---|---|---|")
        path = Path(tmp) / "codec.h5"
        for name, level, module in DEFLATE:
            write, read = _deflate_row(videos, path, module, level)
            print(f"| {name} {level} | {os.path.getsize(path) / len(videos) / 1024:.2f} | {len(videos) / write:,.0f} | {len(videos) / read:,.0f} |")
        for codec, level in FILTERS:
            write, read = _filter_row(videos, path, codec, level)
            print(f"| {codec or 'none'} | {os.path.getsize(path) / len(videos) / 1024:.2f} | {len(videos) / write:,.0f} | {len(videos) / read:,.0f} |")


if __name__ == "__main__":
    main()
