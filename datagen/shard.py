"""The HDF5 shard: one file holding N videos, their captions and their ground-truth scene state.

Every generator writes through :class:`ShardWriter` and every reader opens with :func:`open_shard`, so the
layout below is the single definition of the format (docs/FORMAT.md explains it for users):

    /videos                    uint8 [N, F, H, W, C], one video per chunk, deflate (codec chosen by bench/shard_codec.py)
    /captions/explicit         vlen UTF-8 [N]
    /captions/ambiguous        vlen UTF-8 [N]   (MNIST stores the explicit caption here too)
    /annotations/<key>         [N, ...] one dataset per annotation key, fixed trailing shape within a shard
    attrs                      format_version, dataset, split, generator_version, config (JSON), seed,
                               speed_interval [s0, s1], frames, num_videos, shard_index, extra attributes;
                               from the runner also shard_seed and config_sha256 (the shard's identity, checked
                               against manifest.json by every reader: ``datagen.manifest``)

A shard is written under a temporary name (``<name>.<host>-<pid>.tmp`` from the runner) and renamed only after the file is closed, so a file with the final
name is always complete.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np
from zlib_ng import zlib_ng

FORMAT_VERSION = 1
VIDEO_COMPRESSION = "gzip"
VIDEO_COMPRESSION_LEVEL = 1  # HDF5's deflate level for datasets it compresses itself (small annotations)
# Video chunks are deflated by ISA-L (level 1) and written directly: a standard zlib stream that HDF5's deflate
# filter reads, 3.5x faster to write than zlib level 1 and smaller (bench/shard_codec.py, docs/FORMAT.md).
DIRECT_CHUNK_LEVEL = 1
# HDF5 1.10's object formats, no newer: files every HDF5 from 1.10 on reads. ("latest" under h5py's HDF5 2.0 wrote
# layout and datatype messages that HDF5 1.10's h5dump and h5py 3.11's HDF5 1.14 refuse.) 1.10 is also the lowest
# bound that keeps what a shard needs: its fixed-array chunk index; the 1.8 formats ("earliest", "v108") index chunks
# in a v1 B-tree and made a 1,000-video MNIST shard 4% larger (1.947 MB against 1.866 MB).
LIBVER = ("v110", "v110")


def deflate_chunk(data, level: int = DIRECT_CHUNK_LEVEL) -> bytes:
    """One chunk as a zlib stream, the same bytes for the same data in every process.

    Through zlib-ng. ISA-L, used before, did not keep that promise: its one-shot API (``isal_deflate_stateless``)
    starts from whatever its buffer held, and its streaming API too gave another (valid) stream for about one
    video in 3,000 once the heap had been churned (tests/test_mnist_shards.py recompresses 3,000 videos so).
    """
    return zlib_ng.compress(data, level)


REQUIRED_ATTRS = (
    "format_version",
    "dataset",
    "split",
    "generator_version",
    "config",
    "seed",
    "speed_interval",
    "frames",
    "num_videos",
    "shard_index",
)
_STR = h5py.string_dtype("utf-8")
# Annotation arrays larger than this (per video) are chunked one video per chunk and compressed.
_BIG_ANNOTATION_BYTES = 16384
_SMALL_ROWS_PER_CHUNK = 256


class ShardFormatError(ValueError):
    """A shard is missing something the format requires, or is not a shard at all."""


def config_digest(config: Mapping[str, Any]) -> str:
    """sha256 of a split configuration's canonical JSON (sorted keys, no spaces): the ``config_sha256`` a shard
    carries, computed from the ``config`` its split's manifest.json holds."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def tmp_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


