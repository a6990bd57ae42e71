"""The shipped CATER-GEN judge on tiny real renders (64 px, 12 raw frames): ground truth right, counterfactuals
wrong, degraded ground truth still right, and the file checked against its pin."""

import shutil

import numpy as np
import pytest

from ti2v.benchmark import degrade
from ti2v.benchmark import judge as J
from ti2v.benchmark.cater_control import CaterScorer, check_keys, containable
from ti2v.benchmark.data import ClipReader
from ti2v.benchmark.evaluate import EvalConfig

pytest.importorskip("bpy")


@pytest.fixture(scope="module")
def scored(tiny_cater):
    """The template locator on the tiny renders (the shipped learned judge, the default, has a test below)."""
    r = ClipReader(tiny_cater, "test", speed=0.5)
    sc = CaterScorer.for_reader(r, EvalConfig(model="oracle", data=str(tiny_cater), judge="template"))
    return list(r), sc


def test_judge_files_are_checked_against_their_pin(tiny_cater, tmp_path, monkeypatch):
    """A judge trained for two steps here stands in for a shipped one: the pinned bytes load as pinned, one
    byte changed does not, and as the shipped file it produces nothing."""
    from ti2v.benchmark.judge_train import TrainSettings, load_split, train

    net, run = train(load_split(tiny_cater / "test")[0], TrainSettings(steps=2, batch=2, warmup=1), progress=False)
    path = tmp_path / "judge.safetensors"
    digest = J.save_judge(path, net, {"renders": [{"seed": 77}], **run})
    assert digest == J.sha256_of(path) and oct(path.stat().st_mode & 0o777) != "0o600"
    assert not J.Judge.load(path).pinned
    monkeypatch.setattr(J, "SHIPPED", path)
    monkeypatch.setattr(J, "SHIPPED_SHA256", digest)
    j = J.Judge.load("shipped")
    assert j.pinned and j.info["renders"] == [{"seed": 77}] and j.describe()["sha256"] == digest
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    assert not J.Judge.load(path).pinned
    with pytest.raises(J.JudgeError, match="does not match the pinned"):
        J.Judge.load("shipped")
    with pytest.raises(J.JudgeError, match="does not exist"):
        J.Judge.load(tmp_path / "none.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a judge")
    with pytest.raises(J.JudgeError, match="cannot be read"):
        J.Judge.load(tmp_path / "junk.safetensors")


def _not_small(clips, recs):
    """Sentences whose actor is not small: a small object is 3-5 px wide at 64 px (the snitch is always small)."""
    return [a for c, r in zip(clips, recs) for i, a in enumerate(r["actions"])
            if c.annotations["size"][int(c.annotations["action_slot"][i])] != "small" and a["correct"] is not None]


def test_ground_truth_is_judged_correct(scored):
    clips, sc = scored
    assert sc.judge_report["cell_accuracy"] >= 0.95 and sc.judge_report["objects_frames"] > 50
    recs = [sc.score_clip(c.video, c) for c in clips]
    s = sc.summarize(recs)
    assert s["actions"] >= 4 and s["unnamed_still"] == 1.0
    big = _not_small(clips, recs)
    assert len(big) >= 3 and all(a["correct"] and a["referring_correct"] for a in big)
    # the first frame repeated (nothing moves) is judged wrong
    static = sc.summarize([sc.score_clip(np.repeat(c.video[:1], len(c.video), 0), c) for c in clips])
    assert static["action_precision"] <= 0.2


# JPEG q30 and a 10% colour gain break the template matcher at 64 px (docs/JUDGE.md has the measured table)
@pytest.mark.parametrize("name", ["blur sigma 1", "noise sigma 8"])
def test_degraded_ground_truth_is_still_located(scored, name):
    """Under a 1 px blur or noise the template matcher still puts at least 0.9 of the object-frames in their true
    cells (0.96 and 0.94 here; JPEG q30 and a 10% gain: 0.80 and 0.76). Its verdicts are not asserted: whether a
    move was a pick-place is read from where the object was seen mid-carry, and under blur the matcher loses a
    carried sphere at 64 px (its lift then reads 0, the sentence is judged a slide). The shipped judge's verdicts
    under blur are asserted below."""
    clips, sc = scored
    tracks = [sc.judge.track(degrade.degrade_video(c.video, name, seed=c.index), c.annotations,
                             first_frame=c.video[0]) for c in clips]
    assert sc.judge.accuracy(clips, tracks)["cell_accuracy"] >= 0.9


