"""Hostile input through the Telegram adapter: the real bot over HTTP against the fake Bot API.

tests/test_fuzz_flows.py fuzzes the flows with ``Event``s; here the odd things reach the bot as
Telegram would send them (``bot/handlers/telegram.py`` turns them into events): strange text as
free text and as commands' arguments, forged callback data, update kinds the bot does not handle,
commands for another bot. After each: the bot answers (or is silent on purpose), every answer is
accepted by Telegram (it refuses malformed HTML and over-long text), every button press gets its
answerCallbackQuery, nothing is logged at ERROR, the polling loop goes on, and a normal action
afterwards still works (PRODUCT.md, "Bad input").
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.storage.db import Database
from tests.test_e2e_telegram import button_for, new_community, onboard, say, village

SEND = {"sendmessage", "sendphoto", "senddocument"}

HOSTILE = {
    "markup": "<b>жол</b> & <script>alert(1)</script> &amp; <a href='x'>",  # first: five proposals a while
    "nul": "Жол\x00жөндеу\x00керек",
    "rtl": "\u202eжол жөндеу\u202c \u200fкерек\u200e",
    "zwj": "👨\u200d👩\u200d👧 ба\u200bлалар\u200c алаңы\ufeff",
    "emoji": "🚰🚧🛣️🇰🇿 су құбыры 💧",
    "broken_tag": "</b><i>жол <tg-spoiler> & &#0; &#x110000;",
    "newlines": "\n\n  жол\r\nжөндеу\t\t ",
    "4096": "Ж" * 4096,
    "10000": ("<&> су " * 1500)[:10_000],
    "spaces": "   ",
}


class Errors(logging.Handler):
    """What anything logs at WARNING or above while a test runs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    tolerated: tuple[str, ...] = ()

    def errors(self) -> list[str]:
        formatter = logging.Formatter()
        return [formatter.format(r) for r in self.records if r.levelno >= logging.ERROR
                and not any(t in str(r.msg) for t in self.tolerated)]

    def warnings_matching(self, text: str) -> int:
        return sum(text in r.getMessage() for r in self.records if r.levelno == logging.WARNING)


@pytest.fixture
def logged():
    handler = Errors()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    assert not handler.errors(), "\n".join(handler.errors())


async def settle(tg, bot, timeout: float = 10.0) -> None:
    """Every update produced so far is confirmed and handled, and the outbox is empty."""
    await tg.wait_confirmed(timeout)
    deadline = time.monotonic() + timeout
    db = bot.app.db
    while True:
        polling = bot.app.polling
        async with db.transaction() as tx:
            queued = await tx.scalar("SELECT count(*) FROM outbox")
        if not polling._tasks and not queued:
            return
        assert time.monotonic() < deadline, f"still busy: {len(polling._tasks)} updates, {queued} queued\n{tg.dump()}"
        await asyncio.sleep(0.01)


def check_calls(tg, since: int) -> None:
    """Everything the bot sent since ``since`` was accepted: no malformed HTML, nothing too long."""
    refused = [str(c) for c in tg.calls(since=since)
               if not c.ok and "message is not modified" not in (c.description or "")]
    assert not refused, "\n".join(refused)


def sent_to(tg, since: int, *chats: int) -> list:
    return [c for c in tg.calls(since=since) if c.method.lower() in SEND and c.ok and c.chat_id in chats]


async def still_works(tg, user, chat=None) -> None:
    """A normal action afterwards is answered."""
    reply = await say(tg, user, "/help", chat)
    assert "/propose" in reply["text"] or "/start" in reply["text"]


async def db_check(bot) -> None:
    async with bot.app.db.transaction() as tx:
        if isinstance(bot.app.db, Database):
            assert await tx.scalar("PRAGMA integrity_check") == "ok"
            assert await tx.scalar("PRAGMA foreign_key_check") is None
        else:  # PostgreSQL checks every foreign key as the row is written: no broken one can be there
            assert await tx.scalar("SELECT count(*) FROM members") >= 1


