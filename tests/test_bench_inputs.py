"""`ti2v-bench inputs` and `evaluate --inputs`: videos made outside Python are scored against the clips they were
made from, and a mismatch is refused."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

from ti2v.benchmark.cli import main
from ti2v.datagen.dataset import ShardDataset


def _mnist(root, seed):
    from ti2v.datagen.cli import main as datagen

    r = CliRunner().invoke(datagen, ["mnist", "--variant", "single", "--split", "test", "--num-videos", "4",
                                     "--out", str(root), "--seed", str(seed), "--digits", "sklearn"])
    assert r.exit_code == 0, r.output
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp("inputs")
    return _mnist(base / "a", 11), _mnist(base / "b", 12)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_videos_made_from_the_inputs_are_scored_against_those_clips(data, tmp_path):
    root = data[0]
    inp = tmp_path / "inputs"
    r = run("inputs", "--data", root, "--speed", "0.5", "--out", inp)
    assert r.exit_code == 0, r.output
    header = json.loads((inp / "inputs.json").read_text())
    lines = [json.loads(x) for x in (inp / "inputs.jsonl").read_text().splitlines()]
    assert header["speed"] == 0.5 and header["clips"] == len(lines) == 4
    ds = ShardDataset(root, "test", clip_length=10, eta=0.5, seed=0)
    videos = inp / "videos"
    videos.mkdir()
    for line in lines:
        clip = ds.sample(line["index"], annotations=False)
        assert line["caption"] == clip["caption"] and line["frame_indices"] == clip["frame_indices"].tolist()
        png = iio.imread(inp / "first_frames" / f"{line['index']}.png")
        np.testing.assert_array_equal(png, clip["video"][0, ..., 0])
        np.save(videos / f"{line['index']}.npy", clip["video"])  # a perfect "model": the true clip at eta 0.5

    r = run("evaluate", videos, "--data", root, "--inputs", inp, "--metrics", "psnr", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "| 100.00 |" in r.output  # scored against exactly the clips the videos were made from
    # without --inputs the default random speeds score the same videos against other frames, and a note says so
    r = run("evaluate", videos, "--data", root, "--metrics", "psnr", "--device", "cpu")
    assert r.exit_code == 0 and "| 100.00 |" not in r.output and "--inputs" in r.output


def test_inputs_that_do_not_match_are_refused(data, tmp_path):
    inp = tmp_path / "inputs"
    assert run("inputs", "--data", data[0], "--out", inp).exit_code == 0
    (inp / "videos").mkdir()
    np.save(inp / "videos" / "0.npy", np.zeros((10, 64, 64, 1), np.uint8))
    r = run("evaluate", inp / "videos", "--data", data[1], "--inputs", inp, "--metrics", "psnr")
    assert r.exit_code == 2 and "clip 0: the inputs say" in r.output
    r = run("evaluate", inp / "videos", "--data", data[0], "--inputs", inp, "--speed", "0.5", "--metrics", "psnr")
    assert r.exit_code == 2 and "disagrees with the inputs" in r.output
    (inp / "inputs.json").unlink()
    r = run("evaluate", inp / "videos", "--data", data[0], "--inputs", inp, "--metrics", "psnr")
    assert r.exit_code == 2 and "no inputs.json" in r.output
