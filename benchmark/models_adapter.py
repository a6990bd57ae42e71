"""Turning the MODEL argument of ``ti2v-bench evaluate`` into a video generator.

Generator protocol (what every MODEL becomes)::

    generate(first_frame, caption, speed, num_samples=1, seed=0, frames=10) -> uint8 [num_samples, T, H, W, C]

``first_frame`` is uint8 [H, W, C]; ``speed`` is eta in [0, 1]; frame 0 of each returned video is expected to be
the given first frame (it is not scored). The same seed must give the same videos.

MODEL can be
* ``static``: repeats the first frame (a lower bound on controllability: nothing moves);
* ``oracle``: the ground-truth clip, passed through a VQ-VAE when ``--vqvae CKPT`` is given (the upper bound a
  VQ-VAE-based model can reach; without one it is the ground truth itself, PSNR capped);
* ``package.module:name``: ``name`` is a function with the protocol's signature, an object with a ``generate``
  method, or a class whose no-argument instance has one;
* a folder of pre-generated videos named by clip index (position in the evaluated split, 0-based):
  ``<index>.npy`` (uint8 [T, H, W, C] or [K, T, H, W, C]), or ``<index>_<k>.npy`` per sample, or the same with
  ``.gif`` / ``.mp4`` (read with imageio); grayscale GIFs are reduced to the shard's channel count;
* ``motion-i2v:<dataset>``: the Motion-I2V-style baseline shipped inside the package for that dataset
  (``ti2v.models.motion_i2v.api.SHIPPED``), checked against its pinned sha256 before it is loaded;
* a model checkpoint file (MAGE or the Motion-I2V-style baseline) (``.ckpt`` / ``.pt`` / ``.pth`` / ``.safetensors``): checked here first without running
  any code (safetensors, or ``torch.load(weights_only=True)``; a pickle that would call anything is refused),
  then handed to ``ti2v.models.api.load_model(path, device)``.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np


class ModelError(ValueError):
    """A MODEL argument that cannot be used; the message names it."""


CKPT_SUFFIXES = (".ckpt", ".pt", ".pth", ".safetensors", ".bin")


class StaticBaseline:
    name = "static"

    def generate(self, first_frame, caption, speed, num_samples=1, seed=0, frames=10):
        v = np.repeat(np.asarray(first_frame, np.uint8)[None], frames, 0)
        return np.repeat(v[None], num_samples, 0)


class OracleBaseline:
    """Needs the reference clip: the evaluator calls ``generate_from_reference``."""

    name = "oracle"
    needs_reference = True

    def __init__(self, vqvae=None, vqvae_path: str | None = None):
        self.vqvae = vqvae
        if vqvae is not None:  # a different baseline: ground truth through the VQ-VAE's reconstruction
            self.name = f"oracle through VQ-VAE ({Path(vqvae_path).name if vqvae_path else 'given'})"

    def generate_from_reference(self, reference, num_samples=1):
        v = np.asarray(reference, np.uint8)
        if self.vqvae is not None:
            import torch

            with torch.no_grad():
                dev = next(self.vqvae.parameters()).device
                x = torch.from_numpy(v[1:]).permute(0, 3, 1, 2).contiguous().to(dev)
                rec = self.vqvae.decode(self.vqvae.encode(x)).permute(0, 2, 3, 1).cpu().numpy()
            v = np.concatenate([v[:1], rec.astype(np.uint8)])  # frame 1 stays the given input, as MAGE's
        return np.repeat(v[None], num_samples, 0)


class FolderModel:
    name = "folder"

    def __init__(self, folder: Path):
        self.folder = folder
        self.files = {p.name: p for p in folder.iterdir() if p.is_file()}
        if not self.files:
            raise ModelError(f"video folder {folder} is empty")

    def _read(self, p: Path) -> np.ndarray:
        if p.suffix == ".npy":
            try:
                arr = np.load(p, allow_pickle=False)
            except Exception as e:
                raise ModelError(f"{p}: not a readable .npy video ({e})") from None
        else:
            import imageio.v3 as iio

            try:
                arr = np.asarray(iio.imread(p, index=None))
            except Exception as e:
                raise ModelError(f"{p}: not a readable video ({e})") from None
        if arr.dtype != np.uint8:
            raise ModelError(f"{p}: videos must be uint8, got {arr.dtype}")
        if arr.ndim == 3:
            arr = arr[..., None]
        return arr

    def _npy(self, index: int) -> bool:
        return f"{index}.npy" in self.files or f"{index}_0.npy" in self.files

    def load(self, index: int, num_samples: int, frames: int, channels: int) -> np.ndarray:
        vids = []
        for ext in (".npy", ".gif", ".mp4"):
            if f"{index}{ext}" in self.files:
                a = self._read(self.files[f"{index}{ext}"])
                vids = list(a) if a.ndim == 5 else [a]
                break
            per = [self.files.get(f"{index}_{k}{ext}") for k in range(num_samples)]
            if per[0] is not None:
                if any(p is None for p in per):
                    raise ModelError(f"video folder {self.folder}: clip {index} has fewer than {num_samples} samples")
                vids = [self._read(p) for p in per]
                break
        if not vids:
            raise ModelError(f"video folder {self.folder}: no video for clip index {index} "
                             f"(expected {index}.npy, {index}_0.npy, {index}.gif, ...)")
        if len(vids) < num_samples:
            raise ModelError(f"video folder {self.folder}: clip {index} has {len(vids)} samples, {num_samples} needed")
        out = []
        for v in vids[:num_samples]:
            if v.shape[-1] != channels and (self._npy(index) or v.shape[-1] not in (1, 3, 4)):
                # .npy holds exactly what the model made: a channel count other than the shard's is refused, not
                # averaged (only decoded GIF/MP4 frames, RGB(A) by construction, are reduced to grayscale)
                raise ModelError(f"video folder {self.folder}: clip {index} has {v.shape[-1]} channels; the shards "
                                 f"have {channels}, so videos must be uint8 [T, H, W, {channels}]"
                                 + (" or [T, H, W]" if channels == 1 else ""))
            if v.shape[-1] != channels:
                v = v[..., :3].mean(-1, keepdims=True).round().astype(np.uint8) if channels == 1 else v
                if v.shape[-1] == 1 and channels == 3:
                    v = np.repeat(v, 3, -1)
            if len(v) < frames:
                raise ModelError(f"video folder {self.folder}: clip {index} has {len(v)} frames, {frames} needed")
            out.append(v[:frames])
        return np.stack(out)


class CallableModel:
    def __init__(self, spec: str, fn):
        from .trajectory_control import takes_trajectories

        self.name = spec
        self.fn = fn
        self.takes_trajectories = takes_trajectories(fn)

    def generate(self, first_frame, caption, speed, num_samples=1, seed=0, frames=10, trajectories=None):
        """``trajectories`` reaches the callable only when it takes them, so plug-ins written before
        :mod:`.trajectory_control` keep working unchanged."""
        extra = {"trajectories": trajectories} if trajectories is not None and self.takes_trajectories else {}
        return self.fn(first_frame=first_frame, caption=caption, speed=speed, num_samples=num_samples, seed=seed,
                       frames=frames, **extra)


def load_callable(spec: str):
    mod_name, _, attr = spec.partition(":")
    if not mod_name or not attr:
        raise ModelError(f"MODEL {spec!r}: expected package.module:callable")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise ModelError(f"MODEL {spec!r}: cannot import module {mod_name!r} ({e})") from None
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelError(f"MODEL {spec!r}: module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if inspect.isclass(obj):
        if not callable(getattr(obj, "generate", None)):
            raise ModelError(f"MODEL {spec!r}: class {attr!r} has no generate method; {_ALLOWED_CALLABLE}")
        try:
            obj = obj()
        except Exception as e:
            raise ModelError(f"MODEL {spec!r}: {attr}() failed ({type(e).__name__}: {str(e)[:160]}); the class "
                             "must build with no arguments") from None
    fn = obj.generate if hasattr(obj, "generate") else obj
    if not callable(fn):
        raise ModelError(f"MODEL {spec!r}: {attr!r} is neither callable nor has a generate method; "
                         f"{_ALLOWED_CALLABLE}")
    _check_generate_signature(spec, attr, fn)
    return CallableModel(spec, fn)


GENERATE_ARGS = ("first_frame", "caption", "speed", "num_samples", "seed", "frames")
_ALLOWED_CALLABLE = ("MODEL module:name must name a function generate(first_frame, caption, speed, num_samples=1, "
                     "seed=0, frames=10), an object with such a generate method, or a class whose no-argument "
                     "instance has one")


def _check_generate_signature(spec: str, attr: str, fn) -> None:
    """Refuse anything that cannot be called as ``fn(first_frame=..., caption=..., ..., frames=...)`` (os:system,
    builtins without a signature) before it is ever called."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        raise ModelError(f"MODEL {spec!r}: {attr!r} has no inspectable signature (a builtin?); "
                         f"{_ALLOWED_CALLABLE}") from None
    params = list(sig.parameters.values())
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params)
    missing = [] if takes_any else [a for a in GENERATE_ARGS if a not in names]
    required = [p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                and p.name not in GENERATE_ARGS + ("trajectories",)]
    if missing or required:
        what = f"lacks {', '.join(missing)}" if missing else f"also requires {', '.join(required)}"
        raise ModelError(f"MODEL {spec!r}: {attr}{sig} is not generate-like ({what}); {_ALLOWED_CALLABLE}")


