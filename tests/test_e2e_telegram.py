"""End to end: the real bot (aiogram's real HTTP session, dispatcher, storage, charts) against a
fake Telegram Bot API on 127.0.0.1, with tests acting as several people in private and group chats."""

from __future__ import annotations

import asyncio
import os
import random
import re
import struct

import pytest

from bot.app import TelegramApp
from bot.config import Config
from bot.flows.types import Message as FlowMessage, Outcome
from bot.storage import ballots, updates
from tests.fakes import FakeTelegram

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"
NO_LIMITS = {"rate": 1000.0, "private_interval": 0.0, "group_interval": 0.0}  # the fake enforces none


class Bot:
    """The bot process: start, stop (and start again on the same database)."""

    def __init__(self, tg: FakeTelegram, db_path: str, **overrides) -> None:
        from tests.conftest import store_target  # QATYSU_TEST_STORE=postgresql: a PostgreSQL database instead

        self.tg, self.overrides = tg, {"double_tap": 0.0, "limits": NO_LIMITS, **overrides}
        self.db_path = store_target(db_path)
        self.app: TelegramApp | None = None

    async def start(self) -> TelegramApp:
        if "://" not in self.db_path and not os.path.exists(self.db_path):  # a new database: a copy of one migrated once (tests/conftest.py)
            from tests.conftest import migrated_database

            migrated_database(self.db_path)
        config = Config(db_path=self.db_path, telegram_token=TOKEN, telegram_api_base=self.tg.base_url)
        self.app = TelegramApp(config, rng=random.Random(5), edit_interval=0.2, polling_timeout=1,
                               session=self.tg.session(), retry_delay=0.02, **self.overrides)
        await self.app.start()
        return self.app

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None


async def say(tg, user, text, chat=None, contains=None):
    tg.send(user, text, chat)
    return await tg.next_message(chat or user.id, contains=contains)


async def tap(tg, user, message, label, chat=None):
    update = tg.press_button(user, message, label) if chat is None else tg.press(
        user, message, tg.button(message, label)["callback_data"], chat=chat)
    return update, await tg.answer_to(update)


AGREE = {"қазақша": "Келісемін", "русский": "Даю согласие", "English": "I agree"}


async def onboard(tg, user, language: str, name: str | None = None):
    """/start → language → consent → name; returns the menu that follows the greeting."""
    choose = await say(tg, user, "/start")
    tg.press_button(user, choose, language)
    consent = await tg.next_message(user.id)
    tg.press_button(user, consent, AGREE[language])
    ask = await tg.next_message(user.id)
    if name is None:
        tg.press_button(user, ask, user.first_name)
    else:
        tg.send(user, name)
    await tg.next_message(user.id)  # the greeting
    return await tg.next_message(user.id)


async def new_community(tg, user) -> str:
    await say(tg, user, "/new")
    await say(tg, user, "Көктерек ауылы")
    created = await say(tg, user, "Талғар ауданы")
    return re.search(r"start=([A-Z0-9]+)", created["text"]).group(1)


async def join(tg, user, code, language):
    await say(tg, user, f"/start {code}")
    msg = tg.last(user.id)
    tg.press_button(user, msg, language)
    consent = await tg.next_message(user.id)
    tg.press_button(user, consent, AGREE[language])
    ask = await tg.next_message(user.id)
    tg.press_button(user, ask, user.first_name)
    await tg.next_message(user.id)  # the greeting
    welcome = await tg.next_message(user.id)
    await tg.next_message(user.id)  # the menu
    return welcome


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


# --- foundation ----------------------------------------------------------------------------
async def test_facilitator_onboards_and_creates_a_community(tg, bot):
    aigerim = tg.user(1, "Айгерим", "kk")
    menu = await onboard(tg, aigerim, "қазақша")
    assert "Қауымдастық құру" in str(menu["reply_markup"])
    code = await new_community(tg, aigerim)
    created = tg.last(aigerim.id)["text"]
    assert f"https://t.me/qatysu_test_bot?start={code}" in created
    assert f"startgroup={code}" in created
    assert tg.commands_for(language_code="ru")  # the client's command menu, in each language


