"""The benchmark's inputs as files, for generators that are not Python callables.

``ti2v-bench inputs --data DIR --out INPUTS`` writes what a model is given for every test clip:

    INPUTS/inputs.json         how the clips were drawn: data, dataset, split, captions, speed, seed, clip length
    INPUTS/inputs.jsonl        one line per clip: index, caption, eta, frames, frame_indices (raw frames)
    INPUTS/first_frames/<index>.png

A researcher generates ``INPUTS/videos/<index>.npy`` (or ``.gif`` / ``.mp4``, see the README) from those, and
``ti2v-bench evaluate INPUTS/videos --data DIR --inputs INPUTS`` draws the clips with the same settings and
checks, clip by clip, that they are the ones the videos were made from (a folder of videos made at eta 0.5 and
scored against clips drawn at random speeds would otherwise be scored silently against the wrong frames).
``inputs.json`` is written last, so a folder without it is an unfinished export.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from .data import Clip, ClipReader

HEADER = "inputs.json"
LINES = "inputs.jsonl"
FRAMES = "first_frames"
FORMAT = 1


def clip_line(clip: Clip) -> dict:
    return {"index": clip.index, "caption": clip.caption, "eta": round(float(clip.eta), 6),
            "frames": int(len(clip.frame_indices)), "frame_indices": [int(i) for i in clip.frame_indices]}


def export_inputs(reader: ClipReader, out: str | Path, progress=None) -> dict:
    """Write the inputs of every clip of ``reader`` into ``out`` (replacing an earlier export there)."""
    import imageio.v3 as iio

    out = Path(out)
    frames = out / FRAMES
    if frames.exists():
        shutil.rmtree(frames)
    (out / HEADER).unlink(missing_ok=True)
    frames.mkdir(parents=True)
    lines = []
    for n, clip in enumerate(reader):
        first = clip.video[0]
        iio.imwrite(frames / f"{clip.index}.png", first[..., 0] if first.shape[-1] == 1 else first)
        lines.append(clip_line(clip))
        if progress:
            progress(n + 1, len(reader))
    (out / LINES).write_text("".join(json.dumps(x) + "\n" for x in lines))
    header = {"ti2v_bench_inputs": FORMAT, "data": str(reader.dir), "dataset": reader.dataset,
              "split": reader.dir.name, "captions": reader.captions, "speed": reader.speed, "seed": reader.seed,
              "clip_length": reader.T, "clips": len(lines)}
    tmp = out / (HEADER + ".tmp")
    tmp.write_text(json.dumps(header, indent=1) + "\n")
    tmp.replace(out / HEADER)
    return header


def load_inputs(folder: str | Path) -> tuple[dict, list[dict]]:
    """(header, lines) of an export; ValueError naming what is missing or wrong."""
    folder = Path(folder)
    if not (folder / HEADER).is_file():
        raise ValueError(f"--inputs {folder}: no {HEADER} (make it with `ti2v-bench inputs`; an export that was "
                         "stopped has none)")
    try:
        header = json.loads((folder / HEADER).read_text())
        lines = [json.loads(x) for x in (folder / LINES).read_text().splitlines() if x.strip()]
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"--inputs {folder}: unreadable export ({e})") from None
    if header.get("ti2v_bench_inputs") != FORMAT or len(lines) != header.get("clips"):
        raise ValueError(f"--inputs {folder}: not a complete ti2v-bench inputs export (format "
                         f"{header.get('ti2v_bench_inputs')!r}, {len(lines)} of {header.get('clips')} clip lines)")
    return header, lines


def check_clip(line: dict, clip: Clip) -> None:
    """The clip drawn now must be the one the videos were made from."""
    now = clip_line(clip)
    for key in ("index", "caption", "frames", "frame_indices"):
        if line.get(key) != now[key]:
            raise ValueError(f"clip {clip.index}: the inputs say {key} {line.get(key)!r}, the data gives "
                             f"{now[key]!r} (the inputs were made from another data folder or settings)")
    if not np.isclose(float(line.get("eta", -1)), now["eta"], atol=1e-6):
        raise ValueError(f"clip {clip.index}: the inputs say eta {line.get('eta')!r}, the data gives {now['eta']!r}")
