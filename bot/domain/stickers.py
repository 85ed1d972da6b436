"""Sticker (dot) voting: a member's taps on the problem buttons, and the group tally."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.ranking import competition_ranks

__all__ = ["OptionTally", "StickerAction", "StickerChange", "sticker_tally", "sticker_toggle"]


class StickerAction(StrEnum):
    """What a tap did."""

    ADDED = "added"
    REMOVED = "removed"
    REFUSED_NO_STICKERS_LEFT = "refused_no_stickers_left"


@dataclass(frozen=True)
class StickerChange:
    """Outcome of one tap.

    `stickers` is the member's new ballot (option -> count, no zero entries; do not mutate),
    `left` the stickers the member still has to place.
    """

    option: int
    action: StickerAction
    stickers: dict[int, int]
    left: int


@dataclass(frozen=True)
class OptionTally:
    """One option's sticker count: online + paper (in-person) = total; competition rank."""

    option: int
    online: int
    paper: int
    total: int
    rank: int


def _check_counts(counts: Mapping[int, int], what: str) -> None:
    for option, count in counts.items():
        if count < 0:
            raise ValueError(f"{what}: negative count {count} for option {option}")


def sticker_toggle(
    current: Mapping[int, int], option: int, max_stickers: int, per_option: int
) -> StickerChange:
    """Apply a tap on `option` to a member's stickers (`current`: option -> count).

    - The option is below `per_option` and the member has stickers left: add one.
    - Otherwise, the option has stickers: remove all of the member's stickers from it
      (so with `per_option` = 1 a second tap removes the sticker).
    - Otherwise (no stickers left, option empty): refused, nothing changes.

    Every sticker in `current` counts against `max_stickers`. A tap never makes the ballot
    exceed either limit; a ballot already over a (lowered) limit can only shrink.
    """
    if max_stickers < 0:
        raise ValueError("max_stickers must be >= 0")
    if per_option < 1:
        raise ValueError("per_option must be >= 1")
    _check_counts(current, "current stickers")
    stickers = {opt: count for opt, count in current.items() if count > 0}
    used = sum(stickers.values())
    on_option = stickers.get(option, 0)
    if on_option < per_option and used < max_stickers:
        stickers[option] = on_option + 1
        action = StickerAction.ADDED
    elif on_option > 0:
        del stickers[option]
        action = StickerAction.REMOVED
    else:
        action = StickerAction.REFUSED_NO_STICKERS_LEFT
    left = max(0, max_stickers - sum(stickers.values()))
    return StickerChange(option=option, action=action, stickers=stickers, left=left)


def sticker_tally(
    ballots: Mapping[int, Mapping[int, int]],
    options: Sequence[int],
    paper: Mapping[int, int] | None = None,
) -> list[OptionTally]:
    """Count stickers per option: `ballots` is voter -> (option -> count), `paper` the
    in-person stickers per option entered by the facilitator.

    Only options in `options` count (stickers on others, e.g. hidden problems, are ignored);
    options with no sticker are included. Sorted by total (desc), then option id; ranks are
    competition ranks of the total.
    """
    listed = list(dict.fromkeys(options))
    online = dict.fromkeys(listed, 0)
    for ballot in ballots.values():
        _check_counts(ballot, "ballot")
        for option, count in ballot.items():
            if option in online:
                online[option] += count
    paper_counts = dict(paper or {})
    _check_counts(paper_counts, "paper tally")
    totals = {option: online[option] + paper_counts.get(option, 0) for option in listed}
    ranks = competition_ranks(totals)
    rows = [
        OptionTally(
            option=option,
            online=online[option],
            paper=paper_counts.get(option, 0),
            total=totals[option],
            rank=ranks[option],
        )
        for option in listed
    ]
    rows.sort(key=lambda row: (-row.total, row.option))
    return rows
