"""The handbook's 3x3 priority matrix: two axes scored 1–3, cell = a + b − 1 (1…5).

Grid (rows a = 1..3, columns b = 1..3)::

    1 2 3
    2 3 4
    3 4 5
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.domain.ranking import competition_ranks

__all__ = ["AXIS_MAX", "AXIS_MIN", "MatrixPoint", "matrix_cell", "matrix_result"]

AXIS_MIN = 1
AXIS_MAX = 3


def _check_axis(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if not AXIS_MIN <= value <= AXIS_MAX:
        raise ValueError(f"{name} must be in {AXIS_MIN}..{AXIS_MAX}, got {value}")


def matrix_cell(a: int, b: int) -> int:
    """Cell value for scores a, b (each 1..3): a + b − 1, from 1 (lowest) to 5 (highest)."""
    _check_axis(a, "a")
    _check_axis(b, "b")
    return a + b - 1


@dataclass(frozen=True)
class MatrixPoint:
    """One option on the group's grid.

    Means are over the `n` members who scored the option; `mean_score` is the mean of
    a + b − 1. `cell_a`/`cell_b` are the means rounded half up (clamped to 1..3): the cell the
    option is drawn in. An option nobody scored has n = 0, all means 0.0, cell_a = cell_b = 0
    (not placed) and ranks after every scored option.
    """

    option: int
    mean_a: float
    mean_b: float
    mean_score: float
    cell_a: int
    cell_b: int
    n: int
    rank: int

    @property
    def cell(self) -> int:
        """Value of the grid cell the option is drawn in (0 when not placed)."""
        return matrix_cell(self.cell_a, self.cell_b) if self.n else 0


def _round_half_up(total: int, count: int) -> int:
    """total / count rounded half up, exactly, clamped to the axis."""
    rounded = (2 * total + count) // (2 * count)
    return min(AXIS_MAX, max(AXIS_MIN, rounded))


def matrix_result(
    scores: Mapping[int, Mapping[int, tuple[int, int]]], options: Sequence[int]
) -> list[MatrixPoint]:
    """Group result: `scores[voter][option] = (a, b)` (e.g. importance, urgency), each 1..3.

    Only options in `options` count. Sorted by mean_score (desc), then option id; scored
    options get competition ranks of mean_score; unscored ones share the rank after them.
    Raises ValueError on a score outside 1..3.
    """
    listed = list(dict.fromkeys(options))
    sums = {option: [0, 0, 0] for option in listed}  # sum a, sum b, count
    for ballot in scores.values():
        for option, (a, b) in ballot.items():
            matrix_cell(a, b)
            if option in sums:
                acc = sums[option]
                acc[0] += a
                acc[1] += b
                acc[2] += 1
    scored = {option: acc for option, acc in sums.items() if acc[2] > 0}
    mean_scores = {
        option: (sum_a + sum_b - count) / count for option, (sum_a, sum_b, count) in scored.items()
    }
    ranks = competition_ranks(mean_scores)
    unscored_rank = len(scored) + 1
    points: list[MatrixPoint] = []
    for option in listed:
        sum_a, sum_b, count = sums[option]
        if count:
            point = MatrixPoint(
                option=option,
                mean_a=sum_a / count,
                mean_b=sum_b / count,
                mean_score=mean_scores[option],
                cell_a=_round_half_up(sum_a, count),
                cell_b=_round_half_up(sum_b, count),
                n=count,
                rank=ranks[option],
            )
        else:
            point = MatrixPoint(option, 0.0, 0.0, 0.0, 0, 0, 0, unscored_rank)
        points.append(point)
    points.sort(key=lambda p: (p.n == 0, -p.mean_score, p.option))
    return points
