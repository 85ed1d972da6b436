"""Where flow modules declare what they handle: commands, buttons, conversation states, deep links.

``who`` is the least role an action needs; the engine checks it on every event, whatever buttons
a person was shown:
- ``anyone``     — even a stranger who has not finished onboarding;
- ``onboarded``  — a person who consented and gave a name;
- ``member``     — a member of the community the action concerns;
- ``kmut``       — a member elected to its ҚМҰТ (step 2), or its facilitator;
- ``facilitator`` — a facilitator of that community.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

Handler = Callable[..., Awaitable[None]]
ROLES = ("anyone", "onboarded", "member", "kmut", "facilitator")


@dataclass(frozen=True)
class Route:
    handler: Handler
    who: str = "onboarded"
    where: str = "any"   # "private", "group" or "any"
    # For 'member'/'kmut'/'facilitator': finds the community from the arguments (e.g. a ballot's);
    # default: the group's community, or the member's active one.
    scope: Callable[..., Awaitable[Any]] | None = None
    # States: after this long without an answer, free text no longer counts as one.
    expires: timedelta | None = None


COMMANDS: dict[str, Route] = {}
BUTTONS: dict[str, Route] = {}
STATES: dict[str, Route] = {}
START_PAYLOADS: dict[str, Route] = {}
# Views many people change at once (a ballot's live counts in the group): a flow asks for a
# redraw with ``ctx.refresh("prefix:arg")``; the channel coalesces the requests and calls the
# refresher at most once every few seconds, in a transaction of its own.
REFRESHERS: dict[str, Handler] = {}
# Commands a user sees in the client's menu, in order: (command, description message id).
PUBLIC_COMMANDS: list[tuple[str, str]] = []


def _route(table: dict[str, Route], key: str, who: str, where: str,
           scope: Callable[..., Awaitable[Any]] | None = None,
           expires: timedelta | None = None) -> Callable[[Handler], Handler]:
    if who not in ROLES:
        raise ValueError(f"unknown role {who!r}")

    def register(handler: Handler) -> Handler:
        if key in table:
            raise ValueError(f"{key!r} is handled twice")
        table[key] = Route(handler, who, where, scope, expires)
        return handler

    return register


def command(name: str, *, who: str = "onboarded", where: str = "any", describe: str | None = None,
            scope: Callable[..., Awaitable[Any]] | None = None) -> Callable[[Handler], Handler]:
    """``/name args`` → ``handler(ctx)``; ``describe`` lists it in the client's command menu."""
    if describe:
        PUBLIC_COMMANDS.append((name, describe))
    return _route(COMMANDS, name, who, where, scope)


def button(prefix: str, *, who: str = "onboarded", where: str = "any",
           scope: Callable[..., Awaitable[Any]] | None = None) -> Callable[[Handler], Handler]:
    """A payload ``prefix:a:b`` → ``handler(ctx, "a", "b")``."""
    if ":" in prefix:
        raise ValueError("button prefixes cannot contain ':'")
    return _route(BUTTONS, prefix, who, where, scope)


ANSWER_WINDOW = timedelta(hours=1)  # how long a question for content (a proposal, a cause, a task...) waits


def state(name: str, *, who: str = "anyone", expires: timedelta | None = ANSWER_WINDOW) -> Callable[[Handler], Handler]:
    """Free text in a private chat while the conversation is in ``name`` → ``handler(ctx, text)``;
    after ``expires`` (None: never, e.g. onboarding) such text is no longer taken as the answer."""
    return _route(STATES, name, who, "private", expires=expires)


def start_payload(prefix: str, *, who: str = "onboarded",
                  scope: Callable[..., Awaitable[Any]] | None = None) -> Callable[[Handler], Handler]:
    """A deep link ``?start=<prefix>_<rest>`` → ``handler(ctx, rest)``."""
    return _route(START_PAYLOADS, prefix, who, "private", scope)


def refresher(prefix: str) -> Callable[[Handler], Handler]:
    """``ctx.refresh("prefix:a")`` → later ``handler(ctx, "a")`` emits the redrawn messages."""

    def register(handler: Handler) -> Handler:
        REFRESHERS[prefix] = handler
        return handler

    return register


def parse_payload(payload: str) -> tuple[str, list[str]]:
    prefix, _, rest = payload.partition(":")
    return prefix, (rest.split(":") if rest else [])


def payload(prefix: str, *parts: Any) -> str:
    data = ":".join([prefix, *map(str, parts)])
    if len(data.encode()) > 64:  # Telegram's callback_data limit
        raise ValueError(f"button payload too long: {data!r}")
    return data
