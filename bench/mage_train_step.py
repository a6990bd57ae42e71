"""Training step time of the paper-size MAGE (d = 512, 6 axial blocks, 16x16 tokens, T = 10) at batch 8.

One step = forward (Eq. 7 loss) + backward + Adam update on token clips (the frozen VQ-VAE's encoding is not
included: `ti2v-train mage` caches tokens per raw frame after the first epoch). On CUDA the step runs under bf16
autocast as in training, and the script also reports generation throughput (videos/s, cached greedy sampling of
9 frames, tokens only) at ``--gen-batch`` (default 64).

    .venv/bin/python bench/mage_train_step.py [--device cpu|cuda] [--batch 8] [--repeats 3] [--threads 2]

The last line reads ``<seconds> s/step (<clips/s> clips/s)``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: do not spin in OpenMP barriers

import torch  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gen-batch", type=int, default=64, help="generation throughput batch (CUDA only)")
    ap.add_argument("--preset", default="mnist-single")
    args = ap.parse_args()
    from ti2v.models.config import load_preset, replace
    from ti2v.models.mage import MAGE
    from ti2v.models.sampling import sample_tokens

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    p = load_preset(args.preset)
    cfg = replace(p["mage"], vocab_size=64, codebook_size=p["vqvae"].codebook_size, tokens_h=p["vqvae"].tokens,
                  tokens_w=p["vqvae"].tokens)
    model = MAGE(cfg).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=5e-5, betas=(0.9, 0.98), eps=1e-6)
    b = args.batch
    tokens = torch.randint(0, cfg.codebook_size, (b, cfg.frames, cfg.tokens_h, cfg.tokens_w), device=device)
    ids = torch.randint(2, 64, (b, 14), device=device)
    valid = torch.ones_like(ids, dtype=torch.bool)
    speed = torch.rand(b, device=device)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    print(f"MAGE d={cfg.d_model} heads={cfg.heads} axial_blocks={cfg.axial_blocks} tokens={cfg.tokens_h}x{cfg.tokens_w} "
          f"T={cfg.frames} batch={b} device={device} threads={torch.get_num_threads()} "
          f"({sum(q.numel() for q in model.parameters()) / 1e6:.1f}M params)")
    times = []
    for i in range(args.repeats + 1):
        sync(device)
        t0 = time.perf_counter()
        with amp:
            loss = model(tokens, ids, valid, speed)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync(device)
        dt = time.perf_counter() - t0
        print(f"step {i}{' (warm-up)' if i == 0 else ''}: {dt:.3f} s  loss {float(loss):.3f}")
        if i:
            times.append(dt)
    med = statistics.median(times)
    if device.type == "cuda":
        model.eval()
        g = args.gen_batch
        z1 = torch.randint(0, cfg.codebook_size, (g, cfg.tokens_h, cfg.tokens_w), device=device)
        gi, gv, gs = ids[:1].expand(g, -1), valid[:1].expand(g, -1), torch.rand(g, device=device)
        with amp:
            sample_tokens(model, z1, gi, gv, gs)
            sync(device)
            t0 = time.perf_counter()
            sample_tokens(model, z1, gi, gv, gs)
            sync(device)
        dt = time.perf_counter() - t0
        print(f"generation: batch {g}: {dt:.3f} s -> {g / dt:.1f} videos/s (tokens, bf16)")
    print(f"{med:.3f} s/step ({b / med:.2f} clips/s)")


if __name__ == "__main__":
    main()
