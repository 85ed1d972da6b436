"""Telegram: aiogram updates → ``Event`` → engine → messages back. Thin on purpose."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from aiogram.methods import EditMessageText
from aiogram.methods.base import Response
from aiogram.exceptions import (TelegramBadRequest, TelegramForbiddenError, TelegramMigrateToChat, TelegramNotFound,
                                TelegramRetryAfter)
from aiogram.types import (BotCommand, BotCommandScopeAllChatAdministrators, BotCommandScopeAllGroupChats,
                           BotCommandScopeAllPrivateChats, BotCommandScopeDefault, BufferedInputFile, CallbackQuery, ChatMemberUpdated,
                           InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, Message as TgMessage,
                           ReplyKeyboardMarkup, Update)

from bot import markup
from bot.delivery import Blocked, Delivery, Moved, RetryLater, Undeliverable
from bot.flows import registry
from bot.flows.engine import Engine
from bot.flows.types import Event, Message
from bot.i18n import LOCALES, translator
from bot.links import GROUP, PRIVATE, Link

log = logging.getLogger(__name__)
CHANNEL = "telegram"
CAPTION_MAX = 1024
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]


class _EditUnread(EditMessageText):
    """``editMessageText`` whose answer the bot does not read. aiogram would build the edited
    ``Message`` from it, keyboard and all, only to drop it: ~10 % of a private-ballot tap's CPU
    (bench/README.md). Errors are still raised as aiogram's exceptions."""

    __returning__ = Any


_UNREAD = Response[Any]  # kept alive: pydantic caches generic classes weakly (see aiogram_types)


def tme(link: Link, username: str) -> str:
    """A link's address on Telegram: the bot's chat started with a payload, the bot added to a group."""
    if link.kind == PRIVATE:
        return f"https://t.me/{username}?start={link.target}"
    if link.kind == GROUP:
        return f"https://t.me/{username}?startgroup={link.target}"
    return link.target


def text(message: Message, username: str) -> str:
    """A message's markup as Telegram's HTML parse mode reads it."""
    return markup.telegram(message.text, lambda link: tme(link, username))


def _markup(message: Message, username: str) -> InlineKeyboardMarkup | None:
    rows = [[b for b in row if not b.contact] for row in message.buttons]
    if not any(rows):
        return None
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=b.text, url=tme(b.link, username)) if b.link else
         InlineKeyboardButton(text=b.text, callback_data=b.data) for b in row]
        for row in rows if row])


def _sent_markup(message: Message, username: str) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """A new message's keyboard: a request for the person's own contact is a button under the
    input field (it hides once used); a message cannot have both kinds, and that one wins."""
    contact = [b for row in message.buttons for b in row if b.contact]
    if contact:
        return ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text=b.text, request_contact=True)] for b in contact],
                                   resize_keyboard=True, one_time_keyboard=True)
    return _markup(message, username)


async def _retrying(call, attempts: int = 5):
    """Run a Bot API call, waiting out 429s and retrying brief failures."""
    for attempt in range(attempts):
        try:
            return await call()
        except TelegramRetryAfter as exc:
            await asyncio.sleep(exc.retry_after)
        except (TelegramBadRequest, TelegramForbiddenError):
            raise
        except Exception:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(min(2 ** attempt * 0.5, 8))
    return await call()


