"""Pairwise ranking (жүппен саралау), in the private chat: two problems at a time, "which is more
pressing?"; all pairs up to 8 problems, a balanced sample beyond."""

from __future__ import annotations

from bot.domain.pairwise import pairs_for_member, pairwise_result
from bot.flows import results
from bot.flows.ballots import (load_ballot, open_problem, post_ranking, ranking_results, refuse_closed, secret_note,
                               shortlist_opener, tag)
from bot.flows.context import Context, esc
from bot.flows.kinds import BallotKind, Method, register
from bot.flows.payloads import BadPayload, Payload
from bot.flows.registry import button
from bot.flows.scopes import ballot_scope
from bot.flows.types import Button, Chart
from bot.i18n import Translator
from bot.markup import bold
from bot.storage import ballots, problems
from bot.storage.ballots import Ballot
from bot.storage.db import Tx
from bot.storage.problems import Problem

BUTTON_TEXT = 30


class PairAnswer(Payload, prefix="pw"):
    """Of the pair ``left``, ``right`` (problem ids), ``winner`` is the more pressing."""

    ballot: int
    left: int
    right: int
    winner: int


class PairsAgain(Payload, prefix="pwr"):
    ballot: int


async def member_pairs(ctx: Context, ballot: Ballot) -> list[tuple[int, int]]:
    """The pairs this member is asked, drawn once and kept, limited to problems still open."""
    assert ctx.member is not None
    pairs = await ballots.plan(ctx.tx, ballot.id, ctx.member.id)
    if pairs is None:
        pairs = pairs_for_member(await ballots.all_options(ctx.tx, ballot.id), ctx.rng)
        await ballots.save_plan(ctx.tx, ballot.id, ctx.member.id, pairs)
    still_open = {p for p, _ in await ballots.options(ctx.tx, ballot.id)}
    return [(a, b) for a, b in pairs if a in still_open and b in still_open]


def _key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


async def show_next(ctx: Context, ballot: Ballot, *, first: bool = True, again: bool = False,
                    pairs: list[tuple[int, int]] | None = None) -> None:
    assert ctx.member is not None
    if pairs is None:
        pairs = await member_pairs(ctx, ballot)
    answers = await ballots.answers_of(ctx.tx, ballot.id, ctx.member.id)
    if again:
        ctx.goto("pw", ballot=ballot.id, done=[])
    done = {tuple(p) for p in ctx.data.get("done", [])} if ctx.state == "pw" and ctx.data.get("ballot") == ballot.id \
        else None
    todo = [p for p in pairs if (_key(*p) not in done if done is not None else _key(*p) not in answers)]
    if not todo:
        ctx.clear()
        text = ctx.tn("Thank you! You compared {n} pair. You can change your answers until the vote closes.",
                      "Thank you! You compared all {n} pairs. You can change your answers until the vote closes.",
                      len(pairs))
        buttons = [[Button(ctx.t("Change my answers"), data=PairsAgain(ballot.id).encode())]]
        ctx.reply(text, buttons, view=tag(ballot), update=not first)
        return
    left, right = todo[0]
    p_left, p_right = await problems.get(ctx.tx, left), await problems.get(ctx.tx, right)
    assert p_left is not None and p_right is not None
    position = len(pairs) - len(todo) + 1
    current = answers.get(_key(left, right))
    text = "\n".join([
        ctx.t("🗳 <b>Pairwise ranking</b> — pair {position} of {total}", position=position, total=len(pairs)),
        "", ctx.t("Which problem is <b>more pressing</b>?"), "",
        f"🅰 {bold(f'#{p_left.number}')} {esc(p_left.text)}", "", f"🅱 {bold(f'#{p_right.number}')} {esc(p_right.text)}"])
    buttons = [[Button(("✅ " if current == p.id else "") + f"{mark} #{p.number} {p.text[:BUTTON_TEXT]}",
                       data=PairAnswer(ballot.id, left, right, p.id).encode(), number=p.number)]
               for mark, p in (("🅰", p_left), ("🅱", p_right))]
    ctx.reply(text, buttons, view=tag(ballot), update=not first)


