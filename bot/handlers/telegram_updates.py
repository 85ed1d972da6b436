"""Telegram's updates, read straight from their JSON into the engine's ``Event``.

Every update the bot handles (``message``, ``callback_query``, ``my_chat_member``) is translated
here, the same way for long polling, the inbox's replay and the webhook. aiogram's ``Update``
model and ``Dispatcher`` (pydantic validation of the whole update, middlewares, router filters)
cost about a quarter of a tap's CPU (bench/README.md, vote_burst.py) for the dozen fields read
here. Only those fields are read, and each is checked for the type Telegram documents: an update
whose fields the bot reads are missing or of another type is ``Malformed`` (logged and dropped,
the person who sent it hears nothing); a kind the bot does not handle (an edited message, a
channel post, an inline query, …) is ``None``.

``tests/test_telegram_updates.py`` holds it to the events aiogram's models and router made
(the code before this module) on a corpus of ordinary and odd updates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.domain.text import clean
from bot.flows.types import Event

CHANNEL = "telegram"
MAX_PHOTO_BYTES = 20 * 1024 * 1024  # evidence kept by its file id; a bigger one is refused
GROUPS = ("group", "supergroup")
# The kinds of update in the order aiogram's ``Update.event_type`` looks for them: an update
# carries one; were there several, the first found is the one read (and the others ignored).
KINDS = ("message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
         "business_message", "edited_business_message", "deleted_business_messages", "inline_query",
         "chosen_inline_result", "callback_query", "shipping_query", "pre_checkout_query",
         "purchased_paid_media", "poll", "poll_answer", "my_chat_member", "chat_member", "chat_join_request",
         "message_reaction", "message_reaction_count", "chat_boost", "removed_chat_boost")
_COMMAND = re.compile(r"/(\S+)\s*(.*)", re.DOTALL)
_INTEGER = re.compile(r"-?[0-9]+")


class Malformed(ValueError):
    """An update the bot would handle, but a field it reads is missing or of another type."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """An update to hand to the engine: its event and, for a button press, the query to answer."""

    update_id: str
    event: Event
    callback_id: str | None = None


def command(text: str, bot_username: str) -> tuple[str, str] | None:
    """``/cmd@bot args`` → (cmd, args); None when it is no command or is addressed to another bot.
    Any whitespace ends the command, as in Telegram's clients: ``/propose`` and a new line."""
    found = _COMMAND.match(text)
    if found is None:
        return None
    name, _, addressee = found.group(1).partition("@")
    if addressee and addressee.lower() != bot_username.lower():
        return None
    return name.lower()[:64], found.group(2).strip()


def _object(parent: dict, key: str, where: str) -> dict:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise Malformed(f"{where}.{key} is {'missing' if value is None else type(value).__name__}, not an object")
    return value


def _optional_object(parent: dict, key: str, where: str) -> dict | None:
    return None if parent.get(key) is None else _object(parent, key, where)


def _int(parent: dict, key: str, where: str) -> int:
    value = parent.get(key)
    if type(value) is int:
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):  # as aiogram's models read it ("7" is 7)
        return int(value)
    raise Malformed(f"{where}.{key} is {'missing' if value is None else type(value).__name__}, not an integer")


def _optional_int(parent: dict, key: str, where: str) -> int | None:
    return None if parent.get(key) is None else _int(parent, key, where)


def _str(parent: dict, key: str, where: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str):
        raise Malformed(f"{where}.{key} is {'missing' if value is None else type(value).__name__}, not a string")
    return value


def _optional_str(parent: dict, key: str, where: str) -> str | None:
    return None if parent.get(key) is None else _str(parent, key, where)


def _list(parent: dict, key: str, where: str) -> list:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{where}.{key} is {type(value).__name__}, not an array")
    return value


@dataclass(frozen=True, slots=True)
class _User:
    id: int
    is_bot: bool
    full_name: str
    language_code: str | None


def _user(parent: dict, key: str, where: str) -> _User:
    user = _object(parent, key, where)
    where = f"{where}.{key}"
    is_bot = user.get("is_bot")
    if type(is_bot) is not bool:
        raise Malformed(f"{where}.is_bot is not a boolean")
    first, last = _str(user, "first_name", where), _optional_str(user, "last_name", where)
    return _User(_int(user, "id", where), is_bot, f"{first} {last}" if last else first,
                 _optional_str(user, "language_code", where))


def _chat(parent: dict, where: str) -> tuple[int, str, str]:
    """(id, type, title) of ``parent["chat"]``."""
    chat = _object(parent, "chat", where)
    where = f"{where}.chat"
    return _int(chat, "id", where), _str(chat, "type", where), _optional_str(chat, "title", where) or ""