async def test_members_join_by_link_in_their_languages_and_the_group_is_linked(tg, bot):
    aigerim, olga, john = tg.user(1, "Айгерим", "kk"), tg.user(2, "Ольга", "ru"), tg.user(3, "John", "en")
    await onboard(tg, aigerim, "қазақша")
    code = await new_community(tg, aigerim)
    welcome = await join(tg, olga, code, "русский")
    assert "Көктерек ауылы" in welcome["text"]  # the community's name as its facilitator wrote it
    assert "Добро пожаловать" in welcome["text"]
    assert "Welcome to" in (await join(tg, john, code, "English"))["text"]

    group = tg.group(-100123, "Көктерек", with_bot=True)
    refused = await say(tg, olga, f"/link {code}", group)
    assert "фасилитатор" in refused["text"]
    linked = await say(tg, aigerim, f"/link {code}", group)
    assert "байланыстырылды" in linked["text"]
    next_refused = await say(tg, john, "/next", group)
    assert "Only the community's facilitator" in next_refused["text"]
    moved = await say(tg, aigerim, "/next", group)
    assert "2-қадам" in moved["text"]
    status = await say(tg, olga, "/status")
    assert "▶️ 2." in status["text"]


async def test_startgroup_link_ties_the_group(tg, bot):
    aigerim = tg.user(1, "Айгерим", "kk")
    await onboard(tg, aigerim, "қазақша")
    code = await new_community(tg, aigerim)
    group = tg.group(-100555, "Ауыл")
    tg.add_bot_to_group(aigerim, group)
    hello = await tg.next_message(group.id)
    assert "/link" not in hello["text"]  # the group link's /start CODE comes next: nothing to send by hand
    linked = await say(tg, aigerim, f"/start {code}", group)
    assert "байланыстырылды" in linked["text"]


async def test_a_restart_mid_onboarding_resumes_where_the_person_was(tg, tmp_path):
    runner = Bot(tg, str(tmp_path / "restart.db"))
    await runner.start()
    olga = tg.user(2, "Ольга", "ru")
    menu = await say(tg, olga, "/start")
    tg.press_button(olga, menu, "русский")
    consent = await tg.next_message(olga.id)
    tg.press_button(olga, consent, "Даю согласие")
    await tg.next_message(olga.id, contains="имя")
    await runner.stop()
    tg.send(olga, "Ольга Петровна")  # arrives while the bot is down
    await runner.start()
    greeting = await tg.next_message(olga.id, timeout=10)
    assert "Приятно познакомиться, Ольга Петровна" in greeting["text"]
    await runner.stop()


async def test_a_duplicate_update_is_ignored(tg, bot):
    aigerim = tg.user(1, "Айгерим", "kk")
    await onboard(tg, aigerim, "қазақша")
    update = tg.send(aigerim, "/new")
    await tg.next_message(aigerim.id)
    before = len(tg.messages(aigerim.id))
    tg.redeliver(update)
    await tg.wait_confirmed()
    await tg.assert_silent(aigerim.id, within=0.5)
    assert len(tg.messages(aigerim.id)) == before


async def test_bad_input_over_http_is_answered_and_escaped(tg, bot):
    john = tg.user(3, "John", "en")
    await onboard(tg, john, "English", name="<b>John</b> & co")
    greeting = tg.messages(john.id)[-2]
    assert "<b>John</b> & co" in greeting["text"]  # shown literally, not as markup
    unknown = await say(tg, john, "/frobnicate")
    assert "don't know the command" in unknown["text"]
    stale = tg.press(john, tg.messages(john.id)[0], "lang:xx", strict=False)
    answer = await tg.answer_to(stale)
    assert "no longer works" in answer["text"]
    bad_code = await say(tg, john, "/start NOPE1234")
    assert "No community has the code" in bad_code["text"]


async def test_a_shared_contact_saves_only_the_senders_own_number(tg, bot):
    john, mary = tg.user(3, "John", "en"), tg.user(4, "Mary", "en")
    await onboard(tg, john, "English")
    tg.share_contact(john, "+7 701 555 0101", owner=mary)
    reply = await tg.next_message(john.id)
    assert "someone else's contact" in reply["text"]
    tg.share_contact(john, "+7 701 555 0202")
    assert "phone number is saved" in (await tg.next_message(john.id))["text"]
    async with bot.app.db.transaction() as tx:
        phones = [row[0] for row in await tx.all("SELECT phone FROM members")]
    assert phones == ["+77015550202"]


