"""CATER-GEN judges: what reads object places off (generated) frames for the controllability scores.

Two readers share one interface (``track``, ``accuracy``, ``describe``; :meth:`Judge.load` picks one):

* a learned judge file (the default is the one the package ships, ``SHIPPED``,
  ``judges/cater-judge.safetensors``, checked against ``SHIPPED_SHA256`` before it produces a number): a
  :class:`.judge_net.JudgeNet` trained by ``ti2v-bench judge train --preset judge-cater`` (:mod:`.judge_train`),
  one safetensors file whose metadata holds its settings, the render seeds of its training data and its training
  run. Every report names the file and its sha256;
* ``template`` (:class:`.locator.TemplateJudge`): template matching with hand-set rules and no weights; on clean
  ground truth it is the more accurate of the two, but JPEG, down-and-up sampling and colour gains (what
  generators do to pixels) break it, and it reads about 0.1 clips/s (docs/JUDGE.md has both measured).

Tracking, per clip (:meth:`Judge.track`): the net scores every place for every first-frame object in every
frame (its projected centre), and says whether it is in sight, lifted, turned; each candidate place's score gets
the colour evidence of :mod:`.judge_colour` (does it show the object's first-look colour, once the frame's global
colour change is undone); the place per frame is the best path through the clip's most likely places
(:func:`best_path`: moving far between frames costs), found for all objects together so that two objects in
sight never hold one place, unless one is a cone that can cover the other (:func:`joint_paths`); where an object
is out of sight it is held where it was last seen (a hidden object is not seen to move), and a shift below
STILL_NOISE_PX counts as none; its table point is its annotated first-frame base position plus the
back-projected displacement of the located centre since frame 1 (:mod:`.table_geometry`), so a constant bias
of the net cancels.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ti2v.datagen.cater.scene import SIZES

from .judge_colour import candidate_llr
from .judge_net import WORK, JudgeConfig, JudgeNet, candidates, crop, resize_to_work
from .judge_train import box_sides, crop_sides, first_look_ok, object_inputs, shown_share
from .table_geometry import backproject, camera, cell_of, centre_height
from .weights import sha256_file as sha256_of

SHIPPED = Path(__file__).parent / "judges" / "cater-judge.safetensors"
SHIPPED_SHA256: str | None = "0ef7a86d0f111036241556833d18b603565bf0cdcebf4e3576e542b57413030a"
DEFAULT = "shipped"
FORMAT = "ti2v-cater-judge/1"
SEEN_P = 0.5  # in sight when the visibility probability is above this
TURNED_P = 0.5
LIFTED_P = 0.5
STILL_NOISE_PX = 0.75  # working-resolution pixels: ~3x the net's mean centre error on still objects
CANDIDATES = 10  # places per frame the path through the clip chooses among
JUMP_COST = 0.05  # nats per working-resolution pixel between consecutive frames' places
EXCLUSION = 0.5  # two objects' centres closer than this x the smaller one's first-frame box side: one place
EXCLUSION_ROUNDS = 4  # an object gives way at most this many times in one frame
COLOUR_WEIGHT = 1.0  # the colour log-likelihood ratio (:mod:`.judge_colour`) is added to the net's log-probabilities
BANNED = 20.0  # nats: what a place another object holds costs (a path can still go there if nothing else fits)


def best_path(points: np.ndarray, logp: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, float]:
    """One place per frame (Viterbi): points [T, K, 2] with log-probabilities [T, K]; the path starts from the
    object's annotated first-frame centre and pays JUMP_COST per pixel it moves between frames, so a look-alike
    far away must look much more like the object than the place near where it just was. Returns the chosen
    candidate per frame [T] and the path's cost (nats)."""
    T, K = logp.shape
    cost = -logp[0] + JUMP_COST * np.linalg.norm(points[0] - start, axis=-1)
    back = np.zeros((T, K), int)
    for t in range(1, T):
        jump = JUMP_COST * np.linalg.norm(points[t][:, None] - points[t - 1][None], axis=-1)  # [K now, K before]
        total = cost[None] + jump
        back[t] = total.argmin(1)
        cost = total.min(1) - logp[t]
    k = int(cost.argmin())
    best = float(cost[k])
    path = [k]
    for t in range(T - 1, 0, -1):
        k = int(back[t, k])
        path.append(k)
    return np.array(path[::-1]), best


