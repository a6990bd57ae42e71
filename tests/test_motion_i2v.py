"""The Motion-I2V-style baseline: ground-truth motion, warping, hints, training, sampling, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli_utils import error_line, run_cli

from ti2v.datagen.dataset import ShardDataset
from ti2v.models.config import load_preset
from ti2v.models.motion_i2v.hints import hint_maps, region_map
from ti2v.models.motion_i2v.warp import forward_splat

TINY = ["motion_i2v.d_model=32", "motion_i2v.heads=2", "motion_i2v.ff_dim=64", "motion_i2v.blocks=2",
        "motion_i2v.text_layers=1", "motion_i2v.renderer_width=8", "motion_i2v.sample_steps=4"]


def _mnist(root, variant, split="train", n=12, seed=5):
    from ti2v.datagen.cli import main as datagen

    r = CliRunner().invoke(datagen, ["mnist", "--variant", variant, "--split", split, "--num-videos", str(n),
                                     "--out", str(root), "--seed", str(seed), "--digits", "sklearn"])
    assert r.exit_code == 0, r.output
    return root


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    base = tmp_path_factory.mktemp("mnist-motion")
    out = {v: _mnist(base / v, v) for v in ("single", "double", "modified")}
    _mnist(base / "single", "single", split="test", n=6, seed=6)
    return out


def _splat(video: np.ndarray, field: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame 0 splatted along the true field, weighted by the true visibility -> (uint8 frames, coverage)."""
    f0 = torch.from_numpy(video[0]).permute(2, 0, 1)[None].float()
    out, cover = forward_splat(f0, torch.from_numpy(field)[None], torch.from_numpy(visible)[None].float())
    return out[0].round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy(), cover[0].numpy()


@pytest.mark.parametrize("variant", ["single", "double", "modified"])
def test_mnist_field_is_the_tracks(splits, variant):
    ds = ShardDataset(splits[variant], "train", clip_length=10, eta=0.3, motion=True)
    for i in range(len(ds)):
        item = ds.sample(i)
        ann, m, idx = item["annotations"], item["motion"], item["frame_indices"]
        tracks = ann["tracks"].astype(np.float32)
        present = ann["labels"] >= 0
        np.testing.assert_array_equal(m["present"], present)
        np.testing.assert_array_equal(m["tracks"][present], tracks[present][:, idx] + 14)
        frame0 = item["video"][0, ..., 0]
        owner = np.full(frame0.shape, -1)
        claimed = frame0 == 0  # background: no motion
        for k in np.flatnonzero(present):  # the owner is the lowest slot whose glyph gives the pixel's value
            x, y = tracks[k, idx[0]].astype(int)
            glyph = np.zeros(frame0.shape, np.int32)
            glyph[y:y + 28, x:x + 28] = ann["digit_images"][k]
            mine = ~claimed & (glyph == frame0)
            owner[mine] = k
            claimed |= mine
        assert claimed.all()
        np.testing.assert_array_equal(m["owner0"], owner)
        for t in range(len(idx)):
            expected = np.zeros(frame0.shape + (2,), np.float32)
            for k in np.flatnonzero(present):
                expected[owner == k] = tracks[k, idx[t]] - tracks[k, idx[0]]
            np.testing.assert_array_equal(m["field"][t], expected)
        np.testing.assert_array_equal(m["moving"], present & (np.ptp(tracks[:, idx], axis=1).sum(-1) > 0))


@pytest.mark.parametrize("variant", ["single", "double", "modified"])
def test_splatting_by_the_true_field_reproduces_mnist_frames(splits, variant):
    ds = ShardDataset(splits[variant], "train", clip_length=10, eta=0.0, motion=True, with_annotations=False)
    for i in range(len(ds)):
        item = ds.sample(i)
        v, m = item["video"], item["motion"]
        out, cover = _splat(v, m["field"], m["visible"])
        landed = cover > 0
        np.testing.assert_array_equal(out[landed], v[landed])  # exact wherever a visible frame-0 pixel lands
        hidden = ~landed & (v[..., 0] > 0)  # ink that a brighter digit hid in frame 0: nothing carries it
        assert variant != "single" or not hidden.any()
        assert np.array_equal(out, v) == (not hidden.any())


