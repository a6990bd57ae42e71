"""The learned CATER-GEN object locator ("judge"): a small CNN that finds each first-frame object in a frame.

Inputs, all given to a TI2V model too: a frame x_t, the first frame x_1 and x_1's instance masks m_k. Every
image is resampled to WORK x WORK pixels first (64, 128 and 256 px datasets share one network).

    F_t      = E(x_t)                                   shared encoder, stride 4 (WORK/4 cells a side)
    e_k      = T(crop(x_1, m_k))                        object k's first look: RGB + mask crop around its box
    q_k      = mean of P(F_1) over down(m_k)               object k's first look in the encoder's own features
    c_tk     = cos(P(F_t), q_k)                           where frame t looks like it, cell by cell (Siamese)
    H_tk     = G(F_t * (1 + gamma(e_k)) + beta(e_k), down(m_k), c_tk)
    p(cell)  = softmax over cells of heat(H_tk)          where object k is now (its projected centre) ...
    u_tk     = centre of the argmax cell + offset(H_tk)  ... to a fraction of a cell
    v_tk, l_tk = sigmoid(state(pool_p(H_tk)))         is enough of it in sight; is it lifted (its shadow, its size)
    r_tk     = sigmoid(R(c_t, c_1, m_k crop, (c_t - c_1) m_k))  has it turned since x_1; c_t = crop(x_t, u_tk),
                                                        standardised per channel over the first-look mask

The correlation map c_tk compares every cell of x_t with object k as x_1 shows it, through the same encoder: an
identity cue that does not have to be learnt per colour and shape from few scenes (FiLM alone confused look-alikes,
a gold snitch for a yellow cube). ``match = 0`` in the config turns it off (the first judge files' layout).
The down-sampled first-frame mask is a prior (most objects do not move), not the answer: training frames show
objects that slid, were lifted, hidden and uncovered. ``r`` compares the object's pixels at its located place
with its first look, so only turning (not moving) is asked of it. Labels are the renderer's exact scene state
(``centers_2d``, ``masks``, ``visible``, ``rotations``); see :mod:`.judge_train`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

WORK = 128  # working resolution (pixels a side)
STRIDE = 4  # encoder output stride
CROP = 24  # template / turn crop size (pixels a side, after resampling)
CROP_PAD = 1.6  # crop side = CROP_PAD x the object's box side (+ 4 px)


@dataclass(frozen=True)
class JudgeConfig:
    width: int = 64  # encoder channels at stride 4
    head: int = 32  # per-object head channels
    embed: int = 64  # first-look embedding
    match: int = 0  # channels of the projection P compared by the correlation map c_tk (0: no map)


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class JudgeNet(nn.Module):
    def __init__(self, cfg: JudgeConfig = JudgeConfig()):
        super().__init__()
        self.cfg = cfg
        w, h, e = cfg.width, cfg.head, cfg.embed
        self.encoder = nn.Sequential(_conv(3, 32, 2), _conv(32, 32), _conv(32, w, 2), _conv(w, w),
                                     _conv(w, w, dilation=2), _conv(w, w, dilation=4))
        self.template = nn.Sequential(_conv(4, 32, 2), _conv(32, e, 2), _conv(e, e), nn.AdaptiveAvgPool2d(1),
                                      nn.Flatten())
        self.film = nn.Linear(e + 1, 2 * w)
        self.match = nn.Conv2d(w, cfg.match, 1) if cfg.match else None
        self.head = nn.Sequential(_conv(w + 1 + bool(cfg.match), h), _conv(h, h), _conv(h, h, dilation=2))
        self.heat = nn.Conv2d(h, 3, 1)  # logit, dx, dy (offset from the cell centre in cells)
        self.state = nn.Sequential(nn.Linear(2 * h, h), nn.ReLU(inplace=True), nn.Linear(h, 2))  # in sight, lifted
        self.turn = nn.Sequential(_conv(10, 32, 2), _conv(32, 48, 2), _conv(48, 48), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten(), nn.Linear(48, 1))

    @staticmethod
    def normalise(x: torch.Tensor) -> torch.Tensor:
        """uint8-range float [B, 3, H, W] -> roughly zero-mean unit-range."""
        return x / 127.5 - 1.0

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """[B, 3, WORK, WORK] (0-255) -> [B, width, WORK/4, WORK/4]."""
        return self.encoder(self.normalise(frames))

    def embed(self, crops: torch.Tensor, log_size: torch.Tensor) -> torch.Tensor:
        """First-look crops [N, 4, CROP, CROP] (RGB 0-255 and mask 0/1), log box side [N] -> FiLM [N, 2 width]."""
        x = torch.cat([self.normalise(crops[:, :3]), crops[:, 3:] * 2 - 1], 1)
        return self.film(torch.cat([self.template(x), log_size[:, None]], 1))

    def keys(self, feats0: torch.Tensor, prior: torch.Tensor) -> torch.Tensor | None:
        """q_k: first-frame features [N, width, h, w] (one per object) pooled over the down-sampled first-frame
        mask prior [N, 1, h, w] -> unit vectors [N, match] (None without a correlation map)."""
        if self.match is None:
            return None
        p = self.match(feats0)
        q = (p * prior).sum((2, 3)) / prior.sum((2, 3)).clamp(min=1e-3)
        return F.normalize(q, dim=1)

    def locate(self, feats: torch.Tensor, film: torch.Tensor, prior: torch.Tensor, key: torch.Tensor | None = None):
        """feats [N, width, h, w] (one frame's features per object), film [N, 2 width], prior [N, 1, h, w], key
        [N, match] (:meth:`keys`; needed when the config has a correlation map) -> (heat logits [N, h*w],
        offsets [N, 2, h*w], state logits [N, 2]: in sight, lifted off the table)."""
        gamma, beta = film.chunk(2, 1)
        x = feats * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
        parts = [x, prior]
        if self.match is not None:
            parts.append((F.normalize(self.match(feats), dim=1) * key[:, :, None, None]).sum(1, keepdim=True))
        hid = self.head(torch.cat(parts, 1))
        out = self.heat(hid).flatten(2)
        logits = out[:, 0]
        p = logits.softmax(-1)
        flat = hid.flatten(2)
        pooled = torch.cat([(flat * p[:, None]).sum(-1), flat.amax(-1)], 1)
        return logits, out[:, 1:], self.state(pooled)

    def turned(self, crops_t: torch.Tensor, crops_0: torch.Tensor) -> torch.Tensor:
        """crops at the located place [N, 3, CROP, CROP] and first-look crops [N, 4, CROP, CROP] -> logit [N]."""
        m = crops_0[:, 3:]
        a, b = _standardise(crops_t, m), _standardise(crops_0[:, :3], m)  # blind to colour gain and offset
        x = torch.cat([a, b, m * 2 - 1, (a - b) * m], 1)  # the last: what changed on its first-look pixels
        return self.turn(x)[:, 0]


def _standardise(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Per crop and channel, (x - mean) / std over the mask's pixels."""
    w = m.sum((2, 3), keepdim=True).clamp(min=1.0)
    mean = (x * m).sum((2, 3), keepdim=True) / w
    std = (((x - mean) ** 2 * m).sum((2, 3), keepdim=True) / w).sqrt().clamp(min=4.0)
    return (x - mean) / std


def cell_centres(cells: int) -> torch.Tensor:
    """[cells * cells, 2] (x, y) working-resolution pixel centres of the heat-map cells, row-major."""
    c = (torch.arange(cells, dtype=torch.float32) + 0.5) * STRIDE
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xx.flatten(), yy.flatten()], 1)


