"""Competition ranking ("1,1,3"), shared by the Step 1 methods.

The methods live in modules named for what they hold: `stickers` (sticker voting), `matrix`
(the 3x3 priority matrix), `pairwise` (pair sampling, win counts, Bradley–Terry) and
`combined` (several methods side by side). Pure rules: standard library only, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["competition_ranks"]


def competition_ranks(
    scores: Mapping[int, float],
    higher_is_better: bool = True,
    *,
    tolerance: float = 0.0,
) -> dict[int, int]:
    """Rank options "1,1,3" style: tied scores share a rank, the next rank skips.

    An option's rank is 1 + the number of options with a strictly better score. With
    `tolerance` > 0, a score within `tolerance` of the best score of the current tie group
    joins that group (for floating-point model fits); with the default 0 only equal scores tie.
    """
    if tolerance < 0:
        raise ValueError("tolerance must be >= 0")
    for option, score in scores.items():
        if math.isnan(score):
            raise ValueError(f"score of option {option} is NaN")
    sign = -1.0 if higher_is_better else 1.0
    ordered = sorted(scores.items(), key=lambda item: (sign * item[1], item[0]))
    ranks: dict[int, int] = {}
    leader = 0.0
    rank = 0
    for position, (option, score) in enumerate(ordered, start=1):
        if position == 1 or abs(score - leader) > tolerance:
            leader = score
            rank = position
        ranks[option] = rank
    return ranks
