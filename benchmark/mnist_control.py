"""Exact controllability for the Moving MNIST family, from the shards' own scene state.

Each digit's glyph (``digit_images``) is known, so it is found in every generated frame by template matching:
score(p) = NCC(frame window at p, glyph) - 10 * (share of the glyph's ink missing from the window), maximised over
every top-left position p in [0, 36]^2. The missing-ink term uses max-compositing (a drawn digit can only make
pixels brighter), so overlapping digits do not pull the match away; NCC breaks ties between bright regions.

Per clip (slots with label >= 0; ground truth = ``tracks[k, frame_indices]``):
* track error: mean Euclidean distance (px) between located and true top-left corners over frames 2..T, averaged
  over the moving digits;
* motion accuracy: every moving digit's phrase derived from its located track equals the phrase derived from its
  true clip track (at this speed a clip may end before the caption's bounce, so the true clip track, not the
  caption text, defines what must be visible; ``caption_consistency`` reports how often the two agree), and the
  digit ends within 3 px of where it should;
* distractor stillness: the static digit (moving = False) never strays more than 2 px from its true position;
* motion-end frame: first clip frame from which the digit stays within 1 px of its final position
  (T when it still moves in the last step); error = |generated - true| (the paper's Figure 6).
"""

from __future__ import annotations

import numpy as np

DIRS = {(0, 1): "right", (0, -1): "left", (1, 1): "down", (1, -1): "up"}
END_TOL_PX = 3.0
STILL_TOL_PX = 2.0
SEGMENT_TOL_PX = 2.0
MISSING_WEIGHT = 10.0
STOP_TOL_PX = 1.0
REQUIRED_KEYS = ("labels", "moving", "tracks", "digit_images")


def to_gray(video: np.ndarray) -> np.ndarray:
    """uint8 [T, H, W, C] or [T, H, W] -> float32 [T, H, W] in [0, 1]."""
    v = np.asarray(video)
    if v.ndim == 4:
        v = v.mean(-1) if v.shape[-1] > 1 else v[..., 0]
    return v.astype(np.float32) / 255.0


def locate(frame: np.ndarray, glyph: np.ndarray) -> tuple[int, int]:
    """Top-left (x, y) of ``glyph`` [h, w] float in ``frame`` [H, W] float (both [0, 1])."""
    import cv2

    h, w = glyph.shape
    f = np.ascontiguousarray(frame, dtype=np.float32)
    g = np.ascontiguousarray(glyph, dtype=np.float32)
    ncc = cv2.matchTemplate(f, g, cv2.TM_CCOEFF_NORMED)
    ncc = np.nan_to_num(ncc, nan=-1.0, posinf=-1.0, neginf=-1.0)
    win = np.lib.stride_tricks.sliding_window_view(f, (h, w))  # [H-h+1, W-w+1, h, w]
    missing = np.maximum(g - win, 0).sum((2, 3)) / max(float(g.sum()), 1e-6)
    score = ncc - MISSING_WEIGHT * missing
    y, x = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(x), int(y)


def locate_track(video_gray: np.ndarray, glyph_u8: np.ndarray) -> np.ndarray:
    g = glyph_u8.astype(np.float32) / 255.0
    return np.array([locate(fr, g) for fr in video_gray], dtype=np.float64).reshape(-1, 2)  # [T, 2] (x, y)


def segments(track: np.ndarray, tol: float = SEGMENT_TOL_PX) -> tuple[int | None, list[int]]:
    """Dominant axis (0 = x, 1 = y; None when still) and the list of movement directions (+1 / -1) along it."""
    track = np.asarray(track, dtype=np.float64)
    ranges = track.max(0) - track.min(0)
    if ranges.max() < tol:
        return None, []
    axis = int(np.argmax(ranges))
    p = track[:, axis]
    segs: list[int] = []
    anchor = p[0]
    direction = 0
    for v in p[1:]:
        if direction == 0:
            if abs(v - anchor) >= tol:
                direction = 1 if v > anchor else -1
                anchor = v
        elif (v - anchor) * direction > 0:
            anchor = v
        elif abs(v - anchor) >= tol:
            segs.append(direction)
            direction = -direction
            anchor = v
    if direction:
        segs.append(direction)
    return axis, segs


