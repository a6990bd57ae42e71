"""Reading shards for training and evaluation: a torch Dataset over a split folder.

Files are opened lazily, once per DataLoader worker process (h5py handles must not cross a fork). Each item
samples the speed eta (uniformly per item when training, or fixed for evaluation), turns it into frame indices
with the interval range stored in the shards (docs/DATASETS.md, Speed) and returns the T-frame clip.
"""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path
from typing import Any

import numpy as np
import torch
from isal import isal_zlib
from torch.utils.data import Dataset

from .errors import InputError
from .manifest import MANIFEST, identity_error, load_manifest
from .motion import clip_motion
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


def check_video_layout(path: Path, f, clip_length: int, expect: tuple | None = None) -> tuple:
    """A shard's /videos must be uint8 [N, F, H, W, C] with C 1 or 3, F >= clip_length and F = the ``frames``
    attribute, and (``expect``) the same F, H, W, C as the split's first shard; returns (F, H, W, C)."""
    v = f["videos"]
    name = Path(path).name
    if v.ndim != 5:
        raise InputError(f"{name}: /videos has shape {v.shape}; it must be [videos, frames, height, width, "
                         "channels] (5-D)")
    if v.dtype != np.uint8:
        raise InputError(f"{name}: /videos is {v.dtype}; it must be uint8 (0-255)")
    layout = tuple(int(x) for x in v.shape[1:])
    frames, _, _, channels = layout
    if channels not in (1, 3):
        raise InputError(f"{name}: /videos has {channels} channels; allowed: 1 (grayscale) or 3 (RGB)")
    if frames != int(f.attrs["frames"]):
        raise InputError(f"{name}: /videos has {frames} frames per video, its 'frames' attribute says "
                         f"{int(f.attrs['frames'])}")
    if frames < clip_length:
        raise InputError(f"{name}: {frames} frames per video, too few for clips of {clip_length} frames")
    if expect is not None and layout != tuple(expect):
        raise InputError(f"{name}: videos of [frames, height, width, channels] {list(layout)}, the split's first "
                         f"shard has {list(expect)}; every shard of a split must match")
    return layout


class DamagedShardError(InputError):
    """A video chunk of a shard cannot be read back (corrupt or truncated file): one line naming both."""


class ShardDataset(Dataset):
    """Clips from every shard of one split.

    On open every shard's identity (dataset, split, shard index, seeds, count, first index, configuration digest)
    is checked against manifest.json, and the manifest's counts against each other: attribute reads only, no
    hashing (``ti2v-datagen verify`` and ``ti2v-bench evaluate`` check the checksums). A mismatch, or a video
    chunk that cannot be read later, is an InputError of one line naming the file.

    caption: "explicit" or "ambiguous" (MNIST stores its explicit caption in both); None takes the shards'
        default (``default_caption`` attribute, set by ``cater --ambiguous``; explicit otherwise).
    eta: None draws eta ~ U(0, 1) per item (training); a float fixes the speed (evaluation).
    with_annotations: attach the video's ground-truth scene state (numpy arrays, strings).
    motion: attach the clip's ground-truth motion (``ti2v.datagen.motion``: backward field, visibility, frame-0
        owners, object centre tracks) under ``"motion"``, derived exactly for Moving MNIST, stored for CATER-GEN.
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        clip_length: int = 10,
        caption: str | None = None,
        eta: float | None = None,
        seed: int = 0,
        with_annotations: bool = True,
        motion: bool = False,
    ):
        self._handles: dict[int, Any] = {}
        if caption not in (None, "explicit", "ambiguous"):
            raise InputError(f"caption kind {caption!r} is not one of explicit, ambiguous")
        if eta is not None and not 0.0 <= eta <= 1.0:
            raise InputError(f"speed {eta} is outside [0, 1]")
        self.split_dir = resolve_split_dir(root, split)
        manifest = load_manifest(self.split_dir)  # consistent, and lists at least one shard
        self.manifest = manifest
        self.dataset_name = manifest["dataset"]
        self.files = [self.split_dir / e["file"] for e in manifest["shards"]]
        counts = [e["num_videos"] for e in manifest["shards"]]
        self.offsets = np.cumsum([0] + counts)
        self.clip_length = clip_length
        self.eta = eta
        self.seed = seed
        self.with_annotations = with_annotations
        self.motion = motion
        self.epoch = 0
        layout = None
        for position, (path, entry) in enumerate(zip(self.files, manifest["shards"])):
            if not path.exists():
                raise InputError(f"{path}: missing; {MANIFEST} lists it")
            with open_shard(path) as f:
                identity_error(path, f, manifest, position, entry, self.split_dir)
                if position == 0:
                    self.speed_interval = tuple(float(x) for x in f.attrs["speed_interval"])
                    self.frames = int(f.attrs["frames"])
                    self.attrs = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in f.attrs.items()}
                layout = check_video_layout(path, f, clip_length, layout)
        self.caption = caption or str(self.attrs.get("default_caption", "explicit"))

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def set_epoch(self, epoch: int) -> None:
        """Reseed the per-item speed draws (distinct per epoch, reproducible)."""
        self.epoch = epoch

    def _file(self, shard: int):
        handle = self._handles.get(shard)
        if handle is None:
            handle = _OpenShard(open_shard(self.files[shard]), self.caption, self.files[shard],
                                int(self.offsets[shard]))
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
        return _unit_hash(self.seed, self.epoch, index)

    def sample(self, index: int, annotations: bool | None = None) -> dict[str, Any]:
        """Item ``index`` as numpy: video uint8 [T, H, W, C] (frame 0 = first frame), frame_indices, caption,
        eta, index, and (when asked, default ``with_annotations``) the video's annotations."""
        shard, row = self.locate(index)
        handle = self._file(shard)
        eta = self.item_eta(index)
        idx = clip_indices(self.frames, eta, *self.speed_interval, length=self.clip_length)
        item = {"video": handle.video(row)[idx], "frame_indices": idx, "caption": handle.captions[row], "eta": eta,
                "index": index}
        want = self.with_annotations if annotations is None else annotations
        if want or self.motion:
            ann = handle.annotations(row)
            if want:
                item["annotations"] = ann
            if self.motion:
                item["motion"] = clip_motion(self.dataset_name, ann, idx, item["video"].shape[1])
        return item

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.sample(index)
        clip = np.ascontiguousarray(item["video"].transpose(0, 3, 1, 2))
        item["first_frame"] = torch.from_numpy(clip[0].copy())
        item["video"] = torch.from_numpy(clip)
        item["frame_indices"] = torch.from_numpy(item["frame_indices"])
        return item

    def annotation_keys(self) -> list[str]:
        """Annotation keys the split's shards hold."""
        group = self._file(0).file.get("annotations")
        return list(group.keys()) if group is not None else []

    def raw_video(self, index: int) -> np.ndarray:
        """The whole raw video [F, H, W, C] (no speed sampling)."""
        shard, row = self.locate(index)
        return self._file(shard).video(row)

    def annotations(self, index: int) -> dict[str, Any]:
        shard, row = self.locate(index)
        return self._file(shard).annotations(row)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handles"] = {}
        return state

    def __del__(self):
        for handle in self._handles.values():
            try:
                handle.file.close()
            except Exception:
                pass


