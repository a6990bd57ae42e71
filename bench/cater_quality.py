"""Quality per cost of Cycles settings on one CATER-GEN-v2 frame: PSNR against a high-sample reference.

Compares 32 samples + OpenImageDenoise (our default) with 128 samples without denoising (CATER's setting),
each against a 1024-sample reference without denoising, and reports the render time of each.

    .venv/bin/python bench/cater_quality.py --resolution 128 --threads 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ti2v.datagen.cater.plan import plan_video, video_rng
from ti2v.datagen.cater.render import Renderer, RenderSettings


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def render_once(plan, resolution: int, samples: int, denoise: bool, threads: int, seed: int = 0):
    """(image, wall seconds, process CPU seconds) of the plan's last frame."""
    r = Renderer(RenderSettings(resolution, samples, denoise, "cpu", threads))
    r.scene.scene.cycles.seed = seed
    r.scene.set_objects(plan.objects)
    r.render_frame(plan, 0)  # warm-up: kernel load and scene sync, not counted
    t, c = time.perf_counter(), time.process_time()
    img = r.render_frame(plan, plan.frames - 1)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    r.close()
    return img, dt, dc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reference-samples", type=int, default=1024)
    ap.add_argument("--objects", type=int, default=8)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    plan = plan_video(video_rng(args.seed, 0), "v2", args.objects, args.objects, 8)
    # the reference uses another Cycles seed, so a low-sample render does not share its first samples
    ref, t_ref, c_ref = render_once(plan, args.resolution, args.reference_samples, False, args.threads, seed=1)
    print(f"CATER-GEN-v2 frame, {args.objects} objects, {args.resolution}x{args.resolution}, {args.threads} threads")
    print(f"reference: {args.reference_samples} samples, no denoise, seed 1: {t_ref:.2f} s wall, {c_ref:.2f} s CPU")
    print(f"{'setting':28} {'PSNR dB':>8} {'wall s':>8} {'CPU s':>8}")
    for samples, denoise, name in ((32, True, "32 samples + OIDN"), (128, False, "128 samples, no denoise"), (16, True, "16 samples + OIDN"), (128, True, "128 samples + OIDN")):
        img, dt, dc = render_once(plan, args.resolution, samples, denoise, args.threads)
        print(f"{name:28} {psnr(img, ref):>8.2f} {dt:>8.2f} {dc:>8.2f}")


if __name__ == "__main__":
    main()
