"""How the learned judge turns the net's per-object candidates into places: one object per place (joint paths)
and colour evidence undone of the frame's colour change."""

from __future__ import annotations

import numpy as np
import torch

from ti2v.benchmark.judge import best_path, joint_paths
from ti2v.benchmark.judge_colour import candidate_llr, colour_fit, llr

T = 4


def _two_objects():
    """Object 0 sits at X throughout (sure); object 1 slides from S to Y, but the net likes X better for it."""
    X, S, Y = np.array([40.0, 40.0]), np.array([80.0, 40.0]), np.array([60.0, 60.0])
    cand = np.zeros((T, 2, 2, 2))
    logp = np.zeros((T, 2, 2))
    cand[:, 0, 0], cand[:, 0, 1] = X, X + 30
    logp[:, 0] = np.log([0.95, 0.05])
    cand[0, 1] = [S, X]
    logp[0, 1] = np.log([0.9, 0.1])
    cand[1:, 1, 0], cand[1:, 1, 1] = X, Y
    logp[1:, 1] = np.log([0.6, 0.3])
    starts = np.stack([X, S])
    return cand, logp, starts, X, Y


def test_an_object_does_not_take_the_place_another_surely_holds():
    cand, logp, starts, X, Y = _two_objects()
    alone, _ = best_path(cand[:, 1], logp[:, 1], starts[1])
    assert np.allclose(cand[np.arange(T), 1, alone][-1], X)  # scored alone, it is "found" on object 0
    pts = joint_paths(cand, logp, starts, np.ones((T, 2), bool), np.array([10.0, 10.0]))
    assert np.allclose(pts[:, 0], X)
    assert np.allclose(pts[1:, 1], Y)


def test_a_cone_and_what_it_covers_may_share_a_place_and_hidden_objects_do_not_clash():
    cand, logp, starts, X, _ = _two_objects()
    covers = np.array([[False, False], [True, False]])  # object 1 is a cone that can cover object 0
    pts = joint_paths(cand, logp, starts, np.ones((T, 2), bool), np.array([10.0, 10.0]), covers)
    assert np.allclose(pts[-1, 1], X)
    seen = np.ones((T, 2), bool)
    seen[1:, 0] = False  # object 0 out of sight: it claims no place
    pts = joint_paths(cand, logp, starts, seen, np.array([10.0, 10.0]))
    assert np.allclose(pts[-1, 1], X)


def _scene(rng):
    """A textured background with two flat squares: object 1 red, object 2 blue; frame 1 moves the red one."""
    H = 64
    base = rng.uniform(60, 200, (3, H, H))
    f0, f1 = base.copy(), base.copy()
    masks = np.zeros((H, H), np.uint8)
    masks[10:20, 10:20], masks[40:50, 40:50] = 1, 2
    f0[:, 10:20, 10:20] = np.array([200, 30, 30])[:, None, None]
    f0[:, 40:50, 40:50] = f1[:, 40:50, 40:50] = np.array([30, 30, 200])[:, None, None]
    f1[:, 25:35, 5:15] = np.array([200, 30, 30])[:, None, None]  # red moved onto background
    return np.stack([f0, f1]), masks


def test_colour_fit_recovers_a_gain_and_offset_despite_a_moved_object():
    frames, masks = _scene(np.random.default_rng(0))
    frames[1] = frames[1] * np.array([1.1, 0.9, 1.0])[:, None, None] + np.array([5.0, -3.0, 0.0])[:, None, None]
    a, b = colour_fit(frames, masks == 0)
    assert np.allclose(a[1], [1.1, 0.9, 1.0], atol=0.02) and np.allclose(b[1], [5, -3, 0], atol=3)
    assert np.allclose(a[0], 1) and np.allclose(b[0], 0)


def test_the_objects_own_colour_outscores_another_objects_under_a_colour_gain():
    frames, masks = _scene(np.random.default_rng(1))
    frames[1] *= 1.1
    cand = np.zeros((2, 1, 2, 2))  # object 1 (red), two candidates per frame: where it is, and the blue one
    cand[:, 0, 0] = [[15, 15], [10, 30]]
    cand[:, 0, 1] = [45, 45]
    out = candidate_llr(torch.from_numpy(frames).float(), masks, [0], cand, np.array([10.0]))
    assert out[1, 0, 0] > 1.5 > -1.5 > out[1, 0, 1]
    assert llr(np.array([0.0])) > llr(np.array([40.0])) > llr(np.array([200.0])) > np.log(0.1) - 1e-9


def test_a_clash_no_one_can_leave_is_left_and_the_other_frames_are_still_resolved():
    """Frame 0: object 0 passes in front of object 1 (a lifted object shares its place in the image) and its only
    other candidate is object 2's place, so every place it can take is another's. Frame 1: the net puts it on
    object 1's place, a free place X nearly as likely. Banning it round and round in frame 0 once used up every
    round and left frame 1 unresolved; now frame 0 is left as it is and frame 1 goes to X."""
    PB, PC, PX, A0 = np.array([40.0, 40.0]), np.array([80.0, 40.0]), np.array([60.0, 70.0]), np.array([60.0, 40.0])
    cand, logp = np.zeros((2, 3, 2, 2)), np.zeros((2, 3, 2))
    cand[0, 0], logp[0, 0] = [PB, PC], [0.0, -0.5]
    cand[1, 0], logp[1, 0] = [PB, PX], [0.0, -1.0]
    cand[:, 1], logp[:, 1] = [PB, PB + 1], [0.0, -5.0]
    cand[:, 2], logp[:, 2] = [PC, PC + 1], [0.0, -5.0]
    pts = joint_paths(cand, logp, np.stack([A0, PB, PC]), np.ones((2, 3), bool), np.full(3, 10.0))
    assert np.allclose(pts[:, 0], [PB, PX])
    assert np.allclose(pts[:, 1], PB) and np.allclose(pts[:, 2], PC)
