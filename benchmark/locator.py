"""Locating CATER-GEN objects in (generated) frames, with an accuracy measured on ground-truth frames.

Method, per clip:
1. appearance: each object's pixels in the given first frame (instance mask ``masks[0] == k + 1``, the RGB
   under it), and as last seen (metal objects' reflections change as they move; each pixel matches the nearer
   of the two looks);
2. 2D position in frame t: all objects tracked jointly (:class:`ClipTracker`): masked template matching (mean
   absolute difference over the mask, truncated) over the whole frame, restricted to places whose
   back-projection lies over the table (resting, or lifted by a pick-place), with occlusion reasoning (an object
   may hide behind nearer located objects, and is not on farther ones seen whole), a motion prior (straying far
   from where its last step would bring it costs) and hysteresis (a partly covered object stays put); the
   object's point = its annotated first-frame centre (``centers_2d[0]``, exact, unaffected by occlusion) + the
   shift of the match since frame 1;
3. table position: the camera ray through that point (the fixed CATER camera, ``ti2v.datagen.cater.camera``)
   intersected with the plane z = h(shape, size). The heights h are the locator's learned parameters: fitted
   on training clips so that the annotated silhouette centres (``centers_2d``) back-project onto the annotated
   base centres (``positions``), by a 1-D search per (shape, size) class. The table point of frame t is the
   annotated first-frame base position plus the back-projected displacement since frame 1 (the first frame's
   scene state is part of the input);
4. cell: ``ti2v.datagen.cater.grid.cell_of``.

``Locator.accuracy(clips)`` runs the whole method on ground-truth frames of clips it was not fitted on and
returns the share of (frame, visible object) pairs put in the right cell: the number reported next to every
CATER controllability score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HEIGHT_GRID = np.linspace(0.0, 1.6, 81)
MIN_PIXELS = 8  # first-look pixels (at 128x128, scaled with the frame's area) below which an object is not looked for
# matching costs are per object pixel, in grey levels (0-255, mean over RGB)
TRUNCATE = 40.0  # most one pixel costs: an unknown occluder's pixels cost a constant instead of dominating
OCCLUDED = 25.0  # most a pixel behind a nearer located object costs: above a moving metal object's true match
SETTLED = 4.0  # an object matching its last place this well is still there, seen whole
STAY_PER_PIXEL = 2.0  # hysteresis: the last place is kept unless another is better by this much...
LOST = 22.0  # ...and no worse than this (else the object is hidden, as under a cone, and stays where it was)
MOTION = 0.2  # cost per pixel of distance from where the last step would bring the object...
FREE_RADIUS = 0.05  # ...beyond this share of the image width
LOOK_OK = 20.0  # an object's last look is learnt only where it still matches its first look this well
UNCHANGED = 6.0  # a pixel within this of its first-frame value has not changed
FRONT_MARGIN = 2.0  # of two overlapping objects, the one that explains the shared pixels better by this is in front
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


def _overlap(corner: np.ndarray, hw: tuple[int, int], shape: tuple[int, int]):
    """Where an [h, w] window with its top-left at ``corner`` meets a frame of ``shape``: (frame slices, window
    slices), or None when they do not meet."""
    x0, y0 = int(corner[0]), int(corner[1])
    ys, xs = slice(max(y0, 0), min(y0 + hw[0], shape[0])), slice(max(x0, 0), min(x0 + hw[1], shape[1]))
    if ys.stop <= ys.start or xs.stop <= xs.start:
        return None
    return (ys, xs), (slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0))


def _placed(values: np.ndarray, corner: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A frame-sized float32 map holding ``values`` [h, w] with their top-left at ``corner`` (clipped), inf
    elsewhere."""
    out = np.full(shape, np.inf, np.float32)
    hit = _overlap(corner, values.shape, shape)
    if hit:
        out[hit[0]] = values[hit[1]]
    return out


