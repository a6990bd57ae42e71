"""Reports of the built-in baselines (``static`` and ``oracle``) on small real test splits, for the issue note.

1. Modified Double Moving MNIST (scikit-learn digits, the offline stand-in for MNIST): a test split, scored with
   explicit captions; ``oracle`` passes the ground truth through ``--vqvae`` when one is given (for instance the
   VQ-VAE of bench/learning_curve.py, trained on Single Moving MNIST), else it is the ground truth itself.
2. CATER-GEN-v2 rendered with Blender (128x128, few samples to keep it short): train and test splits (the
   shipped judge locates the objects; its cell accuracy on the ground truth is printed next to the scores),
   scored with explicit and with ambiguous captions.

Metrics that need downloaded weights (LPIPS, FID, FVD, diversity) appear as skipped on machines without them.

    .venv/bin/python bench/baseline_reports.py [--out runs/baselines] [--vqvae runs/learning-curve/vqvae/vqvae.ckpt]
        [--mnist-clips 200] [--cater-clips 12] [--cater-samples 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def run(*cmd, quiet: bool = False) -> None:
    cmd = [str(c) for c in cmd]
    print("$", shlex.join(cmd), flush=True)
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL if quiet else None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("runs/baselines"))
    ap.add_argument("--vqvae", type=Path, default=None)
    ap.add_argument("--mnist-clips", type=int, default=200)
    ap.add_argument("--cater-clips", type=int, default=12)
    ap.add_argument("--cater-samples", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    datagen, bench = BIN / "ti2v-datagen", BIN / "ti2v-bench"

    mnist = args.out / "mnist-modified"
    run(datagen, "mnist", "--variant", "modified", "--split", "test", "--num-videos", args.mnist_clips,
        "--digits", "sklearn", "--seed", 1, "--out", mnist)
    oracle = ["oracle", "--vqvae", args.vqvae] if args.vqvae else ["oracle"]
    for model in (["static"], oracle):
        report = args.out / f"mnist-{model[0]}"
        run(bench, "evaluate", *model, "--data", mnist, "--seed", 0, "--out", report, quiet=True)
        print((report / "report.md").read_text(), flush=True)

    cater = args.out / "cater-gen-v2"
    for split, seed in (("train", 2), ("test", 3)):
        run(datagen, "cater", "--version", "v2", "--split", split, "--num-videos", args.cater_clips, "--seed", seed,
            "--resolution", 128, "--samples", args.cater_samples, "--workers", args.workers, "--threads", 1,
            "--shard-size", max(1, args.cater_clips // args.workers), "--out", cater)
    for captions in ("explicit", "ambiguous"):
        for model in ("static", "oracle"):
            report = args.out / f"cater-{model}-{captions}"
            run(bench, "evaluate", model, "--data", cater, "--captions", captions, "--seed", 0, "--out", report,
                quiet=True)
            print((report / "report.md").read_text(), flush=True)


if __name__ == "__main__":
    main()
