"""The judge's labels, degradations and geometry, without Blender."""

import math

import numpy as np
import pytest

from ti2v.benchmark import degrade
from ti2v.benchmark.judge_train import shown_share, turn_label
from ti2v.benchmark.table_geometry import backproject, camera, centre_height, height_over_path
from ti2v.datagen.cater.actions import LIFT, Action, pose_at
from ti2v.datagen.cater.camera import CAMERA_POSITION


def test_turn_label_respects_each_shapes_symmetry():
    deg = np.radians([0, 3, 8, 20, 45, 60, 90, 120, 180])
    assert list(turn_label("cube", deg)) == [0, 0, -1, 1, 1, 1, 0, 1, 0]
    assert list(turn_label("snitch", deg)) == [0, 0, -1, 1, 1, 0, 1, 0, 0]
    assert not turn_label("cylinder", deg).any() and not turn_label("sphere", deg).any()


def test_shown_share_is_relative_to_the_best_frame():
    masks = np.zeros((3, 10, 10), np.uint8)
    masks[0, 2:6, 2:6] = 1  # whole
    masks[1, 2:4, 2:6] = 1  # half hidden
    boxes = np.array([[[2, 2, 6, 6]]] * 3, np.float64)
    assert list(shown_share(masks, boxes, 0)) == [1.0, 0.5, 0.0]


def test_backprojection_inverts_the_camera():
    cam = camera(128)
    p = np.array([[1.3, -2.2, centre_height("cube", "large")]])
    uv = cam.project(p)
    assert np.allclose(backproject(cam, uv, p[0, 2]), p[:, :2], atol=1e-9)
    assert centre_height("cone", "large") < centre_height("sphere", "large") == 0.75


@pytest.mark.parametrize("target", [(-2.5, 1.5), (-2.0, 2.0), (2.5, 2.5), (1.0, -2.5)])
def test_height_over_path_tells_a_slide_from_a_pick_place(target):
    """The planner's own poses, projected by the camera and read back on the table plane: a slide stays on its
    path (height 0 in every frame), a pick-place is seen about LIFT above it mid-carry, whichever way it goes
    (also along the line of sight, (2, -2) -> (-2, 2), where a far point and a lifted near one look alike)."""
    cam, h, start = camera(128), centre_height("cylinder", "medium"), (2.0, -2.0, 0.0, 0.0)
    heights = {}
    for kind in ("slide", "pick_place"):
        act = Action(slot=0, kind=kind, start=0, end=20, target_xy=target)
        base = np.array([pose_at(act, start, f)[:3] for f in range(21)])
        uv = cam.project(base + [0.0, 0.0, h]) + np.random.default_rng(0).normal(0, 0.3, (21, 2))  # centre error
        heights[kind] = height_over_path(CAMERA_POSITION, backproject(cam, uv, h), h, start[:2], target)
    assert np.abs(heights["slide"]).max() < 0.2
    assert heights["pick_place"].max() > 0.6 * LIFT and heights["pick_place"][[0, -1]].max() < 0.2
    assert np.isnan(height_over_path(CAMERA_POSITION, np.full((2, 2), np.nan), h, start[:2], target)).all()


@pytest.mark.parametrize("name", list(degrade.ROBUSTNESS))
def test_each_robustness_setting_changes_frames_but_not_the_first(name):
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    out = degrade.degrade_video(video, name, seed=1)
    assert out.dtype == np.uint8 and out.shape == video.shape
    assert np.array_equal(out[0], video[0]) and not np.array_equal(out[1], video[1])
    assert np.array_equal(out, degrade.degrade_video(video, name, seed=1))  # seeded


def test_random_degrade_reports_its_shift():
    frame = np.zeros((32, 32, 3), np.uint8)
    frame[10, 12] = 255
    for seed in range(40):
        out, (dx, dy) = degrade.random_degrade(frame, np.random.default_rng(seed))
        y, x = np.unravel_index(np.argmax(out.sum(-1)), out.shape[:2])
        if (dx, dy) != (0, 0):
            assert math.hypot(x - 12 - dx, y - 10 - dy) <= 1.5


def test_preview_gif_stores_its_frame_delay(tmp_path):
    from PIL import Image

    from ti2v.benchmark.synthetic import make_mnist_split
    from ti2v.datagen.preview import GIF_FRAME_MS, write_preview

    split = make_mnist_split(tmp_path / "m", num_videos=2)
    write_preview(split, tmp_path / "p.gif", count=2)
    with Image.open(tmp_path / "p.gif") as im:
        im.seek(1)
        assert im.info["duration"] == GIF_FRAME_MS > 0


def test_training_gif_stores_its_frame_delay(tmp_path):
    from PIL import Image

    from ti2v.models.train import _save_gif

    _save_gif(tmp_path / "s.gif", np.random.default_rng(0).integers(0, 255, (3, 8, 8, 1)).astype(np.uint8), fps=4.0)
    with Image.open(tmp_path / "s.gif") as im:
        im.seek(1)
        assert im.info["duration"] == 250


def test_shipped_judge_matches_its_pin_and_records_how_it_was_made():
    from ti2v.benchmark import judge as J
    from ti2v.benchmark.judge_train import load_preset

    assert J.SHIPPED.is_file() and J.sha256_of(J.SHIPPED) == J.SHIPPED_SHA256
    j = J.Judge.load("shipped")
    assert j.pinned and j.describe()["sha256"] == J.SHIPPED_SHA256
    preset = load_preset("judge-cater")  # retraining with the preset is what made it
    assert j.info["renders"] == preset["renders"] and j.info["render_options"] == preset["render_options"]
    assert j.info["steps"] == preset["train"]["steps"] and J.SHIPPED.stat().st_size < 4 * 2**20
