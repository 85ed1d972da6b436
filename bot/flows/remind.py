"""Step 6 settings: ``/remind`` (the facilitator) shows and changes when a community's reminders
fall, and which are sent; ``/mute`` lets a member hold back their own for a while (never the
closing-ballot ones)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.schedule import MUTE_MAX_DAYS, hhmm, iso, parse_clock, parse_days, parse_weekday
from bot.flows.context import Context, esc
from bot.flows.registry import command
from bot.i18n import N_, Translator
from bot.storage import reminders
from bot.storage.reminders import KINDS, Settings

DAY_NAMES = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"),
             N_("Sunday"))
KIND_NAMES = {"closing": N_("a vote closing (to those who have not voted)"),
              "opened": N_("a vote opened (to members outside the group)"),
              "due": N_("a task due in 3 days"), "overdue": N_("an overdue task"),
              "checkin": N_("check-in prompts"), "digest": N_("the weekly digest")}
CHECKIN_MAX_DAYS = 60


def settings_text(tr: Translator, name: str, s: Settings) -> str:
    lines = [tr.t("⏰ <b>Reminders</b> in «{community}»:", community=esc(name)),
             tr.t("Weekly digest: {day} at {time}.", day=tr.t(DAY_NAMES[s.digest_day]), time=s.digest_time),
             tr.tn("Check-in prompts: every {n} day.", "Check-in prompts: every {n} days.", s.checkin_days),
             tr.t("Quiet hours: {start}–{end} (reminders wait until they end).", start=s.quiet_from, end=s.quiet_to)]
    for kind in KINDS:
        lines.append(("🔕 " if kind in s.off else "🔔 ") + f"{kind} — " + tr.t(KIND_NAMES[kind]))
    lines += ["", tr.t("Change: /remind digest mon 10:00, /remind quiet 22:00 08:00, /remind checkin 7, "
                       "/remind off due, /remind on due.")]
    return "\n".join(lines)


@command("remind", who="facilitator", describe=N_("Reminders and the weekly digest"), usage=(
    ("/remind digest mon 10:00", N_("send the weekly digest on Mondays at 10:00")),
    ("/remind quiet 22:00 08:00", N_("no reminders between 22:00 and 08:00")),
    ("/remind checkin 7", N_("ask task owners for a check-in every 7 days")),
    ("/remind off due", N_("turn one kind of reminder off (or on)"))))
async def remind(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None
    words = ctx.event.args.lower().split()
    current = await reminders.settings(ctx.tx, community.id)
    if not words:
        ctx.reply(settings_text(ctx.tr, community.name, current))
        return
    what, rest = words[0], words[1:]
    if what == "digest":
        day = parse_weekday(rest[0]) if rest else None
        clock = parse_clock(rest[1]) if len(rest) == 2 else None
        if day is None or clock is None:
            raise ctx.refuse(ctx.t("Write the day and the time, like /remind digest mon 10:00."))
        changed = replace(current, digest_day=day, digest_time=hhmm(clock))
    elif what == "quiet":
        start, end = (parse_clock(rest[0]), parse_clock(rest[1])) if len(rest) == 2 else (None, None)
        if start is None or end is None:
            raise ctx.refuse(ctx.t("Write when they start and end, like /remind quiet 22:00 08:00."))
        if start == end:
            raise ctx.refuse(ctx.t("Quiet hours need a start and an end that differ, like /remind quiet 22:00 08:00."))
        changed = replace(current, quiet_from=hhmm(start), quiet_to=hhmm(end))
    elif what == "checkin":
        days = parse_days(rest[0], CHECKIN_MAX_DAYS) if len(rest) == 1 else None
        if days is None:
            raise ctx.refuse(ctx.t("Write every how many days, from 1 to {max}, like /remind checkin 7.",
                                   max=CHECKIN_MAX_DAYS))
        changed = replace(current, checkin_days=days)
    elif what in ("on", "off"):
        kinds = set(rest)
        if not kinds or not kinds <= set(KINDS):
            raise ctx.refuse(ctx.t("Which reminder? One of: {kinds}.", kinds=", ".join(KINDS)))
        changed = replace(current, off=frozenset(current.off | kinds if what == "off" else current.off - kinds))
    else:
        raise ctx.refuse(settings_text(ctx.tr, community.name, current))
    await reminders.save_settings(ctx.tx, community.id, changed)
    if changed.digest_day != current.digest_day or changed.digest_time != current.digest_time:
        await reminders.forget_pending(ctx.tx, "digest", community_id=community.id)  # planned anew
    if changed.checkin_days != current.checkin_days:
        await reminders.forget_pending(ctx.tx, "checkin", community_id=community.id)
    await ctx.audit("reminders.changed", community.id, setting=what)
    ctx.reply(ctx.t("Saved.") + "\n\n" + settings_text(ctx.tr, community.name, changed))


@command("mute", who="onboarded", describe=N_("Pause my reminders"), usage=(
    ("/mute 7d", N_("no reminders for 7 days (not those of a vote closing)")),
    ("/mute off", N_("reminders again")),))
async def mute(ctx: Context) -> None:
    assert ctx.member is not None
    arg = ctx.event.args.strip().lower()
    if arg in ("off", "өшір", "выкл", "0"):
        await reminders.unmute(ctx.tx, ctx.member.id)
        ctx.reply(ctx.t("Reminders are on again."))
        return
    if not arg:
        until = await reminders.muted_until(ctx.tx, ctx.member.id)
        if until is not None and until > iso(ctx.now):
            ctx.reply(ctx.t("Your reminders are muted until {date}. /mute off turns them on again.",
                            date=await local(ctx, until)))
        else:
            ctx.reply(ctx.t("Mute your reminders for some days with /mute 7d (at most {max}); reminders of a vote "
                            "closing still come.", max=MUTE_MAX_DAYS))
        return
    days = parse_days(arg, MUTE_MAX_DAYS)
    if days is None:
        raise ctx.refuse(ctx.t("Write for how many days, from 1 to {max}, like /mute 7d.", max=MUTE_MAX_DAYS))
    until = iso(ctx.now + timedelta(days=days))
    await reminders.mute(ctx.tx, ctx.member.id, until)
    ctx.reply(ctx.tn("Your reminders are muted for {n} day, until {date}; reminders of a vote closing still come. "
                     "/mute off turns them on again.",
                     "Your reminders are muted for {n} days, until {date}; reminders of a vote closing still come. "
                     "/mute off turns them on again.", days, date=await local(ctx, until)))


async def local(ctx: Context, instant: str) -> str:
    community = await ctx.community()
    tz = community.tz if community else ctx.engine.default_tz
    return f"{datetime.fromisoformat(instant).astimezone(ZoneInfo(tz)):%d.%m.%Y %H:%M}"
