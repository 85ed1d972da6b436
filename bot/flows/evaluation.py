"""Step 7, the evaluation (бағалау): «Біз қалаған мақсатқа жеттік пе?» — each member answers in
the private chat: did we reach the goal (yes / partly / no), a rating from 1 to 5, whether they
will take part again, and, if they wish, what worked and what to change. The group gets the
totals and the chart; the facilitator gets the written answers, unsigned."""

from __future__ import annotations

from datetime import datetime

from bot.domain.models import Community
from bot.domain.text import clean_text
from bot.flows.ballots import iso, load_ballot, refuse_closed, tag
from bot.flows.context import Context, esc
from bot.flows.kinds import BallotKind, register
from bot.flows.paging import pages
from bot.flows.payloads import BadPayload, Payload
from bot.flows.registry import button, state
from bot.flows.results import audit_line, posted_code, repeated_code
from bot.flows.scopes import ballot_scope
from bot.flows.steps import menu_item
from bot.flows.types import Button, Chart
from bot.i18n import N_, Translator, translator
from bot.storage import ballots, communities, evaluation, members
from bot.storage.ballots import Ballot

TEXT_MAX = 500
GOALS = {"yes": N_("Yes, we reached it"), "partly": N_("Partly"), "no": N_("No, not yet")}

menu_item(7, N_("Vote"), "vote")


def _show(ctx: Context, ballot: Ballot, text: str, buttons: list, first: bool) -> None:
    """The evaluation is one private message, edited question by question."""
    ctx.reply(text, buttons, view=tag(ballot), update=not first)


QUESTIONS = ("goal", "rating", "again")


def ask(ctx: Context, ballot: Ballot, question: str, first: bool) -> None:
    head = ctx.t("📝 <b>Evaluation</b>") + "\n"
    if question == "goal":
        _show(ctx, ballot, head + ctx.t("Did we reach the goal we wanted?"),
              [[Button(ctx.t(label), data=EvalAnswer(ballot.id, "g", key).encode())] for key, label in GOALS.items()],
              first)
    elif question == "rating":
        _show(ctx, ballot, head + ctx.t("How would you rate the work we did together, from 1 (poor) to 5 (very good)?"),
              [[Button(str(n), data=EvalAnswer(ballot.id, "r", str(n)).encode(), number=n) for n in range(1, 6)]],
              first)
    else:
        _show(ctx, ballot, head + ctx.t("Will you take part again in the next cycle?"),
              [[Button(ctx.t("Yes"), data=EvalAnswer(ballot.id, "a", "1").encode()),
                Button(ctx.t("No"), data=EvalAnswer(ballot.id, "a", "0").encode())]],
              first)


async def show_next(ctx: Context, ballot: Ballot, *, first: bool = True) -> None:
    """Ask the first of the three questions this member has not answered, or thank them."""
    assert ctx.member is not None
    mine = await evaluation.of_member(ctx.tx, ballot.id, ctx.member.id)
    for question in QUESTIONS:
        if mine is None or getattr(mine, question) is None:
            ask(ctx, ballot, question, first)
            return
    ctx.clear()
    _show(ctx, ballot, thanks(ctx.tr), again_buttons(ctx.tr, ballot), first)


async def ask_text(ctx: Context, ballot: Ballot, field: str, first: bool) -> None:
    """After the three questions: what worked, then what to change — each may be skipped. A text
    written before is shown, kept by the first button and taken back only by the second."""
    assert ctx.member is not None
    ctx.goto("ev.text", ballot=ballot.id, field=field)
    question = (ctx.t("What worked well? Write a few words, or skip.") if field == "worked" else
                ctx.t("What should we change next time? Write a few words, or skip."))
    mine = await evaluation.of_member(ctx.tx, ballot.id, ctx.member.id)
    current = getattr(mine, field) if mine is not None else ""
    if not current:
        _show(ctx, ballot, ctx.t("📝 <b>Evaluation</b>") + "\n" + question,
              [[Button(ctx.t("Skip"), data=EvalAnswer(ballot.id, "s", field).encode())]], first)
        return
    _show(ctx, ballot, "\n".join([ctx.t("📝 <b>Evaluation</b>"), question, "",
                                  ctx.t("You wrote: «{text}». Write anew to replace it.", text=esc(current))]),
          [[Button(ctx.t("Keep what I wrote"), data=EvalAnswer(ballot.id, "s", field).encode())],
           [Button(ctx.t("Remove what I wrote"), data=EvalAnswer(ballot.id, "d", field).encode())]], first)


class EvalAnswer(Payload, prefix="ev"):
    """An answer: ``what`` is ``g`` (the goal), ``r`` (the rating), ``a`` (taking part again),
    ``s``/``d`` (keep / remove a written answer, ``value`` its field) or ``x`` (answer again)."""

    ballot: int
    what: str
    value: str


