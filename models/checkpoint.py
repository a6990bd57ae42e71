"""One-file checkpoints: safetensors tensors + a JSON metadata header (no pickle anywhere).

Layout of ``model.ckpt`` (a plain safetensors file, readable by any safetensors reader):

    metadata["ti2v"] = JSON {"format": "ti2v-mage-checkpoint", "version": 1, "kind": "model" | "vqvae" | "train",
                             "config": {"vqvae": {...}, "mage": {...}}, "vocabulary": [...], ...}
    tensors "vqvae.<name>", "mage.<name>" (and "optim.*" in training checkpoints)

Loading never unpickles: a truncated file, a file of another format, or a torch/pickle file (which could run
code when unpickled) raises :class:`CheckpointError` with a message saying what is wrong.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Mapping

import torch

from ti2v.datagen.files import publish

FORMAT = "ti2v-mage-checkpoint"
VERSION = 1
_META_KEY = "ti2v"


class CheckpointError(RuntimeError):
    """The file is not a readable ti2v checkpoint (truncated, foreign format, pickle, wrong version)."""


def _describe_foreign(head: bytes) -> str:
    if head[:2] == b"PK":
        return "a zip archive (probably a torch.save() pickle checkpoint)"
    if head[:1] == b"\x80" and len(head) > 1 and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle"
    if head[:4] == b"\x89HDF":
        return "an HDF5 file"
    return "not a safetensors file"


def save_checkpoint(path: str | Path, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> Path:
    """Write tensors + metadata atomically (temp file then rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "version": VERSION, **meta}
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    # safetensors refuses tensors sharing memory; clone those that alias
    seen: dict[int, str] = {}
    for k, v in list(flat.items()):
        ptr = v.untyped_storage().data_ptr() if v.numel() else -1
        if ptr in seen and ptr != -1:
            flat[k] = v.clone()
        seen[ptr] = k
    tmp = path.with_name(path.name + ".tmp")
    save_file(flat, str(tmp), metadata={_META_KEY: json.dumps(header)})
    publish(tmp, path)
    return path


def read_header(path: str | Path) -> dict[str, Any]:
    """Validate the file's framing and return the ti2v JSON metadata (no tensor is read)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: file is {size} bytes, too short to be a checkpoint (truncated?)")
        (n,) = struct.unpack("<Q", head)
        if n > 100_000_000:
            raise CheckpointError(f"{path}: {_describe_foreign(head)}, not a ti2v checkpoint; "
                                  "ti2v checkpoints are safetensors files and pickles are never loaded")
        if 8 + n > size:
            raise CheckpointError(f"{path}: header says {n} bytes but the file has {size - 8} (truncated)")
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: {_describe_foreign(head)}; header is not JSON ({exc})") from None
    meta = header.get("__metadata__") or {}
    if _META_KEY not in meta:
        raise CheckpointError(f"{path}: a safetensors file without ti2v metadata (foreign checkpoint)")
    try:
        info = json.loads(meta[_META_KEY])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: corrupt ti2v metadata ({exc})") from None
    if info.get("format") != FORMAT:
        raise CheckpointError(f"{path}: format {info.get('format')!r}, expected {FORMAT!r}")
    if int(info.get("version", -1)) > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {info.get('version')} is newer than this code ({VERSION})")
    end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > size:
        raise CheckpointError(f"{path}: tensor data ends at byte {8 + n + end} but the file has {size} (truncated)")
    return info


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """-> (tensors, metadata). Raises CheckpointError for anything that is not a complete ti2v checkpoint."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    info = read_header(path)
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read tensors ({exc})") from None
    return tensors, info


def prefixed(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Sub-dict of tensors whose key starts with ``prefix.``, prefix removed."""
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


def with_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in state.items()}


def optimizer_to_flat(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer state as tensors 'optim.<param>.<key>' + JSON-safe param_groups / scalars."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, st in sd["state"].items():
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"optim.{pid}.{key}"] = val
            else:
                scalars[f"{pid}.{key}"] = val
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_flat(opt: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor], meta: Mapping) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, val in tensors.items():
        if not name.startswith("optim."):
            continue
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = val
    for name, val in meta.get("scalars", {}).items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = val
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
