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

