"""Trajectory control (``ti2v-bench evaluate --trajectory-control``), exact from the shards' scene state.

For every clip the model is given the ground-truth track of one object's centre as a sparse trajectory and must
move that object along it; the object is then located in the generated frames and compared with the track.

Interface: a model takes trajectories when its ``generate`` has a keyword parameter named ``trajectories``; it is
called with ``trajectories`` = float32 [P, T, 2] absolute pixel positions (x right, y down, pixel (i, j) covers
[i, i+1] x [j, j+1], so the centre of pixel 0 is 0.5), one per clip frame, frame 0 = the point in the given first
frame. Here P = 1:

* Moving MNIST family: the first moving digit; centre = top-left corner ``tracks[k, frame_indices]`` + 14 (the
  glyph is 28 x 28), located by the control metric's glyph matcher (:func:`.mnist_control.locate_track`);
* CATER-GEN: the first action's actor (``action_slot[0]``); centre = ``centers_2d[frame_indices, k]``, located by
  the CATER judge (:meth:`.judge.Judge.track`, as the control metric reads objects).

Errors over generated frames 2..T, in pixels of the shard's resolution (nothing scaled): trajectory error = mean
Euclidean distance between located and given centres; end-point error = that distance at the last frame. A clip
whose object the judge cannot locate in some frame (NaN) is counted as not located and left out of the means.
"""

from __future__ import annotations

import inspect

import numpy as np

from . import mnist_control
from .models_adapter import CallableModel

ENDPOINT_TOL_PX = 3.0
GLYPH_HALF = 14  # half the 28 px MNIST glyph: top-left corner -> centre
NOT_APPLICABLE = {"status": "not applicable", "reason": "the model takes no trajectory input"}
OBJECTS = {"mnist": "first moving digit", "cater": "first action's actor"}
CATER_KEYS = ("num_objects", "shape", "size", "positions", "centers_2d", "boxes_2d", "masks", "action_slot")


def takes_trajectories(fn) -> bool:
    """Whether callable ``fn`` has a keyword parameter named ``trajectories`` (``**kwargs`` does not count: a
    model must say it reads them)."""
    try:
        p = inspect.signature(fn).parameters.get("trajectories")
    except (TypeError, ValueError):
        return False
    return p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)


def model_takes_trajectories(model) -> bool:
    """A plug-in's wrapper always has the parameter but forwards it only when the wrapped callable takes it, so
    the wrapped callable decides."""
    if isinstance(model, CallableModel):
        return model.takes_trajectories
    gen = getattr(model, "generate", None)
    return gen is not None and takes_trajectories(gen)


class TrajectoryScorer:
    def __init__(self, kind: str, judge=None):
        self.kind, self.judge = kind, judge

    @classmethod
    def for_reader(cls, reader, cfg, device: str = "cpu", judge=None) -> "TrajectoryScorer":
        """``judge``: the control metric's CATER judge when it was built already (one reader for both metrics)."""
        dataset = reader.dataset
        need = (mnist_control.REQUIRED_KEYS if dataset.startswith("mnist") else
                CATER_KEYS if dataset.startswith("cater") else None)
        if need is None:
            raise KeyError(f"--trajectory-control: no trajectory scorer for dataset {dataset!r}")
        missing = [k for k in need if k not in reader.annotation_keys]
        if missing:
            raise KeyError(f"--trajectory-control on {dataset}: shards in {reader.dir} lack annotation(s) "
                           f"{', '.join(missing)}")
        if dataset.startswith("mnist"):
            return cls("mnist")
        if judge is None:
            from .judge import Judge

            judge = Judge.load(getattr(cfg, "judge", None), device=device)
        return cls("cater", judge)

    def target(self, clip) -> tuple[int, np.ndarray]:
        """(slot of the object, its true centre per clip frame, float32 [T, 2])."""
        ann, idx = clip.annotations, np.asarray(clip.frame_indices)
        if self.kind == "mnist":
            slots = np.nonzero(np.asarray(ann["moving"]).astype(bool) & (np.asarray(ann["labels"]) >= 0))[0]
            if not len(slots):
                raise KeyError(f"--trajectory-control: clip {clip.index} has no moving digit")
            k = int(slots[0])
            return k, (np.asarray(ann["tracks"])[k, idx] + GLYPH_HALF).astype(np.float32)
        k = int(ann["action_slot"][0])
        return k, np.asarray(ann["centers_2d"])[idx, k].astype(np.float32)

    def locate(self, video: np.ndarray, clip, k: int) -> np.ndarray:
        """Object k's centre in generated frames 2..T, float64 [T - 1, 2] (NaN where the judge lost it)."""
        if self.kind == "mnist":
            glyph = np.asarray(clip.annotations["digit_images"][k])
            return mnist_control.locate_track(mnist_control.to_gray(video[1:]), glyph) + GLYPH_HALF
        tr = self.judge.track(video, clip.annotations, first_frame=clip.video[0])
        return np.asarray(tr.uv, np.float64)[1:, k]

    def score_clip(self, video: np.ndarray, clip, k: int, given: np.ndarray) -> dict:
        dist = np.linalg.norm(self.locate(video, clip, k) - np.asarray(given, np.float64)[1:], axis=1)
        if np.isnan(dist).any():
            return {"trajectory_error_px": None, "endpoint_error_px": None}
        return {"trajectory_error_px": float(dist.mean()), "endpoint_error_px": float(dist[-1])}

    def summarize(self, records: list[dict]) -> dict:
        done = [r for r in records if r["trajectory_error_px"] is not None]
        end = [r["endpoint_error_px"] for r in done]
        return {
            "clips": len(records), "samples": 1, "object": OBJECTS[self.kind],
            "located_by": ("glyph template matching" if self.kind == "mnist"
                           else self.judge.describe()["file"]),
            "not_located": len(records) - len(done),
            "trajectory_error_px": float(np.mean([r["trajectory_error_px"] for r in done])) if done else None,
            "endpoint_error_px": float(np.mean(end)) if done else None,
            "endpoint_within_3px": float(np.mean(np.asarray(end) <= ENDPOINT_TOL_PX)) if done else None,
        }
