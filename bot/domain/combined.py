"""Combined ranking: several methods' ranks side by side, ordered by their mean."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.ranking import competition_ranks

__all__ = ["CombinedRow", "combined_ranking"]


@dataclass(frozen=True)
class CombinedRow:
    """One option: its rank under each method (input method order), their mean, and the
    option's competition rank on that mean (lower mean is better; equal means tie)."""

    option: int
    ranks: dict[str, int]
    mean_rank: float
    rank: int


def combined_ranking(method_ranks: Mapping[str, Mapping[int, int]]) -> list[CombinedRow]:
    """Combine `method_ranks[method][option] = rank` (1 = best) into one ranking.

    The options are all those ranked by any method. An option a method did not rank gets,
    for that method, 1 + the number of options that method ranked — the rank it would have
    at the bottom of that method's competition ranking (for a method without ties this is its
    last rank + 1). Rows are sorted by mean rank, then option id.
    """
    methods = list(method_ranks)
    if not methods:
        return []
    options = sorted({option for ranks in method_ranks.values() for option in ranks})
    filled: dict[int, dict[str, int]] = {option: {} for option in options}
    for method in methods:
        ranks = method_ranks[method]
        bottom = len(ranks) + 1
        for option in options:
            filled[option][method] = ranks.get(option, bottom)
    # Every option has one rank per method, so the sum orders exactly like the mean.
    sums = {option: sum(filled[option].values()) for option in options}
    final = competition_ranks({option: float(total) for option, total in sums.items()},
                              higher_is_better=False)
    rows = [
        CombinedRow(
            option=option,
            ranks=filled[option],
            mean_rank=sums[option] / len(methods),
            rank=final[option],
        )
        for option in options
    ]
    rows.sort(key=lambda row: (row.rank, row.option))
    return rows
