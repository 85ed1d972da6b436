"""Step 5, the joint action plan (іс-әрекет жоспары): members propose tasks — title, dates,
resources needed — and offer to do them; the ҚМҰТ names who is responsible, sets dates and takes
tasks off; the members approve the plan by ballot; the bot draws it as a Gantt chart."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.dates import parse_span
from bot.domain.models import Community
from bot.domain.text import message_lines, shorten as short, small_int
from bot.flows.access import require, waiting_community
from bot.flows.ballots import closing_note, iso, load_ballot, refuse_closed, tag
from bot.flows.context import Context, esc
from bot.flows.kinds import BallotKind, register
from bot.flows.monitoring import progress_note, version_note
from bot.flows.payloads import BadPayload, Payload
from bot.flows.problems import normalize
from bot.flows.registry import button, command, state
from bot.flows.results import audit_line, posted_code, repeated_code
from bot.flows.scopes import ballot_scope, community_scope
from bot.flows.steps import STEP_RESULTS, menu_item
from bot.flows.tree import chosen_problem
from bot.flows.types import Button, Chart
from bot.i18n import N_, Translator, translator
from bot.markup import bold
from bot.storage import ballots, communities, plan, problems
from bot.storage.ballots import Ballot
from bot.storage.plan import Task
from bot.storage.problems import Problem

TITLE_MIN, TITLE_MAX, RESOURCES_MAX = 3, 150, 200
MAX_TASKS = 30               # what the Gantt chart is drawn for (bench/charts.py)
RATE_COUNT, RATE_WINDOW = 5, timedelta(minutes=10)
TASK_NUMBERS = 10 ** 6       # a task's number has at most 6 digits
OFFERS_SHOWN = 10            # "I can do it" buttons under /plan


class PlanPicture(Payload, prefix="kp"):
    community: int


class TaskPropose(Payload, prefix="ka"):
    community: int


class TaskOffer(Payload, prefix="kv"):
    """``kv:<community>:<task>`` offers to do the task, ``kv:<community>:<task>:0`` takes the offer
    back (``withdraw`` 0): an older "I can do #3" pressed again never takes an offer back."""

    community: int
    number: int
    withdraw: int | None = None


class TaskOwner(Payload, prefix="ko"):
    """The ҚМҰТ names ``member`` (one who offered) responsible for task ``number``."""

    community: int
    number: int
    member: int


class PlanVote(Payload, prefix="pl"):
    ballot: int
    approve: int  # 1 or 0

menu_item(5, N_("Action plan"), "plan")
menu_item(5, N_("Vote"), "vote")


def today(community: Community, ctx: Context) -> date:
    return ctx.now.astimezone(ZoneInfo(community.tz)).date()


def span_text(task: Task) -> str:
    if task.start is None or task.due is None:
        return ""
    return f"{task.start:%d.%m}–{task.due:%d.%m}"


def task_line(tr: Translator, task: Task) -> str:
    parts = [f"#{task.number} {bold(esc(task.title))}",
             esc(task.owner) if task.owner else tr.t("no one responsible yet")]
    if span_text(task):
        parts.append(span_text(task))
    if task.resources:
        parts.append(tr.t("needs: {resources}", resources=esc(task.resources)))
    if task.volunteers and not task.owner:  # once someone is responsible, the offers are settled
        parts.append(tr.tn("{n} offer to do it", "{n} offer to do it", task.volunteers))
    return " — ".join(parts)


def chart(locale: str, tasks: list[Task], on: date) -> Chart:
    from bot import charts
    from bot.charts import data

    tr = translator(locale)
    rows = [data.TaskRow(t.number, t.title, t.owner, t.start, t.due) for t in tasks]
    labels = {"title": tr.t("Action plan"), "subtitle": tr.tn("{n} task", "{n} tasks", len(tasks)),
              "owner_none": tr.t("no one yet"), "unscheduled": tr.t("Not scheduled yet"), "today": tr.t("today"),
              "empty": tr.t("No tasks yet"), "months": tr.t("Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec")}
    return Chart(charts.render_plan, (rows, labels), {"today": on}, filename="plan.png")


def caption(tr: Translator, tasks: list[Task]) -> str:
    without = sum(not t.owner for t in tasks)
    text = tr.tn("Action plan: {n} task.", "Action plan: {n} tasks.", len(tasks))
    if without:
        text += " " + tr.tn("{n} has no one responsible yet.", "{n} have no one responsible yet.", without)
    return text


# --- seeing the plan ---------------------------------------------------------------------------
@command("plan", who="member", describe=N_("Action plan"), usage=(
    ("/plan owner 3", N_("name who is responsible for task #3"), "kmut"),
    ("/plan dates 3 01.12 20.12", N_("set the dates of task #3"), "kmut"),
    ("/plan remove 3", N_("take task #3 off the plan"), "kmut")))
async def plan_command(ctx: Context) -> None:
    """``/plan`` shows the plan; the ҚМҰТ edits it with ``/plan owner 3``, ``/plan dates 3 01.12
    20.12`` and ``/plan remove 3``."""
    community = ctx.scoped
    assert community is not None and ctx.member is not None
    words = ctx.event.args.split()
    problem = await chosen_problem(ctx, community, 5)
    if words and words[0].lower() in ("owner", "dates", "remove"):
        await edit(ctx, community, problem, [words[0].lower(), *words[1:]])
        return
    tasks = await plan.of_problem(ctx.tx, problem.id)
    if ctx.event.is_group:
        ctx.reply(caption(ctx.tr, tasks), [[Button(ctx.t("➕ Propose a task"), link=ctx.private_link("plan"))]],
                  chart=chart(ctx.locale, tasks, today(community, ctx)))
        return
    from bot.storage import checkins

    latest = await checkins.latest(ctx.tx, [t.id for t in tasks])
    lines = [ctx.t("📋 <b>Action plan</b> for «{problem}»", problem=esc(problem.text)), ""]
    if changed := await version_note(ctx, ctx.tr, community):
        lines[1:1] = [changed]
    lines += [task_line(ctx.tr, t) + progress_note(ctx.tr, latest.get(t.id)) for t in tasks] or [
        ctx.t("No tasks yet. Propose the first one.")]
    if await ctx.role(community.id) in ("kmut", "facilitator"):
        lines += ["", ctx.t("ҚМҰТ: name who is responsible with /plan owner 3, set dates with /plan dates 3 01.12 "
                            "20.12, take a task off with /plan remove 3.")]
    mine = {t.id for t in tasks if ctx.member.id in {m for m, _ in await plan.volunteers(ctx.tx, t.id)}}
    rows = [[Button("✅ " + ctx.t("I can do #{number} — tap to take it back", number=t.number),
                    data=TaskOffer(community.id, t.number, withdraw=0).encode(), number=t.number) if t.id in mine else
             Button("🙋 " + ctx.t("I can do #{number}", number=t.number),
                    data=TaskOffer(community.id, t.number).encode(), number=t.number)]
            for t in tasks if not t.owner][:OFFERS_SHOWN]
    rows += [[Button(ctx.t("➕ Propose a task"), data=TaskPropose(community.id).encode())],
             [Button(ctx.t("🖼 The plan as a picture"), data=PlanPicture(community.id).encode())]]
    ctx.reply_pages(lines, rows)


@button(PlanPicture, who="member", scope=community_scope)
async def picture(ctx: Context, tap: PlanPicture) -> None:
    community = ctx.scoped
    assert community is not None
    problem = await chosen_problem(ctx, community, 5)
    tasks = await plan.of_problem(ctx.tx, problem.id)
    ctx.reply(caption(ctx.tr, tasks), chart=chart(ctx.locale, tasks, today(community, ctx)))


# --- proposing and offering ----------------------------------------------------------------------
@button(TaskPropose, who="member", scope=community_scope)
async def propose_pressed(ctx: Context, tap: TaskPropose) -> None:
    community = ctx.scoped
    assert community is not None
    if ctx.event.is_group:
        raise ctx.refuse(ctx.t("This works in the private chat with me."), ctx.private_link("plan"))
    await chosen_problem(ctx, community, 5)
    ctx.goto("task.text", community=community.id)
    ctx.reply(ctx.t("Describe the task in one message: what is to be done on the first line; if you can, the dates "
                    "on the second and what it needs on the third. For example:\nClean the culvert under the road\n"
                    "01.12 – 05.12\nTwo shovels, a truck for an hour"))


@state("task.text", who="member")
async def task_sent(ctx: Context, raw: str) -> None:
    community = await waiting_community(ctx, "plan")
    if community is None:
        return
    assert ctx.member is not None
    problem = await chosen_problem(ctx, community, 5)
    lines = message_lines(raw, 3)
    title, when, needs = lines[0], lines[1], lines[2][:RESOURCES_MAX]
    if len(title) < TITLE_MIN:
        raise ctx.refuse(ctx.tn("That is too short: at least {n} character, please.",
                                "That is too short: at least {n} characters, please.", TITLE_MIN))
    if len(title) > TITLE_MAX:
        raise ctx.refuse(ctx.tn("That is {n} character; please keep it to {max}.",
                                "That is {n} characters; please keep it to {max}.", len(title), max=TITLE_MAX))
    span = parse_span(when, today(community, ctx)) if when else None
    if when and span is None:
        raise ctx.refuse(ctx.t("I could not read the dates «{dates}». Write them like 01.12 – 20.12, or leave the "
                               "second line out.", dates=esc(when[:40])))
    existing = await plan.same_title(ctx.tx, problem.id, normalize(title))
    if existing is not None:
        raise ctx.refuse(ctx.t("This task is in the plan already as #{number}.", number=existing))
    since = (ctx.now - RATE_WINDOW).isoformat(timespec="seconds")
    if await plan.count_recent(ctx.tx, ctx.member.id, since) >= RATE_COUNT:
        raise ctx.refuse(ctx.tn("You have proposed {n} task in the last minutes. Please wait a little before the "
                                "next one.",
                                "You have proposed {n} tasks in the last minutes. Please wait a little before the "
                                "next one.", RATE_COUNT))
    if len(await plan.of_problem(ctx.tx, problem.id)) >= MAX_TASKS:
        raise ctx.refuse(ctx.tn("The plan has {n} task already; the ҚМҰТ can take some off to make room.",
                                "The plan has {n} tasks already; the ҚМҰТ can take some off to make room.", MAX_TASKS))
    await refuse_while_voted(ctx, community)
    number = await plan.add(ctx.tx, community.id, problem.id, title, normalize(title), *(span or (None, None)),
                            needs, ctx.member.id, ctx.now_iso)
    await ctx.audit("task.proposed", community.id, number=number)
    ctx.clear()
    ctx.reply(ctx.t("Added to the plan as #{number}. Thank you! Offer to do it, or see the plan with /plan.",
                    number=number), [[Button("🙋 " + ctx.t("I can do #{number}", number=number),
                                             data=TaskOffer(community.id, number).encode(), number=number)]])


async def refuse_while_voted(ctx: Context, community: Community) -> None:
    if any(b.kind == "plan" for b in await ballots.of_community(ctx.tx, community.id, "open")):
        raise ctx.refuse(ctx.t("The members are voting on the plan now; it changes after the vote closes."))


async def task_of(ctx: Context, problem: Problem, number: str | int) -> Task:
    value = small_int(str(number).lstrip("#"), 6)
    task = await plan.by_number(ctx.tx, problem.id, value) if value is not None else None
    if task is None:
        raise ctx.refuse(ctx.t("There is no task #{number} in the plan.", number=esc(str(number)[:6])))
    return task


@button(TaskOffer, who="member", scope=community_scope)
async def offer_pressed(ctx: Context, tap: TaskOffer) -> None:
    community = ctx.scoped
    assert community is not None and ctx.member is not None
    problem = await chosen_problem(ctx, community, 5)
    if tap.number >= TASK_NUMBERS or tap.withdraw not in (None, 0):
        raise BadPayload("task number")
    task = await task_of(ctx, problem, tap.number)
    if tap.withdraw is not None:
        if await plan.withdraw_offer(ctx.tx, task.id, ctx.member.id):
            await ctx.audit("task.offer_withdrawn", community.id, number=task.number)
            ctx.toast(ctx.t("Your offer for #{number} is taken back.", number=task.number))
        else:
            ctx.toast(ctx.t("You have not offered to do #{number}.", number=task.number))
    elif await plan.offer(ctx.tx, task.id, ctx.member.id, ctx.now_iso):
        await ctx.audit("task.offered", community.id, number=task.number)
        ctx.toast(ctx.t("Thank you! The ҚМҰТ sees that you can do #{number}.", number=task.number))
    else:
        ctx.toast(ctx.t("You have offered to do #{number} already. To take it back, tap «✅ I can do #{number}» "
                        "under /plan.", number=task.number), alert=True)


# --- editing (the ҚМҰТ) ----------------------------------------------------------------------------
async def edit(ctx: Context, community: Community, problem: Problem, words: list[str]) -> None:
    await require(ctx, community, "kmut")
    usage = ctx.t("Write /plan owner 3, /plan dates 3 01.12 20.12 or /plan remove 3.")
    if len(words) < 2:
        raise ctx.refuse(usage)
    task = await task_of(ctx, problem, words[1])
    await refuse_while_voted(ctx, community)
    if words[0] == "remove":
        await plan.remove(ctx.tx, task.id)
        await ctx.audit("task.removed", community.id, number=task.number)
        ctx.reply(ctx.t("Task #{number} is off the plan.", number=task.number))
        if task.created_by is not None and task.created_by != (ctx.member.id if ctx.member else None):
            await ctx.notify(task.created_by, lambda tr: (tr.t(
                "Your task #{number} «{title}» was taken off the action plan by the ҚМҰТ.", number=task.number,
                title=esc(task.title)), []))
    elif words[0] == "dates":
        span = parse_span(" ".join(words[2:]), today(community, ctx))
        if span is None:
            raise ctx.refuse(usage)
        await plan.set_dates(ctx.tx, task.id, *span)
        await ctx.audit("task.dated", community.id, number=task.number)
        ctx.reply(ctx.t("Task #{number}: from {start} to {due}.", number=task.number,
                        start=f"{span[0]:%d.%m.%Y}", due=f"{span[1]:%d.%m.%Y}"))
    else:
        offers = await plan.volunteers(ctx.tx, task.id)
        if not offers:
            raise ctx.refuse(ctx.t("Nobody has offered to do #{number} yet; members offer under /plan.",
                                   number=task.number))
        ctx.reply(ctx.t("Who is responsible for #{number}? These members offered:", number=task.number),
                  [[Button(short(name, 40) or "—", data=TaskOwner(community.id, task.number, member).encode())]
                   for member, name in offers[:OFFERS_SHOWN * 2]])  # the first to offer; a keyboard holds 100


@button(TaskOwner, who="kmut", scope=community_scope)
async def owner_pressed(ctx: Context, tap: TaskOwner) -> None:
    community = ctx.scoped
    assert community is not None
    problem = await chosen_problem(ctx, community, 5)
    if tap.number >= TASK_NUMBERS:
        raise BadPayload("task or member")
    member_id = tap.member
    task = await task_of(ctx, problem, tap.number)
    if member_id not in {m for m, _ in await plan.volunteers(ctx.tx, task.id)}:
        raise BadPayload("not one who offered")
    if task.owner_id == member_id:
        ctx.answer(ctx.t("Task #{number} has its responsible member.", number=task.number))
        return  # pressed again: nobody is told twice
    await refuse_while_voted(ctx, community)
    await plan.set_owner(ctx.tx, task.id, member_id)
    if task.owner_id is not None:
        await ctx.notify(task.owner_id, lambda tr: (tr.t(
            "Task #{number} «{title}» has another responsible member now. Thank you for your part!",
            number=task.number, title=esc(task.title)), []))
    await ctx.audit("task.owner_named", community.id, number=task.number, owner=member_id)
    ctx.answer(ctx.t("Task #{number} has its responsible member.", number=task.number))
    await ctx.notify(member_id, lambda tr: (tr.t(
        "You are responsible for task #{number} «{title}» of the action plan. Thank you!", number=task.number,
        title=esc(task.title)), []))


# --- the members' approval -------------------------------------------------------------------------
async def open_poll(ctx: Context, community: Community, numbers: list[int], visibility: str,
                    closes_at: datetime | None) -> Ballot:
    """``/poll plan``: the members approve the plan as it stands."""
    assert ctx.member is not None
    problem = await chosen_problem(ctx, community, 5)
    tasks = await plan.of_problem(ctx.tx, problem.id)
    if not tasks:
        raise ctx.refuse(ctx.t("The plan has no tasks yet. Members propose them under /plan."))
    ballot = await ballots.open_ballot(ctx.tx, community.id, "plan", [], stickers=1, per_option=1,
                                       visibility=visibility, closes_at=iso(closes_at), opened_by=ctx.member.id,
                                       now=ctx.now_iso)
    await ctx.audit("ballot.opened", community.id, ballot=ballot.id, kind="plan", visibility=visibility)
    return ballot


def vote_buttons(tr: Translator, ballot: Ballot, counts: tuple[int, int] | None,
                 mine: bool | None = None) -> list[list[Button]]:
    yes, no = counts or (None, None)

    def label(text: str, n: int | None, chosen: bool) -> str:
        return ("✅ " if chosen else "") + text + (f" · {n}" if n is not None else "")

    return [[Button(label(tr.t("I approve the plan"), yes, mine is True), data=PlanVote(ballot.id, 1).encode()),
             Button(label(tr.t("Not yet"), no, mine is False), data=PlanVote(ballot.id, 0).encode())]]


def group_message(tr: Translator, ballot: Ballot, tasks: list[Task], counts: tuple[int, int],
                  tz: str) -> tuple[str, list]:
    if not ballot.is_open:
        return tr.t("🗳 <b>The vote on the action plan</b> is closed. Members who voted: {n}.", n=ballot.turnout), []
    lines = [tr.t("🗳 <b>Do you approve the action plan?</b>") + closing_note(tr, ballot, tz), ""]
    # titles only, shortened: 30 tasks stay well within one message (the details are under /plan)
    lines += [f"#{t.number} {esc(short(t.title, 60))}" + (f" — {esc(short(t.owner, 30))}" if t.owner else "")
              for t in tasks[:MAX_TASKS]]
    lines += ["", tr.t("The whole plan, with dates and needs: /plan")]
    lines += ["", tr.t("Members who voted: {n}.", n=ballot.turnout)]
    return "\n".join(lines), vote_buttons(tr, ballot, counts if ballot.visibility == "live" else None)


async def group_view(ctx: Context, community: Community, ballot: Ballot):
    problem = await problems.chosen(ctx.tx, community.id)
    tasks = await plan.of_problem(ctx.tx, problem.id) if problem else []
    counts = await plan.tally(ctx.tx, ballot.id)
    return lambda tr: group_message(tr, ballot, tasks, counts, community.tz)


async def show_private(ctx: Context, ballot: Ballot) -> None:
    assert ctx.member is not None
    community = await communities.get(ctx.tx, ballot.community_id)
    assert community is not None
    text, _ = (await group_view(ctx, community, ballot))(ctx.tr)
    mine = await plan.vote_of(ctx.tx, ballot.id, ctx.member.id)
    show = ballot.visibility == "live" or (ballot.visibility == "voted" and mine is not None)
    ctx.reply(text, vote_buttons(ctx.tr, ballot, await plan.tally(ctx.tx, ballot.id) if show else None, mine),
              view=tag(ballot))


@button(PlanVote, who="member", scope=ballot_scope)
async def vote_pressed(ctx: Context, tap: PlanVote) -> None:
    ballot = await load_ballot(ctx, tap.ballot, "plan")
    refuse_closed(ctx, ballot)
    assert ctx.member is not None
    approve = tap.approve
    if approve not in (0, 1):
        raise BadPayload("approve is 0 or 1")
    await plan.vote(ctx.tx, ballot.id, ctx.member.id, approve == 1)
    ctx.toast(ctx.t("You approve the plan. You can change your vote until it closes.") if approve == 1 else
              ctx.t("You do not approve the plan yet. You can change your vote until it closes."))
    ctx.refresh(tag(ballot))
    if not ctx.event.is_group:
        ballot = await ballots.get(ctx.tx, ballot.id)
        mine = approve == "1"
        show = ballot.visibility in ("live", "voted")
        text, _ = (await group_view(ctx, await communities.get(ctx.tx, ballot.community_id), ballot))(ctx.tr)
        ctx.reply(text, vote_buttons(ctx.tr, ballot, await plan.tally(ctx.tx, ballot.id) if show else None, mine),
                  view=tag(ballot), update=True)


def result_text(tr: Translator, ballot: Ballot, counts: tuple[int, int], audit_head: str) -> str:
    yes, no = counts
    if not yes and not no:
        finding = tr.t("Action plan: nobody voted.")
    elif yes > no:
        finding = tr.t("The members approved the action plan: {yes} for, {no} not yet.", yes=yes, no=no)
    else:
        finding = tr.t("The action plan is not approved yet: {yes} for, {no} not yet. The ҚМҰТ improves it, and "
                       "the facilitator asks again with /poll plan.", yes=yes, no=no)
    return finding + "\n" + audit_line(tr, audit_head)


async def post_result(ctx: Context, community: Community, ballot: Ballot) -> None:
    counts = await plan.tally(ctx.tx, ballot.id)
    head = await posted_code(ctx, ballot)
    problem = await problems.chosen(ctx.tx, community.id)
    tasks = await plan.of_problem(ctx.tx, problem.id) if problem else []
    await ctx.post_groups(community, lambda tr: (result_text(tr, ballot, counts, head), []),
                          chart=chart(community.locale, tasks, today(community, ctx)))
    if not ctx.event.is_group or not await communities.groups(ctx.tx, community.id):
        ctx.reply(result_text(ctx.tr, ballot, counts, head), chart=chart(ctx.locale, tasks, today(community, ctx)))


async def results_reply(ctx: Context, ballot: Ballot) -> None:
    community = await communities.get(ctx.tx, ballot.community_id)
    assert community is not None
    problem = await problems.chosen(ctx.tx, community.id)
    tasks = await plan.of_problem(ctx.tx, problem.id) if problem else []
    ctx.reply(result_text(ctx.tr, ballot, await plan.tally(ctx.tx, ballot.id), await repeated_code(ctx, ballot)),
              chart=chart(ctx.locale, tasks, today(community, ctx)))


async def step_result(ctx: Context, community: Community, tr: Translator) -> str | None:
    problem = await problems.chosen(ctx.tx, community.id)
    tasks = await plan.of_problem(ctx.tx, problem.id) if problem else []
    if not tasks:
        return None
    text = caption(tr, tasks)
    closed = [b for b in await ballots.of_community(ctx.tx, community.id, "closed") if b.kind == "plan"]
    if closed:
        yes, no = await plan.tally(ctx.tx, closed[-1].id)
        text += " " + (tr.t("Approved by the members: {yes} for, {no} not yet.", yes=yes, no=no) if yes > no else
                       tr.t("Not approved by the members yet."))
    return text


STEP_RESULTS[5] = step_result


register(BallotKind("plan", N_("Action plan"), ("жоспар", "план"), open_poll, show_private, post_result,
                    results_reply, group_view=group_view))