def _counterfactuals_judged_wrong(sc, clips, kinds, limit: int = 2) -> int:
    """Re-render the clips whose first sentence ``sc`` judges right from their own first frame with each
    counterfactual kind, assert each is judged wrong against the original caption; returns how many were tried
    (stopping after ``limit``)."""
    import json

    from ti2v.datagen.cater.counterfactual import counterfactual, sampled
    from ti2v.datagen.cater.plan import ScenePlan
    from ti2v.datagen.cater.render import Renderer, RenderSettings

    r = Renderer(RenderSettings(resolution=64, samples=8, denoise=True, threads=2))
    tried = 0
    try:
        for c in clips:
            if sc.score_clip(c.video, c)["actions"][0]["correct"] is not True:
                continue
            plan = ScenePlan.from_dict(json.loads(c.annotations["plan_json"]))
            for kind in kinds:
                cf = counterfactual(plan, kind, np.random.default_rng(c.index))
                if cf is None:
                    continue
                video = r.render_video(sampled(cf, c.frame_indices))[0]
                video[0] = c.video[0]  # the given first frame
                assert sc.score_clip(video, c)["actions"][0]["correct"] is False, (c.caption, kind)
                tried += 1
            if tried >= limit:
                break
    finally:
        r.close()
    return tried


def test_counterfactual_is_judged_wrong(tiny_cater, scored):
    """Re-render a clip's own first frame with the named object going to another cell (and with another object
    doing the action): the original caption no longer holds."""
    clips, sc = scored
    assert _counterfactuals_judged_wrong(sc, clips, ("other_cell", "other_object")) >= 1


def test_counterfactual_plans_keep_the_first_frame_and_break_the_caption():
    from ti2v.datagen.cater.counterfactual import KINDS, counterfactual
    from ti2v.datagen.cater.plan import plan_video, video_rng

    made = 0
    for i in range(30):
        plan = plan_video(video_rng(5, i), "v2", 3, 8, 32)
        for kind in KINDS:
            cf = counterfactual(plan, kind, np.random.default_rng(i))
            if cf is None:
                continue
            made += 1
            assert np.array_equal(cf.positions[0], plan.positions[0]) and np.array_equal(cf.yaws[0], plan.yaws[0])
            a, b = plan.actions[0], cf.actions[0]
            if kind == "other_object":
                assert b.slot not in plan.match_ambiguous[0]["subject"]
                assert np.allclose(cf.positions[:, a.slot], plan.positions[0, a.slot]) or a.kind == "rotate"
            elif kind == "other_cell":
                assert b.slot == a.slot and list(b.target_cell) not in plan.match_ambiguous[0]["cells"]
            else:
                assert b.slot == a.slot and b.kind != a.kind
    assert made >= 40


def test_contain_targets_exclude_the_cone_itself_and_bigger_objects():
    ann = {"size": ["large", "large", "small", "medium"]}
    assert containable(ann, 0, [0, 1, 2, 3]) == [2, 3]
    assert containable(ann, 3, [0, 3, 2]) == [2]


def test_missing_keys_named():
    with pytest.raises(KeyError, match="masks"):
        check_keys(["num_objects", "shape"], "explicit", "somewhere")


def test_template_locator_is_available_behind_the_same_interface(scored):
    clips, _ = scored
    t = J.Judge.load("template")
    tr = t.track(clips[0].video, clips[0].annotations)
    assert tr.lifted is None and tr.uv.shape == (len(clips[0].video), int(clips[0].annotations["num_objects"]), 2)
    sc = CaterScorer(t, "explicit", {"cell_accuracy": None})
    rec = sc.score_clip(clips[0].video, clips[0])
    assert rec["actions"] and t.describe()["file"].startswith("template")


def test_shipped_learned_judge_on_tiny_renders(tiny_cater):
    """The learned judge that ships (pinned file): nothing moving is judged wrong, what it judges right on the
    clean clips it still judges right (all but one) under a 1 px blur,
    and a counterfactual of a clip it judges right is judged wrong."""
    r = ClipReader(tiny_cater, "test", speed=0.5)
    sc = CaterScorer.for_reader(r, EvalConfig(model="oracle", data=str(tiny_cater), judge="shipped"))
    assert sc.judge_report["pinned"] and sc.judge_report["sha256"] == J.SHIPPED_SHA256
    clips = list(r)
    clean = [sc.score_clip(c.video, c) for c in clips]
    right = [(i, a) for i, rec in enumerate(clean) for a, x in enumerate(rec["actions"]) if x["correct"]]
    assert len(right) >= 3
    static = sc.summarize([sc.score_clip(np.repeat(c.video[:1], len(c.video), 0), c) for c in clips])
    assert static["action_precision"] <= 0.2
    for name in ("blur sigma 1",):  # at 64 px noise, JPEG and a colour gain do flip its verdicts (docs/JUDGE.md)
        recs = [sc.score_clip(degrade.degrade_video(c.video, name, seed=c.index), c) for c in clips]
        kept = sum(bool(recs[i]["actions"][a]["correct"]) for i, a in right)
        assert kept >= len(right) - 1, name
    assert _counterfactuals_judged_wrong(sc, clips, ("other_cell",)) >= 1
