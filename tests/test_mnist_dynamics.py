"""Moving MNIST family: captions agree with the tracks, digits stay inside, the split rule holds on real output.

scikit-learn's bundled digits stand in for MNIST here (MNIST cannot be downloaded on the CI machines).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ti2v.datagen.mnist.digits import load_sklearn_digits
from ti2v.datagen.mnist.draw import draw_video, plan_glyphs
from ti2v.datagen.mnist.phrases import ends_at_wall, phrase_from_track
from ti2v.datagen.mnist.plan import SPAN, iou, plan_video

BOUNCING = {"up then down", "down then up", "left then right", "right then left"}
MODIFIED = BOUNCING | {"up", "down", "left", "right"}


@pytest.fixture(scope="module")
def digits():
    return {split: load_sklearn_digits(split) for split in ("train", "test")}


def plans(variant, split, digits, n, frames=20, distractor_prob=1.0, seed=0):
    rng = np.random.default_rng(seed)
    pools = digits[split].by_label()
    return [plan_video(variant, split, frames, rng, pools, distractor_prob) for _ in range(n)]


@pytest.mark.parametrize("variant", ["single", "double", "modified"])
def test_phrase_read_back_from_track_matches_caption(variant, digits):
    seen = set()
    for plan in plans(variant, "train", digits, 400):
        moving = np.flatnonzero(plan.moving)
        parts = [f"the digit {plan.labels[s]} is moving {phrase_from_track(plan.tracks[s], variant == 'modified')}" for s in moving]
        assert plan.caption == " and ".join(parts) + " ."
        for s in moving:
            seen.add(plan.phrases[s])
            if variant == "modified":
                assert ends_at_wall(plan.tracks[s], plan.phrases[s])
                stop = plan.stop_frame[s]
                assert stop < plan.tracks.shape[1], "the pattern must finish inside the clip"
                assert (plan.tracks[s, stop:] == plan.tracks[s, -1]).all()
                assert (plan.tracks[s, stop - 1] != plan.tracks[s, -1]).any()
    assert seen == (MODIFIED if variant == "modified" else BOUNCING), "every phrase occurs"


@pytest.mark.parametrize("variant", ["single", "double", "modified"])
def test_digits_inside_canvas_distinct_labels_and_static_distractor(variant, digits):
    for plan in plans(variant, "test", digits, 300, seed=3):
        present = plan.labels[plan.labels >= 0]
        assert len(set(present.tolist())) == len(present), "no two digits share a label"
        on = plan.labels >= 0
        assert plan.tracks[on].min() >= 0 and plan.tracks[on].max() <= SPAN
        if variant == "modified":
            assert plan.labels[2] >= 0 and not plan.moving[2]
            assert (plan.tracks[2] == plan.tracks[2, 0]).all(), "distractor is static"
            for s in (0, 1):
                assert iou(plan.tracks[2, 0], plan.tracks[s, 0]) <= 0.7
        else:
            assert plan.labels[2] == -1


@pytest.mark.parametrize("variant, prob, empty", [("single", 1.0, [1, 2]), ("double", 1.0, [2]),
                                                  ("modified", 0.0, [2])])
def test_empty_slots_hold_minus_one(variant, prob, empty, digits):
    """docs/FORMAT.md: an unused slot holds label, track and stop frame -1 (not a track at (0, 0), not stop F)."""
    for plan in plans(variant, "train", digits, 20, distractor_prob=prob, seed=4):
        ann = plan.annotations()
        assert (ann["labels"][empty] == -1).all()
        assert (ann["tracks"][empty] == -1).all() and (ann["stop_frame"][empty] == -1).all()
        assert not ann["moving"][empty].any() and not ann["bounce"][empty].any()
        assert [ann["phrases"][s] for s in empty] == [""] * len(empty)
        assert (plan_glyphs(plan, digits["train"].images)[empty] == 0).all()
        used = [s for s in range(3) if s not in empty]
        assert (ann["labels"][used] >= 0).all() and (ann["tracks"][used] >= 0).all()
        assert (ann["stop_frame"][used] >= 0).all()


def test_distractor_probability(digits):
    none = plans("modified", "train", digits, 50, distractor_prob=0.0)
    assert all(p.labels[2] == -1 for p in none)
    half = plans("modified", "train", digits, 400, distractor_prob=0.5)
    share = np.mean([p.labels[2] >= 0 for p in half])
    assert 0.4 < share < 0.6


def test_drawn_pixels_follow_the_track(digits):
    plan = plans("modified", "train", digits, 1, seed=11)[0]
    glyphs = plan_glyphs(plan, digits["train"].images)
    video = draw_video(plan, glyphs)
    assert video.shape == (20, 64, 64, 1) and video.dtype == np.uint8
    for t in (0, 7, 19):
        expected = np.zeros((64, 64), np.uint8)
        for s in np.flatnonzero(plan.labels >= 0):
            x, y = plan.tracks[s, t]
            expected[y : y + 28, x : x + 28] = np.maximum(expected[y : y + 28, x : x + 28], glyphs[s])
        assert np.array_equal(video[t, :, :, 0], expected)


def test_phrase_checker_rejects_wrong_motion():
    track = np.zeros((10, 2))
    track[:, 1] = [30, 25, 20, 15, 10, 5, 0, 5, 10, 15]
    assert phrase_from_track(track, stops=False) == "up then down"
    mirrored = track.copy()
    mirrored[:, 1] = 36 - track[:, 1]
    assert phrase_from_track(mirrored, stops=False) == "down then up"
    assert phrase_from_track(track[:, ::-1], stops=False) == "left then right"
    assert phrase_from_track(np.zeros((10, 2)), stops=True) == "static"
    assert phrase_from_track(track[:7], stops=True) == "up"
    assert not ends_at_wall(track[:5], "up")
