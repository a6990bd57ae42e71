"""bench/leaderboard.py on hand-made report.json files shaped like ``ti2v-bench evaluate --out`` writes them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "leaderboard.py"


@pytest.fixture(scope="module")
def leaderboard():
    spec = importlib.util.spec_from_file_location("leaderboard", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def report(model, model_name, dataset, captions="explicit", samples=1, clips=200, metrics=None, control=None,
           **extra) -> dict:
    return {
        "ti2v_bench_report": 1, "model": model, "model_name": model_name, "seed": 0,
        "data": {"dir": f"/data/{dataset}/test", "dataset": dataset, "split": "test", "clips": clips,
                 "frames_per_clip": 10, "samples_per_clip": samples, "resolution": [64, 64], "channels": 1,
                 "captions": captions},
        "speed": {"mode": "random", "eta": None, "eta_mean": 0.5},
        "metrics": metrics or {}, "control": control, "random_init_networks": False,
        "run": {"device": "cpu", "started": "2026-01-01T00:00:00Z", "elapsed_s": 12.3},
        **extra,
    }


def mnist_control(accuracy, track, still, end) -> dict:
    return {"kind": "mnist", "motion_accuracy": accuracy, "track_error_px": track, "distractor_stillness": still,
            "end_frame_error": end, "moving_digits": 200, "distractors": 0, "tolerances_px": {"end": 3}}


SKIPPED = {"status": "skipped", "reason": "weights missing", "file": "i3d.pt", "command": "ti2v-bench weights fetch"}


def write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def runs(tmp_path):
    """Four runs: MNIST static, MNIST trained MAGE (with sidecar), MNIST oracle (trajectory), CATER static."""
    root = tmp_path / "runs"
    write(root / "mnist-static" / "report.json", report(
        "static", "static", "mnist-single", metrics={"psnr": 14.123456, "ssim": 0.61234, "lpips": SKIPPED},
        control=mnist_control(0.0, 9.876, 1.0, 4.5)))
    write(root / "mnist-mage" / "report.json", report(
        "runs/mage.ckpt", "MAGE (mage.ckpt)", "mnist-single", metrics={"psnr": 17.5, "ssim": 0.7021},
        control=mnist_control(0.425, 3.21, 0.9, 1.25),
        trajectory_control={"endpoint_error_px": 2.5, "trajectory_error_px": 3.75}))
    write(root / "mnist-mage" / "leaderboard.json", {
        "budget": {"device": "cpu (2 cores)", "minutes": 30, "steps": 3000, "note": "VQ-VAE 10 min + mage 20 min"},
        "command": "ti2v-train mage --steps 3000 && ti2v-bench evaluate runs/mage.ckpt --data mnist"})
    write(root / "mnist-oracle" / "report.json", report(
        "oracle", "oracle", "mnist-single", metrics={"psnr": 100.0, "ssim": 1.0},
        control=mnist_control(1.0, 0.0, 1.0, 0.0), trajectory_control={"status": "not applicable"}))
    write(root / "cater-static" / "report.json", report(
        "static", "static", "cater-gen-v2", captions="ambiguous", samples=5, clips=12,
        metrics={"psnr": 20.0, "fvd": SKIPPED, "div_vgg": SKIPPED,
                 "div_i3d": {"status": "not applicable", "reason": "diversity needs >= 2 samples per clip"}},
        control={"kind": "cater", "action_precision": 0.125, "referring_precision": 0.0625,
                 "not_judgeable_share": 0.25, "judge": {"file": "template"}}))
    return root


def table(text: str, heading: str) -> list[str]:
    """The table rows (header and separator dropped) under a section heading."""
    section = text.split(heading + "\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("|")][2:]


def test_sections_values_sorting_and_budget(leaderboard, runs, tmp_path):
    out = tmp_path / "LEADERBOARD.md"
    assert leaderboard.main([str(runs), "--out", str(out)]) == 0
    text = out.read_text()

    assert "do not edit by hand" in text
    assert f"python bench/leaderboard.py {runs} --out {out}" in text
    assert "random-init" in text
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## Single Moving MNIST, explicit captions", "## CATER-GEN-v2, ambiguous captions"]

    mnist = table(text, headings[0])
    assert [r.split(" | ")[0] for r in mnist] == ["| static", "| MAGE (mage.ckpt)", "| oracle"]
    static, mage, oracle = mnist
    assert "| 200 x 1 | 14.12 | 0.612 | skipped | – | – | – | – | 0.000 | 9.88 | 1.000 | 4.50 | – |" in static
    assert "none (no training)" in static
    assert ("`ti2v-bench evaluate static --data /data/mnist-single/test --split test --captions explicit "
            "--speed random --seed 0`") in static
    assert "| 0.425 | 3.21 | 0.900 | 1.25 | endpoint 2.50 px, trajectory 3.75 px |" in mage
    assert "| cpu (2 cores), 30 min, 3,000 steps, (VQ-VAE 10 min + mage 20 min) |" in mage
    assert "`ti2v-train mage --steps 3000 && ti2v-bench evaluate runs/mage.ckpt --data mnist`" in mage
    assert "| 100.00 | 1.000 |" in oracle and "| n/a | none (no training) |" in oracle
    assert oracle.endswith("--seed 0 --trajectory-control` |") and "--trajectory-control" not in static

    header = text.split(headings[1] + "\n", 1)[1].splitlines()[1]
    assert "action precision" in header and "referring precision" in header and "motion accuracy" not in header
    [cater] = table(text, headings[1])
    assert ("| static | 12 x 5 | 20.00 | – | – | – | skipped | skipped | n/a | 0.125 | 0.062 | 25.0% | – |"
            in cater)
    assert "--captions ambiguous --speed random --seed 0`" in cater and "--samples" not in cater


def test_budget_file_missing_keys_and_random_init(leaderboard, runs, tmp_path):
    write(runs / "bare" / "report.json", {"model": "pkg.mod:gen", "data": {"dataset": "mnist-single"},
                                          "random_init_networks": True})
    budget = write(tmp_path / "budget.json", {str(runs / "mnist-mage"): {"budget": "1 GPU-hour"},
                                              str(runs / "bare" / "report.json"): {"command": "make bare"}})
    rows = leaderboard.collect([runs / "bare" / "report.json", runs / "mnist-mage", runs], budget)
    assert len(rows) == 5  # a report named twice is one row
    text = leaderboard.render(rows)
    mnist = table(text, "## Single Moving MNIST, explicit captions")
    assert [r.split(" | ")[0] for r in mnist] == ["| static", "| MAGE (mage.ckpt)", "| pkg.mod:gen †", "| oracle"]
    assert "| 1 GPU-hour |" in mnist[1]
    assert "| ? x ? | – | – |" in mnist[2] and mnist[2].endswith("| – | – | `make bare` |")


def test_check_and_deterministic(leaderboard, runs, tmp_path, capsys):
    out = tmp_path / "docs" / "LEADERBOARD.md"
    args = [str(runs), "--out", str(out)]
    assert leaderboard.main(args + ["--check"]) == 1  # missing
    assert leaderboard.main(args) == 0
    first = out.read_bytes()
    assert leaderboard.main(args + ["--check"]) == 0
    report_path = runs / "mnist-static" / "report.json"
    changed = json.loads(report_path.read_text())
    changed["metrics"]["psnr"] = 15.0
    write(report_path, changed)
    assert leaderboard.main(args + ["--check"]) == 1
    assert "is stale" in capsys.readouterr().err
    assert out.read_bytes() == first  # --check writes nothing
    assert leaderboard.main(args) == 0 and leaderboard.main(args + ["--check"]) == 0
    assert out.read_bytes() != first and b"15.00" in out.read_bytes()


def test_bad_input(leaderboard, tmp_path):
    assert leaderboard.main([str(tmp_path / "nothing"), "--out", str(tmp_path / "x.md")]) == 2
    (tmp_path / "empty").mkdir()
    assert leaderboard.main([str(tmp_path / "empty"), "--out", str(tmp_path / "x.md")]) == 2
    assert not (tmp_path / "x.md").exists()


def test_published_leaderboard_is_current(leaderboard, monkeypatch):
    """docs/LEADERBOARD.md is exactly what the script makes from the committed reports in docs/leaderboard/."""
    monkeypatch.chdir(SCRIPT.parents[1])
    rows = leaderboard.collect(["docs/leaderboard"])
    assert {r["report"]["model"] for r in rows} >= {"static", "motion-i2v:mnist-single"}
    assert leaderboard.main(["docs/leaderboard", "--out", "docs/LEADERBOARD.md", "--check"]) == 0
