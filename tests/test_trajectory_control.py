"""Trajectory control (``evaluate --trajectory-control``): a model that follows the given track scores near zero
error, one that ignores it does not, and models without the parameter are reported as not applicable."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from ti2v.benchmark.cli import main
from ti2v.benchmark.data import ClipReader
from ti2v.benchmark.evaluate import EvalConfig, evaluate
from ti2v.benchmark.models_adapter import resolve_model
from ti2v.benchmark.report import reproducible_part
from ti2v.benchmark.trajectory_control import TrajectoryScorer, model_takes_trajectories
from ti2v.datagen.cli import main as datagen


class GlyphFollower:
    """Cuts the 28 x 28 glyph at the trajectory's first point out of the first frame and pastes it (max-composited
    on black, as the generator draws digits) at each frame's point: a perfect follower of the trajectory. Without
    a trajectory (the normal generation) it repeats the first frame."""

    follow = True

    def generate(self, first_frame, caption, speed, num_samples=1, seed=0, frames=10, trajectories=None):
        if trajectories is None:
            return generate_without_trajectories(first_frame, caption, speed, num_samples, seed, frames)
        x0, y0 = np.round(trajectories[0, 0] - 14).astype(int)
        glyph = first_frame[y0:y0 + 28, x0:x0 + 28]
        video = np.zeros((frames,) + first_frame.shape, np.uint8)
        video[0] = first_frame
        for t in range(1, frames):
            x, y = np.round(trajectories[0, t if self.follow else 0] - 14).astype(int)
            np.maximum(video[t, y:y + 28, x:x + 28], glyph, out=video[t, y:y + 28, x:x + 28])
        return np.repeat(video[None], num_samples, 0)


class GlyphIgnorer(GlyphFollower):
    """Takes trajectories but keeps the glyph where it starts: what a model that does not listen scores."""

    follow = False


def generate_without_trajectories(first_frame, caption, speed, num_samples=1, seed=0, frames=10):
    return np.repeat(np.repeat(first_frame[None, None], frames, 1), num_samples, 0)


def still_with_trajectories(first_frame, caption, speed, num_samples=1, seed=0, frames=10, trajectories=None):
    return generate_without_trajectories(first_frame, caption, speed, num_samples, seed, frames)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """A 6-video Single Moving MNIST test split from the real generator (one moving digit per clip)."""
    root = tmp_path_factory.mktemp("single")
    r = CliRunner().invoke(datagen, ["mnist", "--variant", "single", "--split", "test", "--num-videos", "6",
                                     "--out", str(root), "--digits", "sklearn", "--seed", "3"])
    assert r.exit_code == 0, r.output
    return root


def run(model, data, **kw):
    return evaluate(EvalConfig(model=model, data=str(data), trajectory_control=True, **{"metrics": ("psnr",), **kw}))


def test_follower_is_exact_and_ignorer_is_not(single):
    follow = run(f"{__name__}:GlyphFollower", single)
    tc = follow["trajectory_control"]
    assert tc["clips"] == 6 and tc["samples"] == 1 and tc["object"] == "first moving digit"
    assert tc["trajectory_error_px"] < 1 and tc["endpoint_within_3px"] == 1.0 and tc["not_located"] == 0
    assert all(r["trajectory_error_px"] < 1 for r in follow["per_clip"])
    ignore = run(f"{__name__}:GlyphIgnorer", single)["trajectory_control"]
    assert ignore["trajectory_error_px"] > 3 and ignore["trajectory_error_px"] > 5 * tc["trajectory_error_px"] + 1
    assert ignore["endpoint_within_3px"] < 1.0
    assert "trajectory" in follow["run"]["seconds"]


def test_trajectory_sample_leaves_other_metrics_alone(single):
    """The other metrics score the normal generation (no trajectory given: the follower repeats the first frame),
    so apart from the trajectory numbers the report is the one made without the flag."""
    cfg = EvalConfig(model=f"{__name__}:GlyphFollower", data=str(single), metrics=("psnr", "control"))
    plain = evaluate(cfg)
    flagged = evaluate(EvalConfig(**dict(cfg.__dict__, trajectory_control=True)))
    assert "trajectory_control" not in plain and "trajectory" not in plain["run"]["seconds"]
    assert flagged["trajectory_control"]["trajectory_error_px"] < 1 and plain["control"]["motion_accuracy"] == 0.0
    rest = reproducible_part(flagged)
    del rest["trajectory_control"]
    for rec in rest["per_clip"]:
        del rec["trajectory_error_px"], rec["endpoint_error_px"]
    assert rest == reproducible_part(plain)


def test_models_without_the_parameter_are_not_applicable(single):
    want = {"status": "not applicable", "reason": "the model takes no trajectory input"}
    assert run("static", single, limit=2)["trajectory_control"] == want
    assert run(f"{__name__}:generate_without_trajectories", single, limit=2)["trajectory_control"] == want
    assert not model_takes_trajectories(resolve_model("oracle"))
    assert model_takes_trajectories(resolve_model(f"{__name__}:GlyphFollower"))


def test_cli_flag_writes_json_and_markdown(single, tmp_path):
    out = tmp_path / "rep"
    r = CliRunner().invoke(main, ["evaluate", f"{__name__}:GlyphIgnorer", "--data", str(single), "--limit", "3",
                                  "--metrics", "psnr", "--trajectory-control", "--out", str(out)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    tc = rep["trajectory_control"]
    assert tc["clips"] == 3 and tc["trajectory_error_px"] > 3
    assert np.mean([p["trajectory_error_px"] for p in rep["per_clip"]]) == pytest.approx(tc["trajectory_error_px"])
    md = (out / "report.md").read_text()
    assert ("| Dataset | object | trajectory error (px) ↓ | end-point error (px) ↓ | end point within 3 px ↑ |"
            in md)
    assert f"| first moving digit | {tc['trajectory_error_px']:.2f} |" in md
    r = CliRunner().invoke(main, ["evaluate", "static", "--data", str(single), "--limit", "2", "--metrics", "psnr",
                                  "--trajectory-control", "--out", str(tmp_path / "static")])
    assert r.exit_code == 0, r.output
    assert "Trajectory control: not applicable (the model takes no trajectory input)." in r.output


def test_cater_actor_located_by_the_control_judge(tiny_cater):
    """The ground truth follows its own actor's track far better than a still video, and the evaluator gives the
    model that same track and reads it with the control metric's judge."""
    reader = ClipReader(tiny_cater, "test")
    scorer = TrajectoryScorer.for_reader(reader, EvalConfig(model="static", data=str(tiny_cater)))
    truth, still = [], []
    for c in reader:
        k, centres = scorer.target(c)
        assert k == c.annotations["action_slot"][0] and centres.shape == (len(c.video), 2)
        truth.append(scorer.score_clip(c.video, c, k, centres))
        still.append(scorer.score_clip(np.repeat(c.video[:1], len(c.video), 0), c, k, centres))
    t, s = scorer.summarize(truth), scorer.summarize(still)
    assert t["object"] == "first action's actor" and t["not_located"] == 0
    assert t["trajectory_error_px"] < s["trajectory_error_px"] / 2
    rep = run(f"{__name__}:still_with_trajectories", tiny_cater, metrics=("control",))
    tc = rep["trajectory_control"]
    assert tc["located_by"] == rep["control"]["judge"]["file"]
    assert tc["trajectory_error_px"] == pytest.approx(s["trajectory_error_px"])
