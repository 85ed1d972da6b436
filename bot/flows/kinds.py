"""The kinds of ballot, in one registry: each step module that runs a ballot (dots, matrix,
pairwise, election, plan, evaluation) registers its kind here with what the common ballot flows
need of it — how /poll opens it, how the group and a member see it, what closing posts, what
/results shows — and ``ballots`` dispatches through it instead of naming the kinds. Its buttons
route by their own payload kinds (``registry.button``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.domain.models import Community
from bot.flows.types import Chart, View
from bot.i18n import Translator
from bot.storage.ballots import Ballot
from bot.storage.db import Tx
from bot.storage.problems import Problem

if TYPE_CHECKING:
    from bot.flows.context import Build, Context
    from bot.flows.results import Result


def ballot_view(ballot_id: int) -> View:
    """The view of a ballot's messages (its group message, a member's private one): tag "b12".
    Asked for with ``ctx.refresh``, the group's live counts are redrawn (``dots``' refresher)."""
    return View("b", ballot_id)


@dataclass(frozen=True)
class Method:
    """A way of ranking the problems (``results`` builds, states and draws every result by it)."""

    # the result from the votes: (tx, ballot, problems by id, the options counted, voters)
    tally: Callable[[Tx, Ballot, dict[int, Problem], list[int], int], Awaitable[Result]]
    # the sentence stating a single first place: (tr, result, the method's name, that problem, it named)
    finding: Callable[[Translator, Result, str, Problem, str], str]
    chart: Callable[[Translator, Result, str], Chart]  # (tr, result, subtitle)


@dataclass(frozen=True)
class BallotKind:
    name: str                    # as stored (``Ballot.kind``) and typed after /poll
    title: str                   # its name, a message id
    aliases: tuple[str, ...]     # other words that name it after /poll and /close
    # ``/poll <name> <numbers> …``: checks the numbers, opens the ballot and audits it (or refuses)
    open: Callable[[Context, Community, list[int], str, datetime | None], Awaitable[Ballot]]
    show_private: Callable[[Context, Ballot], Awaitable[None]]  # the member's own view, in private
    post_result: Callable[[Context, Community, Ballot], Awaitable[None]]  # when it closes
    results_reply: Callable[[Context, Ballot], Awaitable[None]]  # /results, when it closed last
    # Voted on with the buttons of its message in the group: how that message is drawn (the
    # others are voted on in private, and the group gets ``invitation`` with a link there).
    group_view: Callable[[Context, Community, Ballot], Awaitable[Build]] | None = None
    invitation: Callable[[Translator], str] | None = None
    method: Method | None = None  # a ranking of problems: its result joins the combined ranking


KINDS: dict[str, BallotKind] = {}  # in the order registered (the order of bot.flows.all)


def register(kind: BallotKind) -> BallotKind:
    if kind.name in KINDS:
        raise ValueError(f"ballot kind {kind.name!r} registered twice")
    if (kind.group_view is None) == (kind.invitation is None):
        raise ValueError(f"ballot kind {kind.name!r}: voted in the group (group_view) or invited to private")
    KINDS[kind.name] = kind
    return kind


def kind_of(ballot: Ballot) -> BallotKind:
    return KINDS[ballot.kind]


def title(ballot: Ballot) -> str:
    """The message id of the ballot's name (translate it)."""
    return KINDS[ballot.kind].title


def named(word: str) -> str | None:
    """The kind a word after /poll or /close names, if any."""
    word = word.lower()
    return next((k.name for k in KINDS.values() if word == k.name or word in k.aliases), None)
