"""The member's rights over their data: /mydata (a copy of everything stored) and /forget."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.flows.context import Context, esc
from bot.flows.kinds import ballot_view
from bot.flows.monitoring import owner_leaving
from bot.flows.payloads import BadPayload, Payload
from bot.flows.registry import ANSWER_WINDOW, button, command
from bot.flows.types import Button
from bot.i18n import N_
from bot.storage import members, privacy, updates

RETENTION = timedelta(days=3 * 366)  # "at most 3 years after your last action" (the consent text)
EXPIRE_BATCH = 100  # members erased per sweep, so one transaction stays short


@command("mydata", where="private", describe=N_("What is stored about you"))
async def mydata(ctx: Context) -> None:
    assert ctx.member is not None
    data = await privacy.export(ctx.tx, ctx.member.id)
    await ctx.audit("member.data_exported")
    content = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    ctx.reply(ctx.t("Everything stored about you, as a file. Your votes are shown only to you."),
              document=("qatysu-my-data.json", content))
    ctx.outcome.replayable = False  # no second copy of it is kept for a retry: they can ask again


@command("forget", where="private", describe=N_("Erase your data"))
async def forget(ctx: Context) -> None:
    assert ctx.member is not None
    text = ctx.t("This erases your name, phone number, your messenger account's link to Qatysu and your "
                 "name on the problems you proposed. Your votes in ballots that have closed stay counted, "
                 "but nothing links them to you any more; your votes in ballots still open are "
                 "withdrawn. This cannot be undone. Erase?")
    led = await members.led_alone(ctx.tx, ctx.member.id)
    if led:
        text += "\n\n" + ctx.t("⚠️ You are the only facilitator of {communities}: after this, nobody can open or "
                                "close its votes or move it to the next step.",
                                communities=", ".join(f"«{esc(name)}»" for name in led)) \
            + " " + ctx.t("Add another facilitator first: /facilitator add NAME")
    ctx.goto("forget.confirm")  # the confirmation counts only while it is the last question asked
    ctx.reply(text, [[Button(ctx.t("Erase my data"), data=Forget("yes").encode()),
                      Button(ctx.t("Cancel"), data=Forget("no").encode())]])


class Forget(Payload, prefix="forget"):
    """The answer to /forget's question: ``yes`` erases, ``no`` does not."""

    answer: str


@button(Forget, where="private")
async def forget_confirmed(ctx: Context, tap: Forget) -> None:
    answer = tap.answer
    if answer not in ("yes", "no"):
        raise BadPayload("forget answer")
    asked = ctx.state == "forget.confirm" and ctx.state_saved_at >= (ctx.now - ANSWER_WINDOW).isoformat(
        timespec="seconds")
    if answer == "no":
        if ctx.state == "forget.confirm":
            ctx.clear()
        ctx.reply(ctx.t("Nothing was erased."))
        return
    if not asked:  # an "Erase" under an older /forget, cancelled or left since: it erases nothing
        ctx.reply(ctx.t("That question is old, and nothing was erased. To erase your data, send /forget again."))
        return
    assert ctx.member is not None
    await erase(ctx, ctx.member.id, "member.forgotten")
    ctx.member = None
    ctx.clear()
    ctx.forget_state()
    ctx.reply(ctx.t("Your data is erased. You can join again at any time with /start."))


async def erase(ctx: Context, member_id: int, action: str, **detail: object) -> None:
    """Erase a member's personal data (``privacy.erase``), leave no copy of it in the database
    files, note it in the audit log and redraw the ballots their votes were withdrawn from."""
    await owner_leaving(ctx, member_id)  # their tasks go back to nobody: the ҚМҰТ is told
    withdrawn = await privacy.erase(ctx.tx, member_id)
    # Answers kept for a retry may quote what they wrote; this one is addressed to their messenger id.
    await updates.forget_replies(ctx.tx)
    ctx.outcome.replayable = False
    ctx.engine.db.wipe_soon()
    await ctx.audit(action, votes_withdrawn_from_ballots=withdrawn, **detail)
    for ballot_id in withdrawn:
        ctx.refresh(ballot_view(ballot_id))  # the group's counts without the withdrawn stickers


async def expire_inactive(ctx: Context) -> None:
    """Scheduled: erase, as /forget does, the members whose last action is older than RETENTION."""
    cutoff = (ctx.now - RETENTION).date().isoformat()
    for member_id in await members.inactive_before(ctx.tx, cutoff, EXPIRE_BATCH):
        await erase(ctx, member_id, "member.expired", member=member_id)