@button(EvalAnswer, who="member", scope=ballot_scope)
async def answered(ctx: Context, tap: EvalAnswer) -> None:
    kind, value = tap.what, tap.value
    ballot = await load_ballot(ctx, tap.ballot, "evaluation")
    refuse_closed(ctx, ballot)
    assert ctx.member is not None
    if ctx.event.is_group:
        raise ctx.refuse(ctx.t("This works in the private chat with me."), ctx.deep_link(f"b_{ballot.id}"))
    redo = ctx.state == "ev.redo" and ctx.data.get("ballot") == ballot.id
    answers = {"g": ("goal", GOALS), "r": ("rating", ("1", "2", "3", "4", "5")), "a": ("again", ("0", "1"))}
    if kind in answers and value in answers[kind][1]:
        field = answers[kind][0]
        await evaluation.answer(ctx.tx, ballot.id, ctx.member.id, field, value if field == "goal" else int(value))
        ctx.toast(ctx.t("Saved."))
        if field == "again":
            await ask_text(ctx, ballot, "worked", first=False)
        elif redo:  # answering again: every question in turn, each showing what is there to change
            ask(ctx, ballot, QUESTIONS[QUESTIONS.index(field) + 1], first=False)
        else:
            await show_next(ctx, ballot, first=False)
        return
    if kind not in ("s", "d", "x") or value not in (("0",) if kind == "x" else ("worked", "change")):
        raise BadPayload("no such answer")
    mine = await evaluation.of_member(ctx.tx, ballot.id, ctx.member.id)
    if mine is None:  # a skip or "answer again" before any answer (stale or forged): start at the start
        ctx.clear()
        await show_next(ctx, ballot, first=True)
        return
    if kind == "x":
        ctx.goto("ev.redo", ballot=ballot.id)
        ask(ctx, ballot, "goal", first=False)
        return
    asking = ctx.state == "ev.text" and ctx.data.get("ballot") == ballot.id
    if (asking and ctx.data.get("field") != value) or (kind == "d" and not asking):
        # the button of a question answered since: what the member wrote stays. (A Skip after they
        # went elsewhere changes nothing either, and goes on from that question.)
        ctx.toast(ctx.t("That question is behind you; what you wrote is kept."), alert=True)
        return
    if kind == "d":
        await evaluation.answer(ctx.tx, ballot.id, ctx.member.id, value, "")
    if value == "worked":
        await ask_text(ctx, ballot, "change", first=False)
    else:
        await finish(ctx, ballot)


def again_buttons(tr: Translator, ballot: Ballot) -> list[list[Button]]:
    return [[Button(tr.t("Answer again"), data=EvalAnswer(ballot.id, "x", "0").encode())]]


def thanks(tr: Translator) -> str:
    return tr.t("📝 <b>Evaluation</b>") + "\n" + tr.t(
        "Thank you! Your answers are saved. You can change them until the evaluation closes.")


async def finish(ctx: Context, ballot: Ballot) -> None:
    ctx.clear()
    ctx.toast(ctx.t("Saved."))
    _show(ctx, ballot, thanks(ctx.tr), again_buttons(ctx.tr, ballot), False)


@state("ev.text", who="member")
async def text_sent(ctx: Context, raw: str) -> None:
    ballot_id, field = ctx.data.get("ballot"), ctx.data.get("field")
    ballot = await ballots.get(ctx.tx, ballot_id) if isinstance(ballot_id, int) else None
    if ballot is None or field not in ("worked", "change") or not ballot.is_open:
        ctx.clear()  # (a refusal would roll the clearing back)
        ctx.reply(ctx.t("The evaluation is closed or gone; see /vote."))
        return
    assert ctx.member is not None
    text = clean_text(raw)[:TEXT_MAX]
    if not text:
        raise ctx.refuse(ctx.t("Write a few words, or tap Skip."))
    await evaluation.answer(ctx.tx, ballot.id, ctx.member.id, field, text)
    if field == "worked":
        await ask_text(ctx, ballot, "change", first=True)  # a new message: the member's text came between
    else:
        ctx.clear()
        ctx.reply(thanks(ctx.tr), again_buttons(ctx.tr, ballot), view=tag(ballot))


