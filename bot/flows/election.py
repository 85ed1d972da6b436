"""Step 2, the election of the ҚМҰТ: one group message with a button a candidate (the same
ballot in the private chat); a tap approves a candidate or takes the approval back, up to the
ballot's seats. The result seats every category that has a candidate, then by votes; ties are
named, never broken; the facilitator confirms the group, told first of any category missing."""

from __future__ import annotations

from datetime import datetime

from bot.domain.election import CATEGORIES, ElectionResult, election_result
from bot.domain.models import Community
from bot.flows.ballots import MAX_OPTIONS, closing_note, iso, load_ballot, member_order, refuse_closed, tag
from bot.flows.context import Build, Context, esc
from bot.flows.dots import BUTTON_TEXT, short
from bot.flows.kinds import BallotKind, register
from bot.flows.nominations import CATEGORY_NAMES, shown_name
from bot.flows.payloads import BadPayload, Payload
from bot.flows.registry import button
from bot.flows.results import audit_line, posted_code, repeated_code
from bot.flows.scopes import ballot_scope
from bot.flows.steps import STEP_RESULTS
from bot.flows.types import Button, Chart
from bot.i18n import N_, Translator, translator
from bot.storage import ballots, communities, nominations
from bot.storage.ballots import Ballot
from bot.storage.db import Tx
from bot.storage.nominations import Nomination

SEATS = 7  # default seats (PRODUCT.md)


class ElectionTap(Payload, prefix="el"):
    """An approval given to, or taken back from, a candidate (their nomination)."""

    ballot: int
    nomination: int


class KmutConfirm(Payload, prefix="kc"):
    """The facilitator confirms the elected ҚМҰТ (``anyway`` 1: though a category is missing)."""

    ballot: int
    anyway: int | None = None


async def candidates_of(ctx: Context, ballot: Ballot) -> tuple[list[tuple[int, int]], dict[int, Nomination]]:
    """The election's (nomination id, approvals) and the nominations by id."""
    return await _candidates(ctx.tx, ballot)


async def _candidates(tx: Tx, ballot: Ballot) -> tuple[list[tuple[int, int]], dict[int, Nomination]]:
    options = await ballots.candidates(tx, ballot.id)
    by_id = {n.id: n for n in await nominations.of_community(tx, ballot.community_id)}
    return options, by_id


def rules(tr: Translator, ballot: Ballot) -> str:
    return tr.tn("Approve up to {n} candidate for the ҚМҰТ.", "Approve up to {n} candidates for the ҚМҰТ.",
                 ballot.stickers) + " " + tr.t("Tap a name to approve, tap again to take it back.")


def label(tr: Translator, nomination: Nomination) -> str:
    return f"{shown_name(tr, nomination.name)} · {tr.t(CATEGORY_NAMES[nomination.category])}"


def group_message(tr: Translator, ballot: Ballot, options: list[tuple[int, int]], by_id: dict[int, Nomination],
                  tz: str) -> tuple[str, list]:
    """The group's election: counts shown live only when the ballot says so; frozen once closed."""
    if not ballot.is_open:
        lines = [tr.t("🗳 <b>ҚМҰТ election</b> is closed. Members who voted: {n}.", n=ballot.turnout)]
        return "\n".join(lines), []
    show = ballot.visibility == "live"
    lines = [tr.t("🗳 <b>ҚМҰТ election</b>"), rules(tr, ballot) + closing_note(tr, ballot, tz), ""]
    for nid, count in sorted(options, key=lambda o: (by_id[o[0]].name.casefold(), o[0])):
        lines.append(f"• {label(tr, by_id[nid])}" + (f" — {count}" if show else ""))
    lines += ["", tr.t("Members who voted: {n}.", n=ballot.turnout)]
    if ballot.visibility != "live":
        lines.append(tr.t("Counts are shown after the vote closes.") if ballot.visibility == "closed"
                      else tr.t("You see the counts in the private chat once you have voted."))
    order = member_order(ballot, 0, [nid for nid, _ in options])  # one shuffled order for the group
    counts = dict(options)
    buttons = [[Button(short(by_id[nid].name or tr.t("a former member"), BUTTON_TEXT)
                       + (f" · {counts[nid]}" if show else ""), data=ElectionTap(ballot.id, nid).encode())]
               for nid in order]
    return "\n".join(lines), buttons


