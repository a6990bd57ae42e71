"""Seconds to generate one 10-frame video at batch 1 with the MMVID-style baseline on CPU, beside MAGE's
(``bench/mage_speed.py``; issue 17).

Two sizes: ``--size preset`` is the ``mmvid`` section of the training preset (sized to train on 2 CPU cores),
``--size mage`` gives it MAGE's paper width (d = 512, 16 heads, FF 2048, 6 axial blocks) so the two samplers are
compared at the same width. Weights are random (timing only). The time covers the whole ``MMVIDModel.generate``
call: VQ-VAE encode of the first frame, ``sample_steps`` mask-predict passes over all 10 x 16 x 16 tokens for
each of ``candidates`` videos, the ranking heads, and the VQ-VAE decode of the 9 new frames.

    .venv/bin/python bench/mmvid_speed.py [--size preset|mage] [--threads 2] [--repeats 3] [--steps N]
        [--candidates K] [--preset mnist-single]

The last line reads ``<seconds> s/video`` (median over repeats, after one warm-up).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: do not spin in OpenMP barriers

import torch  # noqa: E402
from sampling_speed import CAPTION, first_frame, report, time_generate  # noqa: E402

MAGE_WIDTH = {"d_model": 512, "heads": 16, "ff_dim": 2048, "axial_blocks": 6}


def build(preset: str, size: str):
    from ti2v.models.config import load_preset, replace
    from ti2v.models.mmvid.api import MMVIDModel
    from ti2v.models.mmvid.model import MMVID
    from ti2v.models.vocabulary import Vocabulary
    from ti2v.models.vqvae import VQVAE

    p = load_preset(preset)
    vocab = Vocabulary.build()
    vq = VQVAE(p["vqvae"]).eval()
    cfg = replace(p["mmvid"], vocab_size=len(vocab), codebook_size=vq.cfg.codebook_size, tokens_h=vq.cfg.tokens,
                  tokens_w=vq.cfg.tokens, frames=int(p["data"].get("clip_length", 10)),
                  **(MAGE_WIDTH if size == "mage" else {}))
    return MMVIDModel(vq, MMVID(cfg).eval(), vocab), cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=("preset", "mage"), default="preset")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--preset", default="mnist-single")
    ap.add_argument("--steps", type=int, default=None, help="mask-predict passes (default: the config's)")
    ap.add_argument("--candidates", type=int, default=None, help="videos ranked per sample (default: the config's)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, cfg = build(args.preset, args.size)
    steps = args.steps or cfg.sample_steps
    k = args.candidates or cfg.candidates
    params = sum(p.numel() for p in model.net.parameters()) / 1e6
    print(f"MMVID-style ({args.size}) d={cfg.d_model} heads={cfg.heads} ff={cfg.ff_dim} axial_blocks={cfg.axial_blocks} "
          f"joint_every={cfg.joint_every} tokens={cfg.tokens_h}x{cfg.tokens_w} T={cfg.frames} ({params:.1f}M params); "
          f"steps={steps} candidates={k} threads={torch.get_num_threads()}")
    frame, caption = first_frame(model.vqvae.cfg), CAPTION
    times, cpu = time_generate(lambda seed: model.generate(frame, caption, speed=0.5, num_samples=1, seed=seed,
                                                           steps=steps, candidates=k), args.repeats)
    report(times, cpu)


if __name__ == "__main__":
    main()
