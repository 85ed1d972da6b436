"""The outbox claimed with leases: several workers on one database send every message once, each
chat's in order and one at a time, and a worker that dies leaves its chats to the others once
its leases run out (bot/outbox.py says exactly what holds then).

Run as a script (``python -m tests.test_outbox_leases URL LOG LEASE HANG``) it is a worker in a
process of its own, for a test to SIGKILL mid-send."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.delivery import Delivery
from bot.messages import Message
from bot.outbox import OutboxWorker
from bot.storage import outbox
from tests.stores import PG, db, pg_url  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
needs_pg = pytest.mark.skipif(not PG, reason="QATYSU_TEST_PG names no PostgreSQL server")


def now_iso(at: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if at is None else at, timezone.utc).isoformat()


async def queue(db, messages: list[Message], at: float | None = None) -> None:
    await db.atomic(lambda tx: outbox.add(tx, messages, now_iso(at)))


async def leased(db) -> dict[str, tuple[str, float]]:
    """chat → (worker, until) of each lease held."""
    rows = await db.atomic(lambda tx: tx.all(
        "SELECT chat_id, leased_by, leased_until FROM outbox WHERE leased_by IS NOT NULL"))
    return {r[0]: (r[1], r[2]) for r in rows}


class Recording:
    """A channel that records each message as it arrives, and catches two sends to one chat at once."""

    rate = 1000.0

    def __init__(self, slow: float = 0.003) -> None:
        self.got: list[tuple[str, str, str]] = []  # (worker, chat, text) in the order they arrived
        self.at: list[float] = []  # when each arrived
        self.in_flight: dict[str, int] = defaultdict(int)
        self.overlaps: list[str] = []
        self.slow = slow
        self.hold: dict[str, asyncio.Event] = {}  # text → released when set

    def min_interval(self, chat_id: str) -> float:
        return 0.0

    def as_worker(self, name: str) -> "_As":
        return _As(self, name)


class _As:
    rate = Recording.rate

    def __init__(self, recording: Recording, name: str) -> None:
        self.recording, self.name = recording, name

    def min_interval(self, chat_id: str) -> float:
        return 0.0

    async def send(self, message: Message, image) -> str:
        r = self.recording
        r.in_flight[message.chat_id] += 1
        if r.in_flight[message.chat_id] > 1:
            r.overlaps.append(message.chat_id)
        try:
            await asyncio.sleep(random.uniform(0, r.slow))
            if message.text in r.hold:
                await r.hold[message.text].wait()
            r.got.append((self.name, message.chat_id, message.text))
            r.at.append(time.time())
            return str(len(r.got))
        finally:
            r.in_flight[message.chat_id] -= 1


async def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


# --- one store or the other ------------------------------------------------------------------

async def test_a_chat_claimed_by_one_worker_is_not_claimed_by_another_until_released_or_its_lease_ends(db):
    """The claim takes the chat, not the row: while a worker holds a chat's oldest message,
    another worker gets neither it nor the chat's next one; it gets them once the lease is
    released, or has run out."""
    t = time.time()
    await queue(db, [Message("telegram", chat, f"{chat} {n}") for n in range(2) for chat in ("a", "b", "c")], t)
    first = await db.atomic(lambda tx: outbox.claim(tx, "w1", t, t + 60, limit=2))
    assert [q.message.text for q in first] == ["a 0", "b 0"]
    second = await db.atomic(lambda tx: outbox.claim(tx, "w2", t, t + 70))
    assert [q.message.text for q in second] == ["c 0"], "a chat held by w1 was claimed by w2"
    assert await db.atomic(lambda tx: outbox.claim(tx, "w2", t + 59, t + 119)) == []
    assert await db.atomic(outbox.next_due) == pytest.approx(t + 60), "an idle worker looks again when a lease ends"
    await db.atomic(lambda tx: outbox.release(tx, "w1", [first[0].id]))
    assert [q.message.text for q in await db.atomic(lambda tx: outbox.claim(tx, "w2", t + 1, t + 61))] == ["a 0"]
    taken = await db.atomic(lambda tx: outbox.claim(tx, "w3", t + 60, t + 120))
    assert [q.message.text for q in taken] == ["b 0"], "a lease that ran out is claimed anew"
    assert await leased(db) == {"a": ("w2", t + 61), "b": ("w3", t + 120), "c": ("w2", t + 70)}


async def test_a_queued_edit_does_not_replace_an_edit_a_worker_holds(db):
    """An edit on its way is not dropped for a newer one: the newer follows it, and the chat is
    not handed to another worker while the older is sent."""
    t = time.time()
    edit = [Message("telegram", "-100", f"Ballot, {n} votes", tag="ballot:1", edit=True) for n in (1, 2, 3)]
    await queue(db, edit[:1], t)
    [held] = await db.atomic(lambda tx: outbox.claim(tx, "w1", t, t + 60))
    await queue(db, edit[1:2], t)
    await queue(db, edit[2:], t)  # replaces the second, which nobody holds
    texts = await db.atomic(lambda tx: tx.all("SELECT payload FROM outbox ORDER BY id"))
    assert [Message.from_json(r[0]).text for r in texts] == ["Ballot, 1 votes", "Ballot, 3 votes"]
    assert await db.atomic(lambda tx: outbox.claim(tx, "w2", t, t + 60)) == []
    assert held.message.text == "Ballot, 1 votes"


async def test_a_worker_leaves_no_lease_behind_when_it_stops_mid_send(db):
    """stop() cuts off a send that outlasts its grace: the message stays queued and free for the
    next worker at once (on SQLite the next start; on PostgreSQL any other worker)."""
    channel = Recording()
    channel.hold["stuck"] = asyncio.Event()
    await queue(db, [Message("telegram", "1", "stuck"), Message("telegram", "2", "other")])
    worker = OutboxWorker(Delivery(db, {"telegram": channel.as_worker("w")}), idle=0.05)
    worker.start()
    worker._paused_until = 0.0  # no predecessor's window to wait out here
    await wait_until(lambda: _true(channel.in_flight["1"] == 1), 5)
    await worker.stop(grace=0.1)
    assert await leased(db) == {}
    [left] = await db.atomic(lambda tx: outbox.claim(tx, "next", time.time(), time.time() + 60, limit=1))
    assert left.message.text == "stuck"


async def test_a_dead_workers_leases_hold_its_chats_until_they_end_but_on_sqlite_a_restart_takes_them(db):
    """A worker died holding chats (its process killed). On PostgreSQL another worker leaves
    them until the lease ends, then sends them; on SQLite, one process, the dead one was the
    predecessor: the next start sends them at once."""
    t = time.time()
    await queue(db, [Message("telegram", "7", "Hello"), Message("telegram", "8", "Hi")], t)
    await db.atomic(lambda tx: outbox.claim(tx, "dead", t, t + 60, limit=1))
    channel = Recording()
    clock = FakeClock(t + 1)
    worker = OutboxWorker(Delivery(db, {"telegram": channel.as_worker("next")}), clock=clock)
    await worker.drain_once()
    if outbox.shared(db):
        assert [text for _, _, text in channel.got] == ["Hi"]
        wait = await worker.drain_once()
        assert wait == pytest.approx(59, abs=0.5), "the next look is when the dead worker's lease ends"
        clock.now = t + 60
        await worker.drain_once()
    assert sorted(text for _, _, text in channel.got) == ["Hello", "Hi"]
    assert await db.atomic(outbox.size) == 0


async def test_a_worker_restarted_under_its_name_takes_back_its_leases_at_once(db):
    """A container restarted keeps its host name and its process's pid: the worker there is the
    dead one's successor and sends what its predecessor held at once."""
    t = time.time()
    await queue(db, [Message("telegram", "7", "Hello")], t)
    channel = Recording()
    worker = OutboxWorker(Delivery(db, {"telegram": channel.as_worker("next")}), clock=FakeClock(t + 1))
    await db.atomic(lambda tx: outbox.claim(tx, worker.worker, t, t + 60))
    assert await worker.drain_once() == 0.0
    assert [text for _, _, text in channel.got] == ["Hello"]
    other = OutboxWorker(Delivery(db, {"telegram": channel.as_worker("next")}))
    assert other.worker != worker.worker, "two workers of one process share a name"


