"""End to end over HTTP: the real bot (webhook server, engine, storage, Cloud API client) against
the fake WhatsApp Cloud API, with tests acting as WhatsApp users through signed webhooks — and,
in the same community, Telegram users through the fake Bot API."""

from __future__ import annotations

import asyncio
import json
import random
import re

import aiohttp

from bot.config import Config, WhatsAppConfig
from bot.storage import ballots
from tests.conftest import open_store, store_target
from bot.whatsapp.app import WhatsAppApp
from tests.fakes.whatsapp import FakeWhatsApp, Received, WaUser
from tests.test_e2e_telegram import new_community, onboard as tg_onboard, say

WA_TOKEN, SECRET, VERIFY, PHONE_ID = "EAAG-test", "app-secret", "verify-me", "1055500001"


def wa_config(wa: FakeWhatsApp, templates: dict | None = None, display: str | None = "77001234567") -> WhatsAppConfig:
    return WhatsAppConfig(token=WA_TOKEN, phone_number_id=PHONE_ID, app_secret=SECRET, verify_token=VERIFY,
                          api_base=wa.base_url, api_version=wa.version,
                          templates={"notice": "qatysu_notice"} if templates is None else templates,
                          display_number=display)


async def start_whatsapp(wa: FakeWhatsApp, db_path: str, telegram=None, **config) -> WhatsAppApp:
    """The WhatsApp app on its own database, or beside a started Telegram app (``telegram``)."""
    app = WhatsAppApp(Config(db_path=db_path, http_port=0, whatsapp=wa_config(wa, **config)), telegram=telegram,
                      rng=random.Random(3), edit_interval=0.2, retry_delay=0.02)
    await app.start()
    wa.webhook_url = f"http://127.0.0.1:{app.port}/whatsapp/webhook"
    return app


AGREE = {"қазақша": "Келісемін", "русский": "Даю согласие", "English": "I agree"}


async def wa_say(wa: FakeWhatsApp, user: WaUser, text: str, contains: str | None = None) -> Received:
    assert await wa.send_text(user, text) == 200
    return await wa.next_message(user, contains=contains)


async def wa_onboard(wa: FakeWhatsApp, user: WaUser, language: str, first: str = "/start") -> Received:
    """Language → consent → name (the profile's, tapped); returns the greeting."""
    choose = await wa_say(wa, user, first)
    assert await wa.press(user, choose, language) == 200
    consent = await wa.next_message(user)
    assert await wa.press(user, consent, AGREE[language]) == 200
    ask = await wa.next_message(user)
    assert await wa.press(user, ask, user.name) == 200
    return await wa.next_message(user)


# --- onboarding, rendering, the 24-hour window -----------------------------------------------------------
async def test_a_whatsapp_member_onboards_with_buttons_and_typed_numbers(wa, wabot):
    alma = wa.user("77010000001", "Алма")
    choose = await wa_say(wa, alma, "сәлем")
    assert choose.kind == "interactive" and [t for _, t in choose.options] == ["✓ қазақша", "русский", "English"]
    assert "<b>" not in choose.text
    await wa.send_text(alma, "1")  # a typed "1": the first option, қазақша
    consent = await wa.next_message(alma)
    assert consent.kind == "interactive" and consent.options[0] == ("consent:yes", "Келісемін")
    await wa.send_text(alma, "Келісемін")  # the option's exact text
    ask = await wa.next_message(alma)
    assert "атыңыз" in ask.text and ask.options == [("onbname", "Алма")]  # the profile's name offered
    await wa.send_text(alma, "Алма Серікқызы")  # a name typed, not an option
    greeting = await wa.next_message(alma)
    assert "Алма Серікқызы" in greeting.text
    async with wabot.db.transaction() as tx:
        row = await tx.one("SELECT m.name, m.locale FROM identities i JOIN members m ON m.id = i.member_id"
                           " WHERE i.channel = 'whatsapp' AND i.external_id = ?", (alma.wa_id,))
    assert tuple(row) == ("Алма Серікқызы", "kk")
    assert not wa.refused


async def test_mydata_arrives_as_a_document(wa, wabot):
    alma = wa.user("77010000001", "Алма")
    await wa_onboard(wa, alma, "English")
    export = await wa_say(wa, alma, "/mydata", contains="Everything stored about you")
    assert export.kind == "document" and export.payload["document"]["filename"] == "qatysu-my-data.json"
    assert json.loads(export.media)["member"]["name"] == "Алма"



