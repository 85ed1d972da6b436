"""A rolling deploy (issue 15): for a while workers of two versions share one database. A worker of
this version reads every stored payload of the version before, reads what a newer version wrote
when it understands it (fields added), and leaves the rest — a row that ``needs`` a later schema,
a chart, a row type or a view this version does not have — untouched for a worker that can read
it, logs it once, and goes on with the rest. One test per kind of stored payload, on both stores.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone

import pytest

from bot.delivery import Delivery
from bot.messages import SCHEMA, Button, Message, Outcome, Toast, View
from bot.outbox import OutboxWorker
from bot.scheduler import redraw_pending
from bot.storage import conversations, redraws, updates, whatsapp
from tests.conftest import build_community
from tests.stores import db  # noqa: F401  (both stores)

NEWER = SCHEMA + 1


def needing_newer(stored: str) -> str:
    """The payload as a newer version writes one this version would misread: ``needs`` its schema."""
    return json.dumps({**json.loads(stored), "v": NEWER, "needs": NEWER}, ensure_ascii=False)


def with_added_fields(stored: str) -> str:
    """The payload as a newer version writes one with fields added: this version reads the rest."""
    return json.dumps({**json.loads(stored), "v": NEWER, "reply_to": "17", "priority": 2}, ensure_ascii=False)


def of_schema_1(message: Message) -> str:
    """The message as the version before neutral links wrote it (schema 1: Telegram's URLs)."""
    stored = json.loads(message.to_json())
    stored["v"] = 1
    for row in stored["buttons"]:
        for button in row:
            button["url"] = "https://t.me/qatysu_bot?start=menu" if button.pop("link", None) else None
    return json.dumps(stored, ensure_ascii=False)


def with_a_chart_this_version_does_not_have() -> str:
    stored = json.loads(Message("telegram", "200", "Нәтиже").to_json())
    stored["chart"] = {"renderer": "render_heatmap", "args": [[{"$t": "HeatCell", "v": {"x": 1, "y": 2}}]],
                       "kwargs": {}}
    return json.dumps(stored, ensure_ascii=False)


class Recording:
    """A channel that takes every message (and says which it took, in order)."""

    rate = 1000.0

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def min_interval(self, chat_id: str) -> float:
        return 0.0

    async def send(self, message: Message, image: bytes | None) -> str:
        self.sent.append((message.chat_id, message.text))
        return str(len(self.sent))

    async def edit(self, message: Message, message_id: str) -> None:
        self.sent.append((message.chat_id, message.text))


def text(stored: str | bytes) -> str:
    """A payload as written (PostgreSQL keeps the outbox's and the kept answers' as BYTEA, UTF-8)."""
    return stored.decode() if isinstance(stored, bytes) else stored


async def queue_rows(db, rows: list[tuple[str, str]]) -> list[int]:
    now = datetime.now(timezone.utc).isoformat()
    ids = []
    async with db.transaction() as tx:
        for chat_id, payload in rows:
            ids.append(await tx.insert("INSERT INTO outbox (channel, chat_id, payload, created_at) VALUES (?, ?, ?, ?)",
                                       ("telegram", chat_id, payload, now)))
    return ids


async def outbox_rows(db) -> dict[int, str]:
    async with db.transaction() as tx:
        return {r[0]: text(r[1]) for r in await tx.all("SELECT id, payload FROM outbox ORDER BY id")}


async def schedule_of(db) -> dict[int, tuple]:
    """Each queued row's attempts, time not before and send mark: what a worker's backoff changes."""
    async with db.transaction() as tx:
        return {r[0]: tuple(r[1:]) for r in await tx.all(
            "SELECT id, attempts, not_before, sending_since FROM outbox ORDER BY id")}


async def test_the_outbox_sends_what_it_reads_and_leaves_a_newer_versions_messages_for_it(db, caplog):
    current = Message("telegram", "100", "Сенбілік сағат 10-да")
    rows = [
        ("100", needing_newer(Message("telegram", "100", "Жаңа нұсқа").to_json())),  # held back...
        ("100", current.to_json()),                                                  # ...and its chat's next behind it
        ("200", with_a_chart_this_version_does_not_have()),
        ("300", with_added_fields(Message("telegram", "300", "Дауыс беру ашылды").to_json())),
        ("400", of_schema_1(Message("telegram", "400", "Шақыру", ((Button("Ашу", data="m:1"),),)))),
        ("500", Message("telegram", "500", "Жоспар бекітілді").to_json()),
    ]
    ids = await queue_rows(db, rows)
    sender = Recording()
    now = [time.time()]
    worker = OutboxWorker(Delivery(db, {"telegram": sender}), clock=lambda: now[0])
    scheduled = await schedule_of(db)
    with caplog.at_level(logging.ERROR, logger="bot.outbox"):
        for _ in range(12):  # pass after pass, hours on the worker's clock (less than a day)
            now[0] += await worker.drain_once() + 600
    assert sorted(sender.sent) == [("300", "Дауыс беру ашылды"), ("400", "Шақыру"), ("500", "Жоспар бекітілді")]
    left = await outbox_rows(db)
    assert left == {ids[0]: rows[0][1], ids[1]: rows[1][1], ids[2]: rows[2][1]}  # untouched, for a newer worker
    after = await schedule_of(db)  # not postponed either: a newer worker sends them at once
    assert after == {i: scheduled[i] for i in ids[:3]}
    logged = [r.getMessage() for r in caplog.records if "cannot be read by this version" in r.getMessage()]
    assert len(logged) == 2, logged  # once each, not once a pass
    assert f"queued message {ids[0]} " in logged[0] and "needs schema" in logged[0]
    assert f"queued message {ids[2]} " in logged[1] and "render_heatmap" in logged[1]


async def test_a_newer_versions_message_queued_in_a_chat_is_not_dropped_as_an_older_edit(db):
    """Queuing an edit drops the older queued edits of the same view; one a newer version queued,
    which this version cannot read, is left to that version."""
    from bot.storage import outbox

    newer_edit = needing_newer(Message("telegram", "-100", "3 дауыс", tag="b1", edit=True).to_json())
    [newer_id] = await queue_rows(db, [("-100", newer_edit)])
    async with db.transaction() as tx:
        await outbox.add(tx, [Message("telegram", "-100", "4 дауыс", tag="b1", edit=True)],
                         datetime.now(timezone.utc).isoformat())
    left = await outbox_rows(db)
    assert left[newer_id] == newer_edit and len(left) == 2


async def keep(db, update_id: str, reply: str) -> None:
    async with db.transaction() as tx:
        assert await updates.claim(tx, "telegram", update_id, datetime.now(timezone.utc).isoformat())
        await tx.execute("UPDATE processed_updates SET reply = ? WHERE channel = ? AND update_id = ?",
                         (reply, "telegram", update_id))


async def test_a_retried_update_gets_the_kept_answer_this_version_reads_and_a_newer_one_is_left(db, caplog):
    answer = Outcome(messages=[Message("telegram", "100", "Ұсынысыңыз қабылданды")], toast=Toast("✅"),
                     refresh={View("b", 3)})
    await keep(db, "1", answer.to_json())
    await keep(db, "2", with_added_fields(answer.to_json()))
    await keep(db, "3", json.dumps({"v": 1, "messages": [json.loads(of_schema_1(answer.messages[0]))],
                                    "toast": {"text": "✅", "alert": False, "url": None}, "refresh": ["b:3"]}))
    newer = needing_newer(answer.to_json())
    await keep(db, "4", newer)
    with caplog.at_level(logging.ERROR, logger="bot.storage.updates"):
        async with db.transaction() as tx:
            replayed = {u: await updates.replay(tx, "telegram", u) for u in ("1", "2", "3", "4")}
    for update_id in ("1", "2", "3"):
        assert replayed[update_id].messages == answer.messages and replayed[update_id].toast == Toast("✅")
        assert replayed[update_id].refresh == {View("b", 3)} and replayed[update_id].duplicate
    assert replayed["4"].messages == [] and replayed["4"].toast is None and replayed["4"].duplicate
    async with db.transaction() as tx:
        assert text(await tx.scalar("SELECT reply FROM processed_updates WHERE update_id = '4'")) == newer
    assert [r.getMessage() for r in caplog.records if "update 4 cannot be read" in r.getMessage()]


async def pending_rows(db) -> set[str]:
    async with db.transaction() as tx:
        return {r[0] for r in await tx.all("SELECT view FROM pending_redraws")}


async def test_views_waiting_for_a_redraw_that_a_newer_version_asked_for_are_left_for_it(sim, caplog):
    db = sim.engine.db
    c = await build_community(sim, 2, ("en", "kk"))
    await c.facilitator.send("/propose First problem of the village")
    await c.facilitator.send("/poll dots", c.group)
    unknown_kind = json.dumps({"v": NEWER, "name": "heatmap", "id": 1})
    needs_newer = needing_newer(View("b", 7).to_json())
    async with db.transaction() as tx:
        await redraws.drawing(tx, View("b", 1))  # what the poll left waiting
        await tx.executemany("INSERT INTO pending_redraws (view) VALUES (?)",
                             [(unknown_kind,), (needs_newer,), (View("b", 1).to_json(),), ("zz:4",)])
    with caplog.at_level(logging.WARNING):
        outcome = await sim.engine.run_system(redraw_pending)
    assert outcome.refresh == {View("b", 1)}  # the ballot's counts: this version draws them
    # the kinds a newer version asked for stay; "zz:4" was stored as only versions before JSON stored views
    assert await pending_rows(db) == {unknown_kind, needs_newer, View("b", 1).to_json()}
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "'heatmap'" in said and "needs schema" in said
    async with db.transaction() as tx:
        await redraws.drawing(tx, View("b", 1))
    assert await pending_rows(db) == {unknown_kind, needs_newer}


async def test_a_member_in_the_middle_of_a_question_this_version_does_not_ask_keeps_it(sim):
    c = await build_community(sim, 2, ("en", "kk"))
    member = c.members[0]
    data = {"locale": "en", "ballot": 9, "step": "photo"}
    async with sim.engine.db.transaction() as tx:
        await conversations.save(tx, member.channel, member.id, "budget.amount", data, "2026-12-07T10:00:00")
    await member.send("15000")
    assert member.last().text  # answered (the menu), not an error
    async with sim.engine.db.transaction() as tx:
        _, state, kept, saved_at = await conversations.identify(tx, member.channel, member.id)
    assert (state, kept, saved_at) == ("budget.amount", data, "2026-12-07T10:00:00")


async def test_a_button_of_a_kind_this_version_does_not_have_is_a_stale_button_and_changes_nothing(sim):
    c = await build_community(sim, 2, ("en", "kk"))
    member = c.members[0]

    async def state():
        async with sim.engine.db.transaction() as tx:
            return [tuple(r) for r in await tx.all("SELECT id, action FROM audit_log ORDER BY id")], \
                await conversations.identify(tx, member.channel, member.id)

    before = await state()
    outcome = await member.press_data("zq:1:2")  # a prefix a newer version declares
    assert outcome.toast is not None and outcome.messages == []
    assert await state() == before


async def test_whatsapp_choices_stored_by_either_version_read_back(db):
    """The options a WhatsApp member was offered (what a typed "2" means): a newer version may add
    to each; an older one wrote no number."""
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO wa_contacts (wa_id, last_inbound, options) VALUES (?, ?, ?)",
                         ("77010000001", time.time(), json.dumps([["d:1:2", "Жол", 1, {"icon": "🛣"}], ["d:1:3", "Су"]])))
        assert await whatsapp.last_options(tx, "77010000001") == [("d:1:2", "Жол", 1), ("d:1:3", "Су", None)]


