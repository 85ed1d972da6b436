"""Step 6, implementation and monitoring (іске асыру және мониторинг): the responsible members
check in on their tasks (status, percent, a note, a photo as evidence), late and blocked tasks
alert the ҚМҰТ at once, and ``/progress`` draws the plan with each bar filled to its percent."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.domain.models import Community
from bot.domain.schedule import iso
from bot.domain.text import small_int, shorten as short
from bot.flows.access import waiting_community
from bot.flows.context import Context, esc
from bot.flows.payloads import BadPayload, CheckinTask, Payload
from bot.flows.registry import button, command, state
from bot.flows.scopes import community_scope
from bot.flows.steps import STEP_RESULTS, menu_item
from bot.flows.types import Button, Chart
from bot.i18n import N_, Translator, translator
from bot.storage import checkins, plan, problems, reminders
from bot.storage.checkins import Checkin
from bot.storage.plan import Task

STATUS_NAMES = {"done": N_("done"), "on_track": N_("on track"), "late": N_("late"), "blocked": N_("blocked")}
STATUS_ICONS = {"done": "✅", "on_track": "🟢", "late": "🟠", "blocked": "⛔"}
PERCENTS = (0, 25, 50, 75, 100)
NOTE_MAX = 500
TASKS_SHOWN = 30

menu_item(6, N_("Report on my task"), "checkin")
menu_item(6, N_("Progress"), "progress")


def local_today(community: Community, now: datetime) -> date:
    return now.astimezone(ZoneInfo(community.tz)).date()


def status_of(task: Task, latest: Checkin | None, today: date) -> str:
    """done, blocked, late (reported late, or past its due day), on_track, or none (no report yet)."""
    if latest is not None and latest.status in ("done", "blocked"):
        return latest.status
    if (latest is not None and latest.status == "late") or (task.due is not None and task.due < today):
        return "late"
    return "on_track" if latest is not None else "none"


def progress_note(tr: Translator, latest: Checkin | None) -> str:
    """" — 🟠 late, 50%" after a task in /plan's listing ("" before any check-in)."""
    if latest is None:
        return ""
    return f" — {STATUS_ICONS[latest.status]} {tr.t(STATUS_NAMES[latest.status])}, {latest.percent}%"


async def version_note(ctx: Context, tr: Translator, community: Community) -> str:
    """"Changed since approved on DATE" while the plan differs from the one the members approved."""
    return version_text(tr, await reminders.approval(ctx.tx, community.id), community.tz)


def version_text(tr: Translator, approval: tuple[str, bool] | None, tz: str) -> str:
    if approval is None or not approval[1]:
        return ""
    approved = datetime.fromisoformat(approval[0]).astimezone(ZoneInfo(tz))
    return tr.t("⚠️ The plan has changed since the members approved it on {date}.", date=f"{approved:%d.%m.%Y}")


async def progress_of(ctx: Context, community: Community) -> tuple[list[Task], dict[int, Checkin], date]:
    problem = await problems.chosen(ctx.tx, community.id)
    tasks = await plan.of_problem(ctx.tx, problem.id) if problem else []
    return tasks, await checkins.latest(ctx.tx, [t.id for t in tasks]), local_today(community, ctx.now)


def summary(tr: Translator, tasks: list[Task], latest: dict[int, Checkin], today: date) -> str:
    """In words: how many are done, on track, late, blocked, and what is due next."""
    if not tasks:
        return tr.t("The plan has no tasks yet.")
    counts = {s: 0 for s in ("done", "on_track", "late", "blocked", "none")}
    for task in tasks:
        counts[status_of(task, latest.get(task.id), today)] += 1
    parts = [tr.tn("{n} task done", "{n} tasks done", counts["done"]),
             tr.tn("{n} on track", "{n} on track", counts["on_track"]),
             tr.tn("{n} late", "{n} late", counts["late"]),
             tr.tn("{n} blocked", "{n} blocked", counts["blocked"])]
    if counts["none"]:
        parts.append(tr.tn("{n} without a report yet", "{n} without a report yet", counts["none"]))
    text = tr.tn("Plan progress, {n} task: ", "Plan progress, {n} tasks: ", len(tasks)) + ", ".join(parts) + "."
    upcoming = sorted((t for t in tasks if t.due is not None and t.due >= today
                       and status_of(t, latest.get(t.id), today) != "done"), key=lambda t: (t.due, t.number))
    if upcoming:
        nxt = upcoming[0]
        text += "\n" + tr.t("Due next: #{number} «{title}» on {date}.", number=nxt.number,
                            title=esc(short(nxt.title, 60)), date=f"{nxt.due:%d.%m}")
    return text


