"""Step 1 ballots: open (/poll), list (/vote), close (/close, or at the closing time), results.

The three kinds live in ``dots``, ``matrix`` and ``pairwise``; results and charts in ``results``.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.domain.models import Community
from bot.domain.text import small_int
from bot.flows import results
from bot.flows.context import Build, Context, esc
from bot.flows.engine import BadPayload, lookup
from bot.flows.registry import button, command, start_payload
from bot.flows.types import Button
from bot.i18n import N_, Translator
from bot.storage import ballots, communities, nominations, problems
from bot.storage.ballots import Ballot

KIND_NAMES = {**results.METHOD_NAMES, "election": N_("ҚМҰТ election"), "plan": N_("Action plan"),
              "evaluation": N_("Evaluation")}
KIND_ALIASES = {"dots": "dots", "stickers": "dots", "стикер": "dots", "жапсырма": "dots",
                "matrix": "matrix", "матрица": "matrix", "pairwise": "pairwise", "pairs": "pairwise",
                "election": "election", "сайлау": "election", "выборы": "election",
                "plan": "plan", "жоспар": "plan", "план": "plan",
                "evaluation": "evaluation", "бағалау": "evaluation", "оценка": "evaluation"}
VISIBILITIES = ("live", "voted", "closed")
MAX_OPTIONS = 40


def tag(ballot: Ballot) -> str:
    return f"b{ballot.id}"


def member_order(ballot: Ballot, member_id: int, ids: list[int]) -> list[int]:
    """Each member sees the options in an order of their own, stable while the ballot is open."""
    order = sorted(ids)
    random.Random(f"{ballot.id}:{member_id}").shuffle(order)
    return order


async def ballot_scope(ctx: Context, ballot_id: str, *rest: str) -> Community:
    """The community of the ballot a button or link names (forged or unknown ids are refused)."""
    ballot = await lookup(ctx, ballots.get, ballot_id, "ballot")
    ctx.found[("ballot", ballot.id)] = ballot
    community = await communities.get(ctx.tx, ballot.community_id)
    assert community is not None
    return community


async def load_ballot(ctx: Context, ballot_id: str, kind: str | None = None) -> Ballot:
    """The ballot a payload names (its scope already checked); a vote of another kind is forged."""
    ballot = ctx.found.get(("ballot", int(ballot_id))) or await ballots.get(ctx.tx, int(ballot_id))
    assert ballot is not None
    if kind is not None and ballot.kind != kind:
        raise BadPayload(f"a {kind} vote on a {ballot.kind} ballot")
    return ballot


def refuse_closed(ctx: Context, ballot: Ballot) -> None:
    if not ballot.is_open:
        raise ctx.refuse(ctx.t("This ballot is closed. See the result with /results."))


async def open_problem(ctx: Context, ballot: Ballot, problem_id: str) -> problems.Problem:
    """A problem a vote names: it must be one of the ballot's options and still open."""
    if small_int(problem_id) is None:
        raise BadPayload("problem id")
    found = await problems.offered(ctx.tx, int(problem_id), ballot.id)
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
    kind = KIND_ALIASES.get(words[0]) if words else None
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
    if kind == "election":
        await open_election(ctx, community, numbers, visibility, closes_at)
        return
    if kind == "plan":
        from bot.flows import plan

        ballot = await plan.open_ballot(ctx, community, visibility,
                                        closes_at.isoformat(timespec="seconds") if closes_at else None)
        await ctx.audit("ballot.opened", community.id, ballot=ballot.id, kind="plan", visibility=visibility)
        await announce(ctx, community, ballot)
        return
    if kind == "evaluation":
        ballot = await ballots.open_ballot(
            ctx.tx, community.id, "evaluation", [], stickers=1, per_option=1, visibility=visibility,
            closes_at=closes_at.isoformat(timespec="seconds") if closes_at else None, opened_by=ctx.member.id,
            now=ctx.now_iso)
        await ctx.audit("ballot.opened", community.id, ballot=ballot.id, kind="evaluation", visibility=visibility)
        await announce(ctx, community, ballot)
        return
    open_ones = await problems.listed(ctx.tx, community.id)
    stickers, per_option = 3, 1
    if kind == "dots":
        stickers = numbers[0] if numbers else 3
        per_option = numbers[1] if len(numbers) > 1 else 1
        if not 1 <= stickers <= 20 or not 1 <= per_option <= stickers or len(numbers) > 2:
            raise ctx.refuse(ctx.t("Stickers: from 1 to 20 a member, and at most that many on one problem. "
                                   "For example: /poll dots 3 1"))
        chosen = open_ones
    else:
        by_number = {p.number: p for p in open_ones}
        unknown = [n for n in numbers if n not in by_number]
        if unknown:
            raise ctx.refuse(ctx.t("There is no open problem #{number}.", number=unknown[0]))
        chosen = [by_number[n] for n in dict.fromkeys(numbers)] if numbers else open_ones
    if len(chosen) < 2:
        raise ctx.refuse(ctx.t("A vote needs at least 2 proposed problems. Members propose with /propose."))
    if len(chosen) > MAX_OPTIONS:
        raise ctx.refuse(ctx.tn("A vote can hold at most {n} problem; list the numbers of a shortlist "
                                "after the command.",
                                "A vote can hold at most {n} problems; list the numbers of a shortlist "
                                "after the command.", MAX_OPTIONS))
    ballot = await ballots.open_ballot(
        ctx.tx, community.id, kind, [p.id for p in chosen], stickers=stickers, per_option=per_option,
        visibility=visibility, closes_at=closes_at.isoformat(timespec="seconds") if closes_at else None,
        opened_by=ctx.member.id, now=ctx.now_iso)
    await ctx.audit("ballot.opened", community.id, ballot=ballot.id, kind=kind, stickers=stickers,
                    per_option=per_option, visibility=visibility, options=[p.id for p in chosen])
    await announce(ctx, community, ballot)


