"""Loading and sampling the MMVID-style baseline; the same ``load_model`` / ``generate`` protocol as MAGE.

    from ti2v.models.api import load_model
    model = load_model("runs/ms/mmvid/model.ckpt")                  # dispatches on the checkpoint's config
    video = model.generate(first_frame, "the digit 3 is moving up then down .", speed=0.5, num_samples=2, seed=0,
                           steps=None, temperature=None, candidates=None)   # None: the model's config
    video.shape   # (num_samples, T, H, W, C) uint8; frame 0 is the given frame

``model.ckpt`` holds the VQ-VAE (the tokenizer it was trained on) and the transformer. Each sample draws its
``candidates`` videos from the seeded generator and keeps the best-ranked one (sampling.py); temperature 0 is
greedy (then one candidate is drawn: they would all be the same).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..checkpoint import CheckpointError, prefixed, save_checkpoint, with_prefix
from ..config import MMVIDConfig, from_dict, to_dict
from ..vocabulary import Vocabulary
from ..vqvae import VQVAE
from .model import MMVID
from .sampling import head_scores, mask_predict


def save_mmvid(path: str | Path, vqvae: VQVAE, model: MMVID, vocab: Vocabulary, extra: dict | None = None) -> Path:
    tensors = {**with_prefix(vqvae.state_dict(), "vqvae"), **with_prefix(model.state_dict(), "mmvid")}
    meta = {"kind": "model", "config": {"vqvae": to_dict(vqvae.cfg), "mmvid": to_dict(model.cfg)},
            "vocabulary": vocab.to_list(), **(extra or {})}
    return save_checkpoint(path, tensors, meta)


def build(tensors: dict, info: dict, path, device) -> "MMVIDModel":
    """The model of a loaded ``model.ckpt`` whose config names ``mmvid``."""
    from ..api import _build_vqvae, _load_state

    vq = _build_vqvae(tensors, info, path, device)
    try:
        cfg = from_dict(MMVIDConfig, info["config"]["mmvid"])
        vocab = Vocabulary.from_list(info["vocabulary"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: no usable MMVID config or vocabulary ({exc})") from None
    net = MMVID(cfg)
    _load_state(net, prefixed(tensors, "mmvid"), path, "MMVID")
    return MMVIDModel(vq, net.to(device).eval(), vocab, info, name=f"MMVID-style ({Path(path).name})")


class MMVIDModel:
    """A loaded VQ-VAE + MMVID-style transformer + vocabulary; see the module docstring."""

    def __init__(self, vqvae: VQVAE, net: MMVID, vocab: Vocabulary, info: dict | None = None,
                 name: str = "MMVID-style"):
        self.vqvae, self.net, self.vocab, self.info, self.name = vqvae, net, vocab, info or {}, name
        self.config = net.cfg

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @torch.inference_mode()
    def generate_batch(self, first_frames: Sequence[Any], captions: Sequence[str], speeds, seed: int = 0,
                       frames: int | None = None, steps: int | None = None, temperature: float | None = None,
                       candidates: int | None = None, decode: bool = True) -> np.ndarray:
        """B inputs -> uint8 [B, T, H, W, C] (or codes [B, T, h, w] when decode=False)."""
        from ..api import batch_inputs

        vcfg, cfg = self.vqvae.cfg, self.config
        x, speed = batch_inputs(first_frames, captions, speeds, vcfg.in_channels, vcfg.resolution, self.device)
        temp = cfg.temperature if temperature is None else float(temperature)
        k = 1 if temp <= 0 else int(candidates or cfg.candidates)
        if k < 1:
            raise ValueError("candidates must be >= 1")
        ids, valid = self.vocab.batch(list(captions), cfg.max_text_len)
        ids, valid = ids.to(self.device), valid.to(self.device)
        gen = torch.Generator(device=self.device).manual_seed(int(seed))
        z1 = self.vqvae.encode(x)
        b = len(x)
        rep = torch.arange(b, device=self.device).repeat_interleave(k)  # candidates of input i are rows i*k..
        codes = mask_predict(self.net, z1[rep], ids[rep], valid[rep], speed[rep], frames=frames, steps=steps,
                             temperature=temp, generator=gen)
        if k > 1:
            score = head_scores(self.net, codes, ids[rep], valid[rep], speed[rep]).view(b, k)
            codes = codes.view(b, k, *codes.shape[1:])[torch.arange(b, device=self.device), score.argmax(1)]
        if not decode:
            return codes.cpu().numpy()
        t, h, w = codes.shape[1:]
        rest = self.vqvae.decode(codes[:, 1:].reshape(-1, h, w)).view(b, t - 1, *x.shape[1:])
        video = torch.cat([x[:, None], rest], dim=1)  # frame 0 = the given frame
        return video.permute(0, 1, 3, 4, 2).contiguous().cpu().numpy()

    def generate(self, first_frame: Any, caption: str, speed: float, num_samples: int = 1, seed: int = 0,
                 frames: int | None = None, steps: int | None = None, temperature: float | None = None,
                 candidates: int | None = None) -> np.ndarray:
        """One input, ``num_samples`` videos -> uint8 [num_samples, T, H, W, C]."""
        if num_samples < 1:
            raise ValueError("num_samples must be >= 1")
        n = num_samples
        return self.generate_batch([first_frame] * n, [caption] * n, [float(speed)] * n, seed=seed, frames=frames,
                                   steps=steps, temperature=temperature, candidates=candidates)
