"""Counterfactuals through the CATER-GEN judge: videos from a clip's own first frame whose motion its caption
does not describe (``ti2v.datagen.cater.counterfactual``: the named object goes to another cell, does another
action, or another object acts) must be judged wrong.

For each test clip whose first sentence the ground truth gets right, each kind of counterfactual is planned,
rendered at the split's own settings (only the raw frames the clip shows), and scored against the original
caption with explicit and ambiguous captions.

    .venv/bin/python bench/judge_counterfactuals.py DIR [--limit 40] [--judge FILE] [--json out.json] \\
        [--max-minutes 30]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ti2v.benchmark.cater_control import CaterScorer
from ti2v.benchmark.data import ClipReader
from ti2v.benchmark.judge import Judge
from ti2v.datagen.cater.counterfactual import KINDS, counterfactual, sampled
from ti2v.datagen.cater.plan import ScenePlan
from ti2v.datagen.cater.render import Renderer, RenderSettings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--judge", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    deadline = time.time() + 60 * args.max_minutes if args.max_minutes else None
    judge = Judge.load(args.judge)
    readers = {m: ClipReader(args.dir, "test", captions=m, speed="random", seed=args.seed, limit=args.limit)
               for m in ("explicit", "ambiguous")}
    clips = {m: list(r) for m, r in readers.items()}
    a = readers["explicit"].attrs
    r = Renderer(RenderSettings(resolution=int(a["resolution"]), samples=int(a["samples"]),
                                denoise=a.get("denoise") != "none", threads=args.threads))
    scorers = {m: CaterScorer(judge, m, {"cell_accuracy": None}) for m in clips}
    results = {k: {"explicit": [], "ambiguous": []} for k in KINDS}
    misses = []
    try:
        for i, c in enumerate(clips["explicit"]):
            if deadline and time.time() > deadline:
                print("stopped at the deadline", flush=True)
                break
            truth = {m: scorers[m].score_clip(c.video, clips[m][i])["actions"][0]["correct"] for m in clips}
            if truth["explicit"] is not True:
                continue
            plan = ScenePlan.from_dict(json.loads(c.annotations["plan_json"]))
            for kind in KINDS:
                cf = counterfactual(plan, kind, np.random.default_rng([args.seed, c.index]))
                if cf is None:
                    continue
                video = r.render_video(sampled(cf, c.frame_indices))[0]
                video[0] = c.video[0]
                tr = judge.track(video, c.annotations, first_frame=c.video[0])
                for m in clips:
                    if truth[m] is not True:
                        continue
                    ok = scorers[m].score_clip(video, clips[m][i], tracks=tr)["actions"][0]["correct"]
                    results[kind][m].append(ok is False)
                    if ok is not False:
                        misses.append({"clip": c.index, "kind": kind, "captions": m, "caption": clips[m][i].caption})
            print(f"{i + 1}/{len(clips['explicit'])} clips: " + ", ".join(
                f"{k} {sum(v['explicit'])}/{len(v['explicit'])}" for k, v in results.items()), flush=True)
    finally:
        r.close()
    out = {"judge": judge.describe(), "split": str(args.dir),
           "judged_wrong": {k: {m: (float(np.mean(v)) if v else None, len(v)) for m, v in per.items()}
                            for k, per in results.items()},
           "all": float(np.mean([x for per in results.values() for v in per.values() for x in v])),
           "count": sum(len(v) for per in results.values() for v in per.values()), "misses": misses}
    print(json.dumps({k: out[k] for k in ("judged_wrong", "all", "count", "misses")}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
