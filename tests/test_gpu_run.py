"""bench/gpu_run.py, the one command for a lent GPU, runs end to end at toy size on the CPU."""

from __future__ import annotations

import json
import subprocess
import sys

from cli_utils import REPO


def test_gpu_run_toy_on_cpu(tmp_path):
    out = tmp_path / "gpu_run.json"
    proc = subprocess.run([sys.executable, "bench/gpu_run.py", "--toy", "--device", "cpu", "--out", str(out),
                           "--repeats", "1", "--train-minutes", "1"], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    sec = report["sections"]
    assert set(sec) == {"train_step", "generation", "cycles", "metrics", "short_training"}
    failed = {k: v.get("error") for k, v in sec.items() if v.get("status") == "failed"}
    assert not failed, failed
    for part in ("train_step", "generation"):
        assert set(sec[part]) >= {"mage", "motion-i2v", "mmvid"}
        assert all(sec[part][m]["clips_per_s"] > 0 for m in ("mage", "motion-i2v", "mmvid"))
    assert sec["cycles"].get("status") == "skipped" or sec["cycles"]["cpu"]["render_s_per_frame"] > 0
    assert sec["metrics"]["clips_per_s"]["generate"] > 0 and "i3d" in sec["metrics"]["clips_per_s"]
    assert sec["short_training"]["steps"] == 3 and sec["short_training"]["curve"]