# --- the result ------------------------------------------------------------------------------
def caption(tr: Translator, summary, complete: int, audit_head: str) -> str:
    (yes, partly, no), ratings, (again_yes, again_no), respondents = summary
    if not respondents:
        return tr.t("Evaluation: nobody answered.") + "\n" + audit_line(tr, audit_head)
    rated = sum(ratings)
    mean = sum((i + 1) * n for i, n in enumerate(ratings)) / rated if rated else None
    lines = [tr.t("Did we reach the goal we wanted? Yes: {yes}, partly: {partly}, no: {no}.", yes=yes, partly=partly,
                  no=no)]
    if mean is not None:
        lines.append(tr.t("Mean rating: {mean} of 5.", mean=tr.num(mean)))
    lines.append(tr.t("Will take part again: {yes} of {n}.", yes=again_yes, n=again_yes + again_no))
    lines.append(tr.tn("{n} member answered.", "{n} members answered.", respondents))
    if complete < respondents:  # an answer stopped after the first question is counted, but as partial
        lines.append(tr.t("Answered every question: {complete} of {n}.", complete=complete, n=respondents))
    lines.append(audit_line(tr, audit_head))
    return "\n".join(lines)


def chart(locale: str, summary) -> Chart:
    from bot import charts
    from bot.charts import data

    tr = translator(locale)
    goal, ratings, again, respondents = summary
    labels = {"title": tr.t("Evaluation"), "subtitle": tr.tn("{n} member answered", "{n} members answered",
                                                             respondents),
              "question": tr.t("Did we reach the goal we wanted?"), "yes": tr.t("Yes"), "partly": tr.t("Partly"),
              "no": tr.t("No"), "rating": tr.t("Rating, 1 to 5"), "mean": tr.t("mean {mean}"),
              "again": tr.t("Will take part again"), "again_yes": tr.t("Yes"), "again_no": tr.t("No"),
              "empty": tr.t("No answers yet"), "decimal": "." if locale == "en" else ","}
    return Chart(charts.render_evaluation, (data.EvaluationSummary(goal, ratings, again, respondents), labels),
                 filename="evaluation.png")


async def post_result(ctx: Context, community: Community, ballot: Ballot) -> None:
    summary = await evaluation.summary(ctx.tx, ballot.id)
    complete = await evaluation.complete(ctx.tx, ballot.id)
    head = await posted_code(ctx, ballot)
    await ctx.post_groups(community, lambda tr: (caption(tr, summary, complete, head), []),
                          chart=chart(community.locale, summary))
    if not ctx.event.is_group or not await communities.groups(ctx.tx, community.id):
        ctx.reply(caption(ctx.tr, summary, complete, head), chart=chart(ctx.locale, summary))
    worked, change = await evaluation.texts(ctx.tx, ballot.id)
    if not worked and not change:
        return
    # sorted, not in the order they came: in a small village the order could tell who wrote what
    worked, change = sorted(worked, key=str.casefold), sorted(change, key=str.casefold)
    for facilitator in await communities.facilitators(ctx.tx, community.id):
        target = await members.get(ctx.tx, facilitator)
        tr = translator(target.locale if target else community.locale)
        lines = [tr.t("📝 What the members wrote in the evaluation (unsigned):"), "", tr.t("<b>What worked</b>")]
        lines += [f"• {esc(t)}" for t in worked] or ["—"]
        lines += ["", tr.t("<b>What to change</b>")] + ([f"• {esc(t)}" for t in change] or ["—"])
        for page in pages(lines):  # all of it: sent once, at the close
            await ctx.notify(facilitator, lambda _tr, page=page: (page, []))


async def results_reply(ctx: Context, ballot: Ballot) -> None:
    summary = await evaluation.summary(ctx.tx, ballot.id)
    complete = await evaluation.complete(ctx.tx, ballot.id)
    ctx.reply(caption(ctx.tr, summary, complete, await repeated_code(ctx, ballot)), chart=chart(ctx.locale, summary))


async def open_poll(ctx: Context, community: Community, numbers: list[int], visibility: str,
                    closes_at: datetime | None) -> Ballot:
    """``/poll evaluation``: every member answers in private."""
    assert ctx.member is not None
    ballot = await ballots.open_ballot(
        ctx.tx, community.id, "evaluation", [], stickers=1, per_option=1, visibility=visibility,
        closes_at=iso(closes_at), opened_by=ctx.member.id, now=ctx.now_iso)
    await ctx.audit("ballot.opened", community.id, ballot=ballot.id, kind="evaluation", visibility=visibility)
    return ballot


def invitation(tr: Translator) -> str:
    return (tr.t("📝 <b>Evaluation</b>: «Did we reach the goal we wanted?» Three questions and, if you wish, a "
                 "few words — in the private chat with me.") + "\n"
            + tr.t("The group sees only the totals; what you write goes to the facilitator without your name."))


register(BallotKind("evaluation", N_("Evaluation"), ("бағалау", "оценка"), open_poll, show_next, post_result,
                    results_reply, invitation=invitation))