async def test_a_message_this_version_cannot_read_is_left_free_for_a_version_that_can(db):
    """In a rolling deploy an older worker meets a message a newer one queued (a chart it does
    not have): it does not keep it leased, so a newer worker can take it at once."""
    newer = json.loads(Message("telegram", "-100", "Нәтиже").to_json())
    newer["chart"] = {"renderer": "heatmap", "args": [], "kwargs": {}}
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO outbox (channel, chat_id, payload, created_at) VALUES ('telegram', '-100', ?, ?)",
                         (json.dumps(newer), now_iso()))
    await queue(db, [Message("telegram", "7", "Hello")])
    channel = Recording()
    worker = OutboxWorker(Delivery(db, {"telegram": channel.as_worker("old")}))
    await worker.drain()
    assert [text for _, _, text in channel.got] == ["Hello"]
    assert await db.atomic(outbox.size) == 1 and await leased(db) == {}


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _true(value: bool) -> bool:
    return value


async def empty(db) -> bool:
    return await db.atomic(outbox.size) == 0


# --- several workers on one PostgreSQL database ------------------------------------------------



async def open_pg(url: str):
    from bot.storage.pg import PgDatabase

    return await PgDatabase(url).open()


@needs_pg
async def test_two_workers_send_each_of_500_messages_once_each_chat_in_order_and_one_at_a_time(pg_url):
    """Two workers, each with its own connections, drain 500 messages over 50 chats together."""
    a, b = await open_pg(pg_url), await open_pg(pg_url)
    channel = Recording()
    try:
        chats = [c for c in range(50) for _ in range(10)]
        random.Random(7).shuffle(chats)  # the chats' messages interleaved in the queue
        numbered: dict[int, int] = defaultdict(int)
        messages = []
        for c in chats:
            messages.append(Message("telegram", f"chat{c}", f"chat{c} #{numbered[c]}"))
            numbered[c] += 1
        await queue(a, messages)
        workers = [OutboxWorker(Delivery(db, {"telegram": channel.as_worker(name)}), idle=0.05, batch=8)
                   for name, db in (("A", a), ("B", b))]
        for worker in workers:
            worker.start()
        await wait_until(lambda: _true(len(channel.got) >= 500), 60)
        await asyncio.sleep(0.2)  # anything sent twice would arrive now
        for worker in workers:
            await worker.stop(grace=1.0)
        texts = [text for _, _, text in channel.got]
        assert sorted(texts) == sorted(m.text for m in messages), "a message was lost or sent twice"
        assert len(texts) == len(set(texts)) == 500
        for chat in {m.chat_id for m in messages}:
            assert [text for _, c, text in channel.got if c == chat] == [f"{chat} #{n}" for n in range(10)]
        assert channel.overlaps == [], "two sends to one chat at once"
        by = {name: sum(1 for w, _, _ in channel.got if w == name) for name in "AB"}
        assert by["A"] > 50 and by["B"] > 50, f"the work was not shared: {by}"
        assert await a.atomic(outbox.size) == 0 and await leased(a) == {}
    finally:
        await a.close()
        await b.close()


