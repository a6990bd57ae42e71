"""Frame-by-frame sampling of MAGE (Sec. 3.2: "z^_i is sent back to generate z^_{i+1}").

The motion anchor is computed once; then the first step runs [M~, z_1] through the axial transformer and
every later step runs only the newest frame (h*w tokens) against the cached time-attention keys/values of all
earlier frames (see axial_transformer.py). All h*w tokens of a frame are drawn in one shot: greedy (argmax),
temperature, or top-k sampling from a seeded torch.Generator. ``use_cache=False`` re-runs the whole sequence
each step (the original release's way) and serves as the reference in tests.
"""

from __future__ import annotations

import torch

from .mage import MAGE


def pick_tokens(logits: torch.Tensor, strategy: str = "greedy", temperature: float = 1.0,
                top_k: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """logits [..., K] -> token ids [...]."""
    if strategy == "greedy" or (strategy == "temperature" and temperature <= 0):
        return logits.argmax(-1)
    if strategy not in ("temperature", "top_k"):
        raise ValueError(f"unknown sampling strategy {strategy!r} (greedy, temperature, top_k)")
    logits = logits.float() / max(temperature, 1e-6)
    if strategy == "top_k":
        k = min(int(top_k or 1), logits.shape[-1])
        kth = logits.topk(k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    flat = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(flat, 1, generator=generator).view(probs.shape[:-1])


@torch.inference_mode()
def sample_tokens(model: MAGE, first_tokens: torch.Tensor, text_ids: torch.Tensor, text_valid: torch.Tensor,
                  speed: torch.Tensor, frames: int | None = None, strategy: str = "greedy",
                  temperature: float = 1.0, top_k: int | None = None, generator: torch.Generator | None = None,
                  r: torch.Tensor | None = None, use_cache: bool = True) -> torch.Tensor:
    """first_tokens [B, h, w] -> tokens [B, T, h, w] of the whole clip (frame 0 = the given tokens)."""
    cfg = model.cfg
    frames = frames or cfg.frames
    if not 2 <= frames <= cfg.frames:
        raise ValueError(f"frames={frames} must be in [2, {cfg.frames}] (the positional table of this model)")
    m, _, _ = model.motion_anchor(first_tokens, text_ids, text_valid, speed, r=r, generator=generator)
    out = [first_tokens]

    def pick(h):
        return pick_tokens(model.head(h), strategy, temperature, top_k, generator)

    if use_cache:
        caches = model.transformer.new_caches(first_tokens.shape[0], m.device, m.dtype)
        x = torch.stack([m, model.tok_emb(first_tokens)], dim=1)
        h = model.transformer(x, start=0, caches=caches, drop_anchor=True)[:, -1]
        for i in range(1, frames):
            out.append(pick(h))
            if i == frames - 1:
                break
            h = model.transformer(model.tok_emb(out[-1])[:, None], start=i + 1, caches=caches)[:, -1]
    else:
        for i in range(1, frames):
            x = torch.cat([m[:, None], model.tok_emb(torch.stack(out, dim=1))], dim=1)
            out.append(pick(model.transformer(x)[:, -1]))
    return torch.stack(out, dim=1)