@button(PairAnswer, who="member", scope=ballot_scope)
async def answered(ctx: Context, tap: PairAnswer) -> None:
    left, right, winner = tap.left, tap.right, tap.winner
    ballot = await load_ballot(ctx, tap.ballot, "pairwise")
    refuse_closed(ctx, ballot)
    if winner not in (left, right) or left == right:
        raise BadPayload("pairwise answer")
    p_left, p_right = await open_problem(ctx, ballot, left), await open_problem(ctx, ballot, right)
    assert ctx.member is not None
    pairs = await member_pairs(ctx, ballot)
    if _key(p_left.id, p_right.id) not in {_key(*p) for p in pairs}:
        raise BadPayload("pair not asked of this member")
    low, high = _key(p_left.id, p_right.id)
    await ballots.set_answer(ctx.tx, ballot.id, ctx.member.id, low, high, winner)
    chosen = p_left if winner == p_left.id else p_right
    ctx.toast(ctx.t("Saved: #{number} is more pressing.", number=chosen.number))
    if ctx.state == "pw" and ctx.data.get("ballot") == ballot.id:
        ctx.data["done"] = [*ctx.data.get("done", []), [low, high]]
    await show_next(ctx, ballot, first=False, pairs=pairs)


@button(PairsAgain, who="member", scope=ballot_scope)
async def again(ctx: Context, tap: PairsAgain) -> None:
    ballot = await load_ballot(ctx, tap.ballot, "pairwise")
    refuse_closed(ctx, ballot)
    await show_next(ctx, ballot, first=False, again=True)


# --- the result ------------------------------------------------------------------------------
async def tally(tx: Tx, ballot: Ballot, by_id: dict[int, Problem], options: list[int], voters: int) -> results.Result:
    """The wins of each pair, and the order they give."""
    answers: dict[int, dict[tuple[int, int], int]] = {}
    for member, pairs in (await ballots.all_answers(tx, ballot.id)).items():
        for (low, high), winner in pairs.items():
            a, b = results.canonical(by_id, low), results.canonical(by_id, high)
            w = results.canonical(by_id, winner)
            if a is None or b is None or a == b:
                continue
            answers.setdefault(member, {}).setdefault((min(a, b), max(a, b)), w)
    outcome = pairwise_result(answers, options)
    ranks = {option: rank for option, _, rank in outcome.ranking}
    compared = {option for pair in outcome.wins for option in pair if outcome.wins[pair]}
    return results.Result(ballot, by_id, ranks, [o for o, _, _ in outcome.ranking], voters, outcome.ranking,
                          {"outcome": outcome}, included=compared)


def finding(tr: Translator, result: results.Result, title: str, first: Problem, named: str) -> str:
    outcome = result.extra["outcome"]
    return tr.t("{method}: {problem} was judged more pressing than the others most often — chosen: {wins}, "
                "comparisons it was in: {times}.", method=title, problem=named,
                wins=outcome.win_counts.get(first.id, 0), times=results.comparisons(outcome, first.id))


def result_chart(tr: Translator, result: results.Result, subtitle: str) -> Chart:
    from bot import charts
    from bot.charts import data

    by_id = result.by_id
    outcome = result.extra["outcome"]
    numbered = [data.Problem(by_id[p].number, by_id[p].text) for p in result.order]
    wins = [[outcome.wins.get((i, j), 0) for j in result.order] for i in result.order]
    order = [data.RankedProblem(by_id[p].number, by_id[p].text, score, outcome.win_counts.get(p, 0),
                                results.comparisons(outcome, p))
             for p, score, _ in outcome.ranking]
    note = tr.t("Each cell: how many times the row's problem was chosen over the column's.")
    if outcome.method != "wins":
        note += " " + tr.t("Not everyone was asked every pair, so the order also weighs how often each problem "
                           "won against strong ones.")
    labels = {"title": tr.t("Pairwise ranking"), "subtitle": subtitle, "order": tr.t("Order"),
              "score": tr.t("chosen / compared"), "note": note,
              "empty": tr.t("No comparisons yet"), "decimal": tr.decimal}
    return Chart(charts.render_pairwise, (numbered, wins, order, labels), filename="pairwise.png")


def invitation(tr: Translator) -> str:
    return tr.t("🗳 <b>Pairwise ranking</b>: I show you two problems at a time; tap the one that is "
                "more pressing. It takes a few minutes in the private chat with me.") + "\n" + secret_note(tr)


register(BallotKind("pairwise", results.METHOD_NAMES["pairwise"], ("pairs",), shortlist_opener("pairwise"), show_next,
                    post_ranking, ranking_results, invitation=invitation,
                    method=Method(tally, finding, result_chart)))
