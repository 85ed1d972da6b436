"""The Bot API calls made for every update as plain JSON (``bot/handlers/bot_api.py``) succeed
and fail exactly as aiogram's own calls did: the same result, the same exception with the same
message, so ``_translated_errors``, ``_retrying`` and polling's back-off see no difference."""

from __future__ import annotations

import socket

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import AnswerCallbackQuery, GetUpdates

from bot.handlers import bot_api


@pytest.fixture
async def bot(tg):
    bot = Bot(tg.token, session=tg.session(timeout=1))
    yield bot
    await bot.session.close()


async def outcome(call):
    try:
        return "result", await call()
    except Exception as exc:  # noqa: BLE001 — what is raised is what is compared
        return type(exc), str(exc), getattr(exc, "retry_after", None)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CLOSED = closed_port()  # one port, so both calls' messages name it
FAULTS = {
    "success": lambda tg, bot: None,
    "400, a query too old": lambda tg, bot: tg.fail_next(
        1, 400, description="Bad Request: query is too old and response timeout expired or query ID is invalid",
        methods="answerCallbackQuery"),
    "403, blocked": lambda tg, bot: tg.fail_next(1, 403, description="Forbidden: bot was blocked by the user",
                                                 methods="answerCallbackQuery"),
    "404": lambda tg, bot: tg.fail_next(1, 404, description="Not Found", methods="answerCallbackQuery"),
    "429 with retry_after": lambda tg, bot: tg.throttle_for(1.0, retry_after=3, methods="answerCallbackQuery"),
    "500": lambda tg, bot: tg.fail_next(1, 500, description="Internal Server Error", methods="answerCallbackQuery"),
    "a proxy's HTML page": lambda tg, bot: tg.fail_next(1, 502, body="<html><h1>502 Bad Gateway</h1></html>",
                                                        methods="answerCallbackQuery"),
    "too slow for the client": lambda tg, bot: tg.slow(2.0, methods="answerCallbackQuery"),
    "out of reach": lambda tg, bot: setattr(bot.session, "api",
                                            TelegramAPIServer.from_base(f"http://127.0.0.1:{CLOSED}")),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_answer_callback_query_succeeds_and_fails_as_aiograms_call(tg, bot, fault):
    user = tg.user(5, "Әлия", "kk")
    group = tg.group(-100777, "Топ", with_bot=True)
    message = tg.user_message(user, group, text="x")
    found = []
    for call in ("aiogram", "json"):
        query = tg.press(user, message, "d:1:1", chat=group, strict=False)["callback_query"]["id"]
        params = {"callback_query_id": query, "text": "Жапсырма қойылды ✓", "show_alert": False}
        FAULTS[fault](tg, bot)
        if call == "aiogram":
            found.append(await outcome(lambda: bot(AnswerCallbackQuery(**params))))
        else:
            found.append(await outcome(lambda: bot_api.call(bot, "answerCallbackQuery", params)))
        tg.slow(0)
    assert found[0] == found[1]
    assert (found[1] == ("result", True)) == (fault == "success"), found[1]
    if fault == "429 with retry_after":
        assert found[1][0] is TelegramRetryAfter and found[1][2] == 3


async def test_a_query_answered_as_json_shows_its_toast(tg, bot):
    user = tg.user(6, "Ivan", "ru")
    group = tg.group(-100778, "Топ", with_bot=True)
    press = tg.press(user, tg.user_message(user, group, text="x"), "d:1:1", chat=group, strict=False)
    await bot_api.call(bot, "answerCallbackQuery", {"callback_query_id": press["callback_query"]["id"],
                                                     "text": "<b>Әлия</b> \ud800", "show_alert": True, "url": None})
    answer = await tg.answer_to(press)
    assert answer["text"] == "<b>Әлия</b> \ud800" and answer["show_alert"] is True


async def test_get_updates_as_json_returns_the_updates_aiogram_would_parse(tg, bot):
    user = tg.user(7, "Әлия", "kk")
    tg.send(user, "сәлем")
    raw = await bot_api.call(bot, "getUpdates", {"offset": None, "limit": 100, "timeout": 0,
                                                  "allowed_updates": ["message"]})
    parsed = await bot(GetUpdates(limit=100, timeout=0, allowed_updates=["message"]))
    assert [item["update_id"] for item in raw] == [u.update_id for u in parsed]
    assert raw[0]["message"]["text"] == parsed[0].message.text == "сәлем"


async def test_a_view_redrawn_as_json_is_the_edit_aiogram_made_and_fails_the_same_way(tg):
    """``TelegramSender.edit`` sends ``editMessageText`` as JSON: the member sees the same text,
    HTML and keyboard as aiogram's edit gave; no buttons removes the keyboard; an edit that
    changes nothing is no failure; a 429 is ``RetryLater`` and a message gone ``Undeliverable``."""
    from bot.delivery import RetryLater, Undeliverable
    from bot.handlers.telegram import TelegramSender
    from bot.links import Link
    from bot.messages import Button, Message

    user = tg.user(8, "Әлия", "kk")
    tg.send(user, "/start")
    bot = Bot(tg.token, session=tg.session(timeout=1), default=DefaultBotProperties(parse_mode="HTML"))  # as the app's
    sender = TelegramSender(bot, username="qatysu_test_bot")
    first = Message("telegram", str(user.id), "1-сұрақ", buttons=((Button("A", "x:1"),),))
    message_id = await sender.send(first, None)
    view = Message("telegram", str(user.id), "<b>2-сұрақ</b> &lt;бос&gt;",
                   buttons=((Button("1", "m:2:1", number=1), Button("2", "m:2:2", number=2)),
                            (Button("Сайт", link=Link.web("https://example.kz")),)))
    await sender.edit(view, message_id)
    shown = tg.message(user, int(message_id))
    assert shown["text"] == "2-сұрақ <бос>" and shown["edits"] == 1
    assert shown["reply_markup"] == {"inline_keyboard": [
        [{"text": "1", "callback_data": "m:2:1"}, {"text": "2", "callback_data": "m:2:2"}],
        [{"text": "Сайт", "url": "https://example.kz"}]]}
    await sender.edit(view, message_id)  # the same again: Telegram says "not modified", no failure
    await sender.edit(Message("telegram", str(user.id), "Рақмет!"), message_id)
    assert tg.message(user, int(message_id))["reply_markup"] is None
    tg.throttle_for(1.0, retry_after=2, methods="editMessageText")
    with pytest.raises(RetryLater):
        await sender.edit(view, message_id)
    tg.throttle_for(0)
    with pytest.raises(Undeliverable):
        await sender.edit(view, "999999")
    await bot.session.close()
