"""Reading test clips for evaluation, straight from the shard contract (docs/ARCHITECTURE.md).

A clip is the T-frame sample of a raw video at speed eta (``ti2v.datagen.speed.clip_indices`` with the shard's
``speed_interval``). ``--speed random`` draws eta per clip from a generator seeded by (seed, clip index), so
the same seed always evaluates the same clips at the same speeds, whatever --limit or --batch-size is.
Clip index = position in the split, shards in name order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ti2v.datagen.shard import ShardFormatError, open_shard, read_annotations
from ti2v.datagen.speed import clip_indices


@dataclass
class Clip:
    index: int
    video: np.ndarray  # uint8 [T, H, W, C], frame 0 = first frame
    caption: str
    eta: float
    frame_indices: np.ndarray
    annotations: dict = field(repr=False)
    dataset: str = ""


def split_dir(data: str | Path, split: str | None) -> Path:
    root = Path(data)
    if not root.exists():
        raise FileNotFoundError(f"data folder {root} does not exist")
    if split and (root / split).is_dir():
        return root / split
    if any(root.glob("shard-*.h5")):
        return root
    raise FileNotFoundError(f"no shards under {root}" + (f" or {root / split}" if split else ""))


def shard_paths(d: Path) -> list[Path]:
    paths = sorted(d.glob("shard-*.h5"))
    if not paths:
        raise FileNotFoundError(f"no shard-*.h5 files in {d}")
    return paths


def clip_eta(speed: str | float, seed: int, index: int) -> float:
    if isinstance(speed, str) and speed == "random":
        return float(np.random.default_rng([seed, index, 7]).uniform(0.0, 1.0))
    return float(speed)


class ClipReader:
    def __init__(self, data, split: str | None = "test", captions: str = "explicit", speed="random",
                 seed: int = 0, clip_length: int = 10, limit: int | None = None):
        if captions not in ("explicit", "ambiguous"):
            raise ValueError(f"captions must be explicit or ambiguous, got {captions!r}")
        self.dir = split_dir(data, split)
        self.paths = shard_paths(self.dir)
        self.captions, self.speed, self.seed, self.T = captions, speed, seed, clip_length
        self.counts, self.attrs = [], []
        for p in self.paths:
            with open_shard(p) as f:
                self.counts.append(int(f.attrs["num_videos"]))
                self.attrs.append({k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in f.attrs.items()})
        self.dataset = str(self.attrs[0]["dataset"])
        total = sum(self.counts)
        self.n = min(total, limit) if limit else total
        self.annotation_keys = self._keys()

    def _keys(self) -> list[str]:
        with open_shard(self.paths[0]) as f:
            return list(f["annotations"].keys()) if "annotations" in f else []

    def __len__(self):
        return self.n

    def __iter__(self):
        index = 0
        for p, count, attrs in zip(self.paths, self.counts, self.attrs):
            s0, s1 = [float(x) for x in attrs["speed_interval"]]
            with open_shard(p) as f:
                for i in range(count):
                    if index >= self.n:
                        return
                    raw = f["videos"][i]
                    eta = clip_eta(self.speed, self.seed, index)
                    idx = clip_indices(raw.shape[0], eta, s0, s1, self.T)
                    cap = f[f"captions/{self.captions}"][i]
                    cap = cap.decode("utf-8") if isinstance(cap, bytes) else str(cap)
                    yield Clip(index, raw[idx], cap, eta, idx, read_annotations(f, i), self.dataset)
                    index += 1


__all__ = ["Clip", "ClipReader", "ShardFormatError", "split_dir"]
