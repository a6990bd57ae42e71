"""CATER-GEN renderer against its own plans: Cycles pixels, masks, motion field, projected centres.

One Blender scene for the module (48x48, 8 samples + OIDN, 6 frames): a video per action kind, and an empty
table for the background.
"""

import cv2
import numpy as np
import pytest

pytest.importorskip("bpy")

from ti2v.datagen.cater import annotations  # noqa: E402
from ti2v.datagen.cater.camera import Camera  # noqa: E402
from ti2v.datagen.cater.grid import cell_center  # noqa: E402
from ti2v.datagen.cater.plan import ScenePlan, plan_video, video_rng  # noqa: E402
from ti2v.datagen.cater.render import Renderer, RenderSettings  # noqa: E402

SIZE, FRAMES = 48, 6
KINDS = ("slide", "pick_place", "rotate", "contain")


def _find(kind):
    for i in range(2000):
        p = plan_video(video_rng(3, i), "v2", 3, 5, FRAMES)
        o = p.objects[p.actions[0].slot]
        # the slide is a rubber, not small object: matte, so its pixels move with it (metal reflects the room)
        if p.actions[0].kind == kind and (kind != "slide" or (o.material == "rubber" and o.size != "small")):
            return p
    raise AssertionError(kind)


@pytest.fixture(scope="module")
def rendered():
    r = Renderer(RenderSettings(resolution=SIZE, samples=8, denoise=True, threads=2))
    empty = ScenePlan("v2", 1, [], np.zeros((1, 0, 3)), np.zeros((1, 0)), np.zeros((1, 0), bool), [])
    background = r.render_video(empty)[0][0]
    out = {}
    for kind in KINDS:
        plan = _find(kind)
        rgb, masks, motion = r.render_video(plan)
        out[kind] = (plan, rgb, masks, motion, annotations.build(plan, masks, motion))
    yield out, background, r
    r.close()


def _dilate(mask, k):
    return cv2.dilate(mask.astype(np.uint8), np.ones((k, k), np.uint8)) > 0


def _unoccluded(r, plan, f, k, masks):
    o = plan.objects[k]
    idx, _, _ = r.caster.depth_map(o.shape, o.half, plan.positions[f, k], float(plan.yaws[f, k]))
    return len(idx) == int((masks[f] == k + 1).sum())


def test_shapes_and_types(rendered):
    out, _, _ = rendered
    plan, rgb, masks, motion, ann = out["slide"]
    assert rgb.shape == (FRAMES, SIZE, SIZE, 3) and rgb.dtype == np.uint8
    assert ann["masks"].shape == (FRAMES, SIZE, SIZE) and ann["motion_field"].dtype == np.float16
    assert ann["positions"].shape == (FRAMES, 8, 3) and np.isnan(ann["positions"][:, plan.num_objects:]).all()
    assert set(np.unique(masks)) <= set(range(plan.num_objects + 1))


