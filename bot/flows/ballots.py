"""Ballots of every kind: open (/poll), list (/vote), close (/close, or at the closing time),
results (/results), in-person tallies (/paper).

Each kind (``dots``, ``matrix``, ``pairwise``, ``election``, ``plan``, ``evaluation``) registers
with ``kinds`` what these need of it; the ranking of problems' results and charts are in ``results``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.domain.models import Community
from bot.domain.text import small_int
from bot.flows import choice, kinds, results
from bot.flows.context import Build, Context, esc
from bot.flows.payloads import BadPayload, Payload
from bot.flows.registry import button, command, start_payload
from bot.flows.scopes import ballot_community, ballot_scope
from bot.flows.types import Button, View
from bot.i18n import N_, Translator
from bot.storage import ballots, communities, problems
from bot.storage.ballots import Ballot

VISIBILITIES = ("live", "voted", "closed")
MAX_OPTIONS = 40


def tag(ballot: Ballot) -> View:
    """The view of a ballot's message (its group message, a member's private one): tag "b12"."""
    return kinds.ballot_view(ballot.id)


def member_order(ballot: Ballot, member_id: int, ids: list[int]) -> list[int]:
    """Each member sees the options in an order of their own, stable while the ballot is open."""
    order = sorted(ids)
    random.Random(f"{ballot.id}:{member_id}").shuffle(order)
    return order


class OpenBallot(Payload, prefix="open"):
    ballot: int


class CloseBallot(Payload, prefix="close"):
    ballot: int


async def link_scope(ctx: Context, ballot_id: str) -> Community:
    """The community of the ballot a link names (``?start=b_<ballot>``)."""
    return await ballot_community(ctx, ballot_id)


async def load_ballot(ctx: Context, ballot_id: int | str, kind: str | None = None) -> Ballot:
    """The ballot a payload names (its scope already checked); a vote of another kind is forged."""
    ballot = ctx.found.get(("ballot", int(ballot_id))) or await ballots.get(ctx.tx, int(ballot_id))
    assert ballot is not None
    if kind is not None and ballot.kind != kind:
        raise BadPayload(f"a {kind} vote on a {ballot.kind} ballot")
    return ballot


def refuse_closed(ctx: Context, ballot: Ballot) -> None:
    if not ballot.is_open:
        raise ctx.refuse(ctx.t("This ballot is closed. See the result with /results."))


async def open_problem(ctx: Context, ballot: Ballot, problem_id: int) -> problems.Problem:
    """A problem a vote names: it must be one of the ballot's options and still open."""
    found = await problems.offered(ctx.tx, problem_id, ballot.id)
    if found is None or not found[1] or found[0].community_id != ballot.community_id:
        raise BadPayload("not an option of this ballot")
    problem = found[0]
    if problem.status == "merged":
        target = await problems.get(ctx.tx, problem.merged_into or 0)
        raise ctx.refuse(ctx.t("#{number} was merged into #{target}; vote for #{target}.",
                               number=problem.number, target=target.number if target else "?"))
    if problem.status == "hidden":
        raise ctx.refuse(ctx.t("#{number} was removed from the ballot.", number=problem.number))
    return problem


# --- opening -------------------------------------------------------------------------------
def parse_closing(text: str, now: datetime, tz: str) -> datetime | None:
    """"18:00" (the next such time in the community's zone) or "30m" / "2h" / "1d", as an instant in
    UTC: every closing time is stored that one way, so the scheduler compares instants, not texts."""
    match = re.fullmatch(r"(\d{1,3})([mhd])", text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        at = now + {"m": timedelta(minutes=amount), "h": timedelta(hours=amount), "d": timedelta(days=amount)}[unit]
        return at.astimezone(timezone.utc)
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
        local = now.astimezone(ZoneInfo(tz))
        at = local.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0)
        if at <= local:
            at += timedelta(days=1)
        return at.astimezone(timezone.utc)
    return None


@command("poll", who="facilitator", describe=N_("Start a vote"), usage=(
    ("/poll dots|matrix|pairwise", N_("a vote on the problems: stickers, the priority matrix or pairs")),
    ("/poll election 7", N_("elect the ҚМҰТ, here for 7 seats")),
    ("/poll plan", N_("the members approve the action plan")),
    ("/poll evaluation", N_("the members evaluate what was done"))))
