"""`ti2v-datagen preview`: the mask overlay keeps object colours, and the title names split and caption kind."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
from cli_utils import datagen

from ti2v.benchmark.synthetic import _one_shard_split
from ti2v.datagen import preview as P
from ti2v.datagen.shard import ShardWriter

COLOURS = [(173, 35, 35), (42, 75, 215)]  # red, blue (docs/DATASETS.md, Objects)


def _cater_like_shard(path: Path, num_videos: int, seed: int, split: str, default_caption: str = "ambiguous") -> Path:
    """Two flat-coloured squares that move, with their instance masks (0 background, k + 1 object k)."""
    attrs = dict(dataset="cater-gen-v2", split=split, generator_version="test", config={"test": True}, seed=seed,
                 speed_interval=[3.0, 6.0], frames=4, shard_index=0, default_caption=default_caption)
    with ShardWriter(path, attrs, capacity=num_videos) as w:
        for i in range(num_videos):
            video = np.full((4, 32, 32, 3), 128, np.uint8)
            masks = np.zeros((4, 32, 32), np.uint8)
            for t in range(4):
                for k, (x, y) in enumerate([(2 + t, 4), (16, 14 + t + i)]):
                    video[t, y:y + 10, x:x + 10] = COLOURS[k]
                    masks[t, y:y + 10, x:x + 10] = k + 1
            w.add(video, f"explicit caption {i}.", f"ambiguous caption {i}.", {"masks": masks})
    return Path(path)


@pytest.fixture()
def split(tmp_path):
    return _one_shard_split(tmp_path / "data", "train", 2, 0, _cater_like_shard)


def test_mask_overlay_keeps_pixels_inside_objects(split):
    plain = P.load_videos(split, 2, 0, None, False, None)
    shown = P.load_videos(split, 2, 0, None, True, None)
    for (before, _), (after, _), masks in zip(P._shown(plain), P._shown(shown), shown.masks):
        m = P._scale(masks[..., None])[..., 0].astype(np.int64)
        inside = np.zeros_like(m, bool)  # all four neighbours belong to the same object
        inside[:, 1:-1, 1:-1] = ((m[:, 1:-1, 1:-1] > 0) & (m[:, :-2, 1:-1] == m[:, 1:-1, 1:-1])
                                 & (m[:, 2:, 1:-1] == m[:, 1:-1, 1:-1]) & (m[:, 1:-1, :-2] == m[:, 1:-1, 1:-1])
                                 & (m[:, 1:-1, 2:] == m[:, 1:-1, 1:-1]))
        assert inside.any()
        assert np.array_equal(after[inside], before[inside]), "object colours inside the outline are unchanged"
        assert np.array_equal(after[m == 0], before[m == 0]), "background untouched"
        edge = (m > 0) & ~inside
        assert (after[edge] != before[edge]).any(axis=-1).all(), "every instance edge pixel is outlined"
        for k, colour in enumerate(COLOURS):  # each object keeps the caption's colour inside
            assert (after[inside & (m == k + 1)] == colour).all()


def test_title_names_split_and_caption_kind(split, tmp_path):
    shown = P.load_videos(split.parent, 2, 0, None, False, "train")
    assert shown.caption_kind == "ambiguous"  # the shards' default_caption
    assert shown.captions == ["ambiguous caption 0.", "ambiguous caption 1."]
    assert shown.title == "cater-gen-v2 / train split / ambiguous captions / videos 0-1"
    explicit = P.load_videos(split, 1, 1, "explicit", False, None)
    assert explicit.captions == ["explicit caption 1."]
    assert explicit.title == "cater-gen-v2 / train split / explicit captions / video 1"
    for name in ("sheet.png", "clip.gif"):
        proc = datagen("preview", split.parent, "--out", tmp_path / name, "--masks", check=True)
        assert "train split / ambiguous captions" in proc.stdout
        image = imageio.imread(tmp_path / name)
        assert image.shape[0] > 32 * 3  # title, frames, caption


def test_mask_sheet_keeps_the_caption_colours(split, tmp_path):
    """Through write_preview: only object edge pixels change with --masks; objects keep their colours."""
    P.write_preview(split, tmp_path / "plain.png", count=2)
    P.write_preview(split, tmp_path / "masks.png", count=2, masks=True)
    plain, masked = imageio.imread(tmp_path / "plain.png")[..., :3], imageio.imread(tmp_path / "masks.png")[..., :3]
    assert plain.shape == masked.shape
    changed = (plain != masked).any(-1)
    on_object = np.zeros(changed.shape, bool)
    for colour in COLOURS:
        on_object |= (plain == colour).all(-1)
        kept = (masked == colour).all(-1).sum() / (plain == colour).all(-1).sum()
        assert 0.8 < kept < 1, f"{colour}: {kept:.0%} of its pixels keep the colour (the rest is its outline)"
    assert changed.any() and not (changed & ~on_object).any(), "only object pixels (their edges) are drawn on"
