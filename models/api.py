"""Python API of the reference MAGE: load one checkpoint file, generate videos.

    from ti2v.models.api import load_model

    model = load_model("runs/mnist-single/mage/model.ckpt", device="cpu")   # or "cuda"
    video = model.generate(first_frame,            # uint8 [C, H, W] or [H, W, C] (or [H, W] grayscale),
                                                   # numpy array or torch tensor, at the model's resolution
                           "the digit 3 is moving up then down .",
                           speed=0.5,              # eta in [0, 1] (docs/DATASETS.md, Speed)
                           num_samples=1,          # videos drawn for this input
                           seed=0,                 # same seed -> same videos
                           frames=10)              # T, at most the model's T
    video.shape, video.dtype   # (num_samples, T, H, W, C), uint8; frame 0 is the given first frame

Sampling is greedy by default (as in the paper's release); ``strategy="temperature"`` (``temperature=``) and
``strategy="top_k"`` (``top_k=``, ``temperature=``) draw tokens at random from the seeded generator. In
stochastic mode (a model trained with the randomness module, Eqs. 4-5) each sample draws its own r ~ N(0, I),
so samples differ even when greedy. :meth:`MAGEModel.generate_batch` takes a batch of different inputs.

``model.ckpt`` is one safetensors file holding config, vocabulary, VQ-VAE and generator (see checkpoint.py);
nothing is unpickled when it is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .checkpoint import CheckpointError, load_checkpoint, prefixed, save_checkpoint, with_prefix
from .config import MAGEConfig, VQVAEConfig, from_dict, to_dict
from .mage import MAGE
from .sampling import sample_tokens
from .vocabulary import Vocabulary
from .vqvae import VQVAE

__all__ = ["load_model", "load_vqvae", "save_model", "save_vqvae", "MAGEModel", "CheckpointError"]


def _load_state(module: torch.nn.Module, state: dict[str, torch.Tensor], path, what: str) -> None:
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(f"{path}: {what} weights do not match its config ({first[1].strip() if len(first) > 1 else exc})") from None
    if missing or unexpected:
        raise CheckpointError(f"{path}: {what} weights do not match its config "
                              f"(missing {list(missing)[:5]}, unexpected {list(unexpected)[:5]})")


def save_vqvae(path: str | Path, vqvae: VQVAE, extra: dict | None = None) -> Path:
    meta = {"kind": "vqvae", "config": {"vqvae": to_dict(vqvae.cfg)}, **(extra or {})}
    return save_checkpoint(path, with_prefix(vqvae.state_dict(), "vqvae"), meta)


def save_model(path: str | Path, vqvae: VQVAE, mage: MAGE, vocab: Vocabulary, extra: dict | None = None) -> Path:
    tensors = {**with_prefix(vqvae.state_dict(), "vqvae"), **with_prefix(mage.state_dict(), "mage")}
    meta = {"kind": "model", "config": {"vqvae": to_dict(vqvae.cfg), "mage": to_dict(mage.cfg)},
            "vocabulary": vocab.to_list(), **(extra or {})}
    return save_checkpoint(path, tensors, meta)


def _build_vqvae(tensors, info, path, device) -> VQVAE:
    try:
        cfg = from_dict(VQVAEConfig, info["config"]["vqvae"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: no usable VQ-VAE config ({exc})") from None
    vq = VQVAE(cfg)
    _load_state(vq, prefixed(tensors, "vqvae"), path, "VQ-VAE")
    return vq.to(device).eval()


def load_vqvae(path: str | Path, device: str | torch.device = "cpu") -> VQVAE:
    """The VQ-VAE of a ``vqvae.ckpt`` or of a full ``model.ckpt``."""
    tensors, info = load_checkpoint(path)
    return _build_vqvae(tensors, info, path, device)


def load_model(path: str | Path, device: str | torch.device = "cpu"):
    """Load ``model.ckpt`` onto ``device``: a MAGE (config + vocabulary + VQ-VAE + generator) -> MAGEModel, or a
    Motion-I2V-style baseline -> ``motion_i2v.api.MotionI2VModel``, an MMVID-style one -> ``mmvid.api.MMVIDModel``;
    all have the same ``generate``."""
    tensors, info = load_checkpoint(path)
    if info.get("kind") == "model" and "motion_i2v" in info.get("config", {}):
        from .motion_i2v.api import build

        return build(tensors, info, path, device)
    if info.get("kind") == "model" and "mmvid" in info.get("config", {}):
        from .mmvid.api import build as build_mmvid

        return build_mmvid(tensors, info, path, device)
    if info.get("kind") == "train":
        raise CheckpointError(f"{path}: a training checkpoint (weights and optimizer state, to resume a run); "
                              f"load or evaluate the model.ckpt beside it ({Path(path).with_name('model.ckpt')})")
    if info.get("kind") != "model" or "mage" not in info.get("config", {}):
        raise CheckpointError(f"{path}: a {info.get('kind')!r} checkpoint, not a full model "
                              "(train the generator with `ti2v-train mage`)")
    vq = _build_vqvae(tensors, info, path, device)
    try:
        cfg = from_dict(MAGEConfig, info["config"]["mage"])
        vocab = Vocabulary.from_list(info["vocabulary"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: no usable generator config or vocabulary ({exc})") from None
    mage = MAGE(cfg)
    _load_state(mage, prefixed(tensors, "mage"), path, "generator")
    return MAGEModel(vq, mage.to(device).eval(), vocab, info)


def _frame_to_chw(frame: Any, channels: int) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(frame)) if not torch.is_tensor(frame) else frame
    if x.dtype != torch.uint8:
        raise TypeError(f"first_frame must be uint8, got {x.dtype}")
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"first_frame must be [C, H, W], [H, W, C] or [H, W]; got shape {tuple(x.shape)}")
    if x.shape[0] == channels and x.shape[-1] != channels:
        return x
    if x.shape[-1] == channels:
        return x.permute(2, 0, 1)
    if x.shape[0] == channels:
        return x
    raise ValueError(f"first_frame shape {tuple(x.shape)} does not have {channels} channel(s)")


def batch_inputs(first_frames: Sequence[Any], captions: Sequence[str], speeds, channels: int, resolution: int,
                 device) -> tuple[torch.Tensor, torch.Tensor]:
    """The checked inputs every generator takes: B first frames -> uint8 [B, C, H, W] on ``device``, one
    caption each, speeds -> float [B] in [0, 1] (one speed is used for all)."""
    x = torch.stack([_frame_to_chw(f, channels) for f in first_frames]).to(device)
    if x.shape[-2:] != (resolution, resolution):
        raise ValueError(f"first frames are {tuple(x.shape[-2:])}, the model takes {resolution}x{resolution}")
    if len(captions) != len(x):
        raise ValueError("one caption per first frame")
    speed = torch.as_tensor(speeds, dtype=torch.float32).reshape(-1).to(device)
    if speed.numel() == 1:
        speed = speed.expand(len(x))
    if ((speed < 0) | (speed > 1)).any():
        raise ValueError("speed eta must be in [0, 1]")
    return x, speed


class MAGEModel:
    """A loaded VQ-VAE + MAGE + vocabulary; see the module docstring."""

    def __init__(self, vqvae: VQVAE, mage: MAGE, vocab: Vocabulary, info: dict | None = None):
        self.vqvae, self.mage, self.vocab, self.info = vqvae, mage, vocab, info or {}
        self.config = mage.cfg

    def quantize_int8(self) -> "MAGEModel":
        """CPU only, opt-in: int8 dynamic quantisation of the generator's linear layers (about 1.5x faster sampling on
        AVX2; tokens may differ slightly from fp32). Returns self."""
        import warnings

        if self.device.type != "cpu":
            raise RuntimeError("int8 dynamic quantisation runs on the CPU only")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.ao.quantization import quantize_dynamic

            # the axial transformer does the per-frame work; the text encoder keeps its fused fast path
            self.mage.transformer = quantize_dynamic(self.mage.transformer, {torch.nn.Linear}, dtype=torch.qint8)
        return self

    @property
    def device(self) -> torch.device:
        return next(self.vqvae.parameters()).device

    @property
    def frames(self) -> int:
        return self.config.frames

    @torch.inference_mode()
    def generate_batch(self, first_frames: Sequence[Any] | torch.Tensor, captions: Sequence[str],
                       speeds: Sequence[float] | torch.Tensor, seed: int = 0, frames: int | None = None,
                       strategy: str = "greedy", temperature: float = 1.0, top_k: int | None = None,
                       decode: bool = True) -> np.ndarray:
        """B different inputs -> uint8 [B, T, H, W, C] (or token ids [B, T, h, w] when decode=False)."""
        vcfg = self.vqvae.cfg
        x, speed = batch_inputs(first_frames, captions, speeds, vcfg.in_channels, vcfg.resolution, self.device)
        ids, valid = self.vocab.batch(list(captions), self.config.max_text_len)
        gen = torch.Generator(device=self.device).manual_seed(int(seed))
        z1 = self.vqvae.encode(x)
        tokens = sample_tokens(self.mage, z1, ids.to(self.device), valid.to(self.device), speed,
                               frames=frames, strategy=strategy, temperature=temperature, top_k=top_k,
                               generator=gen)
        if not decode:
            return tokens.cpu().numpy()
        b, t, h, w = tokens.shape
        rest = self.vqvae.decode(tokens[:, 1:].reshape(-1, h, w)).view(b, t - 1, *x.shape[1:])
        video = torch.cat([x[:, None], rest], dim=1)  # frame 0 = the given frame
        return video.permute(0, 1, 3, 4, 2).contiguous().cpu().numpy()

    def generate(self, first_frame: Any, caption: str, speed: float, num_samples: int = 1, seed: int = 0,
                 frames: int | None = None, strategy: str = "greedy", temperature: float = 1.0,
                 top_k: int | None = None) -> np.ndarray:
        """One input, ``num_samples`` videos -> uint8 numpy [num_samples, T, H, W, C]."""
        if num_samples < 1:
            raise ValueError("num_samples must be >= 1")
        frame = _frame_to_chw(first_frame, self.vqvae.cfg.in_channels)
        return self.generate_batch([frame] * num_samples, [caption] * num_samples, [float(speed)] * num_samples,
                                   seed=seed, frames=frames, strategy=strategy, temperature=temperature,
                                   top_k=top_k)
