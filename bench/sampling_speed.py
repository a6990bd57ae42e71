"""The timing loop the sampling-speed scripts share (``bench/mage_speed.py``, ``bench/mmvid_speed.py``): one
random first frame and a fixed caption, one warm-up call, then ``repeats`` timed calls of the model's
``generate`` at batch 1; wall and CPU time per call, a median, and the machine's load (other processes slow the
wall time, not the CPU time). Not a script of its own."""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

CAPTION = "the digit 7 is moving left then right ."


def first_frame(vqvae_cfg) -> np.ndarray:
    """A random uint8 frame of the VQ-VAE's size and channels (timing only)."""
    shape = (vqvae_cfg.resolution, vqvae_cfg.resolution, vqvae_cfg.in_channels)
    return np.random.default_rng(0).integers(0, 256, shape, np.uint8)


def time_generate(generate, repeats: int) -> tuple[list[float], list[float]]:
    """Call ``generate(seed)`` once to warm up and ``repeats`` times more, printing each call; returns the timed
    calls' wall and CPU seconds (for :func:`report`)."""
    times, cpu = [], []
    for i in range(repeats + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        video = generate(i)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if i:
            times.append(dt)
            cpu.append(dc)
        print(f"run {i}{' (warm-up)' if i == 0 else ''}: {dt:.3f} s wall, {dc:.3f} s CPU (all threads)  "
              f"video {video.shape} {video.dtype}")
    return times, cpu


def report(times: list[float], cpu: list[float]) -> None:
    """The summary line, then the last line ``<median wall seconds> s/video`` that callers parse."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"min {min(times):.3f} s, median {statistics.median(times):.3f} s wall over {len(times)} runs; "
          f"median CPU time {statistics.median(cpu):.3f} s; load average {load:.2f} on {os.cpu_count()} CPUs "
          "(other processes on the machine slow the wall time)")
    print(f"{statistics.median(times):.3f} s/video")
