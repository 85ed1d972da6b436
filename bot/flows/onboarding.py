"""Onboarding: language → consent to personal-data processing → display name (the questions are
asked in ``welcome``; the answers are taken here)."""

from __future__ import annotations

from bot.domain.text import clean_line
from bot.flows import linking
from bot.flows.community import join_by_code, show_menu
from bot.flows.context import Context, esc
from bot.flows.payloads import BadPayload
from bot.flows.registry import button, command, state
from bot.flows.types import Button
from bot.flows.welcome import NAME_MAX, Consent, Language, NameFromProfile, ask_name, begin, language_buttons
from bot.i18n import LANGUAGE_NAMES, LOCALES, N_
from bot.storage import members

@command("lang", who="anyone", describe=N_("Change the language"))
async def lang_command(ctx: Context) -> None:
    if not ctx.onboarded:
        await begin(ctx)
        return
    ctx.reply(ctx.t("Choose your language:"), language_buttons(ctx.locale))


@button(Language, who="anyone")
async def language_chosen(ctx: Context, tap: Language) -> None:
    code = tap.code
    if code not in LOCALES:
        raise BadPayload(f"unknown locale {code!r}")
    ctx.use_locale(code)
    if ctx.member is not None:
        await members.set_locale(ctx.tx, ctx.member.id, code)
        ctx.toast(LANGUAGE_NAMES[code])
        if ctx.onboarded:
            ctx.reply(ctx.t("Done: I will write to you in English."))
            await show_menu(ctx)
        else:
            await ask_name(ctx, **{k: v for k, v in ctx.data.items() if k == "join"})
        return
    ctx.data["locale"] = code
    ctx.goto("onb.consent", locale=code, **{k: v for k, v in ctx.data.items() if k == "join"})
    ctx.toast(LANGUAGE_NAMES[code])
    ctx.reply(consent_text(ctx), [[Button(ctx.t("I agree"), data=Consent("yes").encode()),
                                   Button(ctx.t("I do not agree"), data=Consent("no").encode())]])


def consent_text(ctx: Context) -> str:
    operator = ctx.engine.operator_name
    if ctx.engine.operator_bin:
        operator += " (" + ctx.t("BIN {bin}", bin=ctx.engine.operator_bin) + ")"
    return ctx.t(
        "<b>Consent to the processing of personal data</b>\n\n"
        "Under the Law of the Republic of Kazakhstan «On personal data and their protection», "
        "{operator} (the operator) asks your consent to process your personal data.\n\n"
        "• Purpose: to let you take part in your community's decisions — proposals, votes, plans.\n"
        "• Data: your messenger id, the name you give, your language, optionally your phone number, "
        "and what you write and vote here.\n"
        "• Where: on the operator's server in a database; votes are secret, others see only totals.\n"
        "• How long: while you take part, and at most 3 years after your last action.\n"
        "• Withdraw at any time with /forget: your data is erased; your votes in closed ballots stay "
        "counted without your name, those in ballots still open are withdrawn. /mydata sends you "
        "everything stored about you.\n\n"
        "Do you agree?", operator=esc(operator))


@button(Consent, who="anyone", where="private")
async def consent(ctx: Context, tap: Consent) -> None:
    answer = tap.answer
    if answer not in ("yes", "no"):
        raise BadPayload("consent answer")
    if ctx.member is not None:
        ctx.toast(ctx.t("You have already agreed."))
        if not ctx.onboarded:
            await ask_name(ctx, **{k: v for k, v in ctx.data.items() if k == "join"})
        return
    if answer == "no":
        ctx.goto("onb.refused", locale=ctx.locale)
        ctx.reply(ctx.t("Without your consent I cannot store anything about you, so you cannot take "
                        "part yet. If you change your mind, send /start."))
        return
    ctx.member = await members.create(ctx.tx, ctx.event.channel, ctx.event.user_id, ctx.locale, ctx.now_iso)
    await ctx.audit("consent.given", locale=ctx.locale)
    await ask_name(ctx, **{k: v for k, v in ctx.data.items() if k == "join"})


@button(NameFromProfile, who="anyone", where="private")
async def name_from_profile(ctx: Context, tap: NameFromProfile) -> None:
    if ctx.state != "onb.name" or not ctx.data.get("suggest") or ctx.member is None:
        raise BadPayload("no name suggestion pending")
    await set_name(ctx, ctx.data["suggest"])


@state("onb.name", expires=None)
async def name_typed(ctx: Context, text: str) -> None:
    if ctx.member is None:
        await begin(ctx)
        return
    await set_name(ctx, text)


async def set_name(ctx: Context, raw: str) -> None:
    name = clean_line(raw)
    if not name:
        raise ctx.refuse(ctx.t("Please write your name in letters."))
    if len(name) > NAME_MAX:
        raise ctx.refuse(ctx.tn("That is too long: at most {n} character, please.",
                                "That is too long: at most {n} characters, please.", NAME_MAX))
    assert ctx.member is not None
    first_time = not ctx.member.name
    await members.set_name(ctx.tx, ctx.member.id, name)
    ctx.member = await members.get(ctx.tx, ctx.member.id)
    join_code = ctx.data.get("join")
    ctx.clear()
    offer, buttons = linking.greeting_offer(ctx) if first_time else ("", [])
    ctx.reply(ctx.t("Nice to meet you, {name}!", name=esc(name)) + offer, buttons)
    if first_time and join_code:
        await join_by_code(ctx, join_code)
    else:
        await show_menu(ctx)


@state("onb.lang", expires=None)
@state("onb.consent", expires=None)
async def waiting_for_button(ctx: Context, text: str) -> None:
    await begin(ctx)


@state("onb.refused", expires=None)
async def refused_before(ctx: Context, text: str) -> None:
    ctx.reply(ctx.t("Without your consent I cannot store anything about you. If you change your "
                    "mind, send /start."))


async def contact_shared(ctx: Context, phone: str | None) -> None:
    """A contact card shared in private chat: the sender's own (``phone``), or someone else's (None)."""
    if not ctx.onboarded or ctx.event.is_group:
        await begin(ctx)
        return
    await linking.contact_shared(ctx, phone)