def joint_paths(cand: np.ndarray, logp: np.ndarray, starts: np.ndarray, seen: np.ndarray,
                sides: np.ndarray, may_share: np.ndarray | None = None) -> np.ndarray:
    """Every object's path (:func:`best_path`) with one object per place: candidates [T, m, K, 2] and their
    log-probabilities [T, m, K] per object, first-frame centres [m, 2], in-sight calls [T, m] (bool) and
    first-frame box sides [m] -> places [T, m, 2]. ``may_share`` [m, m] (bool): pairs that can be in one place
    (a cone and an object it can cover).

    The net scores each object alone, so a small object put down somewhere new is often "found" on another
    object that never left its place. Two in-sight objects whose paths come closer than EXCLUSION x the smaller
    box side in a frame cannot both be there: of the two, the one whose path costs the less to move elsewhere in
    that frame (its candidates near the other's place cost BANNED nats more) gives way, and its path is found
    again; repeated until no two in-sight paths share a place. A pair that still clashes when both have given
    way EXCLUSION_ROUNDS times in that frame is left as it is: a lifted object passing in front of another does
    share its place in the image, and banning it there sent it round the other objects' places for good (each
    ban a new clash), ending wherever the rounds ran out."""
    T, m, K, _ = cand.shape
    if not m:
        return np.zeros((T, 0, 2))
    score = logp.copy()
    found = [best_path(cand[:, j], score[:, j], starts[j]) for j in range(m)]
    paths, totals = [f[0] for f in found], [f[1] for f in found]
    radius = EXCLUSION * np.minimum(sides[:, None], sides[None, :])
    others = ~np.eye(m, dtype=bool)[None]
    if may_share is not None:
        others &= ~(may_share | may_share.T)[None]
    others = others & seen[:, :, None] & seen[:, None, :]  # [T, m, m]: pairs held apart
    bans = np.zeros((T, m), int)
    while True:
        pts = np.stack([cand[np.arange(T), j, paths[j]] for j in range(m)], 1)  # [T, m, 2]
        d = np.linalg.norm(pts[:, :, None] - pts[:, None], axis=-1)  # [T, m, m]
        hits = np.argwhere((d < radius[None]) & others)
        if not len(hits):
            break
        t, a, b = hits[0]
        trial = {}
        for mover, stayer in ((a, b), (b, a)):
            if bans[t, mover] >= EXCLUSION_ROUNDS:
                continue
            c = score[:, mover].copy()
            c[t] -= BANNED * (np.linalg.norm(cand[t, mover] - pts[t, stayer], axis=-1) < radius[a, b])
            trial[mover] = (c, *best_path(cand[:, mover], c, starts[mover]))
        if not trial:  # both have been moved on in this frame as often as allowed: leave them
            others[t, a, b] = others[t, b, a] = False
            continue
        mover = min(trial, key=lambda j: trial[j][2] - totals[j])
        bans[t, mover] += 1
        score[:, mover], paths[mover], totals[mover] = trial[mover]
    return np.stack([cand[np.arange(T), j, paths[j]] for j in range(m)], 1)


class JudgeError(ValueError):
    """A judge file that is missing, malformed, or does not match its pinned checksum."""


@dataclass
class Tracks:
    uv: np.ndarray  # [T, n, 2] located projected centres, pixels of the clip (NaN: not looked for)
    xy: np.ndarray  # [T, n, 2] table points (NaN: not looked for)
    seen: np.ndarray  # [T, n] bool: in sight
    turned: np.ndarray  # [T, n] probability that the object has turned since frame 1 (0 where not seen)
    lifted: np.ndarray | None  # [T, n] probability that it is lifted off the table (0 where not seen)
    ok: np.ndarray  # [n] bool: first look big enough to look for


