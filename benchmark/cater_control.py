"""Exact controllability for CATER-GEN (action precision, referring-expression precision in the sense of MAGE+),
from the shards' own scene state, with objects located in generated frames by a judge (:mod:`.judge`: the
shipped learned judge by default, another judge file, or the template locator; its name, sha256 and measured
accuracy are reported next to every score).

Per clip and caption sentence (action a; explicit or ambiguous match sets stored by the generator):
* candidates O = ``match_objects_<mode>[a]`` (explicit: the named object; ambiguous: every object the referring
  expression matches), cells C = ``match_cells_<mode>[a]`` (explicit: the named cell; ambiguous: the quadrant);
* slide / pick_place correct: some o in O moved (more than MOVE_UNITS table units), ends (last frame, located)
  in a cell of C, and was seen lifted off the table in some frame for a pick-place, in none for a slide. Lifted
  is read from geometry, not from the judge's own opinion: every CATER move is a straight line over the table,
  at table height for a slide and 2 units up for a pick-place, so the camera ray through o's located centre
  passes over o's path (located start to located end) on the table for a slide and about 2 units above it in
  mid-carry; o counts as lifted when in some frame it passes at least LIFTED_UNITS (half the carry height)
  above (:func:`.table_geometry.height_over_path`);
* contain correct: some cone o in O moved and ends over the starting point of an object it can contain: one of
  ``match_targets_<mode>[a]`` that is not o itself and is smaller than o (the stored ambiguous target set of
  "the cone is ... containing the cone" holds the acting cone too), within o's half extent + CONTAIN_SLACK;
* rotate correct: some o in O stays in its cell and the judge sees it turned in some frame;
* referring-expression correct: the object that did the most of that kind of change (largest located
  displacement for slide / pick_place / contain; most surely turned among still cubes and snitches for rotate),
  leaving out objects only the clip's other sentence names and objects put under a cone, is in O, and (for
  placements) ended in C;
* not judgeable (counted by reason, left out of both precisions), only what the frames cannot show:
  ``first_look_hidden`` every candidate shows fewer than MIN_FIRST_PIXELS in the given first frame;
  ``actor_hidden`` the ground truth's actor shows less than SEEN_SHARE of itself in the clip's first or last
  frame; ``turn_not_shown`` a rotate whose turning no frame of the clip shows (a cylinder, or a cube sampled
  only at multiples of 90 degrees); ``not_finished`` the clip ends before the action does (slowest speeds);
* unnamed objects still: objects matched by no sentence (and at least SEEN_SHARE in sight in the ground truth's
  first and last frames) stay in their starting cell and within STILL_PX pixels of their starting point.
Pixel tolerances (STILL_PX, STOP_PX) are stated for 128 px frames and scale with the frame size.
Action precision = share of sentences correct; referring precision = share with the right object acting.
"""

from __future__ import annotations

import numpy as np

from ti2v.datagen.cater.actions import LIFT
from ti2v.datagen.cater.camera import CAMERA_POSITION
from ti2v.datagen.cater.scene import SIZES
from ti2v.datagen.speed import motion_end_frame

from .judge import TURNED_P, Judge, Tracks
from .judge_train import VIS_SHARE, shown_share, turn_label
from .table_geometry import cell_of, centre_height, height_over_path

REQUIRED_KEYS = ("num_objects", "shape", "size", "positions", "rotations", "visible", "centers_2d", "boxes_2d",
                 "masks", "num_actions", "action_slot", "action_kind", "action_end")
STILL_PX = 3.0  # at 128 px
TURNS = ("cube", "snitch")  # shapes whose turning shows (a sphere, cone or cylinder looks the same turned)
MOVE_UNITS = 0.3  # table units (cells are 1 unit; the shortest slides move about 0.75)
CONTAIN_SLACK = 0.25  # table units beyond the cone's own half extent
SEEN_SHARE = VIS_SHARE  # what the judge is trained to call "in sight"
STOP_PX = 1.5  # at 128 px
LABELS = (-3, -2, -1, 1, 2, 3)
HELDOUT_CLIPS = 16
LIFTED_UNITS = LIFT / 2  # table units above the object's path (a pick-place carries at LIFT)


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


def seen_shares(ann: dict, k: int, idx: np.ndarray) -> tuple[float, float]:
    """How much of object k the ground truth shows in the clip's first and last frames (:func:`shown_share`;
    0 while it is under a cone)."""
    share = shown_share(np.asarray(ann["masks"]), np.asarray(ann["boxes_2d"], np.float64), k)
    vis = np.asarray(ann["visible"])[:, k]
    return float(share[idx[0]] * vis[idx[0]]), float(share[idx[-1]] * vis[idx[-1]])


