"""Locating CATER-GEN objects in (generated) frames, with an accuracy measured on ground-truth frames.

Method, per object k of a clip:
1. appearance: its pixels in the given first frame (instance mask ``masks[0] == k + 1``, the RGB under it);
2. 2D position in frame t: masked template matching (mean absolute difference over the mask, truncated at 40
   grey levels so occluded pixels cost a constant; the previous place is kept unless another is better by more
   than 2 grey levels per mask pixel, so a partly covered object stays put) over the whole frame, restricted
   to places whose back-projection lies over the table (resting, or lifted by a pick-place); the object's
   point = its annotated first-frame centre (``centers_2d[0]``, exact, unaffected by occlusion) + the shift of
   the match since frame 1;
3. table position: the camera ray through that point (the fixed CATER camera, ``ti2v.datagen.cater.camera``)
   intersected with the plane z = h(shape, size). The heights h are the locator's learned parameters: fitted
   on training clips so that the annotated silhouette centres (``centers_2d``) back-project onto the annotated
   base centres (``positions``), by a 1-D search per (shape, size) class. The table point of frame t is the
   annotated first-frame base position plus the back-projected displacement since frame 1 (the first frame's scene state is part of the input);
4. cell: ``ti2v.datagen.cater.grid.cell_of``.

``Locator.accuracy(clips)`` runs the whole method on ground-truth frames of clips it was not fitted on and
returns the share of (frame, visible object) pairs put in the right cell: the number reported next to every
CATER controllability score.
"""

from __future__ import annotations

import numpy as np

HEIGHT_GRID = np.linspace(0.0, 1.6, 81)
STAY_MARGIN = 1.0
TRUNCATE = 40.0
TABLE_HALF = 3.5  # objects stay over the 6x6 grid (plus a margin)
LIFT = 2.2  # pick-place lifts objects 2 units


def _camera(size: int):
    from ti2v.datagen.cater.camera import Camera

    return Camera(size)


def backproject(cam, uv: np.ndarray, h: np.ndarray | float) -> np.ndarray:
    """Pixel points [..., 2] -> table points [..., 2] on the plane z = h."""
    uv = np.asarray(uv, np.float64)
    d_cam = np.stack([(uv[..., 0] - cam.size / 2) / cam.focal_px, -(uv[..., 1] - cam.size / 2) / cam.focal_px,
                      -np.ones(uv.shape[:-1])], -1)
    d = d_cam @ cam.rotation.T
    t = (np.asarray(h, np.float64) - cam.position[2]) / d[..., 2]
    return cam.position[:2] + t[..., None] * d[..., :2]


def cell_of(xy) -> tuple[int, int]:
    from ti2v.datagen.cater.grid import cell_of as co

    return co(float(xy[0]), float(xy[1]))


class Template:
    def __init__(self, frame0: np.ndarray, mask: np.ndarray):
        ys, xs = np.nonzero(mask)
        self.ok = len(ys) > 0
        if not self.ok:
            return
        pad = 1
        y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, mask.shape[0])
        x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, mask.shape[1])
        self.patch = np.ascontiguousarray(frame0[y0:y1, x0:x1].astype(np.float32))
        self.mask2d = mask[y0:y1, x0:x1].astype(np.float32)
        self.patch_chw = np.ascontiguousarray(self.patch.transpose(2, 0, 1))
        my, mx = np.nonzero(mask[y0:y1, x0:x1])
        self.centroid = np.array([mx.mean() + 0.5, my.mean() + 0.5])  # pixel-area convention of the annotations
        self.origin = np.array([x0, y0])

    def locate(self, frame: np.ndarray, prev: np.ndarray | None = None, allowed: np.ndarray | None = None
               ) -> np.ndarray:
        """Top-left corner of the best match over the whole frame; ``allowed`` (bool, one entry per corner
        position) restricts it to places on or above the table; ``prev`` is kept unless clearly beaten."""
        h, w = self.patch.shape[:2]
        f = frame.astype(np.float32)
        if h > f.shape[0] or w > f.shape[1]:
            return self.origin.astype(np.float64)
        # robust masked difference: per-pixel mean absolute difference over channels, truncated at TRUNCATE so
        # that pixels covered by another object cost a constant instead of dominating the match
        win = np.lib.stride_tricks.sliding_window_view(f, (h, w), axis=(0, 1))  # [ny, nx, C, h, w]
        diff = np.abs(win - self.patch_chw[None, None]).mean(2)
        res = (np.minimum(diff, TRUNCATE) * self.mask2d).sum((2, 3))
        if allowed is not None and allowed.any():
            res = np.where(allowed, res, np.inf)
        y, x = np.unravel_index(int(np.argmin(res)), res.shape)
        if prev is not None:
            # hysteresis: keep the previous place unless a clearly better match exists elsewhere
            py, px = int(prev[1]), int(prev[0])
            if 0 <= py < res.shape[0] and 0 <= px < res.shape[1]:
                if res[py, px] <= STAY_MARGIN * res[y, x] + 2.0 * float(self.mask2d.sum()):
                    y, x = py, px
        return np.array([x, y], np.float64)

    def over_table(self, cam, start: np.ndarray, height: float, frame_shape: tuple[int, int]) -> np.ndarray:
        """bool [ny, nx]: corner positions whose object point (``start`` moved with the corner) back-projects
        over the table, resting (z = height) or lifted by a pick-place (up to LIFT above)."""
        h, w = self.patch.shape[:2]
        gy, gx = np.mgrid[0 : frame_shape[0] - h + 1, 0 : frame_shape[1] - w + 1]
        pts = np.stack([start[0] + gx - self.origin[0], start[1] + gy - self.origin[1]], -1).astype(np.float64)
        ok = np.zeros(gx.shape, bool)
        for z in (height, height + LIFT / 2, height + LIFT):
            ok |= (np.abs(backproject(cam, pts, z)) <= TABLE_HALF).all(-1)
        return ok