async def test_webhook_mode_checks_the_secret_and_answers_a_retry_only_if_unanswered(tg, tmp_path, unused_tcp_port):
    runner = Bot(tg, str(tmp_path / "hook.db"))
    runner.overrides = {}
    config = Config(db_path=runner.db_path, telegram_token=TOKEN, telegram_api_base=tg.base_url,
                    telegram_webhook_url=f"http://127.0.0.1:{unused_tcp_port}", telegram_webhook_secret="s3cret",
                    http_host="127.0.0.1", http_port=unused_tcp_port)
    app = TelegramApp(config, rng=random.Random(1), session=tg.session())
    await app.start()
    try:
        john = tg.user(3, "John", "en")
        update = tg.send(john, "/start")
        assert await tg.deliver_webhook(update, secret="wrong") in (401, 403)
        assert await tg.deliver_webhook(update) == 200
        hello = await tg.next_message(john.id)
        assert "Choose your language" in hello["text"]
        # Telegram sends an update again only when it got no 200. If the bot died before
        # answering, the retry is not handled twice, but its answer is given again; here the
        # answer went out (only the 200 was lost), so the retry is silent.
        async with app.db.transaction() as tx:
            kept = await tx.scalar("SELECT reply FROM processed_updates WHERE update_id = ?",
                                   (str(update["update_id"]),))
        assert kept is None, "an answer that went out is kept no longer"
        assert await tg.deliver_webhook(update) == 200
        await tg.assert_silent(john.id, within=0.5)
        died = tg.send(john, "/help")  # handled and committed, but the process died before answering
        async with app.db.transaction() as tx:
            await updates.claim(tx, "telegram", str(died["update_id"]), "2026-01-01T00:00:00+00:00")
            await updates.keep_reply(tx, "telegram", str(died["update_id"]),
                                     Outcome(messages=[FlowMessage("telegram", str(john.id), "The answer it died before")]))
        assert await tg.deliver_webhook(died) == 200
        assert (await tg.next_message(john.id))["text"] == "The answer it died before"
    finally:
        await app.stop()


@pytest.fixture
def unused_tcp_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- step 1 --------------------------------------------------------------------------------
PROBLEMS = ["Жол жөндеу керек, көктемде су басып қалады", "Балалар алаңы жоқ", "Мектеп автобусы кешігеді",
            "Ауыз су жиі өшіп қалады", "Көше шамдары жанбайды"]


async def village(tg, n_members=5):
    aigerim = tg.user(1, "Айгерим", "kk")
    await onboard(tg, aigerim, "қазақша")
    code = await new_community(tg, aigerim)
    group = tg.group(-100777, "Көктерек", with_bot=True)
    await say(tg, aigerim, f"/link {code}", group)
    members = []
    for i in range(n_members):
        user = tg.user(100 + i, f"Мүше{i}", ("kk", "ru", "en")[i % 3])
        await join(tg, user, code, {"kk": "қазақша", "ru": "русский", "en": "English"}[user.language_code])
        members.append(user)
    for member, text in zip(members * 5, PROBLEMS):
        await say(tg, member, f"/propose {text}")
    return aigerim, group, members


def button_for(message, number):
    for row in message["reply_markup"]["inline_keyboard"]:
        for b in row:
            if b["text"].startswith(f"{number} ·"):
                return b["callback_data"]
    raise LookupError(number)


