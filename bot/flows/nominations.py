"""Step 2, nominations to the initiative group (ҚМҰТ): any member nominates a member (or
themselves) in one of six categories; the nominee accepts or declines, once."""

from __future__ import annotations

from bot.domain.election import CATEGORIES
from bot.domain.models import Community
from bot.domain.text import clean_text
from bot.flows.access import waiting_community
from bot.flows.context import Context, esc
from bot.flows.payloads import BadPayload, Payload
from bot.flows.registry import button, command, state
from bot.flows.scopes import community_scope, lookup
from bot.flows.steps import menu_item
from bot.flows.types import Button
from bot.i18n import N_, Translator
from bot.storage import ballots, members, nominations
from bot.storage.nominations import Nomination

CATEGORY_NAMES = {
    "activist": N_("Activists and leaders"),
    "vulnerable": N_("Vulnerable groups"),
    "authority": N_("Local authorities"),
    "business": N_("Business"),
    "ngo": N_("NGOs"),
    "media": N_("Media"),
}
SEARCH_MIN = 2   # letters of a name to search for
MATCHES = 8      # members offered for one search
LISTED = 40      # candidates listed by /nominate (the message stays within Telegram's length)

menu_item(2, N_("Nominate to the ҚМҰТ"), "nominate")
menu_item(2, N_("Vote"), "vote")


def shown_name(tr: Translator, name: str) -> str:
    return esc(name) if name else tr.t("a former member")


def candidates_text(tr: Translator, found: list[Nomination]) -> str:
    accepted = [n for n in found if n.status == "accepted" and n.name]  # not one who erased their data
    if not accepted:
        return tr.t("No candidates yet.")
    lines = [tr.tn("{n} candidate:", "{n} candidates:", len(accepted))]
    lines += [f"• {shown_name(tr, n.name)} — {tr.t(CATEGORY_NAMES[n.category])}" for n in accepted[:LISTED]]
    if len(accepted) > LISTED:
        lines.append(tr.tn("…and {n} more.", "…and {n} more.", len(accepted) - LISTED))
    waiting = sum(n.status == "pending" for n in found)
    if waiting:
        lines.append(tr.tn("{n} nomination waits for an answer.", "{n} nominations wait for an answer.", waiting))
    return "\n".join(lines)