class ShardWriter:
    """Buffers videos and writes them in blocks; the file appears under its final name only when complete.

    ``attrs`` must hold every key of REQUIRED_ATTRS except num_videos (set on close); ``config`` may be a
    dict and is stored as canonical JSON. Annotation values are numpy arrays (fixed shape per key within a
    shard) or strings / lists of strings (stored as vlen UTF-8).
    """

    def __init__(self, path: str | os.PathLike, attrs: Mapping[str, Any], capacity: int, block: int = 512,
                 tmp: str | os.PathLike | None = None):
        self.path = Path(path)
        self.tmp = Path(tmp) if tmp is not None else tmp_path_for(self.path)  # the runner names it per run
        self.capacity = int(capacity)
        self.block = int(block)
        self.attrs = dict(attrs)
        missing = [k for k in REQUIRED_ATTRS if k not in self.attrs and k not in ("num_videos", "format_version")]
        if missing:
            raise ShardFormatError(f"shard attributes missing: {', '.join(missing)}")
        self.count = 0
        self._buf: dict[str, list] = {}
        self._hashers: dict[str, "hashlib._Hash"] = {}
        self._direct: dict[str, tuple | bool] = {}  # name -> (dataset id, row shape, dtype) or False
        self._n_buffered = 0
        self._file: h5py.File | None = None

    def __enter__(self) -> "ShardWriter":
        self.tmp.parent.mkdir(parents=True, exist_ok=True)
        if self.tmp.exists():
            self.tmp.unlink()
        self._file = h5py.File(self.tmp, "w", libver=LIBVER)
        return self

    def add(self, video: np.ndarray, explicit: str, ambiguous: str, annotations: Mapping[str, Any]) -> None:
        if video.dtype != np.uint8 or video.ndim != 4:
            raise ShardFormatError(f"video must be uint8 [F, H, W, C], got {video.dtype} {video.shape}")
        if self.count >= self.capacity:
            raise ShardFormatError(f"shard capacity {self.capacity} exceeded")
        self._put("videos", video)
        self._put("captions/explicit", explicit)
        self._put("captions/ambiguous", ambiguous)
        for key, value in annotations.items():
            self._put(f"annotations/{key}", value)
        self.count += 1
        self._n_buffered += 1
        if self._n_buffered >= self.block:
            self._flush()

    def _put(self, name: str, value: Any) -> None:
        """One video's value: compressed and written at once when it fills one uint8 chunk, else buffered."""
        direct = self._direct.get(name)
        if direct is None and name not in self._buf and isinstance(value, np.ndarray):
            ds = self._create(name, value)
            direct = self._direct[name] = (ds.id, ds.shape[1:], ds.dtype) if _direct_writable(ds) else False
        if direct:
            dsid, shape, dtype = direct
            arr = np.ascontiguousarray(value)
            if arr.shape != shape or arr.dtype != dtype:
                raise ShardFormatError(f"{name!r} has {arr.dtype} {arr.shape}, shard has {dtype} {shape}")
            # A deflate stream HDF5's filter reads back, without its per-write selection overhead.
            dsid.write_direct_chunk((self.count,) + (0,) * arr.ndim, deflate_chunk(arr))
            self._hashers.setdefault(name, hashlib.sha256()).update(arr)
            return
        self._buf.setdefault(name, []).append(value)

    def _create(self, name: str, first: Any) -> h5py.Dataset:
        assert self._file is not None
        n = self.capacity
        if isinstance(first, str):
            return self._file.create_dataset(name, shape=(n,), dtype=_STR)
        if isinstance(first, (list, tuple)) and (len(first) == 0 or isinstance(first[0], str)):
            return self._file.create_dataset(name, shape=(n, len(first)), dtype=_STR)
        arr = np.asarray(first)
        # Videos and big per-video arrays: one video per chunk, so reading a clip touches one chunk.
        # Small annotations: blocks of rows, so a shard does not hold thousands of tiny chunks.
        rows = 1 if name == "videos" or arr.nbytes > _BIG_ANNOTATION_BYTES else min(n, _SMALL_ROWS_PER_CHUNK)
        return self._file.create_dataset(
            name,
            shape=(n,) + arr.shape,
            dtype=arr.dtype,
            chunks=(max(rows, 1),) + arr.shape,
            compression=VIDEO_COMPRESSION,
            compression_opts=VIDEO_COMPRESSION_LEVEL,
            shuffle=arr.dtype.itemsize > 1,
        )

    def _flush(self) -> None:
        assert self._file is not None
        n_new, self._n_buffered = self._n_buffered, 0
        if not self._buf:
            return
        start = self.count - n_new
        for name, values in self._buf.items():
            if len(values) != n_new:
                raise ShardFormatError(f"annotation {name!r} given for {len(values)} of {n_new} videos")
            ds = self._file.get(name)
            if ds is None:
                ds = self._create(name, values[0])
            if ds.dtype == _STR or h5py.check_string_dtype(ds.dtype) is not None:
                data = np.array(values, dtype=object)
            else:
                data = np.stack([np.asarray(v) for v in values])
                if data.shape[1:] != ds.shape[1:]:
                    raise ShardFormatError(f"annotation {name!r} has shape {data.shape[1:]}, shard has {ds.shape[1:]}")
            ds[start : start + n_new] = data
            _hash_block(self._hashers.setdefault(name, hashlib.sha256()), data)
        self._buf = {}

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._file is not None
        try:
            if exc_type is None:
                self._flush()
                if self.count != self.capacity:
                    raise ShardFormatError(f"shard {self.path.name}: wrote {self.count} of {self.capacity} videos")
                for key, value in self.attrs.items():
                    self._file.attrs[key] = _attr_value(value)
                self._file.attrs["format_version"] = FORMAT_VERSION
                self._file.attrs["num_videos"] = self.count
                for part, digest in combine_digests(self._hashers).items():
                    self._file.attrs[f"{part}_sha256"] = digest
        finally:
            self._file.close()
            self._file = None
        if exc_type is None:
            os.replace(self.tmp, self.path)
        elif self.tmp.exists():
            self.tmp.unlink()