def decode(logits: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Heat logits [N, h*w] and offsets [N, 2, h*w] -> points [N, 2] in working-resolution pixels."""
    cells = int(round(logits.shape[-1] ** 0.5))
    best = logits.argmax(-1)
    centres = cell_centres(cells).to(logits.device)[best]
    off = offsets.gather(2, best[:, None, None].expand(-1, 2, 1))[:, :, 0]
    return centres + off * STRIDE


def candidates(logits: torch.Tensor, offsets: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k most likely places: points [N, k, 2] (working-resolution pixels) and their log-probabilities [N, k]."""
    cells = int(round(logits.shape[-1] ** 0.5))
    logp = logits.log_softmax(-1)
    top, idx = logp.topk(k, -1)
    off = offsets.gather(2, idx[:, None, :].expand(-1, 2, -1)).transpose(1, 2)
    return cell_centres(cells).to(logits.device)[idx] + off * STRIDE, top


def crop(images: torch.Tensor, which: torch.Tensor, centres: torch.Tensor, sides: torch.Tensor) -> torch.Tensor:
    """Square crops [N, C, CROP, CROP] of ``images[which]`` ([B, C, H, W]) about ``centres`` [N, 2] (pixels)
    with side ``sides`` [N] (pixels), bilinear."""
    from torchvision.ops import roi_align

    half = sides[:, None] / 2
    boxes = torch.cat([which[:, None].to(images.dtype), centres - half, centres + half], 1)
    return roi_align(images, boxes, (CROP, CROP), spatial_scale=1.0, sampling_ratio=2, aligned=True)


def config_dict(cfg: JudgeConfig) -> dict:
    return asdict(cfg)


def resize_to_work(x: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """[B, C, H, W] float -> [B, C, WORK, WORK] (area-averaged when shrinking, so a 256 px render looks like a
    128 px one; bilinear when enlarging; ``nearest`` for masks)."""
    if x.shape[-1] == WORK and x.shape[-2] == WORK:
        return x
    if mode == "nearest":
        return F.interpolate(x, size=(WORK, WORK), mode="nearest")
    if x.shape[-1] > WORK:
        return F.interpolate(x, size=(WORK, WORK), mode="area")
    return F.interpolate(x, size=(WORK, WORK), mode="bilinear", align_corners=False)
