"""``make demo``: the main job end to end on an embedded default, in a few minutes on 2 CPU cores.

1. Single Moving MNIST, 512 train / 48 test videos (scikit-learn's bundled digits stand in for MNIST, which
   cannot be downloaded offline), a contact sheet and a GIF of it;
2. a tiny VQ-VAE, then a tiny MAGE on its tokens (the paper's architecture at toy width, CPU);
3. ``ti2v-bench evaluate`` on the test split: the trained MAGE and the ``static`` baseline, with the metrics that
   need no downloaded weights (PSNR, SSIM, exact controllability); the rest are reported as skipped.

Every step is the real command a user would type (printed before it runs), so the demo doubles as a tutorial.
Rerunning resumes: the dataset and the training runs pick up where they stopped.

    python -m ti2v.benchmark.demo --out demo-out [--minutes 4]
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

TINY_VQVAE = ["--set", "vqvae.channels=[16,32]", "--set", "vqvae.code_dim=32", "--set", "vqvae.codebook_size=128",
              "--set", "vqvae.res_blocks=1", "--set", "vqvae_train.warmup_steps=20",
              "--set", "vqvae_train.log_every=20", "--set", "vqvae_train.sample_every=100000",
              "--set", "vqvae_train.ckpt_every=100", "--set", "vqvae_train.eval_clips=16"]
TINY_MAGE = ["--set", "mage.d_model=64", "--set", "mage.heads=4", "--set", "mage.ff_dim=128",
             "--set", "mage.dropout=0.0", "--set", "mage.axial_blocks=3", "--set", "mage_train.warmup_steps=20",
             "--set", "mage_train.log_every=20", "--set", "mage_train.eval_every=100000",
             "--set", "mage_train.sample_every=100000", "--set", "mage_train.ckpt_every=100",
             "--set", "mage_train.eval_clips=16"]


def step(title: str, *cmd: str) -> None:
    print(f"\n== {title}\n$ {' '.join(shlex.quote(str(c)) for c in cmd)}", flush=True)
    t0 = time.perf_counter()
    subprocess.run([str(c) for c in cmd], check=True)
    print(f"   ({time.perf_counter() - t0:.0f} s)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="demo-out")
    ap.add_argument("--minutes", type=float, default=4.0, help="training budget, split between the two stages")
    args = ap.parse_args()
    out = Path(args.out)
    bindir = Path(sys.executable).parent
    datagen, train, bench = (str(bindir / n) for n in ("ti2v-datagen", "ti2v-train", "ti2v-bench"))
    data = out / "mnist-single"

    for split, n in (("train", 512), ("test", 48)):
        step(f"Single Moving MNIST, {split} split (scikit-learn digits standing in for MNIST)",
             datagen, "mnist", "--variant", "single", "--split", split, "--num-videos", n, "--out", data,
             "--digits", "sklearn", "--shard-size", 256, "--seed", 0)
    step("verify the shards", datagen, "verify", data)
    step("a contact sheet and a GIF to look at", datagen, "preview", data / "train", "--out", out / "train-sheet.png", "--count", 4)
    step("", datagen, "preview", data / "train", "--out", out / "train-clip.gif", "--count", 4)

    vq_minutes, mage_minutes = 0.35 * args.minutes, 0.65 * args.minutes
    step("stage 1: VQ-VAE (Eq. 1), 64x64 frames -> 16x16 tokens", train, "vqvae", "--preset", "mnist-single",
         "--data", data, "--out", out / "vqvae", "--device", "cpu", "--steps", 400, "--batch-size", 32, "--lr", 2e-3,
         "--workers", 0, "--max-minutes", vq_minutes, *TINY_VQVAE)
    step("stage 2: MAGE (motion anchor, speed, axial transformer; Eq. 7)", train, "mage", "--preset", "mnist-single",
         "--data", data, "--out", out / "mage", "--vqvae", out / "vqvae" / "vqvae.ckpt", "--device", "cpu",
         "--steps", 600, "--batch-size", 8, "--lr", 1e-3, "--workers", 0, "--max-minutes", mage_minutes, *TINY_MAGE)

    for name, model in (("mage", out / "mage" / "model.ckpt"), ("static", "static")):
        step(f"benchmark: {name} on the test split", bench, "evaluate", model, "--data", data, "--split", "test",
             "--speed", 0.5, "--metrics", "psnr,ssim,control", "--device", "cpu", "--seed", 0,
             "--out", out / f"report-{name}")
    for name in ("mage", "static"):
        print(f"\n== report of {name} ({out / f'report-{name}' / 'report.md'})\n")
        print((out / f"report-{name}" / "report.md").read_text())
    print(f"Done. Look at {out}/train-sheet.png, {out}/report-mage/ (samples grid, speed plot).")


if __name__ == "__main__":
    main()
