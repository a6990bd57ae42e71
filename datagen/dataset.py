"""Reading shards for training and evaluation: a torch Dataset over a split folder.

Files are opened lazily, once per DataLoader worker process (h5py handles must not cross a fork). Each item
samples the speed eta (uniformly per item when training, or fixed for evaluation), turns it into frame indices
with the interval range stored in the shards (SPEC section 4) and returns the T-frame clip.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .errors import InputError
from .runner import MANIFEST
from .shard import open_shard, read_annotations
from .speed import clip_indices


def resolve_split_dir(root: str | Path, split: str | None = None) -> Path:
    root = Path(root)
    if split is not None and (root / split / MANIFEST).exists():
        return root / split
    if (root / MANIFEST).exists():
        return root
    where = root / split if split else root
    raise InputError(f"{where} is not a split folder (no {MANIFEST}); expected OUT/<split>/ from ti2v-datagen")


class ShardDataset(Dataset):
    """Clips from every shard of one split.

    caption: "explicit" or "ambiguous" (MNIST stores its explicit caption in both).
    eta: None draws eta ~ U(0, 1) per item (training); a float fixes the speed (evaluation).
    with_annotations: attach the video's ground-truth scene state (numpy arrays, strings).
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        clip_length: int = 10,
        caption: str = "explicit",
        eta: float | None = None,
        seed: int = 0,
        with_annotations: bool = True,
    ):
        if caption not in ("explicit", "ambiguous"):
            raise InputError(f"caption kind {caption!r} is not one of explicit, ambiguous")
        if eta is not None and not 0.0 <= eta <= 1.0:
            raise InputError(f"speed {eta} is outside [0, 1]")
        self.split_dir = resolve_split_dir(root, split)
        manifest = json.loads((self.split_dir / MANIFEST).read_text())
        self.dataset_name = manifest["dataset"]
        self.files = [self.split_dir / e["file"] for e in manifest["shards"]]
        counts = [e["num_videos"] for e in manifest["shards"]]
        self.offsets = np.cumsum([0] + counts)
        self.clip_length = clip_length
        self.caption = caption
        self.eta = eta
        self.seed = seed
        self.with_annotations = with_annotations
        self.epoch = 0
        with open_shard(self.files[0]) as f:
            self.speed_interval = tuple(float(x) for x in f.attrs["speed_interval"])
            self.frames = int(f.attrs["frames"])
            self.attrs = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in f.attrs.items()}
        self._handles: dict[int, Any] = {}

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def set_epoch(self, epoch: int) -> None:
        """Reseed the per-item speed draws (distinct per epoch, reproducible)."""
        self.epoch = epoch

    def _file(self, shard: int):
        handle = self._handles.get(shard)
        if handle is None:
            handle = open_shard(self.files[shard])
            self._handles[shard] = handle
        return handle

    def locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        shard = bisect_right(self.offsets, index) - 1
        return shard, index - int(self.offsets[shard])

    def item_eta(self, index: int) -> float:
        if self.eta is not None:
            return float(self.eta)
        return float(np.random.default_rng([self.seed, self.epoch, index]).random())

    def __getitem__(self, index: int) -> dict[str, Any]:
        shard, row = self.locate(index)
        f = self._file(shard)
        eta = self.item_eta(index)
        idx = clip_indices(self.frames, eta, *self.speed_interval, length=self.clip_length)
        raw = f["videos"][row]  # [F, H, W, C]
        clip = np.ascontiguousarray(raw[idx].transpose(0, 3, 1, 2))
        caption = f[f"captions/{self.caption}"][row].decode("utf-8")
        item = {
            "first_frame": torch.from_numpy(clip[0].copy()),
            "video": torch.from_numpy(clip),
            "frame_indices": torch.from_numpy(idx),
            "caption": caption,
            "eta": eta,
            "index": index,
        }
        if self.with_annotations:
            item["annotations"] = read_annotations(f, row)
        return item

    def raw_video(self, index: int) -> np.ndarray:
        """The whole raw video [F, H, W, C] (no speed sampling)."""
        shard, row = self.locate(index)
        return self._file(shard)["videos"][row]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handles"] = {}
        return state

    def __del__(self):
        for handle in self._handles.values():
            try:
                handle.close()
            except Exception:
                pass