class TelegramSender:
    """Telegram's limits: about 30 messages a second overall, one a second in a private chat,
    20 a minute in a group. Failures are translated for the outbox (``RetryLater``,
    ``Undeliverable``); anything else is worth retrying."""

    def __init__(self, bot: Bot, *, username: str = "qatysu_bot", rate: float = 30.0,
                 private_interval: float = 1.0, group_interval: float = 3.0) -> None:
        self.bot = bot
        self.username = username  # the bot's, in the links it sends
        self.rate = rate
        self.private_interval = private_interval
        self.group_interval = group_interval

    def min_interval(self, chat_id: str) -> float:
        return self.group_interval if chat_id.startswith("-") else self.private_interval

    async def send(self, message: Message, image: bytes | None) -> str | None:
        keyboard = _sent_markup(message, self.username)
        body = text(message, self.username)
        async with _translated_errors():
            if image is not None:
                caption = body if len(body) <= CAPTION_MAX else None
                photo = BufferedInputFile(image, message.chart.filename if message.chart else "chart.png")
                sent = await self.bot.send_photo(message.chat_id, photo, caption=caption,
                                                 reply_markup=keyboard if caption else None)
                if caption is None:
                    sent = await self.bot.send_message(message.chat_id, body, reply_markup=keyboard)
            elif message.document is not None:
                name, content = message.document
                sent = await self.bot.send_document(message.chat_id, BufferedInputFile(content, name),
                                                    caption=body[:CAPTION_MAX])
            else:
                sent = await self.bot.send_message(message.chat_id, body, reply_markup=keyboard,
                                                   disable_web_page_preview=True)
        return str(sent.message_id)

    async def edit(self, message: Message, message_id: str) -> None:
        try:
            async with _translated_errors():
                await self.bot(_EditUnread(text=text(message, self.username), chat_id=message.chat_id,
                                           message_id=int(message_id), reply_markup=_markup(message, self.username),
                                           disable_web_page_preview=True))
        except Undeliverable as exc:
            if "not modified" not in str(exc):
                raise


@asynccontextmanager
async def _translated_errors():
    try:
        yield
    except TelegramRetryAfter as exc:
        raise RetryLater(exc.retry_after) from exc
    except TelegramMigrateToChat as exc:  # a group that became a supergroup
        raise Moved(str(exc.migrate_to_chat_id)) from exc
    except TelegramForbiddenError as exc:
        if "blocked by the user" in exc.message or "user is deactivated" in exc.message:
            raise Blocked(str(exc)) from exc  # a private chat; a group that removed the bot is merely gone
        raise Undeliverable(str(exc)) from exc
    except (TelegramBadRequest, TelegramNotFound) as exc:
        raise Undeliverable(str(exc)) from exc  # gone