def _direct_writable(ds: h5py.Dataset) -> bool:
    return (
        ds.dtype == np.uint8
        and ds.chunks == (1,) + ds.shape[1:]
        and ds.compression == VIDEO_COMPRESSION
        and not ds.shuffle
        and not ds.fletcher32
    )


def _hash_block(h, data: np.ndarray) -> None:
    if data.dtype == object or data.dtype.kind in "SU" or h5py.check_string_dtype(data.dtype) is not None:
        for v in data.reshape(-1):
            b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
            h.update(len(b).to_bytes(4, "little"))
            h.update(b)
    else:
        h.update(np.ascontiguousarray(data).tobytes())


def combine_digests(hashers: Mapping[str, Any]) -> dict[str, str]:
    """Two digests of a shard's content, independent of HDF5's byte layout: ``videos`` (the pixels) and
    ``scene`` (captions and annotations), so builds whose renderers differ can still prove their plans equal."""
    scene = hashlib.sha256()
    for name in sorted(hashers):
        if name != "videos":
            scene.update(name.encode() + b"\0" + hashers[name].digest())
    return {"videos": hashers["videos"].hexdigest(), "scene": scene.hexdigest()}


def content_digests(f: h5py.File, block: int = 256) -> dict[str, str]:
    """Recompute the content digests from a shard's data (what ShardWriter stored as attributes)."""
    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    hashers = {}
    for name in names:
        ds, h = f[name], hashlib.sha256()
        for start in range(0, ds.shape[0], block):
            _hash_block(h, ds[start : start + block])
        hashers[name] = h
    return combine_digests(hashers)


def _attr_value(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (int, float)):
        return np.asarray(value)
    return value


def open_shard(path: str | os.PathLike) -> h5py.File:
    """Open a shard read-only and check that it is one (format version, required attributes, datasets)."""
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ShardFormatError(f"{path.name}: not a readable HDF5 file ({e})") from None
    missing = [k for k in REQUIRED_ATTRS if k not in f.attrs]
    if missing:
        f.close()
        raise ShardFormatError(f"{path.name}: missing attributes {', '.join(missing)}")
    if int(f.attrs["format_version"]) != FORMAT_VERSION:
        v = f.attrs["format_version"]
        f.close()
        raise ShardFormatError(f"{path.name}: format version {v}, this ti2v reads {FORMAT_VERSION}")
    for name in ("videos", "captions/explicit", "captions/ambiguous"):
        if name not in f:
            f.close()
            raise ShardFormatError(f"{path.name}: missing dataset /{name}")
    return f


def shard_config(f: h5py.File) -> dict:
    return json.loads(f.attrs["config"])


def read_annotations(f: h5py.File, index: int) -> dict[str, Any]:
    """All annotations of one video, strings decoded."""
    out: dict[str, Any] = {}
    group = f.get("annotations")
    if group is None:
        return out
    for key, ds in group.items():
        value = ds[index]
        if h5py.check_string_dtype(ds.dtype) is not None:
            value = value.decode("utf-8") if isinstance(value, bytes) else [v.decode("utf-8") for v in value]
        out[key] = value
    return out