async def private_message(ctx: Context, ballot: Ballot) -> tuple[str, list]:
    """The member's own view: their approvals marked, candidates in their own order."""
    assert ctx.member is not None
    mine = await ballots.approvals_of(ctx.tx, ballot.id, ctx.member.id)
    options, by_id = await candidates_of(ctx, ballot)
    counts = dict(options)
    show = ballot.visibility == "live" or (ballot.visibility == "voted" and bool(mine))
    left = ballot.stickers - len(mine)
    lines = [ctx.t("🗳 <b>ҚМҰТ election</b>"), rules(ctx.tr, ballot),
             ctx.tn("You can approve {n} more.", "You can approve {n} more.", left) if left else
             ctx.t("You have used all your approvals; tap a ✅ name to take one back."), ""]
    lines += [f"• {label(ctx.tr, by_id[nid])}" for nid in sorted(counts, key=lambda n: (by_id[n].name.casefold(), n))]
    buttons = []
    for nid in member_order(ballot, ctx.member.id, list(counts)):
        mark = "✅ " if nid in mine else ""
        buttons.append([Button(f"{mark}{short(by_id[nid].name or ctx.t('a former member'), BUTTON_TEXT)}"
                               + (f" · {counts[nid]}" if show else ""), data=ElectionTap(ballot.id, nid).encode())])
    return "\n".join(lines), buttons


async def show_private(ctx: Context, ballot: Ballot) -> None:
    text, buttons = await private_message(ctx, ballot)
    ctx.reply(text, buttons, view=tag(ballot))


@button(ElectionTap, who="member", scope=ballot_scope)
async def tap(ctx: Context, tap: ElectionTap) -> None:
    ballot = await load_ballot(ctx, tap.ballot, "election")
    refuse_closed(ctx, ballot)
    assert ctx.member is not None
    number = tap.nomination
    options = dict(await ballots.candidates(ctx.tx, ballot.id))
    if number not in options:
        raise BadPayload("not a candidate of this election")
    nomination = await nominations.get(ctx.tx, number)
    assert nomination is not None
    mine = await ballots.approvals_of(ctx.tx, ballot.id, ctx.member.id)
    approve = number not in mine
    if approve and len(mine) >= ballot.stickers:
        raise ctx.refuse(ctx.tn("You have approved {n} candidate, as many as there are seats. Tap a name you "
                                "approved to take it back.",
                                "You have approved {n} candidates, as many as there are seats. Tap a name you "
                                "approved to take one back.", ballot.stickers))
    await ballots.set_approval(ctx.tx, ballot.id, ctx.member.id, number, approve)
    left = ballot.stickers - len(mine) - (1 if approve else -1)
    name = nomination.name or ctx.t("a former member")
    toast = ctx.t("You approved {name}.", name=name) if approve else ctx.t("Approval taken back from {name}.", name=name)
    ctx.toast(toast + " " + ctx.tn("{left} of {n} left.", "{left} of {n} left.", ballot.stickers, left=left))
    ctx.refresh(tag(ballot))
    if not ctx.event.is_group:
        text, buttons = await private_message(ctx, ballot)
        ctx.reply(text, buttons, view=tag(ballot), update=True)


# --- the result ------------------------------------------------------------------------------
async def result_of(ctx: Context, ballot: Ballot) -> tuple[ElectionResult, dict[int, Nomination]]:
    """The result; a candidate who has since erased their data (/forget) is no longer one."""
    return await tally(ctx.tx, ballot)


async def tally(tx: Tx, ballot: Ballot) -> tuple[ElectionResult, dict[int, Nomination]]:
    """``result_of`` in a transaction alone (the printed report, the export)."""
    options, by_id = await _candidates(tx, ballot)
    candidates = {nid: by_id[nid].category for nid, _ in options if by_id[nid].name}
    approvals = {voter: {c for c in approved if c in candidates}
                 for voter, approved in (await ballots.all_approvals(tx, ballot.id)).items()}
    return election_result(approvals, candidates, ballot.stickers), by_id


NAMED = 12  # names a caption lists in one breath; the rest are counted (the message stays short)


def _names(tr: Translator, ids, by_id: dict[int, Nomination]) -> str:
    ids = list(ids)
    names = ", ".join(shown_name(tr, by_id[i].name) for i in ids[:NAMED])
    return names + (" " + tr.tn("and {n} more", "and {n} more", len(ids) - NAMED) if len(ids) > NAMED else "")


