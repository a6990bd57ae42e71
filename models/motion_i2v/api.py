"""Loading and sampling the Motion-I2V-style baseline; the same ``load_model`` / ``generate`` protocol as MAGE.

    from ti2v.models.api import load_model
    model = load_model("runs/ms/motion-i2v/model.ckpt")          # dispatches on the checkpoint's config
    video = model.generate(first_frame, "the digit 3 is moving up then down .", speed=0.5, num_samples=2, seed=0,
                           trajectories=None,                      # float [P, T, 2] pixel positions per frame
                           region=None)                            # bool [H, W]: the part that may move
    video.shape   # (num_samples, T, H, W, C) uint8; frame 0 is the given frame

Each sample draws its own noise from the seeded generator, so samples differ and the same seed gives the same
videos. Shipped checkpoints (``motion-i2v:<dataset>``, see :data:`SHIPPED`) are checked against their pinned
sha256 before they are loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..checkpoint import CheckpointError, prefixed, save_checkpoint, with_prefix
from ..config import MotionI2VConfig, from_dict, to_dict
from ..vocabulary import Vocabulary
from .hints import hint_maps, region_map
from .model import MotionI2V

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# dataset -> sha256 of weights/<dataset>.ckpt, made by the command in docs/LEADERBOARD.md
SHIPPED: dict[str, str] = {"mnist-single": "db339d6dec5c314a6ec43d6ec877cefb3b40b335c33af58ea44111f5d58d0ff3"}


def save_motion_i2v(path: str | Path, model: MotionI2V, vocab: Vocabulary, extra: dict | None = None) -> Path:
    meta = {"kind": "model", "config": {"motion_i2v": to_dict(model.cfg)}, "vocabulary": vocab.to_list(),
            **(extra or {})}
    return save_checkpoint(path, with_prefix(model.state_dict(), "motion_i2v"), meta)


def build(tensors: dict, info: dict, path, device) -> "MotionI2VModel":
    """The model of a loaded ``model.ckpt`` whose config names ``motion_i2v``."""
    from ..api import _load_state

    try:
        cfg = from_dict(MotionI2VConfig, info["config"]["motion_i2v"])
        vocab = Vocabulary.from_list(info["vocabulary"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: no usable Motion-I2V config or vocabulary ({exc})") from None
    net = MotionI2V(cfg)
    _load_state(net, prefixed(tensors, "motion_i2v"), path, "Motion-I2V")
    return MotionI2VModel(net.to(device).eval(), vocab, info, name=f"Motion-I2V-style ({Path(path).name})")


def shipped_path(dataset: str) -> Path:
    """weights/<dataset>.ckpt after its sha256 matched the pin; CheckpointError otherwise."""
    from ti2v.benchmark.weights import sha256_file

    if dataset not in SHIPPED:
        have = ", ".join(sorted(SHIPPED)) or "none yet"
        raise CheckpointError(f"no shipped Motion-I2V-style checkpoint for {dataset!r} (shipped: {have})")
    path = WEIGHTS_DIR / f"{dataset}.ckpt"
    if not path.is_file():
        raise CheckpointError(f"{path}: the shipped checkpoint is missing from this installation")
    digest = sha256_file(path)
    if digest != SHIPPED[dataset]:
        raise CheckpointError(f"{path}: sha256 {digest} does not match the pinned {SHIPPED[dataset]}")
    return path


class MotionI2VModel:
    """A loaded Motion-I2V-style generator; see the module docstring."""

    def __init__(self, net: MotionI2V, vocab: Vocabulary, info: dict | None = None, name: str = "Motion-I2V-style"):
        self.net, self.vocab, self.info, self.name = net, vocab, info or {}, name
        self.config = net.cfg

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def frames(self) -> int:
        return self.config.frames

    def _conditions(self, trajectories, region) -> torch.Tensor:
        cfg = self.config
        return torch.cat([hint_maps(trajectories, cfg.frames, cfg.resolution, cfg.field_down, cfg.field_scale),
                          region_map(region, cfg.resolution, cfg.field_down)])

    @torch.inference_mode()
    def generate_batch(self, first_frames: Sequence[Any], captions: Sequence[str], speeds, seed: int = 0,
                       frames: int | None = None, trajectories: Sequence | None = None,
                       regions: Sequence | None = None, return_field: bool = False):
        """B inputs -> uint8 [B, T, H, W, C] (and the predicted field [B, T-1, R, R, 2] px when asked)."""
        from ..api import batch_inputs

        cfg = self.config
        t = frames or cfg.frames
        if not 2 <= t <= cfg.frames:
            raise ValueError(f"frames={t}: this model generates 2..{cfg.frames} frames")
        x, speed = batch_inputs(first_frames, captions, speeds, cfg.in_channels, cfg.resolution, self.device)
        trajectories = list(trajectories) if trajectories is not None else [None] * len(x)
        regions = list(regions) if regions is not None else [None] * len(x)
        cond = torch.stack([self._conditions(tr, rg) for tr, rg in zip(trajectories, regions)]).to(self.device)
        ids, valid = self.vocab.batch(list(captions), cfg.max_text_len)
        gen = torch.Generator(device=self.device).manual_seed(int(seed))
        frame1 = x.float() / 255.0
        out, field, _ = self.net.generate(frame1, ids.to(self.device), valid.to(self.device), speed, cond, gen)
        video = torch.cat([x[:, None], (out * 255).round().clamp(0, 255).to(torch.uint8)], 1)[:, :t]
        video = video.permute(0, 1, 3, 4, 2).contiguous().cpu().numpy()
        return (video, field[:, : t - 1].cpu().numpy()) if return_field else video

    def generate(self, first_frame: Any, caption: str, speed: float, num_samples: int = 1, seed: int = 0,
                 frames: int | None = None, trajectories=None, region=None) -> np.ndarray:
        """One input, ``num_samples`` videos -> uint8 [num_samples, T, H, W, C]."""
        if num_samples < 1:
            raise ValueError("num_samples must be >= 1")
        n = num_samples
        return self.generate_batch([first_frame] * n, [caption] * n, [float(speed)] * n, seed=seed, frames=frames,
                                   trajectories=None if trajectories is None else [trajectories] * n,
                                   regions=None if region is None else [region] * n)