async def test_forget_erases_the_whatsapp_number_everywhere_and_still_answers(wa, wabot):
    alma = wa.user("77010000001", "Алма")
    await wa_onboard(wa, alma, "English")
    ask = await wa_say(wa, alma, "/forget", contains="Erase?")
    await wa.press(alma, ask, "Erase my data")
    erased = await wa.next_message(alma)
    assert erased.kind == "text" and "Your data is erased" in erased.text  # not a template: she just wrote
    await wabot.channel.drain()
    async with wabot.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM wa_contacts") == 0
        assert await tx.scalar("SELECT COUNT(*) FROM wa_sent WHERE options != '[]' OR body != ''") == 0
        assert await tx.scalar("SELECT COUNT(*) FROM identities") == 0
        assert await tx.scalar("SELECT COUNT(*) FROM inbox") == 0


# --- one community, two channels, one tally --------------------------------------------------------------
async def test_a_telegram_and_a_whatsapp_member_share_a_community_and_one_tally(tg, bot, wa, both):
    from tests.test_e2e_telegram import join

    aigerim = tg.user(1, "Айгерим", "kk")
    await tg_onboard(tg, aigerim, "қазақша")
    code = await new_community(tg, aigerim)
    group = tg.group(-100777, "Көктерек", with_bot=True)
    await say(tg, aigerim, f"/link {code}", group)
    olga = tg.user(101, "Ольга", "ru")
    await join(tg, olga, code, "русский")

    # the WhatsApp member joins with the code typed as the wa.me link would type it
    alma = wa.user("77010000001", "Алма")
    await wa_onboard(wa, alma, "English", first=f"/start {code}")
    welcome = await wa.next_message(alma, contains="Welcome to")
    assert "Көктерек ауылы" in welcome.text
    for user, text in ((olga, "Балалар алаңы жоқ"), (aigerim, "Мектеп автобусы кешігеді")):
        await say(tg, user, f"/propose {text}")
    proposed = await wa_say(wa, alma, "/propose Ауыз су жиі өшіп қалады", contains="#3")
    assert "<b>" not in proposed.text
    async with bot.app.db.transaction() as tx:
        texts = [r[0] for r in await tx.all("SELECT text FROM problems WHERE community_id = 1 ORDER BY number")]
    assert texts == ["Балалар алаңы жоқ", "Мектеп автобусы кешігеді", "Ауыз су жиі өшіп қалады"]

    # a matrix ballot, scored in private on both channels
    invitation = await say(tg, aigerim, "/poll matrix 1 2 3", group)
    payload = invitation["reply_markup"]["inline_keyboard"][0][0]["url"].split("start=")[1]
    # the group's post reaches the WhatsApp member one to one, its link into the chat made an option
    posted = await wa.next_message(alma, contains="Priority matrix")
    assert "t.me" not in posted.text and posted.options == [(f"wa:start:{payload}", "Open the ballot")]
    assert await wa.press(alma, posted, "Open the ballot") == 200  # does what the link does
    question = await wa.next_message(alma)
    for _ in range(3):
        assert "important" in question.text and "*important*" in question.text  # bold the WhatsApp way
        assert [t for _, t in question.options] == ["1", "2", "3"]
        assert await wa.press(alma, question, "3") == 200
        question = await wa.next_message(alma)
        assert "urgent" in question.text
        assert await wa.press(alma, question, "2") == 200
        question = await wa.next_message(alma)
    assert "scored all 3 problems" in question.text
    tg_question = await say(tg, olga, f"/start {payload}")
    for _ in range(3):
        tg.press_button(olga, tg_question, "1")
        tg_question = await tg.next_edit(tg_question)
        tg.press_button(olga, tg_question, "1")
        tg_question = await tg.next_edit(tg_question)
    async with bot.app.db.transaction() as tx:
        scores = await ballots.all_scores(tx, 1)
        identities = dict(await tx.all("SELECT channel, member_id FROM identities WHERE external_id IN (?, ?)",
                                       (alma.wa_id, str(olga.id))))
    assert scores[identities["whatsapp"]] == {1: (3, 2), 2: (3, 2), 3: (3, 2)}
    assert scores[identities["telegram"]] == {1: (1, 1), 2: (1, 1), 3: (1, 1)}
    await say(tg, aigerim, "/close", group)
    result = await tg.wait_for(lambda c: c.method == "sendPhoto" and c.status == 200, timeout=10)
    assert "2 мүше дауыс берді." in result.params["caption"].splitlines()  # one tally: both channels
    chart = await wa.next_message(alma, contains="2 members voted")  # the result, in her language
    assert chart.kind == "image" and chart.media == tg.file_bytes(result.result["photo"][-1]["file_id"])
    assert not wa.refused

    # pairwise: two long options as reply buttons, cut at a word, the full texts in the body
    invitation = await say(tg, aigerim, "/poll pairwise 1 2 3", group)
    while "url" not in str(invitation.get("reply_markup")):  # after the matrix's result
        invitation = await tg.next_message(group.id)
    payload = invitation["reply_markup"]["inline_keyboard"][0][0]["url"].split("start=")[1]
    pair = await wa_say(wa, alma, f"/start {payload}", contains="pair 1 of 3")
    for position in (2, 3, None):
        assert "more pressing" in pair.text and len(pair.options) == 2
        assert all(len(title) <= 20 for _, title in pair.options)
        assert any(title.endswith("…") for _, title in pair.options)
        assert "🅰 *#" in pair.text and "🅱 *#" in pair.text  # the full texts, once
        # typed: the number 🅰 shows, not its position (announcements in between do not reset it)
        await wa.send_text(alma, re.search(r"🅰 \*#(\d+)\*", pair.text).group(1))
        pair = await wa.next_message(alma, contains=f"pair {position} of 3" if position else "compared all")
    assert "compared all 3 pairs" in pair.text
    async with bot.app.db.transaction() as tx:
        assert len((await ballots.all_answers(tx, 2))[identities["whatsapp"]]) == 3


