"""The end of step 1: the combined ranking, the facilitator's confirmation of the problem to work
on, and the members who will take part in the next stage."""

from __future__ import annotations

from bot.domain.models import Community
from bot.domain.text import small_int
from bot.flows import kinds, results
from bot.flows.context import Context, esc
from bot.flows.payloads import BadPayload, Payload
from bot.flows.registry import button, command
from bot.flows.scopes import community_scope, lookup
from bot.flows.types import Button
from bot.i18n import N_, Translator
from bot.storage import ballots, communities, problems

SHORTLIST = 3


class ProblemConfirm(Payload, prefix="ch"):
    """The facilitator confirms a problem, from the result (``ballot``, its check ``code``) under
    which the button was shown; the result and code are absent from the oldest buttons."""

    problem: int
    ballot: int | None = None
    code: str | None = None


class Volunteer(Payload, prefix="vol"):
    """``vol:<community>`` puts the member on the next stage's list, ``vol:<community>:0`` takes
    them off (``leave`` is 0)."""

    community: int
    leave: int | None = None


async def latest_results(ctx: Context, community: Community) -> list[results.Result]:
    latest: dict[str, object] = {}
    for ballot in await ballots.of_community(ctx.tx, community.id, "closed"):
        if kinds.kind_of(ballot).method is not None:  # the ways of ranking problems, not the election
            latest[ballot.kind] = ballot
    return [await results.build(ctx.tx, b) for b in latest.values()]


def confirm_buttons(tr: Translator, candidates: list[problems.Problem],
                    source: results.Result) -> list[list[Button]]:
    """Buttons to confirm one of the first problems; they name the result they came from, so a
    button under a result that changed since (in-person stickers added) refuses instead of acting."""
    code = source.ballot.check_code or ""
    return [[Button(tr.t("✅ Confirm #{number}", number=p.number),
                    data=ProblemConfirm(p.id, source.ballot.id, code).encode(), number=p.number)] for p in candidates]


async def post_combined(ctx: Context, community: Community) -> None:
    """After a ballot closes: the combined ranking when several methods ran, and the choice to confirm."""
    latest = [r for r in await latest_results(ctx, community) if r.order]
    if not latest or all(not r.voters and not r.ballot.paper_present for r in latest):
        return
    by_id = latest[-1].by_id
    source = max(latest, key=lambda r: (r.ballot.closed_at or "", r.ballot.id))  # the result just posted
    if len(latest) > 1:
        rows, chart = results.combined(community.locale, latest)
        top = [by_id[r.option] for r in rows[:SHORTLIST]]
        head = await results.repeated_code(ctx, source.ballot)

        def build(tr: Translator):
            return "\n".join([combined_caption(tr, rows, by_id),
                              tr.t("Facilitator: confirm the problem the community will work on."),
                              results.audit_line(tr, head)]), confirm_buttons(tr, top, source)

        def ranking(tr: Translator):  # what a member reading it one to one is left with: no prompt, no buttons
            return "\n".join([combined_caption(tr, rows, by_id), results.audit_line(tr, head)]), []

        await ctx.post_groups(community, build, chart=chart, least_role="facilitator", others=ranking)
        if not await communities.groups(ctx.tx, community.id):
            text, buttons = build(ctx.tr)
            ctx.reply(text, buttons, chart=results.combined(ctx.locale, latest)[1])
        return
    top = [by_id[p] for p in latest[0].order[:SHORTLIST]]

    def build_single(tr: Translator):
        return tr.t("Facilitator: confirm the problem the community will work on, or run another method "
                    "first (/poll)."), confirm_buttons(tr, top, source)

    await ctx.post_groups(community, build_single, least_role="facilitator")  # one to one: the facilitators alone
    if not await communities.groups(ctx.tx, community.id):
        text, buttons = build_single(ctx.tr)
        ctx.reply(text, buttons)


def combined_caption(tr: Translator, rows: list, by_id: dict) -> str:
    """The combined ranking's finding in one sentence (ties named as ties)."""
    first = [by_id[r.option] for r in rows if r.rank == 1]
    if len(first) > 1:
        return tr.t("Combined ranking: a tie for first place between {problems}.",
                    problems=", ".join(f"#{p.number}" for p in first))
    return tr.t("Combined ranking: #{number} «{text}» comes first, mean rank {mean}.",
                number=first[0].number, text=esc(first[0].text), mean=tr.num(rows[0].mean_rank))


