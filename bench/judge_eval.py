"""The CATER-GEN judge measured on rendered test splits: ground truth, static, degraded ground truth, speed.

For every clip of every split (explicit and ambiguous captions, speeds drawn per clip from --seed as
``ti2v-bench evaluate --speed random`` does), the shipped judge (or --judge FILE) reads
* the ground truth: action precision, referring precision, unnamed still, not judgeable (share and reasons);
* the static video (first frame repeated): its action precision should be near 0;
* the ground truth degraded by each setting of ``ti2v.benchmark.degrade.ROBUSTNESS`` (all frames but the given
  first one): its action precision;
plus the judge's cell accuracy on every ground-truth object-frame at rest and in sight, and its speed (clips/s of
one tracked 10-frame video, the cost of scoring one sample).

    .venv/bin/python bench/judge_eval.py DIR [DIR ...] [--judge template|FILE] [--seed 0] [--limit N] \\
        [--robust-limit N] [--json out.json] [--md out.md] [--threads 2]

DIR is a dataset folder with a test split (``ti2v-datagen cater ... --split test``); ``--split train --start N``
scores a training split's clips from N on (development only). Writes JSON and Markdown.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ti2v.benchmark import degrade
from ti2v.benchmark.cater_control import CaterScorer
from ti2v.benchmark.data import ClipReader
from ti2v.benchmark.judge import Judge

MODES = ("explicit", "ambiguous")


def pooled(recs: list[dict], scorer: CaterScorer) -> dict:
    s = scorer.summarize(recs)
    keep = ("clips", "actions", "actions_not_judgeable", "not_judgeable_share", "not_judgeable_reasons",
            "action_precision", "referring_precision", "unnamed_still", "action_precision_by_kind")
    return {k: s[k] for k in keep}


def evaluate_splits(dirs, judge: Judge, seed: int = 0, limit: int | None = None, log=print, split: str = "test",
                    start: int = 0, robust_limit: int | None = None) -> dict:
    rows = {m: {"truth": [], "static": [], **{d: [] for d in degrade.ROBUSTNESS}} for m in MODES}
    scorers = {m: CaterScorer(judge, m, {"cell_accuracy": None}) for m in MODES}
    per_split, track_s, tracked = {}, 0.0, 0
    all_clips, truth_tracks = [], []
    for d in dirs:
        readers = {m: ClipReader(d, split, captions=m, speed="random", seed=seed,
                                 limit=start + limit if limit else None) for m in MODES}
        clips = {m: list(r)[start:] for m, r in readers.items()}
        all_clips += clips["explicit"]
        split_rows = {m: [] for m in MODES}
        for i, c in enumerate(clips["explicit"]):
            variants = {"truth": c.video}
            if robust_limit is None or i < robust_limit:
                variants["static"] = np.repeat(c.video[:1], len(c.video), 0)
                variants.update({n: degrade.degrade_video(c.video, n, seed=c.index) for n in degrade.ROBUSTNESS})
            for name, video in variants.items():
                t0 = time.perf_counter()
                tr = judge.track(video, c.annotations, first_frame=c.video[0])
                track_s += time.perf_counter() - t0
                tracked += 1
                if name == "truth":
                    truth_tracks.append(tr)
                for m in MODES:
                    rec = scorers[m].score_clip(video, clips[m][i], tracks=tr)
                    rows[m][name].append(rec)
                    if name == "truth":
                        split_rows[m].append(rec)
            if (i + 1) % 10 == 0:
                log(f"{d}: {i + 1}/{len(clips['explicit'])} clips")
        per_split[str(d)] = {m: pooled(split_rows[m], scorers[m]) for m in MODES}
    out = {"judge": judge.describe(), "seed": seed, "splits": per_split,
           "cell": judge.accuracy(all_clips, truth_tracks),
           "seconds_per_tracked_video": track_s / max(1, tracked), "clips_per_s": tracked / max(track_s, 1e-9)}
    for m in MODES:
        out[m] = {name: pooled(recs, scorers[m]) for name, recs in rows[m].items()}
    both = [r for m in MODES for r in rows[m]["truth"]]
    out["pooled_truth"] = pooled(both, scorers["explicit"])
    return out


def markdown(res: dict) -> str:
    f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    lines = [f"Judge: {res['judge']['file']}, sha256 {res['judge']['sha256'][:16]}; speeds seed {res['seed']}.", "",
             "| split | captions | judged (not judgeable) | action prec | referring prec | unnamed still |",
             "|---|---|---|---|---|---|"]
    for d, per in res["splits"].items():
        for m in MODES:
            r = per[m]
            lines.append(f"| {d} | {m} | {r['actions']} ({r['actions_not_judgeable']}) | {f(r['action_precision'])} "
                         f"| {f(r['referring_precision'])} | {f(r['unnamed_still'])} |")
    p = res["pooled_truth"]
    lines += [f"| all | both | {p['actions']} ({p['actions_not_judgeable']}) | {f(p['action_precision'])} | "
              f"{f(p['referring_precision'])} | {f(p['unnamed_still'])} |", "",
              f"Not judgeable: {f(p['not_judgeable_share'])} of sentences ({p['not_judgeable_reasons']}).", "",
              f"Cell accuracy {f(res['cell']['cell_accuracy'])} over {res['cell']['objects_frames']} object-frames "
              f"(mean centre error {res['cell']['mean_2d_error_px']:.2f} px, in-sight accuracy "
              f"{f(res['cell']['in_sight_accuracy'])}); speed {res['clips_per_s']:.2f} tracked videos/s.", "",
              "| video | explicit action prec | ambiguous action prec |", "|---|---|---|"]
    for name in ["truth", "static", *degrade.ROBUSTNESS]:
        lines.append(f"| {name} | {f(res['explicit'][name]['action_precision'])} | "
                     f"{f(res['ambiguous'][name]['action_precision'])} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--judge", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--split", default="test")
    ap.add_argument("--start", type=int, default=0, help="skip the split's first clips (e.g. those trained on)")
    ap.add_argument("--robust-limit", type=int, default=None,
                    help="score static and degraded videos on each split's first N clips only (slow judges)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--md", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res = evaluate_splits(args.dirs, Judge.load(args.judge), args.seed, args.limit, log=lambda s: print(s, flush=True),
                          split=args.split, start=args.start, robust_limit=args.robust_limit)
    md = markdown(res)
    print(md)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str))
    if args.md:
        args.md.write_text(md)


if __name__ == "__main__":
    main()
