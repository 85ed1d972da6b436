"""Priority matrix (басымдықтарды анықтау матрицасы), in the private chat: each problem scored
on importance and urgency, 1–3; the cell is a + b − 1."""

from __future__ import annotations

from bot.flows.ballots import ballot_scope, load_ballot, member_order, open_problem, refuse_closed, tag
from bot.flows.context import Context, esc
from bot.flows.engine import BadPayload
from bot.flows.registry import button
from bot.flows.types import Button, Message
from bot.markup import bold
from bot.storage import ballots, problems
from bot.storage.ballots import Ballot

AXES = ("a", "b")


def _show(ctx: Context, text: str, buttons: list, *, first: bool) -> None:
    """The matrix ballot is one private message, edited question by question."""
    if first:
        ctx.reply(text, buttons, tag=tag_of(ctx))
    else:
        ctx.outcome.messages.append(Message(ctx.event.channel, ctx.event.chat_id, text,
                                            tuple(map(tuple, buttons)), tag=tag_of(ctx), edit=True))


def tag_of(ctx: Context) -> str:
    return ctx.data.get("tag", "")


async def show_next(ctx: Context, ballot: Ballot, *, first: bool = True, again: bool = False) -> None:
    """Ask the next problem this member has not scored (from the start with ``again``)."""
    assert ctx.member is not None
    ctx.goto("mx", ballot=ballot.id, tag=tag(ballot), again=again, done=[] if again else ctx.data.get("done", []))
    mine = await ballots.scores_of(ctx.tx, ballot.id, ctx.member.id)
    open_ids = [p for p, _ in await ballots.options(ctx.tx, ballot.id)]
    order = member_order(ballot, ctx.member.id, open_ids)
    todo = [p for p in order if p not in ctx.data["done"]] if again else [p for p in order if p not in mine]
    if not todo:
        ctx.clear()
        text = ctx.tn("Thank you! You scored {n} problem. You can change your scores until the vote closes.",
                      "Thank you! You scored all {n} problems. You can change your scores until the vote closes.",
                      len(mine))
        buttons = [[Button(ctx.t("Change my scores"), data=f"mxr:{ballot.id}")]]
        ctx.outcome.messages.append(Message(ctx.event.channel, ctx.event.chat_id, text, tuple(map(tuple, buttons)),
                                            tag=tag(ballot), edit=not first))
        return
    problem = await problems.get(ctx.tx, todo[0])
    assert problem is not None
    position = len(order) - len(todo) + 1
    await ask(ctx, ballot, problem, "a", position, len(order), mine.get(problem.id), first=first)


async def ask(ctx: Context, ballot: Ballot, problem: problems.Problem, axis: str, position: int, total: int,
              current: tuple[int, int] | None, *, first: bool) -> None:
    question = ctx.t("How <b>important</b> is it for the community?") if axis == "a" else \
        ctx.t("How <b>urgent</b> is it — how soon must it be solved?")
    text = "\n".join([
        ctx.t("🗳 <b>Priority matrix</b> — problem {position} of {total}", position=position, total=total),
        "", f"{bold(f'#{problem.number}')} {esc(problem.text)}", "", question,
        ctx.t("1 — a little, 2 — fairly, 3 — very.")])
    marked = current[AXES.index(axis)] if current else None
    buttons = [[Button(("✅ " if v == marked else "") + str(v), data=f"mx:{ballot.id}:{problem.id}:{axis}:{v}")
                for v in (1, 2, 3)]]
    _show(ctx, text, buttons, first=first)


@button("mx", who="member", scope=ballot_scope)
async def scored(ctx: Context, ballot_id: str, problem_id: str, axis: str, value: str) -> None:
    if axis not in AXES or value not in ("1", "2", "3"):
        raise BadPayload("matrix score")
    ballot = await load_ballot(ctx, ballot_id, "matrix")
    refuse_closed(ctx, ballot)
    problem = await open_problem(ctx, ballot, problem_id)
    assert ctx.member is not None
    if ctx.state != "mx" or ctx.data.get("ballot") != ballot.id:
        ctx.goto("mx", ballot=ballot.id, tag=tag(ballot), again=False, done=[])
    if axis == "a":
        ctx.data.update(problem=problem.id, a=int(value))
        open_ids = [p for p, _ in await ballots.options(ctx.tx, ballot.id)]
        order = member_order(ballot, ctx.member.id, open_ids)
        position = order.index(problem.id) + 1 if problem.id in order else 1
        current = (await ballots.scores_of(ctx.tx, ballot.id, ctx.member.id)).get(problem.id)
        await ask(ctx, ballot, problem, "b", position, len(order), current, first=False)
        ctx.toast(ctx.t("Importance: {value}", value=value))
        return
    if ctx.data.get("problem") != problem.id or "a" not in ctx.data:
        raise ctx.refuse(ctx.t("Please answer the importance first."))
    await ballots.set_score(ctx.tx, ballot.id, ctx.member.id, problem.id, int(ctx.data["a"]), int(value))
    ctx.toast(ctx.t("Saved: #{number} importance {a}, urgency {b}.", number=problem.number,
                    a=ctx.data["a"], b=value))
    done = [*ctx.data.get("done", []), problem.id]
    ctx.data.update(done=done)
    ctx.data.pop("a", None)
    await show_next(ctx, ballot, first=False, again=bool(ctx.data.get("again")))


@button("mxr", who="member", scope=ballot_scope)
async def rescore(ctx: Context, ballot_id: str) -> None:
    ballot = await load_ballot(ctx, ballot_id, "matrix")
    refuse_closed(ctx, ballot)
    await show_next(ctx, ballot, first=False, again=True)
