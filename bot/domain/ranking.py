"""Step 1 ranking rules: competition ranks, and the front door to the Step 1 methods.

`competition_ranks` lives here. The methods live in small modules named for what they hold:

- `bot.domain.stickers` — sticker (dot) voting: toggles and tallies;
- `bot.domain.matrix` — the 3x3 priority matrix;
- `bot.domain.pairwise` — pairwise ranking: pair sampling, win counts, Bradley–Terry;
- `bot.domain.combined` — the combined ranking of several methods.

Every public name of those modules can also be imported from here
(`from bot.domain.ranking import sticker_toggle`); they are loaded lazily (PEP 562) so the
method modules can themselves import `competition_ranks` from this module without a cycle.
Pure rules: standard library only, no I/O.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from bot.domain.combined import CombinedRow, combined_ranking
    from bot.domain.matrix import AXIS_MAX, AXIS_MIN, MatrixPoint, matrix_cell, matrix_result
    from bot.domain.pairwise import (
        PairwiseResult,
        all_pairs,
        bradley_terry,
        pairs_for_member,
        pairwise_result,
    )
    from bot.domain.stickers import (
        OptionTally,
        StickerAction,
        StickerChange,
        sticker_tally,
        sticker_toggle,
    )

_REEXPORTS: dict[str, str] = {
    "StickerAction": "bot.domain.stickers",
    "StickerChange": "bot.domain.stickers",
    "OptionTally": "bot.domain.stickers",
    "sticker_toggle": "bot.domain.stickers",
    "sticker_tally": "bot.domain.stickers",
    "AXIS_MIN": "bot.domain.matrix",
    "AXIS_MAX": "bot.domain.matrix",
    "MatrixPoint": "bot.domain.matrix",
    "matrix_cell": "bot.domain.matrix",
    "matrix_result": "bot.domain.matrix",
    "PairwiseResult": "bot.domain.pairwise",
    "all_pairs": "bot.domain.pairwise",
    "pairs_for_member": "bot.domain.pairwise",
    "pairwise_result": "bot.domain.pairwise",
    "bradley_terry": "bot.domain.pairwise",
    "CombinedRow": "bot.domain.combined",
    "combined_ranking": "bot.domain.combined",
}

__all__ = ["competition_ranks", *_REEXPORTS]


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


def __getattr__(name: str) -> Any:
    """Load a Step 1 method's public name on first use (see the module docstring)."""
    module = _REEXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_REEXPORTS))
