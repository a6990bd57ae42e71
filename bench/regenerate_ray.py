"""Tiny regeneration wall times, local pool vs a local Ray instance, and the overhead Ray adds per shard.

    .venv/bin/python bench/regenerate_ray.py

1. mnist-modified (scale 0.001, shard_size 4) and cater-gen-v2 (tiny render settings): whole-command wall time
   with --workers 1 locally and with --executor ray --workers 2; both outputs are verified equal.
2. Ray's fixed cost (ray.init + shutdown of a local instance) and its per-shard cost: a run of 48 one-video
   MNIST shards, whose work is milliseconds, so (wall - fixed cost - local work) / 48 is Ray's cost per task.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

CATER = ["--scale", "0.0005", "--splits", "test", "--set", "resolution=32", "--set", "samples=2", "--set", "frames=4",
         "--set", "shard_size=1", "--set", "objects=3-4"]
MNIST = ["--scale", "0.001", "--digits", "sklearn", "--set", "shard_size=4"]


def run(*args) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ti2v.datagen.cli", *map(str, args)], check=True, capture_output=True)
    return time.perf_counter() - t0


def ray_fixed_cost() -> float:
    code = "import ray,time;t=time.perf_counter();ray.init(num_cpus=2,include_dashboard=False,log_to_driver=False);ray.shutdown();print(time.perf_counter()-t)"
    return float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for preset, extra in (("mnist-modified", MNIST), ("cater-gen-v2", CATER)):
            local = run("regenerate", preset, "--out", tmp / preset / "local", *extra)
            ray = run("regenerate", preset, "--out", tmp / preset / "ray", *extra, "--executor", "ray", "--workers", "2")
            shards = sum(len(list(d.glob("shard-*.h5"))) for d in (tmp / preset / "local").iterdir() if d.is_dir())
            ok = subprocess.run([sys.executable, "-m", "ti2v.datagen.cli", "verify", tmp / preset / "ray", "--against",
                                 tmp / preset / "local"], capture_output=True).returncode == 0
            print(f"{preset}: {shards} shards; local 1 worker {local:.1f} s, Ray 2 workers {ray:.1f} s; verify --against: {'equal' if ok else 'DIFFERENT'}")
        fixed = ray_fixed_cost()
        n = 48
        common = ["mnist", "--variant", "modified", "--split", "test", "--num-videos", n, "--shard-size", 1, "--digits", "sklearn"]
        local = run(*common, "--out", tmp / "p-local")
        ray = run(*common, "--out", tmp / "p-ray", "--executor", "ray", "--workers", "2")
        print(f"Ray fixed cost (local instance start + shutdown): {fixed:.1f} s")
        print(f"{n} one-video shards: local {local:.1f} s, Ray {ray:.1f} s")
        print(f"Ray overhead per shard: {max(0.0, ray - fixed - local) / n * 1000:.0f} ms")


if __name__ == "__main__":
    main()
