"""A ballot's result: tallies from the domain rules, the caption that states the finding, and the
chart drawn from the same data.

Merged problems count as the problem they were merged into, hidden ones not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.domain.combined import combined_ranking
from bot.domain.matrix import matrix_result
from bot.domain.pairwise import pairwise_result
from bot.domain.ranking import competition_ranks
from bot.domain.stickers import sticker_tally
from bot.domain.text import shorten
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
    if ballot.kind == "dots":
        raw = await ballots.all_stickers(tx, ballot.id)
        merged: dict[int, dict[int, int]] = {}
        for member, marks in raw.items():
            for pid, count in marks.items():
                if (c := canonical(by_id, pid)) is not None:
                    merged.setdefault(member, {})[c] = min(merged.get(member, {}).get(c, 0) + count, ballot.per_option)
        paper: dict[int, int] = {}
        for pid, count in (await ballots.paper(tx, ballot.id)).items():
            if (c := canonical(by_id, pid)) is not None:
                paper[c] = paper.get(c, 0) + count
        rows = sticker_tally(merged, options, paper)
        return Result(ballot, by_id, {r.option: r.rank for r in rows}, [r.option for r in rows], voters, rows,
                      included=set(options))
    if ballot.kind == "matrix":
        scores: dict[int, dict[int, tuple[int, int]]] = {}
        for member, marks in (await ballots.all_scores(tx, ballot.id)).items():
            for pid, ab in sorted(marks.items(), key=lambda item: by_id[item[0]].status == "open"):
                if (c := canonical(by_id, pid)) is not None:
                    scores.setdefault(member, {})[c] = ab  # the surviving problem's own score wins
        rows = matrix_result(scores, options)
        return Result(ballot, by_id, {r.option: r.rank for r in rows}, [r.option for r in rows], voters, rows,
                      included={r.option for r in rows if r.n})
    answers: dict[int, dict[tuple[int, int], int]] = {}
    for member, pairs in (await ballots.all_answers(tx, ballot.id)).items():
        for (low, high), winner in pairs.items():
            a, b, w = canonical(by_id, low), canonical(by_id, high), canonical(by_id, winner)
            if a is None or b is None or a == b:
                continue
            answers.setdefault(member, {}).setdefault((min(a, b), max(a, b)), w)
    outcome = pairwise_result(answers, options)
    ranks = {option: rank for option, _, rank in outcome.ranking}
    compared = {option for pair in outcome.wins for option in pair if outcome.wins[pair]}
    return Result(ballot, by_id, ranks, [o for o, _, _ in outcome.ranking], voters, outcome.ranking,
                  {"outcome": outcome}, included=compared)


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
    elif ballot.kind == "dots":
        top = result.rows[0]
        total = sum(r.total for r in result.rows)
        finding = tr.tn("{method}: {problem} is the most pressing, with {top} of {n} sticker.",
                        "{method}: {problem} is the most pressing, with {top} of {n} stickers.", total,
                        method=title, problem=_names(first), top=top.total)
        if ballot.paper_meetings:
            finding += " " + tr.t("Online {online} + in person {paper} = {total}.",
                                  online=top.online, paper=top.paper, total=top.total)
    elif ballot.kind == "matrix":
        top = result.rows[0]
        finding = tr.t("{method}: {problem} is the most important and urgent: on the scale from 1 to 3 the "
                       "members used, importance {importance} and urgency {urgency} on average.",
                       method=title, problem=_names(first), importance=tr.num(top.mean_a),
                       urgency=tr.num(top.mean_b))
    else:
        outcome = result.extra["outcome"]
        top = first[0].id
        times = comparisons(outcome, top)
        finding = tr.t("{method}: {problem} was judged more pressing than the others most often — chosen: {wins}, "
                       "comparisons it was in: {times}.", method=title, problem=_names(first),
                       wins=outcome.win_counts.get(top, 0), times=times)
    lines = [finding, tr.tn("{n} member voted.", "{n} members voted.", result.voters)]
    if ballot.kind == "dots" and ballot.paper_meetings:
        lines.append(paper_line(tr, ballot, sum(r.paper for r in result.rows)))
    lines.append(audit_line(tr, audit_head))
    return "\n".join(lines)


def chart(locale: str, result: Result) -> Chart:
    """The chart of the result, with labels in ``locale``; rendered after the commit."""
    from bot import charts
    from bot.charts import data

    tr = translator(locale)
    ballot, by_id = result.ballot, result.by_id
    subtitle = tr.tn("{n} member voted", "{n} members voted", result.voters)
    if ballot.kind == "dots":
        rows = [data.StickerRow(by_id[r.option].number, by_id[r.option].text, r.online, r.paper) for r in result.rows]
        labels = {"title": tr.t("Sticker voting"), "subtitle": subtitle, "online": tr.t("online"),
                  "paper": tr.t("in person"), "empty": tr.t("No stickers yet")}
        return Chart(charts.render_stickers, (rows, labels), filename="stickers.png")
    if ballot.kind == "matrix":
        points = [data.MatrixPoint(by_id[r.option].number, by_id[r.option].text, r.cell_a, r.cell_b, r.mean_score,
                                   r.mean_a, r.mean_b) for r in result.rows if r.n]
        labels = {"title": tr.t("Priority matrix"), "subtitle": subtitle, "x": tr.t("Importance"),
                  "y": tr.t("Urgency"), "levels": tr.t("1 low|2 medium|3 high"), "problems": tr.t("Problems"),
                  "score": tr.t("Importance · urgency"),
                  "note": tr.t("Members scored each problem from 1 to 3 on importance and on urgency. The "
                               "number in the corner of a cell is importance + urgency − 1: from 1, the "
                               "least pressing, to 5, the most pressing."),
                  "empty": tr.t("No scores yet"), "decimal": tr.decimal}
        return Chart(charts.render_matrix, (points, labels), filename="matrix.png")
    outcome = result.extra["outcome"]
    numbered = [data.Problem(by_id[p].number, by_id[p].text) for p in result.order]
    wins = [[outcome.wins.get((i, j), 0) for j in result.order] for i in result.order]
    order = [data.RankedProblem(by_id[p].number, by_id[p].text, score, outcome.win_counts.get(p, 0),
                                comparisons(outcome, p))
             for p, score, _ in outcome.ranking]
    note = tr.t("Each cell: how many times the row's problem was chosen over the column's.")
    if outcome.method != "wins":
        note += " " + tr.t("Not everyone was asked every pair, so the order also weighs how often each problem "
                           "won against strong ones.")
    labels = {"title": tr.t("Pairwise ranking"), "subtitle": subtitle, "order": tr.t("Order"),
              "score": tr.t("chosen / compared"), "note": note,
              "empty": tr.t("No comparisons yet"), "decimal": tr.decimal}
    return Chart(charts.render_pairwise, (numbered, wins, order, labels), filename="pairwise.png")


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
