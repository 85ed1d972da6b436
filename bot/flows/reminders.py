"""Step 6: reminders, sent by the scheduler from rows in the database.

Each sweep first plans the occurrences that the state of the ballots, tasks and settings calls
for (one row each, keyed so it is never planned twice), then sends those that are due: each one
is marked sent in the transaction that queues its messages in the outbox, so it goes out once,
across restarts and crashes. One that fell due while the bot was down is sent at start if it
still matters (the ballot still open, the task still not done) and skipped if not; quiet hours
(the community's, 22:00–08:00 by default) hold a reminder until they end; a member's mute holds
back all but the closing-ballot reminders. Everything is addressed to a member (``ctx.notify``)
or to the community (``ctx.post_groups``), never to a chat.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.models import Community
from bot.domain.schedule import at_local, in_quiet, iso, local_date, next_weekly, parse_clock, quiet_end
from bot.domain.text import shorten as short
from bot.flows import kinds, monitoring
from bot.flows.ballots import closing_note
from bot.flows.context import Context, esc
from bot.flows.monitoring import status_of, summary
from bot.flows.payloads import CheckinTask
from bot.flows.types import Button
from bot.i18n import Translator
from bot.storage import ballots, checkins, communities, reminders
from bot.storage.ballots import Ballot
from bot.storage.plan import Task
from bot.storage.reminders import Reminder, Settings

log = logging.getLogger(__name__)

TASK_TIME = time(9, 0)          # task reminders fall at this local time
DUE_AHEAD = timedelta(days=3)   # "due in 3 days"
CLOSING_AHEAD = (24, 1)         # hours before a ballot closes
DIGEST_KEPT = timedelta(hours=24)  # a digest later than this (the bot was down) is skipped
BATCH = 25                      # occurrences sent in one transaction (the sweep runs more until none is due)
PLAN_PAGE = 200                 # tasks planned in one transaction (the scheduler plans page after page)


# --- planning ---------------------------------------------------------------------------------
async def plan_ballot_reminders(ctx: Context) -> None:
    """Every sweep (the open ballots are few): a ballot opened, and closing in 24 h and 1 h."""
    for ballot in await reminders.open_ballots(ctx.tx):
        opened = datetime.fromisoformat(ballot.opened_at)
        await reminders.plan(ctx.tx, f"opened:b{ballot.id}", ballot.community_id, "opened", iso(opened),
                             ballot_id=ballot.id)
        if ballot.closes_at:
            closes = datetime.fromisoformat(ballot.closes_at)
            for hours in CLOSING_AHEAD:
                at = closes - timedelta(hours=hours)
                if at > opened:  # a ballot open for 2 h gets no "24 h left"
                    await reminders.plan(ctx.tx, f"closing{hours}:b{ballot.id}:{ballot.closes_at}", ballot.community_id,
                                         "closing", iso(at), ballot_id=ballot.id)


async def plan_task_reminders(ctx: Context) -> None:
    """Every open task's reminders and each community's digest, in this one transaction (the
    scheduler plans them a page per transaction instead: ``plan_tasks``, ``plan_digests``)."""
    after: int | None = 0
    while after is not None:
        after = await plan_tasks(ctx, after, PLAN_PAGE)
    await plan_digests(ctx)


async def plan_tasks(ctx: Context, after: int, limit: int) -> int | None:
    """Due, overdue and check-in prompts for the open tasks with a responsible member, ``limit``
    of them from the first with an id above ``after`` (what they call for falls days ahead, so
    once a minute is enough). Returns the last task id planned, None when none was left."""
    page = await checkins.owned_open(ctx.tx, after, limit)
    if not page:
        return None
    first, last = page[0][1].id, page[-1][1].id
    cache: dict[int, tuple[Community | None, Settings]] = {}
    known = await reminders.task_keys(ctx.tx, first, last)
    prompted = await reminders.pending_tasks(ctx.tx, "checkin", first, last)
    unprompted = [task.id for _, task in page if task.id not in prompted]
    activity = await checkins.last_activities(ctx.tx, unprompted[0], unprompted[-1]) if unprompted else {}

    async def plan_task(key: str, community_id: int, kind: str, at: datetime, task_id: int) -> None:
        if key not in known:
            await reminders.plan(ctx.tx, key, community_id, kind, iso(at), task_id=task_id)

    for community_id, task in page:
        if community_id not in cache:
            cache[community_id] = await _community(ctx, community_id)
        community, settings = cache[community_id]
        if community is None:
            continue
        if task.due is not None:
            await plan_task(f"due:t{task.id}:{task.due}", community_id, "due",
                            at_local(task.due - DUE_AHEAD, TASK_TIME, community.tz), task.id)
            await plan_task(f"overdue:t{task.id}:{task.due}", community_id, "overdue",
                            at_local(task.due + timedelta(days=1), TASK_TIME, community.tz), task.id)
        if task.id not in prompted:
            last_seen = activity.get(task.id)
            base = datetime.fromisoformat(last_seen) if last_seen else ctx.now
            day = local_date(base, community.tz) + timedelta(days=settings.checkin_days)
            await plan_task(f"checkin:t{task.id}:{day}", community_id, "checkin",
                            at_local(day, TASK_TIME, community.tz), task.id)
    return last


async def plan_digests(ctx: Context) -> None:
    """Each community with a plan: its next weekly digest, unless one is waiting."""
    digested = await reminders.pending_communities(ctx.tx, "digest")
    for community_id in await reminders.planned_communities(ctx.tx):
        if community_id in digested:
            continue
        community, settings = await _community(ctx, community_id)
        if community is None:
            continue
        clock = parse_clock(settings.digest_time) or time(10, 0)
        at = next_weekly(ctx.now, settings.digest_day, clock, community.tz)
        await reminders.plan(ctx.tx, f"digest:c{community_id}:{local_date(at, community.tz)}", community_id,
                             "digest", iso(at))


async def _community(ctx: Context, community_id: int) -> tuple[Community | None, Settings]:
    return await communities.get(ctx.tx, community_id), await reminders.settings(ctx.tx, community_id)


# --- sending ----------------------------------------------------------------------------------
async def send_reminders(ctx: Context) -> None:
    """Send (or skip) every occurrence that is due, each in a savepoint of its own: one that
    fails is skipped and logged, and the others go out."""
    for reminder in await reminders.due(ctx.tx, iso(ctx.now), BATCH):
        community = await communities.get(ctx.tx, reminder.community_id)
        if community is None:
            continue
        settings = await reminders.settings(ctx.tx, community.id)
        quiet = parse_clock(settings.quiet_from), parse_clock(settings.quiet_to)
        if quiet[0] and quiet[1] and in_quiet(ctx.now, community.tz, quiet[0], quiet[1]):
            await reminders.delay(ctx.tx, reminder.id, iso(quiet_end(ctx.now, community.tz, quiet[1])))
            continue  # held until the quiet hours end
        queued = len(ctx.outcome.messages)
        await reminders.begin_one(ctx.tx)
        try:
            sent = None if reminder.kind in settings.off else await SENDERS[reminder.kind](ctx, community, reminder)
            await reminders.mark(ctx.tx, reminder.id, "skipped" if sent is None else "sent", sent or 0, iso(ctx.now))
            await reminders.end_one(ctx.tx, undo=False)
        except Exception:
            log.exception("reminder %s failed; skipped", reminder.key)
            await reminders.end_one(ctx.tx, undo=True)
            del ctx.outcome.messages[queued:]
            await reminders.mark(ctx.tx, reminder.id, "skipped", 0, iso(ctx.now))
    # A reminder goes out at most once, crashes included (see bot.outbox): never the same one twice.
    ctx.outcome.messages = [replace(m, once=True) for m in ctx.outcome.messages]


async def _muted(ctx: Context, member_id: int) -> bool:
    until = await reminders.muted_until(ctx.tx, member_id)
    return until is not None and until > iso(ctx.now)


async def _open_ballot(ctx: Context, reminder: Reminder) -> Ballot | None:
    ballot = await ballots.get(ctx.tx, reminder.ballot_id) if reminder.ballot_id else None
    return ballot if ballot is not None and ballot.is_open else None


def _ballot_button(ctx: Context, tr: Translator, ballot: Ballot) -> list[list[Button]]:
    return [[Button(tr.t("Open the ballot"), link=ctx.deep_link(f"b_{ballot.id}"))]]


def _ballot_name(tr: Translator, ballot: Ballot) -> str:
    return tr.t(kinds.title(ballot))


async def send_opened(ctx: Context, community: Community, reminder: Reminder) -> int | None:
    """A ballot opened: members outside the linked groups hear of it in private, with the way to vote."""
    ballot = await _open_ballot(ctx, reminder)
    if ballot is None:
        return None
    outside = await reminders.outside_groups(ctx.tx, community.id)
    sent = 0
    for member_id in await reminders.non_voters(ctx.tx, ballot, but_opener=True):
        if member_id in outside and not await _muted(ctx, member_id):
            await ctx.notify(member_id, lambda tr: (
                tr.t("🗳 A vote is open in «{community}»: {ballot}. Vote here in the private chat, or with /vote.",
                     community=esc(community.name), ballot=_ballot_name(tr, ballot))
                + closing_note(tr, ballot, community.tz), _ballot_button(ctx, tr, ballot)))
            sent += 1
    return sent


async def send_closing(ctx: Context, community: Community, reminder: Reminder) -> int | None:
    """24 h and 1 h before a ballot closes: the members who have not voted, in private (a mute
    does not hold these back)."""
    ballot = await _open_ballot(ctx, reminder)
    if ballot is None or not ballot.closes_at or not reminder.key.endswith(f":{ballot.closes_at}"):
        return None  # closed, or its closing time changed (planned anew)
    closes = datetime.fromisoformat(ballot.closes_at)
    if closes <= ctx.now or (reminder.key.startswith("closing24:") and closes - ctx.now <= timedelta(hours=1)):
        return None  # too late, or the 1-hour one says it now
    at = closes.astimezone(ZoneInfo(community.tz))
    sent = 0
    for member_id in await reminders.non_voters(ctx.tx, ballot):
        await ctx.notify(member_id, lambda tr: (
            tr.t("⏰ The vote «{ballot}» in «{community}» closes at {time} on {date}, and you have not voted yet.",
                 ballot=_ballot_name(tr, ballot), community=esc(community.name), time=f"{at:%H:%M}",
                 date=f"{at:%d.%m}"), _ballot_button(ctx, tr, ballot)))
        sent += 1
    return sent


async def _task_still_open(ctx: Context, reminder: Reminder) -> Task | None:
    """The task, while it has a responsible member, is not taken off and not reported done."""
    task = await checkins.task_by_id(ctx.tx, reminder.task_id) if reminder.task_id else None
    if task is None or task.owner_id is None or await checkins.task_status(ctx.tx, task.id) != "open":
        return None
    latest = (await checkins.latest(ctx.tx, [task.id])).get(task.id)
    return None if latest is not None and latest.status == "done" else task


def _checkin_button(ctx: Context, tr: Translator, community: Community, task: Task) -> list[list[Button]]:
    return [[Button(tr.t("Report on #{number}", number=task.number),
                    data=CheckinTask(community.id, task.number).encode(), number=task.number)]]


async def send_due(ctx: Context, community: Community, reminder: Reminder) -> int | None:
    task = await _task_still_open(ctx, reminder)
    if task is None or task.due is None or not reminder.key.endswith(f":{task.due}"):
        return None  # done, or its dates changed (planned anew)
    if local_date(ctx.now, community.tz) > task.due or await _muted(ctx, task.owner_id):
        return None
    await ctx.notify(task.owner_id, lambda tr: (
        tr.t("📅 Your task #{number} «{title}» is due on {date}. How is it going?", number=task.number,
             title=esc(task.title), date=f"{task.due:%d.%m}"), _checkin_button(ctx, tr, community, task)))
    return 1


async def send_overdue(ctx: Context, community: Community, reminder: Reminder) -> int | None:
    """The owner, and once (whatever the dates become) the ҚМҰТ."""
    task = await _task_still_open(ctx, reminder)
    if task is None or task.due is None or not reminder.key.endswith(f":{task.due}"):
        return None
    if local_date(ctx.now, community.tz) <= task.due:
        return None
    sent = 0
    if not await _muted(ctx, task.owner_id):
        await ctx.notify(task.owner_id, lambda tr: (
            tr.t("⚠️ Your task #{number} «{title}» was due on {date} and is not reported done. Tell the others how it "
                 "stands.", number=task.number, title=esc(task.title), date=f"{task.due:%d.%m}"),
            _checkin_button(ctx, tr, community, task)))
        sent += 1
    if await reminders.plan(ctx.tx, f"overdue-kmut:t{task.id}", community.id, "overdue", iso(ctx.now),
                            task_id=task.id, status="sent"):
        for member_id in await reminders.kmut(ctx.tx, community.id):
            if member_id != task.owner_id:
                await ctx.notify(member_id, lambda tr: (
                    tr.t("⚠️ Task #{number} «{title}» ({name}) was due on {date} and is not done.",
                         number=task.number, title=esc(task.title), name=esc(task.owner), date=f"{task.due:%d.%m}"),
                    []))
                sent += 1
    return sent


async def send_checkin(ctx: Context, community: Community, reminder: Reminder) -> int | None:
    task = await _task_still_open(ctx, reminder)
    if task is None or await _muted(ctx, task.owner_id):
        return None
    await ctx.notify(task.owner_id, lambda tr: (
        tr.t("🔔 How is your task #{number} «{title}» going? Report in a minute: done, on track, late or blocked.",
             number=task.number, title=esc(task.title)), _checkin_button(ctx, tr, community, task)))
    return 1


async def send_digest(ctx: Context, community: Community, reminder: Reminder) -> int | None:
    """The week in the plan, to the community's groups (and in private to members on a channel
    without a group): done, late, blocked, what is due next, the progress chart."""
    if ctx.now - datetime.fromisoformat(reminder.due_at) > DIGEST_KEPT:
        return None
    tasks, latest, today = await monitoring.progress_of(ctx, community)
    if not tasks:
        return None
    week_ago = today - timedelta(days=7)
    approval = await reminders.approval(ctx.tx, community.id)

    def build(tr: Translator) -> tuple[str, list]:
        version = monitoring.version_text(tr, approval, community.tz)
        return digest_text(tr, tasks, latest, today, week_ago, community.tz) + ("\n" + version if version else ""), []

    chart = monitoring.chart(community.locale, tasks, latest, today)
    sent = 0
    for group in await communities.groups(ctx.tx, community.id):  # the groups only: the members
        await ctx.post_groups(community, build, chart=chart, only=group)  # without one just below, once
        sent += 1
    for member_id in await reminders.off_group_channel(ctx.tx, community.id):
        if not await _muted(ctx, member_id):
            await ctx.notify(member_id, build, chart=chart)
            sent += 1
    return sent


def digest_text(tr: Translator, tasks: list[Task], latest: dict, today: date, week_ago: date, tz: str) -> str:
    lines = [tr.t("📊 <b>The week in the action plan</b>"), summary(tr, tasks, latest, today)]
    for status, heading in (("late", tr.t("Late:")), ("blocked", tr.t("Blocked:"))):
        named = [t for t in tasks if status_of(t, latest.get(t.id), today) == status]
        if named:
            lines.append(heading + " " + ", ".join(f"#{t.number} {esc(short(t.title, 40))}" for t in named[:10]))
    done = [t for t in tasks if status_of(t, latest.get(t.id), today) == "done"
            and local_date(datetime.fromisoformat(latest[t.id].at), tz) > week_ago]
    if done:
        lines.append(tr.t("Done this week:") + " " + ", ".join(f"#{t.number} {esc(short(t.title, 40))}"
                                                             for t in done[:10]))
    return "\n".join(lines)


SENDERS = {"opened": send_opened, "closing": send_closing, "due": send_due, "overdue": send_overdue,
           "checkin": send_checkin, "digest": send_digest}
