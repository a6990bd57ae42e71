"""A CPU budget run of the Motion-I2V-style baseline on one dataset: data, training, scoring, learning curve.

1. ``ti2v-datagen mnist`` train and test splits (scikit-learn digits, the offline stand-in for MNIST; the test
   split's digit/axis combinations never occur in train), or an existing ``--data`` folder (CATER-GEN);
2. ``ti2v-train motion-i2v --preset <dataset>`` for at most ``--minutes`` of wall time (and the preset's steps);
3. ``ti2v-bench evaluate`` of the trained model (with ``--trajectory-control``) and of ``static`` on the test
   split, each report with a ``leaderboard.json`` sidecar (device, minutes, steps, the commands) for
   ``bench/leaderboard.py``;
4. optionally (``--with-mage``) the reference MAGE trained on the same data with the same total wall time
   (VQ-VAE 35%, generator 65%) and scored the same way;
5. the learning curve (training losses and the periodic evaluations from metrics.jsonl) as a table.

Every command is printed before it runs, so the run doubles as the recipe in the notes.

    .venv/bin/python bench/motion_i2v_budget.py --dataset mnist-single [--minutes 120] [--train-videos 10000]
        [--test-videos 512] [--out runs/budget] [--with-mage] [--steps N] [--set SECTION.KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
VARIANTS = {"mnist-single": "single", "mnist-double": "double", "mnist-modified": "modified"}
DEVICE = f"cpu ({os.cpu_count()} cores)"


def run(cmd: list) -> float:
    cmd = [str(c) for c in cmd]
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def make_data(dataset: str, out: Path, train: int, test: int) -> Path:
    data = out / "data" / dataset
    for split, n, seed in (("train", train, 0), ("test", test, 1)):
        run([BIN / "ti2v-datagen", "mnist", "--variant", VARIANTS[dataset], "--split", split, "--num-videos", n,
             "--out", data, "--digits", "sklearn", "--seed", seed, "--workers", 2])
    return data


def evaluate(model: str, data: Path, out: Path, budget: dict, train_cmds: list[str], extra=()) -> dict:
    cmd = [BIN / "ti2v-bench", "evaluate", model, "--data", data, "--split", "test", "--speed", "random",
           "--metrics", "psnr,ssim,control", "--device", "cpu", "--seed", 0, "--out", out, *extra]
    run(cmd)
    shown = " ".join(shlex.quote(str(c)) for c in ["ti2v-bench", *cmd[1:]])
    (out / "leaderboard.json").write_text(json.dumps({"budget": budget, "command": " && ".join(train_cmds + [shown])},
                                                     indent=1) + "\n")
    return json.loads((out / "report.json").read_text())


def curve(metrics: Path) -> str:
    rows = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
    train = [r for r in rows if r.get("kind") != "eval" and "field_loss" in r]
    evals = {r["step"]: r for r in rows if r.get("kind") == "eval"}
    lines = ["| step | minutes | field loss | render L1 | eval PSNR (generated) | eval PSNR (true field) | field EPE px |",
             "|---|---|---|---|---|---|---|"]
    every = max(1, len(train) // 12)
    for r in train[::every] + train[-1:]:
        e = evals.get(r["step"], {})
        lines.append(f"| {r['step']} | {r['minutes']:.1f} | {r['field_loss']:.4f} | {r['render_l1']:.4f} | "
                     + " | ".join(f"{e[k]:.2f}" if k in e else "" for k in
                                  ("gen_psnr", "true_field_psnr", "field_epe_px")) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", required=True, choices=[*VARIANTS, "cater-gen-v1", "cater-gen-v2"])
    ap.add_argument("--data", type=Path, help="an existing dataset folder with train/ and test/ (needed for CATER)")
    ap.add_argument("--out", type=Path, default=Path("runs/budget"))
    ap.add_argument("--minutes", type=float, default=120.0, help="training wall-time limit")
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: the preset's)")
    ap.add_argument("--train-videos", type=int, default=10000)
    ap.add_argument("--test-videos", type=int, default=512)
    ap.add_argument("--with-mage", action="store_true", help="also train and score MAGE with the same budget")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = ap.parse_args()
    out = args.out / args.dataset
    if args.data:
        data = args.data
    elif args.dataset in VARIANTS:
        data = make_data(args.dataset, out, args.train_videos, args.test_videos)
    else:
        ap.error(f"--dataset {args.dataset} needs --data (render it with ti2v-datagen cater)")

    run_dir = out / "motion-i2v"
    train = [BIN / "ti2v-train", "motion-i2v", "--preset", args.dataset, "--data", data, "--out", run_dir,
             "--max-minutes", args.minutes, "--workers", 0,
             *(["--steps", args.steps] if args.steps else []), *[a for s in args.overrides for a in ("--set", s)]]
    seconds = run(train)
    from ti2v.models.checkpoint import read_header

    steps = int(read_header(run_dir / "model.ckpt")["step"])
    train_cmd = " ".join(shlex.quote(str(c)) for c in ["ti2v-train", *train[1:]])
    budget = {"device": DEVICE, "minutes": round(seconds / 60, 1), "steps": steps}
    reports = {"Motion-I2V-style": evaluate(str(run_dir / "model.ckpt"), data, out / "report-motion-i2v", budget,
                                            [train_cmd], ["--trajectory-control"]),
               "static": evaluate("static", data, out / "report-static", {}, [])}
    if args.with_mage:
        vq_dir, mage_dir = out / "mage-vqvae", out / "mage"
        vq = [BIN / "ti2v-train", "vqvae", "--preset", args.dataset, "--data", data, "--out", vq_dir,
              "--max-minutes", round(0.35 * args.minutes, 2), "--workers", 0]
        mage = [BIN / "ti2v-train", "mage", "--preset", args.dataset, "--data", data, "--out", mage_dir,
                "--vqvae", vq_dir / "vqvae.ckpt", "--max-minutes", round(0.65 * args.minutes, 2), "--workers", 0]
        mage_seconds = run(vq) + run(mage)
        mage_budget = {"device": DEVICE, "minutes": round(mage_seconds / 60, 1),
                       "steps": int(read_header(mage_dir / "model.ckpt")["step"])}
        reports["MAGE"] = evaluate(str(mage_dir / "model.ckpt"), data, out / "report-mage", mage_budget,
                                   [" ".join(shlex.quote(str(c)) for c in ["ti2v-train", *c[1:]]) for c in (vq, mage)])

    print(f"\n## {args.dataset}: {steps} steps in {seconds / 60:.1f} min on {DEVICE}\n")
    print(curve(run_dir / "metrics.jsonl"))
    print("\n| model | PSNR | SSIM | motion accuracy | track error px | distractor stillness | trajectory error px |")
    print("|---|---|---|---|---|---|---|")
    for name, rep in reports.items():
        c, m, t = rep.get("control") or {}, rep["metrics"], rep.get("trajectory_control") or {}
        cells = [m.get("psnr"), m.get("ssim"), c.get("motion_accuracy", c.get("action_precision")),
                 c.get("track_error_px"), c.get("distractor_stillness"), t.get("trajectory_error_px")]
        print(f"| {name} | " + " | ".join(f"{v:.3f}" if isinstance(v, float) else "–" for v in cells) + " |")


if __name__ == "__main__":
    main()
