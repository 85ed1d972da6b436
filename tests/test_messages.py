"""What storage keeps of the flows' answers (queued messages, answers kept for a replay) is
versioned JSON, readable by the version before and the version after, and a database whose rows
the previous version pickled still delivers after the upgrade."""

from __future__ import annotations

import base64
import json
import os
import pickle
from dataclasses import replace
from datetime import date, datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import charts
from bot.charts import data, registry
from bot.delivery import Delivery
from bot.flows.engine import Engine
from bot.flows.types import Button, Chart, Event, Message, Outcome, Toast, View
from bot.links import Link
from bot.messages import SCHEMA, Unreadable
from bot.outbox import MAX_AGE, OutboxWorker
from bot.storage import outbox, updates
from bot.storage.db import Database

LABELS = {"title": "Стикермен дауыс беру", "subtitle": "3 мүше дауыс берді", "online": "онлайн",
          "paper": "қағазда", "empty": "Стикер әлі жоқ"}


def ballot_post(**changes) -> Message:
    """A group ballot as the flows post it: a row of buttons per problem, its tag, a chart."""
    rows = [data.StickerRow(1, "Көшеде жарық жоқ", 5, 2), data.StickerRow(2, "Су құбыры ескі", 3)]
    message = Message("telegram", "-1001", "<b>Стикермен дауыс беру</b>\n1. Көшеде жарық жоқ",
                      buttons=((Button("✅ 1", data="d:7:1"), Button("2", data="d:7:2")),
                               (Button("Жеке чатта", link=Link.private("v7")),)),
                      chart=Chart(charts.render_stickers, (rows, LABELS), filename="stickers.png"),
                      tag="ballot:7", durable=True)
    return replace(message, **changes)


def plan_chart() -> Chart:
    rows = [data.TaskRow(1, "Шам орнату", "Асель", date(2026, 3, 2), date(2026, 3, 9)),
            data.TaskRow(2, "Қаражат жинау")]
    return Chart(charts.render_plan, (rows, {"title": "Іс-қимыл жоспары"}), {"today": date(2026, 3, 4)},
                 filename="plan.png")


# --- the JSON --------------------------------------------------------------------------------------

def test_a_ballot_post_and_a_kept_answer_are_stored_as_json_and_read_back_the_same():
    post = ballot_post(document=("votes.csv", b"\x00id;votes\n1;7"))
    stored = json.loads(post.to_json())
    assert stored["v"] == SCHEMA and stored["chart"]["renderer"] == "stickers"
    assert stored["chart"]["args"][0][0] == {"$t": "StickerRow", "v": {"number": 1, "text": "Көшеде жарық жоқ",
                                                                        "online": 5, "paper": 2, "total": 7}}
    back = Message.from_json(post.to_json())
    assert back == post and back.drawn_at == post.drawn_at and back.chart.render is charts.render_stickers

    planned = Message("telegram", "-1001", "Жоспар", chart=plan_chart())
    assert Message.from_json(planned.to_json()).chart == planned.chart  # dates, tuples, kwargs

    answer = Outcome(messages=[post, planned], toast=Toast("Стикер қойылды", alert=True),
                     refresh={View("ballot", 7), View("plan", 2)}, queued=True, replayable=True)
    kept = Outcome.from_json(answer.to_json())
    assert (kept.messages, kept.toast, kept.refresh) == (answer.messages, answer.toast, answer.refresh)


@settings(max_examples=60, deadline=None)
@given(text=st.text(), tag=st.none() | st.text(max_size=20), edit=st.booleans(),
       buttons=st.lists(st.lists(st.builds(Button, st.text(max_size=30), st.none() | st.text(max_size=64)),
                                 min_size=1, max_size=3), max_size=4).map(lambda rows: tuple(map(tuple, rows))),
       drawn_at=st.floats(min_value=0, max_value=4e9))
def test_any_message_reads_back_as_it_was_written(text, tag, edit, buttons, drawn_at):
    message = Message("whatsapp", "77011234567", text, buttons, tag=tag, edit=edit, drawn_at=drawn_at)
    back = Message.from_json(message.to_json())
    assert back == message and back.drawn_at == drawn_at


