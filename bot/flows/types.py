"""What goes into the flows (``Event``) and what comes out (messages and toasts).

Channel code translates its updates into an ``Event`` and renders the outgoing actions; nothing
here knows Telegram or WhatsApp.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Event:
    channel: str                 # "telegram", "whatsapp", "demo"
    user_id: str                 # the person's id on that channel
    chat_id: str                 # where it happened (== user_id in a private chat)
    is_group: bool = False
    update_id: str | None = None  # processed once; None for events that need no dedupe
    # Delivered again because its first handling may not have ended (a restart replaying the
    # inbox, a webhook retry): if it did, the first answer is given again, as it may not have gone out.
    retry: bool = False
    text: str | None = None      # free text, when not a command
    command: str | None = None   # "start" for "/start CODE" (lower case, no slash, no @bot)
    args: str = ""               # what followed the command
    button: str | None = None    # callback payload of a pressed button
    phone: str | None = None     # a shared contact's number (the sender's own)
    foreign_contact: bool = False  # a contact card of someone else was shared (nothing of it is kept)
    user_name: str = ""          # the name the channel's profile shows (a suggestion only)
    user_lang: str | None = None  # the client's language code
    chat_title: str = ""
    photo: str | None = None     # a photo sent (its file id on the channel; the text is its caption)
    attachment: str | None = None  # another kind of file sent ("document", "large": a photo too big), not kept
    joined_group: bool = False   # the bot was added to the group ``chat_id``
    group_moved_to: str | None = None  # the group ``chat_id`` now lives on under this id (Telegram
                                        # upgraded it to a supergroup)


class _Stored:
    """Pickled into the database (the outbox, answers kept for a retry): one written by an earlier
    version is read with the fields added since at their defaults, or at the field's
    ``metadata["stored_before"]`` when the default would be wrong for an old value."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            if f.name not in state:
                if "stored_before" in f.metadata:
                    state[f.name] = f.metadata["stored_before"]
                elif f.default is not MISSING:
                    state[f.name] = f.default
                elif f.default_factory is not MISSING:
                    state[f.name] = f.default_factory()
        self.__dict__.update(state)  # frozen: no __setattr__


@dataclass(frozen=True)
class Button(_Stored):
    text: str
    data: str | None = None      # a payload that comes back as Event.button
    url: str | None = None       # or a link (deep links into the private chat)


@dataclass(frozen=True)
class Chart(_Stored):
    """An image rendered after the transaction commits, off the event loop."""

    render: Callable[..., bytes]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    filename: str = "chart.png"


@dataclass(frozen=True)
class Message(_Stored):
    channel: str
    chat_id: str
    text: str                    # HTML subset: <b>, <i>; everything a user typed is escaped
    buttons: tuple[tuple[Button, ...], ...] = ()
    chart: Chart | None = None   # sent as a photo with ``text`` as its caption
    document: tuple[str, bytes] | None = None  # (filename, content)
    tag: str | None = None       # remember where this message went, to edit it later
    edit: bool = False           # edit the message remembered under ``tag`` instead of sending
    durable: bool = False        # True: written to the outbox with the action, sent even after a crash
    # When it was drawn: an edit older than the one shown last is not sent (it waited in the
    # outbox meanwhile). One stored before this field existed counts as drawn long ago.
    drawn_at: float = field(default_factory=time.time, compare=False, metadata={"stored_before": 0.0})


@dataclass(frozen=True)
class Toast(_Stored):
    """The short answer to a pressed button (a callback toast on Telegram)."""

    text: str
    alert: bool = False
    url: str | None = None       # a t.me deep link the client opens (e.g. to join)


@dataclass
class Outcome:
    messages: list[Message] = field(default_factory=list)
    toast: Toast | None = None
    duplicate: bool = False
    queued: bool = False         # durable messages were written to the outbox
    refresh: set[str] = field(default_factory=set)  # views to redraw soon, coalesced (see registry.refresher)
    replayable: bool = True      # kept with the update id for a retry (False: it holds personal data, as
                                 # /mydata's export, or goes to a person just erased)