async def test_a_kept_answer_asking_for_a_newer_kind_of_view_is_given_and_the_view_left_for_that_version(sim, caplog):
    from bot.flows.types import Event
    from bot.sim import CHANNEL

    db = sim.engine.db
    person = sim.person("Айгүл", "kk")
    answer = Outcome(messages=[Message(CHANNEL, person.id, "Ұсынысыңыз қабылданды")], toast=Toast("✅"),
                     refresh={View("heatmap", 1)})
    async with db.transaction() as tx:  # as a newer version handled update 77: its answer and its view kept
        assert await updates.claim(tx, CHANNEL, "77", datetime.now(timezone.utc).isoformat())
        await updates.keep_reply(tx, CHANNEL, "77", answer)
        await redraws.want(tx, [View("heatmap", 1)])
    with caplog.at_level(logging.WARNING):
        outcome = await sim.engine.handle(Event(channel=CHANNEL, user_id=person.id, chat_id=person.id,
                                                update_id="77", retry=True, text="сәлем"))
        await sim.delivery.deliver_outcome(outcome)
        await sim.delivery.shown()
    assert outcome.toast == Toast("✅") and [m.text for m in sim.messages(person.id)] == ["Ұсынысыңыз қабылданды"]
    assert not [r for r in caplog.records if r.exc_info], "a newer kind of view is no failure"
    assert "'heatmap'" in caplog.text
    assert await pending_rows(db) == {View("heatmap", 1).to_json()}


