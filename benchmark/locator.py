"""Locating CATER-GEN objects in (generated) frames, with an accuracy measured on ground-truth frames.

Method, per clip:
1. appearance: each object's pixels in the given first frame (instance mask ``masks[0] == k + 1``, the RGB
   under it), and as last seen (metal objects' reflections change as they move; each pixel matches the nearer
   of the two looks), both scaled to the object's distance from the camera at each place (perspective: a ball
   rolled from the far edge of the table to the near one grows about 2x in the image);
2. 2D position in frame t: all objects tracked jointly (:class:`ClipTracker`): masked template matching (mean
   absolute difference over the mask, truncated; a metal object's pixel may be matched up to SHIFT_TOLERANCE
   pixels away, as its reflections slide when it moves) over the whole frame, restricted to places whose
   back-projection lies over the table (resting, or lifted by a pick-place), with occlusion reasoning (an object
   may hide behind nearer located objects, and is not on farther ones seen whole), a motion prior (straying far
   from where its last step would bring it costs) and hysteresis (a partly covered object stays put); the
   object's point = its annotated first-frame centre (``centers_2d[0]``, exact, unaffected by occlusion) + the
   shift of the match since frame 1;
3. table position: the camera ray through that point (the fixed CATER camera, ``ti2v.datagen.cater.camera``)
   intersected with the plane z = h(shape, size), the generator's own centre height
   (``ti2v.benchmark.table_geometry.centre_height``). The table point of frame t is the
   annotated first-frame base position plus the back-projected displacement since frame 1 (the first frame's
   scene state is part of the input);
4. cell: ``ti2v.datagen.cater.grid.cell_of``.

:class:`TemplateJudge` puts it behind the judge interface (``ti2v.benchmark.judge``): ``--judge template``, the
default; its cell accuracy on the evaluated split's ground truth is reported next to every CATER score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .table_geometry import backproject, cell_of
from .table_geometry import camera as _camera

MIN_PIXELS = 8  # first-look pixels (at 128x128, scaled with the frame's area) below which an object is not looked for
# matching costs are per object pixel, in grey levels (0-255, mean over RGB)
TRUNCATE = 40.0  # most one pixel costs: an unknown occluder's pixels cost a constant instead of dominating
OCCLUDED = 25.0  # most a pixel behind a nearer located object costs: above a moving metal object's true match
HIDDEN_MIN = 8.0  # ...and least: that object explains the pixel, so resembling it is no evidence for this one
SETTLED = 4.0  # an object matching its last place this well is still there, seen whole
STAY_PER_PIXEL = 2.0  # hysteresis: the last place is kept unless another is better by this much...
LOST = 22.0  # ...and no worse than this (else the object is hidden, as under a cone, and stays where it was)
MOTION = 0.2  # cost per pixel of distance from where the last step would bring the object...
FREE_RADIUS = 0.05  # ...beyond this share of the image width
LOOK_OK = 20.0  # an object's last look is learnt only where it still matches its first look this well...
LOOK_SHARE = 0.5  # ...and, for rubber, better than this share of what a half-object miss costs
UNCHANGED = 6.0  # a pixel within this of its value in the first frame (or in an earlier one) has not changed
MARGIN = 2  # pixels around an object's window that must be unchanged too for it to be taken as unmoved
FRONT_MARGIN = 2.0  # of two overlapping objects, the one that explains the shared pixels better by this is in front
SCALE_STEP = 1.08  # views of an object's first look are made at scales SCALE_STEP ** i
SHIFT_TOLERANCE = 1  # in the search, a metal object's pixel matches any value within this many pixels of it
TABLE_HALF = 3.5  # objects stay over the 6x6 grid (plus a margin)
LIFT = 2.2  # pick-place lifts objects 2 units


def _overlap(corner: np.ndarray, hw: tuple[int, int], shape: tuple[int, int]):
    """Where an [h, w] window with its top-left at ``corner`` meets a frame of ``shape``: (frame slices, window
    slices), or None when they do not meet."""
    x0, y0 = int(corner[0]), int(corner[1])
    ys, xs = slice(max(y0, 0), min(y0 + hw[0], shape[0])), slice(max(x0, 0), min(x0 + hw[1], shape[1]))
    if ys.stop <= ys.start or xs.stop <= xs.start:
        return None
    return (ys, xs), (slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0))


def shift_envelope(frame: np.ndarray, radius: int = SHIFT_TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel and channel, the least and the greatest value of ``frame`` [H, W, C] within ``radius`` pixels
    (a square): a metal object's highlights and reflected edges slide by a pixel or so between frames as it
    moves, turns or grows, so its search asks only that each pixel of its look is found nearby."""
    from scipy.ndimage import maximum_filter, minimum_filter

    size = (2 * radius + 1, 2 * radius + 1, 1)
    return minimum_filter(frame, size), maximum_filter(frame, size)


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
    of them to be looked for. ``anchor`` (the frame-0 point the look is tied to) and ``scale`` say how a
    :meth:`scaled` view relates to it: a view shows the object ``scale`` times larger about the anchor."""

    def __init__(self, frame0: np.ndarray, mask: np.ndarray, metal: bool = True):
        self.metal = metal  # metal reflections change as the object moves; rubber only shades
        ys, xs = np.nonzero(mask)
        # a few pixels are no appearance to look for (8 at 128x128, scaled with the frame's area)
        self.ok = len(ys) >= max(2, round(MIN_PIXELS * mask.size / 128**2))
        if not self.ok:
            return
        pad = 1
        y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, mask.shape[0])
        x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, mask.shape[1])
        self._set(frame0[y0:y1, x0:x1].astype(np.float32).transpose(2, 0, 1), mask[y0:y1, x0:x1].astype(np.float32),
                  np.array([x0, y0]))
        my, mx = np.nonzero(mask[y0:y1, x0:x1])
        self.centroid = np.array([mx.mean() + 0.5, my.mean() + 0.5])  # pixel-area convention of the annotations
        self.anchor, self.scale = self.origin + self.centroid, 1.0
        # what a match half an object off costs in the first frame: how much the object stands out from what is
        # around it (a grey cone on the grey table barely does, so a near miss must not teach it a new look)
        h, w = self.mask2d.shape
        self.distinct = min(self.cost_at(frame0.astype(np.float32), self.origin + np.array(s))
                            for s in ((w // 2, 0), (-(w // 2), 0), (0, h // 2), (0, -(h // 2))))

    def _set(self, patch_chw: np.ndarray, mask2d: np.ndarray, origin: np.ndarray) -> None:
        self.patch_chw = np.ascontiguousarray(patch_chw, np.float32)
        self.patch = np.ascontiguousarray(self.patch_chw.transpose(1, 2, 0))
        self.mask2d, self.origin = mask2d, origin
        self.pixels = float(mask2d.sum())

    def scaled(self, scale: float, anchor: np.ndarray) -> "Template":
        """This look seen ``scale`` times larger (nearer the camera) about the frame point ``anchor``, which stays
        put: a view on the frame's own pixel grid, so matching it is plain template matching."""
        view = object.__new__(Template)
        view.ok, view.distinct, view.centroid, view.metal = self.ok, self.distinct, self.centroid, self.metal
        view.anchor, view.scale = np.asarray(anchor, np.float64), float(scale)
        h, w = self.mask2d.shape
        lo = np.floor(view.anchor + scale * (self.origin - view.anchor) + 1e-6).astype(int)  # exact at scale 1
        hi = np.ceil(view.anchor + scale * (self.origin + [w, h] - view.anchor) - 1e-6).astype(int)
        view.origin, view.mask2d = lo, np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.float32)
        view.mask2d = (view.resample(self.mask2d[None], self)[0] >= 0.5).astype(np.float32)
        view._set(view.resample(self.patch_chw, self), view.mask2d, lo)
        view.ok = view.pixels >= 2
        return view

    def resample(self, image_chw: np.ndarray, src: "Template") -> np.ndarray:
        """``image_chw`` laid out as ``src``'s patch (another view of the same look, or the look itself),
        resampled (bilinear) onto this view's patch grid."""
        from scipy.ndimage import map_coordinates

        h, w = self.mask2d.shape
        gy, gx = np.mgrid[0:h, 0:w] + 0.5
        # this view's pixel centre -> the same point of the object in src (views share this view's anchor)
        a, r = self.anchor, src.scale / self.scale
        fx = a[0] + (self.origin[0] + gx - a[0]) * r - src.origin[0] - 0.5
        fy = a[1] + (self.origin[1] + gy - a[1]) * r - src.origin[1] - 0.5
        return np.stack([map_coordinates(c, [fy, fx], order=1, mode="nearest") for c in image_chw])

    def pixel_costs(self, window: np.ndarray, look: np.ndarray | None) -> np.ndarray:
        """Per-pixel cost of seeing ``window`` (float32 [..., C, h, w]) where the object is: mean absolute
        difference over channels to its first look or, if nearer, to ``look`` (float32 [C, h, w], the object as
        last seen: metal objects' reflections change as they move), truncated at TRUNCATE so that pixels of an
        unknown occluder cost a constant instead of dominating the match."""
        cost = np.abs(window - self.patch_chw).mean(-3)
        if look is not None:
            cost = np.minimum(cost, np.abs(window - look).mean(-3))
        return np.minimum(cost, TRUNCATE)

    def envelope_costs(self, low: np.ndarray, high: np.ndarray, look: np.ndarray | None) -> np.ndarray:
        """As :meth:`pixel_costs`, against a :func:`shift_envelope` of the frame (windows of its ``low`` and
        ``high`` maps): how far each pixel of the look lies outside what the frame holds nearby."""

        def outside(ref):
            return np.maximum(np.maximum(ref - high, low - ref), 0.0).mean(-3)

        cost = outside(self.patch_chw)
        if look is not None:
            cost = np.minimum(cost, outside(look))
        return np.minimum(cost, TRUNCATE)

    def cost_at(self, frame: np.ndarray, corner: np.ndarray, look: np.ndarray | None = None) -> float:
        """Mean cost per object pixel of the object placed at ``corner`` (pixels off the image cost TRUNCATE)."""
        pix, inside = self.window(frame, corner)
        return self.mean_cost(pix.transpose(2, 0, 1), inside, look)

    def mean_cost(self, window: np.ndarray, inside: np.ndarray, look: np.ndarray | None = None) -> float:
        """Mean cost per object pixel of ``window`` (float32 [C, h, w]); pixels not ``inside`` cost TRUNCATE."""
        cost = np.where(inside, self.pixel_costs(window, look), TRUNCATE)
        return float((cost * self.mask2d).sum() / self.pixels)

    def match_costs(self, frame: np.ndarray, rows: slice, look: np.ndarray | None, behind: np.ndarray,
                    taken: np.ndarray, unchanged: np.ndarray, envelope: tuple | None = None) -> np.ndarray:
        """Mean cost per object pixel with the top-left corner at every place of the frame (float32 [H, W, C])
        whose row is in ``rows``, matching ``look`` too (see :meth:`pixel_costs`); a metal object is matched
        against the frame's ``envelope`` (:func:`shift_envelope`) where one is given. Pixels of other objects
        already located (bool [H, W] maps): ``behind`` = nearer objects (this one may be hidden there: they cost
        at most OCCLUDED), ``taken`` = farther objects seen whole (this one is not there: they cost TRUNCATE).
        ``unchanged`` marks pixels that look as in the first frame away from where this object started: it did
        not arrive there unless hidden, so they cost at least OCCLUDED."""
        h, w = self.mask2d.shape
        band = slice(rows.start, rows.stop + h - 1)

        def windows(a):
            return np.lib.stride_tricks.sliding_window_view(a[band], (h, w), axis=(0, 1))

        if self.metal and envelope is not None:
            cost = self.envelope_costs(windows(envelope[0]), windows(envelope[1]), look)  # [ny, nx, h, w]
        else:
            cost = self.pixel_costs(windows(frame), look)
        on = self.mask2d > 0
        if unchanged.any():
            cost = np.where(windows(unchanged) & on, np.maximum(cost, OCCLUDED), cost)
        if behind.any():
            cost = np.where(windows(behind), np.clip(cost, HIDDEN_MIN, OCCLUDED), cost)
        if taken.any():
            cost = np.where(windows(taken), TRUNCATE, cost)
        return (cost * self.mask2d).sum((2, 3)) / self.pixels

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


