"""The fake Telegram Bot API server, driven by the real aiogram Bot over HTTP."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

try:  # works whether or not tests/ is a package
    from tests.fakes import FakeTelegram, parse_formatted, tiny_png
except ImportError:  # pragma: no cover
    from fakes import FakeTelegram, parse_formatted, tiny_png

TOKEN = "123:ABC"


@pytest.fixture
async def tg():
    async with FakeTelegram(token=TOKEN, bot_username="qatysu_test_bot") as server:
        yield server


@pytest.fixture
async def bot(tg):
    b = Bot(tg.token, session=tg.session())
    yield b
    await b.session.close()


def keyboard(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[list(buttons)])


async def test_get_me_and_plain_aiogram_session(tg):
    # The unmodified AiohttpSession from the brief works too.
    bot = Bot(tg.token, session=AiohttpSession(api=tg.api_server()))
    try:
        me = await bot.get_me()
    finally:
        await bot.session._session.close()  # skip aiogram's 0.25 s SSL grace sleep
    assert me.id == 123 and me.is_bot and me.username == "qatysu_test_bot"
    assert tg.sent[0].method == "getMe"


async def test_wrong_token_and_unknown_method(tg):
    bad = Bot("999:WRONG", session=tg.session())
    with pytest.raises(TelegramUnauthorizedError):
        await bad.get_me()
    await bad.session.close()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{tg.base_url}/bot{tg.token}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_send_message_with_keyboard_and_read_back(tg, bot):
    alice = tg.user(1001, "Әлия", username="aliya")
    tg.send(alice, "/start")
    markup = keyboard(
        InlineKeyboardButton(text="Иә", callback_data="vote:yes"),
        InlineKeyboardButton(text="Сайт", url="https://example.org/about"),
    )
    sent = await bot.send_message(alice.id, "<b>Сәлем</b>, Әлия!", parse_mode="HTML",
                                  reply_markup=markup)
    assert sent.text == "Сәлем, Әлия!"
    assert sent.entities[0].type == "bold" and sent.entities[0].length == 5
    assert sent.reply_markup.model_dump(exclude_none=True) == markup.model_dump(exclude_none=True)

    rec = tg.last(alice)
    assert rec is not None and rec["message_id"] == sent.message_id == 2  # /start was 1
    assert rec["text"] == "Сәлем, Әлия!" and rec["source"] == "<b>Сәлем</b>, Әлия!"
    assert [b["text"] for b in tg.buttons(rec)] == ["Иә", "Сайт"]
    assert tg.button(rec, "Сайт")["url"] == "https://example.org/about"
    call = tg.sent[-1]
    assert call.method == "sendMessage" and call.params["chat_id"] == 1001
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "vote:yes"


async def test_forbidden_until_user_starts_and_group_membership(tg, bot):
    bob = tg.user(1002, "Bob", language_code="ru")
    with pytest.raises(TelegramForbiddenError, match="initiate conversation"):
        await bot.send_message(bob.id, "hi")
    tg.block(bob)
    bob.started = True
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await bot.send_message(bob.id, "hi")
    group = tg.group(-100500, "Аула")
    with pytest.raises(TelegramForbiddenError, match="not a member"):
        await bot.send_message(group.id, "hi")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(42, "hi")
    upd = tg.add_bot_to_group(bob, group)
    assert upd["my_chat_member"]["new_chat_member"]["status"] == "member"
    await bot.send_message(group.id, "hello group")
    assert tg.last(group)["text"] == "hello group"


async def test_edits_and_errors(tg, bot):
    alice = tg.user(1001, "Aliya", started=True)
    m = await bot.send_message(alice.id, "Vote?", reply_markup=keyboard(
        InlineKeyboardButton(text="Yes", callback_data="y")))
    mark = tg.mark()
    edited = await bot.edit_message_text("Vote? (1)", chat_id=alice.id, message_id=m.message_id,
                                         reply_markup=keyboard(InlineKeyboardButton(text="Yes 1", callback_data="y")))
    assert isinstance(edited, Message) and edited.edit_date is not None
    rec = await tg.next_edit(tg.last(alice), since=mark)
    assert rec["text"] == "Vote? (1)" and rec["edits"] == 1
    assert tg.buttons(rec)[0]["text"] == "Yes 1"

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Vote? (1)", chat_id=alice.id, message_id=m.message_id,
                                    reply_markup=keyboard(InlineKeyboardButton(text="Yes 1", callback_data="y")))
    await bot.edit_message_reply_markup(chat_id=alice.id, message_id=m.message_id)  # removes it
    assert tg.last(alice)["reply_markup"] is None and tg.last(alice)["edits"] == 2
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=alice.id, message_id=m.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=alice.id, message_id=999)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(alice.id, "1 < 2 <oops>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(alice.id, "x", reply_markup=keyboard(
            InlineKeyboardButton(text="long", callback_data="x" * 65)))
    assert await bot.delete_message(alice.id, m.message_id) is True
    assert tg.messages(alice) == []
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(alice.id, m.message_id)


async def test_callback_press_and_answer(tg, bot):
    alice = tg.user(1001, "Aliya", started=True)
    await bot.send_message(alice.id, "Pick", reply_markup=keyboard(
        InlineKeyboardButton(text="One", callback_data="pick:1"),
        InlineKeyboardButton(text="Two", callback_data="pick:2")))
    upd = tg.press_button(alice, tg.last(alice), "Two")
    cq = upd["callback_query"]
    assert cq["data"] == "pick:2" and cq["message"]["text"] == "Pick"
    assert cq["from"]["id"] == alice.id
    with pytest.raises(AssertionError, match="no button"):
        tg.press(alice, tg.last(alice), "pick:3")

    waiter = asyncio.create_task(tg.answer_to(upd))
    assert await bot.answer_callback_query(cq["id"], text="Done", show_alert=True)
    assert await waiter == {"text": "Done", "show_alert": True, "url": None, "cache_time": None}
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(cq["id"])


async def test_an_edit_answering_a_press_in_its_private_chat_is_not_counted_unless_asked(tg, bot):
    alice = tg.user(1001, "Aliya", started=True)
    group = tg.group(-100, "Group", with_bot=True)
    tg.enforce_limits(per_chat_per_sec=1, group_per_min=20, global_per_sec=2)
    question = await bot.send_message(alice.id, "Question 1", reply_markup=keyboard(
        InlineKeyboardButton(text="Yes", callback_data="q:1")))
    counts = await bot.send_message(group.id, "Counts 0", reply_markup=keyboard(
        InlineKeyboardButton(text="Vote", callback_data="v:1")))  # the second second's worth: 2 a second
    for n in range(2, 5):  # three answers in a row, each edited at once: interactive feedback
        cq = tg.press(alice, tg.last(alice), "q:1")["callback_query"]
        assert await bot.answer_callback_query(cq["id"])
        await bot.edit_message_text(f"Question {n}", chat_id=alice.id, message_id=question.message_id,
                                    reply_markup=keyboard(InlineKeyboardButton(text="Yes", callback_data="q:1")))
    assert tg.own_tap_edits == 3 and tg.count_429 == 0
    with pytest.raises(TelegramRetryAfter):  # a second edit for one press counts: the chat's second
        await bot.edit_message_text("Question 5", chat_id=alice.id, message_id=question.message_id)
    cq = tg.press(alice, tg.last(group), "v:1", chat=group)["callback_query"]
    assert await bot.answer_callback_query(cq["id"])
    with pytest.raises(TelegramRetryAfter):  # a group's edit counts, whoever pressed
        await bot.edit_message_text("Counts 1", chat_id=group.id, message_id=counts.message_id)

    tg.enforce_limits(per_chat_per_sec=1, group_per_min=20, global_per_sec=30, count_own_tap_edits=True)
    await asyncio.sleep(1.05)
    cq = tg.press(alice, tg.last(alice), "q:1")["callback_query"]
    assert await bot.answer_callback_query(cq["id"])
    await bot.edit_message_text("Question 6", chat_id=alice.id, message_id=question.message_id,
                                reply_markup=keyboard(InlineKeyboardButton(text="Yes", callback_data="q:1")))
    cq = tg.press(alice, tg.last(alice), "q:1")["callback_query"]
    assert await bot.answer_callback_query(cq["id"])
    with pytest.raises(TelegramRetryAfter):  # counting everything: the chat's second again
        await bot.edit_message_text("Question 7", chat_id=alice.id, message_id=question.message_id)
    assert tg.own_tap_edits == 3


async def test_send_photo_and_document_store_bytes(tg, bot):
    alice = tg.user(1001, "Aliya", started=True)
    png = tiny_png(640, 480)
    msg = await bot.send_photo(alice.id, BufferedInputFile(png, "chart.png"), caption="<i>Chart</i>",
                               parse_mode="HTML")
    assert msg.photo[-1].width == 640 and msg.photo[-1].height == 480
    assert msg.caption == "Chart"
    rec = tg.last(alice)
    assert rec["kind"] == "photo" and rec["photo"] == png and rec["caption"] == "Chart"
    assert tg.file_bytes(msg.photo[-1].file_id) == png
    # Re-send by file_id, and fetch the file back like a bot downloading it.
    again = await bot.send_photo(alice.id, msg.photo[-1].file_id)
    assert tg.last(alice)["photo"] == png and again.message_id == msg.message_id + 1
    assert (await bot.download(msg.photo[-1].file_id)).read() == png

    doc = await bot.send_document(alice.id, BufferedInputFile(b"a,b\n1,2\n", "tally.csv"))
    assert doc.document.file_name == "tally.csv"
    rec = tg.last(alice)
    assert rec["document"] == b"a,b\n1,2\n" and rec["filename"] == "tally.csv"


async def test_get_updates_offset_limit_and_long_poll(tg, bot):
    alice = tg.user(1001, "Aliya")
    u1 = tg.send(alice, "/start")
    u2 = tg.send(alice, "hello @qatysu_test_bot")
    assert u1["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert u2["message"]["entities"][0]["type"] == "mention"
    assert u2["update_id"] == u1["update_id"] + 1
    assert u2["message"]["message_id"] == u1["message"]["message_id"] + 1

    first = await bot.get_updates(limit=1, timeout=0)
    assert [u.update_id for u in first] == [u1["update_id"]]
    both = await bot.get_updates(timeout=0)  # no offset: nothing confirmed yet
    assert [u.update_id for u in both] == [u1["update_id"], u2["update_id"]]
    rest = await bot.get_updates(offset=u1["update_id"] + 1, timeout=0)
    assert [u.update_id for u in rest] == [u2["update_id"]]
    assert tg.pending() == 1 and tg.confirmed_offset == u1["update_id"] + 1

    # Long poll: returns as soon as an update arrives, not after the timeout.
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(offset=u2["update_id"] + 1, timeout=5,
                                               allowed_updates=["message"]))
    await asyncio.sleep(0.05)
    assert tg.pending() == 0 and not poll.done()
    u3 = tg.send(alice, "third")
    got = await asyncio.wait_for(poll, 2)
    assert [u.update_id for u in got] == [u3["update_id"]] and time.monotonic() - started < 1
    assert got[0].message.text == "third"

    # allowed_updates persists: a callback query is now not delivered.
    await bot.send_message(alice.id, "k", reply_markup=keyboard(
        InlineKeyboardButton(text="b", callback_data="b")))
    tg.press(alice, tg.last(alice), "b")
    assert len(tg.dropped_updates) == 1

    # Redelivery hands out the very same update again.
    await bot.get_updates(offset=u3["update_id"] + 1, timeout=0)
    tg.redeliver(u3)
    again = await bot.get_updates(offset=u3["update_id"] + 1, timeout=0)
    assert [u.update_id for u in again] == [u3["update_id"]]
    await bot.get_updates(offset=u3["update_id"] + 1, timeout=0)
    assert tg.pending() == 0


async def test_limits_and_faults(tg, bot):
    alice = tg.user(1001, "Aliya", started=True)
    group = tg.group(-100, "Group", with_bot=True)
    tg.enforce_limits(per_chat_per_sec=1, group_per_min=20, global_per_sec=30)
    await bot.send_message(alice.id, "one")
    with pytest.raises(TelegramRetryAfter) as exc:
        await bot.send_message(alice.id, "two")
    assert exc.value.retry_after == 1 and tg.count_429 == 1
    await bot.send_message(group.id, "other chat is fine")
    tg.disable_limits()

    tg.fail_next(1, status=500)
    with pytest.raises(TelegramServerError):
        await bot.send_message(alice.id, "boom")
    await bot.send_message(alice.id, "recovered")
    tg.fail_next(1, status=502, body="<html>Bad Gateway</html>")
    with pytest.raises(ClientDecodeError):
        await bot.send_message(alice.id, "proxy page")

    tg.throttle_for(5, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as exc:
        await bot.get_me()
    assert exc.value.retry_after == 7 and tg.count_429 == 2
    tg.throttle_for(0)

    tg.slow(0.5)
    slow_bot = Bot(tg.token, session=tg.session(timeout=0.1))
    with pytest.raises(TelegramNetworkError):
        await slow_bot.send_message(alice.id, "arrives though the client timed out")
    await slow_bot.session.close()
    tg.slow(0)
    assert tg.last(alice)["text"] == "arrives though the client timed out"
    assert [c.status for c in tg.calls("sendMessage")] == [200, 429, 200, 500, 200, 502, 200]


async def test_commands_webhook_info_chat_and_members(tg, bot):
    alice = tg.user(1001, "Aliya", started=True)
    group = tg.group(-100, "Group", with_bot=True)
    await bot.set_my_commands([BotCommand(command="start", description="Бастау")], language_code="kk")
    assert tg.commands_for(language_code="kk") == [{"command": "start", "description": "Бастау"}]
    assert (await bot.get_my_commands(language_code="kk"))[0].command == "start"
    await bot.delete_my_commands(language_code="kk")
    assert tg.commands_for(language_code="kk") is None

    assert (await bot.get_chat(group.id)).title == "Group"
    assert (await bot.get_chat_member(group.id, alice.id)).status == "member"
    tg.set_member(group, alice, "administrator")
    assert (await bot.get_chat_member(group.id, alice.id)).status == "administrator"
    assert (await bot.get_chat_member(group.id, tg.bot_id)).status == "member"
    assert await bot.send_chat_action(alice.id, "typing")

    await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="s3cret")
    info = await bot.get_webhook_info()
    assert info.url == "http://127.0.0.1:9/hook" and tg.webhook_secret == "s3cret"
    with pytest.raises(TelegramConflictError):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == ""


def test_parse_formatted():
    assert parse_formatted("<b>a</b> &lt;b&gt; <a href='https://x.y'>l</a>", "HTML") == (
        "a <b> l",
        [{"type": "bold", "offset": 0, "length": 1},
         {"type": "text_link", "offset": 6, "length": 1, "url": "https://x.y"}],
    )
    assert parse_formatted("*Қатысу* 1\\.0", "MarkdownV2") == (
        "Қатысу 1.0", [{"type": "bold", "offset": 0, "length": 6}])
    with pytest.raises(Exception, match="reserved"):
        parse_formatted("1.0", "MarkdownV2")
    with pytest.raises(Exception, match="end tag"):
        parse_formatted("<b>open", "HTML")


async def test_dispatcher_polling_end_to_end(tg, bot):
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer(
            f"Сәлем, {message.from_user.first_name}!",
            reply_markup=keyboard(InlineKeyboardButton(text="Қатысу", callback_data="join")),
        )
        await message.answer("<i>Қош келдіңіз</i>", parse_mode="HTML")

    @router.callback_query(F.data == "join")
    async def join(query: CallbackQuery) -> None:
        await query.message.edit_text("Қосылдыңыз ✅")
        await query.answer("OK")

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=5))
    try:
        alice = tg.user(1001, "Әлия")
        start_update = tg.send(alice, "/start")
        await asyncio.sleep(0.05)  # replies may already be there: waiting still finds them
        msg = await tg.next_message(alice)
        assert msg["text"] == "Сәлем, Әлия!"
        assert tg.buttons(msg)[0]["callback_data"] == "join"
        assert (await tg.next_message(alice))["text"] == "Қош келдіңіз"  # walks on
        await tg.assert_silent(alice, within=0.05)

        press = tg.press_button(alice, msg, "Қатысу")
        assert (await tg.answer_to(press))["text"] == "OK"
        assert msg["text"] == "Қосылдыңыз ✅" and msg["edits"] == 1

        await tg.wait_confirmed()
        assert tg.confirmed_offset == press["update_id"] + 1

        # A duplicate delivery reaches the handlers again (dedup is the bot's job).
        tg.redeliver(start_update)
        await tg.next_message(alice, contains="Сәлем")
        await tg.next_message(alice, contains="Қош")
        await tg.assert_silent(alice, within=0.05)
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 2)
    assert sorted(tg.allowed_updates) == ["callback_query", "message"]


async def test_webhook_delivery(tg, bot):
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message):
        if message.chat.type == "private":
            await message.answer("polled-style reply")
        return SendMessage(chat_id=message.chat.id, text="reply in webhook response")

    dp = Dispatcher()
    dp.include_router(router)
    app = web.Application()
    SimpleRequestHandler(dp, bot, handle_in_background=False, secret_token="hook_secret").register(
        app, path="/hook")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="hook_secret")
        alice = tg.user(1001, "Aliya")
        update = tg.send(alice, "/start")
        assert tg.pending() == 1
        assert await tg.deliver_webhook(update, secret="wrong") == 401
        assert await tg.deliver_webhook(update) == 200
        assert tg.pending() == 0
        texts = [m["text"] for m in tg.messages(alice)]
        assert texts == ["polled-style reply", "reply in webhook response"]
        assert tg.sent[-1].via == "webhook-reply"
    finally:
        await runner.cleanup()


async def test_polling_survives_get_updates_errors_and_group_commands(tg, bot):
    from aiogram.utils.backoff import BackoffConfig

    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.reply(f"hello {message.chat.type}")

    @router.my_chat_member()
    async def added(event) -> None:
        await bot.send_message(event.chat.id, f"thanks, {event.from_user.first_name}")

    dp = Dispatcher()
    dp.include_router(router)
    tg.fail_next(2, status=502, methods="getUpdates")
    fast = BackoffConfig(min_delay=0.01, max_delay=0.02, factor=1.1, jitter=0)
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, polling_timeout=5, backoff_config=fast))
    try:
        alice = tg.user(1001, "Aliya")
        group = tg.group(-1001234567890, "Ауыл кеңесі")
        tg.add_bot_to_group(alice, group)
        assert (await tg.next_message(group))["text"] == "thanks, Aliya"
        cmd = tg.send(alice, "/start@qatysu_test_bot", chat=group)
        assert cmd["message"]["entities"][0]["length"] == len("/start@qatysu_test_bot")
        reply = await tg.next_message(group)
        assert reply["text"] == "hello supergroup"
        assert reply["raw"]["reply_to_message"]["message_id"] == cmd["message"]["message_id"]
        assert tg.stats["getUpdates"] >= 3
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 2)


async def test_user_contact_photo_privacy_and_captions(tg, bot):
    alice = tg.user(1001, "Aliya", last_name="N")
    contact = tg.share_contact(alice, "+77001234567")["message"]["contact"]
    assert contact == {"phone_number": "+77001234567", "first_name": "Aliya", "user_id": 1001,
                       "last_name": "N"}
    photo_update = tg.send_photo_from_user(alice, caption="our street")
    updates = await bot.get_updates(timeout=0)
    assert updates[0].message.contact.user_id == 1001
    file_id = updates[1].message.photo[-1].file_id
    assert (await bot.download(file_id)).read() == tg.file_bytes(file_id)
    assert photo_update["message"]["caption"] == "our street"

    sent = await bot.send_photo(alice.id, BufferedInputFile(tiny_png(), "p.png"), caption="v1")
    await bot.edit_message_caption(chat_id=alice.id, message_id=sent.message_id, caption="v2")
    assert tg.last(alice)["caption"] == "v2"
    with pytest.raises(TelegramBadRequest, match="no text in the message"):
        await bot.edit_message_text("x", chat_id=alice.id, message_id=sent.message_id)

    tg.privacy_mode = True
    group = tg.group(-5, "Chat", with_bot=True)
    tg.send(alice, "just chatting", chat=group)
    tg.send(alice, "/vote@other_bot", chat=group)
    tg.send(alice, "/vote", chat=group)
    assert len(tg.dropped_updates) == 2 and tg.pending() == 3