class Template:
    """One object's first look: its pixels in the given first frame (``mask``); ``ok`` False if it shows too few
    of them to be looked for."""

    def __init__(self, frame0: np.ndarray, mask: np.ndarray):
        ys, xs = np.nonzero(mask)
        # a few pixels are no appearance to look for (8 at 128x128, scaled with the frame's area)
        self.ok = len(ys) >= max(2, round(MIN_PIXELS * mask.size / 128**2))
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

    def pixel_costs(self, window: np.ndarray, look: np.ndarray | None) -> np.ndarray:
        """Per-pixel cost of seeing ``window`` (float32 [..., C, h, w]) where the object is: mean absolute
        difference over channels to its first look or, if nearer, to ``look`` (float32 [C, h, w], the object as
        last seen: metal objects' reflections change as they move), truncated at TRUNCATE so that pixels of an
        unknown occluder cost a constant instead of dominating the match."""
        cost = np.abs(window - self.patch_chw).mean(-3)
        if look is not None:
            cost = np.minimum(cost, np.abs(window - look).mean(-3))
        return np.minimum(cost, TRUNCATE)

    def cost_at(self, frame: np.ndarray, corner: np.ndarray, look: np.ndarray | None = None) -> float:
        """Mean cost per object pixel of the object placed at ``corner`` (pixels off the image cost TRUNCATE)."""
        pix, inside = self.window(frame, corner)
        return self.mean_cost(pix.transpose(2, 0, 1), inside, look)

    def mean_cost(self, window: np.ndarray, inside: np.ndarray, look: np.ndarray | None = None) -> float:
        """Mean cost per object pixel of ``window`` (float32 [C, h, w]); pixels not ``inside`` cost TRUNCATE."""
        cost = np.where(inside, self.pixel_costs(window, look), TRUNCATE)
        return float((cost * self.mask2d).sum() / self.mask2d.sum())

    def locate(self, frame: np.ndarray, prev: np.ndarray | None = None, allowed: np.ndarray | None = None,
               behind: np.ndarray | None = None, taken: np.ndarray | None = None,
               look: np.ndarray | None = None, expect: np.ndarray | None = None,
               unchanged: np.ndarray | None = None) -> np.ndarray:
        """Top-left corner of the best match over the whole frame (float32 [H, W, C]), matching ``look`` too (see
        :meth:`pixel_costs`); ``allowed`` (bool, one entry per corner position) restricts it to places on or above
        the table. Pixels of other objects already
        located (bool [H, W] maps): ``behind`` = nearer objects (this one may be hidden there: they cost at most
        OCCLUDED), ``taken`` = farther objects seen whole (this one is not there: they cost TRUNCATE). Places
        farther than a free radius from ``expect`` (the corner where its last motion would bring it) cost
        MOTION per pixel of distance and object pixel, so a hidden object is not swapped for a far look-alike.
        ``unchanged`` (bool [H, W]) marks pixels that look as in the first frame away from where this object
        started: it did not arrive there unless hidden, so they cost at least OCCLUDED. ``prev`` is kept unless
        clearly beaten."""
        h, w = self.patch.shape[:2]
        if h > frame.shape[0] or w > frame.shape[1]:
            return self.origin.astype(np.float64)
        win = np.lib.stride_tricks.sliding_window_view(frame, (h, w), axis=(0, 1))  # [ny, nx, C, h, w]
        cost = self.pixel_costs(win, look)
        if unchanged is not None and unchanged.any():
            unchanged_here = np.lib.stride_tricks.sliding_window_view(unchanged, (h, w)) & (self.mask2d > 0)
            cost = np.where(unchanged_here, np.maximum(cost, OCCLUDED), cost)
        if behind is not None and behind.any():
            cost = np.where(np.lib.stride_tricks.sliding_window_view(behind, (h, w)), np.minimum(cost, OCCLUDED), cost)
        if taken is not None and taken.any():
            cost = np.where(np.lib.stride_tricks.sliding_window_view(taken, (h, w)), TRUNCATE, cost)
        res = match = (cost * self.mask2d).sum((2, 3))
        if expect is not None:
            gy, gx = np.mgrid[0 : res.shape[0], 0 : res.shape[1]]
            far = np.maximum(np.hypot(gx - expect[0], gy - expect[1]) - FREE_RADIUS * frame.shape[1], 0.0)
            res = res + MOTION * far * float(self.mask2d.sum())
        if allowed is not None and allowed.any():
            res = np.where(allowed, res, np.inf)
        y, x = np.unravel_index(int(np.argmin(res)), res.shape)
        if prev is not None:
            # hysteresis: keep the previous place unless a clearly better, and good, match exists elsewhere
            py, px = int(prev[1]), int(prev[0])
            if 0 <= py < res.shape[0] and 0 <= px < res.shape[1]:
                n = float(self.mask2d.sum())
                if res[py, px] <= res[y, x] + STAY_PER_PIXEL * n or match[y, x] > LOST * n:
                    y, x = py, px
        return np.array([x, y], np.float64)

    def window(self, image: np.ndarray, corner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pixels of ``image`` under the template placed at ``corner``, zero outside the image; bool [h, w]
        where inside the image)."""
        out = np.zeros(self.mask2d.shape + image.shape[2:], image.dtype)
        inside = np.zeros(self.mask2d.shape, bool)
        hit = _overlap(corner, self.mask2d.shape, image.shape[:2])
        if hit:
            out[hit[1]], inside[hit[1]] = image[hit[0]], True
        return out, inside

    def cover(self, covered: np.ndarray, corner: np.ndarray) -> None:
        """Mark this object's pixels, placed at ``corner``, in the frame-sized bool map ``covered``."""
        hit = _overlap(corner, self.mask2d.shape, covered.shape)
        if hit:
            covered[hit[0]] |= self.mask2d[hit[1]] > 0

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