def missing_text(tr: Translator, result: ElectionResult) -> str:
    """The categories the group lacks, named (empty when every category is in it)."""
    lines = []
    if result.absent:
        lines.append(tr.t("No candidate from: {categories}.",
                          categories=", ".join(tr.t(CATEGORY_NAMES[c]) for c in result.absent)))
    if result.uncovered:
        lines.append(tr.t("Not enough seats for: {categories}.",
                          categories=", ".join(tr.t(CATEGORY_NAMES[c]) for c in result.uncovered)))
    if result.contested:
        lines.append(tr.t("A seat only if the tie goes their way: {categories}.",
                          categories=", ".join(tr.t(CATEGORY_NAMES[c]) for c in result.contested)))
    return "\n".join(lines)


def caption(tr: Translator, ballot: Ballot, result: ElectionResult, by_id: dict[int, Nomination],
            audit_head: str, then: str = "") -> str:
    """The finding (who is elected, the ties, the categories missing), turnout, ``then`` (what
    the facilitator does next) and, last, the audit log's head."""
    if not result.order:
        lines = [tr.t("ҚМҰТ election: there were no candidates.")]
    elif not result.voters:
        lines = [tr.t("ҚМҰТ election: nobody voted.")]
    else:
        lines = [tr.tn("ҚМҰТ election: {n} member elected: {names}.", "ҚМҰТ election: {n} members elected: {names}.",
                       len(result.elected), names=_names(tr, result.elected, by_id))]
    for tie in result.ties if result.voters else ():  # nobody voted: said once, not as ties
        where = tr.t(CATEGORY_NAMES[tie.category]) if tie.category else None
        text = tr.tn("A tie for {n} seat between {names} ({votes})", "A tie for {n} seats between {names} ({votes})",
                     tie.seats, names=_names(tr, tie.candidates, by_id),
                     votes=tr.tn("{n} vote each", "{n} votes each", result.votes[tie.candidates[0]]))
        if where:
            text += " " + tr.t("(the seat of {category})", category=where)
        lines.append(text + ". " + tr.t("All of them are seated unless the facilitator runs the election again."))
    if result.voters and len(result.elected) > ballot.stickers:
        lines.append(tr.tn("{n} seat; the ties seat {extra} more.", "{n} seats; the ties seat {extra} more.", ballot.stickers,
                           extra=len(result.elected) - ballot.stickers))
    missing = missing_text(tr, result)
    if missing:
        lines.append(missing)
    lines.append(tr.tn("{n} member voted.", "{n} members voted.", result.voters))
    if then:
        lines.append(then)
    lines.append(audit_line(tr, audit_head))
    return "\n".join(lines)


def chart(locale: str, ballot: Ballot, result: ElectionResult, by_id: dict[int, Nomination]) -> Chart:
    from bot import charts
    from bot.charts import data

    tr = translator(locale)
    tied = {c for tie in result.ties for c in tie.candidates}
    rows = [data.CandidateRow(by_id[c].name, by_id[c].category, result.votes[c],
                              bool(result.voters) and c in result.elected, bool(result.voters) and c in tied)
            for c in result.order]
    categories = [(key, tr.t(CATEGORY_NAMES[key])) for key in CATEGORIES]
    labels = {"title": tr.t("ҚМҰТ election"),
              "subtitle": tr.tn("{n} member voted", "{n} members voted", result.voters) + " · "
              + tr.tn("{n} seat", "{n} seats", ballot.stickers),
              "elected": tr.t("elected"), "tied": tr.t("tie"), "composition": tr.t("Categories"), "candidates": tr.t("candidates"),
              "absent": tr.t("no candidate"), "uncovered": tr.t("no seat"), "empty": tr.t("No candidates yet")}
    return Chart(charts.render_election, (rows, categories, labels), filename="election.png")


async def post_result(ctx: Context, community: Community, ballot: Ballot) -> None:
    result, by_id = await result_of(ctx, ballot)
    head = await posted_code(ctx, ballot)

    def build(tr: Translator) -> tuple[str, list]:
        if not result.elected or not result.voters:
            return caption(tr, ballot, result, by_id, head), []
        return caption(tr, ballot, result, by_id, head, tr.t("Facilitator: confirm the ҚМҰТ.")), [[
            Button(tr.t("✅ Confirm the ҚМҰТ"), data=KmutConfirm(ballot.id).encode())]]

    await ctx.post_groups(community, build, chart=chart(community.locale, ballot, result, by_id),
                          least_role="facilitator",  # one to one, the others read the result without the prompt
                          others=lambda tr: (caption(tr, ballot, result, by_id, head), []))
    if not ctx.event.is_group or not await communities.groups(ctx.tx, community.id):
        text, buttons = build(ctx.tr)
        ctx.reply(text, buttons, chart=chart(ctx.locale, ballot, result, by_id))