@command("nominate", who="member", describe=N_("Nominate to the ҚМҰТ"))
async def nominate(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None and ctx.member is not None
    if ctx.event.is_group:
        raise ctx.refuse(ctx.t("This works in the private chat with me."), ctx.private_link("nominate"))
    found = await nominations.of_community(ctx.tx, community.id)
    ctx.goto("nom.who", community=community.id)
    ctx.reply("\n\n".join([
        ctx.t("<b>ҚМҰТ — the community's initiative group.</b> Nominate a member who is respected and "
              "trusted, and cares about the problem: an activist or leader, someone from a vulnerable group, "
              "or from the local authority, business, an NGO or the media."),
        candidates_text(ctx.tr, found),
        ctx.t("Send the name (or part of it) of the member you nominate, or nominate yourself:")]),
        [[Button(ctx.t("🙋 Myself"), data=Nominee(community.id, ctx.member.id).encode())]])


@state("nom.who", who="member")
async def name_sent(ctx: Context, text: str) -> None:
    community = await waiting_community(ctx, "nominate")
    if community is None:
        return
    community_id = community.id
    query = clean_text(text)[:64]
    if len(query) < SEARCH_MIN:
        raise ctx.refuse(ctx.t("Send at least two letters of the name."))
    found = await nominations.search_members(ctx.tx, community_id, query, MATCHES + 1)
    if not found:
        ctx.reply(ctx.t("No member's name contains «{query}». Try another part of the name; the person "
                        "must have joined the community.", query=esc(query)))
        return
    if len(found) == 1:  # the one member meant: on to the category
        existing = await nominations.of_member(ctx.tx, community_id, found[0][0])
        if existing is not None and existing.status != "declined":
            raise ctx.refuse(already(ctx, existing))
        assert ctx.member is not None
        ctx.reply(category_question(ctx, found[0][0], found[0][1]), category_buttons(ctx.tr, community_id, found[0][0]))
        return
    rows = [[Button(name[:60], data=Nominee(community_id, member_id).encode())] for member_id, name in found[:MATCHES]]
    more = ctx.t(" Only the first {n} are shown: send more of the name.", n=MATCHES) if len(found) > MATCHES else ""
    ctx.reply(ctx.t("Whom do you nominate?") + more, rows)


class Nominee(Payload, prefix="nm"):
    """The member ``member`` is the one nominated."""

    community: int
    member: int


class NomineeCategory(Payload, prefix="nc"):
    """``member`` is nominated in ``category``."""

    community: int
    member: int
    category: str


class NominationAccept(Payload, prefix="na"):
    nomination: int


class NominationDecline(Payload, prefix="nd"):
    nomination: int


async def nominee(ctx: Context, member_id: int) -> tuple[Community, int]:
    community = ctx.scoped
    assert community is not None
    if await members.membership(ctx.tx, community.id, member_id) is None:
        raise BadPayload("not a member of this community")
    return community, member_id


@button(Nominee, who="member", scope=community_scope)
async def nominee_chosen(ctx: Context, tap: Nominee) -> None:
    community, target = await nominee(ctx, tap.member)
    existing = await nominations.of_member(ctx.tx, community.id, target)
    if existing is not None and existing.status != "declined":
        raise ctx.refuse(already(ctx, existing))
    ctx.reply(category_question(ctx, target), category_buttons(ctx.tr, community.id, target))


def category_question(ctx: Context, target: int, name: str | None = None) -> str:
    """The category question, worded for a nomination of oneself or of someone else."""
    assert ctx.member is not None
    if target == ctx.member.id:
        return ctx.t("You nominate yourself. In which category?")
    if name is not None:
        return ctx.t("You nominate: <b>{name}</b>. In which category?", name=esc(name))
    return ctx.t("In which category do you nominate them?")


def category_buttons(tr: Translator, community_id: int, target: int) -> list[list[Button]]:
    return [[Button(tr.t(CATEGORY_NAMES[key]), data=NomineeCategory(community_id, target, key).encode())]
            for key in CATEGORIES]


def already(ctx: Context, existing: Nomination) -> str:
    """Why a member cannot be nominated now (a declined nomination may be made again), said to
    oneself as "you"."""
    tr = ctx.tr
    category = tr.t(CATEGORY_NAMES[existing.category])
    if ctx.member is not None and existing.member_id == ctx.member.id:
        return (tr.t("You are already a candidate ({category}).", category=category) if existing.status == "accepted"
                else tr.t("You are already nominated ({category}); accept or decline with the buttons of that message.",
                          category=category))
    if existing.status == "accepted":
        return tr.t("{name} is already a candidate ({category}).", name=shown_name(tr, existing.name), category=category)
    return tr.t("{name} is already nominated ({category}) and has not answered yet.",
                name=shown_name(tr, existing.name), category=category)


@button(NomineeCategory, who="member", scope=community_scope)
async def category_chosen(ctx: Context, tap: NomineeCategory) -> None:
    community, target = await nominee(ctx, tap.member)
    category = tap.category
    assert ctx.member is not None
    if category not in CATEGORIES:
        raise BadPayload("unknown category")
    existing = await nominations.of_member(ctx.tx, community.id, target)
    if existing is not None and existing.status != "declined":
        raise ctx.refuse(already(ctx, existing))
    if existing is not None:  # declined before: a new nomination may be made, and answered anew
        await nominations.drop_declined(ctx.tx, existing.id)
    self = target == ctx.member.id
    nomination_id = await nominations.add(ctx.tx, community.id, target, category, ctx.member.id, ctx.now_iso, self)
    await ctx.audit("nomination.made", community.id, nomination=nomination_id, nominee=target, category=category)
    ctx.clear()
    if self:
        text = ctx.t("You are a candidate for the ҚМҰТ ({category}).", category=ctx.t(CATEGORY_NAMES[category]))
        if any(b.kind == "election" for b in await ballots.of_community(ctx.tx, community.id, "open")):
            text += " " + ctx.t("The election already open goes on without you; you will be on the next one.")
        else:
            text += " " + ctx.t("Members will vote when the facilitator opens the election.")
        ctx.reply(text)
        return
    nomination = await nominations.get(ctx.tx, nomination_id)
    assert nomination is not None
    ctx.reply(ctx.t("You nominated {name} ({category}). I asked them to accept; you will hear their answer.",
                    name=shown_name(ctx.tr, nomination.name), category=ctx.t(CATEGORY_NAMES[category])))
    by = ctx.member.name or ""
    await ctx.notify(target, lambda tr: (
        tr.t("{by} nominated you to the ҚМҰТ of «{community}», the group that leads the community's work on "
             "its problem, as: {category}. Do you accept?", by=shown_name(tr, by), community=esc(community.name),
             category=tr.t(CATEGORY_NAMES[category])),
        [[Button(tr.t("✅ I accept"), data=NominationAccept(nomination_id).encode()),
          Button(tr.t("No, thank you"), data=NominationDecline(nomination_id).encode())]]))


async def nomination_scope(ctx: Context, tap: NominationAccept | NominationDecline) -> Community | None:
    nomination = await lookup(ctx, nominations.get, tap.nomination, "nomination")
    ctx.found[("nomination", nomination.id)] = nomination
    from bot.storage import communities

    return await communities.get(ctx.tx, nomination.community_id)


@button(NominationAccept, who="member", scope=nomination_scope)
async def accepted(ctx: Context, tap: NominationAccept) -> None:
    await answer(ctx, tap.nomination, True)


@button(NominationDecline, who="member", scope=nomination_scope)
async def declined(ctx: Context, tap: NominationDecline) -> None:
    await answer(ctx, tap.nomination, False)


async def answer(ctx: Context, nomination_id: int, accept: bool) -> None:
    nomination: Nomination = ctx.found[("nomination", nomination_id)]
    assert ctx.member is not None and ctx.scoped is not None
    if nomination.member_id != ctx.member.id:
        raise ctx.refuse(ctx.t("Only the person nominated can answer this."))
    if not await nominations.answer(ctx.tx, nomination.id, accept, ctx.now_iso):
        ctx.answer(ctx.t("You accepted this nomination already.") if nomination.status == "accepted"
                   else ctx.t("You declined this nomination already."))
        return
    await ctx.audit("nomination.accepted" if accept else "nomination.declined", ctx.scoped.id, nomination=nomination.id)
    category = CATEGORY_NAMES[nomination.category]
    if accept:
        text = ctx.t("Thank you! You are a candidate for the ҚМҰТ ({category}).", category=ctx.t(category))
        if any(b.kind == "election" for b in await ballots.of_community(ctx.tx, ctx.scoped.id, "open")):
            text += " " + ctx.t("The election already open goes on without you; you will be on the next one.")
    else:
        text = ctx.t("Noted: you declined the nomination.")
    ctx.answer(text)
    if ctx.event.button is not None:
        ctx.reply(text)  # the toast goes; the answer stays in the chat
    if nomination.nominated_by is not None and nomination.nominated_by != ctx.member.id:
        name = ctx.member.name or ""
        await ctx.notify(nomination.nominated_by, lambda tr: (
            tr.t("{name} accepted your nomination to the ҚМҰТ.", name=shown_name(tr, name)) if accept
            else tr.t("{name} declined your nomination to the ҚМҰТ.", name=shown_name(tr, name)), []))