@dataclass
class Tracks:
    """What the locator found in one video: pixel points uv [T, n, 2], table points xy [T, n, 2] (NaN where
    not locatable), matched template corners [T, n, 2], and per (frame, object) the template pixels hidden by
    other objects in front of it (bool [h, w], None where not locatable)."""

    uv: np.ndarray
    xy: np.ndarray
    corners: np.ndarray
    covered: list


class ClipTracker:
    """All objects of one clip, tracked jointly frame by frame. Per object it holds where it was last located (the
    template corner), its last step, and its last look (pixels seen clear). Each frame:

    1. settle: objects that still match their last place almost exactly (static and unoccluded) stay there;
    2. search the others, nearest the camera first (depth of the table point under the object), over the whole
       frame: they may hide behind nearer located objects (those pixels cost at most OCCLUDED), are not on
       farther settled ones (seen whole, so nothing is in front of them: their pixels cost TRUNCATE), did not
       arrive where the frame still shows what the first frame showed (those pixels cost at least OCCLUDED), and
       pay MOTION for straying from where their last step would bring them (so a hidden object is not swapped for
       a far look-alike); the last place is kept unless clearly beaten by a good match (an object with no good
       match anywhere is hidden, as under a cone, and stays);
    3. layer: where two located objects overlap, the one that explains the shared pixels better is in front
       (depth from the image point is wrong for a lifted object; ties go by depth); each object's hidden pixels
       are recorded and the rest become its last look (unless it was held in place, or no longer resembles its
       first look: a look learnt from what a creeping object leaves behind would lock the tracker there).
    """

    def __init__(self, cam, templates: list[Template], heights: np.ndarray, centers0: np.ndarray,
                 shape: tuple[int, int]):
        self.cam, self.templates, self.heights, self.shape = cam, templates, heights, shape
        self.live = [k for k, t in enumerate(templates) if t.ok]
        self.start, self.allowed, self.corner, self.look, self.last_step = {}, {}, {}, {}, {}
        for k in self.live:
            t = templates[k]
            # the first frame's scene state is known exactly: its annotated centre, moved by the matched shift
            self.start[k] = centers0[k] if not np.isnan(centers0[k]).any() else t.origin + t.centroid
            self.allowed[k] = t.over_table(cam, self.start[k], heights[k], shape)
            self.corner[k] = t.origin.astype(np.float64)
            self.look[k] = t.patch_chw.copy()
            self.last_step[k] = np.zeros(2)
        self.first = None
        self.start_masks = {k: self.placed_mask(k) for k in self.live}

    def point(self, k: int) -> np.ndarray:
        return self.start[k] + (self.corner[k] - self.templates[k].origin)

    def depth(self, k: int) -> float:
        """Distance from the camera to the table point under object k, at its height."""
        xy = backproject(self.cam, self.point(k), self.heights[k])
        return float(np.linalg.norm(np.array([xy[0], xy[1], self.heights[k]]) - self.cam.position))

    def placed_mask(self, k: int) -> np.ndarray:
        m = np.zeros(self.shape, bool)
        self.templates[k].cover(m, self.corner[k])
        return m

    def step(self, frame: np.ndarray) -> list[np.ndarray | None]:
        """Locate every object in ``frame`` (float32 [H, W, C]); returns per object its hidden template pixels."""
        if self.first is None:
            self.first = frame
        same = np.abs(frame - self.first).mean(-1) < UNCHANGED
        depth = {k: self.depth(k) for k in self.live}
        masks = {}
        held = set()  # searched but kept where they were: occluded, turning or creeping away; their look is kept
        for k in self.live:  # 1. settle
            if self.templates[k].cost_at(frame, self.corner[k], self.look[k]) <= SETTLED:
                masks[k] = self.placed_mask(k)
                self.last_step[k] = np.zeros(2)
        for k in sorted(set(self.live) - set(masks), key=depth.get):  # 2. search, nearest first
            behind = np.zeros(self.shape, bool)
            taken = np.zeros(self.shape, bool)
            for j, m in masks.items():
                (behind if depth[j] < depth[k] else taken)[...] |= m
            was = self.corner[k]
            self.corner[k] = self.templates[k].locate(frame, was, self.allowed[k], behind, taken & ~behind,
                                                      self.look[k], was + self.last_step[k],
                                                      same & ~self.start_masks[k])
            self.last_step[k] = self.corner[k] - was
            if not self.last_step[k].any():
                held.add(k)
            masks[k] = self.placed_mask(k)
            depth[k] = self.depth(k)
        return self._layer(frame, masks, depth, held)

    def _layer(self, frame: np.ndarray, masks: dict, depth: dict, held: set) -> list[np.ndarray | None]:
        seen, cost = {}, {}
        for k in self.live:
            t = self.templates[k]
            pix, inside = t.window(frame, self.corner[k])
            seen[k] = pix.transpose(2, 0, 1), inside
            cost[k] = _placed(np.where(inside, t.pixel_costs(seen[k][0], self.look[k]), TRUNCATE), self.corner[k],
                              self.shape)
        hidden_by_k: list[np.ndarray | None] = [None] * len(self.templates)
        for k in self.live:
            t = self.templates[k]
            hidden = np.zeros(self.shape, bool)
            for j in self.live:
                shared = masks[j] & masks[k] if j != k else None
                if shared is None or not shared.any():
                    continue
                cj, ck = float(cost[j][shared].mean()), float(cost[k][shared].mean())
                if cj < ck - FRONT_MARGIN or (abs(cj - ck) <= FRONT_MARGIN and depth[j] < depth[k]):
                    hidden |= shared
            hidden_by_k[k], _ = t.window(hidden, self.corner[k])
            pix, inside = seen[k]
            if k not in held and t.mean_cost(pix, inside) <= LOOK_OK:  # still itself: do not learn a drift
                self.look[k] = np.where((inside & ~hidden_by_k[k])[None], pix, self.look[k])
        return hidden_by_k


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
        """video [T, H, W, C] -> (pixel points [T, n, 2], table points [T, n, 2]); NaN where not locatable.
        The objects are tracked jointly (:class:`ClipTracker`)."""
        tr = self.track_full(video, ann, templates)
        return tr.uv, tr.xy

    def track_full(self, video: np.ndarray, ann: dict, templates=None) -> Tracks:
        """As :meth:`track`, plus the matched template corners and what other objects hide of each."""
        cam = _camera(video.shape[1])
        templates = templates or self.templates(video[0], ann)
        n = len(templates)
        hs = np.array([self.height(ann["shape"][k], ann["size"][k]) for k in range(n)])
        c0 = np.asarray(ann["centers_2d"])[0] if "centers_2d" in ann else np.full((n, 2), np.nan)
        tracker = ClipTracker(cam, templates, hs, c0[:n], video.shape[1:3])
        uv = np.full((len(video), n, 2), np.nan)
        corners = np.full((len(video), n, 2), np.nan)
        covered = []
        for f, frame in enumerate(video):
            covered.append(tracker.step(frame.astype(np.float32)))
            for k in tracker.live:
                corners[f, k] = tracker.corner[k]
                uv[f, k] = tracker.point(k)
        xy = backproject(cam, uv, hs[None, :])
        if "positions" in ann:
            # the first frame's table positions are known: add the located displacement on the table to them
            p0 = np.asarray(ann["positions"], np.float64)[0, :n, :2]
            xy = p0[None] + (xy - xy[:1])
        return Tracks(uv, xy, corners, covered)

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
