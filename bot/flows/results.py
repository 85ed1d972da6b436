"""A ranking's result: tallies from the domain rules, the caption that states the finding, and the
chart drawn from the same data — each by the ballot kind's ``Method`` (in dots, matrix, pairwise).

Merged problems count as the problem they were merged into, hidden ones not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.domain.combined import combined_ranking
from bot.domain.ranking import competition_ranks
from bot.domain.text import shorten
from bot.flows import kinds
from bot.flows.context import esc
from bot.flows.types import Chart
from bot.i18n import N_, Translator, translator
from bot.storage import ballots, problems
from bot.storage.ballots import Ballot
from bot.storage.db import Tx
from bot.storage.problems import Problem

if TYPE_CHECKING:
    from bot.flows.context import Context

METHOD_NAMES = {"dots": N_("Sticker voting"), "matrix": N_("Priority matrix"), "pairwise": N_("Pairwise ranking")}
SHORT_NAMES = {"dots": N_("Stickers"), "matrix": N_("Matrix"), "pairwise": N_("Pairs")}  # chart columns


@dataclass
class Result:
    ballot: Ballot
    by_id: dict[int, Problem]
    ranks: dict[int, int]                  # problem id → rank (1 = most pressing; ties share)
    order: list[int]                       # problem ids, best first
    voters: int
    rows: list = field(default_factory=list)  # the domain's rows for the chart
    extra: dict = field(default_factory=dict)
    included: set[int] = field(default_factory=set)  # the problems this method judged (on its ballot, with votes)


def canonical(by_id: dict[int, Problem], problem_id: int) -> int | None:
    """The open problem a vote on ``problem_id`` counts for (None when it was hidden)."""
    seen = set()
    while problem_id in by_id and by_id[problem_id].status == "merged" and problem_id not in seen:
        seen.add(problem_id)
        problem_id = by_id[problem_id].merged_into or problem_id
    problem = by_id.get(problem_id)
    return problem_id if problem is not None and problem.status == "open" else None


async def build(tx: Tx, ballot: Ballot) -> Result:
    by_id = await problems.all_of(tx, ballot.community_id)
    options = list(dict.fromkeys(c for p in await ballots.all_options(tx, ballot.id)
                                 if (c := canonical(by_id, p)) is not None))
    voters = await ballots.voters(tx, ballot)
    return await method_of(ballot).tally(tx, ballot, by_id, options, voters)


def method_of(ballot: Ballot) -> kinds.Method:
    method = kinds.kind_of(ballot).method
    assert method is not None, f"a {ballot.kind} ballot ranks no problems"
    return method


def comparisons(outcome, problem_id: int) -> int:
    """How many of the members' answers compared the problem with another (won or lost)."""
    return sum(count for pair, count in outcome.wins.items() if problem_id in pair)


def _first(result: Result) -> list[Problem]:
    return [result.by_id[p] for p in result.order if result.ranks.get(p) == 1]


def _names(problems_: list[Problem]) -> str:
    return ", ".join(f"#{p.number} «{esc(shorten(p.text, 60))}»" for p in problems_)


def audit_line(tr: Translator, audit_head: str) -> str:
    """The last line of every result posted: its check code, the audit log's short head hash when the
    result was posted (``qatysu audit verify --head``), said once in words a villager understands."""
    return tr.t("Check code: {code}. With it anyone can later make sure that no vote in this result was "
                "changed.", code=audit_head[:8])


async def posted_code(ctx: "Context", ballot: Ballot) -> str:
    """The check code of a ballot's result being posted now, kept so /results can repeat it."""
    code = await ctx.audit_head()
    await ballots.set_check_code(ctx.tx, ballot.id, code)
    return code


async def repeated_code(ctx: "Context", ballot: Ballot) -> str:
    """The check code the group saw under the ballot's result (the head now, for a result
    posted before codes were kept)."""
    return ballot.check_code or await ctx.audit_head()


def paper_line(tr: Translator, ballot: Ballot, stickers: int) -> str:
    """The in-person part of a sticker vote: meetings, people, stickers (each /paper adds a meeting)."""
    return (tr.tn("In person: {n} meeting, added to the online count.",
                  "In person: {n} meetings, added to the online count.", ballot.paper_meetings) + " "
            + tr.tn("{n} person came.", "{n} people came.", ballot.paper_present) + " "
            + tr.tn("They placed {n} paper sticker.", "They placed {n} paper stickers.", stickers))


def caption(tr: Translator, result: Result, audit_head: str) -> str:
    """One sentence that states the finding, then turnout and the audit log's head."""
    ballot, first = result.ballot, _first(result)
    title = tr.t(METHOD_NAMES[ballot.kind])
    if not first:
        finding = tr.t("{method}: no problem of this ballot is left (all were hidden or merged away).",
                       method=title)
    elif not result.voters and not ballot.paper_present:
        finding = tr.t("{method}: nobody voted.", method=title)
    elif len(first) > 1:
        finding = tr.t("{method}: a tie for first place between {problems}.", method=title, problems=_names(first))
    else:
        finding = method_of(ballot).finding(tr, result, title, first[0], _names(first))
    lines = [finding, tr.tn("{n} member voted.", "{n} members voted.", result.voters)]
    if ballot.paper_meetings:  # (only a sticker vote is held on paper too)
        lines.append(paper_line(tr, ballot, sum(r.paper for r in result.rows)))
    lines.append(audit_line(tr, audit_head))
    return "\n".join(lines)


def chart(locale: str, result: Result) -> Chart:
    """The chart of the result, with labels in ``locale``; rendered after the commit."""
    tr = translator(locale)
    subtitle = tr.tn("{n} member voted", "{n} members voted", result.voters)
    return method_of(result.ballot).chart(tr, result, subtitle)


def included_ranks(result: Result) -> dict[int, int]:
    """A method's ranks of the problems it included, ranked among themselves (a pairwise problem
    nobody compared neither gets a rank nor pushes the compared ones down)."""
    return competition_ranks({p: float(rank) for p, rank in result.ranks.items() if p in result.included},
                             higher_is_better=False)


def combined(locale: str, latest: list[Result]) -> tuple[list, Chart]:
    """The combined ranking of the latest result of each method, and its chart."""
    from bot import charts
    from bot.charts import data

    tr = translator(locale)
    rows = combined_ranking({r.ballot.kind: included_ranks(r) for r in latest})
    by_id = latest[-1].by_id
    methods = [r.ballot.kind for r in latest]
    chart_rows = [data.CombinedRow(by_id[row.option].number, by_id[row.option].text,
                                   tuple(row.ranks.get(m) for m in methods), row.rank) for row in rows]
    labels = {"title": tr.t("Combined ranking"),
              "subtitle": tr.t("Rank by each method; equal ranks are ties. The combined rank orders the mean "
                               "of a problem's ranks by the methods that included it; — means the method did "
                               "not include the problem."),
              "rank": tr.t("Rank"), "problem": tr.t("Problem"), "empty": tr.t("No rankings yet")}
    return rows, Chart(charts.render_combined, (chart_rows, [tr.t(SHORT_NAMES[m]) for m in methods], labels),
                       filename="combined.png")
