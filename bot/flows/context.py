"""Everything a flow handler needs while it handles one event inside one transaction."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot import audiences
from bot.domain.models import Community, Member
from bot.flows.paging import pages
from bot.flows.payloads import prefix_of
from bot.flows.registry import BUTTONS, RANK
from bot.flows.types import Button, Chart, Event, Outcome, Toast
from bot.i18n import Translator, pick_locale, translator
from bot.links import Link
from bot.markup import esc  # noqa: F401  (the flows import it from here)
from bot.messages import Audience, Community as CommunityAudience, Group, Here, Person, Post, Private, View
from bot.storage import audit, communities, conversations, members
from bot.storage.db import Tx

if TYPE_CHECKING:
    from bot.flows.engine import Engine

Buttons = Sequence[Sequence[Button]]
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
                if found is None and (moved := await communities.moved_to(self.tx, self.event.chat_id)):
                    found = await communities.by_group(self.tx, self.event.channel, moved)  # sent before the move
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
        return audiences.profile(self.event.channel).groups

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

    @property
    def origin(self) -> audiences.Origin:
        """Where the event came from, for the resolver: what ``Here`` means, and who asked."""
        return audiences.Origin(self.event.channel, self.event.chat_id, self.event.user_id, self.locale)

    def reply(self, text: str, buttons: Buttons = (), *, chart: Chart | None = None,
              document: tuple[str, bytes] | Chart | None = None, view: View | None = None,
              update: bool = False) -> None:
        """Answer in the chat the event came from (a scheduled job has none); with ``view``, the
        answer stands for it (``update``: it replaces the one shown there)."""
        post = Post(Here(), lambda _tr: (text, buttons), view=view, update=update, chart=chart, document=document)
        if not update:  # a group's post that reached this chat one by one (a facilitator on WhatsApp) is said once
            here = (self.event.channel, self.event.chat_id)
            self.outcome.messages = [m for m in self.outcome.messages
                                     if (m.channel, m.chat_id) != here or m.text != text or m.edit]
        self.outcome.messages += audiences.here(post, self.origin)

    def reply_pages(self, lines: Sequence[str], buttons: Buttons = ()) -> None:
        """A long listing as as many messages as it takes, the buttons under the last."""
        parts = pages(list(lines))
        for part in parts[:-1]:
            self.reply(part)
        self.reply(parts[-1], buttons)

    def reply_private(self, text: str, buttons: Buttons = ()) -> None:
        """Answer in the person's private chat, wherever the event came from."""
        self.outcome.messages += audiences.here(Post(Private(), lambda _tr: (text, buttons)), self.origin)

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

    async def post(self, audience: Audience, build: Build, *, chart: Chart | None = None,
                   view: View | None = None, update: bool = False, matters: bool = False,
                   durable: bool | None = None, others: Build | None = None) -> None:
        """Say ``build`` (called in each reader's language) to ``audience``; see ``bot.messages.Post``."""
        post = Post(audience, build, view=view, update=update, matters=matters, chart=chart,
                    durable=durable, others=others)
        self.outcome.messages += await audiences.resolve(self.tx, post, self.origin, may_use=may_use)

    async def notify(self, member_id: int, build: Build, *, chart: Chart | None = None) -> None:
        """A message to a member's private chats, in that member's language (with ``chart``)."""
        await self.post(Person(member_id), build, chart=chart)

    def refresh(self, view: View) -> None:
        """Ask for ``view`` to be redrawn soon by its refresher (coalesced with other requests for it)."""
        self.outcome.refresh.add(view)

    async def post_groups(self, community: Community, build: Build, *, chart: Chart | None = None,
                          view: View | None = None, update: bool = False, matters: bool = False,
                          durable: bool = True, only: tuple[str, str] | None = None,
                          least_role: str = "member", others: Build | None = None) -> None:
        """A community announcement: to its groups in the community's language, and one to one to
        each member holding ``least_role`` whose channel has no groups, in theirs (``others``: what
        the members below that role get instead); or ``only`` to that one group."""
        audience = Group(*only) if only is not None else CommunityAudience(community.id, least_role)
        await self.post(audience, build, chart=chart, view=view, update=update, matters=matters,
                        durable=durable, others=others)

    async def audit_head(self) -> str:
        """The audit log's head hash, short, for the foot of every posted result."""
        return (await audit.head(self.tx))[:8]

    async def audit(self, action: str, community_id: int | None = None, **detail: Any) -> str:
        return await audit.append(self.tx, self.now_iso, action, community_id=community_id,
                                  actor_id=self.member.id if self.member else None, **detail)


def may_use(button: Button, role: str) -> bool:
    """Whether a person holding ``role`` may use ``button`` (a link or a contact request: anyone): a
    group shows the facilitator's buttons to everyone (and refuses the others' taps), a member's
    own chat does not."""
    route = BUTTONS.get(prefix_of(button.data)) if button.data is not None else None
    return route is None or RANK[route.who] <= RANK[role]
