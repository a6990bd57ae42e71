"""Training the CATER judge (:mod:`.judge_net`) on what the renderer knows exactly.

Data: CATER-GEN train splits rendered by ``ti2v-datagen cater`` (the preset ``judge-cater`` names their seeds and
render settings; :func:`render_splits` makes them, resumably). Every (raw frame t, first-frame object k) pair is
a labelled example:

* where: ``centers_2d[t, k]`` (the projected centre), learnt where at least LOC_SHARE of the object shows;
* in sight: ``visible[t, k]`` (not under a cone) and at least VIS_SHARE of it showing, where "showing" is its
  instance-mask fill of its unoccluded box relative to the clip's best (perspective and shape cancel out);
* lifted: the base is more than LIFTED_UNITS above the table (``positions``), learnt where it is located;
* turned: for cubes (90 degree symmetry) and the snitch (three tori, 60 degrees), the yaw since frame 1 is more
  than TURN_DEG from a symmetry of the shape (``rotations``); spheres, cones and cylinders never look turned.

Frame t (never the given first frame) is degraded at random as generated frames are (:func:`.degrade.random_degrade`),
and one batch in LOWRES_P is seen as a 64 px dataset (first frame and mask too). A clip is also seen mirrored
(FLIP_P) and with its colour channels permuted (CHANNEL_P), first frame alike: 152 training clips are few.
Deterministic for a seed on one machine (same data, same steps, same thread count).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from . import degrade
from .judge_net import CROP_PAD, STRIDE, WORK, JudgeConfig, JudgeNet, crop

LOC_SHARE = 0.15
VIS_SHARE = 0.3
TURN_SHARE = 0.5
TURN_DEG = 10.0
LIFTED_UNITS = 0.3
TURN_IGNORE_DEG = 5.0  # yaw offsets between this and TURN_DEG are not labelled (too close to call)
PERIOD = {"cube": math.pi / 2, "snitch": math.pi / 3}
LOWRES_P = 0.2
FLIP_P = 0.5
CHANNEL_P = 0.5
TURN_FOCUS = 0.25
TURN_JITTER_PX = 0.4  # crop-centre noise while training the turn head (the located centre errs by ~0.3 px)
TURN_POS_WEIGHT = 2.0  # turned frames are rare (rotating cubes and snitches mid-turn)
DEGRADE_P = 0.8
MIN_FIRST_PIXELS = 8  # at 128 px; a first look smaller than this is not looked for (scaled with area)


def shown_share(masks: np.ndarray, boxes: np.ndarray, k: int) -> np.ndarray:
    """Per frame, how much of object k shows: its mask's fill of its unoccluded projected box, relative to the
    most it fills in any frame of the video (so the shape's own fill of its box cancels out). [F]"""
    h, w = masks.shape[1:3]
    b = boxes[:, k]
    area = (np.clip(b[:, 2], 0, w) - np.clip(b[:, 0], 0, w)) * (np.clip(b[:, 3], 0, h) - np.clip(b[:, 1], 0, h))
    fill = np.where(area > 0, (masks == k + 1).sum((1, 2)) / np.maximum(area, 1e-9), 0.0)
    return fill / fill.max() if fill.max() > 0 else fill


def turn_label(shape: str, dyaw: np.ndarray) -> np.ndarray:
    """1 turned, 0 not, -1 too close to call; [F] from the yaw change since the first frame."""
    if shape not in PERIOD:
        return np.zeros(len(dyaw), np.int8)
    p = PERIOD[shape]
    off = np.degrees(np.abs((dyaw + p / 2) % p - p / 2))
    return np.where(off > TURN_DEG, 1, np.where(off < TURN_IGNORE_DEG, 0, -1)).astype(np.int8)


def first_look_ok(mask0: np.ndarray) -> bool:
    return int(mask0.sum()) >= max(2, round(MIN_FIRST_PIXELS * mask0.size / 128**2))


@dataclass
class LabelledClip:
    """One raw video at the working resolution with the judge's labels."""
    frames: np.ndarray  # uint8 [F, WORK, WORK, 3]
    masks0: np.ndarray  # uint8 [WORK, WORK] first-frame instance mask
    centers: np.ndarray  # float32 [F, n, 2] working-resolution pixels
    sides: np.ndarray  # float32 [n] first-frame crop side (pixels)
    share: np.ndarray  # float32 [F, n]
    visible: np.ndarray  # bool [F, n]
    turned: np.ndarray  # int8 [F, n]
    lifted: np.ndarray  # bool [F, n] base more than LIFTED_UNITS above the table
    ok: np.ndarray  # bool [n] first look big enough


def box_sides(boxes: np.ndarray) -> np.ndarray:
    """The longer side of each box [n, 4] (x0, y0, x1, y1) -> [n]."""
    return np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def crop_sides(boxes0: np.ndarray) -> np.ndarray:
    """First-frame crop side per object from its unoccluded box [n, 4] (same pixels as the box)."""
    return (CROP_PAD * box_sides(boxes0) + 4).astype(np.float32)


def label_clip(video: np.ndarray, ann: dict) -> LabelledClip:
    n = int(ann["num_objects"])
    size = video.shape[1]
    s = WORK / size
    frames = video if size == WORK else np.stack([cv2.resize(f, (WORK, WORK), interpolation=cv2.INTER_AREA
                                                              if size > WORK else cv2.INTER_LINEAR) for f in video])
    masks = np.asarray(ann["masks"])
    m0 = masks[0] if size == WORK else cv2.resize(masks[0], (WORK, WORK), interpolation=cv2.INTER_NEAREST)
    boxes = np.asarray(ann["boxes_2d"], np.float64)
    share = np.stack([shown_share(masks, boxes, k) for k in range(n)], 1).astype(np.float32)
    yaw = np.asarray(ann["rotations"])[:, :n, 2]
    turned = np.stack([turn_label(str(ann["shape"][k]), yaw[:, k] - yaw[0, k]) for k in range(n)], 1)
    return LabelledClip(
        frames=frames, masks0=m0, centers=(np.asarray(ann["centers_2d"])[:, :n] * s).astype(np.float32),
        sides=crop_sides(boxes[0, :n] * s), share=share, visible=np.asarray(ann["visible"])[:, :n].astype(bool),
        turned=turned, lifted=np.asarray(ann["positions"])[:, :n, 2] > LIFTED_UNITS,
        ok=np.array([first_look_ok(m0 == k + 1) for k in range(n)]))


def load_split(split_dir, limit: int | None = None) -> tuple[list[LabelledClip], list[dict]]:
    from ti2v.datagen.dataset import ShardDataset

    ds = ShardDataset(split_dir, None, clip_length=2, with_annotations=True)  # raw videos: any length
    out, anns = [], []
    for i in range(min(len(ds), limit or len(ds))):
        ann = ds.annotations(i)
        out.append(label_clip(ds.raw_video(i), ann))
        anns.append(ann)
    return out, anns


# ------------------------------------------------------------------------------------------------ batches
def object_inputs(frames0: torch.Tensor, masks0: list[np.ndarray], objs: list[tuple[int, int]],
                  centres0: np.ndarray, sides: np.ndarray):
    """For objects (batch item b, slot k): first-look crops [N, 4, CROP, CROP], log crop side [N] and the
    down-sampled first-frame mask prior [N, 1, WORK/STRIDE, WORK/STRIDE]."""
    which = torch.tensor([b for b, _ in objs], dtype=torch.long)
    m = torch.from_numpy(np.stack([(masks0[b] == k + 1) for b, k in objs]).astype(np.float32))[:, None]
    c0 = torch.from_numpy(np.asarray(centres0, np.float32))
    sd = torch.from_numpy(np.asarray(sides, np.float32))
    rgb = crop(frames0, which, c0, sd)
    mk = crop(m, torch.arange(len(objs)), c0, sd)
    prior = F.avg_pool2d(m, STRIDE)
    return torch.cat([rgb, mk], 1), torch.log(sd / WORK), prior, which


def turned_frames(clips: list[LabelledClip]) -> list[tuple[int, int]]:
    """(clip, frame) pairs that show some object turned: rare, so batches draw TURN_FOCUS of their frames here."""
    return [(i, int(t)) for i, c in enumerate(clips) for t in np.nonzero((c.turned == 1).any(1))[0]]


def make_batch(clips: list[LabelledClip], rng: np.random.Generator, batch: int,
               turned: list[tuple[int, int]] | None = None):
    """A training batch: ``batch`` (clip, frame) pairs, each with every first-frame object of its clip."""
    ft, f0, masks0, objs, c0, sides = [], [], [], [], [], []
    tgt_c, w_loc, vis, turn, lift = [], [], [], [], []
    lowres = rng.random() < LOWRES_P
    for b in range(batch):
        if turned and rng.random() < TURN_FOCUS:
            ci, t = turned[int(rng.integers(len(turned)))]
            c = clips[ci]
        else:
            c = clips[int(rng.integers(len(clips)))]
            t = int(rng.integers(len(c.frames)))
        frame, first, m0 = c.frames[t], c.frames[0], c.masks0
        if lowres:
            frame, first = degrade.down_up(frame, 2), degrade.down_up(first, 2)
            m0 = cv2.resize(cv2.resize(m0, (WORK // 2, WORK // 2), interpolation=cv2.INTER_NEAREST), (WORK, WORK),
                            interpolation=cv2.INTER_NEAREST)
        # the same scene seen mirrored, or with its colours' channels swapped, is another valid example (the
        # camera is symmetric about the image's vertical axis; identity is by first look, not by colour name)
        flip = rng.random() < FLIP_P
        if flip:
            frame, first, m0 = frame[:, ::-1], first[:, ::-1], m0[:, ::-1]
        if rng.random() < CHANNEL_P:
            perm = rng.permutation(3)
            frame, first = frame[..., perm], first[..., perm]
        frame, first, m0 = (np.ascontiguousarray(a) for a in (frame, first, m0))
        d = (0, 0)
        if t > 0 and rng.random() < DEGRADE_P:
            frame, d = degrade.random_degrade(frame, rng)
        mirror = (lambda p: np.array([WORK - p[0], p[1]], np.float32)) if flip else (lambda p: p)  # noqa: E731
        ft.append(frame)
        f0.append(first)
        masks0.append(m0)
        for k in np.nonzero(c.ok)[0]:
            objs.append((b, int(k)))
            c0.append(mirror(c.centers[0, k]))
            sides.append(c.sides[k])
            tgt_c.append(mirror(c.centers[t, k]) + np.array(d, np.float32))
            sh, v = c.share[t, k], c.visible[t, k]
            w_loc.append(float(v and sh >= LOC_SHARE))
            vis.append(float(v and sh >= VIS_SHARE))
            lift.append(float(c.lifted[t, k]))
            turn.append(float(c.turned[t, k]) if v and sh >= TURN_SHARE else -1.0)
    to_t = lambda a: torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).float()  # noqa: E731
    frames_t, frames_0 = to_t(ft), to_t(f0)
    crops0, log_side, prior, which = object_inputs(frames_0, masks0, objs, np.array(c0), np.array(sides))
    return dict(frames_t=frames_t, frames_0=frames_0, crops0=crops0, log_side=log_side, prior=prior, which=which,
                sides=torch.tensor(np.array(sides)), target=torch.tensor(np.array(tgt_c)),
                w_loc=torch.tensor(w_loc), vis=torch.tensor(vis), turn=torch.tensor(turn),
                lift=torch.tensor(lift))


def losses(net: JudgeNet, batch: dict, rng: torch.Generator) -> dict:
    b = len(batch["frames_t"])
    feats = net.encode(torch.cat([batch["frames_t"], batch["frames_0"]]) if net.match is not None
                       else batch["frames_t"])
    key = net.keys(feats[b:][batch["which"]], batch["prior"]) if net.match is not None else None
    film = net.embed(batch["crops0"], batch["log_side"])
    logits, offs, state = net.locate(feats[:b][batch["which"]], film, batch["prior"], key)
    cells = WORK // STRIDE
    tgt = batch["target"].clamp(0, WORK - 1e-3)
    cx, cy = (tgt[:, 0] // STRIDE).long(), (tgt[:, 1] // STRIDE).long()
    idx = cy * cells + cx
    off_t = (tgt - (torch.stack([cx, cy], 1).float() + 0.5) * STRIDE) / STRIDE
    w = batch["w_loc"]
    ce = F.cross_entropy(logits, idx, reduction="none")
    off = offs.gather(2, idx[:, None, None].expand(-1, 2, 1))[:, :, 0]
    l1 = (off - off_t).abs().sum(1)
    loc = (w * (ce + 2.0 * l1)).sum() / w.sum().clamp(min=1)
    vis = F.binary_cross_entropy_with_logits(state[:, 0], batch["vis"])
    lift_ce = F.binary_cross_entropy_with_logits(state[:, 1], batch["lift"], reduction="none")
    lift = (w * lift_ce).sum() / w.sum().clamp(min=1)
    # the turn head sees the object where it truly is, give or take a pixel (the locator's error)
    jitter = torch.randn(tgt.shape, generator=rng) * TURN_JITTER_PX
    crops_t = crop(batch["frames_t"], batch["which"], tgt + jitter, batch["sides"])
    tl = net.turned(crops_t, batch["crops0"])
    tm = batch["turn"] >= 0
    turn = (F.binary_cross_entropy_with_logits(tl[tm], batch["turn"][tm], pos_weight=torch.tensor(TURN_POS_WEIGHT))
            if tm.any() else tl.sum() * 0)
    with torch.no_grad():
        pred = torch.stack([logits.argmax(-1) % cells, logits.argmax(-1) // cells], 1)
        hit = ((pred == torch.stack([cx, cy], 1)).all(1).float() * w).sum() / w.sum().clamp(min=1)
    return {"loss": loc + vis + lift + turn, "loc": loc, "vis": vis, "lift": lift, "turn": turn, "cell_hit": hit}


@dataclass
class TrainSettings:
    steps: int = 3000
    batch: int = 12
    lr: float = 2e-3
    seed: int = 0
    warmup: int = 100


def lr_at(step: int, s: TrainSettings) -> float:
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    return 0.5 * s.lr * (1 + math.cos(math.pi * min(1.0, (step - s.warmup) / max(1, s.steps - s.warmup))))


def train(clips: list[LabelledClip], settings: TrainSettings, cfg: JudgeConfig = JudgeConfig(),
          max_minutes: float | None = None, log=None, progress: bool = True) -> tuple[JudgeNet, dict]:
    """Train from scratch; returns the net (eval mode) and a summary of the run."""
    from ti2v.datagen.progress import progress_bar

    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    trng = torch.Generator().manual_seed(settings.seed)
    net = JudgeNet(cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=1e-4)
    deadline = time.time() + 60 * max_minutes if max_minutes else None
    t0 = time.time()
    net.train()
    step, avg = 0, {}
    focus = turned_frames(clips)
    bar = progress_bar(settings.steps, "judge train") if progress else None
    for step in range(settings.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, settings)
        out = losses(net, make_batch(clips, rng, settings.batch, focus), trng)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        for k, v in out.items():
            v = float(v.detach())
            avg[k] = 0.98 * avg.get(k, v) + 0.02 * v
        if bar:
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in avg.items()}, refresh=False)
        if log and (step + 1) % 100 == 0:
            log({"step": step + 1, "minutes": round((time.time() - t0) / 60, 2),
                 **{k: round(v, 4) for k, v in avg.items()}})
        if deadline and time.time() > deadline:
            break
    if bar:
        bar.close()
    net.eval()
    return net, {"steps": step + 1, "minutes": round((time.time() - t0) / 60, 2),
                 "final": {k: round(v, 4) for k, v in avg.items()}}


def write_log_line(path: Path):
    def log(row: dict) -> None:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")
    return log


# ------------------------------------------------------------------------------------------- from a preset
def load_preset(name_or_path: str) -> dict:
    """A judge preset by name (``templates/presets/<name>.yaml`` with a ``judge`` key) or YAML path."""
    import yaml

    from ti2v.datagen.errors import InputError
    from ti2v.templates import load as load_template, preset_names

    names = [n for n in preset_names() if "judge" in (load_template(f"presets/{n}.yaml") or {})]
    p = Path(name_or_path)
    if name_or_path in names:
        preset = load_template(f"presets/{name_or_path}.yaml")
    elif p.suffix in (".yaml", ".yml") and p.is_file():
        try:
            preset = yaml.safe_load(p.read_text())
        except yaml.YAMLError as e:
            raise InputError(f"--preset {p}: not valid YAML ({str(e).splitlines()[0]})") from None
    else:
        raise InputError(f"--preset {name_or_path!r}: not a judge preset; choose one of {', '.join(names)} "
                         "or give a YAML file")
    for key in ("render_options", "renders", "net", "train"):
        if not isinstance(preset, dict) or key not in preset:
            raise InputError(f"--preset {name_or_path}: missing key {key!r}")
    return preset


def render_splits(preset: dict, data: Path, workers: int = 1) -> list[Path]:
    """Make (or finish) every training split the preset names under ``data/<dataset>/<split>``."""
    from ti2v.datagen.cater.job import generate_split
    from ti2v.datagen.run_options import Execution

    out = []
    for r in preset["renders"]:
        options = dict(preset["render_options"], version=r["version"], objects=str(r.get("objects", "3-8")))
        split_dir, manifest = generate_split(Path(data) / r["dataset"], r["split"], int(r["num_videos"]),
                                             int(r.get("shard_size", 8)), int(r["seed"]), options,
                                             Execution(workers=workers))
        if manifest is None:
            raise RuntimeError(f"{split_dir} is not complete; rerun the command to finish it")
        out.append(split_dir)
    return out


def train_from_preset(preset: dict, data: Path, out: Path, workers: int = 1, max_minutes: float | None = None,
                      steps: int | None = None) -> dict:
    """Render the preset's splits, train, and write the judge file. Returns its info."""
    from .judge import save_judge

    dirs = render_splits(preset, data, workers)
    clips = [c for d, r in zip(dirs, preset["renders"]) for c in load_split(d, r.get("train_clips"))[0]]
    settings = TrainSettings(**dict(preset["train"], **({"steps": steps} if steps else {})))
    out = Path(out)
    log_path = out.with_suffix(".jsonl")
    log_path.unlink(missing_ok=True)
    net, run = train(clips, settings, JudgeConfig(**preset["net"]), max_minutes=max_minutes,
                     log=write_log_line(log_path))
    info = {"preset": preset, "renders": preset["renders"], "render_options": preset["render_options"],
            "clips": len(clips), "torch": torch.__version__.split("+")[0], "threads": torch.get_num_threads(),
            **run}
    info["sha256"] = save_judge(out, net, info)
    return info
