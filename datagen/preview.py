"""Previews a person can look at: a contact sheet PNG (one row of frames per video, caption under it) or a GIF."""

from __future__ import annotations

import textwrap
from pathlib import Path

import cv2
import imageio.v2 as imageio
import numpy as np

from .errors import InputError
from .runner import load_manifest
from .shard import open_shard
from .verify import split_dirs

CELL = 96  # frames are scaled up to at least this many pixels
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _palette(n: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    colours = rng.integers(60, 256, size=(n, 3), dtype=np.uint8)
    colours[0] = 0
    return colours


def _to_rgb(frames: np.ndarray) -> np.ndarray:
    return np.repeat(frames, 3, axis=-1) if frames.shape[-1] == 1 else frames


def _scale(frames: np.ndarray) -> np.ndarray:
    h = frames.shape[1]
    factor = max(1, int(np.ceil(CELL / h)))
    return frames.repeat(factor, axis=1).repeat(factor, axis=2)


def _caption_block(text: str, width: int) -> np.ndarray:
    chars = max(20, width // 9)
    lines = textwrap.wrap(text, chars) or [""]
    block = np.full((18 * len(lines) + 6, width, 3), 255, dtype=np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(block, line, (4, 16 + 18 * i), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return block


def load_videos(path: Path, count: int, start: int, caption_kind: str, masks: bool, split: str | None):
    dirs = split_dirs(path)
    if split is not None:
        dirs = [d for d in dirs if d.name == split]
        if not dirs:
            raise InputError(f"split {split!r} not found under {path}")
    manifest = load_manifest(dirs[0])
    out = []
    index = 0
    for entry in manifest["shards"]:
        n = entry["num_videos"]
        if index + n <= start:
            index += n
            continue
        with open_shard(dirs[0] / entry["file"]) as f:
            for row in range(max(0, start - index), n):
                video = _to_rgb(f["videos"][row])
                if masks:
                    if "annotations/masks" not in f:
                        raise InputError(f"{entry['file']} has no instance masks to overlay (MNIST shards have none)")
                    m = f["annotations/masks"][row]
                    colours = _palette(int(m.max()) + 1)[m]
                    video = np.where(m[..., None] > 0, (0.5 * video + 0.5 * colours).astype(np.uint8), video)
                out.append((video, f[f"captions/{caption_kind}"][row].decode("utf-8")))
                if len(out) == count:
                    return out
        index += n
    if not out:
        raise InputError(f"--start {start} is past the last video ({index})")
    return out


def contact_sheet(videos) -> np.ndarray:
    rows = []
    for video, caption in videos:
        frames = _scale(video)
        strip = np.concatenate(list(frames), axis=1)
        rows.append(np.concatenate([strip, _caption_block(caption, strip.shape[1])], axis=0))
        rows.append(np.full((6, strip.shape[1], 3), 200, dtype=np.uint8))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate(rows, axis=0)


def gif_frames(videos) -> list[np.ndarray]:
    tiles = []
    for video, caption in videos:
        frames = _scale(video)
        block = _caption_block(caption, max(frames.shape[2], 240))
        pad = block.shape[1] - frames.shape[2]
        frames = np.pad(frames, ((0, 0), (0, 0), (0, pad), (0, 0)), constant_values=255)
        tiles.append(np.stack([np.concatenate([f, block], axis=0) for f in frames]))
    length = max(len(t) for t in tiles)
    height = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, length - len(t)), (0, height - t.shape[1]), (0, 4), (0, 0)), mode="edge") for t in tiles]
    return list(np.concatenate(tiles, axis=2))


GIF_FRAME_MS = 150  # imageio's GIF writer takes the frame delay in milliseconds


def write_preview(path: Path, out: Path, count: int = 6, start: int = 0, caption_kind: str = "explicit",
                  masks: bool = False, split: str | None = None) -> None:
    videos = load_videos(path, count, start, caption_kind, masks, split)
    if out.suffix.lower() == ".gif":
        imageio.mimsave(out, gif_frames(videos), duration=GIF_FRAME_MS, loop=0)
    else:
        imageio.imwrite(out, contact_sheet(videos))