def test_splatting_reproduces_cater_where_nothing_is_disoccluded(tiny_cater):
    ds = ShardDataset(tiny_cater, "test", clip_length=6, eta=0.0, motion=True, with_annotations=True)
    errs, still = [], []
    for i in range(len(ds)):
        item = ds.sample(i)
        v, m = item["video"].astype(np.float32), item["motion"]
        out, cover = _splat(item["video"], m["field"], m["visible"])
        masks = item["annotations"]["masks"][item["frame_indices"]]
        # frame-t pixels of objects that moved, where a visible frame-0 pixel landed
        moved_obj = np.isin(masks - 1, np.flatnonzero(m["moving"]))
        region = (cover > 0.5) & moved_obj
        region[0] = False
        if not region.any():
            continue
        errs.append(np.abs(out.astype(np.float32) - v)[region].mean())
        still.append(np.abs(v[:1] - v)[region].mean())  # not moving anything
    assert errs, "the tiny render has moving objects"
    assert np.mean(errs) < 0.5 * np.mean(still), (errs, still)


def test_hint_and_region_maps():
    traj = np.array([[[10.5, 20.5], [14.5, 20.5], [18.5, 30.5]]], np.float32)  # [P=1, T=3, 2]
    h = hint_maps(traj, frames=3, resolution=64, down=2, scale=16.0)  # [2 (T-1) + 1, 32, 32]
    assert h.shape == (5, 32, 32) and h[-1].sum() == 1 and h[-1, 10, 5] == 1  # at the first point's cell
    assert torch.allclose(h[:4, 10, 5], torch.tensor([4 / 16, 0.0, 8 / 16, 10 / 16]))
    assert h[:4].abs().sum() == h[:4, 10, 5].abs().sum()
    assert hint_maps(None, 3, 64, 2, 16.0).abs().sum() == 0
    region = np.zeros((64, 64), bool)
    region[0:3, 0:3] = True
    r = region_map(region, 64, 2)[0]
    assert r[0, 0] == 1 and r[1, 1] == 1 and r[2, 2] == -1 and (r == 1).sum() == 4
    assert region_map(None, 64, 2).abs().sum() == 0
    with pytest.raises(ValueError, match="trajectories"):
        hint_maps(np.zeros((1, 2, 2)), 3, 64, 2, 16.0)


def _tiny_model(extra=()):
    from ti2v.models.motion_i2v.model import MotionI2V
    from ti2v.models.motion_i2v.train import build_config
    from ti2v.models.vocabulary import Vocabulary

    vocab = Vocabulary.build()
    preset = load_preset("mnist-single", TINY + list(extra))
    return MotionI2V(build_config(preset, vocab)), vocab, preset