@dataclass
class Tracks:
    """What the locator found in one video: pixel points uv [T, n, 2], table points xy [T, n, 2] (NaN where
    not locatable), matched template corners [T, n, 2], per (frame, object) the scaled view of its first look
    that matched there (:meth:`Template.scaled`, None where not locatable) and the pixels of that view hidden by
    other objects in front of it (bool, None where not locatable)."""

    uv: np.ndarray
    xy: np.ndarray
    corners: np.ndarray
    views: list
    covered: list


class ClipTracker:
    """All objects of one clip, tracked jointly frame by frame. Per object it holds where it was last located (a
    template corner and the scale of the view that matched there), its last step, and its last look (pixels seen
    clear). An object's size in the image follows its distance from the camera, which its place on the table
    fixes: each place is matched with the first look scaled to that distance (views every SCALE_STEP; a
    place the object can reach only when lifted takes the scale of the lowest such lift). Each frame:

    1. settle: objects that still match their last place almost exactly (static and unoccluded) stay there, and
       so do objects last seen clearly where nothing has changed since (:meth:`_unmoved`; as when a clip's last
       frames repeat: a look-alike elsewhere is no reason to move them);
    2. search the others, nearest the camera first (depth of the table point under the object), over the whole
       frame (metal ones against the frame's :func:`shift_envelope`): they may hide behind nearer located
       objects (those pixels cost between HIDDEN_MIN and OCCLUDED: resembling the object in front is no
       evidence of being behind it), are not on farther settled ones (seen whole, so nothing is in front of
       them: their pixels cost TRUNCATE), did not arrive where the frame still shows what the first frame showed
       (those pixels cost at least OCCLUDED), and pay MOTION for straying from where their last step would bring
       them (so a hidden object is not swapped for a far look-alike; a step counts only between two frames the
       object was clearly seen in, so coming back into view is not taken for a velocity); the last place is
       kept unless clearly beaten by a good match (an object with no good match anywhere is hidden, as under a
       cone, and stays), or unless the object is not clearly seen there while elsewhere it is, better than it
       could be behind anything (below HIDDEN_MIN), near where it was last seen clearly (the motion prior's free
       radius widening with the frames since): a faint object lost against the backdrop in mid-air, or held on a
       shadow, is taken up again where it lands;
    3. layer: where two located objects overlap, the one that explains the shared pixels better is in front
       (depth from the image point is wrong for a lifted object; ties go by depth); each object's hidden pixels
       are recorded and the rest become its last look (unless it was held in place, or no longer resembles its
       first look clearly: a look learnt from what a creeping object leaves behind, or from the table next to a
       low-contrast one, would lock the tracker there).
    """

    def __init__(self, cam, templates: list[Template], heights: np.ndarray, centers0: np.ndarray,
                 shape: tuple[int, int]):
        self.cam, self.heights, self.shape, self.n = cam, heights, shape, len(templates)
        self.live = [k for k, t in enumerate(templates) if t.ok]
        self.start, self.views, self.view, self.corner, self.look, self.last_step = {}, {}, {}, {}, {}, {}
        for k in self.live:
            t = templates[k]
            # the first frame's scene state is known exactly: its annotated centre, moved by the matched shift
            self.start[k] = centers0[k] if not np.isnan(centers0[k]).any() else t.origin + t.centroid
            self.views[k] = self._views(t, self.start[k], heights[k])
            self.view[k] = self.views[k][0][0]
            self.corner[k] = self.view[k].origin.astype(np.float64)
            self.look[k] = self.view[k].patch_chw.copy()
            self.last_step[k] = np.zeros(2)
        self.first = None
        self.seen_in = {}  # per object, the frame it was last located in (by a search or a settle)
        self.last_clear = {k: self.start[k].copy() for k in self.live}  # where it was last clearly seen...
        self.unseen = {k: 0 for k in self.live}  # ...and how many frames ago (0: clearly seen where it is)
        self.start_masks = {k: self.placed_mask(k) for k in self.live}

    def _camera_depth(self, xy: np.ndarray, z: float) -> np.ndarray:
        pts = np.concatenate([xy, np.full(xy.shape[:-1] + (1,), z)], -1)
        return -self.cam.to_camera(pts)[..., 2]

    def _views(self, t: Template, start: np.ndarray, height: float) -> dict:
        """Scale step -> (scaled view, bool map of its corners whose object point lies over the table at the
        distance that gives that scale, rows holding such corners, or None). A point's distance is taken resting
        at ``height`` or, where only a pick-place lift puts it over the table, at the lowest such lift (up to
        LIFT above). Step 0 (the first look itself) is always there."""
        d0 = self._camera_depth(backproject(self.cam, start, height), height)
        gy, gx = np.mgrid[0 : self.shape[0], 0 : self.shape[1]] + 0.5
        pts = np.stack([gx, gy], -1)
        step = np.zeros(self.shape, int)
        placed = np.zeros(self.shape, bool)
        for z in np.linspace(height, height + LIFT, 5):  # the lowest height that puts the point over the table
            xy = backproject(self.cam, pts, z)
            over = (np.abs(xy) <= TABLE_HALF).all(-1) & ~placed
            with np.errstate(invalid="ignore", divide="ignore"):
                s = np.rint(np.log(d0 / self._camera_depth(xy, z)) / np.log(SCALE_STEP))
            step[over] = s[over]
            placed |= over
        views = {int(i): placed & (step == i) for i in np.unique(step[placed])}
        views.setdefault(0, np.zeros(self.shape, bool))
        out = {}
        for i, at_point in views.items():
            v = t.scaled(SCALE_STEP ** i, start)
            h, w = v.mask2d.shape
            if not v.ok or h > self.shape[0] or w > self.shape[1]:
                continue
            # corner -> the pixel holding its object point
            gy, gx = np.mgrid[0 : self.shape[0] - h + 1, 0 : self.shape[1] - w + 1]
            px = np.clip(np.floor(gx + start[0] - v.origin[0]).astype(int), 0, self.shape[1] - 1)
            py = np.clip(np.floor(gy + start[1] - v.origin[1]).astype(int), 0, self.shape[0] - 1)
            allowed = at_point[py, px]
            ys = np.nonzero(allowed.any(1))[0]
            rows = slice(int(ys[0]), int(ys[-1]) + 1) if len(ys) else None
            out[i] = (v, allowed, rows)
        if 0 not in out:
            out[0] = (t.scaled(1.0, start), np.zeros((1, 1), bool), None)
        return out

    def point(self, k: int) -> np.ndarray:
        return self.start[k] + (self.corner[k] - self.view[k].origin)

    def depth(self, k: int) -> float:
        """Distance from the camera to the table point under object k, at its height."""
        xy = backproject(self.cam, self.point(k), self.heights[k])
        return float(np.linalg.norm(np.array([xy[0], xy[1], self.heights[k]]) - self.cam.position))

    def placed_mask(self, k: int) -> np.ndarray:
        m = np.zeros(self.shape, bool)
        self.view[k].cover(m, self.corner[k])
        return m

    def _search(self, k: int, frame: np.ndarray, behind: np.ndarray, taken: np.ndarray,
                unchanged: np.ndarray, envelope: tuple | None) -> tuple[Template, np.ndarray, bool]:
        """Best (view, corner) for object k over the whole frame and every scale (rules in the class docstring),
        and whether it is clearly seen there (matches as well as :meth:`_look_ok` asks; else it is hidden, or
        lost)."""
        width = frame.shape[1]
        expect = self.point(k) + self.last_step[k]
        was_view, was = self.view[k], self.corner[k]
        best, best_match, best_res = (np.inf, None, None), np.inf, None
        stay, stay_match = np.inf, np.inf
        scored = []  # per view: (view, rows, look, match costs, object points x and y, allowed places)

        def prior(gx, gy, at, free):
            return MOTION * np.maximum(np.hypot(gx - at[0], gy - at[1]) - free, 0.0)

        for v, allowed, rows in self.views[k].values():
            if rows is None:
                continue
            look = self.look[k] if v is was_view else v.resample(self.look[k], was_view)
            match = v.match_costs(frame, rows, look, behind, taken, unchanged, envelope)
            gy, gx = np.mgrid[rows, 0 : match.shape[1]]
            gx, gy = gx + self.start[k][0] - v.origin[0], gy + self.start[k][1] - v.origin[1]  # object points
            scored.append((v, rows, look, match, gx, gy, allowed[rows]))
            res = np.where(allowed[rows], match + prior(gx, gy, expect, FREE_RADIUS * width), np.inf)
            y, x = np.unravel_index(int(np.argmin(res)), res.shape)
            if res[y, x] < best[0]:
                best, best_match = (float(res[y, x]), v, np.array([x, y + rows.start], np.float64)), float(match[y, x])
                best_res = (res, rows, look)
            if v is was_view and rows.start <= int(was[1]) < rows.stop and 0 <= int(was[0]) < res.shape[1]:
                stay = float(res[int(was[1]) - rows.start, int(was[0])])
                stay_match = float(match[int(was[1]) - rows.start, int(was[0])])
        stay_clear = stay_match <= self._look_ok(was_view)
        if not stay_clear:
            # not clearly seen where it was: where it is seen clearly, better than it could be behind anything (so a
            # hidden object is not pulled out to a look-alike in front), it is there; such places are weighed
            # against where it was last seen clearly, the wider the longer ago
            clear_free = FREE_RADIUS * width * (1 + self.unseen[k])
            clear, clear_match, clear_res = (np.inf, None, None), np.inf, None
            for v, rows, look, match, gx, gy, allowed in scored:
                sharp = allowed & (match <= min(self._look_ok(v), HIDDEN_MIN))
                res = np.where(sharp, match + prior(gx, gy, self.last_clear[k], clear_free), np.inf)
                y, x = np.unravel_index(int(np.argmin(res)), res.shape)
                if res[y, x] < clear[0]:
                    clear = (float(res[y, x]), v, np.array([x, y + rows.start], np.float64))
                    clear_match, clear_res = float(match[y, x]), (res, rows, look)
            if clear[1] is not None and clear_match < stay_match:
                best, best_match, best_res = clear, clear_match, clear_res
                stay = np.inf  # the hysteresis below does not hold it
        # hysteresis: keep the last place unless a clearly better, and good, match exists elsewhere
        if best[1] is None or best_match > LOST or stay <= best[0] + STAY_PER_PIXEL:
            return was_view, was, stay_clear
        seen = best_match <= self._look_ok(best[1])
        if best[1].metal and envelope is not None:
            return best[1], self._pinpoint(best[1], best[2], *best_res, frame, behind, taken, unchanged), seen
        return best[1], best[2], seen

    @staticmethod
    def _pinpoint(v: Template, corner: np.ndarray, res: np.ndarray, rows: slice, look: np.ndarray,
                  frame: np.ndarray, behind: np.ndarray, taken: np.ndarray, unchanged: np.ndarray) -> np.ndarray:
        """A match against the shift envelope says where the object is to within SHIFT_TOLERANCE pixels (every
        place that close may match equally): among the allowed places that close, the one matching the frame
        itself best."""
        r, (x, y) = SHIFT_TOLERANCE, corner.astype(int)
        band = slice(max(y - r, rows.start), min(y + r + 1, rows.stop))
        xs = slice(max(x - r, 0), min(x + r + 1, res.shape[1]))
        exact = v.match_costs(frame, band, look, behind, taken, unchanged)[:, xs]
        exact = np.where(np.isfinite(res[band.start - rows.start : band.stop - rows.start, xs]), exact, np.inf)
        dy, dx = np.unravel_index(int(np.argmin(exact)), exact.shape)
        return np.array([xs.start + dx, band.start + dy], np.float64)

    def step(self, frame: np.ndarray) -> list[np.ndarray | None]:
        """Locate every object in ``frame`` (float32 [H, W, C]); returns per object its hidden view pixels."""
        if self.first is None:
            self.first = frame
            self.seen_in = {k: frame for k in self.live}
        same = np.abs(frame - self.first).mean(-1) < UNCHANGED
        envelope = shift_envelope(frame) if SHIFT_TOLERANCE > 0 else None
        depth = {k: self.depth(k) for k in self.live}
        masks = {}
        held = set()  # searched but kept where they were: occluded, turning or creeping away; their look is kept
        for k in self.live:  # 1. settle
            unmoved = self.unseen[k] == 0 and self._unmoved(k, frame)
            if not unmoved:
                self.seen_in[k] = frame
            if unmoved or self.view[k].cost_at(frame, self.corner[k], self.look[k]) <= SETTLED:
                self.last_clear[k], self.unseen[k] = self.point(k), 0
                masks[k] = self.placed_mask(k)
                self.last_step[k] = np.zeros(2)
                if unmoved:
                    held.add(k)
        for k in sorted(set(self.live) - set(masks), key=depth.get):  # 2. search, nearest first
            behind = np.zeros(self.shape, bool)
            taken = np.zeros(self.shape, bool)
            for j, m in masks.items():
                (behind if depth[j] < depth[k] else taken)[...] |= m
            was_view, was_point = self.view[k], self.point(k)
            was_seen = self.unseen[k] == 0
            view, self.corner[k], seen = self._search(k, frame, behind, taken & ~behind, same & ~self.start_masks[k],
                                                      envelope)
            if view is not was_view:
                self.look[k] = view.resample(self.look[k], was_view)
                self.view[k] = view
            step = self.point(k) - was_point
            if not step.any():
                held.add(k)
            # a step is a velocity only between two places the object was seen at (not a jump back into view)
            self.last_step[k] = step if was_seen and seen else np.zeros(2)
            if seen:
                self.last_clear[k], self.unseen[k] = self.point(k), 0
            else:
                self.unseen[k] += 1
            masks[k] = self.placed_mask(k)
            depth[k] = self.depth(k)
        return self._layer(frame, masks, depth, held)

    def _unmoved(self, k: int, frame: np.ndarray) -> bool:
        """Whether nothing changed (each pixel within UNCHANGED) where object k is, nor within MARGIN pixels
        around, since the frame it was last located in: then it is still there, and a look-alike elsewhere is
        no reason to move it (a slow mover's change adds up against that frame). Asked only of objects last
        located by a good match: a lost one may have gone anywhere."""
        v, m = self.view[k], MARGIN
        h, w = v.mask2d.shape
        x0, y0 = max(int(self.corner[k][0]) - m, 0), max(int(self.corner[k][1]) - m, 0)
        x1, y1 = max(int(self.corner[k][0]) + w + m, 0), max(int(self.corner[k][1]) + h + m, 0)
        a, b = frame[y0:y1, x0:x1], self.seen_in[k][y0:y1, x0:x1]
        return bool(a.size) and bool((np.abs(a - b).mean(-1) < UNCHANGED).all())

    @staticmethod
    def _look_ok(v: Template) -> float:
        """How well a place must match an object's first look for its pixels to become its last look. A metal
        object's reflections change a lot as it moves (LOOK_OK); a rubber one only shades, and must beat what a
        near miss would cost (a grey cone on the grey table must not learn the table as its look)."""
        return LOOK_OK if v.metal else min(LOOK_OK, LOOK_SHARE * v.distinct)

    def _layer(self, frame: np.ndarray, masks: dict, depth: dict, held: set) -> list[np.ndarray | None]:
        seen, cost = {}, {}
        for k in self.live:
            v = self.view[k]
            pix, inside = v.window(frame, self.corner[k])
            seen[k] = pix.transpose(2, 0, 1), inside
            cost[k] = _placed(np.where(inside, v.pixel_costs(seen[k][0], self.look[k]), TRUNCATE), self.corner[k],
                              self.shape)
        hidden_by_k: list[np.ndarray | None] = [None] * self.n
        for k in self.live:
            v = self.view[k]
            hidden = np.zeros(self.shape, bool)
            for j in self.live:
                shared = masks[j] & masks[k] if j != k else None
                if shared is None or not shared.any():
                    continue
                cj, ck = float(cost[j][shared].mean()), float(cost[k][shared].mean())
                if cj < ck - FRONT_MARGIN or (abs(cj - ck) <= FRONT_MARGIN and depth[j] < depth[k]):
                    hidden |= shared
            hidden_by_k[k], _ = v.window(hidden, self.corner[k])
            pix, inside = seen[k]
            if k not in held and v.mean_cost(pix, inside) <= self._look_ok(v):  # still itself
                self.look[k] = np.where((inside & ~hidden_by_k[k])[None], pix, self.look[k])
        return hidden_by_k


