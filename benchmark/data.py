"""Test clips for evaluation: a thin view of :class:`ti2v.datagen.dataset.ShardDataset` (the one shard reader).

A clip is the T-frame sample of a raw video at speed eta (docs/DATASETS.md, Speed; ``ShardDataset.sample``). ``--speed
random`` gives each clip the eta ShardDataset draws from (seed, clip index), so the same seed always evaluates
the same clips at the same speeds, whatever --limit or --batch-size is. Clip index = position in the split.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ti2v.datagen.dataset import ShardDataset
from ti2v.datagen.errors import InputError
from ti2v.datagen.shard import ShardFormatError


@dataclass
class Clip:
    index: int
    video: np.ndarray  # uint8 [T, H, W, C], frame 0 = first frame
    caption: str
    eta: float
    frame_indices: np.ndarray
    annotations: dict = field(repr=False)
    dataset: str = ""


class ClipReader:
    """The first ``limit`` clips of a split, in order, with their annotations."""

    def __init__(self, data, split: str | None = "test", captions: str = "explicit", speed="random",
                 seed: int = 0, clip_length: int = 10, limit: int | None = None):
        root = Path(data)
        if not root.exists():
            raise FileNotFoundError(f"data folder {root} does not exist")
        eta = None if isinstance(speed, str) and speed == "random" else float(speed)
        try:
            self.ds = ShardDataset(root, split, clip_length=clip_length, caption=captions, eta=eta, seed=seed)
        except InputError as e:
            raise FileNotFoundError(str(e)) from None
        self.dir = self.ds.split_dir
        self.paths = self.ds.files
        self.captions, self.speed, self.seed, self.T = captions, speed, seed, clip_length
        self.dataset = self.ds.dataset_name
        self.attrs = self.ds.attrs
        self.n = min(len(self.ds), limit) if limit else len(self.ds)
        self.annotation_keys = self.ds.annotation_keys()

    def __len__(self) -> int:
        return self.n

    def verify_checksums(self) -> dict:
        """Check the sha256 of every shard the clips come from against manifest.json (what ``ti2v-datagen
        verify`` checks first), so an edited caption or annotation is not scored; InputError naming the first
        file that differs. Returns what was checked: shards, of how many, bytes and seconds."""
        from ti2v.datagen.manifest import MANIFEST
        from ti2v.datagen.runner import sha256_file

        t0 = time.perf_counter()
        used = self.ds.locate(self.n - 1)[0] + 1 if self.n else 0
        size = 0
        for path, entry in zip(self.paths[:used], self.ds.manifest["shards"][:used]):
            digest = sha256_file(path)
            size += path.stat().st_size
            if digest != entry["sha256"]:
                raise InputError(f"{path}: sha256 {digest[:12]}... differs from the {entry['sha256'][:12]}... in "
                                 f"{MANIFEST}: the file was changed after the split was made, so its scores would "
                                 f"not be comparable; `ti2v-datagen verify {self.dir}` checks it in full, "
                                 "--no-verify scores it anyway")
        return {"shards": used, "of": len(self.paths), "bytes": size, "seconds": time.perf_counter() - t0}

    def __iter__(self) -> Iterator[Clip]:
        for index in range(self.n):
            s = self.ds.sample(index, annotations=True)
            yield Clip(index, s["video"], s["caption"], s["eta"], s["frame_indices"], s["annotations"], self.dataset)


__all__ = ["Clip", "ClipReader", "ShardFormatError"]