def test_a_row_from_a_newer_version_is_read_without_what_this_version_does_not_know():
    """A newer version adds fields (to the message, a button, the chart, a row type): this one,
    running beside it in a rolling deploy, sends the message as it knows it."""
    post = ballot_post()
    newer = json.loads(post.to_json())
    newer["v"] = SCHEMA + 1
    newer["reply_to"] = "123"
    newer["buttons"][0][0]["style"] = "primary"
    newer["chart"]["dpi"] = 200
    newer["chart"]["args"][0][0]["v"]["colour"] = "#e63946"
    assert Message.from_json(json.dumps(newer)) == post
    answer = json.loads(Outcome(messages=[post], toast=Toast("ok")).to_json())
    answer["toast"]["haptic"] = True
    answer["audience"] = "community:3"
    kept = Outcome.from_json(json.dumps(answer))
    assert kept.messages == [post] and kept.toast == Toast("ok")


def test_a_row_from_an_older_version_is_read_with_the_fields_added_since():
    """An older version wrote fewer fields: this one reads them at their defaults, and an edit
    written before ``drawn_at`` existed counts as drawn long ago (any newer drawing wins)."""
    older = {"v": 1, "channel": "telegram", "chat_id": "-100", "text": "Дауыс: 3", "tag": "ballot:7", "edit": True,
             "buttons": [[{"text": "✅ 1"}]],
             "chart": {"renderer": "stickers", "args": [[{"$t": "StickerRow",
                                                          "v": {"number": 1, "text": "Жарық", "online": 3}}], {}]}}
    message = Message.from_json(json.dumps(older))
    assert message == Message("telegram", "-100", "Дауыс: 3", ((Button("✅ 1"),),), tag="ballot:7", edit=True,
                              chart=Chart(charts.render_stickers, ([data.StickerRow(1, "Жарық", 3)], {})))
    assert message.drawn_at == 0.0 and message.chart.args[0][0].total == 3
    kept = Outcome.from_json(json.dumps({"v": 1, "toast": {"text": "ok"}}))
    assert kept.messages == [] and kept.toast == Toast("ok") and kept.refresh == set()


@pytest.mark.parametrize("part, name", [("renderer", "os.system"), ("renderer", "render_stickers"),
                                        ("type", "subprocess.Popen"), ("type", "StickerRowV2")])
def test_a_chart_naming_what_this_version_does_not_have_is_refused_not_looked_up(part, name):
    stored = json.loads(ballot_post().to_json())
    if part == "renderer":
        stored["chart"]["renderer"] = name
    else:
        stored["chart"]["args"][0][0]["$t"] = name
    with pytest.raises(Unreadable, match=repr(name).replace(".", r"\.")):
        Message.from_json(json.dumps(stored))


def test_only_registered_renderers_and_row_types_can_be_stored():
    with pytest.raises(TypeError, match="registered chart renderer"):
        Message("telegram", "1", "x", chart=Chart(lambda: b"")).to_json()

    class Elsewhere:  # say, a domain row handed to a chart as it is
        number = 1

    with pytest.raises(TypeError, match="Elsewhere cannot be stored"):
        Message("telegram", "1", "x", chart=Chart(charts.render_stickers, ([Elsewhere()], {}))).to_json()
    with pytest.raises(TypeError, match="text keys"):
        Message("telegram", "1", "x", chart=Chart(charts.render_stickers, ([], {1: "one"}))).to_json()


def test_every_chart_of_bot_charts_is_registered_under_a_name_of_its_own():
    """A chart added to ``bot.charts`` but not to the registry could be drawn, but not queued."""
    exported = {getattr(charts, n) for n in charts.__all__ if n.startswith("render_")}
    assert set(registry.RENDERERS.values()) == exported
    assert all(fn.__module__.startswith("bot.charts.") for fn in registry.RENDERERS.values())
    row_types = {getattr(charts, n) for n in charts.__all__ if isinstance(getattr(charts, n), type)}
    assert set(registry.ROW_TYPES.values()) == row_types


# --- the outbox ------------------------------------------------------------------------------------

class Recorder:
    rate = 1000.0

    def __init__(self) -> None:
        self.sent: list[tuple[Message, bytes | None]] = []

    def min_interval(self, chat_id: str) -> float:
        return 0.0

    async def send(self, message: Message, image: bytes | None) -> str:
        self.sent.append((message, image))
        return str(len(self.sent))

    async def edit(self, message: Message, message_id: str) -> None:
        self.sent.append((message, None))


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).timestamp()

    def __call__(self) -> float:
        return self.now


