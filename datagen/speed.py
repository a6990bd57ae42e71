"""Speed as an explicit condition (docs/DATASETS.md, Speed): eta in (0, 1) picks a frame-sampling interval.

interval = s0 + eta * (s1 - s0); the clip is frames floor(linspace(0, N-1, round(N / interval))) of the raw
N-frame video, cut to T frames, the last frame repeated when shorter.
"""

from __future__ import annotations

import numpy as np

MNIST_INTERVAL = (1.0, 2.0)
CATER_INTERVAL = (3.0, 6.0)


def sampling_interval(eta: float, s0: float, s1: float) -> float:
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"speed eta={eta} is outside [0, 1]")
    return s0 + eta * (s1 - s0)


def clip_indices(num_raw: int, eta: float, s0: float, s1: float, length: int = 10) -> np.ndarray:
    """Raw-frame indices of the T-frame clip for speed eta."""
    interval = sampling_interval(eta, s0, s1)
    count = max(1, int(round(num_raw / interval)))
    idx = np.floor(np.linspace(0, num_raw - 1, count)).astype(np.int64)[:length]
    if len(idx) < length:
        idx = np.concatenate([idx, np.full(length - len(idx), idx[-1], dtype=np.int64)])
    return idx


def motion_end_frame(stop_raw: int, indices: np.ndarray) -> int:
    """First clip frame at which a motion that stops at raw frame ``stop_raw`` has finished (len(indices) if never)."""
    done = np.nonzero(indices >= stop_raw)[0]
    return int(done[0]) if len(done) else len(indices)
