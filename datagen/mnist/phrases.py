"""Reading a motion phrase back from a track, independently of how the planner chose it.

Used by the tests (a caption says "up then down" and the track really goes up then down) and by the benchmark,
which applies it to tracks located in generated videos.
"""

from __future__ import annotations

import numpy as np

from .plan import HORIZONTAL, SPAN, VERTICAL

_NAMES = {(HORIZONTAL, -1): "left", (HORIZONTAL, 1): "right", (VERTICAL, -1): "up", (VERTICAL, 1): "down"}


def direction_runs(track: np.ndarray, tolerance: float = 0.5) -> list[str]:
    """The sequence of directions a top-left track [F, 2] moves in, merging repeats and ignoring jitter."""
    track = np.asarray(track, dtype=np.float64)
    diffs = np.diff(track, axis=0)
    runs: list[str] = []
    for dx, dy in diffs:
        axis = HORIZONTAL if abs(dx) >= abs(dy) else VERTICAL
        step = dx if axis == HORIZONTAL else dy
        if abs(step) <= tolerance:
            continue
        name = _NAMES[(axis, 1 if step > 0 else -1)]
        if not runs or runs[-1] != name:
            runs.append(name)
    return runs


def phrase_from_track(track: np.ndarray, stops: bool, tolerance: float = 0.5) -> str:
    """The caption phrase a track shows: "up then down", "right", ... or "static" / "irregular".

    ``stops`` selects the modified-dataset reading: one or two legs that end at a wall and hold. Bouncing
    tracks (single / double) read as their first two directions, which must be opposite.
    """
    runs = direction_runs(track, tolerance)
    if not runs:
        return "static"
    if len(runs) >= 2 and {runs[0], runs[1]} not in ({"left", "right"}, {"up", "down"}):
        return "irregular"
    if not stops:
        return f"{runs[0]} then {runs[1]}" if len(runs) >= 2 else "irregular"
    if len(runs) > 2:
        return "irregular"
    return runs[0] if len(runs) == 1 else f"{runs[0]} then {runs[1]}"


def ends_at_wall(track: np.ndarray, phrase: str, tolerance: float = 0.5) -> bool:
    """Whether a stopping track ends at the wall its last direction heads for."""
    last = phrase.split(" then ")[-1]
    x, y = np.asarray(track[-1], dtype=np.float64)
    target = {"left": x - 0, "right": SPAN - x, "up": y - 0, "down": SPAN - y}[last]
    return abs(target) <= tolerance
