"""A CPU budget run of the baselines on one dataset: data, training, scoring, learning curves.

1. ``ti2v-datagen mnist`` train and test splits (scikit-learn digits, the offline stand-in for MNIST; the test
   split's digit/axis combinations never occur in train), or an existing ``--data`` folder (CATER-GEN);
2. each model of ``--models`` trained for at most ``--minutes`` of wall time in all (and its preset's steps):
   ``motion-i2v`` by ``ti2v-train motion-i2v``; the token models ``mage`` and ``mmvid`` share one VQ-VAE
   (``ti2v-train vqvae``, ``--vqvae-share`` of the budget, or an earlier run's ``--vqvae``), so the two differ in
   the generator only, and each is charged the VQ-VAE's minutes plus its own;
3. ``ti2v-bench evaluate`` of every trained model and of ``static`` on the test split, each report with a
   ``leaderboard.json`` sidecar (device, minutes, steps, the commands) for ``bench/leaderboard.py``;
4. the learning curves (training losses and the periodic evaluations from metrics.jsonl) as tables.

Every command is printed before it runs, so the run doubles as the recipe in the notes. ``--set`` overrides go
to every training command (sections name the model they change: ``mmvid.d_model=128``, ``vqvae.channels=[16,48]``).

    .venv/bin/python bench/budget_run.py --dataset mnist-single [--models motion-i2v,mage,mmvid] [--minutes 120]
        [--train-videos 10000] [--test-videos 512] [--out runs/budget] [--vqvae-share 0.35] [--vqvae CKPT]
        [--steps N] [--set SECTION.KEY=VALUE ...]
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


DATA_CMDS: list[str] = []  # the commands that made the data, first in every row's recipe


def make_data(dataset: str, out: Path, train: int, test: int) -> Path:
    data = out / "data" / dataset
    for split, n, seed in (("train", train, 0), ("test", test, 1)):
        cmd = [BIN / "ti2v-datagen", "mnist", "--variant", VARIANTS[dataset], "--split", split, "--num-videos", n,
               "--out", data, "--digits", "sklearn", "--seed", seed, "--workers", 2]
        run(cmd)
        DATA_CMDS.append(shown(cmd))
    return data


def evaluate(model: str, data: Path, out: Path, budget: dict, train_cmds: list[str], extra=()) -> dict:
    cmd = [BIN / "ti2v-bench", "evaluate", model, "--data", data, "--split", "test", "--speed", "random",
           "--metrics", "psnr,ssim,control", "--device", "cpu", "--seed", 0, "--out", out, *extra]
    run(cmd)
    (out / "leaderboard.json").write_text(json.dumps({"budget": budget,
                                                      "command": " && ".join(DATA_CMDS + train_cmds + [shown(cmd)])},
                                                     indent=1) + "\n")
    return json.loads((out / "report.json").read_text())


#: per model: the training-row and evaluation-row figures of its learning curve (metrics.jsonl keys)
CURVES = {
    "motion-i2v": (("field_loss", "render_l1"), ("gen_psnr", "true_field_psnr", "field_epe_px")),
    "mage": (("loss", "acc"), ("ce", "gen_acc", "gen_psnr", "recon_psnr")),
    "mmvid": (("loss", "acc"), ("gen_acc", "gen_psnr", "recon_psnr", "relevance_ranking")),
    "vqvae": (("loss",), ("recon_psnr",)),
}
NAMES = {"motion-i2v": "Motion-I2V-style", "mage": "MAGE", "mmvid": "MMVID-style"}


def curve(metrics: Path, kind: str) -> str:
    """The learning curve of one run as a Markdown table: about 12 training rows and every evaluation."""
    rows = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
    train_keys, eval_keys = CURVES[kind]
    train = [r for r in rows if r.get("kind") != "eval" and train_keys[0] in r]
    evals = {r["step"]: r for r in rows if r.get("kind") == "eval"}
    t0 = min((r["time"] for r in rows if "time" in r), default=None)

    def minutes(r: dict) -> str:
        if "minutes" in r:
            return f"{r['minutes']:.1f}"
        return f"{(r['time'] - t0) / 60:.1f}" if t0 is not None and "time" in r else ""

    head = ["step", "minutes", *train_keys, *(f"eval {k}" for k in eval_keys)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    every = max(1, len(train) // 12)
    picked = {r["step"]: r for r in train[::every] + train[-1:]}
    for step in sorted(set(picked) | set(evals)):
        r, e = picked.get(step, {}), evals.get(step, {})
        cells = [str(step), minutes(r or e)] + [f"{r[k]:.4f}" if isinstance(r.get(k), float) else "" for k in train_keys]
        cells += [f"{e[k]:.3f}" if isinstance(e.get(k), float) else "" for k in eval_keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def shown(cmd: list) -> str:
    return " ".join(shlex.quote(str(c)) for c in [Path(str(cmd[0])).name, *cmd[1:]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", required=True, choices=[*VARIANTS, "cater-gen-v1", "cater-gen-v2"])
    ap.add_argument("--data", type=Path, help="an existing dataset folder with train/ and test/ (needed for CATER)")
    ap.add_argument("--out", type=Path, default=Path("runs/budget"))
    ap.add_argument("--models", default="motion-i2v",
                    help="comma-separated, from motion-i2v, mage, mmvid (default: motion-i2v); static is always scored")
    ap.add_argument("--minutes", type=float, default=120.0, help="training wall-time budget of each model")
    ap.add_argument("--vqvae-share", type=float, default=0.35,
                    help="share of a token model's budget given to training the shared VQ-VAE (default 0.35)")
    ap.add_argument("--vqvae", type=Path, default=None,
                    help="reuse this vqvae.ckpt (made by an earlier run of this script: its minutes are charged)")
    ap.add_argument("--steps", type=int, default=None, help="training steps of each generator (default: presets')")
    ap.add_argument("--train-videos", type=int, default=10000)
    ap.add_argument("--test-videos", type=int, default=512)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = ap.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in NAMES]
    if bad or not models:
        ap.error(f"--models {args.models!r}: allowed are {', '.join(NAMES)} (comma-separated)")
    if not 0 < args.vqvae_share < 1:
        ap.error(f"--vqvae-share {args.vqvae_share}: must be between 0 and 1 (the generator gets the rest)")
    out = args.out / args.dataset
    if args.data:
        data = args.data
    elif args.dataset in VARIANTS:
        data = make_data(args.dataset, out, args.train_videos, args.test_videos)
    else:
        ap.error(f"--dataset {args.dataset} needs --data (render it with ti2v-datagen cater)")
    from ti2v.models.checkpoint import read_header

    sets = [a for s in args.overrides for a in ("--set", s)]
    steps = ["--steps", args.steps] if args.steps else []
    reports, curves = {"static": evaluate("static", data, out / "report-static", {}, [])}, {}
    vq_ckpt, vq_cmds, vq_minutes, vq_steps = None, [], 0.0, 0
    if {"mage", "mmvid"} & set(models):
        if args.vqvae:      # stage 1 of an earlier run: charge the minutes it recorded
            vq_ckpt = args.vqvae
            vq_info = json.loads((vq_ckpt.parent / "budget.json").read_text())
            vq_minutes, vq_steps, vq_cmds = vq_info["minutes"], vq_info["steps"], [vq_info["command"]]
        else:
            vq_dir = out / "vqvae"
            vq = [BIN / "ti2v-train", "vqvae", "--preset", args.dataset, "--data", data, "--out", vq_dir,
                  "--max-minutes", round(args.vqvae_share * args.minutes, 2), "--workers", 0, *sets]
            vq_minutes = round(run(vq) / 60, 1)
            vq_ckpt, vq_steps, vq_cmds = vq_dir / "vqvae.ckpt", int(read_header(vq_dir / "vqvae.ckpt")["step"]), [shown(vq)]
            (vq_dir / "budget.json").write_text(json.dumps({"minutes": vq_minutes, "steps": vq_steps,
                                                            "command": vq_cmds[0]}, indent=1) + "\n")
            curves["vqvae"] = curve(vq_dir / "metrics.jsonl", "vqvae")
    for kind in models:
        run_dir = out / kind
        token = kind in ("mage", "mmvid")
        minutes = args.minutes - (vq_minutes if token else 0.0)
        if minutes <= 0:
            ap.error(f"--minutes {args.minutes}: nothing is left for {kind} after the VQ-VAE's {vq_minutes} min")
        train = [BIN / "ti2v-train", kind, "--preset", args.dataset, "--data", data, "--out", run_dir,
                 "--max-minutes", round(minutes, 2), "--workers", 0, *steps, *sets,
                 *(["--vqvae", vq_ckpt] if token else [])]
        seconds = run(train)
        gen_steps = int(read_header(run_dir / "model.ckpt")["step"])
        budget = {"device": DEVICE, "minutes": round(seconds / 60 + (vq_minutes if token else 0.0), 1),
                  "steps": gen_steps}
        if token:
            budget["note"] = f"VQ-VAE {vq_minutes} min / {vq_steps} steps + {kind} {seconds / 60:.1f} min"
        reports[NAMES[kind]] = evaluate(str(run_dir / "model.ckpt"), data, out / f"report-{kind}", budget,
                                        (vq_cmds if token else []) + [shown(train)],
                                        ["--trajectory-control"] if kind == "motion-i2v" else [])
        curves[kind] = curve(run_dir / "metrics.jsonl", kind)

    for kind, table in curves.items():
        print(f"\n## {args.dataset}: learning curve of {NAMES.get(kind, 'the VQ-VAE')} on {DEVICE}\n")
        print(table)
    print("\n| model | PSNR | SSIM | motion accuracy | track error px | distractor stillness | trajectory error px |")
    print("|---|---|---|---|---|---|---|")
    for name, rep in reports.items():
        c, m, t = rep.get("control") or {}, rep["metrics"], rep.get("trajectory_control") or {}
        cells = [m.get("psnr"), m.get("ssim"), c.get("motion_accuracy", c.get("action_precision")),
                 c.get("track_error_px"), c.get("distractor_stillness"), t.get("trajectory_error_px")]
        print(f"| {name} | " + " | ".join(f"{v:.3f}" if isinstance(v, float) else "–" for v in cells) + " |")


if __name__ == "__main__":
    main()
