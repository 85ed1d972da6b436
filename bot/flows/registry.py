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

from bot.flows.payloads import Payload

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
    # Buttons: the kind of payload they carry, decoded before the scope and the handler see it.
    payload: type[Payload] | None = None


COMMANDS: dict[str, Route] = {}
BUTTONS: dict[str, Route] = {}
STATES: dict[str, Route] = {}
START_PAYLOADS: dict[str, Route] = {}
# Views many people change at once (a ballot's live counts in the group): a flow asks for a
# redraw of its ``View`` with ``ctx.refresh(view)``; the channel coalesces the requests and calls
# the refresher registered for the view's name at most once every few seconds, in a transaction
# of its own.
REFRESHERS: dict[str, Handler] = {}
RANK = {role: rank for rank, role in enumerate(ROLES)}  # each role may do what those below it may


@dataclass(frozen=True)
class HelpLine:
    """A line of /help: ``usage`` as typed, ``text`` a message id saying what it does; shown to
    people holding ``who`` or more, in chats ``where`` it works."""

    command: str
    usage: str
    text: str
    who: str
    where: str
    menu: bool  # also in the client's command menu (then ``text`` is short)


FIRST = ("start", "help")  # listed first in /help and the menus; the rest in the order they were declared
# Every command's /help lines, in order of registration; those with ``menu`` make the command menus.
HELP: list[HelpLine] = []


def _route(table: dict[str, Route], key: str, who: str, where: str,
           scope: Callable[..., Awaitable[Any]] | None = None,
           expires: timedelta | None = None,
           payload: type[Payload] | None = None) -> Callable[[Handler], Handler]:
    if who not in ROLES:
        raise ValueError(f"unknown role {who!r}")

    def register(handler: Handler) -> Handler:
        if key in table:
            raise ValueError(f"{key!r} is handled twice")
        table[key] = Route(handler, who, where, scope, expires, payload)
        return handler

    return register


def command(name: str, *, who: str = "onboarded", where: str = "any", describe: str | None = None,
            scope: Callable[..., Awaitable[Any]] | None = None,
            usage: tuple[tuple[str, ...], ...] | None = None) -> Callable[[Handler], Handler]:
    """``/name args`` → ``handler(ctx)``.

    ``describe`` (a short message id) puts ``/name`` in /help and in the client's command menu.
    ``usage`` adds /help lines for what the command takes, each ``(usage, text[, who[, where]])``
    (by default the command's own ``who`` and ``where``), e.g. ``("/tree merge 5 2", ..., "kmut")``.
    A command with neither is left out of /help: only an alias (``/menu``) should be."""
    if who not in ROLES or where not in ("private", "group", "any"):
        raise ValueError(f"/{name}: unknown role {who!r} or place {where!r}")
    if describe:
        HELP.append(HelpLine(name, f"/{name}", describe, who, where, menu=True))
    for line in usage or ():
        usage_text, text, line_who, line_where = (*line, *(who, where)[len(line) - 2:])
        if line_who not in ROLES or line_where not in ("private", "group", "any"):
            raise ValueError(f"/{name}: unknown role {line_who!r} or place {line_where!r}")
        HELP.append(HelpLine(name, usage_text, text, line_who, line_where, menu=False))
    return _route(COMMANDS, name, who, where, scope)


def help_lines(role: str, chat: str, *, menu: bool = False) -> list[HelpLine]:
    """The /help lines (or, ``menu``, the command menu's) for a person holding ``role`` in a
    ``chat`` ("private" or "group"). In /help, usage lines for a command's own role stand for
    its menu line (``/poll dots|matrix|pairwise`` … rather than ``/poll — Start a vote``)."""
    fits = sorted((line for line in HELP if RANK[line.who] <= RANK[role] and line.where in (chat, "any")),
                  key=lambda line: FIRST.index(line.command) if line.command in FIRST else len(FIRST))
    if menu:
        return [line for line in fits if line.menu]
    detailed = {(line.command, line.who) for line in fits if not line.menu}
    return [line for line in fits if not (line.menu and (line.command, line.who) in detailed)]


def button(kind: type[Payload], *, who: str = "onboarded", where: str = "any",
           scope: Callable[..., Awaitable[Any]] | None = None) -> Callable[[Handler], Handler]:
    """A pressed button carrying a ``kind`` payload → ``handler(ctx, tap)`` with the decoded
    ``tap`` (and ``scope(ctx, tap)`` first); one that does not decode is refused as stale."""
    return _route(BUTTONS, kind.prefix, who, where, scope, payload=kind)


ANSWER_WINDOW = timedelta(hours=1)  # how long a question for content (a proposal, a cause, a task...) waits


def state(name: str, *, who: str = "anyone", expires: timedelta | None = ANSWER_WINDOW) -> Callable[[Handler], Handler]:
    """Free text in a private chat while the conversation is in ``name`` → ``handler(ctx, text)``;
    after ``expires`` (None: never, e.g. onboarding) such text is no longer taken as the answer."""
    return _route(STATES, name, who, "private", expires=expires)


def start_payload(prefix: str, *, who: str = "onboarded",
                  scope: Callable[..., Awaitable[Any]] | None = None) -> Callable[[Handler], Handler]:
    """A deep link ``?start=<prefix>_<rest>`` → ``handler(ctx, rest)``."""
    return _route(START_PAYLOADS, prefix, who, "private", scope)


def refresher(name: str) -> Callable[[Handler], Handler]:
    """``ctx.refresh(View(name, a))`` → later ``handler(ctx, a)`` emits the redrawn messages."""

    def register(handler: Handler) -> Handler:
        REFRESHERS[name] = handler
        return handler

    return register