async def poll(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None and ctx.member is not None
    words = ctx.event.args.lower().split()
    kind = kinds.named(words[0]) if words else None
    if kind is None:
        raise ctx.refuse(ctx.t("Which vote? /poll dots (stickers), /poll matrix or /poll pairwise. "
                               "Options: numbers of stickers, a closing time like 18:00 or 2h, and "
                               "live, voted or closed for when counts are shown.") + "\n"
                         + ctx.t("The ҚМҰТ election: /poll election, or /poll election 5 for 5 seats.") + "\n"
                         + ctx.t("The members' approval of the action plan: /poll plan."))
    numbers, closes_at, visibility = [], None, "live"
    for word in words[1:]:
        word = word.lstrip("#")
        if (number := small_int(word, 4)) is not None:
            numbers.append(number)
        elif word in VISIBILITIES:
            visibility = word
        elif (when := parse_closing(word, ctx.now, community.tz)) is not None:
            closes_at = when
        else:
            raise ctx.refuse(ctx.t("I did not understand «{word}» in the command.", word=esc(word[:30])))
    if any(b.kind == kind for b in await ballots.of_community(ctx.tx, community.id, "open")):
        raise ctx.refuse(ctx.t("A vote of this kind is already open. Close it first with /close."))
    ballot = await kinds.KINDS[kind].open(ctx, community, numbers, visibility, closes_at)
    await announce(ctx, community, ballot)


def iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at else None


def shortlist_opener(kind: str) -> Callable[..., Awaitable[Ballot]]:
    """How /poll opens a ranking of problems that takes a shortlist (``/poll matrix 2 5 7``), or
    every open problem."""
    async def open_shortlist(ctx: Context, community: Community, numbers: list[int], visibility: str,
                             closes_at: datetime | None) -> Ballot:
        open_ones = await problems.listed(ctx.tx, community.id)
        by_number = {p.number: p for p in open_ones}
        unknown = [n for n in numbers if n not in by_number]
        if unknown:
            raise ctx.refuse(ctx.t("There is no open problem #{number}.", number=unknown[0]))
        chosen = [by_number[n] for n in dict.fromkeys(numbers)] if numbers else open_ones
        return await open_on_problems(ctx, community, kind, chosen, visibility, closes_at)

    return open_shortlist


async def open_on_problems(ctx: Context, community: Community, kind: str, chosen: list[problems.Problem],
                           visibility: str, closes_at: datetime | None, stickers: int = 3,
                           per_option: int = 1) -> Ballot:
    """Open a ranking of the ``chosen`` problems (audited), or refuse."""
    assert ctx.member is not None
    if len(chosen) < 2:
        raise ctx.refuse(ctx.t("A vote needs at least 2 proposed problems. Members propose with /propose."))
    if len(chosen) > MAX_OPTIONS:
        raise ctx.refuse(ctx.tn("A vote can hold at most {n} problem; list the numbers of a shortlist "
                                "after the command.",
                                "A vote can hold at most {n} problems; list the numbers of a shortlist "
                                "after the command.", MAX_OPTIONS))
    ballot = await ballots.open_ballot(
        ctx.tx, community.id, kind, [p.id for p in chosen], stickers=stickers, per_option=per_option,
        visibility=visibility, closes_at=iso(closes_at), opened_by=ctx.member.id, now=ctx.now_iso)
    await ctx.audit("ballot.opened", community.id, ballot=ballot.id, kind=kind, stickers=stickers,
                    per_option=per_option, visibility=visibility, options=[p.id for p in chosen])
    return ballot


async def group_view(ctx: Context, community: Community, ballot: Ballot) -> Build:
    """How a ballot voted on in the group itself (stickers, the election, the plan) is drawn there."""
    draw = kinds.kind_of(ballot).group_view
    assert draw is not None, f"a {ballot.kind} ballot is voted on in private"
    return await draw(ctx, community, ballot)


async def announce(ctx: Context, community: Community, ballot: Ballot,
                   only: tuple[str, str] | None = None) -> None:
    """Post the open ballot to the community's groups (or ``only`` that one)."""
    kind = kinds.kind_of(ballot)
    if kind.invitation is None:
        await ctx.post_groups(community, await group_view(ctx, community, ballot), view=tag(ballot), only=only)
    else:
        link = ctx.deep_link(f"b_{ballot.id}")
        invitation = kind.invitation
        await ctx.post_groups(community, lambda tr: (
            invitation(tr) + closing_note(tr, ballot, community.tz),
            [[Button(tr.t("Open the ballot"), link=link)]]), only=only)
    if only is not None:
        return
    groups = await communities.groups(ctx.tx, community.id)
    if not ctx.event.is_group or not groups:
        ctx.reply(ctx.t("The vote is open. Members find it under /vote.")
                  if groups else ctx.t("The vote is open. No group is linked, so members find it under /vote."))


def closing_note(tr: Translator, ballot: Ballot, tz: str) -> str:
    if not ballot.closes_at:
        return ""
    at = datetime.fromisoformat(ballot.closes_at).astimezone(ZoneInfo(tz))
    return "\n" + tr.t("Closes at {time} on {date}.", time=at.strftime("%H:%M"), date=at.strftime("%d.%m"))


def secret_note(tr: Translator) -> str:
    """The line under an invitation to a ranking voted on in private."""
    return tr.t("Your answers are secret; the group sees only the totals.")


# --- voting in private ---------------------------------------------------------------------
@start_payload("b", who="member", scope=link_scope)
async def ballot_link(ctx: Context, ballot_id: str) -> None:
    await open_private(ctx, await load_ballot(ctx, ballot_id))


@button(OpenBallot, who="member", scope=ballot_scope)
async def open_pressed(ctx: Context, tap: OpenBallot) -> None:
    await open_private(ctx, await load_ballot(ctx, tap.ballot))


async def open_private(ctx: Context, ballot: Ballot) -> None:
    refuse_closed(ctx, ballot)
    if ctx.event.is_group:
        raise ctx.refuse(ctx.t("This works in the private chat with me."), ctx.deep_link(f"b_{ballot.id}"))
    await kinds.kind_of(ballot).show_private(ctx, ballot)


@command("vote", who="member", describe=N_("Vote"))
async def vote(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None and ctx.member is not None
    if ctx.event.is_group:
        raise ctx.refuse(ctx.t("This works in the private chat with me."), ctx.private_link("vote"))
    open_ones = await ballots.of_community(ctx.tx, community.id, "open")
    if not open_ones:
        ctx.reply(ctx.t("No vote is open right now. I will tell the group when one starts.") if ctx.has_groups
                  else ctx.t("No vote is open right now. I will write to you when one starts."))
        return
    voted = {b.id: await ballots.has_voted(ctx.tx, b, ctx.member.id) for b in open_ones}
    rows = []
    for ballot in sorted(open_ones, key=lambda b: (voted[b.id], b.id)):
        mark = "✅ " if voted[ballot.id] else "🗳 "
        rows.append([Button(mark + ctx.t(kinds.title(ballot)), data=OpenBallot(ballot.id).encode())])
    missing = sum(not v for v in voted.values())
    ctx.reply(ctx.tn("{n} vote is waiting for you.", "{n} votes are waiting for you.", missing)
              if missing else ctx.t("You have voted everywhere. You can still change your votes:"), rows)


# --- closing and results -------------------------------------------------------------------
@command("close", who="facilitator", describe=N_("Close the vote and post the result"))
async def close_command(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None
    open_ones = await ballots.of_community(ctx.tx, community.id, "open")
    wanted = kinds.named(ctx.event.args.strip())
    if wanted:
        open_ones = [b for b in open_ones if b.kind == wanted]
    if not open_ones:
        raise ctx.refuse(ctx.t("No vote is open."))
    if len(open_ones) > 1:
        ctx.reply(ctx.t("Several votes are open. Which one should I close?"),
                  [[Button(ctx.t(kinds.title(b)), data=CloseBallot(b.id).encode())] for b in open_ones])
        return
    await close(ctx, community, open_ones[0])


@button(CloseBallot, who="facilitator", scope=ballot_scope)
async def close_pressed(ctx: Context, tap: CloseBallot) -> None:
    ballot = await load_ballot(ctx, tap.ballot)
    refuse_closed(ctx, ballot)
    assert ctx.scoped is not None
    await close(ctx, ctx.scoped, ballot)


async def close(ctx: Context, community: Community, ballot: Ballot) -> None:
    """Close the ballot, freeze its group message and post the result (and the combined ranking)."""
    if not await ballots.close(ctx.tx, ballot.id, ctx.now_iso):
        return
    await ctx.audit("ballot.closed", community.id, ballot=ballot.id)
    closed = await ballots.get(ctx.tx, ballot.id)
    assert closed is not None
    kind = kinds.kind_of(closed)
    if kind.group_view is not None:
        await ctx.post_groups(community, await group_view(ctx, community, closed), view=tag(closed), update=True)
    await kind.post_result(ctx, community, closed)


async def post_ranking(ctx: Context, community: Community, ballot: Ballot) -> None:
    """Post a ranking's result, then the combined ranking and the choice to confirm."""
    await post_result(ctx, community, ballot)
    await choice.post_combined(ctx, community)


async def post_result(ctx: Context, community: Community, ballot: Ballot) -> None:
    """Post a ballot's result; its check code is kept, so /results repeats the code the group saw."""
    result = await results.build(ctx.tx, ballot)
    head = await results.posted_code(ctx, ballot)
    await ctx.post_groups(community, lambda tr: (results.caption(tr, result, head), []),
                          chart=results.chart(community.locale, result))
    if not ctx.event.is_group or not await communities.groups(ctx.tx, community.id):
        ctx.reply(results.caption(ctx.tr, result, head), chart=results.chart(ctx.locale, result))


@command("results", who="member", describe=N_("The latest result"))
async def results_command(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None
    closed = await ballots.of_community(ctx.tx, community.id, "closed")
    if not closed:
        raise ctx.refuse(ctx.t("No vote has closed yet."))
    latest = max(closed, key=lambda b: (b.closed_at or "", b.id))
    await kinds.kind_of(latest).results_reply(ctx, latest)


async def ranking_results(ctx: Context, ballot: Ballot) -> None:
    """/results for a ranking of problems: its result, and the combined ranking when several ran."""
    community = ctx.scoped
    assert community is not None
    result = await results.build(ctx.tx, ballot)
    code = await results.repeated_code(ctx, ballot)  # the code the group saw under this result
    ctx.reply(results.caption(ctx.tr, result, code), chart=results.chart(ctx.locale, result))
    if len({b.kind for b in await ballots.of_community(ctx.tx, community.id, "closed")}) > 1:
        latest_each = [r for r in await choice.latest_results(ctx, community) if r.order]
        if len(latest_each) > 1:
            rows, chart = results.combined(ctx.locale, latest_each)
            ctx.reply(choice.combined_caption(ctx.tr, rows, latest_each[-1].by_id) + "\n"
                      + results.audit_line(ctx.tr, code), chart=chart)


# --- in-person tallies ---------------------------------------------------------------------
@command("paper", who="facilitator", usage=(
    ("/paper 12 3:10 5:4", N_("add a vote held on paper: 12 people took part, #3 got 10 stickers, #5 got 4")),))
async def paper(ctx: Context) -> None:
    """``/paper 12 3:10 5:4`` — a meeting of 12 people; #3 got 10 paper stickers, #5 got 4. Each
    meeting entered adds to the earlier ones."""
    community = ctx.scoped
    assert community is not None
    parts = ctx.event.args.replace("#", "").split()
    usage = ctx.t("Write the number of people present, then number:stickers for each problem, "
                  "like this: /paper 12 3:10 5:4")
    present = small_int(parts[0], 6) if parts else None
    if present is None:
        raise ctx.refuse(usage)
    dots_ballots = [b for b in await ballots.of_community(ctx.tx, community.id) if b.kind == "dots"]
    if not dots_ballots:
        raise ctx.refuse(ctx.t("Start a sticker vote first: /poll dots"))
    ballot = dots_ballots[-1]
    options = {(await problems.get(ctx.tx, p)).number: p for p, _ in await ballots.options(ctx.tx, ballot.id)}
    counts: dict[int, int] = {}
    for part in parts[1:]:
        number, _, count = (small_int(x, 6) for x in part.partition(":"))
        if number not in options or count is None:
            raise ctx.refuse(usage)
        counts[options[number]] = counts.get(options[number], 0) + count
    if sum(counts.values()) > present * ballot.stickers:
        raise ctx.refuse(ctx.t("{people} with {stickers} can place at most {max} in all.",
                               people=ctx.tn("{n} person at the meeting", "{n} people at the meeting", present),
                               stickers=ctx.tn("{n} sticker each", "{n} stickers each", ballot.stickers),
                               max=present * ballot.stickers))
    await ballots.add_paper(ctx.tx, ballot.id, present, counts)
    await ctx.audit("ballot.paper_entered", community.id, ballot=ballot.id, present=present,
                    counts={str(k): v for k, v in counts.items()})
    updated = await ballots.get(ctx.tx, ballot.id)
    assert updated is not None
    ctx.reply(ctx.t("Recorded: {people}, {stickers}. They are added to the online result.",
                    people=ctx.tn("{n} person at the meeting", "{n} people at the meeting", present),
                    stickers=ctx.tn("{n} paper sticker", "{n} paper stickers", sum(counts.values()))) + "\n"
              + results.paper_line(ctx.tr, updated, sum((await ballots.paper(ctx.tx, ballot.id)).values())))
    if updated.is_open:
        ctx.refresh(tag(updated))  # the group's live counts include the meeting's stickers
    else:  # the result changes: the frozen ballot, the result and the choice follow
        await ctx.post_groups(community, await group_view(ctx, community, updated), view=tag(updated), update=True)
        await post_ranking(ctx, community, updated)
