"""The 6x6 table grid of CATER-GEN (docs/DATASETS.md, CATER-GEN: Scene): cell labels, cell centres, quadrants.

Captions name places by these labels, so one definition serves the planner (targets), the captions and the
match sets. A coordinate maps to a signed label in {-3,-2,-1,1,2,3} (no 0): (0,1] -> 1, (1,2] -> 2, (2,3] -> 3,
(-1,0] -> -1, (-2,-1] -> -2, (-3,-2] -> -3. Values beyond the grid clamp to the outer label (so x = -3 is -3).
"""

from __future__ import annotations

import math

LABELS = (-3, -2, -1, 1, 2, 3)
QUADRANTS = ("first", "second", "third", "fourth")
GRID_HALF = 3.0


def axis_label(v: float) -> int:
    """Signed cell label of one coordinate."""
    if v > 0:
        return int(min(3, max(1, math.ceil(v))))
    # (-1, 0] -> -1, (-2, -1] -> -2, (-3, -2] -> -3
    return -int(min(3, math.floor(-v) + 1))


def cell_of(x: float, y: float) -> tuple[int, int]:
    return axis_label(x), axis_label(y)


def cell_center(cell: tuple[int, int]) -> tuple[float, float]:
    """Centre of a labelled cell: label 1 -> 0.5, -1 -> -0.5, 3 -> 2.5."""
    def c(label: int) -> float:
        if label not in LABELS:
            raise ValueError(f"cell label {label} is not one of {LABELS}")
        return label - 0.5 if label > 0 else label + 0.5

    return c(cell[0]), c(cell[1])


def quadrant_of_cell(cell: tuple[int, int]) -> str:
    """first (+,+), second (-,+), third (-,-), fourth (+,-)."""
    x, y = cell
    if x > 0 and y > 0:
        return "first"
    if x < 0 and y > 0:
        return "second"
    if x < 0 and y < 0:
        return "third"
    return "fourth"


def quadrant_of(x: float, y: float) -> str:
    return quadrant_of_cell(cell_of(x, y))


def quadrant_cells(quadrant: str) -> list[tuple[int, int]]:
    """The nine cells of a quadrant."""
    sx, sy = {"first": (1, 1), "second": (-1, 1), "third": (-1, -1), "fourth": (1, -1)}[quadrant]
    return [(sx * a, sy * b) for a in (1, 2, 3) for b in (1, 2, 3)]


def all_cells() -> list[tuple[int, int]]:
    return [(x, y) for x in LABELS for y in LABELS]


def cell_index(label: int) -> int:
    """Row/column index of a label in LABELS order (for [6, 6] boolean cell maps)."""
    return LABELS.index(label)