async def until_listening(wa: FakeWhatsApp, user: WaUser, text: str = "/start") -> None:
    """Send ``text`` once the webhook of a starting process listens."""
    for _ in range(300):
        try:
            if await wa.send_text(user, text) == 200:
                return
        except (OSError, aiohttp.ClientError):
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the webhook never listened")


# --- qatysu run, and a restart ------------------------------------------------------------------------------
async def test_qatysu_run_serves_whatsapp_beside_telegram_and_alone(tg, wa, tmp_path, unused_tcp_port):
    import os
    import subprocess
    import sys

    from tests.test_crash_safety import BotProcess

    env = {"WHATSAPP_TOKEN": WA_TOKEN, "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID, "WHATSAPP_APP_SECRET": SECRET,
           "WHATSAPP_VERIFY_TOKEN": VERIFY, "WHATSAPP_API_BASE": wa.base_url,
           "QATYSU_HTTP_PORT": str(unused_tcp_port), "WHATSAPP_TEMPLATE_NOTICE": "qatysu_notice"}
    wa.webhook_url = f"http://127.0.0.1:{unused_tcp_port}/whatsapp/webhook"
    process = BotProcess(tg, str(tmp_path / "run.db"))
    process.env.update(env)
    process.start()
    alma, olga = wa.user("77010000001", "Алма"), tg.user(101, "Ольга", "ru")
    try:
        await until_listening(wa, alma)
        choose = await wa.next_message(alma, timeout=15)
        assert [t for _, t in choose.options] == ["✓ қазақша", "русский", "English"]
        tg.send(olga, "/start")
        assert "қазақша" in str((await tg.next_message(olga.id, timeout=15))["reply_markup"])
    finally:
        process.stop()
    log = open(process.env["QATYSU_DB"] + ".log").read()
    assert "WhatsApp: configured" in log and "WhatsApp webhook listening" in log

    alone = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_"))}
    alone.update(env, QATYSU_DB=str(tmp_path / "alone.db"))
    child = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=alone, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        bek = wa.user("77010000002", "Бек")
        await until_listening(wa, bek)
        assert (await wa.next_message(bek, timeout=15)).kind == "interactive"
    finally:
        child.terminate()
        _, err = child.communicate(timeout=15)
    assert "WhatsApp webhook listening" in err and "Telegram bot" not in err


async def test_messages_left_in_the_inbox_are_handled_at_the_next_start(wa, tmp_path):
    from bot.storage import inbox

    path = store_target(str(tmp_path / "restart.db"))  # a file, or a PostgreSQL database (tests/conftest.py)
    app = await start_whatsapp(wa, path)
    alma = wa.user("77010000001", "Алма")
    await wa_say(wa, alma, "/start")
    await app.stop()
    body, message_id = wa.inbound(alma, "text", {"body": "/help"})
    stored = json.dumps({"message": body["entry"][0]["changes"][0]["value"]["messages"][0], "name": "Алма"})
    async with open_store(path) as db:  # received, stored, then the process died before handling it
        await db.atomic(lambda tx: inbox.store(tx, "whatsapp", [(message_id, stored)], "2026-12-06T04:00:00"))
    app = await start_whatsapp(wa, path)
    try:
        assert "/mydata" in (await wa.next_message(alma, timeout=10)).text  # /help, as a newcomer sees it
        await app.channel.drain()
        async with app.db.transaction() as tx:
            assert await tx.scalar("SELECT COUNT(*) FROM inbox") == 0
        # a button of a message sent before the restart still works
        await wa.press(alma, wa.messages(alma)[0], "English")
        assert (await wa.next_message(alma)).options[0] == ("consent:yes", "I agree")
    finally:
        await app.stop()