async def open_election(ctx: Context, community: Community, numbers: list[int], visibility: str,
                        closes_at: datetime | None) -> None:
    """``/poll election [seats]``: every member who accepted a nomination is a candidate."""
    from bot.flows.election import SEATS

    assert ctx.member is not None
    seats = numbers[0] if numbers else SEATS
    if not 1 <= seats <= 20 or len(numbers) > 1:
        raise ctx.refuse(ctx.t("Seats: from 1 to 20. For example: /poll election 7"))
    candidates = [n for n in await nominations.of_community(ctx.tx, community.id, "accepted")
                  if n.name]  # one who erased their data (/forget) stands no more
    if len(candidates) < 2:
        raise ctx.refuse(ctx.t("An election needs at least 2 candidates. Members nominate with /nominate; "
                               "the people nominated must accept."))
    if len(candidates) > MAX_OPTIONS:
        raise ctx.refuse(ctx.tn("An election can hold at most {n} candidate.",
                                "An election can hold at most {n} candidates.", MAX_OPTIONS))
    ballot = await ballots.open_election(
        ctx.tx, community.id, [n.id for n in candidates], seats=seats, visibility=visibility,
        closes_at=closes_at.isoformat(timespec="seconds") if closes_at else None, opened_by=ctx.member.id,
        now=ctx.now_iso)
    await ctx.audit("ballot.opened", community.id, ballot=ballot.id, kind="election", seats=seats,
                    visibility=visibility, options=[n.id for n in candidates])
    await announce(ctx, community, ballot)


async def group_view(ctx: Context, community: Community, ballot: Ballot) -> Build:
    """How a ballot voted on in the group itself (stickers, the election, the plan) is drawn there."""
    from bot.flows import dots, election, plan

    if ballot.kind == "plan":
        return await plan.group_view(ctx, community, ballot)
    if ballot.kind == "dots":
        problems_by_id = await problems.all_of(ctx.tx, community.id)
        options = await ballots.options(ctx.tx, ballot.id)
        if not ballot.is_open:  # the same tallies as the result and its chart, paper included
            result = await results.build(ctx.tx, ballot)
            return lambda tr: dots.closed_message(tr, result)
        paper = await ballots.paper(ctx.tx, ballot.id)
        return lambda tr: dots.group_message(tr, ballot, options, problems_by_id, community.tz, paper)
    candidates, by_id = await election.candidates_of(ctx, ballot)
    return lambda tr: election.group_message(tr, ballot, candidates, by_id, community.tz)


IN_GROUP = ("dots", "election", "plan")  # voted on with the group message's buttons; the others in private