MAX_PHOTO_BYTES = 20 * 1024 * 1024  # evidence kept by its file id; a bigger one is refused
_COMMAND = re.compile(r"/(\S+)\s*(.*)", re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _command(text: str, bot_username: str) -> tuple[str, str] | None:
    """``/cmd@bot args`` → (cmd, args); None when it is no command or is addressed to another bot.
    Any whitespace ends the command, as in Telegram's clients: ``/propose`` and a new line."""
    found = _COMMAND.match(text)
    if found is None:
        return None
    name, _, addressee = found.group(1).partition("@")
    if addressee and addressee.lower() != bot_username.lower():
        return None
    return name.lower()[:64], found.group(2).strip()


def _clean(text: str) -> str:
    """Text as it can be stored and sent: a lone UTF-16 surrogate (valid in JSON, not in UTF-8)
    becomes U+FFFD instead of failing every write it reaches."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def build_router(engine: Engine, delivery: Delivery) -> Router:
    router = Router(name="qatysu")

    async def run(event: Event) -> None:
        await delivery.deliver_outcome(await engine.handle(event))

    @router.message()
    async def on_message(message: TgMessage, event_update: Update, retry: bool = False) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        is_group = message.chat.type in ("group", "supergroup")
        base = dict(channel=CHANNEL, user_id=str(user.id), chat_id=str(message.chat.id), is_group=is_group,
                    update_id=str(event_update.update_id), retry=retry, user_name=_clean(user.full_name),
                    user_lang=user.language_code, chat_title=_clean(message.chat.title or ""))
        text = message.text or message.caption
        text = _clean(text) if text is not None else None
        if message.migrate_to_chat_id is not None and is_group:
            await run(Event(**base, group_moved_to=str(message.migrate_to_chat_id)))
            return
        if message.contact is not None and not is_group:
            if message.contact.user_id != user.id:
                await run(Event(**base, foreign_contact=True))  # its number is not passed on
            else:
                await run(Event(**base, phone=message.contact.phone_number))
            return
        if not is_group and (message.photo or message.document or message.video or message.audio):
            if message.photo and (message.photo[-1].file_size or 0) <= MAX_PHOTO_BYTES:
                await run(Event(**base, text=text or "", photo=message.photo[-1].file_id))
            else:
                await run(Event(**base, text=text or "", attachment="large" if message.photo else "document"))
            return
        if text is None:
            if not is_group:
                await run(Event(**base, text=""))
            return
        parsed = _command(text, engine.bot_username)
        if parsed is not None:
            await run(Event(**base, command=parsed[0], args=parsed[1]))
        elif not is_group:
            await run(Event(**base, text=text))

    @router.callback_query()
    async def on_callback(query: CallbackQuery, event_update: Update, retry: bool = False) -> None:
        chat = query.message.chat if query.message else None
        is_group = chat is not None and chat.type in ("group", "supergroup")
        event = Event(channel=CHANNEL, user_id=str(query.from_user.id),
                      chat_id=str(chat.id) if chat else str(query.from_user.id), is_group=is_group,
                      update_id=str(event_update.update_id), retry=retry, button=_clean(query.data or ""),
                      user_name=_clean(query.from_user.full_name), user_lang=query.from_user.language_code)
        outcome = await engine.handle(event)
        toast = outcome.toast
        try:
            if toast is None:
                await _retrying(lambda: query.answer(), attempts=3)
            else:
                shown = markup.plain(toast.text)[:200]  # plain text: names are escaped for messages
                url = tme(toast.link, engine.bot_username) if toast.link else None
                await _retrying(lambda: query.answer(text=shown, show_alert=toast.alert, url=url), attempts=3)
        except Exception as exc:  # the vote is stored; only the toast is lost
            log.info("callback answer failed: %s", exc)
        await delivery.deliver_outcome(outcome)

    @router.my_chat_member(F.chat.type.in_({"group", "supergroup"}))
    async def on_added(update: ChatMemberUpdated, event_update: Update, retry: bool = False) -> None:
        was = update.old_chat_member.status
        now = update.new_chat_member.status
        if now in ("member", "administrator") and was in ("left", "kicked"):
            await run(Event(channel=CHANNEL, user_id=str(update.from_user.id), chat_id=str(update.chat.id),
                            is_group=True, update_id=str(event_update.update_id), retry=retry, joined_group=True,
                            user_lang=update.from_user.language_code, chat_title=_clean(update.chat.title or "")))

    return router


# The client's command menus: where (Telegram's scope), whose role's commands and from which chats.
MENU_SCOPES = ((BotCommandScopeDefault(), "member", "private"),
               (BotCommandScopeAllPrivateChats(), "member", "private"),
               (BotCommandScopeAllGroupChats(), "member", "group"),
               (BotCommandScopeAllChatAdministrators(), "facilitator", "group"))
MENU_TIMEOUT = 10  # seconds for each setMyCommands


def menus() -> list[tuple[Any, str | None, list[BotCommand]]]:
    """Every menu the bot sets: (scope, language_code, commands). Each scope in each language,
    and without a language code in Kazakh, for clients in any other language."""
    found = []
    for scope, role, chat in MENU_SCOPES:
        lines = registry.help_lines(role, chat, menu=True)
        for language in (None, *LOCALES):
            tr = translator(language or "kk")
            found.append((scope, language, [BotCommand(command=line.command, description=tr.t(line.text))
                                            for line in lines]))
    return found


async def set_commands(bot: Bot) -> None:
    """The client's command menus: a member's commands in private chats and groups, the
    facilitator's too for group admins. A menu that cannot be set is logged, not fatal: the
    commands work all the same."""
    results = await asyncio.gather(*(
        bot.set_my_commands(commands, scope=scope, language_code=language, request_timeout=MENU_TIMEOUT)
        for scope, language, commands in menus()), return_exceptions=True)  # 16 requests: at once
    failed = [result for result in results if isinstance(result, Exception)]
    if failed:
        log.warning("%d of %d command menus not set (%s)", len(failed), len(results), str(failed[0]).splitlines()[0])


class NoFSMStorage(BaseStorage):
    """Conversation state lives in our database (``bot/storage/conversations.py``), not in
    aiogram's FSM. Its default ``MemoryStorage`` would keep a record for every chat and person
    that ever sent an update (its middleware reads the state of each), growing without end."""

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        raise NotImplementedError("Qatysu keeps conversation state in its database")

    async def get_state(self, key: StorageKey) -> str | None:
        return None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        raise NotImplementedError("Qatysu keeps conversation state in its database")

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return {}

    async def close(self) -> None:
        pass


def build_dispatcher(engine: Engine, delivery: Delivery) -> Dispatcher:
    dp = Dispatcher(storage=NoFSMStorage())
    dp.include_router(build_router(engine, delivery))
    return dp
