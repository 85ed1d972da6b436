"""The next cycle: after the evaluation a facilitator archives the finished cycle (read-only from
then on) and the community starts again at step 1, with the problems it did not choose carried
over and what the members said to change; /status shows the cycles, /report N names one."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.models import Community
from bot.flows import kinds, results
from bot.flows.context import Context, esc
from bot.flows.payloads import Payload
from bot.flows.registry import button, command
from bot.flows.scopes import community_scope
from bot.flows.steps import STEP_GOALS, STEP_TITLES
from bot.flows.types import Button
from bot.i18n import N_, Translator
from bot.storage import ballots, communities, cycles, problems


def day(iso: str, tz: str) -> str:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y")


async def history_text(ctx: Context, tr: Translator, community: Community) -> str:
    """The community's cycles, the current one first: its start, the others' dates and choice."""
    lines = [tr.t("<b>Cycles</b>")]
    for cycle in reversed(await cycles.history(ctx.tx, community.id)):
        if cycle.is_current:
            lines.append("▶️ " + tr.t("Cycle {number}: since {start}, now at step {step}.", number=cycle.number,
                                     start=day(cycle.started_at, community.tz), step=community.step))
            continue
        chosen = await cycles.chosen_problem(ctx.tx, cycle.data_id)
        span = tr.t("Cycle {number}: {start} – {end}.", number=cycle.number,
                    start=day(cycle.started_at, community.tz), end=day(cycle.ended_at or "", community.tz))
        lines.append("✅ " + span + " " + (tr.t("Worked on «{problem}».", problem=esc(chosen)) if chosen else
                                          tr.t("No problem was chosen.")))
    return "\n".join(lines)


async def refuse_unfinished(ctx: Context, community: Community) -> None:
    """The next cycle starts only after the evaluation (step 7), with no vote open."""
    open_ones = await ballots.of_community(ctx.tx, community.id, "open")
    if open_ones:
        raise ctx.refuse(ctx.t("Close the open votes first ({votes}): /close. Then start the next cycle.",
                               votes=", ".join(ctx.t(kinds.title(b)) for b in open_ones)))
    if community.step < 7:
        raise ctx.refuse(ctx.t("A cycle ends with step 7, the evaluation; the community is at step {step}. "
                               "Move on with /next first.", step=community.step))


@command("cycle", who="facilitator", usage=(
        ("/cycle new", N_("archive this cycle and start the next one at step 1, after the evaluation")),))
async def cycle_command(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None
    if ctx.event.args.strip().lower() != "new":
        ctx.reply(await history_text(ctx, ctx.tr, community) + "\n\n/cycle new — " + ctx.t(
            "archive this cycle and start the next one at step 1, after the evaluation"))
        return
    await refuse_unfinished(ctx, community)
    current = await cycles.current(ctx.tx, community.id)
    carried = await carried_count(ctx, community)
    ctx.reply("\n\n".join([
        ctx.t("Start cycle {next}? Cycle {number} is archived as it is: it can be read and printed, but no "
              "longer changed.", next=current.number + 1, number=current.number),
        ctx.tn("The community starts again at step 1 with {n} problem it did not choose, marked «from the last "
               "cycle», without its votes.", "The community starts again at step 1 with {n} problems it did not "
               "choose, marked «from the last cycle», without their votes.", carried),
        ctx.t("The ҚМҰТ stays until the community elects it again.")]),
        [[Button(ctx.t("Start cycle {number}", number=current.number + 1),
                 data=NextCycle(community.id, current.number).encode())]])


async def carried_count(ctx: Context, community: Community) -> int:
    chosen = await problems.chosen(ctx.tx, community.id)
    return sum(p.id != (chosen.id if chosen else None) for p in await problems.listed(ctx.tx, community.id))


class NextCycle(Payload, prefix="cy"):
    """The facilitator starts the cycle after ``number``."""

    community: int
    number: int


@button(NextCycle, who="facilitator", scope=community_scope)
async def start_pressed(ctx: Context, tap: NextCycle) -> None:
    community = ctx.scoped
    assert community is not None and ctx.member is not None
    current = await cycles.current(ctx.tx, community.id)
    if tap.number != current.number:
        raise ctx.refuse(ctx.t("Cycle {number} has already started.", number=current.number))
    await refuse_unfinished(ctx, community)
    finished, new = await cycles.start_next(ctx.tx, community, ctx.member.id, ctx.now_iso)
    head = await ctx.audit("cycle.started", community.id, cycle=new.number, archived=finished.number)
    started = await problems.listed(ctx.tx, community.id)
    moved = await communities.get(ctx.tx, community.id)
    assert moved is not None

    def announcement(tr: Translator) -> tuple[str, list]:
        parts = [tr.t("Cycle {number} is over and archived. Cycle {next} begins.", number=finished.number,
                      next=new.number),
                 tr.t("<b>Step {step}: {title}</b>\n{goal}", step=1, title=tr.t(STEP_TITLES[1]),
                      goal=tr.t(STEP_GOALS[1]))]
        if started:
            parts.append(tr.tn("{n} problem is carried over from the last cycle: see /problems, propose new ones "
                               "with /propose.", "{n} problems are carried over from the last cycle: see /problems, "
                               "propose new ones with /propose.", len(started)))
        return "\n\n".join(parts) + "\n" + results.audit_line(tr, head), []

    await ctx.post_groups(moved, announcement)
    ctx.reply(announcement(ctx.tr)[0])
    changes = await cycles.change_answers(ctx.tx, finished.data_id)
    if changes:
        ctx.reply_pages([ctx.t("What members wrote in the last evaluation that should change (unsigned):")]
                        + [f"• {esc(text)}" for text in changes])
    else:
        ctx.reply(ctx.t("Nobody wrote in the last evaluation what should change."))
