"""The plain rows the Step 1 charts draw (no domain imports).

Renderers accept these dataclasses or plain tuples in the same field order.
``number`` is the problem's number as the caption and lists refer to it ("1.", "2.", …);
``text`` is the problem as proposed (any length; the chart shortens it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def _count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")


@dataclass(frozen=True)
class StickerRow:
    """Sticker votes for one problem: online (bot) and in person (paper, entered by hand)."""

    number: int
    text: str
    online: int
    paper: int = 0
    total: int | None = None  # online + paper; computed when omitted

    def __post_init__(self) -> None:
        _count("online", self.online)
        _count("paper", self.paper)
        if self.total is None:
            object.__setattr__(self, "total", self.online + self.paper)
        elif self.total != self.online + self.paper:
            raise ValueError(f"total {self.total} != online {self.online} + paper {self.paper}")


@dataclass(frozen=True)
class MatrixPoint:
    """Where one problem lands on the 3×3 priority matrix.

    ``cell_a`` is the first axis (importance, 1..3, columns left to right), ``cell_b`` the
    second (urgency, 1..3, rows top to bottom, as in the handbook's grid); the cell's value
    is ``cell_a + cell_b - 1`` (1..5). ``mean_score`` (the mean of the members' cell values)
    orders the list; the list shows ``mean_a · mean_b`` — the means on the 1–3 scale members
    were asked — when given, else ``mean_score``.
    """

    number: int
    text: str
    cell_a: int
    cell_b: int
    mean_score: float
    mean_a: float | None = None
    mean_b: float | None = None

    def __post_init__(self) -> None:
        for name in ("cell_a", "cell_b"):
            value = getattr(self, name)
            if isinstance(value, bool) or value not in (1, 2, 3):
                raise ValueError(f"{name} must be 1, 2 or 3, got {value!r}")

    @property
    def value(self) -> int:
        return self.cell_a + self.cell_b - 1


@dataclass(frozen=True)
class Problem:
    """A problem as a row/column of the pairwise win matrix."""

    number: int
    text: str


@dataclass(frozen=True)
class RankedProblem:
    """One line of a resulting order: the problem and its score (wins or model strength);
    with ``wins`` and ``compared`` given, the line shows "wins / compared" — counts a member
    can check in the matrix — instead of the score."""

    number: int
    text: str
    score: float
    wins: int | None = None
    compared: int | None = None


@dataclass(frozen=True)
class CombinedRow:
    """One problem's rank by each method (None: not ranked by it) and its combined rank.

    Equal ranks are ties: two rows with ``combined == 2`` are both shown as "=2".
    """

    number: int
    text: str
    ranks: tuple[int | None, ...]
    combined: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "ranks", tuple(self.ranks))
        for rank in (*(r for r in self.ranks if r is not None), self.combined):
            if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
                raise ValueError(f"ranks must be positive ints (None: not ranked), got {rank!r}")


@dataclass(frozen=True)
class CandidateRow:
    """One candidate of the initiative group (ҚМҰТ) election.

    ``name`` is the member's display name (any length and script; the chart shortens it);
    ``category`` one of the category keys given to the renderer; ``votes`` the approvals.
    ``tied``: the votes did not decide between this candidate and another (the candidate is
    seated all the same; the chart marks it).
    """

    name: str
    category: str
    votes: int
    elected: bool
    tied: bool = False

    def __post_init__(self) -> None:
        _count("votes", self.votes)
        for flag in ("elected", "tied"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be a bool, got {getattr(self, flag)!r}")
        if not isinstance(self.category, str) or not self.category:
            raise ValueError(f"category must be a non-empty key, got {self.category!r}")


TREE_KINDS = ("cause", "effect")


@dataclass(frozen=True)
class TreeNode:
    """One cause or consequence of the problem tree (step 3).

    ``number`` is the node's number as lists and commands refer to it ("#3"), unique in the
    tree; ``text`` as a member wrote it (any length and script; the chart shortens it);
    ``kind`` "cause" or "effect"; ``parent`` the number of the node of the same kind it hangs
    under, None when it hangs on the problem itself.
    """

    number: int
    text: str
    kind: str
    parent: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or not isinstance(self.number, int) or self.number < 1:
            raise ValueError(f"number must be a positive int, got {self.number!r}")
        if not isinstance(self.text, str):
            raise ValueError(f"text must be a str, got {self.text!r}")
        if self.kind not in TREE_KINDS:
            raise ValueError(f"kind must be 'cause' or 'effect', got {self.kind!r}")
        if self.parent is not None and (isinstance(self.parent, bool)
                                        or not isinstance(self.parent, int) or self.parent < 1):
            raise ValueError(f"parent must be a positive int or None, got {self.parent!r}")
        if self.parent == self.number:
            raise ValueError(f"node #{self.number} cannot hang under itself")


def coerce(cls: type[T], item: Any) -> T:
    """*item* as a *cls*: itself, or built from a tuple/list in field order, or a mapping."""
    if isinstance(item, cls):
        return item
    if isinstance(item, dict):
        return cls(**item)
    return cls(*item)


@dataclass(frozen=True)
class ResourceRow:
    """One resource of the step 4 resource map (ресурстар картасы).

    ``number`` is the resource's number as lists refer to it ("#3"), unique in the map;
    ``kind`` one of the kind keys given to the renderer; ``text`` what it is (3–200
    characters, any script; the chart shortens it); ``holder`` who holds it and ``place``
    where it is ("" when unknown; up to 100 characters each).
    """

    number: int
    kind: str
    text: str
    holder: str = ""
    place: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or not isinstance(self.number, int) or self.number < 1:
            raise ValueError(f"number must be a positive int, got {self.number!r}")
        if not isinstance(self.kind, str) or not self.kind:
            raise ValueError(f"kind must be a non-empty key, got {self.kind!r}")
        if not isinstance(self.text, str) or not 3 <= len(self.text.strip()) <= 200:
            raise ValueError(f"text must be a str of 3 to 200 characters, got {self.text!r}")
        for name in ("holder", "place"):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) > 100:
                raise ValueError(f"{name} must be a str of at most 100 characters, "
                                 f"got {value!r}")


@dataclass(frozen=True)
class OrgRow:
    """One organisation, body, group or person of the step 4 institutional diagram.

    ``number`` is its number as lists refer to it ("#2"), unique in the diagram; ``name``
    as members wrote it (up to 100 characters, any script; the list shortens it);
    ``importance`` and ``closeness`` the means of the members' estimates, 1.0 to 3.0 (3: most
    important, closest to the community); ``raters`` how many members estimated it (≥ 1).
    """

    number: int
    name: str
    importance: float
    closeness: float
    raters: int

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or not isinstance(self.number, int) or self.number < 1:
            raise ValueError(f"number must be a positive int, got {self.number!r}")
        if not isinstance(self.name, str) or len(self.name) > 100:
            raise ValueError(f"name must be a str of at most 100 characters, got {self.name!r}")
        for field in ("importance", "closeness"):
            value = getattr(self, field)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not 1.0 <= value <= 3.0):  # NaN fails too
                raise ValueError(f"{field} must be a number from 1 to 3, got {value!r}")
            object.__setattr__(self, field, float(value))
        if isinstance(self.raters, bool) or not isinstance(self.raters, int) or self.raters < 1:
            raise ValueError(f"raters must be a positive int, got {self.raters!r}")


from datetime import date, datetime  # noqa: E402  (the task rows' dates)


@dataclass(frozen=True)
class TaskRow:
    """One task of the step 5 action plan (іс-қимыл жоспары).

    ``number`` is the task's number as lists refer to it ("#3"), unique in the plan;
    ``title`` what is to be done (3–150 characters, any script; the chart shortens it);
    ``owner`` the responsible member's name ("" when nobody has taken it yet; up to 100
    characters); ``start`` and ``due`` calendar days (``datetime.date``, not datetimes),
    None while not scheduled; ``due`` is on or after ``start`` when both are given.
    """

    number: int
    title: str
    owner: str = ""
    start: date | None = None
    due: date | None = None

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or not isinstance(self.number, int) or self.number < 1:
            raise ValueError(f"number must be a positive int, got {self.number!r}")
        if not isinstance(self.title, str) or not 3 <= len(self.title.strip()) <= 150:
            raise ValueError(f"title must be a str of 3 to 150 characters, got {self.title!r}")
        if not isinstance(self.owner, str) or len(self.owner) > 100:
            raise ValueError(f"owner must be a str of at most 100 characters, got {self.owner!r}")
        for name in ("start", "due"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
                raise ValueError(f"{name} must be a datetime.date or None, got {value!r}")
        if self.start is not None and self.due is not None and self.due < self.start:
            raise ValueError(f"task #{self.number} is due {self.due} before it starts "
                             f"{self.start}")


@dataclass(frozen=True)
class EvaluationSummary:
    """The members' answers to the step 7 evaluation (бағалау), as counts.

    ``goal``: how many answered "Did we reach the goal we wanted?" with yes, partly and no;
    ``ratings``: how many rated the cycle 1, 2, 3, 4 and 5; ``again``: how many will take part
    again, yes and no; ``respondents``: members who answered at all. A member may skip a
    question, so each group of counts adds up to at most ``respondents``.
    """

    goal: tuple[int, int, int]
    ratings: tuple[int, int, int, int, int]
    again: tuple[int, int]
    respondents: int

    def __post_init__(self) -> None:
        _count("respondents", self.respondents)
        for name, size in (("goal", 3), ("ratings", 5), ("again", 2)):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise ValueError(f"{name} must be {size} counts, got {value!r}")
            value = tuple(value)
            if len(value) != size:
                raise ValueError(f"{name} must be {size} counts, got {value!r}")
            for count in value:
                _count(name, count)
            if sum(value) > self.respondents:
                raise ValueError(f"{name} has {sum(value)} answers but only "
                                 f"{self.respondents} members answered")
            object.__setattr__(self, name, value)


PROGRESS_STATUSES = ("done", "on_track", "late", "blocked", "none")


@dataclass(frozen=True)
class ProgressRow:
    """One task: ``number``, ``title``, ``owner`` ("" nobody), ``start``/``due`` (dates or None),
    ``status`` one of done, on_track, late, blocked, none (no check-in yet), ``percent`` 0–100."""

    number: int
    title: str
    owner: str = ""
    start: date | None = None
    due: date | None = None
    status: str = "none"
    percent: int = 0

    def __post_init__(self) -> None:
        if self.status not in PROGRESS_STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if not 0 <= self.percent <= 100:
            raise ValueError(f"percent must be 0–100, got {self.percent!r}")
