"""CATER-GEN planner: pure Python, no Blender. Geometry, affordances, captions, match sets, determinism."""

import json

import numpy as np
import pytest

from ti2v.datagen.cater import grid
from ti2v.datagen.cater.actions import duration_range
from ti2v.datagen.cater.camera import Camera
from ti2v.datagen.cater.captions import make_captions, templates
from ti2v.datagen.cater.plan import in_view, plan_video, video_rng
from ti2v.datagen.cater.scene import SIZES


def _plans(version, n, frames=32, lo=3, hi=8, seed=11):
    return [plan_video(video_rng(seed, i), version, lo, hi, frames) for i in range(n)]


@pytest.fixture(scope="module")
def v2_plans():
    return _plans("v2", 150) + _plans("v2", 60, lo=8, hi=8, seed=12) + _plans("v2", 40, frames=6, seed=13)


@pytest.fixture(scope="module")
def v1_plans():
    return _plans("v1", 80)


def _intersections(plan):
    """Independent check: bounding circles closer than r1 + r2 while vertical extents overlap, both visible."""
    bad = []
    for f in range(plan.frames):
        for i, a in enumerate(plan.objects):
            for j in range(i + 1, plan.num_objects):
                b = plan.objects[j]
                if not (plan.visible[f, i] and plan.visible[f, j]):
                    continue
                pi, pj = plan.positions[f, i], plan.positions[f, j]
                apart = np.hypot(*(pi[:2] - pj[:2])) >= a.radius + b.radius
                stacked = pi[2] >= pj[2] + b.height or pj[2] >= pi[2] + a.height
                if not (apart or stacked):
                    bad.append((f, i, j))
    return bad


def test_no_intersections_any_frame(v2_plans, v1_plans):
    for p in v2_plans + v1_plans:
        assert _intersections(p) == [], p.to_json()[:300]


def test_initial_placement_spacing_and_grid(v2_plans):
    for p in v2_plans:
        xy = p.positions[0, :, :2]
        for i, a in enumerate(p.objects):
            assert np.all(np.abs(xy[i]) <= 3 - a.radius + 1e-9)
            for j in range(i + 1, p.num_objects):
                assert np.linalg.norm(xy[i] - xy[j]) >= a.radius + p.objects[j].radius + 0.25 - 1e-9


def test_in_view_and_on_table(v2_plans):
    for p in v2_plans:
        assert in_view(p.objects, p.positions)
        assert np.all(p.positions[..., 2] >= 0)
        assert np.all(p.positions[0, :, 2] == 0) and np.all(p.positions[-1, :, 2] == 0)


@pytest.mark.parametrize(
    "x,label",
    [(0.0, -1), (1.0, 1), (-1.0, -2), (3.0, 3), (-3.0, -3), (0.5, 1), (-0.5, -1), (2.0, 2), (-2.0, -3), (1e-9, 1)],
)
def test_axis_labels_at_boundaries(x, label):
    assert grid.axis_label(x) == label


def test_cells_and_quadrants():
    assert grid.cell_of(0, 0) == (-1, -1) and grid.quadrant_of(0, 0) == "third"
    assert grid.cell_of(1, 1) == (1, 1) and grid.quadrant_of(1, 1) == "first"
    assert grid.cell_of(-1, 3) == (-2, 3) and grid.quadrant_of(-1, 3) == "second"
    assert grid.cell_of(3, -1) == (3, -2) and grid.quadrant_of(3, -1) == "fourth"
    assert grid.cell_of(0, 1) == (-1, 1) and grid.quadrant_of(0, 1) == "second"
    for cell in grid.all_cells():
        assert grid.cell_of(*grid.cell_center(cell)) == cell
    for q in grid.QUADRANTS:
        cells = grid.quadrant_cells(q)
        assert len(set(cells)) == 9 and all(grid.quadrant_of_cell(c) == q for c in cells)