class _OpenShard:
    """An open shard with what every item needs at hand: the video dataset and the decoded captions.

    Videos are stored one per gzip chunk, so a video is read as that one chunk and inflated directly, which skips
    h5py's selection machinery (the dominant cost per item); other layouts take the ordinary path.
    """

    def __init__(self, file, caption_kind: str, path: Path | None = None, first: int = 0):
        self.file = file
        self.path = Path(path) if path is not None else Path(file.filename)
        self.first = first  # index in the split of the shard's first video
        self.videos = file["videos"]
        self.shape = self.videos.shape[1:]
        try:
            self.captions = [c.decode("utf-8") for c in file[f"captions/{caption_kind}"][:]]
        except _READ_ERRORS as e:  # UnicodeDecodeError is a ValueError
            raise self.damaged(f"/captions/{caption_kind}", e) from None
        self.direct = (
            self.videos.chunks == (1,) + self.shape
            and self.videos.compression == "gzip"
            and not self.videos.shuffle
            and self.videos.dtype == np.uint8
        )

    def video(self, row: int) -> np.ndarray:
        try:
            if self.direct:
                mask, chunk = self.videos.id.read_direct_chunk((row, 0, 0, 0, 0))
                if mask == 0:
                    return np.frombuffer(isal_zlib.decompress(chunk), dtype=np.uint8).reshape(self.shape)
            return self.videos[row]
        except _READ_ERRORS as e:
            raise self.damaged(f"video {row} of the shard (index {self.first + row} of the split)", e) from None

    def annotations(self, row: int) -> dict[str, Any]:
        try:
            return read_annotations(self.file, row)
        except _READ_ERRORS as e:
            raise self.damaged(f"the annotations of video {row} of the shard (index {self.first + row} of the "
                               "split)", e) from None

    def damaged(self, what: str, e: Exception) -> DamagedShardError:
        reason = " ".join(str(e).split()) or type(e).__name__
        return DamagedShardError(f"{self.path}: {what} cannot be read ({reason}); the file is damaged: "
                                 f"`ti2v-datagen verify {self.path.parent}` checks every chunk")


_READ_ERRORS = (isal_zlib.error, OSError, ValueError)  # ValueError: a stream that inflates to the wrong size


_MASK64 = (1 << 64) - 1


def _unit_hash(*parts: int) -> float:
    """A reproducible uniform draw in [0, 1) from integers (splitmix64), far cheaper than a Generator per item."""
    x = 0x9E3779B97F4A7C15
    for p in parts:
        x = (x ^ (int(p) & _MASK64)) & _MASK64
        x = (x + 0x9E3779B97F4A7C15) & _MASK64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
        x ^= x >> 31
    return (x >> 11) / float(1 << 53)