def chart(locale: str, tasks: list[Task], latest: dict[int, Checkin], today: date) -> Chart:
    from bot import charts

    tr = translator(locale)
    rows = []
    for t in tasks[:TASKS_SHOWN]:
        found = latest.get(t.id)
        dated = t.start is not None and t.due is not None  # a task with one date is listed with the undated
        rows.append(charts.ProgressRow(t.number, t.title, t.owner, t.start if dated else None, t.due if dated else None,
                                       status_of(t, found, today), found.percent if found else 0))
    labels = {"title": tr.t("Plan progress"), "subtitle": tr.tn("{n} task", "{n} tasks", len(tasks)),
              "owner_none": tr.t("no one yet"), "unscheduled": tr.t("Not scheduled yet"), "today": tr.t("today"),
              "empty": tr.t("No tasks yet"), "months": tr.t("Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec"),
              **{k: tr.t(v) for k, v in STATUS_NAMES.items()}, "none": tr.t("no report yet")}
    return Chart(charts.render_progress, (rows, labels), {"today": today}, filename="progress.png")


async def step_result(ctx: Context, community: Community, tr: Translator) -> str | None:
    """Step 6's result: the plan's progress, once an owner has reported (else the step was skipped)."""
    tasks, latest, today = await progress_of(ctx, community)
    return summary(tr, tasks, latest, today) if latest else None


STEP_RESULTS[6] = step_result


