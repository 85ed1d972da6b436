"""Step 1, brainstorm (миға шабуыл): propose problems, list them, merge duplicates, hide abuse."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.domain.text import clean_text, shorten, small_int
from bot.flows.access import waiting_community
from bot.flows.context import Context, esc
from bot.flows.paging import pages
from bot.flows.payloads import MenuPress
from bot.flows.registry import command, state
from bot.flows.steps import STEP_RESULTS, menu_item
from bot.flows.types import Button
from bot.i18n import N_, Translator
from bot.storage import cycles, problems

TEXT_MIN, TEXT_MAX = 3, 300
RATE_COUNT, RATE_WINDOW = 5, timedelta(minutes=10)

menu_item(1, N_("Propose a problem"), "propose")
menu_item(1, N_("Proposed problems"), "problems")
menu_item(1, N_("Vote"), "vote")


def normalize(text: str) -> str:
    """What two proposals must share to count as the same: letters and digits, case folded."""
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())


def label(problem: problems.Problem, limit: int | None = None) -> str:
    text = problem.text if limit is None else shorten(problem.text, limit)
    return f"#{problem.number} {text}"


@command("propose", who="member", describe=N_("Propose a problem"))
async def propose(ctx: Context) -> None:
    text = ctx.event.args.strip()
    if text:
        await record(ctx, text)
        return
    if ctx.event.is_group:
        raise ctx.refuse(ctx.t("Write the problem after the command, like /propose The road floods every "
                               "spring, or send it to me in private."), ctx.private_link("propose"))
    assert ctx.scoped is not None
    ctx.goto("p.text", community=ctx.scoped.id)  # the answer goes there, whatever community is active then
    ctx.reply(ctx.tn("Which problem of the community should we solve? Describe it in one or two "
                     "sentences ({min}–{n} character).",
                     "Which problem of the community should we solve? Describe it in one or two "
                     "sentences ({min}–{n} characters).", TEXT_MAX, min=TEXT_MIN))


@state("p.text", who="member")
async def proposal_typed(ctx: Context, text: str) -> None:
    if "community" not in ctx.data:  # a question asked before the community was kept with it
        await record(ctx, text)
        return
    community = await waiting_community(ctx, "propose")
    if community is not None:
        ctx.scoped = community
        await record(ctx, text)


async def record(ctx: Context, raw: str) -> None:
    community = ctx.scoped or await ctx.community()
    assert community is not None and ctx.member is not None
    text = clean_text(raw)
    if len(text) < TEXT_MIN:
        raise ctx.refuse(ctx.tn("That is too short: describe the problem in at least {n} character.",
                                "That is too short: describe the problem in at least {n} characters.", TEXT_MIN))
    if len(text) > TEXT_MAX:
        raise ctx.refuse(ctx.tn("That is {n} character; please keep it to {max}. Say the main thing — "
                                "details can come later in the problem tree.",
                                "That is {n} characters; please keep it to {max}. Say the main thing — "
                                "details can come later in the problem tree.", len(text), max=TEXT_MAX))
    existing = await problems.by_norm(ctx.tx, community.id, normalize(text))
    if existing is not None:
        raise ctx.refuse(ctx.t("This problem is already proposed as #{number}.", number=existing.number))
    since = (ctx.now - RATE_WINDOW).isoformat(timespec="seconds")
    if await problems.count_recent(ctx.tx, ctx.member.id, since) >= RATE_COUNT:
        raise ctx.refuse(ctx.tn("You have proposed {n} problem in the last minutes. Please wait a "
                                "little before the next one.",
                                "You have proposed {n} problems in the last minutes. Please wait a "
                                "little before the next one.", RATE_COUNT))
    problem = await problems.add(ctx.tx, community.id, text, normalize(text), ctx.member.id, ctx.now_iso)
    await ctx.audit("problem.proposed", community.id, problem=problem.id)
    if ctx.state == "p.text":
        ctx.clear()
    ctx.reply(ctx.t("Recorded as #{number}: «{text}». Thank you! Propose another or see all with /problems.",
                    number=problem.number, text=esc(problem.text)),
              [] if ctx.event.is_group else [[Button(ctx.t("Propose another"), data=MenuPress("propose").encode()),
                                              Button(ctx.t("Proposed problems"), data=MenuPress("problems").encode())]])


@command("problems", who="member", describe=N_("Proposed problems"))
async def list_problems(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None
    shown = await problems.listed(ctx.tx, community.id)
    if not shown:
        ctx.reply(ctx.t("No problems are proposed yet. Be the first: /propose"))
        return
    lines = [ctx.t("<b>Proposed problems</b> ({n}):", n=len(shown))]
    carried = await cycles.carried_over(ctx.tx, community.id)
    lines += [esc(label(p)) + (" — " + ctx.t("from the last cycle") if p.id in carried else "") for p in shown]
    if await ctx.role(community.id) == "facilitator":
        lines += ["", ctx.t("Facilitator: merge a duplicate with /merge 5 2 (#5 into #2), hide an abusive "
                            "one with /hide 5, confirm the chosen problem with /choose 2.")]
    for part in pages(lines):
        ctx.reply(part)


def _numbers(ctx: Context, count: int) -> list[int]:
    numbers = [small_int(p, 6) for p in ctx.event.args.replace("#", " ").split()]
    if len(numbers) != count or None in numbers:
        return []
    return numbers


async def _problem(ctx: Context, number: int) -> problems.Problem:
    assert ctx.scoped is not None
    problem = await problems.by_number(ctx.tx, ctx.scoped.id, number)
    if problem is None:
        raise ctx.refuse(ctx.t("There is no problem #{number}.", number=number))
    if problem.status != "open":
        raise ctx.refuse(ctx.t("Problem #{number} is already merged or hidden.", number=number))
    return problem


@command("merge", who="facilitator",
         usage=(("/merge 5 2", N_("merge problem #5 into #2, a duplicate (its votes carry over)")),))
async def merge(ctx: Context) -> None:
    numbers = _numbers(ctx, 2)
    if not numbers or numbers[0] == numbers[1]:
        raise ctx.refuse(ctx.t("Write two different numbers: /merge 5 2 merges #5 into #2."))
    source, target = [await _problem(ctx, n) for n in numbers]
    await problems.merge(ctx.tx, source.id, target.id)
    await ctx.audit("problem.merged", source.community_id, problem=source.id, into=target.id)
    for author in await problems.authors(ctx.tx, source.id):
        await ctx.notify(author, lambda tr: (tr.t(
            "Your problem #{number} was merged with the same problem #{target}: «{text}». Your votes "
            "and authorship carry over.", number=source.number, target=target.number, text=esc(target.text)), []))
    ctx.reply(ctx.t("#{source} is merged into #{target}.", source=source.number, target=target.number))


@command("hide", who="facilitator",
         usage=(("/hide 5", N_("hide problem #5 as abusive (the audit log keeps it)")),))
async def hide(ctx: Context) -> None:
    numbers = _numbers(ctx, 1)
    if not numbers:
        raise ctx.refuse(ctx.t("Write the number: /hide 5"))
    problem = await _problem(ctx, numbers[0])
    await problems.hide(ctx.tx, problem.id)
    await ctx.audit("problem.hidden", problem.community_id, problem=problem.id, text=problem.text)
    for author in await problems.authors(ctx.tx, problem.id):
        await ctx.notify(author, lambda tr: (tr.t(
            "Your problem #{number} was hidden by the facilitator and is no longer on ballots.",
            number=problem.number), []))
    ctx.reply(ctx.t("#{number} is hidden from lists and ballots.", number=problem.number))


async def step_result(ctx: Context, community, tr: Translator) -> str | None:
    chosen = await problems.chosen(ctx.tx, community.id)
    if chosen is None:
        return None
    names = await problems.volunteers(ctx.tx, community.id)
    text = tr.t("The community chose to work on #{number}: «{text}».", number=chosen.number, text=esc(chosen.text))
    if names:
        text += "\n" + tr.t("Taking part in the next stage ({n}): {names}.", n=len(names),
                            names=esc(", ".join(names)))
    return text


STEP_RESULTS[1] = step_result
