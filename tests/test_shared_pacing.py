"""Two workers on one PostgreSQL database share the channel's limits (issue 15): a chat's
interval and the channel's rate hold across both, a 429 one of them sees holds the chat (or the
channel) for the other, a group's view redrawn by taps on both is edited at most once per
interval and ends showing the last state, what a message shows is known to both, and an edit
answering the member's own tap still takes no slot.

Each worker is a ``Delivery`` with its own connection pool and its own sender; the senders write
into one log, with the time each request left."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.delivery import Delivery, RetryLater
from bot.messages import Message, Outcome, View
from tests.stores import PG, drop_pg_database, new_pg_database

pytestmark = pytest.mark.skipif(not PG, reason="QATYSU_TEST_PG names no PostgreSQL server")

GROUP = "-100"


class Telegram:
    """One worker's sender: ``rate`` messages a second overall, ``intervals`` seconds between two
    messages to a chat (a group's, a private chat's); records each request in the shared ``log``
    as (time, worker, chat, text, edited). ``refuse``: chat → what its next request raises (a 429)."""

    def __init__(self, log: list, worker: str, rate: float, group: float = 0.6, private: float = 0.3) -> None:
        self.log, self.worker, self.rate = log, worker, rate
        self.group, self.private = group, private
        self.refuse: dict[str, Exception] = {}

    def min_interval(self, chat_id: str) -> float:
        return self.group if chat_id.startswith("-") else self.private

    def _record(self, message: Message, edited: bool) -> None:
        if (refused := self.refuse.pop(message.chat_id, None)) is not None:
            raise refused
        self.log.append((time.monotonic(), self.worker, message.chat_id, message.text, edited))

    async def send(self, message: Message, image: bytes | None) -> str | None:
        self._record(message, False)
        return f"{message.chat_id}:{len(self.log)}"

    async def edit(self, message: Message, message_id: str) -> None:
        self._record(message, True)


@pytest.fixture
async def database():
    """One PostgreSQL database for both workers; its URL."""
    url = await new_pg_database("qatysu_pace")
    yield url
    await drop_pg_database(url)


async def two_workers(url: str, rate: float, **kw) -> tuple[list, list[Delivery]]:
    from bot.storage.pg import PgDatabase

    log: list = []
    workers = []
    for name in ("A", "B"):
        db = await PgDatabase(url, pool_size=4).open()
        workers.append(Delivery(db, {"telegram": Telegram(log, name, rate, **kw)}, edit_interval=1.0))
    return log, workers


async def close(workers: list[Delivery]) -> None:
    for worker in workers:
        await worker.cancel()
        await worker.db.close()


async def as_the_outbox(worker: Delivery, messages: list[Message]) -> int:
    """Send ``messages`` one after the other as the outbox does (``send_one``, no priority): a
    chat that another worker used lately or a 429 holds answers RetryLater, and is tried again
    when it may. Returns how many RetryLater there were."""
    sender = worker.senders["telegram"]
    retried = 0
    for message in messages:
        while True:
            try:
                await worker.send_one(sender, message)
                break
            except RetryLater as exc:
                retried += 1
                await asyncio.sleep(max(exc.seconds, 0.01))
    return retried


def most_in_a_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


async def test_two_workers_keep_a_chats_interval_and_the_channels_rate_between_them(database):
    log, (a, b) = await two_workers(database, rate=10.0)  # a slot every ~105 ms, for both together
    try:
        started = time.monotonic()
        broadcast = [Message("telegram", str(1000 + i), f"digest {i}") for i in range(40)]
        to_group = [Message("telegram", GROUP, f"news {i}") for i in range(8)]
        queues: list[list[Message]] = [[], []]
        for i, message in enumerate(broadcast):  # each worker's outbox: its digests, and a group post every 5th
            queues[i % 2].append(message)
            if i % 5 == 0:
                queues[i % 2].append(to_group[i // 5])
        await asyncio.gather(
            as_the_outbox(a, queues[0]),
            as_the_outbox(b, queues[1]),
            a.deliver([Message("telegram", "7", "an answer"), Message("telegram", "7", "and another")]),
            b.deliver([Message("telegram", "7", "from B too")]))
        took = time.monotonic() - started
    finally:
        await close([a, b])
    times = [at for at, *_ in log]
    assert len(times) == 40 + 8 + 3 and {w for _, w, *_ in log} == {"A", "B"}
    assert most_in_a_second(times) <= 10  # the channel's rate, across both workers
    assert took >= (len(times) - 10) / 10  # so it took as long as one worker alone would
    for chat, interval in ((GROUP, 0.6), ("7", 0.3)):
        sent = sorted(at for at, _, to, *_ in log if to == chat)
        assert min(later - earlier for earlier, later in zip(sent, sent[1:])) >= interval, chat  # whoever sent it
    assert sorted(text for _, _, to, text, _ in log if to == GROUP) == sorted(m.text for m in to_group)


async def test_a_429_one_worker_sees_holds_the_chat_and_the_channel_for_the_other(database):
    log, (a, b) = await two_workers(database, rate=30.0)
    try:
        a.senders["telegram"].refuse["7"] = RetryLater(1.0)
        told = time.monotonic()
        reminder = asyncio.create_task(as_the_outbox(a, [Message("telegram", "7", "reminder")]))
        while "7" in a.senders["telegram"].refuse:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.1)  # A was told to wait a second, and wrote it down
        await b.deliver([Message("telegram", "7", "your answer")])  # B answers the same member meanwhile
        assert await reminder >= 1  # A's reminder was refused, then sent
        sent = {text: at for at, _, chat, text, _ in log if chat == "7"}
        assert set(sent) == {"reminder", "your answer"}
        assert sent["your answer"] >= told + 1.0  # B waited out the hold A was told of
        assert abs(sent["reminder"] - sent["your answer"]) >= 0.3  # and the two kept the chat's interval

        b.senders["telegram"].refuse["8"] = RetryLater(0.8, everywhere=True)  # the whole channel
        told = time.monotonic()
        digest = asyncio.create_task(as_the_outbox(b, [Message("telegram", "8", "digest")]))
        while "8" in b.senders["telegram"].refuse:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.1)
        await a.deliver([Message("telegram", "9", "another member's answer")])  # A never saw a 429
        await digest
        sent = {chat: at for at, _, chat, _, _ in log}
        assert sent["9"] >= told + 0.8  # it waited out B's hold of the channel
        assert a.pacer("telegram").deferred >= 1  # told by the database, not by its own sender
    finally:
        await close([a, b])


async def test_a_groups_view_redrawn_by_taps_on_both_workers_is_edited_once_an_interval_and_ends_at_the_last_state(
        database):
    log, (a, b) = await two_workers(database, rate=30.0, group=0.2)
    a.throttle.interval = b.throttle.interval = 1.0
    try:
        async with a.db.transaction() as tx:
            await tx.execute("CREATE TABLE tally (n INTEGER NOT NULL)")
            await tx.execute("INSERT INTO tally VALUES (0)")

        draws: list[tuple[float, str]] = []  # when each redraw began (its claim won), by which worker
        for worker, name in ((a, "A"), (b, "B")):
            async def redraw(view: View, worker: Delivery = worker, name: str = name) -> Outcome:
                draws.append((time.monotonic(), name))
                n = await worker.db.scalar("SELECT n FROM tally")
                return Outcome(messages=[Message("telegram", GROUP, f"counts: {n}", tag="b1", edit=True)])

            worker.redraw = redraw
        await a.deliver([Message("telegram", GROUP, "counts: 0", tag="b1")])
        started = time.monotonic()
        taps = 40

        async def tap(i: int) -> None:
            worker = (a, b)[i % 2]
            await asyncio.sleep(i * 0.06)  # 40 taps over 2.4 s, alternating between the workers
            await worker.db.atomic(lambda tx: tx.execute("UPDATE tally SET n = n + 1"))
            await worker.deliver_outcome(Outcome(refresh={View("b", 1)}))  # after the commit, as the engine does

        await asyncio.gather(*(tap(i) for i in range(taps)))
        while a.throttle.busy or b.throttle.busy or a._views or b._views:
            await asyncio.gather(a.flush(), b.flush())
        took = time.monotonic() - started
    finally:
        await close([a, b])
    edits = [(at, w, text) for at, w, chat, text, edited in log if edited]
    assert edits[-1][2] == f"counts: {taps}"  # the last state is drawn
    assert {w for _, w in draws} == {"A", "B"}  # by whichever worker claimed it
    gaps = [later[0] - earlier[0] for earlier, later in zip(draws, draws[1:])]
    assert min(gaps) >= 0.98, gaps  # redrawn once a second at most, across both
    assert len(edits) <= len(draws) <= took + 1, (len(edits), took)  # not once per tap, nor once per worker


async def test_what_a_message_shows_is_known_to_both_workers(database):
    """A per-worker memory of what a message shows would skip an edit back to the state this
    worker drew last, though the other one drew something else since."""
    log, (a, b) = await two_workers(database, rate=30.0)
    try:
        await a.deliver([Message("telegram", GROUP, "counts: 0", tag="b1")])
        await a.deliver([Message("telegram", GROUP, "counts: 1", tag="b1", edit=True)])
        await b.deliver([Message("telegram", GROUP, "counts: 2", tag="b1", edit=True)])
        await a.deliver([Message("telegram", GROUP, "counts: 1", tag="b1", edit=True)])  # a vote taken back
        await b.deliver([Message("telegram", GROUP, "counts: 1", tag="b1", edit=True)])  # the same again: no edit
        a.senders["telegram"].refuse[GROUP] = RuntimeError("Bad Gateway")  # an edit that fails
        await a.deliver([Message("telegram", GROUP, "counts: 3", tag="b1", edit=True)])
        async with a.db.transaction() as tx:
            queued = await tx.all("SELECT id FROM outbox")
            await tx.execute("DELETE FROM outbox")  # (no outbox runs here: it would send it again)
        await b.deliver([Message("telegram", GROUP, "counts: 3", tag="b1", edit=True)])  # so this one is sent
    finally:
        await close([a, b])
    assert len(queued) == 1
    assert [(w, text) for _, w, _, text, edited in log if edited] == [
        ("A", "counts: 1"), ("B", "counts: 2"), ("A", "counts: 1"), ("B", "counts: 3")]


async def test_an_edit_answering_the_members_own_tap_takes_no_slot_on_either_worker(database):
    log, (a, b) = await two_workers(database, rate=3.0, private=1.0)  # a slot every ~350 ms between both
    tapped = ("telegram", "7")
    try:
        await b.deliver([Message("telegram", "7", "question 1", tag="b1")])
        draining = asyncio.create_task(as_the_outbox(a, [Message("telegram", str(100 + i), "digest") for i in range(20)]))
        try:
            while sum(1 for *_, text, _ in log if text == "digest") < 4:
                await asyncio.sleep(0.005)
            asked = time.monotonic()
            for n in range(2, 6):  # four answers in a row, their taps taken by either worker
                await (a, b)[n % 2].deliver([Message("telegram", "7", f"question {n}", tag="b1", edit=True)],
                                            tapped=tapped)
            assert time.monotonic() - asked < 0.5  # neither an overall slot nor the chat's second each
            await asyncio.sleep(1.1)  # B's last send there is more than a second old
            await a.deliver([Message("telegram", "7", "question 6", tag="b1", edit=True)], tapped=tapped)
            asked = time.monotonic()
            await b.deliver([Message("telegram", "7", "a note")])  # a new message, right after A's edit
            assert time.monotonic() - asked >= 0.8  # waits the chat's second from that edit, made on A
        finally:
            draining.cancel()
    finally:
        await close([a, b])
    assert [text for _, _, chat, text, _ in log if chat == "7"] == [
        "question 1", *(f"question {n}" for n in range(2, 7)), "a note"]
    assert a.pacer("telegram").own + b.pacer("telegram").own == 5
    counted = [at for at, _, chat, text, _ in log if not text.startswith("question ") or text == "question 1"]
    assert most_in_a_second(counted) <= 3  # the rest kept to the channel's rate


async def test_a_database_the_workers_paced_on_copies_to_sqlite_and_back(database, tmp_path):
    """The pacing rows are plain rows (times, and the channel's last slots as text): ``qatysu
    copy`` takes a PostgreSQL database the workers used to SQLite and back, verified."""
    from bot.storage import copy as copying

    log, (a, b) = await two_workers(database, rate=30.0)
    try:
        await a.deliver([Message("telegram", GROUP, "counts: 0", tag="b1"), Message("telegram", "7", "hello")])
        await b.deliver([Message("telegram", GROUP, "counts: 1", tag="b1", edit=True)])
        await a.pacer("telegram").report("8", 5.0, everywhere=True)
        b.redraw = lambda view: asyncio.sleep(0, Outcome())
        await b.deliver_outcome(Outcome(refresh={View("b", 1)}))
        async with a.db.transaction() as tx:
            assert await tx.scalar("SELECT COUNT(*) FROM pace") >= 4 and await tx.scalar(
                "SELECT COUNT(*) FROM view_claims") == 1
    finally:
        await close([a, b])
    said: list[str] = []
    await copying.copy(database, str(tmp_path / "copy.db"), say=said.append)
    back = await new_pg_database("qatysu_pace")
    try:
        await copying.copy(str(tmp_path / "copy.db"), back, say=said.append)
    finally:
        await drop_pg_database(back)
    paced = [line.split() for line in said if line.split()[0] in ("pace", "view_claims", "message_refs")]
    assert len(paced) == 6 and all(int(w[1]) > 0 and w[-1] == "identical" for w in paced), said  # there and back


async def test_a_worker_of_another_channel_draws_its_own_channels_redraws(database):
    """A WhatsApp app in a process of its own beside the Telegram workers: a view both show is
    redrawn for each; the Telegram worker's claim does not stand for WhatsApp's (it would draw
    Telegram's messages only)."""
    from bot.storage.pg import PgDatabase

    log: list = []
    telegram = Delivery(await PgDatabase(database, pool_size=2).open(), {"telegram": Telegram(log, "T", 30.0)})
    whatsapp = Delivery(await PgDatabase(database, pool_size=2).open(), {"whatsapp": Telegram(log, "W", 30.0)})

    async def redraw(view: View) -> Outcome:  # the engine's: the view's messages on every channel
        return Outcome(messages=[Message("telegram", GROUP, "counts: 1", tag="b1", edit=True),
                                 Message("whatsapp", "77", "counts: 1", tag="b1")])

    telegram.redraw = whatsapp.redraw = redraw
    telegram.throttle.interval, whatsapp.throttle.interval = 0.2, 1.0
    try:
        await telegram.deliver([Message("telegram", GROUP, "counts: 0", tag="b1")])
        await telegram.deliver_outcome(Outcome(refresh={View("b", 1)}))  # Telegram's worker draws it
        await whatsapp.deliver_outcome(Outcome(refresh={View("b", 1)}))  # and WhatsApp's is asked to
        await asyncio.sleep(0.3)
        await telegram.deliver_outcome(Outcome(refresh={View("b", 1)}))  # Telegram's claims it again
        await asyncio.gather(telegram.flush(), whatsapp.flush())
    finally:
        await close([telegram, whatsapp])
    assert ("W", "77", "counts: 1") in [(w, chat, text) for _, w, chat, text, _ in log]  # WhatsApp's drawn too
    assert all(w == "T" for _, w, chat, *_ in log if chat == GROUP)


async def test_the_rows_of_chats_long_quiet_and_old_claims_are_forgotten(database):
    """One row per chat sent to lately, not per chat ever: the scheduler's prune drops the chats
    whose interval and hold ended over a minute ago, and claims of views over an hour old. The
    channel's own row stays."""
    from bot import scheduler
    from bot.flows.engine import Engine
    from bot.storage import pace
    from bot.storage.pg import PgDatabase

    db = await PgDatabase(database, pool_size=2).open()
    try:
        shared = pace.SharedPace(db, "telegram")
        for chat in ("1", "2", "3"):
            assert (await shared.take(chat, interval=1.0, spacing=0.0, cap=None, catch_up=0.25, own=False)).slot == 0
        await shared.hold("3", 600.0)  # a long 429: kept while it holds
        await pace.claim_view(db, "old view", 3.0)
        await pace.claim_view(db, "new view", 3.0)
        async with db.transaction() as tx:
            await tx.execute("UPDATE pace SET next_at = next_at - 120 WHERE chat_id IN ('1', '3')")
            await tx.execute("UPDATE view_claims SET claimed_at = claimed_at - 7200 WHERE view = 'old view'")
        await shared.take("4", interval=1.0, spacing=0.0, cap=None, catch_up=0.25, own=False)
        await Engine(db).run_system(scheduler.prune)
        async with db.transaction() as tx:
            chats = {r[0] for r in await tx.all("SELECT chat_id FROM pace")}
            views = {r[0] for r in await tx.all("SELECT view FROM view_claims")}
    finally:
        await db.close()
    assert chats == {"", "2", "3", "4"} and views == {"new view"}


async def test_reservations_racing_on_a_server_whose_default_isolation_is_serializable_all_get_a_slot(database):
    """A reservation is one statement at the server's default isolation (READ COMMITTED: it
    waits for the row); where an operator made SERIALIZABLE the default, the reservations that
    fail to serialize are made again: every send gets a slot of its own, still evenly spaced."""
    import asyncpg

    from bot.storage import pace
    from bot.storage.pg import PgDatabase

    name = database.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_isolation TO \'serializable\'')
    finally:
        await admin.close()
    workers = [await PgDatabase(database, pool_size=8).open() for _ in range(2)]
    try:
        async with workers[0].pool.acquire() as conn:
            assert await conn.fetchval("SHOW default_transaction_isolation") == "serializable"
        shared = [pace.SharedPace(db, "telegram") for db in workers]
        got = await asyncio.gather(*(shared[i % 2].take(str(i), interval=1.0, spacing=0.01, cap=100, catch_up=0.0,
                                                        own=False) for i in range(32)))
        recent = await workers[0].scalar("SELECT recent FROM pace WHERE chat_id = ''")  # the slots' server times
    finally:
        for db in workers:
            await db.close()
    assert all(r.slot is not None for r in got)
    slots = sorted(float(t) for t in recent.split(","))
    assert len(slots) == 32 and min(b - a for a, b in zip(slots, slots[1:])) >= 0.01 - 1e-6  # one each, spaced
