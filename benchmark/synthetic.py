"""Small synthetic shards in the documented layout, for the benchmark's tests and throughput bench.

They follow docs/ARCHITECTURE.md (MNIST annotation keys) and are written through ``ShardWriter``; they are not
the lead's generator (``ti2v-datagen mnist``), only enough of it to exercise the metrics: scikit-learn 8x8 digits
upscaled to 28x28, moving along one axis at a constant step, stopping at the wall (modified) or bouncing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ti2v.datagen.shard import ShardWriter

SPAN = 36
DIRS = {"up": (1, -1), "down": (1, 1), "left": (0, -1), "right": (0, 1)}


def glyphs() -> dict[int, list[np.ndarray]]:
    import cv2
    from sklearn.datasets import load_digits

    d = load_digits()
    out: dict[int, list[np.ndarray]] = {i: [] for i in range(10)}
    for img, lab in zip(d.images[:300], d.target[:300]):
        g = cv2.resize((img / 16.0 * 255).astype(np.float32), (20, 20), interpolation=cv2.INTER_LINEAR)
        full = np.zeros((28, 28), np.float32)
        full[4:24, 4:24] = g
        out[int(lab)].append(np.clip(full, 0, 255).astype(np.uint8))
    return out


def track(start: np.ndarray, phrase: str, step: float, frames: int) -> tuple[np.ndarray, int]:
    """Top-left positions for a phrase ('up', 'up then down'); returns (track [F, 2] int, stop raw frame)."""
    parts = phrase.split(" then ")
    pos = start.astype(np.float64).copy()
    out = [pos.copy()]
    seg = 0
    stop = frames
    axis, sign = DIRS[parts[0]]
    for f in range(1, frames):
        if seg < len(parts):
            pos[axis] += sign * step
            if pos[axis] <= 0 or pos[axis] >= SPAN:
                pos[axis] = min(max(pos[axis], 0), SPAN)
                seg += 1
                if seg < len(parts):
                    axis, sign = DIRS[parts[seg]]
                else:
                    stop = f
        out.append(pos.copy())
    return np.rint(np.array(out)).astype(np.int16), stop


def draw(glyph_list, positions) -> np.ndarray:
    frame = np.zeros((64, 64), np.uint8)
    for g, (x, y) in zip(glyph_list, positions):
        frame[y : y + 28, x : x + 28] = np.maximum(frame[y : y + 28, x : x + 28], g)
    return frame


def make_mnist_shard(path: Path, num_videos: int = 8, seed: int = 0, frames: int = 21, step: float = 3.6,
                     dataset: str = "mnist-modified", split: str = "test") -> Path:
    rng = np.random.default_rng(seed)
    gl = glyphs()
    path = Path(path)
    attrs = dict(dataset=dataset, split=split, generator_version="bench-synthetic-1", config={"synthetic": True},
                 seed=seed, speed_interval=[1.0, 2.0], frames=frames, shard_index=0)
    simple = ["up", "down", "left", "right"]
    with ShardWriter(path, attrs, capacity=num_videos) as w:
        for _ in range(num_videos):
            labels = rng.choice(10, size=3, replace=False)
            imgs = [gl[int(l)][int(rng.integers(len(gl[int(l)])))] for l in labels]
            tr, stops, phrases = [], [], []
            for k in range(2):
                first = simple[int(rng.integers(4))]
                opposite = {"up": "down", "down": "up", "left": "right", "right": "left"}[first]
                phrase = first if rng.random() < 0.5 else f"{first} then {opposite}"
                start = rng.integers(4, SPAN - 4, size=2)
                t, s = track(start, phrase, step, frames)
                tr.append(t)
                stops.append(s)
                phrases.append(phrase)
            dpos = rng.integers(0, SPAN + 1, size=2).astype(np.int16)
            tr.append(np.repeat(dpos[None], frames, 0))
            stops.append(0)
            phrases.append("")
            video = np.stack([draw(imgs, [t[f] for t in tr]) for f in range(frames)])[..., None]
            cap = f"the digit {labels[0]} is moving {phrases[0]} and the digit {labels[1]} is moving {phrases[1]} ."
            ann = dict(labels=labels.astype(np.int8), moving=np.array([True, True, False]),
                       tracks=np.stack(tr).astype(np.int16), phrases=phrases,
                       bounce=np.array([" then " in p for p in phrases]), stop_frame=np.array(stops, np.int16),
                       digit_images=np.stack(imgs))
            w.add(video, cap, cap, ann)
    return path


def _one_shard_split(root: Path, split: str, num_videos: int, seed: int, make, **kw) -> Path:
    """A split folder of one shard with its manifest, like the runner leaves one."""
    from ti2v.datagen.runner import ShardJob, write_manifest
    from ti2v.datagen.shard import open_shard

    d = Path(root) / split
    d.mkdir(parents=True, exist_ok=True)
    path = make(d / "shard-00000.h5", num_videos=num_videos, seed=seed, split=split, **kw)
    with open_shard(path) as f:
        dataset = str(f.attrs["dataset"])
    job = ShardJob(0, seed, 0, num_videos, Path(path), dataset, split)
    write_manifest(d, [job], {"synthetic": True, "seed": seed, "num_videos": num_videos})
    return d


def make_mnist_split(root: Path, num_videos: int = 8, seed: int = 0, split: str = "test", **kw) -> Path:
    return _one_shard_split(root, split, num_videos, seed, make_mnist_shard, **kw)


# ------------------------------------------------------------------------------------------------ CATER-like
_COLORS = {"red": (173, 35, 35), "blue": (42, 75, 215), "green": (29, 105, 20), "yellow": (255, 238, 51),
           "cyan": (41, 208, 208), "purple": (129, 38, 192)}
_HALF = {"small": 0.25, "medium": 0.5, "large": 0.75}


def make_cater_shard(path: Path, num_videos: int = 6, seed: int = 0, frames: int = 32, size: int = 64,
                     split: str = "test", kinds=("slide", "pick_place", "rotate")) -> Path:
    """Flat-shaded discs and squares on a gray table, seen by the CATER camera, with the CATER annotation keys the
    benchmark reads (datagen/cater/annotations.py). One action per video, cycling through ``kinds``."""
    from ti2v.datagen.cater.camera import Camera
    from ti2v.datagen.cater.grid import cell_center, cell_index, quadrant_cells, quadrant_of_cell

    rng = np.random.default_rng(seed)
    cam = Camera(size)
    K, A = 8, 2
    attrs = dict(dataset="cater-gen-v2", split=split, generator_version="bench-synthetic-1",
                 config={"synthetic": True}, seed=seed, speed_interval=[3.0, 6.0], frames=frames, shard_index=0)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    with ShardWriter(path, attrs, capacity=num_videos) as w:
        for v in range(num_videos):
            n = 3
            colors = rng.choice(list(_COLORS), size=n, replace=False)
            sizes = rng.choice(["medium", "large"], size=n)
            shapes = rng.choice(["sphere", "cube"], size=n)
            cells = set()
            while len(cells) < n:
                cells.add((int(rng.choice([-2, -1, 1, 2])), int(rng.choice([-2, -1, 1, 2]))))
            starts = np.array([cell_center(c) for c in cells])
            kind = kinds[v % len(kinds)]
            if kind == "rotate":
                shapes[0] = "cube"  # as in CATER: rotate is for shapes whose turning shows (not spheres)
            pos = np.full((frames, K, 3), np.nan, np.float32)
            pos[:, :n, :2] = starts
            pos[:, :n, 2] = 0.0
            yaw = np.zeros((frames, n))
            end = 20
            target = (0, 0)
            if kind in ("slide", "pick_place"):
                free = [(a, b) for a in (-2, -1, 1, 2) for b in (-2, -1, 1, 2) if (a, b) not in cells]
                target = free[int(rng.integers(len(free)))]
                tgt = np.array(cell_center(target))
                for f in range(frames):
                    s = min(f / end, 1.0)
                    pos[f, 0, :2] = starts[0] + s * (tgt - starts[0])
                    if kind == "pick_place" and 0 < f < end:
                        pos[f, 0, 2] = 0.6 * np.sin(np.pi * s)
            else:
                for f in range(frames):
                    yaw[f, 0] = min(f / end, 1.0) * np.pi / 2
            frames_rgb = np.zeros((frames, size, size, 3), np.uint8)
            masks = np.zeros((frames, size, size), np.uint8)
            centers = np.full((frames, K, 2), np.nan, np.float32)
            boxes = np.full((frames, K, 4), np.nan, np.float32)
            for f in range(frames):
                img = np.full((size, size, 3), 96.0)
                img *= (0.8 + 0.2 * yy / size)[..., None]
                half = np.array([_HALF[s] for s in sizes])
                c3 = np.concatenate([pos[f, :n, :2], (pos[f, :n, 2] + half)[:, None]], 1)
                uv = cam.project(c3)
                depth = -cam.to_camera(c3)[:, 2]
                centers[f, :n] = uv
                for k in np.argsort(-depth):
                    r = cam.focal_px * half[k] / depth[k]
                    boxes[f, k] = [uv[k, 0] - r, uv[k, 1] - r, uv[k, 0] + r, uv[k, 1] + r]
                    if shapes[k] == "sphere":
                        m = (xx - uv[k, 0]) ** 2 + (yy - uv[k, 1]) ** 2 <= r * r
                    else:
                        m = (np.abs(xx - uv[k, 0]) <= r * 0.9) & (np.abs(yy - uv[k, 1]) <= r * 0.9)
                    col = np.array(_COLORS[colors[k]], float)
                    shade = 0.75 + 0.25 * np.cos(yaw[f, k] * 4 + (xx - uv[k, 0]) / max(r, 1))
                    img[m] = (col[None] * shade[m][:, None])
                    masks[f][m] = k + 1
                frames_rgb[f] = np.clip(img, 0, 255).astype(np.uint8)
            mo = {m: np.zeros((A, K), bool) for m in ("explicit", "ambiguous")}
            mc = {m: np.zeros((A, 6, 6), bool) for m in ("explicit", "ambiguous")}
            for m in mo:
                mo[m][0, 0] = True
            if kind in ("slide", "pick_place"):
                mc["explicit"][0, cell_index(target[0]), cell_index(target[1])] = True
                for c in quadrant_cells(quadrant_of_cell(target)):
                    mc["ambiguous"][0, cell_index(c[0]), cell_index(c[1])] = True
            same_shape = [k for k in range(n) if shapes[k] == shapes[0]]
            mo["ambiguous"][0, same_shape] = True
            vis = np.zeros((frames, K), bool)
            vis[:, :n] = True
            obj = f"the {sizes[0]} {colors[0]} rubber {shapes[0]}"
            cap = {"slide": f"{obj} is sliding to {target}.", "pick_place": f"{obj} is picked up and placed to {target}.",
                   "rotate": f"{obj} is rotating."}[kind]
            ann = {
                "num_objects": np.int8(n), "shape": list(shapes) + [""] * (K - n), "size": list(sizes) + [""] * (K - n),
                "color": list(colors) + [""] * (K - n), "material": ["rubber"] * n + [""] * (K - n),
                "positions": pos, "visible": vis, "centers_2d": centers, "boxes_2d": boxes, "masks": masks,
                "num_actions": np.int8(1), "action_slot": np.array([0, -1], np.int8),
                "action_kind": [kind, ""], "action_end": np.array([end, -1], np.int16),
                "target_cell": np.array([target, (0, 0)], np.int8), "contained_slot": np.array([-1, -1], np.int8),
            }
            for m in ("explicit", "ambiguous"):
                ann[f"match_objects_{m}"] = mo[m]
                ann[f"match_cells_{m}"] = mc[m]
                ann[f"match_targets_{m}"] = np.zeros((A, K), bool)
            w.add(frames_rgb, cap, cap, ann)
    return Path(path)


def make_cater_split(root: Path, num_videos: int = 6, seed: int = 0, split: str = "test", **kw) -> Path:
    return _one_shard_split(root, split, num_videos, seed, make_cater_shard, **kw)
