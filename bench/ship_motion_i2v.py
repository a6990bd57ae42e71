"""Package a trained Motion-I2V-style run as the checkpoint shipped for one dataset, and print its pin.

Copies RUN/model.ckpt to ``models/motion_i2v/weights/<dataset>.ckpt`` with the weights rounded to float16 (half
the size; the loader casts them back to float32), and records in its metadata what trained it: steps, wall
minutes and device (from the run's metrics.jsonl when the checkpoint predates those fields) and the commands
given with ``--command``. Then paste the printed sha256 into ``SHIPPED`` in ``models/motion_i2v/api.py``.

    .venv/bin/python bench/ship_motion_i2v.py runs/budget/mnist-single/motion-i2v mnist-single \\
        --command "ti2v-datagen mnist ..." --command "ti2v-train motion-i2v ..."
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ti2v.benchmark.weights import sha256_file
from ti2v.models.checkpoint import load_checkpoint, save_checkpoint
from ti2v.models.motion_i2v.api import WEIGHTS_DIR


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="run folder of ti2v-train motion-i2v (holds model.ckpt, metrics.jsonl)")
    ap.add_argument("dataset")
    ap.add_argument("--command", action="append", default=[], help="a command that made the run (repeatable)")
    ap.add_argument("--device", default=None, help="what trained it, when the checkpoint does not say")
    args = ap.parse_args()
    tensors, info = load_checkpoint(args.run / "model.ckpt")
    rows = [json.loads(x) for x in (args.run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    train_rows = [r for r in rows if "minutes" in r]
    info.setdefault("minutes", train_rows[-1]["minutes"] if train_rows else None)
    if args.device or "device" not in info:
        info["device"] = args.device or "unknown"
    info["commands"] = args.command
    info["weights_dtype"] = "float16"
    evals = [r for r in rows if r.get("kind") == "eval"]
    if evals:
        info["last_eval"] = {k: v for k, v in evals[-1].items() if k not in ("stage", "kind", "time")}
    meta = {k: v for k, v in info.items() if k not in ("format", "version")}
    half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    dest = save_checkpoint(WEIGHTS_DIR / f"{args.dataset}.ckpt", half, meta)
    print(f"{dest}: {dest.stat().st_size / 1e6:.2f} MB, {info['step']} steps, {info['minutes']} min on {info['device']}")
    print(f'SHIPPED["{args.dataset}"] = "{sha256_file(dest)}"')


if __name__ == "__main__":
    main()
