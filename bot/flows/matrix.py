"""Priority matrix (басымдықтарды анықтау матрицасы), in the private chat: each problem scored
on importance and urgency, 1–3; the cell is a + b − 1."""

from __future__ import annotations

from bot.domain.matrix import matrix_result
from bot.flows import results
from bot.flows.ballots import (load_ballot, member_order, open_problem, post_ranking, ranking_results, refuse_closed,
                               secret_note, shortlist_opener, tag)
from bot.flows.context import Context, esc
from bot.flows.kinds import BallotKind, Method, register
from bot.flows.payloads import BadPayload, Payload
from bot.flows.registry import button
from bot.flows.scopes import ballot_scope
from bot.flows.types import Button, Chart, View
from bot.i18n import Translator
from bot.markup import bold
from bot.storage import ballots, problems
from bot.storage.ballots import Ballot
from bot.storage.db import Tx
from bot.storage.problems import Problem

AXES = ("a", "b")


class MatrixScore(Payload, prefix="mx"):
    """A problem's score on one axis (``a`` importance, ``b`` urgency), 1–3."""

    ballot: int
    problem: int
    axis: str
    value: int


class MatrixAgain(Payload, prefix="mxr"):
    ballot: int


def _show(ctx: Context, text: str, buttons: list, *, first: bool) -> None:
    """The matrix ballot is one private message, edited question by question."""
    ctx.reply(text, buttons, view=view_of(ctx), update=not first)


def view_of(ctx: Context) -> View | None:
    """The view this member's matrix ballot is shown under (kept with the conversation by its tag)."""
    return View.of_tag(ctx.data["tag"]) if ctx.data.get("tag") else None


async def show_next(ctx: Context, ballot: Ballot, *, first: bool = True, again: bool = False) -> None:
    """Ask the next problem this member has not scored (from the start with ``again``)."""
    assert ctx.member is not None
    ctx.goto("mx", ballot=ballot.id, tag=tag(ballot).tag, again=again, done=[] if again else ctx.data.get("done", []))
    mine = await ballots.scores_of(ctx.tx, ballot.id, ctx.member.id)
    open_ids = [p for p, _ in await ballots.options(ctx.tx, ballot.id)]
    order = member_order(ballot, ctx.member.id, open_ids)
    todo = [p for p in order if p not in ctx.data["done"]] if again else [p for p in order if p not in mine]
    if not todo:
        ctx.clear()
        text = ctx.tn("Thank you! You scored {n} problem. You can change your scores until the vote closes.",
                      "Thank you! You scored all {n} problems. You can change your scores until the vote closes.",
                      len(mine))
        buttons = [[Button(ctx.t("Change my scores"), data=MatrixAgain(ballot.id).encode())]]
        ctx.reply(text, buttons, view=tag(ballot), update=not first)
        return
    problem = await problems.get(ctx.tx, todo[0])
    assert problem is not None
    position = len(order) - len(todo) + 1
    await ask(ctx, ballot, problem, "a", position, len(order), mine.get(problem.id), first=first)


async def ask(ctx: Context, ballot: Ballot, problem: problems.Problem, axis: str, position: int, total: int,
              current: tuple[int, int] | None, *, first: bool) -> None:
    question = ctx.t("How <b>important</b> is it for the community?") if axis == "a" else \
        ctx.t("How <b>urgent</b> is it — how soon must it be solved?")
    text = "\n".join([
        ctx.t("🗳 <b>Priority matrix</b> — problem {position} of {total}", position=position, total=total),
        "", f"{bold(f'#{problem.number}')} {esc(problem.text)}", "", question,
        ctx.t("1 — a little, 2 — fairly, 3 — very.")])
    marked = current[AXES.index(axis)] if current else None
    buttons = [[Button(("✅ " if v == marked else "") + str(v),
                       data=MatrixScore(ballot.id, problem.id, axis, v).encode(), number=v)
                for v in (1, 2, 3)]]
    _show(ctx, text, buttons, first=first)