async def test_sticker_voting_in_the_group_end_to_end(tg, bot):
    aigerim, group, members = await village(tg, 5)
    ballot = await say(tg, aigerim, "/poll dots", group)
    assert "Жапсырма" in ballot["text"]

    async def press(user, number):
        update = tg.press(user, ballot, button_for(ballot, number), chat=group)
        return (await tg.answer_to(update))["text"]

    assert await press(members[2], 1) == "Sticker placed on #1. 2 of 3 stickers left."
    assert await press(members[2], 2) == "Sticker placed on #2. 1 of 3 stickers left."
    assert await press(members[2], 3) == "Sticker placed on #3. 0 of 3 stickers left."
    assert "used all 3 stickers" in await press(members[2], 4)
    assert await press(members[2], 2) == "Sticker taken back from #2. 1 of 3 stickers left."
    assert "Осталось 2 из 3" in await press(members[1], 1)
    for member in (members[0], members[3], members[4]):
        await press(member, 1)
    stranger = tg.user(999, "Stranger", "en")
    stranger_answer = await tg.answer_to(tg.press(stranger, ballot, button_for(ballot, 2), chat=group))
    assert "private chat" in stranger_answer["text"]
    await asyncio.sleep(0.5)  # the coalesced group edit
    live = tg.message(group.id, ballot["message_id"])
    assert "1. Жол жөндеу керек, көктемде су басып қалады — 5" in live["text"]
    assert live["edits"] < 10  # taps are coalesced, not one edit each

    stale_data = button_for(ballot, 3)
    await say(tg, aigerim, "/close", group)
    photo = await tg.wait_for(lambda call: call.method == "sendPhoto")
    data = tg.file_bytes(photo.result["photo"][-1]["file_id"])
    width, height = png_size(data)
    assert width >= 800 and len(data) < 200_000
    assert "#1" in photo.params["caption"] and "Тексеру коды" in photo.params["caption"]
    closed = await tg.answer_to(tg.press(members[0], ballot, stale_data, chat=group, strict=False))
    assert "closed" in closed["text"] or "жабылды" in closed["text"]


async def test_a_group_upgraded_to_a_supergroup_keeps_its_link_and_its_open_ballot(tg, bot):
    aigerim, group, members = await village(tg, 3)
    await say(tg, aigerim, "/poll dots", group)
    supergroup = tg.upgrade_group(aigerim, group, -1001234567777)
    ballot = await tg.next_message(supergroup.id)  # the open ballot, posted again where the group now is
    assert "Жапсырма" in ballot["text"]
    john = members[2]  # English
    answer = await tg.answer_to(tg.press(john, ballot, button_for(ballot, 1), chat=supergroup))
    assert answer["text"].startswith("Sticker placed on #1")
    assert "1. " in (await say(tg, john, "/status", supergroup))["text"]  # the supergroup is the linked one
    await say(tg, aigerim, "/close", supergroup)
    photo = await tg.wait_for(lambda call: call.method == "sendPhoto")
    assert photo.params["chat_id"] == supergroup.id and "#1" in photo.params["caption"]
    assert not [c for c in tg.calls() if c.status != 200 and str(c.params.get("chat_id")) == str(group.id)]


async def test_posts_queued_for_a_group_just_upgraded_reach_the_supergroup(tg, bot):
    aigerim, group, members = await village(tg, 2)
    ballot = await say(tg, aigerim, "/poll dots", group)
    await tg.answer_to(tg.press(members[0], ballot, button_for(ballot, 1), chat=group))
    tg.send(aigerim, "/close", group)  # sent just before the upgrade: its result goes to the old id
    supergroup = tg.upgrade_group(aigerim, group, -1001234567888)
    photo = await tg.wait_for(lambda call: call.method == "sendPhoto" and call.status == 200, timeout=10)
    assert photo.params["chat_id"] == supergroup.id and "#1" in photo.params["caption"]


async def test_a_ballot_posted_as_the_group_is_upgraded_is_posted_once_and_stays_live(tg, bot):
    """The post meant for the old group is redirected to the supergroup: the bot remembers it
    there, so its counts stay live and it is not posted a second time when the upgrade arrives."""
    aigerim, group, members = await village(tg, 2)
    tg.send(aigerim, "/poll dots", group)  # its ballot post goes to the old id, refused, sent again
    supergroup = tg.upgrade_group(aigerim, group, -1001234567999)
    ballot = await tg.next_message(supergroup.id, contains="Жапсырма")
    await tg.answer_to(tg.press(members[0], ballot, button_for(ballot, 1), chat=supergroup))
    edit = await tg.wait_for(lambda call: call.method == "editMessageText" and call.status == 200, timeout=5)
    assert edit.params["message_id"] == ballot["message_id"] and "1. " in edit.params["text"]
    await asyncio.sleep(0.5)  # time for a second post, if one were coming
    posts = [c for c in tg.calls("sendMessage") if c.status == 200 and "Жапсырма" in c.params["text"]]
    assert [c.params["chat_id"] for c in posts] == [supergroup.id]


