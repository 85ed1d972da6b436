"""Telegram's updates read from their JSON (``bot/handlers/telegram_updates.py``) give the events
aiogram's models and Dispatcher gave before (``reference_router`` below is that code, unchanged
but for recording the events instead of handling them), for every kind the bot reads and for the
odd ones; an update that cannot be read is dropped, logged, and its sender hears nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message as TgMessage, Update

from bot.flows.types import Event
from bot.handlers.telegram_updates import Malformed, read

BOT = "qatysu_test_bot"
MAX_PHOTO_BYTES = 20 * 1024 * 1024
_COMMAND = re.compile(r"/(\S+)\s*(.*)", re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")


# --- the translation as it was, on aiogram's models (bot/handlers/telegram.py before the change) ---
def _command(text, bot_username):
    found = _COMMAND.match(text)
    if found is None:
        return None
    name, _, addressee = found.group(1).partition("@")
    if addressee and addressee.lower() != bot_username.lower():
        return None
    return name.lower()[:64], found.group(2).strip()


def _clean(text):
    try:
        text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def reference_router(seen: list) -> Router:
    router = Router()

    async def run(event):
        seen.append((event, None))

    @router.message()
    async def on_message(message: TgMessage, event_update: Update, retry: bool = False) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        is_group = message.chat.type in ("group", "supergroup")
        base = dict(channel="telegram", user_id=str(user.id), chat_id=str(message.chat.id), is_group=is_group,
                    update_id=str(event_update.update_id), retry=retry, user_name=_clean(user.full_name),
                    user_lang=user.language_code, chat_title=_clean(message.chat.title or ""))
        text = message.text or message.caption
        text = _clean(text) if text is not None else None
        if message.migrate_to_chat_id is not None and is_group:
            await run(Event(**base, group_moved_to=str(message.migrate_to_chat_id)))
            return
        if message.contact is not None and not is_group:
            if message.contact.user_id != user.id:
                await run(Event(**base, foreign_contact=True))
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
        parsed = _command(text, BOT)
        if parsed is not None:
            await run(Event(**base, command=parsed[0], args=parsed[1]))
        elif not is_group:
            await run(Event(**base, text=text))

    @router.callback_query()
    async def on_callback(query: CallbackQuery, event_update: Update, retry: bool = False) -> None:
        chat = query.message.chat if query.message else None
        is_group = chat is not None and chat.type in ("group", "supergroup")
        event = Event(channel="telegram", user_id=str(query.from_user.id),
                      chat_id=str(chat.id) if chat else str(query.from_user.id), is_group=is_group,
                      update_id=str(event_update.update_id), retry=retry, button=_clean(query.data or ""),
                      user_name=_clean(query.from_user.full_name), user_lang=query.from_user.language_code)
        seen.append((event, query.id))

    @router.my_chat_member(F.chat.type.in_({"group", "supergroup"}))
    async def on_added(update: ChatMemberUpdated, event_update: Update, retry: bool = False) -> None:
        was = update.old_chat_member.status
        now = update.new_chat_member.status
        if now in ("member", "administrator") and was in ("left", "kicked"):
            await run(Event(channel="telegram", user_id=str(update.from_user.id), chat_id=str(update.chat.id),
                            is_group=True, update_id=str(event_update.update_id), retry=retry, joined_group=True,
                            user_lang=update.from_user.language_code, chat_title=_clean(update.chat.title or "")))

    return router


async def through_aiogram(raw: dict) -> tuple[Event, str | None] | None:
    """What the aiogram path made of ``raw``: (event, callback id), None, or its parse error."""
    seen: list = []
    dp = Dispatcher()
    dp.include_router(reference_router(seen))
    bot = Bot("123:ABC")
    try:
        update = Update.model_validate(raw, context={"bot": bot})
        await dp.feed_update(bot, update)
    finally:
        await bot.session.close()
    assert len(seen) <= 1
    return seen[0] if seen else None


def through_raw(raw: dict) -> tuple[Event, str | None] | None:
    incoming = read(json.loads(json.dumps(raw)), BOT)
    return None if incoming is None else (incoming.event, incoming.callback_id)


# --- the corpus -----------------------------------------------------------------------------------
def user(uid=501, first="Әлия", last=None, lang="kk", is_bot=False, **extra):
    found = {"id": uid, "is_bot": is_bot, "first_name": first, **extra}
    if last is not None:
        found["last_name"] = last
    if lang is not None:
        found["language_code"] = lang
    return found


PRIVATE = {"id": 501, "type": "private", "first_name": "Әлия"}
GROUP = {"id": -1001234, "type": "supergroup", "title": "Көктерек <ауылы>"}
OLD_GROUP = {"id": -4321, "type": "group", "title": "Ескі топ"}
CHANNEL = {"id": -1009999, "type": "channel", "title": "Арна"}
PHOTO = [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 1000},
         {"file_id": "big", "file_unique_id": "b", "width": 1280, "height": 1280, "file_size": 200_000}]
HUGE = [{"file_id": "huge", "file_unique_id": "h", "width": 9000, "height": 9000, "file_size": MAX_PHOTO_BYTES + 1}]
DOC = {"file_id": "doc", "file_unique_id": "d", "file_name": "a.pdf"}


def msg(chat=PRIVATE, sender=None, **content):
    found = {"message_id": 7, "date": 1_700_000_000, "chat": chat, **content}
    if sender is not False:
        found["from"] = sender or user()
    return found


def cb(message=None, sender=None, data="d:1:2", **extra):
    found = {"id": "4242", "from": sender or user(), "chat_instance": "ci", **extra}
    if data is not None:
        found["data"] = data
    if message is not None:
        found["message"] = message
    return found


def member_change(chat, old, new, sender=None):
    bot_user = {"id": 999, "is_bot": True, "first_name": "Qatysu", "username": BOT}
    return {"chat": chat, "from": sender or user(), "date": 1_700_000_000,
            "old_chat_member": {"status": old, "user": bot_user, **({"until_date": 0} if old == "kicked" else {})},
            "new_chat_member": {"status": new, "user": bot_user, **(_admin() if new == "administrator" else {}),
                                **({"until_date": 0} if new == "kicked" else {})}}


def _admin():
    from aiogram.types import ChatMemberAdministrator

    return {name: False for name, field in ChatMemberAdministrator.model_fields.items()
            if field.is_required() and name not in ("status", "user")}


CORPUS = {
    "private text": {"message": msg(text="Жол жөндеу керек")},
    "private text, full name, no language": {"message": msg(sender=user(first="Ivan", last="Petrov", lang=None),
                                                            text="hello")},
    "start with a deep link": {"message": msg(text="/start b_12")},
    "command, upper case, argument on the next line": {"message": msg(text="/Propose\nЖол жоқ")},
    "command for this bot in the group": {"message": msg(GROUP, text=f"/propose@{BOT.upper()} Су жоқ")},
    "command for another bot in the group": {"message": msg(GROUP, text="/propose@otherbot Су жоқ")},
    "command for another bot in private": {"message": msg(text="/help@otherbot")},
    "a lone slash": {"message": msg(text="/")},
    "group chatter": {"message": msg(GROUP, text="сәлем бәрі")},
    "basic group command": {"message": msg(OLD_GROUP, text="/link ABC123")},
    "group sticker": {"message": msg(GROUP, sticker={"file_id": "s", "file_unique_id": "s", "type": "regular",
                                                     "width": 1, "height": 1, "is_animated": False,
                                                     "is_video": False})},
    "private sticker": {"message": msg(sticker={"file_id": "s", "file_unique_id": "s", "type": "regular",
                                                "width": 1, "height": 1, "is_animated": False, "is_video": False})},
    "empty text, a caption": {"message": msg(text="", caption="/propose from a caption")},
    "no from: a channel's post in the group": {"message": msg(GROUP, sender=False, sender_chat=CHANNEL,
                                                              text="/propose x")},
    "anonymous admin (a bot sender)": {"message": msg(GROUP, sender=user(1087968824, "Group", is_bot=True),
                                                      sender_chat=GROUP, text="/propose x")},
    "a bot in private": {"message": msg(sender=user(4242, "Robot", is_bot=True), text="/start")},
    "channel post": {"channel_post": msg(CHANNEL, sender=False, sender_chat=CHANNEL, text="/propose x")},
    "edited message": {"edited_message": msg(text="/propose edited", edit_date=1_700_000_100)},
    "edited channel post": {"edited_channel_post": msg(CHANNEL, sender=False, text="x", edit_date=1)},
    "surrogates in text, name and title": {"message": msg({**GROUP, "title": "топ\ud800"},
                                                          sender=user(first="Ә\udc00", last="\ud83d"),
                                                          text="/propose жол\ud800 жоқ")},
    "surrogate in private text": {"message": msg(text="x\udfffy")},
    "own contact": {"message": msg(contact={"phone_number": "+77011234567", "first_name": "Әлия", "user_id": 501})},
    "someone else's contact": {"message": msg(contact={"phone_number": "+77019999999", "first_name": "B",
                                                       "user_id": 77})},
    "a contact without a user id": {"message": msg(contact={"phone_number": "+77019999999", "first_name": "B"})},
    "a contact in the group": {"message": msg(GROUP, contact={"phone_number": "+7701", "first_name": "B",
                                                              "user_id": 501})},
    "photo with a caption": {"message": msg(photo=PHOTO, caption="дәлел")},
    "photo without a caption": {"message": msg(photo=PHOTO)},
    "photo without a size": {"message": msg(photo=[{"file_id": "n", "file_unique_id": "n", "width": 1,
                                                    "height": 1}])},
    "a photo too large": {"message": msg(photo=HUGE, caption="big")},
    "a document": {"message": msg(document=DOC, caption="/propose in a caption")},
    "a video": {"message": msg(video={"file_id": "v", "file_unique_id": "v", "width": 1, "height": 1,
                                      "duration": 1})},
    "an audio": {"message": msg(audio={"file_id": "a", "file_unique_id": "a", "duration": 1})},
    "a photo in the group": {"message": msg(GROUP, photo=PHOTO, caption="/propose from a photo")},
    "group upgraded to a supergroup": {"message": msg(OLD_GROUP, migrate_to_chat_id=-1005555)},
    "migrate id in private": {"message": msg(migrate_to_chat_id=-1005555, text="x")},
    "tap in the group": {"callback_query": cb(msg(GROUP, sender=user(999, "Qatysu", is_bot=True), text="Ballot"))},
    "tap in private": {"callback_query": cb(msg(PRIVATE, sender=user(999, "Qatysu", is_bot=True), text="Q"),
                                            data="mx:3:1:2")},
    "tap on an inaccessible message": {"callback_query": cb({"chat": GROUP, "message_id": 3, "date": 0})},
    "tap on an inline message": {"callback_query": cb(None, inline_message_id="AAA")},
    "tap without data (a game)": {"callback_query": cb(msg(GROUP, text="game"), data=None, game_short_name="g")},
    "tap with a surrogate and a long name": {"callback_query": cb(msg(GROUP, text="x"), data="d:\ud800",
                                                                  sender=user(first="Ж" * 64, last="Ы" * 64))},
    "tap by a bot": {"callback_query": cb(msg(GROUP, text="x"), sender=user(55, "Bot", is_bot=True))},
    "added to the group": {"my_chat_member": member_change(GROUP, "left", "member")},
    "added as an admin after a kick": {"my_chat_member": member_change(OLD_GROUP, "kicked", "administrator")},
    "removed from the group": {"my_chat_member": member_change(GROUP, "member", "left")},
    "promoted": {"my_chat_member": member_change(GROUP, "member", "administrator")},
    "blocked in private": {"my_chat_member": member_change(PRIVATE, "member", "kicked")},
    "unblocked in private": {"my_chat_member": member_change(PRIVATE, "kicked", "member")},
    "added to a channel": {"my_chat_member": member_change(CHANNEL, "left", "administrator")},
    "someone else joined": {"chat_member": member_change(GROUP, "left", "member")},
    "ids as numeric strings (aiogram's models read them as numbers)": {
        "message": msg({"id": "501", "type": "private"}, sender=user(uid="501"), text="x")},
    "inline query": {"inline_query": {"id": "1", "from": user(), "query": "x", "offset": ""}},
    "an unknown future kind": {"some_future_kind": {"id": 1}},
    "nothing but an id": {},
}


@pytest.mark.filterwarnings("ignore:Detected unknown update type:RuntimeWarning")
@pytest.mark.parametrize("name", list(CORPUS))
async def test_an_update_gives_the_event_aiograms_path_gave(name):
    raw = {"update_id": 100 + list(CORPUS).index(name), **CORPUS[name]}
    expected = await through_aiogram(raw)
    assert through_raw(raw) == expected


def test_the_corpus_reaches_every_branch():
    """Not a corpus of ignored updates: every kind of event comes out of it."""
    events = [found[0] for raw in CORPUS.values() if (found := through_raw({"update_id": 1, **raw}))]
    kinds = {"text": 0, "command": 0, "button": 0, "phone": 0, "foreign_contact": 0, "photo": 0, "attachment": 0,
             "joined_group": 0, "group_moved_to": 0}
    for event in events:
        for kind in kinds:
            kinds[kind] += bool(getattr(event, kind))
    assert all(kinds.values()), kinds


MALFORMED = {
    "not an object": [1, 2],
    "no update id": {"message": msg(text="x")},
    "an update id that is text": {"update_id": "seven", "message": msg(text="x")},
    "message without a chat": {"update_id": 1, "message": {"message_id": 1, "date": 1, "from": user(), "text": "x"}},
    "a chat id that is text": {"update_id": 1, "message": msg({"id": "x501", "type": "private"}, text="x")},
    "a chat without a type": {"update_id": 1, "message": msg({"id": 501}, text="x")},
    "a sender without an id": {"update_id": 1, "message": msg(sender={"is_bot": False, "first_name": "A"},
                                                               text="x")},
    "a sender without is_bot": {"update_id": 1, "message": msg(sender={"id": 1, "first_name": "A"}, text="x")},
    "text that is a number": {"update_id": 1, "message": msg(text=42)},
    "a tap without a sender": {"update_id": 1, "callback_query": {"id": "1", "chat_instance": "c", "data": "x"}},
    "a tap without an id": {"update_id": 1, "callback_query": {"from": user(), "chat_instance": "c", "data": "x"}},
    "a tap whose message has no chat": {"update_id": 1, "callback_query": cb({"message_id": 1, "date": 0})},
    "a member change without its new status": {"update_id": 1, "my_chat_member": {
        "chat": GROUP, "from": user(), "date": 1, "old_chat_member": {"status": "left", "user": user()}}},
    "a message that is a list": {"update_id": 1, "message": ["x"]},
    "a photo list of strings": {"update_id": 1, "message": msg(photo=["big"])},
    "a contact without a number": {"update_id": 1, "message": msg(contact={"first_name": "B", "user_id": 501})},
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_an_unreadable_update_is_malformed_as_aiogram_found_it(name):
    raw = MALFORMED[name]
    with pytest.raises(Malformed):
        read(raw, BOT)
    with pytest.raises(Exception):  # aiogram's model refused it too (pydantic's ValidationError)
        await through_aiogram(raw)


# --- over HTTP: the real bot polling the fake Bot API ------------------------------------------------
async def test_unreadable_updates_are_dropped_logged_and_unanswered_and_the_bot_goes_on(tg, bot, caplog):
    from tests.test_e2e_telegram import say

    alice = tg.user(601, "Алиса", "ru")
    await say(tg, alice, "/start")
    await asyncio.sleep(0.3)
    mark = tg.mark()
    with caplog.at_level(logging.ERROR, logger="bot.handlers.polling"):
        bodies = [
            {"message": {"message_id": 90, "date": int(time.time()), "from": alice.to_dict(), "text": "/start"}},
            {"message": {"message_id": 91, "date": int(time.time()), "chat": {"id": "x", "type": "private"},
                         "from": alice.to_dict(), "text": "/help"}},
            {"callback_query": {"id": "q1", "chat_instance": "c", "data": "lang:kk"}},
            {"message": {**tg.user_message(alice, text="/help"), "text": 12}},
        ]
        for body in bodies:
            tg.push(body)
        await tg.wait_confirmed(10)
        await asyncio.sleep(0.3)
    assert [c for c in tg.calls(since=mark) if c.method.lower() != "getupdates"] == [], "nobody hears of them"
    dropped = [r for r in caplog.records if "cannot be parsed; dropped" in r.getMessage()]
    assert len(dropped) == len(bodies) and not any(r.exc_info for r in dropped), "one line each, no traceback"
    async with bot.app.db.transaction() as tx:
        assert await tx.scalar("SELECT count(*) FROM inbox") == 0, "nothing of them is kept"
    reply = await say(tg, alice, "/help")
    assert "/start" in reply["text"] or "/propose" in reply["text"]


async def test_by_webhook_an_unreadable_update_is_answered_200_dropped_and_logged(tg, tmp_path, caplog):
    """Telegram delivers again what got no 200: an update that cannot be read is answered 200 (or
    it would come back for ever), logged in one line, and its sender hears nothing; a body that
    is no JSON at all is a 400; the secret is still checked first."""
    import random
    import socket

    import aiohttp

    from bot.app import TelegramApp
    from bot.config import Config
    from tests.test_e2e_telegram import TOKEN

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = Config(db_path=str(tmp_path / "hook.db"), telegram_token=TOKEN, telegram_api_base=tg.base_url,
                    telegram_webhook_url=f"http://127.0.0.1:{port}", telegram_webhook_secret="s3cret",
                    http_host="127.0.0.1", http_port=port)
    app = TelegramApp(config, rng=random.Random(1), session=tg.session())
    await app.start()
    try:
        john = tg.user(3, "John", "en")
        mark = tg.mark()
        broken = {"update_id": 900, "message": {"message_id": 1, "date": 1, "from": john.to_dict(), "text": "/start"}}
        with caplog.at_level(logging.ERROR):
            assert await tg.deliver_webhook(broken, secret="wrong") == 401
            assert await tg.deliver_webhook(broken) == 200
        assert "update 900 cannot be parsed; dropped: message.chat is missing" in caplog.text
        assert not any(r.exc_info for r in caplog.records), "no traceback"
        async with aiohttp.ClientSession() as client:
            async with client.post(f"http://127.0.0.1:{port}/telegram/webhook", data=b"{not json",
                                   headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}) as resp:
                assert resp.status == 400
        await tg.assert_silent(john.id, within=0.3)
        assert [c for c in tg.calls(since=mark) if c.method.lower() != "getupdates"] == []
        assert await tg.deliver_webhook(tg.send(john, "/start")) == 200  # and the next one is handled
        assert "Choose your language" in (await tg.next_message(john.id))["text"]
    finally:
        await app.stop()