def check_checkpoint(path: Path) -> dict:
    """Open a checkpoint without executing anything it contains; return its tensors' names and shapes."""
    if not path.exists():
        raise ModelError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise ModelError(f"checkpoint {path} is empty")
    if path.suffix == ".safetensors" or _looks_like_safetensors(path):
        from safetensors import safe_open

        try:
            with safe_open(str(path), "pt") as f:
                return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        except Exception as e:
            raise ModelError(f"checkpoint {path}: not a readable safetensors file ({e})") from None
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        msg = str(e).splitlines()[0] if str(e) else "disallowed object"
        if zipfile.is_zipfile(path) or _looks_like_pickle(path):
            raise ModelError(f"checkpoint {path} refused: it would run code or build objects outside plain tensors "
                             f"when unpickled ({msg[:160]}); re-save it with safetensors or plain state dicts") from None
        raise ModelError(f"checkpoint {path}: not a checkpoint (neither a safetensors nor a torch.save file)") \
            from None
    except Exception as e:
        if not (zipfile.is_zipfile(path) or _looks_like_pickle(path)):
            raise ModelError(f"checkpoint {path}: not a checkpoint (neither a safetensors nor a torch.save file)") \
                from None
        raise ModelError(f"checkpoint {path}: corrupt or not a checkpoint ({type(e).__name__}: {str(e)[:160]})") from None
    out: dict = {}

    def walk(x, prefix=""):
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            out[prefix] = tuple(x.shape)
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))

    walk(state)
    return out