async def test_matrix_and_pairwise_in_private_through_the_deep_link(tg, bot):
    aigerim, group, members = await village(tg, 3)
    invitation = await say(tg, aigerim, "/poll matrix 1 2 3", group)
    link = invitation["reply_markup"]["inline_keyboard"][0][0]["url"]
    payload = link.split("start=")[1]
    john = members[2]  # English
    question = await say(tg, john, f"/start {payload}")
    for _ in range(3):
        assert "important" in question["text"]
        tg.press_button(john, question, "3")
        question = await tg.next_edit(question)
        assert "urgent" in question["text"]
        tg.press_button(john, question, "2")
        question = await tg.next_edit(question)
    assert "scored all 3 problems" in question["text"]

    invitation = await say(tg, aigerim, "/poll pairwise 1 2 3 4", group)
    payload = invitation["reply_markup"]["inline_keyboard"][0][0]["url"].split("start=")[1]
    pair = await say(tg, john, f"/start {payload}")
    for _ in range(6):
        assert "more pressing" in pair["text"]
        labels = [b["text"] for row in pair["reply_markup"]["inline_keyboard"] for b in row]
        tg.press_button(john, pair, min(labels, key=lambda t: int(t.split("#")[1].split()[0])))
        pair = await tg.next_edit(pair)
    assert "compared all 6 pairs" in pair["text"]
    async with bot.app.db.transaction() as tx:
        assert len((await ballots.all_answers(tx, 2))[4]) == 6
        assert len((await ballots.all_scores(tx, 1))[4]) == 3


async def test_two_hundred_members_tapping_at_once_lose_no_vote(tg, bot):
    aigerim = tg.user(1, "Айгерим", "kk")
    await onboard(tg, aigerim, "қазақша")
    await new_community(tg, aigerim)
    group = tg.group(-100888, "Көктерек", with_bot=True)
    code = re.search(r"start=([A-Z0-9]+)", tg.messages(aigerim.id)[-1]["text"]).group(1)
    await say(tg, aigerim, f"/link {code}", group)
    for text in PROBLEMS[:4]:
        await say(tg, aigerim, f"/propose {text}")
    # 200 members joined earlier (stored directly: onboarding 200 people over HTTP is not the point)
    db = bot.app.db
    users = [tg.user(5000 + i, f"M{i}", "kk") for i in range(200)]
    async with db.transaction() as tx:
        for user in users:
            member_id = await tx.insert("INSERT INTO members (name, locale, consent_at, created_at)"
                                        " VALUES (?, 'kk', 'now', 'now')", (user.first_name,))
            await tx.execute("INSERT INTO identities VALUES ('telegram', ?, ?, 'now')", (str(user.id), member_id))
            await tx.execute("INSERT INTO memberships (community_id, member_id, role, joined_at)"
                             " VALUES (1, ?, 'member', 'now')", (member_id,))
    ballot = await say(tg, aigerim, "/poll dots 3", group)
    updates = []
    for user in users:  # everyone taps #1, #2, #3, #4 and #1 again at once: the 4th is refused
        for number in (1, 2, 3, 4):
            updates.append(tg.press(user, ballot, button_for(ballot, number), chat=group))
    await asyncio.gather(*(tg.answer_to(u, timeout=60) for u in updates))
    async with db.transaction() as tx:
        stickers = await ballots.all_stickers(tx, 1)
        counts = dict(await ballots.options(tx, 1))
        turnout = (await ballots.get(tx, 1)).turnout
    assert len(stickers) == 200 and turnout == 200
    assert all(sum(s.values()) == 3 for s in stickers.values())
    assert sum(counts.values()) == 600
    refused = [tg.callback_answers[u["callback_query"]["id"]]["text"] for u in updates]
    assert sum("барлық 3 жапсырманы пайдаландыңыз" in text for text in refused) == 200
    # nothing per person is kept in memory (aiogram's default FSM storage would hold 200+ records;
    # updates reach the engine without aiogram's Dispatcher, through a handler holding no state)
    assert not hasattr(bot.app, "dp") and set(vars(bot.app.updates)) == {"bot", "engine", "delivery"}