async def test_a_queued_message_this_version_cannot_read_is_not_sent_and_waits_for_one_that_can(db, caplog):
    """In a rolling deploy a newer version may queue a chart this one does not have: it is not
    sent (nor anything behind it in that chat), other chats go on, and it is dropped only when a
    message may wait no longer."""
    newer = json.loads(ballot_post(chat_id="-1001").to_json())
    newer["chart"]["renderer"] = "heatmap"
    now = datetime.now(timezone.utc)
    queued_at = datetime.fromtimestamp(now.timestamp() - MAX_AGE + 3600, timezone.utc).isoformat()
    now = now.isoformat()
    async with db.transaction() as tx:  # queued 23 hours ago, ahead of a message to the same chat
        await tx.execute("INSERT INTO outbox (channel, chat_id, payload, created_at) VALUES ('telegram', '-1001', ?, ?)",
                         (json.dumps(newer), queued_at))
        await outbox.add(tx, [Message("telegram", "-1001", "Behind it"), Message("telegram", "-1002", "Elsewhere")], now)
    recorder, clock = Recorder(), Clock()
    worker = OutboxWorker(Delivery(db, {"telegram": recorder}), clock=clock)
    wait = await worker.drain_once()
    wait = await worker.drain_once() if wait == 0 else wait
    assert [m.text for m, _ in recorder.sent] == ["Elsewhere"] and wait >= 1
    assert "'heatmap'" in caplog.text
    async with db.transaction() as tx:
        assert await outbox.size(tx) == 2
    clock.now += 3601
    while await worker.drain_once() == 0:
        pass
    assert [m.text for m, _ in recorder.sent] == ["Elsewhere", "Behind it"]
    async with db.transaction() as tx:
        assert await outbox.size(tx) == 0