def derive_phrase(track: np.ndarray, tol: float = SEGMENT_TOL_PX) -> str:
    """'still', 'up', 'left then right', ... from a top-left track [T, 2] (image y grows downwards).

    Hysteresis reading (a direction change counts once the digit went back ``tol`` px); used when the
    generator's own checker (``ti2v.datagen.mnist.phrases``) is not importable, and by the tests.
    """
    axis, segs = segments(track, tol)
    if axis is None:
        return "still"
    return " then ".join(DIRS[(axis, s)] for s in segs)


def clip_phrase(track: np.ndarray, bouncing: bool) -> str:
    """The phrase a clip track shows. Uses the generator's own checker (datagen/mnist/phrases.py, per-step
    reading with a 2 px jitter tolerance) when present, so the benchmark reads tracks the way the captions were
    checked; falls back to :func:`derive_phrase`."""
    try:
        from ti2v.datagen.mnist.phrases import phrase_from_track
    except ImportError:
        return derive_phrase(track)
    p = phrase_from_track(np.asarray(track, np.float64), stops=not bouncing, tolerance=SEGMENT_TOL_PX)
    return "still" if p == "static" else p


def phrases_match(generated: str, truth: str, bouncing: bool) -> bool:
    """Bouncing datasets (single, double) name only the first bounce: compare the first two segments."""
    if bouncing:
        return generated.split(" then ")[:2] == truth.split(" then ")[:2]
    return generated == truth


def caption_consistent(truth_clip_phrase: str, caption_phrase: str, bouncing: bool) -> bool:
    a, b = truth_clip_phrase.split(" then "), caption_phrase.split(" then ")
    if bouncing:
        return a[:2] == b[:2] or (len(a) == 1 and a[0] == b[0])
    return a == b[: len(a)]


def motion_end_frame(track: np.ndarray, tol: float = STOP_TOL_PX) -> int:
    t = len(track)
    d = np.abs(np.asarray(track, dtype=np.float64) - track[-1]).max(1)
    moving = np.nonzero(d > tol)[0]
    end = int(moving[-1]) + 1 if len(moving) else 0
    return t if end >= t - 1 and len(moving) else end


def check_annotations(ann: dict) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in ann]
    if missing:
        raise KeyError(f"MNIST controllability needs shard annotations {', '.join(missing)} (missing)")


def score_clip(video: np.ndarray, ann: dict, frame_indices: np.ndarray, dataset: str) -> dict:
    """video: uint8 [T, H, W, C]; returns the per-clip controllability record."""
    check_annotations(ann)
    gray = to_gray(video)
    labels = np.asarray(ann["labels"])
    moving = np.asarray(ann["moving"]).astype(bool)
    tracks = np.asarray(ann["tracks"])
    idx = np.asarray(frame_indices)
    bouncing = dataset in ("mnist-single", "mnist-double")
    phrases = list(ann.get("phrases", [""] * len(labels)))
    rec = {"digits": [], "motion_correct": True, "distractor_still": None}
    errs, end_errs = [], []
    for k in range(len(labels)):
        if labels[k] < 0:
            continue
        gt = tracks[k, idx].astype(np.float64)
        gen = locate_track(gray[1:], np.asarray(ann["digit_images"][k]))
        gen = np.concatenate([gt[:1], gen])  # frame 1 is the given input: its positions are known
        dist = np.linalg.norm(gen - gt, axis=1)
        d = {"slot": k, "label": int(labels[k]), "moving": bool(moving[k]),
             "track_error_px": float(dist[1:].mean()) if len(dist) > 1 else 0.0}
        if moving[k]:
            ph_gen, ph_gt = clip_phrase(gen, bouncing), clip_phrase(gt, bouncing)
            end_ok = bool(dist[-1] <= END_TOL_PX)
            e_gen, e_gt = motion_end_frame(gen), motion_end_frame(gt)
            d.update(phrase_generated=ph_gen, phrase_truth=ph_gt, caption_phrase=str(phrases[k]),
                     caption_consistent=caption_consistent(ph_gt, str(phrases[k]), bouncing) if phrases[k] else None,
                     phrase_ok=(phrases_match(derive_phrase(gen), derive_phrase(gt), bouncing)
                                if ph_gen == ph_gt == "irregular" else phrases_match(ph_gen, ph_gt, bouncing)),
                     end_ok=end_ok,
                     end_frame_generated=e_gen, end_frame_truth=e_gt)
            if "stop_frame" in ann:
                from ti2v.datagen.speed import motion_end_frame as gt_end

                d["end_frame_annotated"] = gt_end(int(ann["stop_frame"][k]), idx)
            rec["motion_correct"] &= d["phrase_ok"] and end_ok
            errs.append(d["track_error_px"])
            end_errs.append(abs(e_gen - e_gt))
        else:
            disp = float(np.linalg.norm(gen - gt[0], axis=1).max())
            d.update(max_displacement_px=disp)
            rec["distractor_still"] = bool(disp <= STILL_TOL_PX)
        rec["digits"].append(d)
    rec["track_error_px"] = float(np.mean(errs)) if errs else 0.0
    rec["end_frame_error"] = float(np.mean(end_errs)) if end_errs else 0.0
    return rec


