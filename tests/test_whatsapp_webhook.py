"""The WhatsApp webhook under hostile and odd input: nothing stored that should not be, no crash,
each message answered as a careful WhatsApp bot would."""

from __future__ import annotations

import json

import aiohttp

from bot.flows.types import Button, Message
from bot.storage import whatsapp as store
from tests.fakes.whatsapp import UNKNOWN_KINDS
from tests.test_whatsapp_e2e import VERIFY, wa_onboard, wa_say


async def stored(app) -> tuple[int, int]:
    """(messages in the inbox or handled, members)"""
    async with app.db.transaction() as tx:
        seen = await tx.scalar("SELECT (SELECT COUNT(*) FROM inbox) + (SELECT COUNT(*) FROM processed_updates)")
        people = await tx.scalar("SELECT COUNT(*) FROM members")
    return seen, people


async def test_meta_verification_needs_the_verify_token(wa, wabot):
    async with aiohttp.ClientSession() as session:
        query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
        async with session.get(wa.webhook_url, params=query) as response:
            assert (response.status, await response.text()) == (200, "1158201444")
        async with session.get(wa.webhook_url, params={**query, "hub.verify_token": "guess"}) as response:
            assert response.status == 403
        async with session.get(wa.webhook_url, params={**query, "hub.mode": "unsubscribe"}) as response:
            assert response.status == 403


async def test_unsigned_wrongly_signed_and_replayed_posts_are_refused_and_nothing_is_stored(wa, wabot):
    alma = wa.user("77010000001", "Алма")
    body, _ = wa.inbound(alma, "text", {"body": "/start"})
    raw = json.dumps(body).encode()
    assert await wa.post(raw, signed=False) == 401
    assert await wa.post(raw, signature="sha256=" + "0" * 64) == 401
    assert await wa.post(raw, signature=wa.sign(raw).upper()) == 401
    assert await wa.post(raw, signature=wa.sign(raw + b" ")) == 401  # another body's signature
    assert await stored(wabot) == (0, 0)
    await wa.assert_silent(alma)

    wa.last_inbound[alma.wa_id] = wa.now()
    assert await wa.post(raw) == 200  # signed right: answered once
    await wa.next_message(alma)
    assert await wa.post(raw, signature=wa.sign(b"{}")) == 401  # replayed with another signature
    assert await wa.post(raw) == 200  # Meta delivering the same message again: handled once
    await wabot.channel.drain()
    await wa.assert_silent(alma)
    assert len(wa.messages(alma)) == 1


async def test_a_body_over_a_megabyte_malformed_json_and_another_number_store_nothing(wa, wabot):
    alma = wa.user("77010000001", "Алма")
    body, _ = wa.inbound(alma, "text", {"body": "x" * (2 * 1024 * 1024)})
    assert await wa.post(body) == 413
    assert await wa.post(b'{"object": "whatsapp_business_account", "entry": [') == 400
    assert await wa.post(b"\xff\xfe not even text") == 400
    other, _ = wa.inbound(alma, "text", {"body": "/start"}, phone_number_id="999999")
    assert await wa.post(other) == 200
    for odd in ({"entry": "nonsense"}, [1, 2], {"entry": [{"changes": "abc"}]},
                {"entry": [{"changes": [{"value": {"metadata": "x", "messages": [{"id": "m", "from": "1"}]}}]}]},
                wa.envelope({"messages": {"id": "m"}, "contacts": "x", "statuses": [{"id": "s", "errors": 5}]})):
        assert await wa.post(odd) == 200
    await wabot.channel.drain()
    assert await stored(wabot) == (0, 0)
    await wa.assert_silent(alma)


async def test_unknown_kinds_get_a_short_answer_and_reactions_none(wa, wabot):
    alma = wa.user("77010000001", "Алма")
    await wa_onboard(wa, alma, "русский")
    await wa.next_message(alma)  # the menu
    for kind, content in UNKNOWN_KINDS.items():
        assert await wa.send(alma, kind, content) == 200
        if kind == "reaction":
            await wabot.channel.drain()
            await wa.assert_silent(alma)
        else:
            answer = await wa.next_message(alma)
            assert answer.text == "Я понимаю только текст и нажатия кнопок. Напишите ответ или выберите вариант.", kind
    await wabot.channel.drain()
    async with wabot.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM inbox") == 0


