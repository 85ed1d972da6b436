"""Who may act on what: the checks a route's role (``registry``'s ``who``) and a conversation
waiting on a community make, and the join link a stranger is shown."""

from __future__ import annotations

from bot.domain.models import Community
from bot.flows.context import Context
from bot.links import Link
from bot.storage import communities, cycles


def join_link(ctx: Context, community: Community) -> Link:
    return ctx.deep_link(community.join_code)


async def waiting_community(ctx: Context, command: str, valid: bool = True):
    """The community a conversation state waits on (its data's ``community``), the person still
    a member there; otherwise (gone, or ``valid`` false) the state is dropped and they are told to
    start again with ``/command`` — by a reply, as a refusal would roll the dropping back."""
    community_id = ctx.data.get("community")
    community = await communities.get(ctx.tx, community_id) if isinstance(community_id, int) else None
    if community is None or not valid:
        ctx.clear()
        ctx.reply(ctx.t("Start again with /{command}.", command=command))
        return None
    await require(ctx, community, "member")
    return community


async def require(ctx: Context, community, who: str) -> None:
    """Refuse unless the person holds ``who`` ('member', 'kmut' or 'facilitator') in ``community``."""
    if community is None:
        if ctx.event.is_group:
            raise ctx.refuse(ctx.t("This group is not linked to a community yet. "
                                   "The facilitator links it with /link CODE."))
        raise ctx.refuse(ctx.t("You are not in a community yet. Open a join link from your "
                               "facilitator, or create a community with /new."))
    role = await ctx.role(community.id)
    if role == "stranger" and await cycles.is_archive(ctx.tx, community.id):  # an old button of an earlier cycle
        raise ctx.refuse(ctx.t("This belongs to an earlier cycle: it is archived and no longer changes. "
                               "/status shows the cycles."))
    if role == "stranger":
        # the join link only in the community's own group: a forged id in private must not reveal a code
        here = await ctx.community() if ctx.event.is_group else None
        raise ctx.refuse(ctx.t("Only members of this community can do that. Join it first."),
                         join_link(ctx, community) if here is not None and here.id == community.id else None)
    if who == "facilitator" and role != "facilitator":
        raise ctx.refuse(ctx.t("Only the community's facilitator can do that."))
    if who == "kmut" and role not in ("kmut", "facilitator"):
        raise ctx.refuse(ctx.t("Only the ҚМҰТ (the initiative group) or the facilitator can do that."))