async def problem_scope(ctx: Context, tap: ProblemConfirm) -> Community:
    problem = await lookup(ctx, problems.get, tap.problem, "problem")
    community = await communities.get(ctx.tx, problem.community_id)
    assert community is not None
    return community


@button(ProblemConfirm, who="facilitator", scope=problem_scope)
async def confirm_pressed(ctx: Context, tap: ProblemConfirm) -> None:
    problem = await problems.get(ctx.tx, tap.problem)
    assert problem is not None
    source = await ballots.get(ctx.tx, tap.ballot) if tap.ballot is not None else None
    if source is not None and source.community_id == problem.community_id and (source.check_code or "") != (
            tap.code or ""):
        raise ctx.refuse(ctx.t("This result has changed since (in-person stickers were added). Use the buttons "
                               "under the newest result."))
    await confirm(ctx, problem)


@command("choose", who="facilitator", usage=(("/choose 2", N_("confirm problem #2 as the one to work on")),))
async def choose_command(ctx: Context) -> None:
    assert ctx.scoped is not None
    number = small_int(ctx.event.args.replace("#", ""), 6)
    problem = await problems.by_number(ctx.tx, ctx.scoped.id, number) if number is not None else None
    if problem is None:
        raise ctx.refuse(ctx.t("Write the number of the problem: /choose 2"))
    await confirm(ctx, problem)


async def confirm(ctx: Context, problem: problems.Problem) -> None:
    community = ctx.scoped
    assert community is not None and ctx.member is not None
    if problem.status != "open":
        raise ctx.refuse(ctx.t("Problem #{number} is already merged or hidden.", number=problem.number))
    current = await problems.chosen(ctx.tx, community.id)
    if current is not None and current.id == problem.id:
        ctx.answer(ctx.t("#{number} is already confirmed.", number=problem.number))
        return
    if any(b.kind == "plan" for b in await ballots.of_community(ctx.tx, community.id, "open")):
        raise ctx.refuse(ctx.t("The members are voting on the plan for the chosen problem; close that vote "
                               "first."))
    await problems.choose(ctx.tx, community.id, problem.id, ctx.member.id, ctx.now_iso)
    head = await ctx.audit("step1.chosen", community.id, problem=problem.id)

    def build(tr: Translator):
        return (tr.t("✅ The community will work on #{number}: «{text}».\n\nWho will take part in the next "
                     "stage? Tap the button.", number=problem.number, text=esc(problem.text))
                + "\n" + results.audit_line(tr, head),
                [[Button(tr.t("🙋 I will take part in the next stage"), data=Volunteer(community.id).encode())],
                 [Button(tr.t("I will not take part"), data=Volunteer(community.id, leave=0).encode())]])

    await ctx.post_groups(community, build)
    if not ctx.event.is_group or not await communities.groups(ctx.tx, community.id):
        text, buttons = build(ctx.tr)
        ctx.reply(text, buttons)
    ctx.toast(ctx.t("Confirmed"))
    for author in await problems.authors(ctx.tx, problem.id):
        await ctx.notify(author, lambda tr: (tr.t(
            "Your problem #{number} «{text}» was chosen by the community. Thank you!",
            number=problem.number, text=esc(problem.text)), []))


@button(Volunteer, who="member", scope=community_scope)
async def volunteer(ctx: Context, tap: Volunteer) -> None:
    """A group message shows the same buttons to everyone, so each button does one thing only, and
    "I will take part" pressed again never takes anyone off."""
    assert ctx.member is not None and ctx.scoped is not None
    if tap.leave not in (None, 0):
        raise BadPayload("vol takes :0 or nothing")
    if tap.leave is not None:
        if await problems.unvolunteer(ctx.tx, ctx.scoped.id, ctx.member.id):
            await ctx.audit("step1.unvolunteered", ctx.scoped.id)
            ctx.toast(ctx.t("You are off the list. Tap «I will take part» to join again."))
        else:
            ctx.toast(ctx.t("You are not on the list."))
        return
    added = await problems.volunteer(ctx.tx, ctx.scoped.id, ctx.member.id, ctx.now_iso)
    if added:
        await ctx.audit("step1.volunteered", ctx.scoped.id)
    count = len(await problems.volunteers(ctx.tx, ctx.scoped.id))
    if added:
        ctx.toast(ctx.tn("You are on the list. {n} person will take part.",
                         "You are on the list. {n} people will take part.", count))
    else:
        ctx.toast(ctx.tn("You are already on the list; {n} person will take part. To leave it, tap «I will not "
                         "take part».", "You are already on the list; {n} people will take part. To leave it, tap "
                         "«I will not take part».", count), alert=True)
