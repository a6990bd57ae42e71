"""Seconds per CATER-GEN frame at 128x128 on this machine, split into Cycles render time and everything else.

Runs the real shard path (plan -> Blender poses -> Cycles -> PNG readback -> ray-cast masks / motion field ->
annotations -> ShardWriter) for one video per version in one long-lived Blender scene, like a worker does.
"Other" = wall time of the shard minus time inside bpy.ops.render.render; the one-off scene build is listed
apart (a worker pays it once per run).

    .venv/bin/python bench/cater_render_speed.py --frames 8 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ti2v.datagen.cater.job import CaterConfig, WriteCaterShard, get_renderer
from ti2v.datagen.runner import ShardJob


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--frames", type=int, default=8, help="frames per video (cost per frame does not depend on it)")
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--videos", type=int, default=1, help="videos per version")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for version, lo, hi in (("v1", 2, 2), ("v2", 8, 8)):
            cfg = CaterConfig(version, lo, hi, args.frames, args.resolution, args.samples, True, args.device, args.threads)
            t = time.perf_counter()
            renderer = get_renderer(cfg)
            build = time.perf_counter() - t
            # warm-up frame (Cycles loads kernels on the first render of a process), not counted
            WriteCaterShard(CaterConfig(version, lo, hi, 2, args.resolution, args.samples, True, args.device, args.threads))(
                ShardJob(0, 1, 0, 1, Path(tmp) / f"warm-{version}.h5", f"cater-gen-{version}", "train"), lambda n: None
            )
            renderer.timing.per_frame_render.clear()
            r0 = renderer.timing.render_s
            job = ShardJob(0, 12345, 0, args.videos, Path(tmp) / f"{version}.h5", f"cater-gen-{version}", "train")
            t, c = time.perf_counter(), time.process_time()
            WriteCaterShard(cfg)(job, lambda n: None)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            frames = args.videos * args.frames
            render = renderer.timing.render_s - r0
            other = wall - render
            med = statistics.median(renderer.timing.per_frame_render)
            rows.append((version, hi, frames, med, render / frames, other / frames, build, other / wall, cpu / frames))
    print(f"CATER-GEN speed: {args.resolution}x{args.resolution}, {args.samples} samples + OIDN, {args.threads} threads, device {args.device}")
    print(f"{'version':8} {'objects':>7} {'frames':>6} {'median render s/f':>18} {'mean render s/f':>16} {'other s/f':>10} {'other %':>8} {'scene build s':>14} {'CPU s/f':>8}")
    for version, n, frames, med, render, other, build, frac, cpu in rows:
        print(f"{version:8} {n:>7} {frames:>6} {med:>18.3f} {render:>16.3f} {other:>10.4f} {100 * frac:>7.1f}% {build:>14.3f} {cpu:>8.2f}")
    print("scene build: once per worker process (0 when the scene is reused); CPU s/f: process CPU time, all threads")


if __name__ == "__main__":
    main()
