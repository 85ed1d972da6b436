"""How onboarding begins, and where it resumes: the language question, and the name question for
one who consented already; with the buttons those questions carry. The answers are handled in
``onboarding``; ``community`` sends here whoever has not finished it."""

from __future__ import annotations

from bot.domain.text import clean_line
from bot.flows.context import Context
from bot.flows.payloads import Payload
from bot.flows.types import Button
from bot.i18n import LANGUAGE_NAMES, LOCALES

NAME_MAX = 64


class Language(Payload, prefix="lang"):
    code: str


class Consent(Payload, prefix="consent"):
    answer: str  # "yes" or "no"


class NameFromProfile(Payload, prefix="onbname"):
    """The name the channel's profile shows, taken as the member's."""


def language_buttons(current: str) -> list[list[Button]]:
    return [[Button(("✓ " if code == current else "") + LANGUAGE_NAMES[code], data=Language(code).encode())
             for code in LOCALES]]


async def begin(ctx: Context, join_code: str | None = None) -> None:
    """Start (or resume) onboarding for someone who has not finished it."""
    extra = {"join": join_code} if join_code else {}
    if ctx.member is not None:  # consented already; only the name is missing
        extra = extra or {k: v for k, v in ctx.data.items() if k == "join"}
        await ask_name(ctx, **extra)
        return
    if join_code is None and ctx.data.get("join"):
        extra = {"join": ctx.data["join"]}
    ctx.goto("onb.lang", locale=ctx.locale, **extra)
    ctx.reply(ctx.t("Hello! I am Qatysu, the bot that helps a community find its most pressing "
                    "problem and solve it together.\n\nChoose your language:"),
              language_buttons(ctx.locale))


async def ask_name(ctx: Context, **extra: str) -> None:
    suggestion = clean_line(ctx.event.user_name)[:NAME_MAX]
    ctx.goto("onb.name", **extra, **({"suggest": suggestion} if suggestion else {}))
    buttons = [[Button(suggestion, data=NameFromProfile().encode())]] if suggestion else []
    ctx.reply(ctx.tn("How should the community see your name? Write it (up to {n} character)"
                     " or tap the button.", "How should the community see your name? Write it (up to {n} characters)"
                     " or tap the button.", NAME_MAX), buttons)