# --- the upgrade from pickles ----------------------------------------------------------------------
# Written by the code before this change (commit 960a30e), ``pickle.dumps`` of bot.flows.types objects:
# POST   a durable group post with buttons and a sticker chart (StickerRow args, Kazakh labels)
# PLAN   a durable plan post, its chart's TaskRows with dates and a ``today`` keyword
# EDIT   a queued edit of the message tagged "ballot:1"
# REPLY  an answer kept for update 77: ([a private message], a toast, ["ballot:1"])
# EARLIER  a durable message as pickled before ``drawn_at`` existed (migration 009)
POST = (
    "gASVAgMAAAAAAACMD2JvdC5mbG93cy50eXBlc5SMB01lc3NhZ2WUk5QpgZR9lCiMB2NoYW5uZWyUjAh0ZWxlZ3JhbZSMB2No"
    "YXRfaWSUjAUtMTAwMZSMBHRleHSUjBM8Yj7QndOZ0YLQuNC20LU8L2I+lIwHYnV0dG9uc5RoAIwGQnV0dG9ulJOUKYGUfZQo"
    "aAmMBeKchSAxlIwEZGF0YZSMBWQ6MToxlIwDdXJslE51YmgNKYGUfZQoaAmMBtCQ0YjRg5RoEU5oE4wXaHR0cHM6Ly90Lm1l"
    "L3g/c3RhcnQ9djGUdWKGlIWUjAVjaGFydJRoAIwFQ2hhcnSUk5QpgZR9lCiMBnJlbmRlcpSME2JvdC5jaGFydHMuc3RpY2tl"
    "cnOUjA9yZW5kZXJfc3RpY2tlcnOUk5SMBGFyZ3OUXZQojA9ib3QuY2hhcnRzLmRhdGGUjApTdGlja2VyUm93lJOUKYGUfZQo"
    "jAZudW1iZXKUSwFoCYwe0JrTqdGI0LXQtNC1INC20LDRgNGL0psg0LbQvtKblIwGb25saW5llEsFjAVwYXBlcpRLAowFdG90"
    "YWyUSwd1YmgnKYGUfZQoaCpLAmgJjBrQodGDINKb0rHQsdGL0YDRiyDQtdGB0LrRlpRoLEsDaC1LAGguSwN1YmV9lCiMBXRp"
    "dGxllIwm0KHRgtC40LrQtdGA0LzQtdC9INC00LDRg9GL0YEg0LHQtdGA0YOUjAhzdWJ0aXRsZZSMIDMg0LzSr9GI0LUg0LTQ"
    "sNGD0YvRgSDQsdC10YDQtNGWlGgsjAzQvtC90LvQsNC50L2UaC2MDtKb0LDSk9Cw0LfQtNCwlIwFZW1wdHmUjBrQodGC0LjQ"
    "utC10YAg05nQu9GWINC20L7Sm5R1hpSMBmt3YXJnc5R9lIwIZmlsZW5hbWWUjAxzdGlja2Vycy5wbmeUdWKMCGRvY3VtZW50"
    "lE6MA3RhZ5SMCHJlc3VsdDoxlIwEZWRpdJSJjAdkdXJhYmxllIiMCGRyYXduX2F0lEdB2oYpQAAAAHViLg=="
)
PLAN = (
    "gASV9wEAAAAAAACMD2JvdC5mbG93cy50eXBlc5SMB01lc3NhZ2WUk5QpgZR9lCiMB2NoYW5uZWyUjAh0ZWxlZ3JhbZSMB2No"
    "YXRfaWSUjAUtMTAwMZSMBHRleHSUjAzQltC+0YHQv9Cw0YCUjAdidXR0b25zlCmMBWNoYXJ0lGgAjAVDaGFydJSTlCmBlH2U"
    "KIwGcmVuZGVylIwPYm90LmNoYXJ0cy5wbGFulIwLcmVuZGVyX3BsYW6Uk5SMBGFyZ3OUXZSMD2JvdC5jaGFydHMuZGF0YZSM"
    "B1Rhc2tSb3eUk5QpgZR9lCiMBm51bWJlcpRLAYwFdGl0bGWUjBPQqNCw0Lwg0L7RgNC90LDRgtGDlIwFb3duZXKUjArQkNGB"
    "0LXQu9GMlIwFc3RhcnSUjAhkYXRldGltZZSMBGRhdGWUk5RDBAfqAwKUhZRSlIwDZHVllGgkQwQH6gMJlIWUUpR1YmF9lGgd"
    "jB7QhtGBLdKb0LjQvNGL0Lsg0LbQvtGB0L/QsNGA0YuUc4aUjAZrd2FyZ3OUfZSMBXRvZGF5lGgkQwQH6gMElIWUUpRzjAhm"
    "aWxlbmFtZZSMCHBsYW4ucG5nlHVijAhkb2N1bWVudJROjAN0YWeUTowEZWRpdJSJjAdkdXJhYmxllIiMCGRyYXduX2F0lEdB"
    "2oYpQEAAAHViLg=="
)
EDIT = (
    "gASV9QAAAAAAAACMD2JvdC5mbG93cy50eXBlc5SMB01lc3NhZ2WUk5QpgZR9lCiMB2NoYW5uZWyUjAh0ZWxlZ3JhbZSMB2No"
    "YXRfaWSUjAUtMTAwMZSMBHRleHSUjA3QlNCw0YPRi9GBOiA0lIwHYnV0dG9uc5RoAIwGQnV0dG9ulJOUKYGUfZQoaAmMBeKc"
    "hSAxlIwEZGF0YZSMBWQ6MToxlIwDdXJslE51YoWUhZSMBWNoYXJ0lE6MCGRvY3VtZW50lE6MA3RhZ5SMCGJhbGxvdDoxlIwE"
    "ZWRpdJSIjAdkdXJhYmxllImMCGRyYXduX2F0lEdB2oYpQIAAAHViLg=="
)
REPLY = (
    "gASVKwEAAAAAAABdlIwPYm90LmZsb3dzLnR5cGVzlIwHTWVzc2FnZZSTlCmBlH2UKIwHY2hhbm5lbJSMCHRlbGVncmFtlIwH"
    "Y2hhdF9pZJSMAjQylIwEdGV4dJSMI9CU0LDRg9GL0YHRi9Kj0YvQtyDRgdCw0pvRgtCw0LvQtNGLlIwHYnV0dG9uc5QpjAVj"
    "aGFydJROjAhkb2N1bWVudJROjAN0YWeUTowEZWRpdJSJjAdkdXJhYmxllImMCGRyYXduX2F0lEdB2sU3sTCCJHViYWgBjAVU"
    "b2FzdJSTlCmBlH2UKGgKjCnQodGC0LjQutC10YAg0pvQvtC50YvQu9C00Ys6IDEg0pvQsNC70LTRi5SMBWFsZXJ0lImMA3Vy"
    "bJROdWJdlIwIYmFsbG90OjGUYYeULg=="
)
EARLIER = (
    "gASVtwAAAAAAAACMD2JvdC5mbG93cy50eXBlc5SMB01lc3NhZ2WUk5QpgZR9lCiMB2NoYW5uZWyUjAh0ZWxlZ3JhbZSMB2No"
    "YXRfaWSUjAQtMTAwlIwEdGV4dJSMHNCU0LDRg9GL0YEg0LHQtdGA0YMg0LDRiNGL0puUjAdidXR0b25zlCmMBWNoYXJ0lE6M"
    "CGRvY3VtZW50lE6MA3RhZ5SMCGJhbGxvdDo3lIwEZWRpdJSJjAdkdXJhYmxllIh1Yi4="
)