@command("progress", who="member", describe=N_("Progress"))
async def progress_command(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None
    tasks, latest, today = await progress_of(ctx, community)
    text = summary(ctx.tr, tasks, latest, today)
    if note := await version_note(ctx, ctx.tr, community):
        text += "\n" + note
    ctx.reply(text, chart=chart(ctx.locale, tasks, latest, today) if tasks else None)


# --- check-ins --------------------------------------------------------------------------------
@command("checkin", who="member", describe=N_("Report on my task"))
async def checkin_command(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None and ctx.member is not None
    private_only(ctx)  # in the group: the way to the private chat, for this community
    tasks = await checkins.open_of_owner(ctx.tx, community.id, ctx.member.id)
    if not tasks:
        ctx.reply(ctx.t("You have no open tasks to report on. The ҚМҰТ names who is responsible under /plan."))
        return
    latest = await checkins.latest(ctx.tx, [t.id for t in tasks])
    lines = [ctx.t("Which task do you report on?"), ""]
    lines += [f"#{t.number} {esc(short(t.title, 80))}" + (f" — {t.due:%d.%m}" if t.due else "")
              + progress_note(ctx.tr, latest.get(t.id)) for t in tasks]
    ctx.reply("\n".join(lines), [[Button(f"#{t.number} {short(t.title, 40)}",
                                         data=CheckinTask(community.id, t.number).encode(), number=t.number)]
                                 for t in tasks[:TASKS_SHOWN]])


async def owned(ctx: Context, community: Community, number: object) -> Task:
    """The open task ``number`` this member is responsible for; anyone else's is refused."""
    assert ctx.member is not None
    value = small_int(str(number), 6)
    if value is None:
        raise BadPayload("task number")
    task = await checkins.task(ctx.tx, community.id, value)
    if task is None:
        raise ctx.refuse(ctx.t("There is no task #{number} in the plan.", number=value))
    if task.owner_id != ctx.member.id:
        raise ctx.refuse(ctx.t("Only the member responsible for #{number} reports on it.", number=value))
    return task


def private_only(ctx: Context) -> None:
    if ctx.event.is_group:
        raise ctx.refuse(ctx.t("This works in the private chat with me."), ctx.private_link("checkin"))


class CheckinStatus(Payload, prefix="cs"):
    community: int
    number: int  # the task's
    status: str


class CheckinPercent(Payload, prefix="cp"):
    community: int
    number: int
    status: str
    percent: int


class CheckinSave(Payload, prefix="cn"):
    """Saves the check-in being written, without a note."""

    community: int


@button(CheckinTask, who="member", scope=community_scope)
async def task_chosen(ctx: Context, tap: CheckinTask) -> None:
    private_only(ctx)
    community = ctx.scoped
    assert community is not None
    task = await owned(ctx, community, tap.number)
    ctx.reply(ctx.t("#{number} «{title}»: how is it going?", number=task.number, title=esc(task.title)),
              [[Button(f"{STATUS_ICONS[s]} {ctx.t(STATUS_NAMES[s])}",
                       data=CheckinStatus(community.id, task.number, s).encode())
                for s in pair] for pair in (("done", "on_track"), ("late", "blocked"))])


@button(CheckinStatus, who="member", scope=community_scope)
async def status_chosen(ctx: Context, tap: CheckinStatus) -> None:
    private_only(ctx)
    community = ctx.scoped
    assert community is not None
    status = tap.status
    if status not in STATUS_NAMES:
        raise BadPayload("status")
    task = await owned(ctx, community, tap.number)
    if status == "done":
        ask_note(ctx, community, task, status, 100)
        return
    ctx.goto("checkin.percent", community=community.id, task=task.number, status=status)
    ctx.reply(ctx.t("How far along is #{number}? Press a button or type a number from 0 to 100.", number=task.number),
              [[Button(f"{p}%", data=CheckinPercent(community.id, task.number, status, p).encode()) for p in PERCENTS]])


@button(CheckinPercent, who="member", scope=community_scope)
async def percent_pressed(ctx: Context, tap: CheckinPercent) -> None:
    private_only(ctx)
    community = ctx.scoped
    assert community is not None
    if tap.status not in STATUS_NAMES or tap.percent > 100:
        raise BadPayload("status or percent")
    ask_note(ctx, community, await owned(ctx, community, tap.number), tap.status, tap.percent)


def parse_percent(text: str) -> int | None:
    value = small_int(text.strip().rstrip("%").strip(), 3)
    return value if value is not None and value <= 100 else None


@state("checkin.percent", who="member")
async def percent_typed(ctx: Context, raw: str) -> None:
    community = await waiting_community(ctx, "checkin")
    if community is None:
        return
    value = parse_percent(raw)
    if value is None:
        raise ctx.refuse(ctx.t("A number from 0 to 100, please (for example 40)."))
    ask_note(ctx, community, await owned(ctx, community, ctx.data.get("task")), str(ctx.data.get("status")), value)


def ask_note(ctx: Context, community: Community, task: Task, status: str, percent: int) -> None:
    ctx.goto("checkin.note", community=community.id, task=task.number, status=status, percent=percent)
    ctx.reply(ctx.t("Add a note in one message (what was done, what is in the way) or send a photo as evidence: the "
                    "repaired road, the receipt. Or save the report as it is."),
              [[Button(ctx.t("Save without a note"), data=CheckinSave(community.id).encode())]])


@state("checkin.note", who="member")
async def note_sent(ctx: Context, raw: str) -> None:
    community = await waiting_community(ctx, "checkin")
    if community is None:
        return
    if ctx.event.attachment is not None:
        raise ctx.refuse(ctx.t("Please send the picture as a photo (not as a file), up to 20 MB, or write a note."))
    note = raw.strip()
    if not note and ctx.event.photo is None:
        raise ctx.refuse(ctx.t("Write a note or send a photo, or press «Save without a note»."))
    if len(note) > NOTE_MAX:
        raise ctx.refuse(ctx.tn("That is {n} character; please keep it to {max}.",
                                "That is {n} characters; please keep it to {max}.", len(note), max=NOTE_MAX))
    await save(ctx, community, note, ctx.event.photo)


@button(CheckinSave, who="member", scope=community_scope)
async def save_pressed(ctx: Context, tap: CheckinSave) -> None:
    community = ctx.scoped
    assert community is not None
    if ctx.state != "checkin.note" or ctx.data.get("community") != community.id:
        ctx.answer(ctx.t("Start again with /{command}.", command="checkin"))
        return
    await save(ctx, community, "", None)


async def save(ctx: Context, community: Community, note: str, photo: str | None) -> None:
    assert ctx.member is not None
    task = await owned(ctx, community, ctx.data.get("task"))
    status, percent = ctx.data.get("status"), ctx.data.get("percent")
    if status not in STATUS_NAMES or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise BadPayload("conversation data")
    percent = 100 if status == "done" else percent
    await checkins.add(ctx.tx, task.id, ctx.member.id, status, percent, note,
                       f"{ctx.event.channel}:{photo}" if photo else None, iso(ctx.now))
    await ctx.audit("task.checkin", community.id, number=task.number, status=status, percent=percent)
    await reminders.forget_pending(ctx.tx, "checkin", task_id=task.id)  # the next prompt counts from now
    if status == "done":
        await reminders.cancel_task(ctx.tx, task.id, ctx.now_iso)
    ctx.clear()
    alert = status in ("late", "blocked")
    ctx.reply(ctx.t("Thank you! #{number}: {status}, {percent}%.", number=task.number,
                    status=ctx.t(STATUS_NAMES[status]), percent=percent)
              + ("\n" + ctx.t("The ҚМҰТ is told at once.") if alert else ""))
    if alert:
        owner = ctx.member.name or ""
        for member_id in await reminders.kmut(ctx.tx, community.id):
            if member_id != ctx.member.id:
                await ctx.notify(member_id, lambda tr: (alert_text(tr, task, owner, status, percent, note, photo), []))


def alert_text(tr: Translator, task: Task, owner: str, status: str, percent: int, note: str,
               photo: str | None) -> str:
    text = (tr.t("⛔ Task #{number} «{title}» is blocked, {percent}% done. Reported by {name}.", number=task.number,
                 title=esc(task.title), percent=percent, name=esc(owner)) if status == "blocked" else
            tr.t("🟠 Task #{number} «{title}» is late, {percent}% done. Reported by {name}.", number=task.number,
                 title=esc(task.title), percent=percent, name=esc(owner)))
    if note:
        text += "\n" + tr.t("Note: {note}", note=esc(note))
    if photo:
        text += "\n" + tr.t("A photo is attached to the report.")
    return text


async def owner_leaving(ctx: Context, member_id: int) -> None:
    """A member responsible for tasks erases their data: each task goes back to nobody, and the
    ҚМҰТ is told, to name someone else."""
    for community_id, task in await checkins.left_by(ctx.tx, member_id):
        for kmut_id in await reminders.kmut(ctx.tx, community_id):
            if kmut_id != member_id:
                await ctx.notify(kmut_id, lambda tr, task=task: (tr.t(
                    "Task #{number} «{title}» has no one responsible any more: the member responsible left. Name "
                    "another with /plan owner {number}.", number=task.number, title=esc(task.title)), []))