class Locator:
    def __init__(self, heights: dict | None = None, default_height: float = 0.4):
        self.heights = dict(heights or {})
        self.default_height = default_height
        self.fit_pairs = 0

    def height(self, shape: str, size: str) -> float:
        return self.heights.get(f"{shape}/{size}", self.heights.get(f"*/{size}", self.default_height))

    def fit(self, annotation_list: list[dict], size_px: int) -> "Locator":
        """Fit the per-(shape, size) heights on annotated (centre_2d, base position) pairs."""
        cam = _camera(size_px)
        groups: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        for ann in annotation_list:
            n = int(ann["num_objects"])
            vis = np.asarray(ann["visible"])
            for k in range(n):
                key = f"{ann['shape'][k]}/{ann['size'][k]}"
                pos = np.asarray(ann["positions"])[:, k]
                on_table = vis[:, k] & (pos[:, 2] < 0.05)
                if on_table.any():
                    groups.setdefault(key, []).append((np.asarray(ann["centers_2d"])[on_table, k], pos[on_table, :2]))
                    groups.setdefault(f"*/{ann['size'][k]}", []).append(groups[key][-1])
        for key, pairs in groups.items():
            uv = np.concatenate([p[0] for p in pairs])
            xy = np.concatenate([p[1] for p in pairs])
            errs = [np.linalg.norm(backproject(cam, uv, h) - xy, axis=1).mean() for h in HEIGHT_GRID]
            self.heights[key] = float(HEIGHT_GRID[int(np.argmin(errs))])
            if not key.startswith("*/"):
                self.fit_pairs += len(uv)
        return self

    def templates(self, frame0: np.ndarray, ann: dict) -> list[Template | None]:
        m0 = np.asarray(ann["masks"])[0]
        return [Template(frame0, m0 == k + 1) for k in range(int(ann["num_objects"]))]

    def track(self, video: np.ndarray, ann: dict, templates=None) -> tuple[np.ndarray, np.ndarray]:
        """video [T, H, W, C] -> (pixel points [T, n, 2], table points [T, n, 2]); NaN where not locatable."""
        uv, xy, _ = self.track_full(video, ann, templates)
        return uv, xy

    def track_full(self, video: np.ndarray, ann: dict, templates=None):
        """As :meth:`track`, plus the matched template corners [T, n, 2]."""
        cam = _camera(video.shape[1])
        templates = templates or self.templates(video[0], ann)
        n = len(templates)
        uv = np.full((len(video), n, 2), np.nan)
        corners = np.full((len(video), n, 2), np.nan)
        c0 = np.asarray(ann["centers_2d"])[0] if "centers_2d" in ann else None
        for k, t in enumerate(templates):
            if not t.ok:
                continue
            # the first frame's scene state is known exactly: its annotated centre, moved by the matched shift
            start = c0[k] if c0 is not None and not np.isnan(c0[k]).any() else t.origin + t.centroid
            allowed = t.over_table(cam, start, self.height(ann["shape"][k], ann["size"][k]), video.shape[1:3])
            tl = t.origin.astype(np.float64)
            for f in range(len(video)):
                tl = t.locate(video[f], tl, allowed)
                corners[f, k] = tl
                uv[f, k] = start + (tl - t.origin)
        hs = np.array([self.height(ann["shape"][k], ann["size"][k]) for k in range(n)])
        xy = backproject(cam, uv, hs[None, :])
        if "positions" in ann:
            # the first frame's table positions are known: add the located displacement on the table to them
            p0 = np.asarray(ann["positions"], np.float64)[0, :n, :2]
            xy = p0[None] + (xy - xy[:1])
        return uv, xy, corners

    def accuracy(self, clips) -> dict:
        """Cell accuracy of the whole method on ground-truth frames (visible, first-frame-visible objects)."""
        right = total = 0
        px_err = []
        for clip in clips:
            ann = clip.annotations
            uv, xy = self.track(clip.video, ann)
            pos = np.asarray(ann["positions"])[clip.frame_indices]
            vis = np.asarray(ann["visible"])[clip.frame_indices]
            c2d = np.asarray(ann["centers_2d"])[clip.frame_indices]
            for f in range(len(clip.video)):
                for k in range(uv.shape[1]):
                    if not vis[f, k] or np.isnan(xy[f, k]).any() or pos[f, k, 2] > 0.05:
                        continue  # hidden, unlocatable, or lifted mid pick-place (cells are named on the table)
                    total += 1
                    right += cell_of(xy[f, k]) == cell_of(pos[f, k, :2])
                    px_err.append(np.linalg.norm(uv[f, k] - c2d[f, k]))
        return {"cell_accuracy": right / total if total else None, "objects_frames": total,
                "mean_2d_error_px": float(np.mean(px_err)) if px_err else None,
                "heights": dict(sorted(self.heights.items())), "fit_pairs": self.fit_pairs}