def test_tiny_model_overfits_four_clips(splits):
    """Trained on four clips (both stages, true fields), stage 1 learns their fields: the sampled field's error is
    a fraction of the motion, and generated frames beat copying frame 1 and approach rendering the true field
    (stage 2's own ceiling)."""
    from ti2v.models.motion_i2v.api import MotionI2VModel
    from ti2v.models.motion_i2v.train import collate, evaluate_clips
    from ti2v.models.train import psnr

    torch.manual_seed(0)
    net, vocab, _ = _tiny_model(["motion_i2v.d_model=64", "motion_i2v.heads=4", "motion_i2v.ff_dim=128",
                                 "motion_i2v.hint_prob=0", "motion_i2v.region_prob=0"])
    ds = ShardDataset(splits["single"], "train", clip_length=10, eta=0.5, motion=True, with_annotations=False)
    four = torch.utils.data.Subset(ds, range(4))
    batch = collate([four[i] for i in range(4)])
    cfg = net.cfg
    frames = batch["video"].float() / 255
    ids, valid = vocab.batch(batch["caption"], cfg.max_text_len)
    cond = torch.zeros(4, 2 * (cfg.frames - 1) + 2, cfg.field_resolution, cfg.field_resolution)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    for step in range(300):
        res = net(frames, ids, valid, batch["eta"], batch["field"][:, 1:], batch["visible"][:, 1:], cond,
                  objects=batch["objects"], generator=gen)
        opt.zero_grad()
        res["loss"].backward()
        opt.step()
    scores = evaluate_clips(MotionI2VModel(net, vocab), four, clips=4)
    moving = batch["field"][:, 1:].norm(dim=-1) > 0.5
    no_motion_epe = float(batch["field"][:, 1:].norm(dim=-1)[moving].mean())  # the error of predicting no motion
    still = frames[:, :1].expand_as(frames[:, 1:]) * 255
    static_psnr = float(psnr(still.round().byte(), batch["video"][:, 1:]).mean())
    assert scores["field_epe_px"] < 0.25 * no_motion_epe, (scores, no_motion_epe)
    assert scores["gen_psnr"] > static_psnr + 3.0, (scores, static_psnr)
    assert scores["true_field_psnr"] > scores["gen_psnr"] > scores["true_field_psnr"] - 6.0, scores


def test_same_seed_same_video_and_seeds_differ():
    from ti2v.models.motion_i2v.api import MotionI2VModel

    torch.manual_seed(1)
    net, vocab, _ = _tiny_model()
    torch.nn.init.normal_(net.field.out.weight, std=0.5)  # untrained, the zero-initialised head ignores the noise
    model = MotionI2VModel(net.eval(), vocab)
    frame = np.zeros((64, 64, 1), np.uint8)
    frame[20:40, 20:40] = 200
    a = model.generate(frame, "the digit 3 is moving up then down .", 0.5, num_samples=2, seed=3)
    b = model.generate(frame, "the digit 3 is moving up then down .", 0.5, num_samples=2, seed=3)
    c = model.generate(frame, "the digit 3 is moving up then down .", 0.5, num_samples=2, seed=4)
    assert a.shape == (2, 10, 64, 64, 1) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[:, 0], np.stack([frame, frame]))  # frame 1 is the given frame
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a, c)
    with pytest.raises(ValueError, match="64x64"):
        model.generate(np.zeros((32, 32, 1), np.uint8), "x", 0.5)