@needs_pg
async def test_a_send_that_outlasts_the_lease_keeps_its_chat_while_the_worker_lives(pg_url):
    """The lease is renewed while a send waits (a slow channel, a slot): another worker does
    not take the chat, however long it lasts."""
    a, b = await open_pg(pg_url), await open_pg(pg_url)
    channel = Recording()
    channel.hold["slow"] = asyncio.Event()
    try:
        await queue(a, [Message("telegram", "1", "slow"), Message("telegram", "1", "next")])
        first = OutboxWorker(Delivery(a, {"telegram": channel.as_worker("A")}), idle=0.05, lease=0.6)
        first.start()
        first._paused_until = 0.0
        await wait_until(lambda: _true(channel.in_flight["1"] == 1), 5)
        second = OutboxWorker(Delivery(b, {"telegram": channel.as_worker("B")}), idle=0.05, lease=0.6)
        second.start()
        await asyncio.sleep(2.5)  # four leases long
        assert channel.got == [] and channel.overlaps == []
        channel.hold["slow"].set()
        await wait_until(lambda: _true(len(channel.got) == 2), 5)
        await asyncio.sleep(0.3)
        assert [text for _, _, text in channel.got] == ["slow", "next"]
        assert channel.got[0][0] == "A" and channel.overlaps == []
        await first.stop()
        await second.stop()
    finally:
        await a.close()
        await b.close()