# --- text ----------------------------------------------------------------------------------------
async def test_hostile_text_as_free_text_and_as_arguments_is_answered_and_escaped(tg, bot, logged):
    aigerim, group, members = await village(tg, 2)
    member = members[1]  # Russian
    stranger = tg.user(999, "<b>Чужой</b> & \u202e", "en")
    async with bot.app.db.transaction() as tx:
        problems_before = await tx.scalar("SELECT count(*) FROM problems")
    proposed = 0
    for name, payload in HOSTILE.items():
        for who, chat in ((member, None), (stranger, None), (member, group), (stranger, group)):
            for text in (payload, f"/propose {payload}", f"/link {payload}", f"/merge {payload}"):
                mark = tg.mark()
                tg.send(who, text, chat)
                await settle(tg, bot)
                check_calls(tg, mark)
                answers = sent_to(tg, mark, who.id, *([group.id] if chat else []))
                if chat is not None and not text.startswith("/"):
                    assert not answers, f"{name}: group chatter is not answered: {answers}"
                else:
                    assert answers, f"{name}: {text[:40]!r} from {who.first_name} in {chat or 'private'}: no answer"
                if name == "markup" and text.startswith("/propose") and who is member and chat is None:
                    proposed += any("<script>alert(1)</script>" in c.text for c in answers)
    assert proposed == 1, "the member's problem with markup in it is shown back literally"
    async with bot.app.db.transaction() as tx:
        problems = [row[0] for row in await tx.all("SELECT text FROM problems")]
    assert len(problems) > problems_before
    assert all(3 <= len(p) <= 300 for p in problems)
    await db_check(bot)
    await still_works(tg, member)
    await still_works(tg, stranger)
    await still_works(tg, aigerim, group)


async def test_a_command_with_its_argument_on_the_next_line_is_that_command(tg, bot, logged):
    john = tg.user(3, "John", "en")
    await onboard(tg, john, "English")
    await new_community(tg, john)
    for separator in ("\n", "\t", "\u00a0"):
        reply = await say(tg, john, f"/propose{separator}Street lights are off {separator!r}")
        assert "don't know the command" not in reply["text"], reply["text"]
    async with bot.app.db.transaction() as tx:
        problems = [row[0] for row in await tx.all("SELECT text FROM problems")]
    assert len(problems) == 3 and all(p.startswith("Street lights are off") for p in problems)


async def test_a_command_for_another_bot_in_the_group_is_left_to_it(tg, bot, logged):
    aigerim, group, members = await village(tg, 1)
    async with bot.app.db.transaction() as tx:
        before = await tx.scalar("SELECT count(*) FROM problems")
    for text in ("/propose@otherbot Су жоқ", "/poll@other_bot dots", "/help@OtherBot", "/start@otherbot XYZ"):
        mark = tg.mark()
        tg.send(members[0], text, group)
        tg.send(aigerim, text, group)
        await settle(tg, bot)
        assert not sent_to(tg, mark, group.id, members[0].id, aigerim.id), text
    async with bot.app.db.transaction() as tx:
        assert await tx.scalar("SELECT count(*) FROM problems") == before
        assert await tx.scalar("SELECT count(*) FROM ballots") == 0
    reply = await say(tg, aigerim, "/status@QATYSU_TEST_BOT", group)  # its own name, in any case
    assert reply["text"]
    await still_works(tg, members[0], group)


async def test_lone_surrogates_are_replaced_instead_of_failing(tg, bot, logged):
    """Valid JSON (``"\\ud800"``) but not UTF-8: Telegram should never send one, but if it does, the
    text is kept with U+FFFD in its place rather than failing with "something went wrong"."""
    john = tg.user(3, "John \udc00", "en")
    choose = await say(tg, john, "/start")
    tg.press_button(john, choose, "English")
    tg.press_button(john, await tg.next_message(john.id), "I agree")
    tg.press_button(john, await tg.next_message(john.id), "John \ufffd")  # the name its profile shows
    await tg.next_message(john.id, contains="Nice to meet you")
    await tg.next_message(john.id)  # the menu
    await new_community(tg, john)
    for text in ("/propose Water \ud800 pipes \udfff", "\ud83d", "/link \ud800", "/frobnicate\udfff"):
        reply = await say(tg, john, text)
        assert "went wrong" not in reply["text"], reply["text"]
    answer = await tg.answer_to(tg.press(john, tg.last(john.id), "\ud800:1", strict=False))
    assert "no longer works" in answer["text"]
    async with bot.app.db.transaction() as tx:
        assert await tx.scalar("SELECT text FROM problems") == "Water \ufffd pipes \ufffd"
        assert await tx.scalar("SELECT name FROM members") == "John \ufffd"
    await still_works(tg, john)


