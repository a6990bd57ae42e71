"""Previews a person can look at: a contact sheet PNG (one row of frames per video, caption under it) or a GIF.

A title line names what is shown: dataset, split, caption kind (by default the shards' own, ``default_caption``)
and the video indices. ``masks`` outlines every instance with a 1 px contour in the instance's palette colour,
drawn on the instance's own edge pixels at display size, so every pixel strictly inside an object keeps the
colour the caption names.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
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


@dataclass
class Preview:
    """What a preview shows: the videos (RGB [F, H, W, 3]), their captions, their masks (or None) and the title."""

    videos: list[np.ndarray]
    captions: list[str]
    masks: list[np.ndarray | None]
    dataset: str
    split: str
    caption_kind: str
    first: int

    @property
    def title(self) -> str:
        last = self.first + len(self.videos) - 1
        shown = f"video {self.first}" if last == self.first else f"videos {self.first}-{last}"
        return f"{self.dataset} / {self.split} split / {self.caption_kind} captions / {shown}"


def load_videos(path: Path, count: int, start: int, caption_kind: str | None, masks: bool, split: str | None
                ) -> Preview:
    """``caption_kind`` None: the shards' default caption (``default_caption``, explicit when absent)."""
    dirs = split_dirs(path)
    if split is not None:
        dirs = [d for d in dirs if d.name == split]
        if not dirs:
            raise InputError(f"split {split!r} not found under {path}")
    manifest = load_manifest(dirs[0])
    out = Preview([], [], [], str(manifest.get("dataset", "?")), str(manifest.get("split", dirs[0].name)),
                  caption_kind or "", start)
    index = 0
    for entry in manifest["shards"]:
        n = entry["num_videos"]
        if index + n <= start:
            index += n
            continue
        with open_shard(dirs[0] / entry["file"]) as f:
            if not out.caption_kind:
                out.caption_kind = str(f.attrs.get("default_caption", "explicit"))
            if masks and "annotations/masks" not in f:
                raise InputError(f"{entry['file']} has no instance masks to overlay (MNIST shards have none)")
            for row in range(max(0, start - index), n):
                out.videos.append(_to_rgb(f["videos"][row]))
                out.masks.append(f["annotations/masks"][row] if masks else None)
                out.captions.append(f[f"captions/{out.caption_kind}"][row].decode("utf-8"))
                if len(out.videos) == count:
                    return out
        index += n
    if not out.videos:
        raise InputError(f"--start {start} is past the last video ({index})")
    return out


def mask_outlines(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """``frames`` [F, H, W, 3] with a 1 px contour of every instance of ``masks`` [F, H, W] (0 = background): an
    instance pixel is drawn in the instance's colour when one of its 4 neighbours (or the image border) is not
    the same instance; every other pixel, and so every pixel strictly inside an object, is left as it is."""
    m = np.asarray(masks).astype(np.int64)
    padded = np.pad(m, ((0, 0), (1, 1), (1, 1)), constant_values=-1)  # the border: a value no instance has
    centre = padded[:, 1:-1, 1:-1]
    edge = (centre != padded[:, :-2, 1:-1]) | (centre != padded[:, 2:, 1:-1]) | \
           (centre != padded[:, 1:-1, :-2]) | (centre != padded[:, 1:-1, 2:])
    edge &= m > 0
    colours = _palette(int(m.max()) + 1)
    out = frames.copy()
    out[edge] = colours[m[edge]]
    return out


def _shown(preview: Preview) -> list[tuple[np.ndarray, str]]:
    """Each video scaled to display size, outlined when it has masks, with its caption."""
    shown = []
    for video, caption, masks in zip(preview.videos, preview.captions, preview.masks):
        frames = _scale(video)
        if masks is not None:
            frames = mask_outlines(frames, _scale(masks[..., None])[..., 0])
        shown.append((frames, caption))
    return shown


def _title_block(text: str, width: int) -> np.ndarray:
    block = _caption_block(text, width)
    block[-2:] = 200  # a rule under the title
    return block


def contact_sheet(preview: Preview) -> np.ndarray:
    rows = []
    for frames, caption in _shown(preview):
        strip = np.concatenate(list(frames), axis=1)
        rows.append(np.concatenate([strip, _caption_block(caption, strip.shape[1])], axis=0))
        rows.append(np.full((6, strip.shape[1], 3), 200, dtype=np.uint8))
    width = max(r.shape[1] for r in rows)
    rows = [_title_block(preview.title, width)] + rows
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate(rows, axis=0)


def gif_frames(preview: Preview) -> list[np.ndarray]:
    tiles = []
    for frames, caption in _shown(preview):
        block = _caption_block(caption, max(frames.shape[2], 240))
        pad = block.shape[1] - frames.shape[2]
        frames = np.pad(frames, ((0, 0), (0, 0), (0, pad), (0, 0)), constant_values=255)
        tiles.append(np.stack([np.concatenate([f, block], axis=0) for f in frames]))
    length = max(len(t) for t in tiles)
    height = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, length - len(t)), (0, height - t.shape[1]), (0, 4), (0, 0)), mode="edge") for t in tiles]
    frames = np.concatenate(tiles, axis=2)
    title = _title_block(preview.title, frames.shape[2])
    return [np.concatenate([title, f], axis=0) for f in frames]


GIF_FRAME_MS = 150  # imageio's GIF writer takes the frame delay in milliseconds


def write_preview(path: Path, out: Path, count: int = 6, start: int = 0, caption_kind: str | None = None,
                  masks: bool = False, split: str | None = None) -> Preview:
    """Write the sheet (.png) or GIF; returns what it shows (its ``title`` names dataset, split and caption kind)."""
    preview = load_videos(path, count, start, caption_kind, masks, split)
    if out.suffix.lower() == ".gif":
        imageio.mimsave(out, gif_frames(preview), duration=GIF_FRAME_MS, loop=0)
    else:
        imageio.imwrite(out, contact_sheet(preview))
    return preview
