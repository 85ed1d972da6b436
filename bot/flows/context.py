"""Everything a flow handler needs while it handles one event inside one transaction."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.domain.models import Community, Member
from bot.flows.paging import pages
from bot.flows.payloads import prefix_of
from bot.flows.registry import BUTTONS, RANK
from bot.flows.types import Button, Chart, Event, Message, Outcome, Toast
from bot.i18n import Translator, pick_locale, translator
from bot.links import Link
from bot.markup import esc  # noqa: F401  (the flows import it from here)
from bot.storage import audit, communities, conversations, members
from bot.storage.db import Tx

if TYPE_CHECKING:
    from bot.flows.engine import Engine

Buttons = Sequence[Sequence[Button]]
GROUPLESS = ("whatsapp",)  # channels without group chats: their members get the groups' posts one by one
Build = Callable[[Translator], tuple[str, Buttons]]
ALERT_AFTER = 60  # characters: a longer short answer to a pressed button is an alert (a toast would be cut)


def short_answer(event: Event, text: str, link: Link | None = None) -> Toast | Message:
    """The short answer to what a person did: an acknowledgement (``Toast``) of a pressed button,
    a message otherwise. How a channel shows the acknowledgement is its own (see ``Toast``)."""
    toast = Toast(text, alert=len(text) > ALERT_AFTER, link=link)
    return toast if event.button is not None else toast.as_message(event.channel, event.chat_id)


class Refused(Exception):
    """Stop handling: roll back everything and tell the person ``text``."""

    def __init__(self, text: str, link: Link | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.link = link


class Context:
    def __init__(self, engine: "Engine", tx: Tx, event: Event, member: Member | None,
                 state: str, data: dict[str, Any]) -> None:
        self.engine = engine
        self.tx = tx
        self.event = event
        self.member = member
        self.state = state
        self.data = data
        self._saved = (state, dict(data))
        self.state_saved_at = ""  # when the conversation state was saved (ISO), "" if none
        self._asked = False
        self.now: datetime = engine.clock()
        self.rng: random.Random = engine.rng
        locale = member.locale if member else data.get("locale") or pick_locale(event.user_lang, engine.default_locale)
        self.tr: Translator = translator(locale)
        self.outcome = Outcome()
        self._community_cache: dict[str, Community | None] = {}
        self.scoped: Community | None = None  # the community the route was authorised for
        self.found: dict[tuple[str, int], Any] = {}  # what the scope read, for the handler to reuse

    # --- who and where -------------------------------------------------------------------
    @property
    def now_iso(self) -> str:
        return self.now.isoformat(timespec="seconds")

    @property
    def onboarded(self) -> bool:
        return self.member is not None and bool(self.member.name)

    @property
    def locale(self) -> str:
        return self.tr.locale

    def use_locale(self, locale: str) -> None:
        self.tr = translator(locale)

    async def community(self) -> Community | None:
        """The community this event concerns: the group's, or the member's active one."""
        if "c" not in self._community_cache:
            if self.event.is_group:
                found = await communities.by_group(self.tx, self.event.channel, self.event.chat_id)
            elif self.member and self.member.active_community:
                found = await communities.get(self.tx, self.member.active_community)
            else:
                found = None
            self._community_cache["c"] = found
        return self._community_cache["c"]

    async def role(self, community_id: int) -> str:
        """'stranger', 'member', 'kmut' or 'facilitator' in that community."""
        if self.member is None:
            return "stranger"
        membership = await members.membership(self.tx, community_id, self.member.id)
        if membership is None:
            return "stranger"
        if membership.is_facilitator:
            return "facilitator"
        return "kmut" if membership.kmut else "member"

    @staticmethod
    def deep_link(payload: str) -> Link:
        """A link into the private chat with the bot, started with ``payload``."""
        return Link.private(payload)

    @property
    def has_groups(self) -> bool:
        """Whether the event's channel has group chats (Telegram) or not (WhatsApp)."""
        return self.event.channel not in GROUPLESS

    def private_link(self, command: str) -> Link:
        """A link that opens ``command`` in the private chat, for the community this event concerns
        (a member of several communities lands in this one, not in their active one)."""
        return self.deep_link(f"g_{self.scoped.id}_{command}" if self.scoped else command)

    # --- translation -----------------------------------------------------------------------
    def t(self, message: str, **values: object) -> str:
        return self.tr.t(message, **values)

    def tn(self, singular: str, plural: str, n: int, **values: object) -> str:
        return self.tr.tn(singular, plural, n, **values)

    # --- conversation state ----------------------------------------------------------------
    def goto(self, state: str, **data: Any) -> None:
        self.state = state
        self.data = {k: v for k, v in self.data.items() if k == "locale"} | data
        self._asked = True  # saved even if unchanged: a question asked again waits its full time again

    def clear(self) -> None:
        self.state, self.data = "", {}

    def forget_state(self) -> None:
        """Nothing about this person is written back (their conversation row is already gone)."""
        self._saved = ("", {})

    async def save_state(self) -> None:
        if (self.state, self.data) != self._saved or (self._asked and self.state):
            await conversations.save(self.tx, self.event.channel, self.event.user_id,
                                     self.state, self.data, self.now_iso)

    # --- answering -------------------------------------------------------------------------
    @property
    def is_system(self) -> bool:
        return self.event.channel == "system"

    def reply(self, text: str, buttons: Buttons = (), *, chart: Chart | None = None,
              document: tuple[str, bytes] | None = None, tag: str | None = None) -> None:
        """Answer in the chat the event came from (a scheduled job has none)."""
        if self.is_system:
            return
        here = (self.event.channel, self.event.chat_id)
        # a group's post that reached this chat one by one (a facilitator on WhatsApp) is said once
        self.outcome.messages = [m for m in self.outcome.messages
                                 if (m.channel, m.chat_id) != here or m.text != text or m.edit]
        self.outcome.messages.append(Message(
            *here, text, tuple(map(tuple, buttons)), chart=chart, document=document, tag=tag))

    def reply_pages(self, lines: Sequence[str], buttons: Buttons = ()) -> None:
        """A long listing as as many messages as it takes, the buttons under the last."""
        parts = pages(list(lines))
        for part in parts[:-1]:
            self.reply(part)
        self.reply(parts[-1], buttons)

    def reply_private(self, text: str, buttons: Buttons = ()) -> None:
        """Answer in the person's private chat, wherever the event came from."""
        self.outcome.messages.append(Message(self.event.channel, self.event.user_id, text,
                                             tuple(map(tuple, buttons))))

    def toast(self, text: str, alert: bool = False, link: Link | None = None) -> None:
        self.outcome.toast = Toast(text, alert, link)

    def answer(self, text: str) -> None:
        """A short answer: a toast for a pressed button, a message otherwise (``short_answer``)."""
        answer = short_answer(self.event, text)
        if isinstance(answer, Toast):
            self.outcome.toast = answer
        else:
            self.reply(answer.text)

    def refuse(self, text: str, link: Link | None = None) -> Refused:
        return Refused(text, link)

    async def notify(self, member_id: int, build: Build, *, chart: Chart | None = None) -> None:
        """A message to a member's private chats, in that member's language (with ``chart``)."""
        target = await members.get(self.tx, member_id)
        if target is None:
            return
        text, buttons = build(translator(target.locale))
        for channel, external_id in await members.identities(self.tx, member_id):
            self.outcome.messages.append(Message(channel, external_id, text, tuple(map(tuple, buttons)),
                                                 chart=chart, durable=True))

    def refresh(self, key: str) -> None:
        """Ask for a view to be redrawn soon (coalesced with other requests for it)."""
        self.outcome.refresh.add(key)

    async def post_groups(self, community: Community, build: Callable[[Translator], tuple[str, Buttons]],
                          *, chart: Chart | None = None, tag: str | None = None, edit: bool = False,
                          durable: bool = True, only: tuple[str, str] | None = None) -> None:
        """A message to every group linked to the community (or ``only`` that one), in the
        community's language, and to each member on a channel without groups (WhatsApp), in theirs."""
        text, buttons = build(translator(community.locale))
        for channel, chat_id in await communities.groups(self.tx, community.id):
            if only is not None and (channel, chat_id) != only:
                continue
            self.outcome.messages.append(Message(channel, chat_id, text, tuple(map(tuple, buttons)),
                                                 chart=chart, tag=tag, edit=edit, durable=durable))
        if only is None and not edit:  # a redraw of a group's view is not sent one by one
            drawn: dict[tuple[str, str], tuple[str, tuple]] = {}
            for channel, external_id, locale, role in await members.without_groups(self.tx, community.id,
                                                                                  GROUPLESS):
                if (locale, role) not in drawn:
                    text, buttons = build(translator(locale))
                    drawn[locale, role] = text, usable(buttons, role)
                text, rows = drawn[locale, role]
                self.outcome.messages.append(Message(channel, external_id, text, rows, chart=chart,
                                                     durable=durable))

    async def audit_head(self) -> str:
        """The audit log's head hash, short, for the foot of every posted result."""
        return (await audit.head(self.tx))[:8]

    async def audit(self, action: str, community_id: int | None = None, **detail: Any) -> str:
        return await audit.append(self.tx, self.now_iso, action, community_id=community_id,
                                  actor_id=self.member.id if self.member else None, **detail)


def usable(buttons: Buttons, role: str) -> tuple:
    """The rows of a group's buttons that a person holding ``role`` may use: a group shows the
    facilitator's buttons to everyone (and refuses the others' taps), a member's own chat does not."""
    def allowed(button: Button) -> bool:
        route = BUTTONS.get(prefix_of(button.data)) if button.data is not None else None
        return route is None or RANK[route.who] <= RANK[role]

    rows = (tuple(b for b in row if allowed(b)) for row in buttons)
    return tuple(row for row in rows if row)
