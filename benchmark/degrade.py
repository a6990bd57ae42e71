"""What generated videos do to pixels, as functions of a frame: blur, noise, JPEG, colour gain and offset,
down-then-up sampling (a VQ-VAE's 8x8 tokens), a small shift.

One module for both uses: the CATER judge is trained on frames degraded at random (:func:`random_degrade`),
and its robustness is measured on ground truth degraded by each fixed setting of :data:`ROBUSTNESS`
(``bench/judge_robustness.py``). Frames are uint8 [H, W, 3]; every function returns a new uint8 frame.
"""

from __future__ import annotations

import cv2
import numpy as np


def blur(frame: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(frame, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REFLECT)


def noise(frame: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(frame + rng.normal(0.0, sigma, frame.shape), 0, 255).astype(np.uint8)


def jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def colour(frame: np.ndarray, gain, offset=0.0) -> np.ndarray:
    """frame * gain + offset (gain, offset: scalars or per-channel)."""
    out = frame.astype(np.float32) * np.asarray(gain, np.float32) + np.asarray(offset, np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def down_up(frame: np.ndarray, factor: int) -> np.ndarray:
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def shift(frame: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The frame moved by (dx, dy) pixels, edges repeated."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(frame, m, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REPLICATE)


# the robustness table's settings (issue: blur sigma 1 px, noise sigma 8, JPEG 30, 4x down-up, 10% gain)
ROBUSTNESS = {
    "blur sigma 1": lambda f, rng: blur(f, 1.0),
    "noise sigma 8": lambda f, rng: noise(f, 8.0, rng),
    "jpeg q30": lambda f, rng: jpeg(f, 30),
    "down-up 4x": lambda f, rng: down_up(f, 4),
    "gain +10%": lambda f, rng: colour(f, 1.1),
}


def degrade_video(video: np.ndarray, name: str, seed: int = 0, keep_first: bool = True) -> np.ndarray:
    """A clip [T, H, W, 3] with every frame but the given first one (``keep_first``) degraded by
    ``ROBUSTNESS[name]``."""
    rng = np.random.default_rng(seed)
    out = video.copy()
    for t in range(1 if keep_first else 0, len(video)):
        out[t] = ROBUSTNESS[name](video[t], rng)
    return out


def random_degrade(frame: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    """A random mix of the above, wider than the robustness settings; returns the frame and the shift applied
    (labels move with it)."""
    f = frame
    if rng.random() < 0.3:
        f = down_up(f, int(rng.choice([2, 3, 4])))
    if rng.random() < 0.4:
        f = blur(f, rng.uniform(0.3, 1.8))
    if rng.random() < 0.5:
        f = colour(f, rng.uniform(0.9, 1.1) * rng.uniform(0.88, 1.14, 3), rng.uniform(-15, 15, 3))
    if rng.random() < 0.4:
        f = noise(f, rng.uniform(2, 14), rng)
    if rng.random() < 0.3:
        f = jpeg(f, int(rng.integers(15, 90)))
    d = (0, 0)
    if rng.random() < 0.25:
        d = (int(rng.integers(-2, 3)), int(rng.integers(-2, 3)))
        f = shift(f, *d)
    return f, d