def test_mask_matches_rendered_pixels(rendered):
    out, background, _ = rendered
    for kind in KINDS:
        plan, rgb, masks, _, _ = out[kind]
        for f in (0, FRAMES - 1):
            diff = np.abs(rgb[f].astype(int) - background.astype(int)).max(-1)
            inner = cv2.erode((masks[f] > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            far = ~_dilate(masks[f] > 0, 9)
            assert inner.sum() > 0
            # (a gray rubber object can shade close to the gray table in places, hence the low bar per pixel)
            assert (diff[inner] > 6).mean() > 0.9 and diff[inner].mean() > 20, kind
            assert (diff[far] > 25).mean() < 0.03, kind


def test_centroid_within_1_5px_of_projected_centre(rendered):
    out, _, r = rendered
    checked = 0
    for kind in KINDS:
        plan, _, masks, _, ann = out[kind]
        for f in range(FRAMES):
            for k in range(plan.num_objects):
                ys, xs = np.nonzero(masks[f] == k + 1)
                if not plan.visible[f, k]:
                    assert len(xs) == 0
                    continue
                if len(xs) < 3 or not _unoccluded(r, plan, f, k, masks):
                    continue
                c = ann["centers_2d"][f, k]
                assert np.hypot(xs.mean() + 0.5 - c[0], ys.mean() + 0.5 - c[1]) <= 1.5, (kind, f, k)
                box = ann["boxes_2d"][f, k]
                assert xs.min() + 0.5 >= box[0] - 0.5 and xs.max() + 0.5 <= box[2] + 0.5
                checked += 1
    assert checked >= 20


def test_slide_ends_on_target_cell(rendered):
    out, _, r = rendered
    plan, _, masks, _, _ = out["slide"]
    a = plan.actions[0]
    o = plan.objects[a.slot]
    x, y = cell_center(a.target_cell)
    target = Camera(SIZE).project(np.array([x, y, o.center_height]))
    ys, xs = np.nonzero(masks[-1] == a.slot + 1)
    assert len(xs) > 0
    assert np.hypot(xs.mean() + 0.5 - target[0], ys.mean() + 0.5 - target[1]) <= 1.5
    assert masks[-1][int(target[1]), int(target[0])] in (a.slot + 1,) or not _unoccluded(r, plan, FRAMES - 1, a.slot, masks)


def test_contained_object_has_no_pixels(rendered):
    out, _, _ = rendered
    plan, _, masks, motion, ann = out["contain"]
    a = plan.actions[0]
    assert not plan.visible[-1, a.contained] and not ann["visible"][-1, a.contained]
    assert (masks[-1] == a.contained + 1).sum() == 0
    assert (masks[0] == a.contained + 1).sum() > 0 or not plan.visible[0, a.contained]
    assert (masks[-1] == a.slot + 1).sum() > 0


def test_motion_field_matches_projection(rendered):
    out, _, r = rendered
    for kind in KINDS:
        plan, rgb, masks, motion, ann = out[kind]
        assert np.all(motion[0] == 0)
        assert np.all(motion[-1][masks[-1] == 0] == 0)
        a = plan.actions[0]
        k = a.slot
        f = FRAMES - 1
        sel = masks[f] == k + 1
        if sel.sum() == 0:
            continue
        mf = motion[f][sel]
        if kind in ("slide", "pick_place", "contain"):
            shift = ann["centers_2d"][f, k] - ann["centers_2d"][0, k]
            assert np.abs(np.median(mf, 0) - shift).max() < 0.75, kind
            assert np.abs(mf - shift).max() < 2.0, kind
        # every pixel of the moving object maps back onto that object's (unoccluded) silhouette in frame 0
        o = plan.objects[k]
        idx0, _, _ = r.caster.depth_map(o.shape, o.half, plan.positions[0, k], float(plan.yaws[0, k]))
        alone0 = np.zeros(SIZE * SIZE, bool)
        alone0[idx0] = True
        alone0 = _dilate(alone0.reshape(SIZE, SIZE), 3)
        ys, xs = np.nonzero(sel)
        u0 = np.floor(xs + 0.5 - mf[:, 0]).astype(int)
        v0 = np.floor(ys + 0.5 - mf[:, 1]).astype(int)
        inside = (u0 >= 0) & (u0 < SIZE) & (v0 >= 0) & (v0 < SIZE)
        assert inside.all() and alone0[v0, u0].mean() > 0.95, kind
        if kind == "slide":  # pulling frame 0's Cycles pixels along the field reproduces frame t's object better
            inner = (cv2.erode(sel.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)[ys, xs]
            yi, xi, ui, vi = ys[inner], xs[inner], u0[inner], v0[inner]
            warped = np.abs(rgb[f][yi, xi].astype(int) - rgb[0][vi, ui].astype(int)).mean()
            unwarped = np.abs(rgb[f][yi, xi].astype(int) - rgb[0][yi, xi].astype(int)).mean()
            assert inner.sum() >= 8 and warped < 0.5 * unwarped, (warped, unwarped)
        # objects that do not act (and are not contained) have zero motion
        still = [j for j in range(plan.num_objects) if j not in {b.slot for b in plan.actions} | {b.contained for b in plan.actions}]
        for j in still:
            assert np.all(motion[masks == j + 1] == 0)


def test_first_and_last_frames_differ_only_where_objects_moved(rendered):
    out, _, _ = rendered
    for kind in KINDS:
        plan, rgb, masks, _, _ = out[kind]
        movers = {b.slot + 1 for b in plan.actions} | {b.contained + 1 for b in plan.actions if b.contained is not None}
        region = np.isin(masks[0], list(movers)) | np.isin(masks[-1], list(movers))
        diff = np.abs(rgb[0].astype(int) - rgb[-1].astype(int)).max(-1)
        outside = ~_dilate(region, 5)
        assert (diff[outside] > 25).mean() < 0.005, kind
        if kind != "rotate":
            assert (diff[region] > 20).mean() > 0.3, kind
