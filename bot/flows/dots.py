"""Sticker voting (жапсырма әдісі): one group message with a button a problem; a tap places or
takes back a sticker. The same ballot works in the private chat."""

from __future__ import annotations

import random
from datetime import datetime

from bot.domain.models import Community
from bot.domain.stickers import StickerAction, sticker_tally, sticker_toggle
from bot.domain.text import shorten
from bot.flows import results
from bot.flows.ballots import (closing_note, group_view, load_ballot, member_order, open_on_problems, open_problem,
                               post_ranking, ranking_results, refuse_closed, tag)
from bot.flows.context import Build, Context, esc
from bot.flows.kinds import BallotKind, Method, kind_of, register
from bot.flows.payloads import Payload
from bot.flows.registry import button, refresher
from bot.flows.scopes import ballot_scope
from bot.flows.types import Button, Chart
from bot.i18n import Translator
from bot.markup import bold
from bot.storage import ballots, communities, problems
from bot.storage.ballots import Ballot
from bot.storage.db import Tx
from bot.storage.problems import Problem

BUTTON_TEXT = 28   # characters of a problem's text on its button
LIST_BUDGET = 2800  # characters the list of problems may take in one message


def list_text(count: int) -> int:
    """How much of each problem's text the ballot message shows, so that it fits one message."""
    return max(30, min(90, LIST_BUDGET // max(1, count)))


short = shorten  # a problem's text cut at a word's end, with "…"


def rules(tr: Translator, ballot: Ballot) -> str:
    return tr.tn("Place up to {n} sticker on the most pressing problems.",
                 "Place up to {n} stickers on the most pressing problems, at most {per} on one problem.",
                 ballot.stickers, per=ballot.per_option) + " " + \
        tr.t("Tap a problem to place a sticker, tap again to take it back.")


def closed_message(tr: Translator, result: results.Result) -> tuple[str, list]:
    """The group's ballot once closed: the result's own tallies (in-person stickers added, each
    count shown as online + in person when there are any), best first, as on the chart."""
    ballot, by_id = result.ballot, result.by_id
    lines = [tr.t("🗳 <b>Sticker voting</b> is closed. Members who voted: {n}.", n=ballot.turnout)]
    if ballot.paper_meetings:
        lines.append(results.paper_line(tr, ballot, sum(r.paper for r in result.rows)))
        lines.append(tr.t("Stickers: online + in person = together."))
    lines.append("")
    for row in result.rows:
        problem = by_id[row.option]
        count = f"{row.online} + {row.paper} = {row.total}" if ballot.paper_meetings else str(row.total)
        lines.append(f"{problem.number}. {esc(short(problem.text, list_text(len(result.rows))))} — {bold(count)}")
    return "\n".join(lines), []


def with_paper(options: list[tuple[int, int]], paper: dict[int, int]) -> dict[int, int]:
    """Each option's count as the result will give it: online + the in-person meetings'."""
    return {pid: online + paper.get(pid, 0) for pid, online in options}


def group_message(tr: Translator, ballot: Ballot, options: list[tuple[int, int]],
                  by_id: dict[int, Problem], tz: str, paper: dict[int, int] | None = None) -> tuple[str, list]:
    """The open group ballot: listed in its buttons' order, shuffled against order bias, and said
    so; counts (in-person stickers added) shown live only when the ballot says so."""
    counts = with_paper(options, paper or {})
    show = ballot.visibility == "live"
    lines = [tr.t("🗳 <b>Sticker voting</b>"), rules(tr, ballot) + closing_note(tr, ballot, tz),
             tr.t("The problems are in a shuffled order, so that none gains from being first."), ""]
    order = sorted(counts, key=lambda pid: by_id[pid].number)
    random.Random(ballot.id).shuffle(order)
    for pid in order:
        count = f" — {counts[pid]}" if show else ""
        lines.append(f"{by_id[pid].number}. {esc(short(by_id[pid].text, list_text(len(counts))))}{count}")
    lines += ["", tr.t("Members who voted: {n}.", n=ballot.turnout)]
    if ballot.paper_meetings:
        lines.append(results.paper_line(tr, ballot, sum((paper or {}).values())))
    if ballot.visibility != "live":
        lines.append(tr.t("Counts are shown after the vote closes.") if ballot.visibility == "closed"
                      else tr.t("You see the counts in the private chat once you have voted."))
    buttons = [[Button(f"{by_id[pid].number} · {short(by_id[pid].text, BUTTON_TEXT)}"
                       + (f" · {counts[pid]}" if show else ""), data=DotTap(ballot.id, pid).encode(),
                       number=by_id[pid].number)] for pid in order]
    return "\n".join(lines), buttons


async def private_message(ctx: Context, ballot: Ballot) -> tuple[str, list]:
    """The member's own view: their stickers marked, options in their own order."""
    assert ctx.member is not None
    mine = await ballots.stickers_of(ctx.tx, ballot.id, ctx.member.id)
    options = await ballots.options(ctx.tx, ballot.id)
    by_id = await problems.all_of(ctx.tx, ballot.community_id)
    counts = with_paper(options, await ballots.paper(ctx.tx, ballot.id))
    show = ballot.visibility == "live" or (ballot.visibility == "voted" and bool(mine))
    left = ballot.stickers - sum(mine.values())
    lines = [ctx.t("🗳 <b>Sticker voting</b>"), rules(ctx.tr, ballot),
             ctx.tn("You have {n} sticker left.", "You have {n} stickers left.", left)]
    buttons = []
    for pid in member_order(ballot, ctx.member.id, list(counts)):
        marks = "✅" * mine.get(pid, 0)
        count = f" · {counts[pid]}" if show else ""
        buttons.append([Button(f"{marks}{' ' if marks else ''}{by_id[pid].number} · "
                               f"{short(by_id[pid].text, BUTTON_TEXT)}{count}", data=DotTap(ballot.id, pid).encode(),
                               number=by_id[pid].number)])
    lines += [ctx.t("The problems are in a shuffled order of your own, so that none gains from being "
                    "first."), ""]
    lines += [f"{by_id[pid].number}. {esc(short(by_id[pid].text, list_text(len(counts))))}"
              for pid in member_order(ballot, ctx.member.id, list(counts))]
    return "\n".join(lines), buttons


async def show_private(ctx: Context, ballot: Ballot) -> None:
    text, buttons = await private_message(ctx, ballot)
    ctx.reply(text, buttons, view=tag(ballot))


class DotTap(Payload, prefix="d"):
    """A sticker placed on, or taken back from, a problem of a sticker ballot."""

    ballot: int
    problem: int


@button(DotTap, who="member", scope=ballot_scope)
async def tap(ctx: Context, tap: DotTap) -> None:
    ballot = await load_ballot(ctx, tap.ballot, "dots")
    refuse_closed(ctx, ballot)
    problem = await open_problem(ctx, ballot, tap.problem)
    assert ctx.member is not None and ctx.scoped is not None
    current = await ballots.stickers_of(ctx.tx, ballot.id, ctx.member.id)
    change = sticker_toggle(current, problem.id, ballot.stickers, ballot.per_option)
    if change.action == StickerAction.REFUSED_NO_STICKERS_LEFT:
        raise ctx.refuse(ctx.tn("You have used your {n} sticker. Tap a problem you marked to take it back.",
                                "You have used all {n} stickers. Tap a problem you marked to take one back.",
                                ballot.stickers))
    await ballots.set_stickers(ctx.tx, ballot.id, ctx.member.id, problem.id, change.stickers.get(problem.id, 0))
    placed = change.action == StickerAction.ADDED
    toast = ctx.t("Sticker placed on #{number}.", number=problem.number) if placed else \
        ctx.t("Sticker taken back from #{number}.", number=problem.number)
    ctx.toast(toast + " " + ctx.tn("{left} of {n} sticker left.", "{left} of {n} stickers left.",
                                   ballot.stickers, left=change.left))
    ctx.refresh(tag(ballot))  # the group's counts, redrawn at most every few seconds
    if not ctx.event.is_group:
        text, buttons = await private_message(ctx, ballot)
        ctx.reply(text, buttons, view=tag(ballot), update=True)


@refresher("b")
async def redraw_group_ballot(ctx: Context, ballot_id: int) -> None:
    """The group message of a ballot voted on there (stickers, the election) with the current
    counts (not kept in the outbox: a lost redraw is replaced by the next one)."""
    ballot = await ballots.get(ctx.tx, int(ballot_id))
    if ballot is None or kind_of(ballot).group_view is None or not ballot.is_open:
        return
    community = await communities.get(ctx.tx, ballot.community_id)
    assert community is not None
    await ctx.post_groups(community, await group_view(ctx, community, ballot), view=tag(ballot), update=True,
                          durable=False)


# --- the result ------------------------------------------------------------------------------
async def tally(tx: Tx, ballot: Ballot, by_id: dict[int, Problem], options: list[int], voters: int) -> results.Result:
    """Stickers per problem, online and on paper (a merged problem's count for the one it joined,
    up to the ballot's limit a problem for each member)."""
    raw = await ballots.all_stickers(tx, ballot.id)
    merged: dict[int, dict[int, int]] = {}
    for member, marks in raw.items():
        for pid, count in marks.items():
            if (c := results.canonical(by_id, pid)) is not None:
                merged.setdefault(member, {})[c] = min(merged.get(member, {}).get(c, 0) + count, ballot.per_option)
    paper: dict[int, int] = {}
    for pid, count in (await ballots.paper(tx, ballot.id)).items():
        if (c := results.canonical(by_id, pid)) is not None:
            paper[c] = paper.get(c, 0) + count
    rows = sticker_tally(merged, options, paper)
    return results.Result(ballot, by_id, {r.option: r.rank for r in rows}, [r.option for r in rows], voters, rows,
                          included=set(options))


def finding(tr: Translator, result: results.Result, title: str, first: Problem, named: str) -> str:
    ballot, top = result.ballot, result.rows[0]
    total = sum(r.total for r in result.rows)
    text = tr.tn("{method}: {problem} is the most pressing, with {top} of {n} sticker.",
                 "{method}: {problem} is the most pressing, with {top} of {n} stickers.", total,
                 method=title, problem=named, top=top.total)
    if ballot.paper_meetings:
        text += " " + tr.t("Online {online} + in person {paper} = {total}.",
                           online=top.online, paper=top.paper, total=top.total)
    return text


def result_chart(tr: Translator, result: results.Result, subtitle: str) -> Chart:
    from bot import charts
    from bot.charts import data

    by_id = result.by_id
    rows = [data.StickerRow(by_id[r.option].number, by_id[r.option].text, r.online, r.paper) for r in result.rows]
    labels = {"title": tr.t("Sticker voting"), "subtitle": subtitle, "online": tr.t("online"),
              "paper": tr.t("in person"), "empty": tr.t("No stickers yet")}
    return Chart(charts.render_stickers, (rows, labels), filename="stickers.png")


async def open_poll(ctx: Context, community: Community, numbers: list[int], visibility: str,
                    closes_at: datetime | None) -> Ballot:
    """``/poll dots [stickers [per problem]]``: a sticker vote on every open problem."""
    stickers = numbers[0] if numbers else 3
    per_option = numbers[1] if len(numbers) > 1 else 1
    if not 1 <= stickers <= 20 or not 1 <= per_option <= stickers or len(numbers) > 2:
        raise ctx.refuse(ctx.t("Stickers: from 1 to 20 a member, and at most that many on one problem. "
                               "For example: /poll dots 3 1"))
    return await open_on_problems(ctx, community, "dots", await problems.listed(ctx.tx, community.id), visibility,
                                  closes_at, stickers, per_option)


async def group_view_of(ctx: Context, community: Community, ballot: Ballot) -> Build:
    problems_by_id = await problems.all_of(ctx.tx, community.id)
    options = await ballots.options(ctx.tx, ballot.id)
    if not ballot.is_open:  # the same tallies as the result and its chart, paper included
        result = await results.build(ctx.tx, ballot)
        return lambda tr: closed_message(tr, result)
    paper = await ballots.paper(ctx.tx, ballot.id)
    return lambda tr: group_message(tr, ballot, options, problems_by_id, community.tz, paper)


register(BallotKind("dots", results.METHOD_NAMES["dots"], ("stickers", "стикер", "жапсырма"), open_poll,
                    show_private, post_ranking, ranking_results, group_view=group_view_of,
                    method=Method(tally, finding, result_chart)))