def test_train_cli_checkpoint_and_evaluate(splits, tmp_path):
    """``ti2v-train motion-i2v`` writes model.ckpt; load_model and ``ti2v-bench evaluate`` recognise it, and the
    trajectory-control score applies to it."""
    from ti2v.benchmark.cli import main as bench
    from ti2v.models.api import load_model
    from ti2v.models.motion_i2v.api import MotionI2VModel
    from ti2v.models.train_cli import main as train

    out = tmp_path / "run"
    sets = [a for s in TINY + ["motion_i2v_train.log_every=1", "motion_i2v_train.eval_clips=2",
                               "motion_i2v.predicted_from=0.5"] for a in ("--set", s)]
    r = CliRunner().invoke(train, ["motion-i2v", "--data", str(splits["single"]), "--out", str(out), "--steps", "4",
                                   "--batch-size", "2", "--workers", "0", "--device", "cpu", *sets],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["predicted_fields"] for x in rows if "predicted_fields" in x] == [0, 0, 1, 1]
    assert rows[-1]["kind"] == "eval" and rows[-1]["clips"] == 2
    assert list((out / "samples").glob("*.gif"))
    model = load_model(out / "model.ckpt")
    assert isinstance(model, MotionI2VModel) and model.info["step"] == 4
    # resuming continues from last.ckpt
    r = CliRunner().invoke(train, ["motion-i2v", "--data", str(splits["single"]), "--out", str(out), "--steps", "5",
                                   "--batch-size", "2", "--workers", "0", "--device", "cpu", *sets],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert load_model(out / "model.ckpt").info["step"] == 5
    rep = tmp_path / "report"
    r = CliRunner().invoke(bench, ["evaluate", str(out / "model.ckpt"), "--data", str(splits["single"]),
                                   "--metrics", "psnr,control", "--device", "cpu", "--speed", "0.5",
                                   "--trajectory-control", "--out", str(rep)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    report = json.loads((rep / "report.json").read_text())
    assert report["model_name"].startswith("Motion-I2V-style")
    assert report["trajectory_control"]["clips"] == 6 and report["trajectory_control"]["trajectory_error_px"] >= 0


def test_preset_for_other_data_is_refused(tiny_cater, tmp_path):
    proc = run_cli("ti2v.models.train_cli", "motion-i2v", "--preset", "mnist-single", "--data", tiny_cater,
                   "--split", "test", "--out", tmp_path / "x", "--steps", "1")
    assert proc.returncode == 2
    assert "the preset's model takes 64x64x1" in error_line(proc)
    assert not (tmp_path / "x").exists()


def test_shipped_checkpoint_is_checked_before_use(tmp_path, monkeypatch):
    from ti2v.models.checkpoint import CheckpointError
    from ti2v.models.motion_i2v import api

    assert "mnist-single" in api.SHIPPED, "the Single Moving MNIST checkpoint ships with the package"
    path = api.shipped_path("mnist-single")
    assert path.stat().st_size < 8_000_000
    tampered = tmp_path / "mnist-single.ckpt"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    tampered.write_bytes(bytes(data))
    monkeypatch.setattr(api, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(CheckpointError, match="does not match the pinned"):
        api.shipped_path("mnist-single")
    with pytest.raises(CheckpointError, match="no shipped"):
        api.shipped_path("cater-gen-v9")


def _opposite(caption: str) -> str:
    swap = {"up": "down", "down": "up", "left": "right", "right": "left"}
    return " ".join(swap.get(w, w) for w in caption.split())


def test_shipped_model_follows_captions_and_trajectories(splits):
    """The shipped Single Moving MNIST model on unseen test clips: its digit moves as the caption says (track
    error well below static's), and a trajectory wins over a caption that says the opposite."""
    from ti2v.benchmark import mnist_control
    from ti2v.benchmark.trajectory_control import GLYPH_HALF
    from ti2v.models.api import load_model
    from ti2v.models.motion_i2v.api import shipped_path

    model = load_model(shipped_path("mnist-single"))
    ds = ShardDataset(splits["single"], "test", clip_length=10, eta=0.5)
    errs = {"caption": [], "static": [], "hint": [], "wrong_caption": []}
    for i in range(len(ds)):
        item = ds.sample(i)
        ann, idx, video = item["annotations"], item["frame_indices"], item["video"]
        truth = ann["tracks"][0, idx].astype(np.float64)
        glyph = ann["digit_images"][0]

        def track_error(v):
            got = mnist_control.locate_track(mnist_control.to_gray(v[1:]), glyph)
            return float(np.linalg.norm(got - truth[1:], axis=1).mean())

        errs["caption"].append(track_error(model.generate(video[0], item["caption"], 0.5, seed=0)[0]))
        errs["static"].append(track_error(np.repeat(video[:1], 10, 0)))
        wrong = _opposite(item["caption"])
        errs["wrong_caption"].append(track_error(model.generate(video[0], wrong, 0.5, seed=0)[0]))
        hint = (truth + GLYPH_HALF)[None].astype(np.float32)
        errs["hint"].append(track_error(model.generate(video[0], wrong, 0.5, seed=0, trajectories=hint)[0]))
    mean = {k: float(np.mean(v)) for k, v in errs.items()}
    assert mean["caption"] < 0.5 * mean["static"], mean
    assert mean["hint"] < 0.5 * mean["wrong_caption"], mean
