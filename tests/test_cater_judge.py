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
    r = ClipReader(tiny_cater, "test", speed=0.5)
    sc = CaterScorer.for_reader(r, EvalConfig(model="oracle", data=str(tiny_cater)))
    return list(r), sc


def test_shipped_judge_is_pinned_and_checked(tmp_path, monkeypatch):
    j = J.Judge.load()
    assert j.pinned and j.sha256 == J.SHIPPED_SHA256 == J.sha256_of(J.SHIPPED)
    assert j.info["renders"] and all("seed" in r for r in j.info["renders"])
    # the same bytes elsewhere are recognised as the pinned judge; one byte changed is not, and as the shipped
    # file it produces nothing
    copy = tmp_path / "judge.safetensors"
    shutil.copy(J.SHIPPED, copy)
    assert J.Judge.load(copy).pinned
    data = bytearray(copy.read_bytes())
    data[-1] ^= 1
    copy.write_bytes(bytes(data))
    assert not J.Judge.load(copy).pinned
    monkeypatch.setattr(J, "SHIPPED", copy)
    with pytest.raises(J.JudgeError, match="does not match the pinned"):
        J.Judge.load()
    with pytest.raises(J.JudgeError, match="does not exist"):
        J.Judge.load(tmp_path / "none.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a judge")
    with pytest.raises(J.JudgeError, match="cannot be read"):
        J.Judge.load(tmp_path / "junk.safetensors")


def test_ground_truth_is_judged_correct(scored):
    clips, sc = scored
    assert sc.judge_report["cell_accuracy"] >= 0.95 and sc.judge_report["objects_frames"] > 50
    recs = [sc.score_clip(c.video, c) for c in clips]
    s = sc.summarize(recs)
    assert s["actions"] >= 4
    assert s["action_precision"] == 1.0 and s["unnamed_still"] == 1.0
    # the first frame repeated (nothing moves) is judged wrong
    static = sc.summarize([sc.score_clip(np.repeat(c.video[:1], len(c.video), 0), c) for c in clips])
    assert static["action_precision"] <= 0.2


@pytest.mark.parametrize("name", ["blur sigma 1", "noise sigma 8", "down-up 4x"])
def test_degraded_ground_truth_is_still_correct(scored, name):
    clips, sc = scored
    s = sc.summarize([sc.score_clip(degrade.degrade_video(c.video, name, seed=c.index), c) for c in clips])
    assert s["action_precision"] >= 0.8


def test_counterfactual_is_judged_wrong(tiny_cater, scored):
    """Re-render a clip's own first frame with the named object going to another cell (and with another object
    doing the action): the original caption no longer holds."""
    from ti2v.datagen.cater.counterfactual import counterfactual, sampled
    from ti2v.datagen.cater.plan import ScenePlan
    from ti2v.datagen.cater.render import Renderer, RenderSettings

    import json

    clips, sc = scored
    r = Renderer(RenderSettings(resolution=64, samples=8, denoise=True, threads=2))
    tried = 0
    try:
        for c in clips:
            plan = ScenePlan.from_dict(json.loads(c.annotations["plan_json"]))
            rec = sc.score_clip(c.video, c)["actions"][0]
            if rec["correct"] is not True:
                continue
            for kind in ("other_cell", "other_object"):
                cf = counterfactual(plan, kind, np.random.default_rng(c.index))
                if cf is None:
                    continue
                video = r.render_video(sampled(cf, c.frame_indices))[0]
                video[0] = c.video[0]  # the given first frame
                assert sc.score_clip(video, c)["actions"][0]["correct"] is False, (c.caption, kind)
                tried += 1
            if tried >= 2:
                break
    finally:
        r.close()
    assert tried >= 1


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
