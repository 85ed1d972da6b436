"""One person, one member across channels.

A member on Telegram shares their own contact (checked by the channel to be theirs); the number
names their WhatsApp account too (WhatsApp's account is the number). The two are then one
member: one profile, one ballot, one /mydata, and /forget erases both. Two members who already
exist become one (``storage.linking.merge``: the older stays); where both voted in a ballot still
open, the earlier vote stays and the later is removed, and the member is told which. A number
already linked to another account of the same messenger is refused, and nothing is stored.
"""

from __future__ import annotations

from bot.domain.phones import normalise
from bot.flows import kinds
from bot.flows.context import Context, esc
from bot.flows.registry import command
from bot.flows.types import Button
from bot.i18n import N_, Translator
from bot.storage import ballots, communities, linking, members

# Channels whose clients share the person's own contact on request (the demo stands for Telegram).
ASKS_FOR_CONTACT = ("telegram", "demo")
CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp", "demo": "Telegram"}


def can_ask(ctx: Context) -> bool:
    return ctx.event.channel in ASKS_FOR_CONTACT and not ctx.event.is_group


async def may_offer(ctx: Context) -> bool:
    """Whether the menu offers to link WhatsApp: where the number can be asked and is not known."""
    return can_ask(ctx) and ctx.member is not None and await linking.phone_of(ctx.tx, ctx.member.id) is None


def contact_buttons(ctx: Context) -> list[list[Button]]:
    return [[Button(ctx.t("📱 Share my phone number"), contact=True)]]


def offer(ctx: Context) -> str:
    """Why a member might share their number (onboarding's optional step, /phone)."""
    return ctx.t("Optional: if you also use WhatsApp, share your phone number with the button below. Your "
                 "Telegram and WhatsApp then are one member, with one profile and one vote in each ballot. "
                 "The number is kept only for that; /mydata shows it and /forget erases it.")


@command("phone", where="private", describe=N_("Link your WhatsApp: share your phone number"))
async def phone_command(ctx: Context) -> None:
    if not can_ask(ctx):
        ctx.reply(ctx.t("Here your phone number is known already. To make your Telegram the same member, "
                        "send /phone to me on Telegram and share your contact there."))
        return
    ctx.reply(offer(ctx), contact_buttons(ctx))


async def contact_shared(ctx: Context, raw: str | None) -> None:
    """A contact card in a private chat: the sender's own number (``raw``), or someone else's (None)."""
    assert ctx.member is not None
    if raw is None:
        ctx.reply(ctx.t("That is someone else's contact, and I did not keep it. I save only your own "
                        "number: share your own contact card if you want to link it."))
        return
    phone = normalise(raw)
    if phone is None:
        raise ctx.refuse(ctx.t("That does not look like a phone number, and nothing was saved."))
    holder = await linking.owner(ctx.tx, phone)
    if holder is None or holder.id == ctx.member.id:
        if await linking.phone_of(ctx.tx, ctx.member.id) == phone:
            ctx.reply(ctx.t("Your phone number is saved already."))
            return
        await linking.set_phone(ctx.tx, ctx.member.id, phone)
        await ctx.audit("member.phone_shared")
        ctx.reply(ctx.t("Thank you, your phone number is saved. When you write to Qatysu on WhatsApp from "
                        "this number, it will be you: the same profile and the same votes."))
        return
    mine, theirs = await linking.channels(ctx.tx, ctx.member.id), await linking.channels(ctx.tx, holder.id)
    if mine & theirs:  # two accounts of one messenger are not one person's single member
        raise ctx.refuse(ctx.t("This phone number is already linked to another account here. One number is "
                               "one member, so nothing was saved. If that account is yours too, erase it "
                               "there with /forget first."))
    sender = ctx.member.id
    keep, other = await linking.older(ctx.tx, sender, holder.id)
    merged = await linking.merge(ctx.tx, keep, other)
    await linking.set_phone(ctx.tx, keep, phone)
    ctx.member = await members.get(ctx.tx, keep)
    assert ctx.member is not None
    ctx.use_locale(ctx.member.locale)
    await ctx.audit("member.linked", kept=keep, merged=other, channels=sorted(mine | theirs),
                    votes_removed_from_ballots=[b for b, _ in merged.removed],
                    closed_ballots_voted_twice=merged.closed)
    for ballot_id, _ in merged.removed:
        ctx.refresh(kinds.ballot_view(ballot_id))  # the group's counts without the removed vote
    text = await _linked_text(ctx, merged, {sender: mine, holder.id: theirs})
    await ctx.notify(keep, lambda _tr: (text, []))  # told on the other messenger too
    ctx.reply(text)  # here, at once (and not twice)


def _names(channels: set[str]) -> str:
    return ", ".join(sorted({CHANNEL_NAMES.get(c, c.title()) for c in channels}))


async def _ballot_name(ctx: Context, tr: Translator, ballot_id: int) -> str:
    ballot = await ballots.get(ctx.tx, ballot_id)
    assert ballot is not None
    community = await communities.get(ctx.tx, ballot.community_id)
    return tr.t("«{ballot}» in «{community}»", ballot=tr.t(kinds.title(ballot)),
                community=esc(community.name if community else "?"))


async def _linked_text(ctx: Context, merged: linking.Merged, where: dict[int, set[str]]) -> str:
    """What the member is told: one member now, and which of their votes counted twice went."""
    assert ctx.member is not None
    tr = ctx.tr
    lines = [tr.t("Done: your accounts on {channels} are now one member, {name}: one profile, one vote in "
                  "each ballot.", channels=_names(where[merged.kept] | where[merged.merged]),
                  name=esc(ctx.member.name or ""))]
    for ballot_id, removed in merged.removed:
        lines.append(tr.t("You had voted in {ballot} from both accounts. One person has one vote: the earlier "
                          "vote stays, and the later one, from {channel}, was removed.",
                          ballot=await _ballot_name(ctx, tr, ballot_id), channel=_names(where[removed])))
    for ballot_id in merged.closed:
        lines.append(tr.t("You had voted in {ballot} from both accounts too; it had closed, so its result "
                          "stays as it was announced.", ballot=await _ballot_name(ctx, tr, ballot_id)))
    return "\n\n".join(lines)


async def recognise(ctx: Context) -> None:
    """Someone new on a channel whose account is their number (WhatsApp): if a member shared that
    number as theirs, this account is that member's from now on."""
    phone = normalise(ctx.event.own_number or "")
    if phone is None:
        return
    holder = await linking.owner(ctx.tx, phone)
    if holder is None or ctx.event.channel in await linking.channels(ctx.tx, holder.id):
        return
    await linking.add_identity(ctx.tx, ctx.event.channel, ctx.event.user_id, holder.id, ctx.now_iso)
    ctx.member = holder
    ctx.use_locale(holder.locale)
    ctx.clear()  # a stranger's onboarding, if begun, is not needed
    await ctx.audit("member.linked", kept=holder.id, channels=sorted({ctx.event.channel}
                                                                     | await linking.channels(ctx.tx, holder.id)))
    ctx.reply(ctx.t("Welcome, {name}! This number is the one you shared on Telegram, so this chat is the same "
                    "member: one profile, one vote in each ballot.", name=esc(holder.name or "")))


def greeting_offer(ctx: Context) -> tuple[str, list[list[Button]]]:
    """What onboarding adds to its greeting where the number can be asked: the offer and its button."""
    if not can_ask(ctx):
        return "", []
    return "\n\n" + offer(ctx), contact_buttons(ctx)
