"""Pairwise ranking (жүппен саралау), in the private chat: two problems at a time, "which is more
pressing?"; all pairs up to 8 problems, a balanced sample beyond."""

from __future__ import annotations

from bot.domain.pairwise import pairs_for_member
from bot.flows.ballots import ballot_scope, load_ballot, open_problem, refuse_closed, tag
from bot.flows.context import Context, esc
from bot.flows.engine import BadPayload
from bot.flows.registry import button
from bot.flows.types import Button, Message
from bot.markup import bold
from bot.storage import ballots, problems
from bot.storage.ballots import Ballot

BUTTON_TEXT = 30


async def member_pairs(ctx: Context, ballot: Ballot) -> list[tuple[int, int]]:
    """The pairs this member is asked, drawn once and kept, limited to problems still open."""
    assert ctx.member is not None
    pairs = await ballots.plan(ctx.tx, ballot.id, ctx.member.id)
    if pairs is None:
        pairs = pairs_for_member(await ballots.all_options(ctx.tx, ballot.id), ctx.rng)
        await ballots.save_plan(ctx.tx, ballot.id, ctx.member.id, pairs)
    still_open = {p for p, _ in await ballots.options(ctx.tx, ballot.id)}
    return [(a, b) for a, b in pairs if a in still_open and b in still_open]


def _key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


async def show_next(ctx: Context, ballot: Ballot, *, first: bool = True, again: bool = False,
                    pairs: list[tuple[int, int]] | None = None) -> None:
    assert ctx.member is not None
    if pairs is None:
        pairs = await member_pairs(ctx, ballot)
    answers = await ballots.answers_of(ctx.tx, ballot.id, ctx.member.id)
    if again:
        ctx.goto("pw", ballot=ballot.id, done=[])
    done = {tuple(p) for p in ctx.data.get("done", [])} if ctx.state == "pw" and ctx.data.get("ballot") == ballot.id \
        else None
    todo = [p for p in pairs if (_key(*p) not in done if done is not None else _key(*p) not in answers)]
    if not todo:
        ctx.clear()
        text = ctx.tn("Thank you! You compared {n} pair. You can change your answers until the vote closes.",
                      "Thank you! You compared all {n} pairs. You can change your answers until the vote closes.",
                      len(pairs))
        buttons = [[Button(ctx.t("Change my answers"), data=f"pwr:{ballot.id}")]]
        ctx.outcome.messages.append(Message(ctx.event.channel, ctx.event.chat_id, text,
                                            tuple(map(tuple, buttons)), tag=tag(ballot), edit=not first))
        return
    left, right = todo[0]
    p_left, p_right = await problems.get(ctx.tx, left), await problems.get(ctx.tx, right)
    assert p_left is not None and p_right is not None
    position = len(pairs) - len(todo) + 1
    current = answers.get(_key(left, right))
    text = "\n".join([
        ctx.t("🗳 <b>Pairwise ranking</b> — pair {position} of {total}", position=position, total=len(pairs)),
        "", ctx.t("Which problem is <b>more pressing</b>?"), "",
        f"🅰 {bold(f'#{p_left.number}')} {esc(p_left.text)}", "", f"🅱 {bold(f'#{p_right.number}')} {esc(p_right.text)}"])
    buttons = [[Button(("✅ " if current == p.id else "") + f"{mark} #{p.number} {p.text[:BUTTON_TEXT]}",
                       data=f"pw:{ballot.id}:{left}:{right}:{p.id}")]
               for mark, p in (("🅰", p_left), ("🅱", p_right))]
    ctx.outcome.messages.append(Message(ctx.event.channel, ctx.event.chat_id, text, tuple(map(tuple, buttons)),
                                        tag=tag(ballot), edit=not first))


@button("pw", who="member", scope=ballot_scope)
async def answered(ctx: Context, ballot_id: str, left: str, right: str, winner: str) -> None:
    ballot = await load_ballot(ctx, ballot_id, "pairwise")
    refuse_closed(ctx, ballot)
    if winner not in (left, right) or left == right:
        raise BadPayload("pairwise answer")
    p_left, p_right = await open_problem(ctx, ballot, left), await open_problem(ctx, ballot, right)
    assert ctx.member is not None
    pairs = await member_pairs(ctx, ballot)
    if _key(p_left.id, p_right.id) not in {_key(*p) for p in pairs}:
        raise BadPayload("pair not asked of this member")
    low, high = _key(p_left.id, p_right.id)
    await ballots.set_answer(ctx.tx, ballot.id, ctx.member.id, low, high, int(winner))
    chosen = p_left if int(winner) == p_left.id else p_right
    ctx.toast(ctx.t("Saved: #{number} is more pressing.", number=chosen.number))
    if ctx.state == "pw" and ctx.data.get("ballot") == ballot.id:
        ctx.data["done"] = [*ctx.data.get("done", []), [low, high]]
    await show_next(ctx, ballot, first=False, pairs=pairs)


@button("pwr", who="member", scope=ballot_scope)
async def again(ctx: Context, ballot_id: str) -> None:
    ballot = await load_ballot(ctx, ballot_id, "pairwise")
    refuse_closed(ctx, ballot)
    await show_next(ctx, ballot, first=False, again=True)
