"""Finding what a button or link names: its community (the ``scope`` of a route, which the engine
checks the person's role in) and the objects its ids stand for. A forged or unknown id is refused
as stale, like a payload that does not decode."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.domain.models import Community
from bot.domain.text import small_int
from bot.flows.context import Context
from bot.flows.payloads import BadPayload
from bot.storage import ballots, communities


async def lookup(ctx: Context, get: Callable[..., Awaitable[Any]], raw: int | str, what: str) -> Any:
    """The object an id (a payload's number, or a link's text) names; a malformed or unknown id is
    refused as stale or forged."""
    number = raw if isinstance(raw, int) else small_int(raw)
    found = await get(ctx.tx, number) if number is not None else None
    if found is None:
        raise BadPayload(f"no {what} {str(raw)[:20]!r}")
    return found


async def community_scope(ctx: Context, tap: Any) -> Community | None:
    """The community a button names (its payload's ``community``)."""
    return await lookup(ctx, communities.get, tap.community, "community")


async def ballot_scope(ctx: Context, tap: Any) -> Community:
    """The community of the ballot a button names (its payload's ``ballot``)."""
    return await ballot_community(ctx, tap.ballot)


async def ballot_community(ctx: Context, ballot_id: int | str) -> Community:
    """The community of the ballot a button or link names; the ballot is kept in ``ctx.found``."""
    ballot = await lookup(ctx, ballots.get, ballot_id, "ballot")
    ctx.found[("ballot", ballot.id)] = ballot
    community = await communities.get(ctx.tx, ballot.community_id)
    assert community is not None
    return community