def pickled(literal: tuple[str, ...]) -> bytes:
    return base64.b64decode("".join(literal))


async def database_written_before(path: str, evil: bytes) -> None:
    """The schema of the version before (migration 14) with what it had queued and kept."""
    db = await Database(path).open(migrate_to=14)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    async with db.transaction() as tx:
        await tx.executemany("INSERT INTO outbox (channel, chat_id, payload, created_at) VALUES (?, ?, ?, ?)",
                             [("telegram", "-1001", pickled(POST), now), ("telegram", "-1001", pickled(PLAN), now),
                              ("telegram", "-1001", pickled(EDIT), now), ("telegram", "-100", pickled(EARLIER), now),
                              ("telegram", "-1003", evil, now)])
        await tx.execute("INSERT INTO processed_updates (channel, update_id, processed_at, reply)"
                         " VALUES ('telegram', '77', ?, ?)", (now, pickled(REPLY)))
    await db.close()


async def test_a_database_the_previous_version_wrote_still_delivers_after_the_upgrade(tmp_path):
    path = str(tmp_path / "before.db")
    marker = tmp_path / "executed"

    class Evil:  # a pickle that would run a command: refused, never called
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    await database_written_before(path, pickle.dumps(Evil()))
    db = await Database(path).open()
    try:
        async with db.transaction() as tx:
            kinds = await tx.all("SELECT DISTINCT typeof(payload) FROM outbox UNION ALL"
                                 " SELECT DISTINCT typeof(reply) FROM processed_updates")
            assert [k[0] for k in kinds] == ["text", "text"]  # nothing pickled is left
            # a drawing made after the upgrade replaces the queued edit, read from what was pickled
            await outbox.add(tx, [Message("telegram", "-1001", "Дауыс: 5", tag="ballot:1", edit=True)],
                             datetime.now(timezone.utc).isoformat())
            queued = [Message.from_json(r[0]).text for r in await tx.all("SELECT payload FROM outbox ORDER BY id")]
        assert queued == ["<b>Нәтиже</b>", "Жоспар", "Дауыс беру ашық", "Дауыс: 5"]
        assert not marker.exists()

        recorder = Recorder()
        delivery = Delivery(db, {"telegram": recorder})
        await OutboxWorker(delivery).drain()
        sent = {m.text: (m, image) for m, image in recorder.sent}
        assert sorted(sent) == sorted(["<b>Нәтиже</b>", "Жоспар", "Дауыс беру ашық"])  # (the edited one never went out)
        post, image = sent["<b>Нәтиже</b>"]
        assert image.startswith(b"\x89PNG") and post.tag == "result:1" and post.drawn_at == 1780000000.0
        assert post.buttons[0][1].link == Link.private("v1")  # pickled as https://t.me/x?start=v1
        plan, image = sent["Жоспар"]
        assert image.startswith(b"\x89PNG") and plan.chart.kwargs == {"today": date(2026, 3, 4)}
        earlier, _ = sent["Дауыс беру ашық"]
        assert earlier.drawn_at == 0.0 and earlier.tag == "ballot:7"  # drawn long ago: any newer edit wins
        assert replace(earlier, chat_id="-1001").chat_id == "-1001" and "Дауыс беру ашық" in repr(earlier)

        # the update the previous version answered comes again (a restart replaying the inbox)
        again = await Engine(db).handle(Event("telegram", "42", "42", update_id="77", retry=True, button="d:1:1"))
        assert again.duplicate and again.toast == Toast("Стикер қойылды: 1 қалды")
        assert again.refresh == {View("ballot", 1)}  # pickled as the key "ballot:1"
        recorder.sent.clear()
        await delivery.deliver(again.messages)
        assert [(m.chat_id, m.text) for m, _ in recorder.sent] == [("42", "Дауысыңыз сақталды")]
    finally:
        await db.close()
    assert not marker.exists()


