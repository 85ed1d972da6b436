"""Several facilitators: any facilitator adds a member as another, removes one (never the last),
or hands the community over and steps down. Each is told in private; the audit log names who did it."""

from __future__ import annotations

from bot.domain.models import Community, Membership
from bot.domain.text import clean_text
from bot.flows.context import Context, esc
from bot.flows.payloads import BadPayload, Payload
from bot.flows.registry import button, command
from bot.flows.scopes import community_scope
from bot.flows.types import Button
from bot.i18n import N_
from bot.storage import members
from bot.storage.nominations import search_members

SEARCH_MIN = 2  # letters of a name to search for
MATCHES = 8     # members offered for one search
ACTIONS = ("add", "remove", "to")  # "to": the successor of a facilitator who leaves


def _names(found: list[tuple[int, str]]) -> str:
    return ", ".join(esc(name) for _, name in found)


@command("facilitator", who="facilitator", usage=(
        ("/facilitator add NAME", N_("make a member of the community a facilitator too")),
        ("/facilitator remove NAME", N_("take the role from another facilitator")),
        ("/facilitator leave [NAME]", N_("step down, naming who takes over if you are the only one"))))
async def facilitator(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None and ctx.member is not None
    action, _, query = ctx.event.args.strip().partition(" ")
    action, query = action.lower(), clean_text(query)[:64]
    if action == "leave" and not query:
        await step_down(ctx, community, None)
        return
    if action not in ("add", "remove", "leave"):
        ctx.reply("\n".join([
            ctx.t("Facilitators of <b>{name}</b>: {names}.", name=esc(community.name),
                  names=_names(await members.facilitators(ctx.tx, community.id))),
            "", "/facilitator add NAME — " + ctx.t("make a member of the community a facilitator too"),
            "/facilitator remove NAME — " + ctx.t("take the role from another facilitator"),
            "/facilitator leave [NAME] — " + ctx.t("step down, naming who takes over if you are the only one")]))
        return
    if len(query) < SEARCH_MIN:
        raise ctx.refuse(ctx.t("Write at least two letters of the name after the command, like this: "
                               "/facilitator {action} Aigerim", action=action))
    found = await search_members(ctx.tx, community.id, query, 100)
    if action == "remove":
        ids = {member_id for member_id, _ in await members.facilitators(ctx.tx, community.id)}
        found = [(member_id, name) for member_id, name in found if member_id in ids]
        if not found:
            raise ctx.refuse(ctx.t("No facilitator of <b>{name}</b> has a name containing «{query}». "
                                   "Facilitators: {names}.", name=esc(community.name), query=esc(query),
                                   names=_names(await members.facilitators(ctx.tx, community.id))))
    elif not found:
        raise ctx.refuse(ctx.t("No member of <b>{name}</b> has a name containing «{query}». A facilitator must "
                               "join the community first: send them its join link.",
                               name=esc(community.name), query=esc(query)))
    if action == "leave":
        found = [(member_id, name) for member_id, name in found if member_id != ctx.member.id]
        if not found:
            raise ctx.refuse(ctx.t("Name another member to take over from you."))
    step = "to" if action == "leave" else action
    if len(found) == 1:
        await act(ctx, community, step, found[0][0])
        return
    rows = [[Button(name[:60], data=FacilitatorChoice(community.id, step, member_id).encode())]
            for member_id, name in found[:MATCHES]]
    more = ctx.t(" Only the first {n} are shown: send more of the name.", n=MATCHES) if len(found) > MATCHES else ""
    ctx.reply(ctx.t("Whom do you mean?") + more, rows)


class FacilitatorChoice(Payload, prefix="fc"):
    """Of the members found by name, ``member`` is the one to ``action`` (add, remove, hand over to)."""

    community: int
    action: str
    member: int


@button(FacilitatorChoice, who="facilitator", scope=community_scope)
async def chosen(ctx: Context, tap: FacilitatorChoice) -> None:
    community = ctx.scoped
    assert community is not None
    if tap.action not in ACTIONS:
        raise BadPayload("facilitator action")
    await act(ctx, community, tap.action, tap.member)


async def act(ctx: Context, community: Community, action: str, target: int) -> None:
    if action == "add":
        await add(ctx, community, target)
    elif action == "remove":
        await remove(ctx, community, target)
    else:
        await step_down(ctx, community, target)


async def _member(ctx: Context, community: Community, member_id: int) -> tuple[str, Membership]:
    """The name and membership of a member of the community (a forged or stale id is refused)."""
    membership = await members.membership(ctx.tx, community.id, member_id)
    person = await members.get(ctx.tx, member_id)
    if membership is None or person is None or not person.name:
        raise BadPayload("not a member of this community")
    return person.name, membership


async def add(ctx: Context, community: Community, target: int, *, successor: bool = False) -> None:
    assert ctx.member is not None
    name, _ = await _member(ctx, community, target)
    if not await members.set_role(ctx.tx, community.id, target, "facilitator"):
        if not successor:
            ctx.answer(ctx.t("{person} is already a facilitator of <b>{name}</b>.", person=esc(name),
                             name=esc(community.name)))
        return
    await ctx.audit("facilitator.added", community.id, member=target)
    by = ctx.member.name or ""
    await ctx.notify(target, lambda tr: (tr.t(
        "{by} made you a facilitator of <b>{name}</b>: you can open and close votes, move to the next step "
        "and add other facilitators. /help lists what you can do.", by=esc(by), name=esc(community.name)), []))
    if not successor:
        ctx.reply(ctx.t("{person} is now a facilitator of <b>{name}</b> too; I told them.", person=esc(name),
                        name=esc(community.name)))


async def _only_one(ctx: Context, community: Community) -> bool:
    return len(await members.facilitators(ctx.tx, community.id)) <= 1


async def remove(ctx: Context, community: Community, target: int) -> None:
    assert ctx.member is not None
    if target == ctx.member.id:
        await step_down(ctx, community, None)
        return
    name, membership = await _member(ctx, community, target)
    if not membership.is_facilitator:
        ctx.answer(ctx.t("{person} is not a facilitator of <b>{name}</b>.", person=esc(name), name=esc(community.name)))
        return
    if await _only_one(ctx, community):  # only by a stale button: the one removing is a facilitator too
        raise ctx.refuse(last_one(ctx, community))
    await members.set_role(ctx.tx, community.id, target, "member")
    await ctx.audit("facilitator.removed", community.id, member=target)
    by = ctx.member.name or ""
    await ctx.notify(target, lambda tr: (tr.t(
        "{by} took the facilitator's role of <b>{name}</b> from you. You stay a member.",
        by=esc(by), name=esc(community.name)), []))
    ctx.reply(ctx.t("{person} is no longer a facilitator of <b>{name}</b>; I told them.", person=esc(name),
                    name=esc(community.name)))


def last_one(ctx: Context, community: Community) -> str:
    return ctx.t("A community always keeps a facilitator, and you are the only one of <b>{name}</b>. Name who "
                 "takes over: /facilitator leave NAME", name=esc(community.name))


async def step_down(ctx: Context, community: Community, successor: int | None) -> None:
    """The facilitator hands the community over (to ``successor``, made a facilitator first) and
    stays a member."""
    assert ctx.member is not None
    if successor is not None:
        if successor == ctx.member.id:
            raise BadPayload("one's own successor")
        await add(ctx, community, successor, successor=True)
    if await _only_one(ctx, community):
        raise ctx.refuse(last_one(ctx, community))
    await members.set_role(ctx.tx, community.id, ctx.member.id, "member")
    await ctx.audit("facilitator.left", community.id, successor=successor)
    ctx.reply(ctx.t("You are no longer a facilitator of <b>{name}</b>; you stay a member. Facilitators now: "
                    "{names}.", name=esc(community.name),
                    names=_names(await members.facilitators(ctx.tx, community.id))))
