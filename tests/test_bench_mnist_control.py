import numpy as np
import pytest

from ti2v.benchmark import mnist_control as M
from ti2v.benchmark.data import ClipReader
from ti2v.benchmark.synthetic import make_mnist_split


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    make_mnist_split(root, num_videos=24, seed=5)
    return list(ClipReader(root, "test", speed="random", seed=0))


def test_derive_phrase():
    x = np.arange(10) * 4.0
    assert M.derive_phrase(np.stack([x, np.full(10, 5.0)], 1)) == "right"
    y = np.array([30, 26, 22, 18, 14, 10, 6, 2, 0, 0], float)
    assert M.derive_phrase(np.stack([np.full(10, 5.0), y], 1)) == "up"
    b = np.array([20, 27, 34, 36, 29, 22, 15, 8, 1, 0], float)
    assert M.derive_phrase(np.stack([b, np.full(10, 3.0)], 1)) == "right then left"
    assert M.derive_phrase(np.full((10, 2), 7.0)) == "still"
    assert M.phrases_match("down then up then down", "down then up", bouncing=True)
    assert not M.phrases_match("down then up then down", "down then up", bouncing=False)


def test_motion_end_frame():
    t = np.array([[0, 0], [4, 0], [7, 0], [9, 0], [9, 0], [9, 0]], float)
    assert M.motion_end_frame(t) == 3
    assert M.motion_end_frame(np.arange(12).reshape(6, 2).astype(float) * 3) == 6


def test_ground_truth_scores_perfectly(clips):
    recs = [M.score_clip(c.video, c.annotations, c.frame_indices, c.dataset) for c in clips]
    s = M.summarize(recs)
    assert s["motion_accuracy"] >= 0.99
    assert s["distractor_stillness"] >= 0.99
    assert s["track_error_px"] < 0.5
    assert s["end_frame_error"] == 0


def test_static_scores_zero(clips):
    recs = [M.score_clip(np.repeat(c.video[:1], len(c.video), 0), c.annotations, c.frame_indices, c.dataset)
            for c in clips]
    s = M.summarize(recs)
    assert s["motion_accuracy"] <= 0.05
    assert s["phrase_accuracy"] <= 0.05
    assert s["track_error_px"] > 3


def test_wrong_digit_moving_is_caught(clips):
    from ti2v.benchmark.synthetic import draw

    caught = 0
    for c in clips[:6]:
        ann = c.annotations
        tr = ann["tracks"][:, c.frame_indices].copy()
        # swap the roles: slot 1's digit follows slot 0's motion (offset to its own start), slot 0 stays put
        wrong = tr.copy()
        wrong[0] = tr[0, :1]
        wrong[1] = np.clip(tr[1, :1] + (tr[0] - tr[0, :1]), 0, 36)
        video = np.stack([draw(list(ann["digit_images"]), [wrong[k, f] for k in range(3)])
                          for f in range(len(c.frame_indices))])[..., None]
        rec = M.score_clip(video, ann, c.frame_indices, c.dataset)
        caught += not rec["motion_correct"]
        assert rec["digits"][0]["phrase_generated"] == "still"
    assert caught == 6


def test_missing_annotation_named():
    with pytest.raises(KeyError, match="digit_images"):
        M.score_clip(np.zeros((10, 64, 64, 1), np.uint8), {"labels": [], "moving": [], "tracks": []},
                     np.arange(10), "mnist-modified")


def test_speed_plot(tmp_path, clips):
    recs = [M.score_clip(c.video, c.annotations, c.frame_indices, c.dataset) for c in clips[:5]]
    M.speed_plot(recs, [c.eta for c in clips[:5]], tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_speed_plot_at_a_fixed_eta_draws_each_clip_against_its_truth(tmp_path, clips, monkeypatch):
    """evaluate --speed 0.5: one column of dots at eta = 0.5 says nothing; each clip's generated end frame is drawn
    against its true one (what matplotlib is given is checked, not pixels)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.axes import Axes

    drawn = []
    real = Axes.scatter
    monkeypatch.setattr(Axes, "scatter", lambda ax, x, y, *a, **k: drawn.append((list(x), list(y))) or real(ax, x, y, *a, **k))
    recs = [M.score_clip(np.repeat(c.video[:1], len(c.video), 0), c.annotations, c.frame_indices, c.dataset)
            for c in clips[:8]]  # a static model: generated end frame 0, true ends per clip
    truth = [d["end_frame_truth"] for r in recs for d in r["digits"] if d["moving"]]
    generated = [d["end_frame_generated"] for r in recs for d in r["digits"] if d["moving"]]
    assert len(truth) == 16 and len(set(truth)) > 1
    data = M.speed_plot(recs, [0.5] * len(recs), tmp_path / "fixed.png", title="static")
    assert data["mode"] == "fixed_speed" and data["eta"] == 0.5
    assert drawn == [(truth, generated)], "one point per clip and moving digit: (true end, generated end)"
    assert len(set(drawn[0][0])) > 1, "not a single column"
    assert (tmp_path / "fixed.png").stat().st_size > 1000
    drawn.clear()
    etas = [c.eta for c in clips[:8]]
    assert len(set(etas)) > 1
    data = M.speed_plot(recs, etas, tmp_path / "sweep.png")
    per_point = [e for r, e in zip(recs, etas) for d in r["digits"] if d["moving"]]
    assert data["mode"] == "speed_sweep" and drawn == [(per_point, truth), (per_point, generated)]