async def test_a_kept_answer_is_json_and_a_retry_is_answered_with_it(db):
    outcome = Outcome(messages=[ballot_post()], toast=Toast("Стикер қойылды"), refresh={View("ballot", 7)})
    async with db.transaction() as tx:
        await updates.claim(tx, "telegram", "5", "2026-03-02T05:00:00+00:00")
        await updates.keep_reply(tx, "telegram", "5", outcome)
        stored = await tx.scalar("SELECT reply FROM processed_updates WHERE update_id = '5'")
        replayed = await updates.replay(tx, "telegram", "5")
    if not isinstance(db, Database):  # PostgreSQL keeps it in BYTEA, as its UTF-8 bytes
        stored = stored.decode("utf-8")
    assert isinstance(stored, str) and json.loads(stored)["v"] == SCHEMA
    assert replayed.duplicate and replayed.messages == outcome.messages and replayed.toast == outcome.toast


async def test_a_kept_answer_naming_a_chart_this_version_does_not_have_is_not_replayed(db, caplog):
    """Kept by a newer version: the update is not handled again, and nothing of its answer is used."""
    newer = json.loads(Outcome(messages=[ballot_post()], toast=Toast("Стикер қойылды")).to_json())
    newer["messages"][0]["chart"]["renderer"] = "heatmap"
    async with db.transaction() as tx:
        await updates.claim(tx, "telegram", "6", "2026-03-02T05:00:00+00:00")
        await tx.execute("UPDATE processed_updates SET reply = ? WHERE update_id = '6'", (json.dumps(newer),))
    again = await Engine(db).handle(Event("telegram", "5", "5", update_id="6", retry=True, button="d:7:1"))
    assert again.duplicate and again.toast is None and again.messages == []
    assert "'heatmap'" in caplog.text


# A ballot's group view redrawn, as the code before audiences and views (2f8462b) wrote it to the outbox.
WRITTEN_BEFORE_VIEWS = ('{"v":1,"channel":"telegram","chat_id":"-100500","text":"Дауыс: 3","buttons":[[{"text":"#1",'
                        '"data":"d:7:1","url":null,"contact":false}]],"chart":null,"document":null,"tag":"b7",'
                        '"edit":true,"durable":true,"drawn_at":1765000000.5}')


def test_a_view_update_stored_before_views_reads_back_and_one_addressed_now_is_stored_in_that_shape():
    from bot import audiences
    from bot.messages import Here, Post, View

    before = Message.from_json(WRITTEN_BEFORE_VIEWS)
    assert (before.chat_id, before.tag, before.edit, before.durable) == ("-100500", "b7", True, True)
    assert View.of_tag(before.tag) == View("b", 7)
    # the resolver writes a view as the tag and edit the previous version reads, key for key
    post = Post(Here(), lambda tr: ("Дауыс: 3", [[Button("#1", data="d:7:1")]]), view=View("b", 7), update=True,
                durable=True)
    [now] = audiences.here(post, audiences.Origin("telegram", "-100500", "42", "kk"))
    written = json.loads(now.to_json())
    assert set(written) == set(json.loads(WRITTEN_BEFORE_VIEWS))
    # the same row but for what links changed since (schema 2: a button names a link, not a URL)
    assert {k: v for k, v in written.items() if k not in ("drawn_at", "v", "buttons")} == {
        k: v for k, v in json.loads(WRITTEN_BEFORE_VIEWS).items() if k not in ("drawn_at", "v", "buttons")}
    assert Message.from_json(now.to_json()) == now
    assert Message.from_json(now.to_json()).buttons == before.buttons