def test_affordances_and_contain(v2_plans, v1_plans):
    kinds = set()
    for p in v2_plans + v1_plans:
        assert 1 <= len(p.actions) <= 2
        assert len({a.slot for a in p.actions}) == len(p.actions)  # one action per object
        for a in p.actions:
            kinds.add(a.kind)
            shape = p.objects[a.slot].shape
            assert a.start == 0 and 1 <= a.end <= p.frames - 1
            if a.kind == "rotate":
                assert shape in ("cube", "cylinder", "snitch")
                assert np.allclose(p.positions[:, a.slot], p.positions[0, a.slot])
            if a.kind == "contain":
                assert shape == "cone"
                c = a.contained
                assert SIZES[p.objects[c].size] < SIZES[p.objects[a.slot].size]
                assert c not in {b.slot for b in p.actions}
                assert p.visible[0, c] and not p.visible[-1, c]
                hidden = np.nonzero(~p.visible[:, c])[0]
                assert np.all(np.diff(hidden) == 1) and hidden[-1] == p.frames - 1  # stays hidden
                assert np.allclose(p.positions[-1, a.slot, :2], p.positions[-1, c, :2])
            if a.kind in ("slide", "pick_place"):
                assert np.allclose(p.positions[-1, a.slot, :2], grid.cell_center(a.target_cell))
                assert grid.cell_of(*p.positions[-1, a.slot, :2]) == a.target_cell
            if a.kind == "slide":
                assert np.all(p.positions[:, a.slot, 2] == 0)
            if a.kind == "pick_place":
                assert p.positions[:, a.slot, 2].max() == pytest.approx(2.0)
        assert all(p.visible[:, k].all() for k in range(p.num_objects) if k not in {a.contained for a in p.actions})
    assert kinds == {"slide", "pick_place", "rotate", "contain"}


def test_v1_objects(v1_plans):
    for p in v1_plans:
        assert [o.shape for o in p.objects] == ["cone", "snitch"]
        assert all(o.color == "gold" and o.material == "metal" for o in p.objects)
        assert p.caption_explicit.startswith(("the cone ", "the snitch "))


def test_captions_and_match_sets(v2_plans, v1_plans):
    t = templates()
    assert set(t["explicit"]) == set(t["ambiguous"]) == {"slide", "rotate", "pick_place", "contain"}
    for p in v2_plans + v1_plans:
        assert len(p.match_explicit) == len(p.match_ambiguous) == len(p.actions)
        assert p.caption_explicit.count(".") == len(p.actions)
        for a, me, ma in zip(p.actions, p.match_explicit, p.match_ambiguous):
            assert me["subject"] == [a.slot]  # explicit expressions are unique
            assert a.slot in ma["subject"]
            for s in ma["subject"]:
                assert p.objects[s].shape == p.objects[a.slot].shape
            if a.kind in ("slide", "pick_place"):
                assert me["cells"] == [list(a.target_cell)]
                assert list(a.target_cell) in ma["cells"] and len(ma["cells"]) == 9
                assert f"({a.target_cell[0]}, {a.target_cell[1]})" in p.caption_explicit
                assert f"the {grid.quadrant_of_cell(a.target_cell)} quadrant" in p.caption_ambiguous
            else:
                assert me["cells"] == ma["cells"] == []
            if a.kind == "contain":
                assert me["target_objects"] == [a.contained] and a.contained in ma["target_objects"]
        if p.version == "v2":
            for a in p.actions:
                o = p.objects[a.slot]
                assert f"the {o.size} {o.color} {o.material} {o.shape}" in p.caption_explicit


def test_ambiguous_drops_attributes(v2_plans):
    words = [len(p.caption_ambiguous.split()) < len(p.caption_explicit.split()) for p in v2_plans]
    assert any(words)
    assert any(len(m["subject"]) > 1 for p in v2_plans for m in p.match_ambiguous)


def test_same_seed_same_plan():
    for i in range(10):
        a = plan_video(video_rng(99, i), "v2", 3, 8, 32)
        b = plan_video(video_rng(99, i), "v2", 3, 8, 32)
        assert a.to_json() == b.to_json()
    assert plan_video(video_rng(99, 0)).to_json() != plan_video(video_rng(99, 1)).to_json()
    json.loads(a.to_json())


def test_duration_scales_with_frames():
    assert duration_range(32) == (20, 30)
    lo, hi = duration_range(6)
    assert 1 <= lo <= hi <= 5


def test_camera_projection():
    cam = Camera(128)
    assert np.allclose(cam.project(np.zeros(3)), [64, 64])
    # a point to the camera's right (+x of the image) and up (-y of the image)
    right = cam.rotation[:, 0]
    up = cam.rotation[:, 2] * 0 + cam.rotation[:, 1]
    assert cam.project(right)[0] > 64 and cam.project(up)[1] < 64
    rays = cam.pixel_rays()
    # the ray through a pixel centre projects back to that pixel centre
    p = cam.position + 10 * rays[10, 20]
    assert np.allclose(cam.project(p), [20.5, 10.5])