def _looks_like_safetensors(path: Path) -> bool:
    """safetensors framing: 8-byte little-endian header length, then a JSON object (MAGE's model.ckpt)."""
    import struct

    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 0 < n <= path.stat().st_size - 8


def _looks_like_pickle(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(2)
    return len(head) == 2 and head[0] == 0x80 and head[1] <= 5


def resolve_model(spec: str, device: str = "cpu", vqvae: str | None = None):
    """MODEL string -> generator object (see module docstring)."""
    if spec == "static":
        return StaticBaseline()
    if spec == "oracle":
        vq = None
        if vqvae:
            check_checkpoint(Path(vqvae))
            api = _mage_api()
            try:
                vq = api.load_vqvae(vqvae, device)
            except Exception as e:
                raise ModelError(f"--vqvae {vqvae}: {e}") from None
        return OracleBaseline(vq, vqvae)
    p = Path(spec)
    if p.is_dir():
        return FolderModel(p)
    if p.suffix in CKPT_SUFFIXES or p.exists():
        check_checkpoint(p)
        api = _mage_api()
        try:
            model = api.load_model(str(p), device)
        except Exception as e:
            msg = str(e)
            raise ModelError(msg if msg.startswith(str(p)) else f"checkpoint {p}: {msg}") from None
        if not getattr(model, "name", None):
            try:
                model.name = f"MAGE ({p.name})"
            except AttributeError:
                pass
        return model
    if spec.startswith(SHIPPED_PREFIX):
        return _shipped_motion_i2v(spec[len(SHIPPED_PREFIX):], device)
    if ":" in spec:
        return load_callable(spec)
    raise ModelError(f"MODEL {spec!r}: not static, oracle, a checkpoint file, a video folder or module:callable")


SHIPPED_PREFIX = "motion-i2v:"


def _shipped_motion_i2v(dataset: str, device: str):
    api = _mage_api()
    from ti2v.models.motion_i2v.api import shipped_path

    try:
        model = api.load_model(str(shipped_path(dataset)), device)
    except Exception as e:
        raise ModelError(f"MODEL {SHIPPED_PREFIX}{dataset}: {e}") from None
    model.name = f"Motion-I2V-style (shipped, {dataset})"
    return model


def _mage_api():
    try:
        return importlib.import_module("ti2v.models.api")
    except ImportError as e:
        raise ModelError(f"MAGE checkpoints need ti2v.models.api.load_model, which is not importable ({e})") from None