class Locator:
    def __init__(self, heights: dict | None = None, default_height: float = 0.4):
        self.heights = dict(heights or {})
        self.default_height = default_height

    def height(self, shape: str, size: str) -> float:
        return self.heights.get(f"{shape}/{size}", self.heights.get(f"*/{size}", self.default_height))

    def templates(self, frame0: np.ndarray, ann: dict) -> list[Template | None]:
        """First looks of a clip's objects; an object of unknown material is taken to be metal."""
        m0 = np.asarray(ann["masks"])[0]
        n = int(ann["num_objects"])
        material = list(ann.get("material", ["metal"] * n))
        return [Template(frame0, m0 == k + 1, metal=str(material[k]) != "rubber") for k in range(n)]

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
        views, covered = [], []
        for f, frame in enumerate(video):
            covered.append(tracker.step(frame.astype(np.float32)))
            views.append([tracker.view.get(k) for k in range(n)])
            for k in tracker.live:
                corners[f, k] = tracker.corner[k]
                uv[f, k] = tracker.point(k)
        xy = backproject(cam, uv, hs[None, :])
        if "positions" in ann:
            # the first frame's table positions are known: add the located displacement on the table to them
            p0 = np.asarray(ann["positions"], np.float64)[0, :n, :2]
            xy = p0[None] + (xy - xy[:1])
        return Tracks(uv, xy, corners, views, covered)


