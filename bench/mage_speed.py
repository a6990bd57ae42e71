"""Seconds to generate one 10-frame video at batch 1 with the paper-size MAGE on CPU (issue #4 figure).

Paper-size model: d = 512, 16 heads, FF 2048, 6 axial blocks (T, H, W cycling), 2-layer text encoder, 16x16 tokens,
codebook 512 x 256, 64x64 grayscale VQ-VAE (the mnist-single preset). Weights are random (timing only). The time
covers the whole ``MAGEModel.generate`` call: VQ-VAE encode of the first frame, text encoder and motion anchor,
9 cached frame steps, VQ-VAE decode of the 9 new frames. The original release (full recompute per frame) takes
14-22 s on 2 CPU cores; ``--no-cache`` times that way of sampling with this model.

    .venv/bin/python bench/mage_speed.py [--threads 2] [--repeats 5] [--preset mnist-single] [--no-cache]

The last line reads ``<seconds> s/video`` (median over repeats, after one warm-up).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: do not spin in OpenMP barriers

import torch  # noqa: E402
from sampling_speed import CAPTION, first_frame, report, time_generate  # noqa: E402


def build(preset: str):
    from ti2v.models.api import MAGEModel
    from ti2v.models.config import load_preset, replace
    from ti2v.models.mage import MAGE
    from ti2v.models.vocabulary import Vocabulary
    from ti2v.models.vqvae import VQVAE

    p = load_preset(preset)
    vocab = Vocabulary.build()
    vq = VQVAE(p["vqvae"]).eval()
    cfg = replace(p["mage"], vocab_size=len(vocab), codebook_size=vq.cfg.codebook_size, tokens_h=vq.cfg.tokens,
                  tokens_w=vq.cfg.tokens, frames=int(p["data"].get("clip_length", 10)))
    return MAGEModel(vq, MAGE(cfg).eval(), vocab), cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--preset", default="mnist-single")
    ap.add_argument("--no-cache", action="store_true", help="re-run the whole sequence per frame (release-style)")
    ap.add_argument("--int8", action="store_true", help="int8 dynamic quantisation of the generator's linear layers")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, cfg = build(args.preset)
    if args.int8:
        model.quantize_int8()
    params = sum(p.numel() for p in model.mage.parameters()) / 1e6
    print(f"MAGE d={cfg.d_model} heads={cfg.heads} ff={cfg.ff_dim} axial_blocks={cfg.axial_blocks} "
          f"tokens={cfg.tokens_h}x{cfg.tokens_w} codebook={cfg.codebook_size} T={cfg.frames} ({params:.1f}M params); "
          f"threads={torch.get_num_threads()} cache={not args.no_cache} int8={args.int8}")
    frame, caption = first_frame(model.vqvae.cfg), CAPTION
    if args.no_cache:
        import ti2v.models.api as api
        from ti2v.models import sampling

        orig = sampling.sample_tokens
        api.sample_tokens = lambda *a, **k: orig(*a, **{**k, "use_cache": False})
    times, cpu = time_generate(lambda seed: model.generate(frame, caption, speed=0.5, num_samples=1, seed=seed),
                               args.repeats)
    # where the time goes (one run)
    with torch.inference_mode():
        x = torch.from_numpy(frame).permute(2, 0, 1)[None]
        t0 = time.perf_counter()
        z1 = model.vqvae.encode(x)
        t1 = time.perf_counter()
        from ti2v.models.sampling import sample_tokens

        ids, valid = model.vocab.batch([caption], cfg.max_text_len)
        tok = sample_tokens(model.mage, z1, ids, valid, torch.tensor([0.5]), use_cache=not args.no_cache)
        t2 = time.perf_counter()
        model.vqvae.decode(tok[0, 1:])
        t3 = time.perf_counter()
    print(f"breakdown: encode {t1 - t0:.3f} s, generator {t2 - t1:.3f} s, decode 9 frames {t3 - t2:.3f} s")
    report(times, cpu)


if __name__ == "__main__":
    main()