def summarize(records: list[dict]) -> dict:
    if not records:
        return {}
    moving = [d for r in records for d in r["digits"] if d["moving"]]
    still = [r["distractor_still"] for r in records if r["distractor_still"] is not None]
    cons = [d["caption_consistent"] for d in moving if d.get("caption_consistent") is not None]
    return {
        "clips": len(records),
        "moving_digits": len(moving),
        "motion_accuracy": float(np.mean([r["motion_correct"] for r in records])),
        "phrase_accuracy": float(np.mean([d["phrase_ok"] for d in moving])) if moving else None,
        "end_position_accuracy": float(np.mean([d["end_ok"] for d in moving])) if moving else None,
        "track_error_px": float(np.mean([r["track_error_px"] for r in records])),
        "distractor_stillness": float(np.mean(still)) if still else None,
        "distractors": len(still),
        "end_frame_error": float(np.mean([abs(d["end_frame_generated"] - d["end_frame_truth"]) for d in moving])) if moving else None,
        "caption_consistency_of_truth": float(np.mean(cons)) if cons else None,
        "tolerances_px": {"end": END_TOL_PX, "still": STILL_TOL_PX, "segment": SEGMENT_TOL_PX, "stop": STOP_TOL_PX},
    }


def speed_plot_data(records: list[dict], etas: list[float]) -> dict:
    """What ``speed_plot`` draws: one point per moving object of every clip.

    With several speeds, the motion-end frame (truth and generated) against eta (Figure 6). With one fixed speed
    (``evaluate --speed 0.5``) that would be a single column of dots, so each clip's generated end frame is drawn
    against its true one instead (the diagonal is a perfect model)."""
    etas_used, truth, generated = [], [], []
    for r, eta in zip(records, etas):
        for d in r["digits"]:
            if d["moving"]:
                etas_used.append(float(eta))
                truth.append(int(d["end_frame_truth"]))
                generated.append(int(d["end_frame_generated"]))
    fixed = len(set(float(e) for e in etas)) == 1 if len(etas) else False
    return {"mode": "fixed_speed" if fixed else "speed_sweep", "eta": float(etas[0]) if fixed else None,
            "eta_per_point": etas_used, "truth": truth, "generated": generated}


def speed_plot(records: list[dict], etas: list[float], path, title: str = "") -> dict:
    """Figure-6 style: motion-end frame against speed eta, ground truth (blue) and generated (red); at one fixed
    eta, generated against true end frame per clip (``speed_plot_data``). Returns the plotted data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = speed_plot_data(records, etas)
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    if data["mode"] == "fixed_speed":
        gt, gen = data["truth"], data["generated"]
        top = max([*gt, *gen, 1])
        ax.plot([0, top], [0, top], color="0.6", lw=0.8, zorder=1, label="generated = truth")
        # one point per clip (and moving object); a darker point is several clips with the same pair
        ax.scatter(gt, gen, s=16, color="tab:red", alpha=0.35, lw=0, zorder=3, label="clips")
        ax.set_xlabel("true frame at which motion ends")
        ax.set_ylabel("generated frame at which motion ends")
        ax.set_xlim(-0.5, top + 0.5)
        ax.set_ylim(-0.5, top + 0.5)
        ax.set_title((title + "\n" if title else "") + f"fixed speed eta = {data['eta']:g}, one point per clip",
                     fontsize=9)
    else:
        # each clip has its own true end (it depends on where the object starts), so truth is drawn per clip too
        ax.scatter(data["eta_per_point"], data["truth"], s=28, facecolors="none", edgecolors="tab:blue", lw=1.0,
                   label="ground truth")
        ax.scatter(data["eta_per_point"], data["generated"], s=10, color="tab:red", alpha=0.8, label="generated",
                   zorder=3)
        ax.set_xlabel("speed eta")
        ax.set_ylabel("frame at which motion ends")
        ax.set_xlim(0, 1)
        ax.set_title(title or "motion-end frame vs speed")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return data