# --- callback data -------------------------------------------------------------------------------
async def test_forged_and_malformed_callback_data_is_refused_answered_and_logged(tg, bot, logged):
    aigerim, group, members = await village(tg, 2)
    ballot = await say(tg, aigerim, "/poll dots", group)
    good = button_for(ballot, 1)
    prefix, ballot_id, option = good.split(":")
    # another community, with its own ballot
    boris = tg.user(50, "Борис", "ru")
    await onboard(tg, boris, "русский")
    other_code = await new_community(tg, boris)
    other_group = tg.group(-100999, "Другой", with_bot=True)
    await say(tg, boris, f"/link {other_code}", other_group)
    for text in ("Нет воды летом", "Нет освещения", "Плохая дорога"):
        await say(tg, boris, f"/propose {text}")
    other_ballot = await say(tg, boris, "/poll dots", other_group)
    foreign = button_for(other_ballot, 1)
    stranger = tg.user(999, "Stranger", "en", started=True)  # opened the chat, did not go on
    forged = [
        foreign, f"{prefix}:{ballot_id}:999999", f"{prefix}:99999999999999999999999999:1",
        f"{prefix}:-1:{option}", f"{prefix}:{ballot_id}:-{option}", f"{prefix}:abc:{option}",
        f"{prefix}:{ballot_id}", f"{prefix}:{ballot_id}:{option}:extra", f"{prefix}:{ballot_id}:{option}:",
        f"{prefix}:{ballot_id}:١", f"{prefix}:0x1:{option}", f"{prefix}:1e3:{option}",
        "", ":", "::::", "zzz:1", "zzz", "lang:xx", "lang", "consent:maybe", "m:", "close:1", "open:-5",
        "x" * 65, f"{good}:" + "9" * 80, "d:\x00:1", "<b>:&", "🙂:🙂", "tz:Mars/Olympus",
        "c:1:2:3",
    ]
    where = [(members[0], ballot, group), (stranger, ballot, group), (members[1], 424242, group),
             (members[0], tg.messages(members[0].id)[-1], None), (stranger, 1, None)]
    refused_before = logged.warnings_matching("refused payload")
    for data in forged:
        for user, message, chat in where:
            mark = tg.mark()
            update = tg.press(user, message, data, chat=chat, strict=False)
            answer = await tg.answer_to(update)
            await settle(tg, bot)
            check_calls(tg, mark)
            # a toast, or (a stranger in private) the start of onboarding
            assert answer["text"] or sent_to(tg, mark, user.id), f"{data!r} by {user.first_name}: no word"
    assert logged.warnings_matching("refused payload") - refused_before >= len(forged)
    # a press from a message shown inline (no message, an inline_message_id instead)
    mark = tg.mark()
    inline = tg.push({"callback_query": {"id": "77", "from": stranger.to_dict(), "chat_instance": "1",
                                         "inline_message_id": "AAAA", "data": good}})
    tg._open_callbacks["77"] = time.monotonic()
    assert (await tg.answer_to(inline))["text"] or await tg.next_message(stranger.id)
    # a press with no data at all (a game button)
    tg._open_callbacks["78"] = time.monotonic()
    game = tg.push({"callback_query": {"id": "78", "from": members[0].to_dict(), "chat_instance": "1",
                                       "message": tg.message(group.id, ballot["message_id"])["raw"],
                                       "game_short_name": "g"}})
    assert (await tg.answer_to(game))["text"]
    await settle(tg, bot)
    check_calls(tg, mark)
    async with bot.app.db.transaction() as tx:
        assert await tx.scalar("SELECT count(*) FROM dot_votes") == 0, "no forged press placed a sticker"
    # the real buttons still work
    answer = await tg.answer_to(tg.press(members[0], ballot, good, chat=group))
    assert "#1" in answer["text"]
    async with bot.app.db.transaction() as tx:
        assert await tx.scalar("SELECT count(*) FROM dot_votes") == 1
    assert (await tg.answer_to(tg.press(boris, other_ballot, foreign, chat=other_group)))["text"]
    await db_check(bot)


