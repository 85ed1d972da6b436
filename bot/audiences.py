"""Audiences → addressed messages: which chats a flow's ``Post`` reaches, in which language, and
how a view's update appears on each channel.

Below the flows (storage and the message contract only; no ``bot.flows``, no channel code): the
flows' ``Context`` calls ``resolve`` inside the handling transaction, so the outbox rows of a
community announcement are written with the action that made it.

What differs between channels is one row of ``PROFILES``:
- ``groups``: a community links group chats on this channel. Where it has none (WhatsApp), a
  community announcement reaches each member one to one, in their language, holding the
  audience's least role — the facilitator's prompts reach the facilitators, not every member.
- ``payloads``: how long a button's payload it carries back.
- ``edits``: a view's update edits the message shown (Telegram; coalesced by the delivery).
  Where messages cannot be edited, an update is sent afresh only to the person who asked for it
  (the event's own chat) or when it ``matters``; a redraw of a group's live counts reaches no one
  one to one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.i18n import translator
from bot.messages import Button, Community, Group, Here, Message, Person, Post, Private
from bot.storage import communities, members
from bot.storage.db import Tx


@dataclass(frozen=True)
class Budget:
    """How long a button payload a channel carries back: ``limit`` UTF-8 bytes or characters."""

    where: str
    limit: int
    unit: str  # "bytes" or "characters"

    def fits(self, data: str) -> bool:
        return len(data.encode() if self.unit == "bytes" else data) <= self.limit


@dataclass(frozen=True)
class Profile:
    groups: bool  # communities link group chats on this channel
    edits: bool   # a view's update edits the message shown
    payloads: tuple[Budget, ...] = ()  # what a button's payload must fit (checked by bot.flows.payloads)


PROFILES: dict[str, Profile] = {
    "telegram": Profile(groups=True, edits=True, payloads=(Budget("Telegram callback_data", 64, "bytes"),)),
    "whatsapp": Profile(groups=False, edits=False, payloads=(Budget("WhatsApp reply button id", 256, "characters"),
                                                            Budget("WhatsApp list row id", 200, "characters"))),
}
DEFAULT = PROFILES["telegram"]  # the simulator's "demo" and the tests' channels: as Telegram
ROLES = ("member", "kmut", "facilitator")  # each holds what those before it hold
MayUse = Callable[[Button, str], bool]     # may a reader holding this role use this button?


def profile(channel: str) -> Profile:
    return PROFILES.get(channel, DEFAULT)


def groupless() -> tuple[str, ...]:
    """The channels whose members get a community's announcements one to one."""
    return tuple(channel for channel, p in PROFILES.items() if not p.groups)


@dataclass(frozen=True)
class Origin:
    """Where the event being handled came from: what ``Here`` and ``Private`` mean, and whose chat
    asked for a view's update. A scheduled job's origin has no chat (``channel`` "system")."""

    channel: str
    chat_id: str
    user_id: str
    locale: str  # the language the person is answered in

    @property
    def is_system(self) -> bool:
        return self.channel == "system"


def _everyone(_button: Button, _role: str) -> bool:
    return True


def here(post: Post, origin: Origin) -> list[Message]:
    """A post to ``Here`` or ``Private``: no lookup, so it is addressed without the database."""
    if origin.is_system:
        return []
    chat = origin.chat_id if isinstance(post.audience, Here) else origin.user_id
    text, buttons = post.build(translator(origin.locale))
    return [_addressed(post, origin.channel, chat, text, buttons, asked=True, durable=False)]


async def resolve(tx: Tx, post: Post, origin: Origin, *, may_use: MayUse = _everyone) -> list[Message]:
    """The messages ``post`` makes, one per chat, in the order a person would read them."""
    audience = post.audience
    if isinstance(audience, (Here, Private)):
        return here(post, origin)
    if isinstance(audience, Person):
        target = await members.get(tx, audience.member_id)
        if target is None:
            return []
        text, buttons = post.build(translator(target.locale))
        return [m for channel, chat in await members.identities(tx, audience.member_id)
                if (m := _addressed(post, channel, chat, text, buttons,
                                    asked=(channel, chat) == (origin.channel, origin.chat_id))) is not None]
    if isinstance(audience, Group):
        community = await communities.by_group(tx, audience.channel, audience.chat_id)
        if community is None:
            return []
        text, buttons = post.build(translator(community.locale))
        message = _addressed(post, audience.channel, audience.chat_id, text, buttons, asked=False)
        return [] if message is None else [message]
    if isinstance(audience, Community):
        return await _community(tx, post, audience, may_use)
    raise TypeError(f"not an audience: {audience!r}")


async def _community(tx: Tx, post: Post, audience: Community, may_use: MayUse) -> list[Message]:
    community = await communities.get(tx, audience.community_id)
    if community is None:
        return []
    out: list[Message] = []
    groups = await communities.groups(tx, community.id)
    if groups:
        text, buttons = post.build(translator(community.locale))
        out += [m for channel, chat in groups
                if (m := _addressed(post, channel, chat, text, buttons, asked=False)) is not None]
    if post.update and not post.matters:  # a redraw is the groups' alone: no one gets it one to one
        return out
    least = ROLES.index(audience.least_role)
    drawn: dict[tuple[str, str], tuple[str, tuple] | None] = {}
    for channel, chat, locale, role in await members.without_groups(tx, community.id, groupless()):
        if (locale, role) not in drawn:
            build = post.build if ROLES.index(role) >= least else post.others
            if build is None:
                drawn[locale, role] = None
            else:
                text, buttons = build(translator(locale))
                drawn[locale, role] = text, _usable(buttons, role, may_use)
        if drawn[locale, role] is not None:
            text, rows = drawn[locale, role]
            out.append(Message(channel, chat, text, rows, chart=post.chart, document=post.document,
                               durable=_durable(post, True)))
    return out


def _usable(buttons, role: str, may_use: MayUse) -> tuple:
    """The rows of buttons a reader holding ``role`` may use: a group shows the facilitator's
    buttons to everyone (and refuses the others' taps), a member's own chat does not."""
    rows = (tuple(b for b in row if may_use(b, role)) for row in buttons)
    return tuple(row for row in rows if row)


def _durable(post: Post, default: bool) -> bool:
    return default if post.durable is None else post.durable


def _addressed(post: Post, channel: str, chat: str, text: str, buttons, *, asked: bool,
               durable: bool = True) -> Message | None:
    """The message to one chat; None where a view's update is not shown on that channel."""
    rows = tuple(map(tuple, buttons))
    view = post.view
    edit = False
    if view is not None and post.update:
        if profile(channel).edits:
            edit = True
        elif not (asked or post.matters):
            return None
    return Message(channel, chat, text, rows, chart=post.chart, document=post.document,
                   tag=None if view is None else view.tag, edit=edit, durable=_durable(post, durable))