async def announce(ctx: Context, community: Community, ballot: Ballot,
                   only: tuple[str, str] | None = None) -> None:
    """Post the open ballot to the community's groups (or ``only`` that one)."""
    if ballot.kind in IN_GROUP:
        await ctx.post_groups(community, await group_view(ctx, community, ballot), tag=tag(ballot), only=only)
    else:
        link = ctx.deep_link(f"b_{ballot.id}")
        await ctx.post_groups(community, lambda tr: (
            private_ballot_invitation(tr, ballot) + closing_note(tr, ballot, community.tz),
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


def private_ballot_invitation(tr: Translator, ballot: Ballot) -> str:
    if ballot.kind == "evaluation":
        text = tr.t("📝 <b>Evaluation</b>: «Did we reach the goal we wanted?» Three questions and, if you wish, a "
                    "few words — in the private chat with me.")
    elif ballot.kind == "matrix":
        text = tr.t("🗳 <b>Priority matrix</b>: score each problem on importance and urgency, from 1 to 3. "
                    "It takes a few minutes in the private chat with me.")
    else:
        text = tr.t("🗳 <b>Pairwise ranking</b>: I show you two problems at a time; tap the one that is "
                    "more pressing. It takes a few minutes in the private chat with me.")
    if ballot.kind == "evaluation":
        return text + "\n" + tr.t("The group sees only the totals; what you write goes to the facilitator "
                                  "without your name.")
    return text + "\n" + tr.t("Your answers are secret; the group sees only the totals.")


# --- voting in private ---------------------------------------------------------------------
@start_payload("b", who="member", scope=ballot_scope)
async def ballot_link(ctx: Context, ballot_id: str) -> None:
    await open_private(ctx, await load_ballot(ctx, ballot_id))


@button("open", who="member", scope=ballot_scope)
async def open_pressed(ctx: Context, ballot_id: str) -> None:
    await open_private(ctx, await load_ballot(ctx, ballot_id))


async def open_private(ctx: Context, ballot: Ballot) -> None:
    from bot.flows import dots, election, evaluation, matrix, pairwise, plan

    refuse_closed(ctx, ballot)
    if ctx.event.is_group:
        raise ctx.refuse(ctx.t("This works in the private chat with me."), ctx.deep_link(f"b_{ballot.id}"))
    await {"dots": dots.show_private, "matrix": matrix.show_next, "pairwise": pairwise.show_next,
           "election": election.show_private, "plan": plan.show_private,
           "evaluation": evaluation.show_next}[ballot.kind](ctx, ballot)


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
        rows.append([Button(mark + ctx.t(KIND_NAMES[ballot.kind]), data=f"open:{ballot.id}")])
    missing = sum(not v for v in voted.values())
    ctx.reply(ctx.tn("{n} vote is waiting for you.", "{n} votes are waiting for you.", missing)
              if missing else ctx.t("You have voted everywhere. You can still change your votes:"), rows)


# --- closing and results -------------------------------------------------------------------
@command("close", who="facilitator", describe=N_("Close the vote and post the result"))
async def close_command(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None
    open_ones = await ballots.of_community(ctx.tx, community.id, "open")
    wanted = KIND_ALIASES.get(ctx.event.args.strip().lower())
    if wanted:
        open_ones = [b for b in open_ones if b.kind == wanted]
    if not open_ones:
        raise ctx.refuse(ctx.t("No vote is open."))
    if len(open_ones) > 1:
        ctx.reply(ctx.t("Several votes are open. Which one should I close?"),
                  [[Button(ctx.t(KIND_NAMES[b.kind]), data=f"close:{b.id}")] for b in open_ones])
        return
    await close(ctx, community, open_ones[0])


@button("close", who="facilitator", scope=ballot_scope)
async def close_pressed(ctx: Context, ballot_id: str) -> None:
    ballot = await load_ballot(ctx, ballot_id)
    refuse_closed(ctx, ballot)
    assert ctx.scoped is not None
    await close(ctx, ctx.scoped, ballot)


async def close(ctx: Context, community: Community, ballot: Ballot) -> None:
    """Close the ballot, freeze its group message and post the result (and the combined ranking)."""
    from bot.flows import choice, election

    if not await ballots.close(ctx.tx, ballot.id, ctx.now_iso):
        return
    await ctx.audit("ballot.closed", community.id, ballot=ballot.id)
    closed = await ballots.get(ctx.tx, ballot.id)
    assert closed is not None
    if closed.kind in IN_GROUP:
        await ctx.post_groups(community, await group_view(ctx, community, closed), tag=tag(closed), edit=True)
    if closed.kind == "election":
        await election.post_result(ctx, community, closed)
        return
    if closed.kind in ("plan", "evaluation"):
        from bot.flows import evaluation, plan

        await {"plan": plan.post_result, "evaluation": evaluation.post_result}[closed.kind](ctx, community, closed)
        return
    await post_result(ctx, community, closed)
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
    if latest.kind in ("election", "plan", "evaluation"):
        from bot.flows import election, evaluation, plan

        await {"election": election.results_reply, "plan": plan.results_reply,
               "evaluation": evaluation.results_reply}[latest.kind](ctx, latest)
        return
    result = await results.build(ctx.tx, latest)
    code = await results.repeated_code(ctx, latest)  # the code the group saw under this result
    ctx.reply(results.caption(ctx.tr, result, code), chart=results.chart(ctx.locale, result))
    if len({b.kind for b in closed}) > 1:
        from bot.flows import choice

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
    from bot.flows import choice

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
        ctx.refresh(f"b:{updated.id}")  # the group's live counts include the meeting's stickers
    else:  # the result changes: the frozen ballot, the result and the choice follow
        await ctx.post_groups(community, await group_view(ctx, community, updated), tag=tag(updated), edit=True)
        await post_result(ctx, community, updated)
        await choice.post_combined(ctx, community)