# --- update kinds the bot does not handle --------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Detected unknown update type:RuntimeWarning")  # some_future_kind, on purpose
async def test_updates_the_bot_does_not_handle_are_confirmed_and_do_not_stop_it(tg, bot, logged):
    aigerim, group, members = await village(tg, 1)
    member = members[0]
    stranger = tg.user(999, "Stranger", "en")
    await settle(tg, bot)
    edited = tg.user_message(member, text="/propose edited", edit_date=int(time.time()))
    channel = tg.group(-1001111, "Channel", type="channel", with_bot=True)
    post = {"message_id": 5, "chat": channel.to_dict(), "date": int(time.time()), "text": "/propose from a channel",
            "sender_chat": channel.to_dict()}
    sticker = {"file_id": "CAAC1", "file_unique_id": "s1", "type": "regular", "width": 512, "height": 512,
               "is_animated": False, "is_video": False, "emoji": "🙂"}
    voice = {"file_id": "AwAC1", "file_unique_id": "v1", "duration": 2}
    location = {"latitude": 43.25, "longitude": 76.95}
    contact = {"phone_number": "+77010000000", "first_name": "Someone"}
    photo = [{"file_id": "AgAC1", "file_unique_id": "p1", "width": 90, "height": 90}]
    unhandled = [
        {"edited_message": edited},
        {"edited_message": tg.user_message(member, group, text="edited in the group", edit_date=1)},
        {"channel_post": post},
        {"edited_channel_post": {**post, "edit_date": 1}},
        {"message_reaction": {"chat": group.to_dict(), "message_id": 1, "user": member.to_dict(),
                              "date": 1, "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}]}},
        {"message_reaction_count": {"chat": group.to_dict(), "message_id": 1, "date": 1, "reactions": []}},
        {"poll_answer": {"poll_id": "1", "user": member.to_dict(), "option_ids": [0],
                         "option_persistent_ids": ["a"]}},
        {"poll": {"id": "1", "question": "?", "options": [{"persistent_id": "a", "text": "a", "voter_count": 1}],
                  "total_voter_count": 1, "is_closed": False, "is_anonymous": True, "type": "regular",
                  "allows_multiple_answers": False, "allows_revoting": False, "members_only": False}},
        {"inline_query": {"id": "1", "from": stranger.to_dict(), "query": "<b>", "offset": ""}},
        {"chosen_inline_result": {"result_id": "1", "from": member.to_dict(), "query": "x"}},
        {"chat_member": {"chat": group.to_dict(), "from": member.to_dict(), "date": 1,
                         "old_chat_member": {"status": "left", "user": stranger.to_dict()},
                         "new_chat_member": {"status": "member", "user": stranger.to_dict()}}},
        {"chat_join_request": {"chat": group.to_dict(), "from": stranger.to_dict(), "user_chat_id": stranger.id,
                               "date": 1}},
        {"my_chat_member": {"chat": member.chat.to_dict(), "from": member.to_dict(), "date": 1,
                            "old_chat_member": {"status": "member", "user": tg._bot_user},
                            "new_chat_member": {"status": "member", "user": tg._bot_user}}},
        {"some_future_kind": {"id": 1}},
    ]
    in_group = [
        {"sticker": sticker}, {"voice": voice}, {"location": location}, {"contact": contact}, {"photo": photo},
        {"dice": {"emoji": "🎲", "value": 3}}, {"new_chat_members": [stranger.to_dict()]},
        {"left_chat_member": stranger.to_dict()}, {"new_chat_title": "<b>x</b>"}, {"pinned_message": edited},
        {"text": "/propose from an anonymous admin", "sender_chat": group.to_dict(),
         "from": {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}},
    ]
    mark = tg.mark()
    for body in unhandled:
        tg.push(body, bypass_allowed=True)
    for content in in_group:
        tg.push({"message": tg.user_message(member, group, **content)}, bypass_allowed=True)
    await settle(tg, bot)
    check_calls(tg, mark)
    assert not sent_to(tg, mark, group.id, member.id, stranger.id, channel.id), "no answer to any of these"
    # a message from another bot is not answered either
    robot = tg.user(4242, "Robot", "en")
    robot.is_bot = True
    tg.send(robot, "/start")
    await settle(tg, bot)
    assert not sent_to(tg, mark, robot.id)

    # In the private chat, a message without text is answered (there is always something to do).
    for content in ({"sticker": sticker}, {"voice": voice}, {"location": location}, {"photo": photo},
                    {"dice": {"emoji": "🎲", "value": 3}}, {"contact": contact}):
        for user in (member, stranger):
            mark = tg.mark()
            tg.push({"message": tg.user_message(user, **content)})
            await settle(tg, bot)
            check_calls(tg, mark)
            assert sent_to(tg, mark, user.id), f"{list(content)} from {user.first_name}: no answer"
    await settle(tg, bot)
    for _ in range(100):  # handled updates leave the inbox in batches (every flush_interval)
        async with bot.app.db.transaction() as tx:
            if not await tx.scalar("SELECT count(*) FROM inbox"):
                break
        await asyncio.sleep(0.02)
    async with bot.app.db.transaction() as tx:
        assert await tx.scalar("SELECT count(*) FROM inbox") == 0, "every update leaves the inbox"
        assert await tx.scalar("SELECT count(*) FROM problems WHERE text LIKE '%edited%' OR text LIKE '%channel%'"
                               " OR text LIKE '%anonymous%'") == 0
    assert tg.pending() == 0
    await still_works(tg, member)
    await still_works(tg, aigerim, group)
    await db_check(bot)


async def test_an_update_aiogram_cannot_parse_does_not_stop_polling(tg, bot, logged):
    """A field this aiogram requires missing (an API version apart, a Telegram slip): that update
    may be dropped and logged, but the ones after it must still arrive."""
    logged.tolerated = ("cannot be parsed",)
    john = tg.user(3, "John", "en")
    tg.push({"message": {**tg.user_message(john, text="hi"), "chat": {"id": john.id}}})  # no chat type
    tg.send(john, "/start")
    assert "Choose your language" in (await tg.next_message(john.id, timeout=2))["text"]