def turn_shown(ann: dict, k: int, idx: np.ndarray) -> bool:
    """Whether some frame of the clip shows object k turned (its yaw off every symmetry of its shape)."""
    yaw = np.asarray(ann["rotations"])[idx, k, 2]
    return bool((turn_label(str(ann["shape"][k]), yaw - yaw[0]) == 1).any())


def containable(ann: dict, cone: int, targets: list[int]) -> list[int]:
    """Of a contain sentence's targets, those cone ``cone`` can cover: not itself, and smaller than it."""
    size = lambda k: SIZES.get(str(ann["size"][k]), 0)  # noqa: E731
    return [c for c in targets if c != cone and size(c) < size(cone)]


def lift_heights(tr: Tracks, ann: dict) -> np.ndarray:
    """[n] the greatest height above its straight path (located first to located last table point) at which
    each object was seen (:func:`.table_geometry.height_over_path`); 0 for an object never seen after frame 1."""
    n = int(ann["num_objects"])
    out = np.zeros(n)
    for k in range(n):
        seen = np.asarray(tr.seen[1:, k], bool)
        xy = tr.xy[:, k]
        if not seen.any() or np.isnan(xy[[0, -1]]).any():
            continue
        h = centre_height(str(ann["shape"][k]), str(ann["size"][k]))
        out[k] = float(np.nanmax(height_over_path(CAMERA_POSITION, xy[1:][seen], h, xy[0], xy[-1])))
    return out


