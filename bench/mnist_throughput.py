"""Moving MNIST generation and loading throughput (issue figures; not a test).

Generation: Modified Double, 20 frames, through the real command with 2 workers, compressed write and manifest
included; prints videos/s and KiB/video on disk. Loading: clips/s (T = 10, 64x64) through a torch DataLoader
with 2 workers over the generated split.

    .venv/bin/python bench/mnist_throughput.py [--videos 24000] [--digits sklearn]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ti2v.datagen.dataset import ShardDataset


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=24000, help="default: the published Modified Double train split")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--digits", default="sklearn", help="sklearn (offline stand-in) or mnist")
    ap.add_argument("--batches", type=int, default=200)
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="ti2v-bench-"))
    try:
        cmd = [sys.executable, "-m", "ti2v.datagen.cli", "mnist", "--variant", "modified", "--split", "train",
               "--num-videos", str(args.videos), "--shard-size", "1000", "--workers", str(args.workers),
               "--out", str(out), "--digits", args.digits, "--seed", "0"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in (out / "train").glob("*.h5"))
        print(f"generation: {args.videos} Modified Double videos (20 frames) with {args.workers} workers in {wall:.2f} s "
              f"(process start and digit loading included)")
        print(f"generation throughput: {args.videos / wall:.0f} videos/s")
        print(f"disk: {size / args.videos / 1024:.2f} KiB/video")

        ds = ShardDataset(out, "train", with_annotations=False)
        loader = DataLoader(ds, batch_size=64, shuffle=True, num_workers=2, persistent_workers=True,
                            generator=torch.Generator().manual_seed(0))
        it = iter(loader)
        next(it)  # worker start-up
        t0 = time.perf_counter()
        clips = 0
        for _ in range(args.batches):
            try:
                batch = next(it)
            except StopIteration:
                it = iter(loader)
                batch = next(it)
            clips += batch["video"].shape[0]
        wall = time.perf_counter() - t0
        print(f"loader: {clips} clips of {tuple(batch['video'].shape[1:])} in {wall:.2f} s, 2 workers")
        print(f"loader throughput: {clips / wall:.0f} clips/s")
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