# --- a worker in a process of its own, SIGKILLed mid-send --------------------------------------

LEASE = 2.0


class FileChannel:
    """The dying worker's channel: each message that reaches it is written to a log at once,
    then the send of ``hang`` never returns (the process is killed there)."""

    rate = 1000.0

    def __init__(self, log: str, hang: str) -> None:
        self.fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        self.hang = hang

    def min_interval(self, chat_id: str) -> float:
        return 0.0

    async def send(self, message: Message, image) -> str:
        os.write(self.fd, f"{message.chat_id}\t{message.text}\n".encode())
        if message.text == self.hang:
            os.write(self.fd, b"HANG\n")
            await asyncio.Event().wait()
        return "1"


async def _serve(url: str, log: str, lease: float, hang: str) -> None:
    db = await open_pg(url)
    worker = OutboxWorker(Delivery(db, {"telegram": FileChannel(log, hang)}), idle=0.05, lease=lease, batch=5)
    worker.start()
    await asyncio.Event().wait()


def sent_by_the_dead(log: Path) -> list[tuple[str, str]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [tuple(line.split("\t")) for line in lines if line != "HANG"]


@needs_pg
@pytest.mark.parametrize("once", [False, True], ids=["at-least-once", "once"])
async def test_a_worker_killed_mid_send_leaves_its_chats_to_the_other_after_its_lease(pg_url, tmp_path, once):
    """A worker process is SIGKILLed while a message's request has reached the channel and the
    outbox has not recorded it. The other worker leaves the dead one's chats alone until its
    leases end, then sends the rest: nothing is lost; the message in flight arrives a second
    time (not ``once``: the documented window), or not again (``once``); nothing else twice."""
    db = await open_pg(pg_url)
    log = tmp_path / "dead.log"
    hang = "chat3 #2"
    messages = [Message("telegram", f"chat{c}", f"chat{c} #{n}", once=once and f"chat{c} #{n}" == hang)
                for n in range(5) for c in range(12)]
    await queue(db, messages)
    process = subprocess.Popen([sys.executable, "-m", "tests.test_outbox_leases", pg_url, str(log), str(LEASE), hang],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    survivor = None
    channel = Recording()
    try:
        await wait_until(lambda: _true(log.exists() and "HANG" in log.read_text()), 20)
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        # The other worker runs beside the hung one for a while (the hung one renews its leases),
        # then the hung one is killed.
        survivor = OutboxWorker(Delivery(db, {"telegram": channel.as_worker("survivor")}), idle=0.05, batch=5)
        survivor.start()
        await asyncio.sleep(2 * LEASE)
        held = await leased(db)
        assert "chat3" in held and len({w for w, _ in held.values()}) == 1
        process.send_signal(signal.SIGKILL)
        process.wait(5)
        await wait_until(lambda: empty(db), 20)
        await asyncio.sleep(0.2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        if survivor is not None:
            await survivor.stop()
        await db.close()
    dead = sent_by_the_dead(log)
    alive = [(chat, text) for _, chat, text in channel.got]
    assert (sorted(set(dead + alive)) == sorted((m.chat_id, m.text) for m in messages)), "a message was lost"
    twice = sorted(m for m in dead + alive if (dead + alive).count(m) > 1)
    assert twice == ([] if once else [("chat3", hang), ("chat3", hang)])
    assert ("chat3", hang) in dead
    for chat in {m.chat_id for m in messages}:  # each chat in order across both workers
        texts = [text for c, text in dead + alive if c == chat]
        assert texts == sorted(texts), (chat, texts)
    for chat, (_, until) in held.items():  # none of the dead worker's chats before its lease ended
        firsts = [t for (_, c, _), t in zip(channel.got, channel.at) if c == chat]
        assert firsts and min(firsts) >= until - 0.05, (chat, until, firsts)
    assert channel.overlaps == []


if __name__ == "__main__":
    url, log_path, lease, hang = sys.argv[1:5]
    asyncio.run(_serve(url, log_path, float(lease), hang))
