"""Combined ranking: several methods' ranks side by side, ordered by their mean."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.ranking import competition_ranks

__all__ = ["CombinedRow", "combined_ranking"]


@dataclass(frozen=True)
class CombinedRow:
    """One option: its rank under each method that included it (input method order; a method
    that did not include it is absent), the mean of those ranks, and the option's competition
    rank on that mean (lower mean is better; equal means tie)."""

    option: int
    ranks: dict[str, int]
    mean_rank: float
    rank: int


def combined_ranking(method_ranks: Mapping[str, Mapping[int, int]]) -> list[CombinedRow]:
    """Combine `method_ranks[method][option] = rank` (1 = best) into one ranking.

    The options are all those ranked by any method. An option counts only the methods that
    ranked it: a method that did not include it gives it no rank (never a made-up bottom rank),
    and its mean rank is over the others. Rows are sorted by mean rank; among equal means, the
    option more methods ranked comes first, then the lower option id.
    """
    methods = list(method_ranks)
    options = sorted({option for ranks in method_ranks.values() for option in ranks})
    given = {option: {m: method_ranks[m][option] for m in methods if option in method_ranks[m]}
             for option in options}
    means = {option: sum(ranks.values()) / len(ranks) for option, ranks in given.items()}
    final = competition_ranks(means, higher_is_better=False)
    rows = [CombinedRow(option=option, ranks=given[option], mean_rank=means[option], rank=final[option])
            for option in options]
    rows.sort(key=lambda row: (row.rank, -len(row.ranks), row.option))
    return rows
