"""Throughput of each ti2v-bench metric, in clips per second, and the extrapolated time of a full evaluation.

Random-init feature networks at the protocol's input sizes (Inception 299, I3D 224, VGG-16 224; LPIPS at the
native frame size) have the same cost as the pretrained ones. Clips: T = 10 frames, Moving MNIST (64x64x1) and
CATER-GEN (128x128x3, random frames for the feature metrics); K = 5 samples for diversity.

    .venv/bin/python bench/metric_throughput.py [--clips 4] [--device cpu|cuda] [--threads 2] [--json out.json]
        [--cater-data DIR] [--only control] [--judge template|FILE]

``--cater-data DIR`` times CATER controllability (the default judge, or ``--judge``) on the first ``--clips``
clips of a rendered split (DIR/test); without it the CATER control row is skipped (the judge needs real
renders). ``--only control`` times controllability only.

Prints one row per metric: seconds per clip (per clip with K samples for the diversity metrics), clips/s, and
the extrapolated time for N test clips (default 2,000) in the explicit (1 sample) and ambiguous (5 samples)
settings. Timings exclude network construction; each metric is warmed up on one batch first.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ti2v.benchmark import feature_nets as FN
from ti2v.benchmark import mnist_control
from ti2v.benchmark import video_metrics as VM
from ti2v.benchmark.data import ClipReader
from ti2v.benchmark.synthetic import make_mnist_split


def timed(fn, reps: int = 1) -> float:
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def control_rows(args, mn: list, record, rows: dict) -> None:
    from ti2v.benchmark.cater_control import CaterScorer
    from ti2v.benchmark.evaluate import EvalConfig

    def mnist_ctl():
        for c in mn:
            mnist_control.score_clip(c.video, c.annotations, c.frame_indices, c.dataset)

    record("control mnist", timed(mnist_ctl), len(mn), "per sample")
    if not args.cater_data:
        print("control cater: skipped (pass --cater-data DIR, a rendered CATER-GEN folder)")
        return
    data = Path(args.cater_data)
    cr = ClipReader(data, "test", limit=args.clips)
    t0 = time.perf_counter()
    sc = CaterScorer.for_reader(cr, EvalConfig(model="static", data=str(data), judge=args.judge), device=args.device)
    load = time.perf_counter() - t0
    rows["cater judge load + GT accuracy (once)"] = {"seconds": load, "accuracy": sc.judge_report["cell_accuracy"]}
    print(f"{'cater judge load+accuracy':28s} {load:8.3f} s once (acc {sc.judge_report['cell_accuracy']:.3f})")
    cc = list(cr)
    sc.score_clip(cc[0].video, cc[0])  # warm-up
    size = cc[0].video.shape[1]
    record(f"control cater ({size}x{size})", timed(lambda: [sc.score_clip(c.video, c) for c in cc]), len(cc),
           f"per sample, rendered split {data}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--total", type=int, default=2000)
    ap.add_argument("--json", default=None)
    ap.add_argument("--cater-data", default=None, help="a rendered CATER-GEN folder with test/ and train/ splits")
    ap.add_argument("--only", choices=("all", "control"), default="all")
    ap.add_argument("--judge", default=None, help="CATER judge: template (default) or a judge file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = args.device
    n, k = args.clips, args.samples
    tmp = Path(tempfile.mkdtemp(prefix="ti2v-bench-tp-"))
    make_mnist_split(tmp / "mnist", num_videos=n, seed=0)
    mn = list(ClipReader(tmp / "mnist", "test"))
    ref = torch.from_numpy(np.stack([c.video for c in mn])).permute(0, 1, 4, 2, 3).contiguous()  # [n, T, 1, 64, 64]
    gen1 = ref.flip(0)[:, None]  # one sample per clip
    genk = torch.randint(0, 256, (n, k) + ref.shape[1:], dtype=torch.uint8)

    rows = {}

    def record(name, seconds, clips, per="clip"):
        rows[name] = {"seconds_per_clip": seconds / clips, "clips_per_s": clips / seconds, "per": per}
        print(f"{name:28s} {seconds / clips:8.3f} s/clip  {clips / seconds:8.2f} clips/s  ({per})", flush=True)

    print(f"device {dev}, torch threads {torch.get_num_threads()}, {n} clips x 10 frames, K={k}")
    if args.only == "control":
        control_rows(args, mn, record, rows)
        return
    fr = VM.FrameScores(device=dev)
    fr.update(gen1[:1], ref[:1])
    record("psnr+ssim (mnist 64x64)", timed(lambda: fr.update(gen1, ref)), n)

    lp = VM.LPIPSScore(FN.build_lpips(False), dev, batch=90)
    lp.update(gen1[:1], ref[:1])
    record("lpips (alexnet, 64x64)", timed(lambda: lp.update(gen1, ref)), n)

    inc = FN.build_inception(False, resize=299)
    fid = VM.FIDScore(inc, dev, batch=36)
    fid.update(gen1[:1], ref[:1])
    record("fid features (inception 299)", timed(lambda: fid.update(gen1, ref)), n, "gen + ref frames 2..10")
    feats = np.random.default_rng(0).normal(size=(18000, 2048))
    t = timed(lambda: VM.frechet_from_features(feats, feats[::-1] + 0.1))
    rows["fid frechet (18000x2048, once)"] = {"seconds": t}
    print(f"{'fid frechet 18000x2048':28s} {t:8.3f} s once", flush=True)

    i3d = VM.I3DScores(FN.build_i3d(False, resize=224, device=dev), dev, batch=4, diversity=False)
    i3d.update(gen1[:1], ref[:1])
    record("fvd features (i3d 224)", timed(lambda: i3d.update(gen1, ref)), n, "gen + ref clips")

    i3dk = VM.I3DScores(i3d.net, dev, batch=5, fvd=False, diversity=True)
    record("div_i3d (K samples)", timed(lambda: i3dk.update(genk, None)), n, f"{k} samples per clip")
    vgg = VM.VGGDiversity(FN.build_vgg16(False, resize=224), dev, batch=10)
    record("div_vgg (K samples, 224)", timed(lambda: vgg.update(genk[:2], None)), 2, f"{k} samples per clip")

    control_rows(args, mn, record, rows)

    N = args.total
    expl = sum(rows[m]["seconds_per_clip"] for m in ("psnr+ssim (mnist 64x64)", "lpips (alexnet, 64x64)",
                                                      "fid features (inception 299)", "fvd features (i3d 224)",
                                                      "control mnist"))
    # ambiguous: similarity metrics on K samples (generated side xK; reference side once), plus diversity
    gen_share = 0.5
    amb = (rows["psnr+ssim (mnist 64x64)"]["seconds_per_clip"] * k + rows["lpips (alexnet, 64x64)"]["seconds_per_clip"] * k
           + rows["fid features (inception 299)"]["seconds_per_clip"] * (gen_share * k + 1 - gen_share)
           + rows["fvd features (i3d 224)"]["seconds_per_clip"] * (gen_share * k + 1 - gen_share)
           + rows["control mnist"]["seconds_per_clip"] * k
           + rows["div_i3d (K samples)"]["seconds_per_clip"] + rows["div_vgg (K samples, 224)"]["seconds_per_clip"])
    fixed = rows["fid frechet (18000x2048, once)"]["seconds"]
    summary = {"clips": N, "explicit_hours": (expl * N + fixed) / 3600, "ambiguous_hours": (amb * N + fixed) / 3600,
               "explicit_s_per_clip": expl, "ambiguous_s_per_clip": amb,
               "note": "metric time only (model generation excluded); MNIST 64x64; CATER control per sample"}
    print(f"\n{N} clips, metrics only: explicit {summary['explicit_hours']:.2f} h ({expl:.2f} s/clip), "
          f"ambiguous K={k} {summary['ambiguous_hours']:.2f} h ({amb:.2f} s/clip)")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": dev, "threads": torch.get_num_threads(), "rows": rows,
                                               "extrapolation": summary}, indent=1))


if __name__ == "__main__":
    main()