@pytest.fixture(params=["sqlite", "postgresql"])
async def target(request, tmp_path):
    """A new database at the current schema, on each store in turn: what a worker opens."""
    from tests.conftest import migrated_database
    from tests.stores import PG, drop_pg_database, new_pg_database

    if request.param == "sqlite":
        yield migrated_database(str(tmp_path / "rolling.db"))
        return
    if not PG:
        pytest.skip("QATYSU_TEST_PG names no PostgreSQL server")
    url = await new_pg_database()
    yield url
    await drop_pg_database(url)


async def test_whatsapp_messages_left_in_the_inbox_by_either_version_are_handled(wa, target):
    """The inbox holds what Meta posted, in a wrapper of ours: a newer version's wrapper may hold
    more, an older one's had no time of receipt; each is handled, once."""
    from bot.storage import inbox
    from tests.conftest import open_store
    from tests.test_whatsapp_e2e import start_whatsapp, wa_say

    app = await start_whatsapp(wa, target)
    alma, bek = wa.user("77010000001", "Алма"), wa.user("77010000002", "Бек")
    await wa_say(wa, alma, "/start")
    await wa_say(wa, bek, "/start")
    await app.stop()
    rows = []
    for user, extra in ((alma, {"received": time.time(), "v": NEWER, "referral": {"source": "ad"}}), (bek, {})):
        body, message_id = wa.inbound(user, "text", {"body": "/help"})
        rows.append((message_id, json.dumps({"message": body["entry"][0]["changes"][0]["value"]["messages"][0],
                                             "name": user.name, **extra}, ensure_ascii=False)))
    async with open_store(target) as db:  # stored, then the worker was replaced before handling them
        await db.atomic(lambda tx: inbox.store(tx, "whatsapp", rows, "2026-12-07T04:00:00"))
    app = await start_whatsapp(wa, target)
    try:
        for user in (alma, bek):
            assert "/mydata" in (await wa.next_message(user, timeout=10)).text  # /help answered
        await app.channel.drain()
        async with app.db.transaction() as tx:
            assert await tx.scalar("SELECT COUNT(*) FROM inbox") == 0
    finally:
        await app.stop()