async def test_a_stale_or_forged_option_and_a_typed_eleven_get_a_short_answer_only(wa, wabot):
    alma = wa.user("77010000001", "Алма")
    await wa_onboard(wa, alma, "English")
    menu = await wa.next_message(alma)
    assert menu.options
    before = await stored(wabot)
    # a row id never sent, under a real message; and an option under a message the bot never sent
    await wa.press_id(alma, menu, "lang:kk")
    assert "no longer works" in (await wa.next_message(alma)).text
    await wa.press_id(alma, "wamid.never-sent", menu.options[0][0])
    assert "no longer works" in (await wa.next_message(alma)).text
    # ten options offered; "11" typed
    ten = tuple((Button(f"Option {i}", data=f"zz:{i}"),) for i in range(1, 11))
    await wabot.delivery.deliver([Message("whatsapp", alma.wa_id, "Pick one", ten)])
    offered = await wa.next_message(alma)
    assert offered.payload["interactive"]["type"] == "list" and len(offered.options) == 10
    await wa.send_text(alma, "11")
    answer = await wa.next_message(alma)
    assert answer.text == "There is no option 11. Type a number from 1 to 10, or tap an option."
    await wa.send_text(alma, "²")  # a digit to str.isdigit, not to int(): plain text, answered
    assert "There is no option" not in (await wa.next_message(alma)).text
    await wabot.channel.drain()
    await wa.assert_silent(alma)
    async with wabot.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM members") == before[1]
        assert await tx.scalar("SELECT locale FROM members") == "en"  # "lang:kk" did not change it


async def test_contact_cards_keep_only_the_senders_own_number(wa, wabot):
    alma, bek = wa.user("77010000001", "Алма"), wa.user("77010000002", "Бек")
    await wa_onboard(wa, alma, "English")
    await wa.next_message(alma)
    await wa.share_contact(alma, "+7 701 000 0002", owner=bek)
    assert "someone else's contact" in (await wa.next_message(alma)).text
    await wa.share_contact(alma, "+7 701 000 0001")
    assert "phone number is saved" in (await wa.next_message(alma)).text
    async with wabot.db.transaction() as tx:
        assert [r[0] for r in await tx.all("SELECT phone FROM members")] == ["+77010000001"]


async def test_status_callbacks_are_recorded_against_the_sent_message(wa, wabot):
    alma = wa.user("77010000001", "Алма")
    choose = await wa_say(wa, alma, "/start")
    for status in ("delivered", "read", "sent"):  # a late "sent" does not step back
        assert await wa.post_status(choose.id, status, alma.wa_id) == 200
    assert await wa.post_status("wamid.unknown", "read", alma.wa_id) == 200
    async with wabot.db.transaction() as tx:
        assert (await store.sent(tx, choose.id)).status == "read"
    failed = await wa_say(wa, alma, "/help")
    await wabot.channel.drain()  # its record written (on PostgreSQL it may commit after the fake got the message)
    assert await wa.post_status(failed.id, "failed", alma.wa_id, error_code=131026) == 200
    async with wabot.db.transaction() as tx:
        assert await tx.scalar("SELECT status || ':' || error_code FROM wa_sent WHERE message_id = ?",
                               (failed.id,)) == "failed:131026"


async def test_a_tap_under_a_message_older_than_thirty_days_is_stale(wa, wabot):
    alma = wa.user("77010000001", "Алма")
    choose = await wa_say(wa, alma, "/start")
    await wabot.channel.drain()  # its record written
    async with wabot.db.transaction() as tx:
        await tx.execute("UPDATE wa_sent SET sent_at = sent_at - 31 * 86400")
    await wabot._prune()
    await wa.press(alma, choose, "English")
    assert (await wa.next_message(alma)).text.startswith("Бұл батырма енді жұмыс істемейді.")  # stale, in kk
