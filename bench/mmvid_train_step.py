"""Training step time of the MMVID-style model by size: is a size trainable in a CPU budget?

One step = the masked-token pass and the heads' pass (relevance / consistency on fully visible clips, model.py),
backward and an AdamW update, on random codes (the VQ-VAE's encoding is not included). The sizes are
``TOKENSxD_MODEL[xFF_DIM]`` strings: 16x128x512 is the mnist-single preset on the preset's VQ-VAE (16x16 codes per
64 px frame); 8x... is a VQ-VAE with ``downsample 8``.

    .venv/bin/python bench/mmvid_train_step.py [--sizes 16x128x512,8x128x512,8x64x256] [--batch 16] [--repeats 3]

One line per size: ``tokens, d_model, ff_dim, batch, s/step (median), clips/s``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: do not spin in OpenMP barriers

import torch  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="16x128x512,8x128x512,8x64x256")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--preset", default="mnist-single")
    args = ap.parse_args()
    from ti2v.models.config import load_preset, replace
    from ti2v.models.mmvid.model import MMVID

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base = load_preset(args.preset)["mmvid"]
    print("tokens | d_model | ff_dim | batch | s/step | clips/s", flush=True)
    for size in args.sizes.split(","):
        parts = [int(x) for x in size.split("x")]
        tokens, d = parts[0], parts[1]
        ff = parts[2] if len(parts) > 2 else 4 * d
        cfg = replace(base, vocab_size=64, tokens_h=tokens, tokens_w=tokens, d_model=d, ff_dim=ff)
        net = MMVID(cfg).train()
        opt = torch.optim.AdamW(net.parameters(), lr=5e-4)
        b = args.batch
        codes = torch.randint(0, cfg.codebook_size, (b, cfg.frames, tokens, tokens))
        text = torch.randint(1, 64, (b, 12))
        valid = torch.ones(b, 12, dtype=torch.bool)
        eta = torch.rand(b)
        times = []
        for _ in range(args.repeats + 1):  # the first step warms up and is not counted
            t0 = time.perf_counter()
            net(codes, text, valid, eta)["loss"].backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - t0)
        s = statistics.median(times[1:])
        print(f"{tokens} | {d} | {ff} | {b} | {s:.2f} | {b / s:.2f}", flush=True)


if __name__ == "__main__":
    main()
