"""Which compression the video dataset uses, by measurement: size and read/write speed per codec.

Generates a Modified Double Moving MNIST shard (scikit-learn digits), rewrites its videos with each candidate
(one video per chunk, as the format requires) and reads them back one video at a time, as a loader does.

    .venv/bin/python bench/shard_codec.py [--videos 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py

CODECS = [("gzip", 1, False), ("gzip", 4, False), ("gzip", 9, False), ("lzf", None, False), (None, None, False)]


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
        print(f"{'codec':<10} {'KiB/video':>10} {'write v/s':>10} {'read v/s':>10}")
        for codec, level, shuffle in CODECS:
            path = Path(tmp) / "codec.h5"
            t0 = time.perf_counter()
            with h5py.File(path, "w") as f:
                f.create_dataset("v", data=videos, chunks=(1,) + videos.shape[1:], compression=codec,
                                 compression_opts=level, shuffle=shuffle)
            write = time.perf_counter() - t0
            t0 = time.perf_counter()
            with h5py.File(path) as f:
                ds = f["v"]
                for i in range(len(videos)):
                    ds[i]
            read = time.perf_counter() - t0
            name = f"{codec or 'none'}{'' if level is None else ' ' + str(level)}"
            print(f"{name:<10} {os.path.getsize(path) / len(videos) / 1024:>10.2f} {len(videos) / write:>10.0f} {len(videos) / read:>10.0f}")


if __name__ == "__main__":
    main()