@button(MatrixScore, who="member", scope=ballot_scope)
async def scored(ctx: Context, tap: MatrixScore) -> None:
    axis, value = tap.axis, tap.value
    if axis not in AXES or value not in (1, 2, 3):
        raise BadPayload("matrix score")
    ballot = await load_ballot(ctx, tap.ballot, "matrix")
    refuse_closed(ctx, ballot)
    problem = await open_problem(ctx, ballot, tap.problem)
    assert ctx.member is not None
    if ctx.state != "mx" or ctx.data.get("ballot") != ballot.id:
        ctx.goto("mx", ballot=ballot.id, tag=tag(ballot).tag, again=False, done=[])
    if axis == "a":
        ctx.data.update(problem=problem.id, a=value)
        open_ids = [p for p, _ in await ballots.options(ctx.tx, ballot.id)]
        order = member_order(ballot, ctx.member.id, open_ids)
        position = order.index(problem.id) + 1 if problem.id in order else 1
        current = (await ballots.scores_of(ctx.tx, ballot.id, ctx.member.id)).get(problem.id)
        await ask(ctx, ballot, problem, "b", position, len(order), current, first=False)
        ctx.toast(ctx.t("Importance: {value}", value=value))
        return
    if ctx.data.get("problem") != problem.id or "a" not in ctx.data:
        raise ctx.refuse(ctx.t("Please answer the importance first."))
    await ballots.set_score(ctx.tx, ballot.id, ctx.member.id, problem.id, int(ctx.data["a"]), value)
    ctx.toast(ctx.t("Saved: #{number} importance {a}, urgency {b}.", number=problem.number,
                    a=ctx.data["a"], b=value))
    done = [*ctx.data.get("done", []), problem.id]
    ctx.data.update(done=done)
    ctx.data.pop("a", None)
    await show_next(ctx, ballot, first=False, again=bool(ctx.data.get("again")))


@button(MatrixAgain, who="member", scope=ballot_scope)
async def rescore(ctx: Context, tap: MatrixAgain) -> None:
    ballot = await load_ballot(ctx, tap.ballot, "matrix")
    refuse_closed(ctx, ballot)
    await show_next(ctx, ballot, first=False, again=True)


# --- the result ------------------------------------------------------------------------------
async def tally(tx: Tx, ballot: Ballot, by_id: dict[int, Problem], options: list[int], voters: int) -> results.Result:
    """Each problem's mean importance and urgency, and its cell."""
    scores: dict[int, dict[int, tuple[int, int]]] = {}
    for member, marks in (await ballots.all_scores(tx, ballot.id)).items():
        for pid, ab in sorted(marks.items(), key=lambda item: by_id[item[0]].status == "open"):
            if (c := results.canonical(by_id, pid)) is not None:
                scores.setdefault(member, {})[c] = ab  # the surviving problem's own score wins
    rows = matrix_result(scores, options)
    return results.Result(ballot, by_id, {r.option: r.rank for r in rows}, [r.option for r in rows], voters, rows,
                          included={r.option for r in rows if r.n})


def finding(tr: Translator, result: results.Result, title: str, first: Problem, named: str) -> str:
    top = result.rows[0]
    return tr.t("{method}: {problem} is the most important and urgent: on the scale from 1 to 3 the "
                "members used, importance {importance} and urgency {urgency} on average.",
                method=title, problem=named, importance=tr.num(top.mean_a), urgency=tr.num(top.mean_b))


def result_chart(tr: Translator, result: results.Result, subtitle: str) -> Chart:
    from bot import charts
    from bot.charts import data

    by_id = result.by_id
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


def invitation(tr: Translator) -> str:
    return tr.t("🗳 <b>Priority matrix</b>: score each problem on importance and urgency, from 1 to 3. "
                "It takes a few minutes in the private chat with me.") + "\n" + secret_note(tr)


register(BallotKind("matrix", results.METHOD_NAMES["matrix"], ("матрица",), shortlist_opener("matrix"), show_next,
                    post_ranking, ranking_results, invitation=invitation,
                    method=Method(tally, finding, result_chart)))
