"""The MMVID-style generator: one bidirectional transformer over [text tokens, control tokens, video tokens],
trained by masked-token prediction (Han et al., "Show Me What and Tell Me How", CVPR 2022, Sec. 3).

Tokens are the shared VQ-VAE's codes z_1..z_T (the tokenizer MAGE uses, stage 1 of ``ti2v-train``), so the
leaderboard compares generators, not tokenizers. The sequence is

    global tokens   g = [REL, VID, phi(eta), e_s]   e_s = TextEncoder(s), the L caption words (shared with MAGE)
    control tokens  z_1, the first frame's codes (given; "partial image" control masks a rectangle of them)
    video tokens    z_2..z_T, each either a code or [MASK]

Layout: N = T*h*w video tokens are too many for full attention on two CPU cores, so attention is factorised.
Axial blocks (the shared ``AxialBlock``; along time bidirectional, unlike MAGE's causal one) mix the video grid
along one axis each; after every ``joint_every`` of them a joint block lets every video token attend to the
global tokens and the global tokens attend to all N + G tokens. Every token can thus reach every other one in
two hops, at O(N (T + h + w + G)) cost.

Training (Sec. 3.2, masked-token prediction):
    u ~ U(0, 1),  gamma = cos(pi u / 2)                       mask ratio (cosine schedule)
    M = ceil(gamma * n) random positions among the n codes of frames 2..T   (+ with probability partial_prob
        a random rectangle of frame 1's codes)
    L_mask = - mean over masked positions of log p(z | unmasked codes, s, eta)
Heads (Sec. 3.3): the REL output gives the relevance r = P(s describes z), the VID output the video consistency
c = P(z is one real clip); both are read on fully visible clips, which is what sampling ranks:
    relevance   positives: the clip and its caption; negatives: the clip and another clip's (different) caption
    consistency positives: real clips; negatives: clips with some of frames 2..T taken from another clip
    L = L_mask + rel_weight BCE(r) + cons_weight BCE(c)
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..axial_transformer import AxialBlock
from ..conditions import SpeedEmbedding
from ..config import MMVIDConfig
from ..text_encoder import TextEncoder

GLOBAL_SLOTS = 3  # REL, VID, speed; the caption's words follow


class JointBlock(nn.Module):
    """Video tokens attend to the global tokens; the global tokens attend to all tokens; then feed-forward."""

    def __init__(self, cfg: MMVIDConfig):
        super().__init__()
        d = cfg.d_model
        self.norm_v, self.norm_g = nn.LayerNorm(d), nn.LayerNorm(d)
        self.video_from_global = nn.MultiheadAttention(d, cfg.heads, dropout=cfg.dropout, batch_first=True)
        self.global_from_all = nn.MultiheadAttention(d, cfg.heads, dropout=cfg.dropout, batch_first=True)
        self.norm_fv, self.norm_fg = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ffn_v = nn.Sequential(nn.Linear(d, cfg.ff_dim), nn.GELU(), nn.Linear(cfg.ff_dim, d))
        self.ffn_g = nn.Sequential(nn.Linear(d, cfg.ff_dim), nn.GELU(), nn.Linear(cfg.ff_dim, d))

    def forward(self, v: torch.Tensor, g: torch.Tensor, g_pad: torch.Tensor):
        """v [B, N, d], g [B, G, d], g_pad [B, G] True where a global token is padding."""
        nv, ng = self.norm_v(v), self.norm_g(g)
        v = v + self.video_from_global(nv, ng, ng, key_padding_mask=g_pad, need_weights=False)[0]
        keys = torch.cat([ng, nv], 1)
        pad = torch.cat([g_pad, g_pad.new_zeros(v.shape[:2])], 1)
        g = g + self.global_from_all(ng, keys, keys, key_padding_mask=pad, need_weights=False)[0]
        return v + self.ffn_v(self.norm_fv(v)), g + self.ffn_g(self.norm_fg(g))


class MMVID(nn.Module):
    def __init__(self, cfg: MMVIDConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.mask_id = cfg.codebook_size  # [MASK]
        self.tok_emb = nn.Embedding(cfg.codebook_size + 1, d)
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        self.text = TextEncoder(cfg)
        self.speed = SpeedEmbedding(d)
        self.slots = nn.Parameter(torch.zeros(2, d))  # REL, VID
        self.pos_t = nn.Parameter(torch.zeros(cfg.frames, d))
        self.pos_h = nn.Parameter(torch.zeros(cfg.tokens_h, d))
        self.pos_w = nn.Parameter(torch.zeros(cfg.tokens_w, d))
        for p in (self.slots, self.pos_t, self.pos_h, self.pos_w):
            nn.init.normal_(p, std=0.02)
        order = cfg.axial_order
        self.axial = nn.ModuleList(AxialBlock(cfg, order[i % len(order)]) for i in range(cfg.axial_blocks))
        self.joint = nn.ModuleList(JointBlock(cfg) for _ in range(math.ceil(cfg.axial_blocks / cfg.joint_every)))
        self.norm_v, self.norm_g = nn.LayerNorm(d), nn.LayerNorm(d)
        self.head = nn.Linear(d, cfg.codebook_size)
        self.rel_head = nn.Linear(d, 1)
        self.cons_head = nn.Linear(d, 1)

    # ------------------------------------------------------------------ the transformer
    def encode(self, ids: torch.Tensor, text_ids: torch.Tensor, text_valid: torch.Tensor, speed: torch.Tensor):
        """ids long [B, t, h, w] (codes or mask_id) -> (video states [B, t, h, w, d], global states [B, G, d])."""
        b, t, h, w = ids.shape
        x = self.tok_emb(ids) + (self.pos_t[:t, None, None] + self.pos_h[None, :, None] + self.pos_w[None, None, :])
        e_s = self.text(text_ids, text_valid)
        g = torch.cat([self.slots[None].expand(b, -1, -1), self.speed(speed.to(x.device))[:, None].to(x.dtype),
                       e_s.to(x.dtype)], 1)
        g_pad = torch.cat([text_valid.new_zeros(b, GLOBAL_SLOTS), ~text_valid[:, : e_s.shape[1]]], 1)
        for i, blk in enumerate(self.axial):
            x = blk(x)
            if (i + 1) % self.cfg.joint_every == 0 or i == len(self.axial) - 1:
                v, g = self.joint[i // self.cfg.joint_every](x.reshape(b, -1, x.shape[-1]), g, g_pad)
                x = v.view_as(x)
        return self.norm_v(x), self.norm_g(g)

    def predict(self, ids, text_ids, text_valid, speed):
        """-> (code logits [B, t, h, w, K], relevance logit [B], consistency logit [B])."""
        v, g = self.encode(ids, text_ids, text_valid, speed)
        return self.head(v), self.rel_head(g[:, 0])[:, 0], self.cons_head(g[:, 1])[:, 0]

    # ------------------------------------------------------------------ training
    def training_mask(self, tokens: torch.Tensor, generator=None) -> torch.Tensor:
        """bool [B, T, h, w]: ceil(cos(pi u / 2) n) of the n codes of frames 2..T per clip, and with probability
        partial_prob a random rectangle of frame 1's codes."""
        b, t, h, w = tokens.shape
        dev = tokens.device
        n = (t - 1) * h * w
        u = torch.rand(b, generator=generator, device=dev)
        count = torch.ceil(torch.cos(math.pi * u / 2) * n).clamp(1, n)
        rank = torch.rand(b, n, generator=generator, device=dev).argsort(1).argsort(1)  # a random order per clip
        later = (rank < count[:, None]).view(b, t - 1, h, w)
        first = torch.zeros(b, 1, h, w, dtype=torch.bool, device=dev)
        partial = torch.rand(b, generator=generator, device=dev) < self.cfg.partial_prob
        for i in torch.nonzero(partial).flatten().tolist():
            y0, x0 = (int(v) for v in torch.randint(0, h // 2 + 1, (2,), generator=generator, device=dev))
            first[i, 0, y0:y0 + h // 2, x0:x0 + w // 2] = True
        return torch.cat([first, later], 1)

    @staticmethod
    def negatives(tokens: torch.Tensor, text_ids: torch.Tensor, text_valid: torch.Tensor, generator=None):
        """The heads' training batch (fully visible clips): clip i is one of three kinds, i + offset mod 3:
        0 real clip + its caption (r = 1, c = 1); 1 real clip + another clip's caption (r = 0, c = 1; unless both
        captions are the same words, then it is left out of the relevance loss); 2 the clip with some of frames
        2..T from another clip, + its caption (c = 0, not in the relevance loss). "Another clip" is clip
        i - shift, one random shift per batch.
        -> (tokens, text_ids, text_valid, relevance target, relevance weight, consistency target)."""
        b, t = tokens.shape[:2]
        dev = tokens.device
        kind = (torch.arange(b, device=dev) + int(torch.randint(0, 3, (1,), generator=generator, device=dev))) % 3
        shift = int(torch.randint(1, max(b, 2), (1,), generator=generator, device=dev))  # "the other clip": i - shift
        other_text = text_ids.roll(shift, 0)
        swap_text = kind == 1
        ids = torch.where(swap_text[:, None], other_text, text_ids)
        valid = torch.where(swap_text[:, None], text_valid.roll(shift, 0), text_valid)
        same_words = (other_text == text_ids).all(1)
        frames = torch.rand(b, t, generator=generator, device=dev) < 0.5
        frames[:, 0] = False
        frames[torch.arange(b, device=dev), torch.randint(1, t, (b,), generator=generator, device=dev)] = True
        mixed = (kind == 2)[:, None] & frames  # [B, T] frames replaced
        video = torch.where(mixed[:, :, None, None], tokens.roll(shift, 0), tokens)
        rel_target = (kind == 0).float()
        rel_weight = ((kind == 0) | ((kind == 1) & ~same_words)).float()
        cons_target = (kind != 2).float()
        return video, ids, valid, rel_target, rel_weight, cons_target

    def forward(self, tokens, text_ids, text_valid, speed, generator=None) -> dict:
        """tokens long [B, T, h, w] (z_1..z_T), text [B, L], speed [B] -> dict(loss, mask_ce, rel, cons, acc)."""
        mask = self.training_mask(tokens, generator)
        ids = tokens.masked_fill(mask, self.mask_id)
        logits, _, _ = self.predict(ids, text_ids, text_valid, speed)
        target = tokens[mask]
        chosen = logits[mask]
        ce = F.cross_entropy(chosen.float(), target)
        video, hid, hvalid, rt, rw, ct = self.negatives(tokens, text_ids, text_valid, generator)
        _, rel, cons = self.predict(video, hid, hvalid, speed)
        rel_loss = (F.binary_cross_entropy_with_logits(rel.float(), rt, reduction="none") * rw).sum() / rw.sum().clamp_min(1)
        cons_loss = F.binary_cross_entropy_with_logits(cons.float(), ct)
        loss = ce + self.cfg.rel_weight * rel_loss + self.cfg.cons_weight * cons_loss
        with torch.no_grad():
            acc = (chosen.argmax(-1) == target).float().mean()
        return {"loss": loss, "mask_ce": ce.detach(), "rel": rel_loss.detach(), "cons": cons_loss.detach(),
                "acc": acc}