def save_judge(path: Path, net: JudgeNet, info: dict) -> str:
    """Write a judge file (temp name, then rename); returns its sha256."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    meta = {"format": FORMAT, "config": json.dumps(net.cfg.__dict__, sort_keys=True),
            "info": json.dumps(info, sort_keys=True)}
    save_file(state, str(tmp), metadata=meta)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # readable as any other file the user makes
    tmp.replace(path)
    return sha256_of(path)


class Judge:
    def __init__(self, net: JudgeNet, info: dict, path: Path, sha256: str, pinned: bool, device: str = "cpu"):
        self.net, self.info = net.to(device).eval(), info
        self.path, self.sha256, self.pinned, self.device = Path(path), sha256, pinned, device

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu"):
        """``path``: a judge file (its sha256 recorded; ``pinned`` when it is byte-identical to the shipped one),
        ``"shipped"`` (the package's file, refused unless it matches ``SHIPPED_SHA256``), ``"template"`` or
        None (``DEFAULT``)."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = DEFAULT if path is None else path
        if str(path) == "template":
            from .locator import TemplateJudge

            return TemplateJudge()
        shipped = str(path) == "shipped"
        p = SHIPPED if shipped else Path(path)
        if not p.is_file():
            raise JudgeError(f"judge file {p} does not exist" + ("; train one with: ti2v-bench judge train "
                                                                "--preset judge-cater" if shipped else ""))
        digest = sha256_of(p)
        if shipped and digest != SHIPPED_SHA256:
            raise JudgeError(f"judge file {p}: sha256 {digest[:16]}... does not match the pinned "
                             f"{str(SHIPPED_SHA256)[:16]}...; reinstall ti2v or pass --judge FILE")
        try:
            with safe_open(str(p), "pt") as f:
                meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise JudgeError(f"judge file {p}: format {meta.get('format')!r}, expected {FORMAT}")
            net = JudgeNet(JudgeConfig(**json.loads(meta["config"])))
            net.load_state_dict(load_file(str(p)))
        except JudgeError:
            raise
        except Exception as e:  # a truncated or foreign file
            raise JudgeError(f"judge file {p} cannot be read: {e}") from None
        return cls(net, json.loads(meta["info"]), p, digest,
                   pinned=digest == SHIPPED_SHA256, device=device)

    def describe(self) -> dict:
        return {"file": self.path.name, "sha256": self.sha256, "pinned": self.pinned,
                "trained_on": self.info.get("renders"), "steps": self.info.get("steps"),
                "train_minutes": self.info.get("minutes")}

    @torch.inference_mode()
    def track(self, video: np.ndarray, ann: dict, first_frame: np.ndarray | None = None) -> Tracks:
        """video uint8 [T, H, W, 3] -> :class:`Tracks`. Uses the first frame (``first_frame``, default
        ``video[0]``) and the first frame's annotations only: masks[0], centers_2d[0], boxes_2d[0], positions[0]."""
        T, H = len(video), video.shape[1]
        n = int(ann["num_objects"])
        s = WORK / H
        dev = self.device
        m0 = np.asarray(ann["masks"][0])
        if H != WORK:
            import cv2

            m0 = cv2.resize(m0, (WORK, WORK), interpolation=cv2.INTER_NEAREST)
        ok = np.array([first_look_ok(m0 == k + 1) for k in range(n)])
        uv = np.full((T, n, 2), np.nan)
        seen = np.zeros((T, n), bool)
        turned = np.zeros((T, n))
        lifted = np.zeros((T, n))
        live = np.nonzero(ok)[0]
        if len(live):
            frames = resize_to_work(torch.from_numpy(np.ascontiguousarray(video)).permute(0, 3, 1, 2).float())
            first = video[0] if first_frame is None else first_frame
            f0 = resize_to_work(torch.from_numpy(np.ascontiguousarray(first)).permute(2, 0, 1)[None].float())
            c0 = np.asarray(ann["centers_2d"])[0, live] * s
            boxes0 = np.asarray(ann["boxes_2d"], np.float64)[0, live] * s
            sides = crop_sides(boxes0)
            box = box_sides(boxes0)
            crops0, log_side, prior, _ = object_inputs(f0, [m0], [(0, int(k)) for k in live], c0, sides)
            crops0, log_side, prior, frames = crops0.to(dev), log_side.to(dev), prior.to(dev), frames.to(dev)
            film = self.net.embed(crops0, log_side)
            feats = self.net.encode(frames)
            key = (self.net.keys(self.net.encode(f0.to(dev)).expand(len(live), -1, -1, -1), prior)
                   if self.net.match is not None else None)
            m = len(live)
            ti = torch.arange(T, device=dev).repeat_interleave(m)
            oi = torch.arange(m, device=dev).repeat(T)
            logits, offs, state = self.net.locate(feats[ti], film[oi], prior[oi], None if key is None else key[oi])
            cand, logp = candidates(logits, offs, CANDIDATES)
            cand = cand.view(T, m, CANDIDATES, 2).cpu().numpy().astype(np.float64)
            logp = logp.view(T, m, CANDIDATES).cpu().numpy().astype(np.float64)
            if COLOUR_WEIGHT:
                logp = logp + COLOUR_WEIGHT * candidate_llr(torch.cat([f0.to(dev), frames[1:]]), m0,
                                                            [int(k) for k in live], cand, box)
            p_seen = torch.sigmoid(state[:, 0]).view(T, m).cpu().numpy()
            shape = [str(ann["shape"][k]) for k in live]
            size = [SIZES.get(str(ann["size"][k]), 0.0) for k in live]
            covers = np.array([[shape[a] == "cone" and size[b] < size[a] for b in range(m)] for a in range(m)])
            pts = joint_paths(cand, logp, c0, p_seen > SEEN_P, box, covers)  # [T, m, 2]
            sd = torch.from_numpy(sides).to(dev)[oi]
            at = torch.from_numpy(pts.reshape(T * m, 2)).float().to(dev)
            tl = self.net.turned(crop(frames, ti, at, sd), crops0[oi])
            p_lift = torch.sigmoid(state[:, 1]).view(T, m).cpu().numpy()
            p_turn = torch.sigmoid(tl).view(T, m).cpu().numpy()
            for j, k in enumerate(live):
                last = pts[0, j] if p_seen[0, j] > SEEN_P else c0[j]
                for t in range(T):
                    if p_seen[t, j] > SEEN_P or t == 0:
                        seen[t, k] = p_seen[t, j] > SEEN_P
                        last = pts[t, j] if seen[t, k] else last
                        turned[t, k] = p_turn[t, j] if seen[t, k] else 0.0
                        lifted[t, k] = p_lift[t, j] if seen[t, k] else 0.0
                    # a shift within the net's own error is no motion: the object is where it was (so an
                    # object resting on a cell edge does not flicker across it)
                    uv[t, k] = uv[0, k] if t and np.linalg.norm(last - uv[0, k]) < STILL_NOISE_PX else last
        cam = camera(WORK)
        hs = np.array([centre_height(str(ann["shape"][k]), str(ann["size"][k])) for k in range(n)])
        xy = backproject(cam, uv, hs[None, :])
        p0 = np.asarray(ann["positions"], np.float64)[0, :n, :2]
        xy = p0[None] + (xy - xy[:1])
        return Tracks(uv / s, xy, seen, turned, lifted, ok)

    def accuracy(self, clips, tracks: list | None = None) -> dict:
        return cell_accuracy(self, clips, tracks)


def cell_accuracy(judge, clips, tracks: list | None = None) -> dict:
    """Any judge (``track``) on ground-truth clips (``tracks``: its readings, when already made): the share of
    (frame, object) pairs at rest on the table and at least half in sight that it puts in the right cell, the
    mean centre error, and how often its in-sight call is right."""
    right = total = vis_right = vis_total = 0
    err = []
    for i, clip in enumerate(clips):
        ann = clip.annotations
        tr = tracks[i] if tracks is not None else judge.track(clip.video, ann)
        idx = clip.frame_indices
        pos = np.asarray(ann["positions"])[idx]
        vis = np.asarray(ann["visible"])[idx]
        c2d = np.asarray(ann["centers_2d"])[idx]
        n = len(tr.ok)
        share = np.stack([shown_share(np.asarray(ann["masks"]), np.asarray(ann["boxes_2d"], np.float64), k)
                          for k in range(n)], 1)[idx] if n else np.zeros((len(idx), 0))
        for f in range(len(idx)):
            for k in range(n):
                if not tr.ok[k]:
                    continue
                in_sight = bool(vis[f, k] and share[f, k] >= 0.5)
                if vis[f, k] and (share[f, k] >= 0.5 or share[f, k] < 0.1):
                    vis_total += 1
                    vis_right += tr.seen[f, k] == in_sight
                if not in_sight or pos[f, k, 2] > 0.05:
                    continue  # hidden, or lifted mid pick-place (cells are named on the table)
                total += 1
                right += cell_of(tr.xy[f, k]) == cell_of(pos[f, k, :2])
                err.append(float(np.linalg.norm(tr.uv[f, k] - c2d[f, k])))
    return {"cell_accuracy": right / total if total else None, "objects_frames": total,
            "mean_2d_error_px": float(np.mean(err)) if err else None,
            "in_sight_accuracy": vis_right / vis_total if vis_total else None}