ROTATE_CHANGE = 3.0  # grey levels (0-255) of appearance change that count as turning
CLEAR_SHARE = 0.5


def appearance_change(video: np.ndarray, template: Template, tracks: Tracks, k: int) -> float:
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


class TemplateJudge:
    """The template-matching locator behind the judge's interface (``--judge template``): no file, no training;
    heights from the generator's own centre heights; "turned" is an appearance change above ROTATE_CHANGE; it
    cannot tell lifted from not (``lifted`` is None, so slide and pick-place are not told apart)."""

    def __init__(self):
        from ti2v.datagen.cater.scene import SHAPES, SIZES

        from .table_geometry import centre_height

        self.locator = Locator({f"{s}/{z}": centre_height(s, z) for s in SHAPES for z in SIZES})
        self.path, self.sha256, self.pinned, self.info = None, None, None, {}

    def describe(self) -> dict:
        return {"file": "template matching (no weights)", "sha256": "-", "pinned": None}

    def track(self, video: np.ndarray, ann: dict, first_frame: np.ndarray | None = None):
        from .judge import Tracks

        first = video[0] if first_frame is None else first_frame
        templates = self.locator.templates(first, ann)
        tr = self.locator.track_full(video, ann, templates)
        change = np.array([appearance_change(video, t, tr, k) for k, t in enumerate(templates)])
        turned = np.repeat((change > ROTATE_CHANGE).astype(float)[None], len(video), 0)
        seen = ~np.isnan(tr.uv).any(-1)
        return Tracks(tr.uv, tr.xy, seen, turned, None, np.array([t.ok for t in templates], bool))

    def accuracy(self, clips, tracks: list | None = None) -> dict:
        from .judge import cell_accuracy

        return cell_accuracy(self, clips, tracks)