def read(raw: Any, bot_username: str, retry: bool = False) -> Incoming | None:
    """The update's event, or None when it is of a kind the bot ignores or asks nothing of it
    (a message from a bot, a group's chatter, …); ``Malformed`` when it cannot be read."""
    if not isinstance(raw, dict):
        raise Malformed(f"an update is an object, not {type(raw).__name__}")
    update_id = _int(raw, "update_id", "update")
    kind = next((kind for kind in KINDS if raw.get(kind) is not None), None)
    if kind == "message":
        event = _message(_object(raw, kind, "update"), str(update_id), retry, bot_username)
        return None if event is None else Incoming(str(update_id), event)
    if kind == "callback_query":
        query = _object(raw, kind, "update")
        callback_id = _str(query, "id", "callback_query")
        return Incoming(str(update_id), _callback(query, str(update_id), retry), callback_id)
    if kind == "my_chat_member":
        event = _added(_object(raw, kind, "update"), str(update_id), retry)
        return None if event is None else Incoming(str(update_id), event)
    return None


def _message(message: dict, update_id: str, retry: bool, bot_username: str) -> Event | None:
    where = "message"
    chat_id, chat_type, title = _chat(message, where)
    if message.get("from") is None:
        return None  # a channel's post forwarded into a group, an anonymous admin: nobody to answer
    user = _user(message, "from", where)
    if user.is_bot:
        return None
    is_group = chat_type in GROUPS
    base = dict(channel=CHANNEL, user_id=str(user.id), chat_id=str(chat_id), is_group=is_group, update_id=update_id,
                retry=retry, user_name=clean(user.full_name), user_lang=user.language_code, chat_title=clean(title))
    text = _optional_str(message, "text", where) or _optional_str(message, "caption", where)
    text = clean(text) if text is not None else None
    moved = _optional_int(message, "migrate_to_chat_id", where)
    if moved is not None and is_group:
        return Event(**base, group_moved_to=str(moved))
    contact = _optional_object(message, "contact", where)
    if contact is not None and not is_group:
        _str(contact, "phone_number", "message.contact")
        _str(contact, "first_name", "message.contact")
        if _optional_int(contact, "user_id", "message.contact") != user.id:
            return Event(**base, foreign_contact=True)  # its number is not passed on
        return Event(**base, phone=contact["phone_number"])
    photos = _list(message, "photo", where)
    if not is_group and (photos or any(message.get(key) is not None for key in ("document", "video", "audio"))):
        for key in ("document", "video", "audio"):
            _optional_object(message, key, where)
        if photos:
            largest = photos[-1]
            if not isinstance(largest, dict):
                raise Malformed("message.photo holds something other than photo sizes")
            file_id = _str(largest, "file_id", "message.photo")
            if (_optional_int(largest, "file_size", "message.photo") or 0) <= MAX_PHOTO_BYTES:
                return Event(**base, text=text or "", photo=file_id)
        return Event(**base, text=text or "", attachment="large" if photos else "document")
    if text is None:
        return None if is_group else Event(**base, text="")
    parsed = command(text, bot_username)
    if parsed is not None:
        return Event(**base, command=parsed[0], args=parsed[1])
    return None if is_group else Event(**base, text=text)


def _callback(query: dict, update_id: str, retry: bool) -> Event:
    where = "callback_query"
    user = _user(query, "from", where)
    message = _optional_object(query, "message", where)
    chat_id, chat_type, _ = _chat(message, f"{where}.message") if message is not None else (user.id, "private", "")
    return Event(channel=CHANNEL, user_id=str(user.id), chat_id=str(chat_id), is_group=chat_type in GROUPS,
                 update_id=update_id, retry=retry, button=clean(_optional_str(query, "data", where) or ""),
                 user_name=clean(user.full_name), user_lang=user.language_code)


def _added(update: dict, update_id: str, retry: bool) -> Event | None:
    where = "my_chat_member"
    chat_id, chat_type, title = _chat(update, where)
    user = _user(update, "from", where)
    was = _str(_object(update, "old_chat_member", where), "status", f"{where}.old_chat_member")
    now = _str(_object(update, "new_chat_member", where), "status", f"{where}.new_chat_member")
    if chat_type not in GROUPS or now not in ("member", "administrator") or was not in ("left", "kicked"):
        return None
    return Event(channel=CHANNEL, user_id=str(user.id), chat_id=str(chat_id), is_group=True, update_id=update_id,
                 retry=retry, joined_group=True, user_lang=user.language_code, chat_title=clean(title))
