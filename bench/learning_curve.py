"""Learning curve of a short real CPU run on Single Moving MNIST: data, VQ-VAE, MAGE, then a table.

Generates 2,000 train / 200 test Single Moving MNIST videos (scikit-learn digits: the offline stand-in for MNIST,
which cannot be downloaded on the build machines), trains a reduced VQ-VAE and a d = 128 MAGE for fixed wall
times with ``ti2v-train``, and prints the curve from the runs' metrics.jsonl: training loss and teacher-forced
token accuracy, and on held-out test clips the teacher-forced and greedy-generation token accuracy and the PSNR of
generated frames (decoded by the VQ-VAE) against the ground truth. The exact commands are printed first.

    .venv/bin/python bench/learning_curve.py [--out runs/learning-curve] [--vqvae-minutes 8] [--mage-minutes 21]
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def commands(out: Path, vqvae_minutes: float, mage_minutes: float) -> list[list[str]]:
    data = out / "data"
    gen = [str(BIN / "ti2v-datagen"), "mnist", "--variant", "single", "--digits", "sklearn", "--seed", "0",
           "--out", str(data)]
    return [
        gen + ["--split", "train", "--num-videos", "2000"],
        gen + ["--split", "test", "--num-videos", "200"],
        [str(BIN / "ti2v-train"), "vqvae", "--preset", "mnist-single", "--data", str(data), "--out", str(out / "vqvae"),
         "--device", "cpu", "--steps", "100000", "--batch-size", "24", "--lr", "2e-3", "--workers", "0",
         "--max-minutes", str(vqvae_minutes), "--set", "vqvae.channels=[16,48]", "--set", "vqvae.code_dim=64",
         "--set", "vqvae.res_blocks=1", "--set", "vqvae_train.warmup_steps=30", "--set", "vqvae_train.log_every=20",
         "--set", "vqvae_train.sample_every=200", "--set", "vqvae_train.ckpt_every=100",
         "--set", "vqvae_train.eval_clips=32"],
        [str(BIN / "ti2v-train"), "mage", "--preset", "mnist-single", "--data", str(data), "--out", str(out / "mage"),
         "--vqvae", str(out / "vqvae" / "vqvae.ckpt"), "--device", "cpu", "--steps", "100000", "--batch-size", "8",
         "--lr", "5e-4", "--workers", "0", "--max-minutes", str(mage_minutes),
         "--set", "mage.d_model=128", "--set", "mage.heads=4", "--set", "mage.ff_dim=512", "--set", "mage.dropout=0.0",
         "--set", "mage_train.warmup_steps=50", "--set", "mage_train.log_every=10", "--set", "mage_train.eval_every=100",
         "--set", "mage_train.eval_clips=32", "--set", "mage_train.sample_every=300", "--set", "mage_train.ckpt_every=100"],
    ]


def table(out: Path) -> str:
    lines = []
    vq = [json.loads(line) for line in (out / "vqvae" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in vq if r.get("kind") == "eval"]
    lines += ["VQ-VAE (test recon PSNR, dB):", "| step | recon PSNR |", "|---|---|"]
    lines += [f"| {r['step']} | {r['recon_psnr']:.2f} |" for r in evals]
    rows = [json.loads(line) for line in (out / "mage" / "metrics.jsonl").read_text().splitlines()]
    train = {r["step"]: r for r in rows if "kind" not in r}
    lines += ["", "MAGE (train: loss and token accuracy, mean of the last log interval; test: 32 clips):",
              "| step | minutes | train loss | train acc | test CE | test TF acc | test gen acc | test gen PSNR (dB) |",
              "|---|---|---|---|---|---|---|---|"]
    t0 = rows[0]["time"]
    for r in (r for r in rows if r.get("kind") == "eval"):
        near = train.get(r["step"]) or train[max(s for s in train if s <= r["step"])]
        lines.append(f"| {r['step']} | {(r['time'] - t0) / 60:.1f} | {near['loss']:.3f} | {near['acc']:.3f} | {r['ce']:.3f} | "
                     f"{r['tf_acc']:.3f} | {r['gen_acc']:.3f} | {r['gen_psnr']:.2f} |")
    lines.append(f"(ground truth through the VQ-VAE: {rows[-1]['recon_psnr']:.2f} dB)" if "recon_psnr" in rows[-1] else "")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("runs/learning-curve"))
    ap.add_argument("--vqvae-minutes", type=float, default=8)
    ap.add_argument("--mage-minutes", type=float, default=21)
    ap.add_argument("--table-only", action="store_true", help="print the table of an existing run")
    args = ap.parse_args()
    if not args.table_only:
        for cmd in commands(args.out, args.vqvae_minutes, args.mage_minutes):
            print("$", shlex.join(cmd), flush=True)
            subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    print(table(args.out))


if __name__ == "__main__":
    main()
