"""Exact controllability for CATER-GEN (action precision, referring-expression precision in the sense of MAGE+),
from the shards' own scene state, with objects located in generated frames by :mod:`.locator`.

Per clip and caption sentence (action a; explicit or ambiguous match sets stored by the generator):
* candidates O = ``match_objects_<mode>[a]`` (explicit: the named object; ambiguous: every object the referring
  expression matches), cells C = ``match_cells_<mode>[a]`` (explicit: the named cell; ambiguous: the quadrant);
* slide / pick_place correct: some o in O moved (more than MOVE_UNITS table units) and ends (last frame,
  located) in a cell of C;
* contain correct: some cone o in O moved and ends over the starting point of some object of
  ``match_targets_<mode>[a]`` (within its half extent + CONTAIN_SLACK; the covered object's cell would be too
  coarse a test, as it may sit on a cell edge);
* not judgeable, and left out of both precisions (counted in ``actions_not_judgeable``): rotate of a cylinder
  (rotationally symmetric: the frames do not change); a sentence whose candidate objects are all (nearly) hidden in the
  given first frame (no appearance to look for); a sentence whose actor is less than SEEN_SHARE visible in the
  ground truth's first or last frame (:func:`seen_shares`: its start or its outcome cannot be seen);
* rotate correct: some o in O stays in its cell and its appearance changes (max over frames of the mean absolute
  difference between its located window and its first-frame pixels > ROTATE_CHANGE, on 0-255, over its pixels
  no other object hides: see :func:`appearance_change`);
* referring-expression correct: some object acted and the one that did the most of that kind of change (among objects
  not named only by the clip's other sentence, nor put under a cone, which end hidden) (largest displacement for
  slide / pick_place / contain, largest appearance change for rotate, among still objects whose turning shows:
  not spheres, cones or cylinders, which change only by reflections) is in O, and (for placements) ended in C;
* unnamed objects still: objects matched by no sentence (and at least SEEN_SHARE visible in the ground truth's
  first and last frames) stay in their starting cell and within STILL_PX pixels of their starting point.
Action precision = share of sentences correct; referring precision = share with the right object acting.
Every score comes with the locator's cell accuracy on held-out ground-truth frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ti2v.datagen.cater.scene import SIZES
from ti2v.datagen.speed import motion_end_frame

from .locator import Locator, cell_of

REQUIRED_KEYS = ("num_objects", "shape", "size", "positions", "visible", "centers_2d", "boxes_2d", "masks",
                 "num_actions",
                 "action_slot", "action_kind", "action_end")
ROTATE_CHANGE = 3.0
STILL_PX = 3.0
SYMMETRIC = ("cylinder",)  # rotating about the vertical axis leaves their pixels unchanged
UNCHANGED_BY_TURNING = SYMMETRIC + ("sphere", "cone")
MOVE_UNITS = 0.3  # table units (cells are 1 unit; the shortest slides move about 0.75)
CONTAIN_SLACK = 0.25  # table units beyond the cone's own half extent
SEEN_SHARE = 0.5
STOP_PX = 1.5
CLEAR_SHARE = 0.5
LABELS = (-3, -2, -1, 1, 2, 3)
FIT_CLIPS = 32
HELDOUT_CLIPS = 16


def _mode_keys(mode: str) -> tuple[str, ...]:
    return (f"match_objects_{mode}", f"match_cells_{mode}", f"match_targets_{mode}")


def check_keys(keys, mode: str, where: str) -> None:
    missing = [k for k in REQUIRED_KEYS + _mode_keys(mode) if k not in keys]
    if missing:
        raise KeyError(f"metric control on CATER-GEN: shards in {where} lack annotation(s) {', '.join(missing)}")


def _end_frame(track: np.ndarray, tol: float = STOP_PX) -> int:
    t = len(track)
    d = np.linalg.norm(track - track[-1], axis=-1)
    moving = np.nonzero(d > tol)[0]
    end = int(moving[-1]) + 1 if len(moving) else 0
    return t if end >= t - 1 and len(moving) else end


def appearance_change(video: np.ndarray, template, tracks, k: int) -> float:
    """Largest mean absolute difference (0-255) between object k's located window and its first-frame pixels (both
    through the view the locator matched, scaled to the object's distance), over frames where at least half of it
    is clear of nearer objects, counting only its clear pixels (so being passed in front of by another object is
    not mistaken for rotating)."""
    if not template.ok:
        return 0.0
    best = 0.0
    for f in range(1, len(video)):
        view = tracks.views[f][k]
        win, inside = view.window(video[f], tracks.corners[f, k])
        if not inside.all():
            continue
        m = view.mask2d > 0
        clear = m & ~tracks.covered[f][k]
        if clear.sum() < CLEAR_SHARE * m.sum():
            continue
        best = max(best, float(np.abs(win.astype(np.float32) - view.patch)[clear].mean()))
    return best


def seen_shares(ann: dict, k: int, idx: np.ndarray) -> tuple[float, float]:
    """How much of object k the ground truth shows in the clip's first and last frames: its mask's share of its
    (unoccluded) projected box, relative to the most it shows in any frame of the video (so the shape's own fill
    of its box cancels out)."""
    masks, boxes = np.asarray(ann["masks"]), np.asarray(ann["boxes_2d"], np.float64)[:, k]
    h, w = masks.shape[1:3]
    area = ((np.clip(boxes[:, 2], 0, w) - np.clip(boxes[:, 0], 0, w))
            * (np.clip(boxes[:, 3], 0, h) - np.clip(boxes[:, 1], 0, h)))
    fill = np.where(area > 0, (masks == k + 1).sum((1, 2)) / np.maximum(area, 1e-9), 0.0)
    full = fill.max()
    return (float(fill[idx[0]] / full), float(fill[idx[-1]] / full)) if full > 0 else (0.0, 0.0)


class CaterScorer:
    def __init__(self, locator: Locator, mode: str, locator_report: dict):
        self.locator, self.mode, self.locator_report = locator, mode, locator_report
        self._truth_tracks: dict[int, np.ndarray] = {}

    def truth_track(self, clip, templates) -> np.ndarray:
        """The ground-truth clip read by the same locator (so truth and generated motion ends compare alike)."""
        if clip.index not in self._truth_tracks:
            self._truth_tracks = {clip.index: self.locator.track(clip.video, clip.annotations, templates)[0]}
        return self._truth_tracks[clip.index]

    @classmethod
    def for_reader(cls, reader, cfg) -> "CaterScorer":
        from .data import ClipReader

        check_keys(reader.annotation_keys, reader.captions, str(reader.dir))
        train_dir = Path(reader.dir).parent / "train"
        test_clips = []
        fit_anns = []
        if train_dir != Path(reader.dir) and (train_dir / "manifest.json").exists():
            tr = ClipReader(train_dir, None, reader.captions, "random", cfg.seed, reader.T, limit=FIT_CLIPS)
            fit_anns = [c.annotations for c in tr]
            fit_source = f"{train_dir} ({len(fit_anns)} clips)"
            for c in reader:
                test_clips.append(c)
                if len(test_clips) >= HELDOUT_CLIPS:
                    break
            held_source = f"first {len(test_clips)} clips of the evaluated split (ground-truth frames)"
        else:
            allc = list(ClipReader(reader.dir, None, reader.captions, "random", cfg.seed, reader.T,
                                   limit=2 * HELDOUT_CLIPS))
            half = max(1, len(allc) // 2)
            fit_anns = [c.annotations for c in allc[:half]]
            test_clips = allc[half:] or allc[:half]
            fit_source = f"first {half} clips of {reader.dir} (no train split found)"
            held_source = f"{len(test_clips)} other clips of the evaluated split (ground-truth frames)"
        size_px = int(test_clips[0].video.shape[1])
        loc = Locator().fit(fit_anns, size_px)
        acc = loc.accuracy(test_clips)
        acc.update(fit_on=fit_source, measured_on=held_source)
        return cls(loc, reader.captions, acc)

    def score_clip(self, video: np.ndarray, clip) -> dict:
        ann = clip.annotations
        n = int(ann["num_objects"])
        idx = np.asarray(clip.frame_indices)
        templates = self.locator.templates(clip.video[0], ann)
        tr = self.locator.track_full(video, ann, templates)
        uv, xy = tr.uv, tr.xy
        pos = np.asarray(ann["positions"])[idx]
        vis = np.asarray(ann["visible"])[idx]
        start_cell = [cell_of(pos[0, k, :2]) for k in range(n)]
        end_cell = [cell_of(xy[-1, k]) if not np.isnan(xy[-1, k]).any() else None for k in range(n)]
        disp = np.nan_to_num(np.linalg.norm(uv[-1] - uv[0], axis=-1), nan=0.0)
        moved = np.nan_to_num(np.linalg.norm(xy[-1] - xy[0], axis=-1), nan=0.0) > MOVE_UNITS
        change = np.array([appearance_change(video, t, tr, k) for k, t in enumerate(templates)])
        seen = [seen_shares(ann, k, idx) for k in range(n)]
        mo = np.asarray(ann[f"match_objects_{self.mode}"])
        mc = np.asarray(ann[f"match_cells_{self.mode}"])
        mt = np.asarray(ann[f"match_targets_{self.mode}"])
        named = set()
        actions = []
        na = int(ann["num_actions"])
        all_cands = [[k for k in range(n) if mo[a, k]] or [int(ann["action_slot"][a])] for a in range(na)]
        for a in range(na):
            kind = str(ann["action_kind"][a])
            cands = all_cands[a]
            # objects only the other sentence names (or hides) may move too: they do not compete for "actor" here
            # and objects put under a cone (by either sentence) end hidden: their located displacement means nothing
            others = {k for b in range(na) if b != a for k in all_cands[b]} | set(np.nonzero(mt[:na, :n].any(0))[0])
            others -= set(cands)
            disp_a = np.where([k in others for k in range(n)], -1.0, disp)
            change_a = np.where([k in others for k in range(n)], -1.0, change)
            named.update(cands)
            cells = {(LABELS[i], LABELS[j]) for i in range(6) for j in range(6) if mc[a, i, j]}
            if not cells and "target_cell" in ann and kind in ("slide", "pick_place"):
                cells = {tuple(int(v) for v in ann["target_cell"][a])}
            targets = [k for k in range(n) if mt[a, k]]
            named.update(targets)
            subj = int(ann["action_slot"][a])
            if not any(templates[o].ok for o in cands) or (0 <= subj < n and min(seen[subj]) < SEEN_SHARE):
                # every candidate is (nearly) hidden in the given first frame (no appearance to find), or the ground
                # truth's own actor is mostly hidden at the start or at the end (its outcome cannot be seen)
                ok = ref_ok = None
            elif kind in ("slide", "pick_place"):
                ok = any(end_cell[o] in cells and moved[o] for o in cands)
                actor = int(np.argmax(disp_a))
                ref_ok = bool(moved[actor]) and actor in cands and end_cell[actor] in cells
            elif kind == "contain":
                reach = {o: SIZES.get(str(ann["size"][o]), 0.5) + CONTAIN_SLACK for o in cands}  # cone over it
                ok = any(moved[o] and np.linalg.norm(xy[-1, o] - pos[0, c, :2]) < reach[o]
                         for o in cands for c in targets)
                actor = int(np.argmax(disp_a))
                ref_ok = bool(moved[actor]) and actor in cands
            elif kind == "rotate" and all(str(ann["shape"][o]) in SYMMETRIC for o in cands):
                ok = ref_ok = None  # a spinning cylinder looks the same in every frame: not judgeable from pixels
            elif kind == "rotate":
                ok = any(end_cell[o] == start_cell[o] and change[o] > ROTATE_CHANGE for o in cands)
                # only shapes whose turning shows compete (a still sphere or cone changes only by reflections)
                turns = np.array([str(ann["shape"][k]) not in UNCHANGED_BY_TURNING for k in range(n)])
                actor = int(np.argmax(np.where((disp <= STILL_PX) & turns, change_a, -1)))
                ref_ok = actor in cands and change[actor] > ROTATE_CHANGE
            else:
                ok = ref_ok = False
            rec = {"kind": kind, "correct": None if ok is None else bool(ok),
                   "referring_correct": None if ref_ok is None else bool(ref_ok), "candidates": cands}
            if kind in ("slide", "pick_place", "contain") and 0 <= subj < n:
                # truth and generated read the same way (located 2D tracks); the annotated end is kept too
                rec["end_frame_truth"] = _end_frame(self.truth_track(clip, templates)[:, subj])
                rec["end_frame_annotated"] = motion_end_frame(int(ann["action_end"][a]), idx)
                rec["end_frame_generated"] = _end_frame(uv[:, subj]) if not np.isnan(uv[:, subj]).any() else len(idx)
            actions.append(rec)
        # objects the ground truth shows mostly hidden in the first or the last frame are not judged
        unnamed = [k for k in range(n) if k not in named and vis[-1, k] and templates[k].ok
                   and min(seen[k]) >= SEEN_SHARE]
        still = all(end_cell[k] == start_cell[k] and disp[k] <= STILL_PX for k in unnamed)
        return {
            "actions": actions,
            "action_correct": bool(all(a["correct"] is not False for a in actions)),
            "referring_correct": bool(all(a["referring_correct"] is not False for a in actions)),
            "unnamed_still": bool(still) if unnamed else None,
        }

    def summarize(self, records: list[dict]) -> dict:
        every = [a for r in records for a in r["actions"]]
        acts = [a for a in every if a["correct"] is not None]
        still = [r["unnamed_still"] for r in records if r["unnamed_still"] is not None]
        ends = [abs(a["end_frame_generated"] - a["end_frame_truth"]) for a in acts if "end_frame_truth" in a]
        by_kind = {}
        for a in acts:
            by_kind.setdefault(a["kind"], []).append(a["correct"])
        return {
            "clips": len(records), "actions": len(acts), "captions": self.mode,
            "actions_not_judgeable": len(every) - len(acts),
            "action_precision": float(np.mean([a["correct"] for a in acts])) if acts else None,
            "referring_precision": float(np.mean([a["referring_correct"] for a in acts])) if acts else None,
            "clip_all_actions_correct": float(np.mean([r["action_correct"] for r in records])) if records else None,
            "unnamed_still": float(np.mean(still)) if still else None,
            "end_frame_error": float(np.mean(ends)) if ends else None,
            "action_precision_by_kind": {k: float(np.mean(v)) for k, v in sorted(by_kind.items())},
            "locator_accuracy": self.locator_report["cell_accuracy"],
            "locator": self.locator_report,
            "thresholds": {"rotate_change": ROTATE_CHANGE, "still_px": STILL_PX, "stop_px": STOP_PX},
        }


def speed_plot(records: list[dict], etas: list[float], path, title: str = "") -> None:
    from .mnist_control import speed_plot as plot

    digit_like = [{"digits": [{"moving": True, "end_frame_truth": a["end_frame_truth"],
                               "end_frame_generated": a["end_frame_generated"]}
                              for a in r["actions"] if "end_frame_truth" in a]} for r in records]
    plot(digit_like, etas, path, title=title)
