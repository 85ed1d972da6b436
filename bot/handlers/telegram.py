"""Telegram: updates → ``Event`` (``telegram_updates``) → engine → toast and messages back. Thin on purpose."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (TelegramBadRequest, TelegramForbiddenError, TelegramMigrateToChat, TelegramNotFound,
                                TelegramRetryAfter)
from aiogram.types import (BotCommand, BotCommandScopeAllChatAdministrators, BotCommandScopeAllGroupChats,
                           BotCommandScopeAllPrivateChats, BotCommandScopeDefault, BufferedInputFile,
                           InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup)

from bot import markup
from bot.delivery import Blocked, Delivery, Moved, RetryLater, Undeliverable
from bot.flows import registry
from bot.flows.engine import Engine
from bot.flows.types import Message
from bot.handlers import bot_api, telegram_updates
from bot.handlers.telegram_updates import CHANNEL, Incoming  # noqa: F401  (CHANNEL: bot.app reads it here)
from bot.i18n import LOCALES, translator
from bot.links import GROUP, PRIVATE, Link

log = logging.getLogger(__name__)
CAPTION_MAX = 1024
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]


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


def _rows(message: Message, username: str) -> list[list[dict[str, str]]]:
    """A message's inline keyboard as the Bot API's JSON: a row of buttons a row."""
    rows = [[b for b in row if not b.contact] for row in message.buttons]
    return [[{"text": b.text, "url": tme(b.link, username)} if b.link else {"text": b.text, "callback_data": b.data}
             for b in row] for row in rows if row]


def _markup(message: Message, username: str) -> InlineKeyboardMarkup | None:
    rows = _rows(message, username)
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


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
        """A view redrawn: ``editMessageText`` as plain JSON (``bot_api``), its answer unread. A
        member's private ballot is one edit a tap; aiogram's method model and the edited
        ``Message`` it builds from the answer were a third of that tap's CPU (bench/README.md)."""
        rows = _rows(message, self.username)
        params = {"chat_id": message.chat_id, "message_id": int(message_id), "text": text(message, self.username),
                  "parse_mode": self.bot.default.parse_mode, "disable_web_page_preview": True,
                  "reply_markup": {"inline_keyboard": rows} if rows else None}
        try:
            async with _translated_errors():
                await bot_api.call(self.bot, "editMessageText", params)
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


class TelegramUpdates:
    """Telegram's updates (their JSON, as polling, the inbox and the webhook hold them) handed to
    the engine; a pressed button's query answered with the toast once the action is committed,
    before the rest of the outcome is delivered. ``parse`` reads an update (``None``: nothing to
    do; ``Malformed``: unreadable, see ``bot/handlers/telegram_updates.py``), ``handle`` acts
    (``retry``: perhaps handled before, see ``Event.retry``)."""

    def __init__(self, bot: Bot, engine: Engine, delivery: Delivery) -> None:
        self.bot, self.engine, self.delivery = bot, engine, delivery

    def parse(self, raw: Any) -> Incoming | None:
        return telegram_updates.read(raw, self.engine.bot_username)

    async def handle(self, incoming: Incoming, retry: bool = False) -> None:
        outcome = await self.engine.handle(replace(incoming.event, retry=True) if retry else incoming.event)
        if incoming.callback_id is not None:
            await self._answer(incoming.callback_id, outcome.toast)
        await self.delivery.deliver_outcome(outcome)

    async def _answer(self, callback_id: str, toast) -> None:
        params: dict[str, Any] = {"callback_query_id": callback_id}
        if toast is not None:
            params["text"] = markup.plain(toast.text)[:200]  # plain text: names are escaped for messages
            params["show_alert"] = toast.alert
            if toast.link:
                params["url"] = tme(toast.link, self.engine.bot_username)
        try:
            await _retrying(lambda: bot_api.call(self.bot, "answerCallbackQuery", params), attempts=3)
        except Exception as exc:  # the vote is stored; only the toast is lost
            log.info("callback answer failed: %s", exc)


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
