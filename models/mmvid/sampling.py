"""Mask-predict sampling of the MMVID-style model (MMVID Sec. 3.3; Ghazvininejad et al. 2019).

Every code of frames 2..T starts as [MASK]. Each of S iterations predicts all masked codes at once, draws them
(greedy, or from the temperature-scaled distribution of a seeded generator), and then re-masks the
ceil(n cos(pi/2 (s+1)/S)) least confident of the n free codes, earlier ones included, so that a code fixed on
poor context can be revised once more is known. A re-predicted code replaces the one it was masked from only when
it is more confident (log-probability), so each code's confidence never falls and the clip's mean confidence
never falls from one iteration to the next. The given frame 1 is never masked or changed (unless a
``first_mask`` asks for "partial image" completion of part of it).

Candidates (MMVID's ranking): several videos are drawn for one input and the one the heads like best is kept,
score = log sigmoid(relevance) + log sigmoid(consistency), both read on the completed clip.
"""

from __future__ import annotations

import math

import torch

from .model import MMVID


@torch.inference_mode()
def mask_predict(model: MMVID, first_tokens: torch.Tensor, text_ids, text_valid, speed, frames: int | None = None,
                 steps: int | None = None, temperature: float | None = None, generator=None,
                 first_mask: torch.Tensor | None = None, trace: list | None = None) -> torch.Tensor:
    """first_tokens [B, h, w] -> codes [B, T, h, w]; ``first_mask`` bool [B, h, w]: codes of frame 1 to complete;
    ``trace`` (a list) receives the mean confidence of the free codes after each iteration, [B] per entry."""
    cfg = model.cfg
    t = frames or cfg.frames
    if not 2 <= t <= cfg.frames:
        raise ValueError(f"frames={t} must be in [2, {cfg.frames}] (the positional table of this model)")
    steps = int(steps or cfg.sample_steps)
    temp = cfg.temperature if temperature is None else float(temperature)
    b, h, w = first_tokens.shape
    dev = first_tokens.device
    tokens = torch.full((b, t, h, w), model.mask_id, dtype=torch.long, device=dev)
    tokens[:, 0] = first_tokens
    free = torch.zeros(b, t, h, w, dtype=torch.bool, device=dev)
    free[:, 1:] = True
    if first_mask is not None:
        free[:, 0] = first_mask.to(dev)
    conf = torch.full((b, t, h, w), -math.inf, device=dev)
    n_free = free.flatten(1).sum(1)
    masked = free.clone()
    for s in range(steps):
        logits, _, _ = model.predict(tokens.masked_fill(masked, model.mask_id), text_ids, text_valid, speed)
        logp = torch.log_softmax(logits.float(), -1)
        if temp <= 0:
            choice = logp.argmax(-1)
        else:
            probs = torch.softmax(logits.float() / temp, -1)
            choice = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator).view(probs.shape[:-1])
        new_conf = logp.gather(-1, choice[..., None])[..., 0]
        better = masked & (new_conf > conf)
        tokens = torch.where(better, choice, tokens)
        conf = torch.where(better, new_conf, conf)
        keep_masked = torch.floor(n_free.float() * math.cos(math.pi / 2 * (s + 1) / steps)).long()
        ranked = conf.masked_fill(~free, math.inf).flatten(1).argsort(1).argsort(1)  # 0 = least confident
        masked = (ranked < keep_masked[:, None]).view_as(free) & free
        if trace is not None:
            trace.append(torch.stack([conf[i][free[i]].mean() for i in range(b)]).cpu())
    return tokens


@torch.inference_mode()
def head_scores(model: MMVID, tokens: torch.Tensor, text_ids, text_valid, speed) -> torch.Tensor:
    """log sigmoid(relevance) + log sigmoid(consistency) of completed clips [B, T, h, w] -> [B]."""
    _, rel, cons = model.predict(tokens, text_ids, text_valid, speed)
    return torch.nn.functional.logsigmoid(rel.float()) + torch.nn.functional.logsigmoid(cons.float())