class CaterScorer:
    def __init__(self, judge: Judge, mode: str, judge_report: dict):
        self.judge, self.mode, self.judge_report = judge, mode, judge_report

    @classmethod
    def for_reader(cls, reader, cfg, device: str = "cpu") -> "CaterScorer":
        """The judge (``cfg.judge``, default :data:`.judge.DEFAULT`) and its accuracy on the evaluated split's first
        ground-truth clips (no fitting on the split)."""
        check_keys(reader.annotation_keys, reader.captions, str(reader.dir))
        judge = Judge.load(getattr(cfg, "judge", None), device=device)
        clips = []
        for c in reader:
            clips.append(c)
            if len(clips) >= HELDOUT_CLIPS:
                break
        acc = judge.accuracy(clips)
        acc.update(judge.describe(), measured_on=f"ground truth of the first {len(clips)} clips of {reader.dir}")
        return cls(judge, reader.captions, acc)

    def score_clip(self, video: np.ndarray, clip, tracks=None) -> dict:
        """One generated clip against the clip's caption (``tracks``: the judge's reading of ``video``, when
        already made, e.g. to score one video under both caption kinds)."""
        ann = clip.annotations
        n = int(ann["num_objects"])
        idx = np.asarray(clip.frame_indices)
        tr = tracks if tracks is not None else self.judge.track(video, ann, first_frame=clip.video[0])
        uv, xy = tr.uv, tr.xy
        pos = np.asarray(ann["positions"])[idx]
        start_cell = [cell_of(pos[0, k, :2]) for k in range(n)]
        end_cell = [cell_of(xy[-1, k]) if not np.isnan(xy[-1, k]).any() else None for k in range(n)]
        px = video.shape[1] / 128  # pixel tolerances are stated at 128 px
        disp = np.nan_to_num(np.linalg.norm(uv[-1] - uv[0], axis=-1), nan=0.0) / px
        moved = np.nan_to_num(np.linalg.norm(xy[-1] - xy[0], axis=-1), nan=0.0) > MOVE_UNITS
        turned = tr.turned.max(0) if len(tr.turned) else np.zeros(n)
        lifted = lift_heights(tr, ann) > LIFTED_UNITS
        seen = [seen_shares(ann, k, idx) for k in range(n)]
        truth_uv = np.asarray(ann["centers_2d"], np.float64)[idx]
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
            # objects only the other sentence names may move too: they do not compete for "actor" here; objects
            # put under a cone (by either sentence) end hidden, so their located displacement means nothing
            others = {k for b in range(na) if b != a for k in all_cands[b]} | set(np.nonzero(mt[:na, :n].any(0))[0])
            others -= set(cands)
            out = np.array([k in others for k in range(n)])
            disp_a = np.where(out, -1.0, disp)
            named.update(cands)
            cells = {(LABELS[i], LABELS[j]) for i in range(6) for j in range(6) if mc[a, i, j]}
            targets = [k for k in range(n) if mt[a, k]]
            named.update(targets)
            subj = int(ann["action_slot"][a])
            reason = None
            if not any(tr.ok[o] for o in cands):
                reason = "first_look_hidden"
            elif 0 <= subj < n and min(seen[subj]) < SEEN_SHARE:
                reason = "actor_hidden"
            elif kind == "rotate" and 0 <= subj < n and not turn_shown(ann, subj, idx):
                reason = "turn_not_shown"
            elif kind != "rotate" and int(ann["action_end"][a]) > int(idx[-1]):
                reason = "not_finished"
            if reason:
                ok = ref_ok = None
            elif kind in ("slide", "pick_place"):
                ok = any(end_cell[o] in cells and moved[o] and lifted[o] == (kind == "pick_place")
                         for o in cands)
                actor = int(np.argmax(disp_a))
                ref_ok = bool(moved[actor]) and actor in cands and end_cell[actor] in cells
            elif kind == "contain":
                reach = {o: SIZES.get(str(ann["size"][o]), 0.5) + CONTAIN_SLACK for o in cands}  # cone over it
                ok = any(moved[o] and np.linalg.norm(xy[-1, o] - pos[0, c, :2]) < reach[o]
                         for o in cands for c in containable(ann, o, targets))
                actor = int(np.argmax(disp_a))
                ref_ok = bool(moved[actor]) and actor in cands
            elif kind == "rotate":
                ok = any(end_cell[o] == start_cell[o] and turned[o] > TURNED_P for o in cands)
                turns = np.array([str(ann["shape"][k]) in TURNS for k in range(n)])
                actor = int(np.argmax(np.where((disp <= STILL_PX) & turns & ~out, turned, -1)))
                ref_ok = actor in cands and turned[actor] > TURNED_P
            else:
                ok = ref_ok = False
            rec = {"kind": kind, "correct": None if ok is None else bool(ok),
                   "referring_correct": None if ref_ok is None else bool(ref_ok), "candidates": cands}
            if reason:
                rec["not_judgeable"] = reason
            if kind in ("slide", "pick_place", "contain") and 0 <= subj < n:
                rec["end_frame_truth"] = _end_frame(truth_uv[:, subj] / px)
                rec["end_frame_annotated"] = motion_end_frame(int(ann["action_end"][a]), idx)
                rec["end_frame_generated"] = (_end_frame(uv[:, subj] / px) if not np.isnan(uv[:, subj]).any()
                                              else len(idx))
            actions.append(rec)
        unnamed = [k for k in range(n) if k not in named and tr.ok[k] and min(seen[k]) >= SEEN_SHARE]
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
        by_kind, reasons = {}, {}
        for a in acts:
            by_kind.setdefault(a["kind"], []).append(a["correct"])
        for a in every:
            if a.get("not_judgeable"):
                reasons[a["not_judgeable"]] = reasons.get(a["not_judgeable"], 0) + 1
        return {
            "clips": len(records), "actions": len(acts), "captions": self.mode,
            "actions_not_judgeable": len(every) - len(acts),
            "not_judgeable_share": (len(every) - len(acts)) / len(every) if every else None,
            "not_judgeable_reasons": dict(sorted(reasons.items())),
            "action_precision": float(np.mean([a["correct"] for a in acts])) if acts else None,
            "referring_precision": float(np.mean([a["referring_correct"] for a in acts])) if acts else None,
            "clip_all_actions_correct": float(np.mean([r["action_correct"] for r in records])) if records else None,
            "unnamed_still": float(np.mean(still)) if still else None,
            "end_frame_error": float(np.mean(ends)) if ends else None,
            "action_precision_by_kind": {k: float(np.mean(v)) for k, v in sorted(by_kind.items())},
            "judge_cell_accuracy": self.judge_report["cell_accuracy"],
            "judge": self.judge_report,
            "thresholds": {"turned_p": TURNED_P, "lifted_units": LIFTED_UNITS, "still_px": STILL_PX, "stop_px": STOP_PX,
                           "move_units": MOVE_UNITS},
        }


def speed_plot(records: list[dict], etas: list[float], path, title: str = "") -> dict:
    """mnist_control.speed_plot on the actions' end frames (against eta, or per clip at one fixed eta)."""
    from .mnist_control import speed_plot as plot

    digit_like = [{"digits": [{"moving": True, "end_frame_truth": a["end_frame_truth"],
                               "end_frame_generated": a["end_frame_generated"]}
                              for a in r["actions"] if "end_frame_truth" in a]} for r in records]
    return plot(digit_like, etas, path, title=title)