async def results_reply(ctx: Context, ballot: Ballot) -> None:
    """/results for an election: its caption and chart; to the facilitator, while the group is not
    confirmed, with the button to confirm it (the result posted at closing may have gone nowhere)."""
    result, by_id = await result_of(ctx, ballot)
    confirmable = (result.elected and result.voters and await ctx.role(ballot.community_id) == "facilitator"
                   and not await nominations.confirmed(ctx.tx, ballot.id))
    then = ctx.t("Facilitator: confirm the ҚМҰТ.") if confirmable else ""
    ctx.reply(caption(ctx.tr, ballot, result, by_id, await repeated_code(ctx, ballot), then),
              [[Button(ctx.t("✅ Confirm the ҚМҰТ"), data=KmutConfirm(ballot.id).encode())]] if confirmable else [],
              chart=chart(ctx.locale, ballot, result, by_id))


@button(KmutConfirm, who="facilitator", scope=ballot_scope)
async def confirm_pressed(ctx: Context, tap: KmutConfirm) -> None:
    ballot = await load_ballot(ctx, tap.ballot, "election")
    community = ctx.scoped
    assert community is not None and ctx.member is not None
    if ballot.is_open:
        raise ctx.refuse(ctx.t("Close the election first: /close"))
    if await nominations.confirmed(ctx.tx, ballot.id):
        ctx.answer(ctx.t("This ҚМҰТ is already confirmed."))
        return
    if await nominations.confirmed_later(ctx.tx, community.id, ballot.id):
        raise ctx.refuse(ctx.t("The ҚМҰТ of a later election is confirmed already; this result is out of date."))
    result, by_id = await result_of(ctx, ballot)
    if not result.elected or not result.voters:
        raise ctx.refuse(ctx.t("Nobody was elected; run the election again: /poll election"))
    missing = missing_text(ctx.tr, result)
    if missing and tap.anyway != 1:
        ctx.reply(missing + "\n" + ctx.t("The method asks for every category in the ҚМҰТ. Confirm the group "
                                         "without them, or nominate more people and run the election again."),
                  [[Button(ctx.t("Confirm anyway"), data=KmutConfirm(ballot.id, anyway=1).encode())]])
        ctx.toast(ctx.t("A category is missing"))
        return
    elected = [by_id[c].member_id for c in result.elected]
    await nominations.confirm(ctx.tx, ballot.id, community.id, elected, ctx.member.id, ctx.now_iso)
    head = await ctx.audit("kmut.confirmed", community.id, ballot=ballot.id, members=elected)
    names = [by_id[c].name for c in result.elected]

    def build(tr: Translator) -> tuple[str, list]:
        return (tr.t("✅ The ҚМҰТ of «{community}» is confirmed: {names}.", community=esc(community.name),
                     names=", ".join(shown_name(tr, n) for n in names)) + "\n" + audit_line(tr, head)), []

    await ctx.post_groups(community, build)
    if not ctx.event.is_group or not await communities.groups(ctx.tx, community.id):
        ctx.reply(build(ctx.tr)[0])
    ctx.toast(ctx.t("Confirmed"))
    for member_id in elected:
        await ctx.notify(member_id, lambda tr: (tr.t(
            "You were elected to the ҚМҰТ of «{community}». Thank you for taking part!",
            community=esc(community.name)), []))


async def step_result(ctx: Context, community: Community, tr: Translator) -> str | None:
    group = await nominations.group(ctx.tx, community.id)
    if not group:
        return None
    names = ", ".join(shown_name(tr, name) for _, name in group)  # (babel reads a literal in the call as a message)
    return tr.tn("The ҚМҰТ ({n} member): {names}.", "The ҚМҰТ ({n} members): {names}.", len(group), names=names)


STEP_RESULTS[2] = step_result


async def open_poll(ctx: Context, community: Community, numbers: list[int], visibility: str,
                    closes_at: datetime | None) -> Ballot:
    """``/poll election [seats]``: every member who accepted a nomination is a candidate."""
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
        closes_at=iso(closes_at), opened_by=ctx.member.id, now=ctx.now_iso)
    await ctx.audit("ballot.opened", community.id, ballot=ballot.id, kind="election", seats=seats,
                    visibility=visibility, options=[n.id for n in candidates])
    return ballot


async def group_view(ctx: Context, community: Community, ballot: Ballot) -> Build:
    candidates, by_id = await candidates_of(ctx, ballot)
    return lambda tr: group_message(tr, ballot, candidates, by_id, community.tz)


register(BallotKind("election", N_("ҚМҰТ election"), ("сайлау", "выборы"), open_poll, show_private, post_result,
                    results_reply, group_view=group_view))
