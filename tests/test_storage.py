"""Storage: migrations, pragmas, transactions and the audit chain."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time

import pytest

from bot.storage import audit, communities, members, updates
from bot.storage.db import AwaitedOutsideDatabase, Database, migrations, split_statements
from tests.stores import db  # noqa: F401  (the tests taking `db` run on SQLite, and on PostgreSQL when QATYSU_TEST_PG is set)

LATEST = migrations()[-1][0]  # the newest migration's number (numbers may leave gaps)


async def tables(db: Database) -> set[str]:
    async with db.transaction() as tx:
        rows = await tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r[0] for r in rows}


async def test_fresh_database_is_migrated_to_the_latest_version(tmp_path):
    async with Database(str(tmp_path / "a.db")) as db:
        assert await db.version() == LATEST
        assert {"communities", "members", "identities", "memberships", "group_links", "conversations",
                "processed_updates", "audit_log"} <= await tables(db)
        async with db.conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
        async with db.conn.execute("PRAGMA foreign_keys") as cur:
            assert (await cur.fetchone())[0] == 1


@pytest.mark.parametrize("start", [0] + [n for n, _, _ in migrations()])
async def test_migrating_from_each_earlier_version(tmp_path, start):
    path = str(tmp_path / "b.db")
    db = await Database(path).open(migrate_to=start)
    assert await db.version() == start
    await db.close()
    async with Database(path) as reopened:  # opening applies the rest
        assert await reopened.version() == LATEST
        expected = await tables(reopened)
    async with Database(str(tmp_path / "fresh.db")) as fresh:
        assert await tables(fresh) == expected


async def test_migrations_are_idempotent(tmp_path):
    path = str(tmp_path / "c.db")
    async with Database(path):
        pass
    async with Database(path) as db:
        assert await db.version() == LATEST


def test_split_statements_keeps_triggers_whole():
    script = "CREATE TABLE a (x);\nCREATE TRIGGER t BEFORE UPDATE ON a\nBEGIN\n SELECT 1;\nEND;\n"
    assert len(split_statements(script)) == 2


async def test_a_failed_transaction_leaves_nothing(db):
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await members.create(tx, "demo", "1", "kk", "2026-01-01T00:00:00")
            raise RuntimeError("boom")
    async with db.transaction() as tx:
        assert await members.by_identity(tx, "demo", "1") is None


async def test_atomic_commits_its_work_and_returns_its_result(db):
    async def work(tx):
        member_id = (await members.create(tx, "demo", "1", "kk", "2026-01-01T00:00:00")).id
        return member_id, await tx.scalar("SELECT COUNT(*) FROM members")

    member_id, count = await db.atomic(work)
    assert count == 1
    assert await db.scalar("SELECT id FROM members") == member_id


async def test_a_failed_atomic_leaves_nothing_and_reraises(db):
    async def work(tx):
        await members.create(tx, "demo", "1", "kk", "2026-01-01T00:00:00")
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await db.atomic(work)
    assert await db.scalar("SELECT COUNT(*) FROM members") == 0
    assert await db.atomic(lambda tx: tx.scalar("SELECT 1")) == 1  # the connection is usable again


class Suspend:
    def __await__(self):
        yield  # what an awaited future or socket does: hand control back to the event loop


@pytest.mark.parametrize("outside, error", [
    (Suspend, AwaitedOutsideDatabase),
    (lambda: asyncio.sleep(0.01), AwaitedOutsideDatabase),
])
async def test_atomic_refuses_to_await_anything_but_the_database(db, outside, error):
    async def work(tx):
        await members.create(tx, "demo", "1", "kk", "2026-01-01T00:00:00")
        await outside()  # e.g. a network call: it would hold the write lock across it

    with pytest.raises(error):
        await db.atomic(work)
    assert await db.scalar("SELECT COUNT(*) FROM members") == 0


@pytest.mark.sqlite_only  # SQLite's loop connection and aiosqlite's thread
async def test_atomic_never_hands_over_to_a_thread(db, monkeypatch):
    hops = 0
    real = db.conn._execute

    async def counting(fn, *args, **kwargs):
        nonlocal hops
        hops += 1
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(db.conn, "_execute", counting)

    async def work(tx):
        for i in range(10):
            await members.create(tx, "demo", str(i), "kk", "2026-01-01T00:00:00")
        return await tx.all("SELECT id FROM members")

    assert len(await db.atomic(work)) == 10
    assert hops == 0


async def test_concurrent_atomics_each_see_the_others_commits(db):
    async def bump(tx):
        count = await tx.scalar("SELECT COUNT(*) FROM members")
        await members.create(tx, "demo", str(count), "kk", "2026-01-01T00:00:00")

    await asyncio.gather(*(db.atomic(bump) for _ in range(50)))
    assert await db.scalar("SELECT COUNT(DISTINCT i.external_id) FROM identities i") == 50


@pytest.mark.sqlite_only  # on SQLite atomic and transaction() share the write lock; on PostgreSQL each has its own SERIALIZABLE transaction
async def test_atomic_never_joins_a_transaction_in_progress(db):
    count = None
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await members.create(tx, "demo", "1", "kk", "2026-01-01T00:00:00")
            count = asyncio.create_task(db.atomic(lambda tx: tx.scalar("SELECT COUNT(*) FROM members")))
            await asyncio.sleep(0.05)
            assert not count.done()
            raise RuntimeError("roll back")
    assert await count == 0  # it ran after the rollback, not inside the other transaction


@pytest.mark.sqlite_only  # SQLite's write lock
async def test_atomic_waits_for_another_writer_without_blocking_the_event_loop(db):
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    running = asyncio.create_task(ticker())
    writing = asyncio.create_task(db.atomic(lambda tx: members.create(tx, "demo", "1", "kk", "now")))
    await asyncio.sleep(0.3)
    assert not writing.done() and ticks >= 10  # waiting, and the loop goes on meanwhile
    other.execute("ROLLBACK")
    await writing
    running.cancel()
    assert await db.scalar("SELECT COUNT(*) FROM members") == 1

    other.execute("BEGIN IMMEDIATE")  # held for longer than busy_timeout: an error, not a hang
    db.busy_timeout_ms = 200
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await db.atomic(lambda tx: members.create(tx, "demo", "2", "kk", "now"))
    other.execute("ROLLBACK")
    other.close()


@pytest.mark.sqlite_only  # SQLite's WAL
async def test_committed_pages_reach_the_database_file_by_background_checkpoints(db, monkeypatch):
    monkeypatch.setattr(db, "CHECKPOINT_INTERVAL", 0.05)
    db._checkpointer.cancel()
    db._checkpointer = asyncio.create_task(db._checkpoint_forever())
    for i in range(20):
        await db.atomic(lambda tx, i=i: members.create(tx, "demo", str(i), "kk", "now"))
    await asyncio.sleep(0.3)
    file_only = sqlite3.connect(f"file:{db.path}?mode=ro&immutable=1", uri=True)  # ignores the WAL
    assert file_only.execute("SELECT COUNT(*) FROM members").fetchone()[0] == 20
    file_only.close()


@pytest.mark.sqlite_only  # SQLite's WAL
async def test_checkpoints_wait_for_a_transaction_in_progress(db, monkeypatch, caplog):
    monkeypatch.setattr(db, "CHECKPOINT_INTERVAL", 0.02)
    db._checkpointer.cancel()
    db._checkpointer = asyncio.create_task(db._checkpoint_forever())
    await db.atomic(lambda tx: members.create(tx, "demo", "1", "kk", "now"))
    async with db.transaction() as tx:  # same connection as the checkpointer's
        await members.create(tx, "demo", "2", "kk", "now")
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.1)
    assert "checkpoint failed" not in caplog.text
    assert await db.scalar("SELECT COUNT(*) FROM members") == 2


async def test_foreign_keys_are_enforced(db):
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO identities VALUES ('demo', '9', 12345, 'now')")


async def test_an_update_is_claimed_once(db):
    async with db.transaction() as tx:
        assert await updates.claim(tx, "telegram", "7", "t")
        assert not await updates.claim(tx, "telegram", "7", "t")
        assert await updates.claim(tx, "whatsapp", "7", "t")


async def test_an_answer_kept_for_a_retry_is_forgotten_once_it_went_out_or_after_ten_minutes(db):
    from datetime import datetime, timedelta, timezone

    from bot import scheduler
    from bot.flows.engine import Engine
    from bot.flows.types import Outcome, Toast
    from bot.handlers.polling import _done
    from bot.storage import inbox

    now = datetime.now(timezone.utc)
    placed = Outcome(toast=Toast("Sticker placed"))
    async with db.transaction() as tx:  # 1: answered long ago; 2: long ago, still in the inbox
        for update_id, minutes_ago in (("1", 11), ("2", 11), ("3", 1), ("4", 1)):  # 3: lately; 4: went out
            await updates.claim(tx, "telegram", update_id, (now - timedelta(minutes=minutes_ago)).isoformat())
            await updates.keep_reply(tx, "telegram", update_id, placed)
        await inbox.store(tx, "telegram", [("2", "{}"), ("4", "{}")], now.isoformat())
        await _done(tx, ["4"])
    engine = Engine(db, clock=lambda: now - timedelta(days=365))  # answers go by the real time, not a demo's
    await engine.run_system(scheduler.prune)
    async with db.transaction() as tx:
        kept = {u: (await updates.replay(tx, "telegram", u)).toast for u in "1234"}
    assert kept == {"1": None, "2": placed.toast, "3": placed.toast, "4": None}


async def test_an_answer_that_cannot_be_read_any_more_is_skipped_not_called_a_failure(db):
    from bot.flows.engine import Engine
    from bot.flows.types import Event

    async with db.transaction() as tx:
        await updates.claim(tx, "telegram", "9", "2026-01-01T10:00:00+00:00")
        await tx.execute("UPDATE processed_updates SET reply = ? WHERE update_id = '9'", (b"\x80\x05not a pickle",))
    outcome = await Engine(db).handle(Event("telegram", "5", "5", update_id="9", retry=True, button="d:1:1"))
    assert outcome.duplicate and outcome.toast is None and not outcome.messages


async def test_an_update_handled_before_is_never_answered_nothing_was_saved(db, monkeypatch):
    """Should answering a retry fail, the member must not read "nothing was saved, try again":
    the first handling was saved, and trying again would take a sticker back."""
    from bot.flows.engine import Engine
    from bot.flows.types import Event

    async def broken(*args):
        raise RuntimeError("the kept answer cannot be read")

    async with db.transaction() as tx:
        await updates.claim(tx, "telegram", "9", "2026-01-01T10:00:00+00:00")
    monkeypatch.setattr(updates, "replay", broken)
    outcome = await Engine(db).handle(Event("telegram", "5", "5", update_id="9", retry=True, button="d:1:1"))
    assert outcome.duplicate and outcome.toast is None and not outcome.messages


async def fill_audit(db: Database, n: int = 5) -> None:
    async with db.transaction() as tx:
        for i in range(n):
            await audit.append(tx, f"2026-01-0{i + 1}T00:00:00", "test.action", community_id=1, actor_id=i, n=i)


async def test_intact_audit_chain_verifies(db):
    await fill_audit(db)
    async with db.transaction() as tx:
        assert await audit.verify(tx) is None


async def test_audit_log_refuses_updates(db):
    await fill_audit(db)
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as tx:
            await tx.execute("UPDATE audit_log SET action = 'x' WHERE id = 2")


@pytest.mark.parametrize("tamper, entry", [
    ("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = '{\"n\":99}' WHERE id = 3", 3),
    ("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 2", 3),
    ("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET id = 100 WHERE id = 2;"
     " UPDATE audit_log SET id = 2 WHERE id = 4; UPDATE audit_log SET id = 4 WHERE id = 100", 2),
])
async def test_tampering_with_the_audit_log_is_detected(tmp_path, tamper, entry):
    path = str(tmp_path / "audit.db")
    async with Database(path) as db:
        await fill_audit(db)
    raw = sqlite3.connect(path)
    raw.executescript(tamper)
    raw.commit()
    raw.close()
    async with Database(path) as db:
        async with db.transaction() as tx:
            broken = await audit.verify(tx)
    assert broken is not None and broken.entry_id == entry


@pytest.mark.sqlite_only  # PostgreSQL is backed up with pg_dump
async def test_backup_is_a_consistent_copy(db, tmp_path):
    await fill_audit(db)
    target = str(tmp_path / "backup.db")
    await db.backup(target)
    async with Database(target) as copy:
        async with copy.transaction() as tx:
            assert await tx.scalar("SELECT COUNT(*) FROM audit_log") == 5
            assert await audit.verify(tx) is None


# --- the two connections: checkpoints, backups and scripts never hold up the bot's work --------

@pytest.mark.sqlite_only  # VACUUM INTO
async def test_a_backup_in_progress_does_not_hold_up_transactions(db, tmp_path):
    await db.atomic(lambda tx: tx.execute("CREATE TABLE blob (x)"))
    await db.atomic(lambda tx: tx.executemany("INSERT INTO blob VALUES (?)",
                                              [(os.urandom(4000),) for _ in range(10_000)]))
    await db.checkpoint()
    backup = asyncio.create_task(db.backup(str(tmp_path / "copy.db")))
    await asyncio.sleep(0.005)  # VACUUM INTO of ~40 MB is under way on aiosqlite's thread
    await db.atomic(lambda tx: members.create(tx, "demo", "1", "kk", "now"))
    assert not backup.done()
    await backup


@pytest.mark.sqlite_only  # SQLite's WAL
async def test_the_wal_stays_bounded_under_a_stream_of_writes(db):
    await db.atomic(lambda tx: tx.execute("CREATE TABLE t (x)"))
    largest, end = 0, time.monotonic() + 1.5
    while time.monotonic() < end:  # back to back, as in a vote burst
        await db.atomic(lambda tx: tx.execute("INSERT INTO t VALUES (?)", (os.urandom(500),)))
        await asyncio.sleep(0)
        largest = max(largest, os.path.getsize(db.path + "-wal"))
    assert largest < 40_000_000  # ~250 MB before checkpoints also came after 1,000 commits


@pytest.mark.sqlite_only  # SQLite's WAL
async def test_a_failed_checkpoint_is_tried_again(db, monkeypatch):
    monkeypatch.setattr(db, "CHECKPOINT_INTERVAL", 0.02)
    db._checkpointer.cancel()
    calls = 0
    real = db._on_thread

    async def failing(sql, params=()):
        nonlocal calls
        if "wal_checkpoint(PASSIVE)" in sql:
            calls += 1
            if calls < 3:
                raise sqlite3.OperationalError("disk I/O error")
        return await real(sql, params)

    monkeypatch.setattr(db, "_on_thread", failing)
    db._checkpointer = asyncio.create_task(db._checkpoint_forever())
    await db.atomic(lambda tx: members.create(tx, "demo", "1", "kk", "now"))
    await asyncio.sleep(0.3)
    assert calls == 3 and db._commits == 0  # failed twice, then done, and not again


@pytest.fixture
async def quick_db(tmp_path):
    """A database whose waits for another connection's lock give up after one second, not the
    default five: where a test waits one out, what it shows is the same, four seconds sooner."""
    database = await Database(str(tmp_path / "quick.db"), busy_timeout_ms=1000).open()
    yield database
    await database.close()


async def test_closing_while_a_transaction_waits_for_the_lock_says_so(quick_db):
    db = quick_db
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    waiting = asyncio.create_task(db.atomic(lambda tx: tx.scalar("SELECT 1")))
    await asyncio.sleep(0.05)
    await db.close()
    other.execute("ROLLBACK")
    other.close()
    with pytest.raises(RuntimeError, match="not open"):
        await waiting


@pytest.mark.sqlite_only  # SQLite's loop connection
async def test_a_failing_rollback_neither_hides_the_error_nor_wedges_the_connection(db, caplog):
    class FailingRollback(sqlite3.Connection):
        fail = True

        def execute(self, sql, *args):
            if sql == "ROLLBACK" and FailingRollback.fail:
                FailingRollback.fail = False
                raise sqlite3.OperationalError("disk I/O error")
            return super().execute(sql, *args)

    db._sync.close()
    db._sync = sqlite3.connect(db.path, isolation_level=None, timeout=0, factory=FailingRollback)

    async def work(tx):
        await members.create(tx, "demo", "1", "kk", "now")
        raise ValueError("the real error")

    with pytest.raises(ValueError, match="the real error"):
        await db.atomic(work)
    assert "ROLLBACK failed" in caplog.text
    assert await db.scalar("SELECT COUNT(*) FROM members") == 0  # and the next one works


@pytest.mark.sqlite_only  # SQLite's write lock
async def test_a_script_cancelled_while_beginning_leaves_no_write_lock(quick_db):
    db = quick_db
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the script's BEGIN now waits inside SQLite on its thread

    async def script():
        async with db.transaction() as tx:
            await tx.execute("SELECT 1")

    task = asyncio.create_task(script())
    await asyncio.sleep(0.05)
    task.cancel()  # e.g. asyncio.wait_for around a maintenance script
    await asyncio.gather(task, return_exceptions=True)
    other.execute("ROLLBACK")
    other.close()
    await asyncio.sleep(0.1)  # the BEGIN still queued on aiosqlite's thread has run by now
    db.busy_timeout_ms = 500
    await db.atomic(lambda tx: members.create(tx, "demo", "1", "kk", "now"))


async def test_closing_just_as_a_checkpoint_falls_due_does_not_hang(tmp_path):
    database = await Database(str(tmp_path / "due.db")).open()
    checkpointer = database._checkpointer
    await asyncio.sleep(0)  # the checkpointer waits for its next round
    database._checkpoint_due.set()  # due in the very tick close() cancels it
    try:
        await asyncio.wait_for(database.close(), 3)
    finally:  # should it hang: end the task and aiosqlite's thread, or pytest could not exit
        checkpointer.cancel()
        if database._conn is not None:
            await database._conn.close()


async def test_a_group_moved_onto_an_id_linked_already_keeps_that_link(db):
    async def work(tx):
        founder = await members.create(tx, "telegram", "1", "kk", "now")
        for code in ("AAAA1111", "BBBB2222"):
            await communities.create(tx, name=code, place="", tz="Asia/Almaty", locale="kk", join_code=code,
                                     created_by=founder.id, now="now")
        await communities.link_group(tx, "telegram", "-100", 1, "old group", founder.id, "now")
        await communities.link_group(tx, "telegram", "-1009", 2, "supergroup", founder.id, "now")
        moved_from = await communities.move_group(tx, "telegram", "-100", "-1009")
        return moved_from, await tx.all("SELECT chat_id, community_id FROM group_links ORDER BY chat_id")

    moved_from, links = await db.atomic(work)
    assert moved_from == 1 and [tuple(r) for r in links] == [("-1009", 2)]


@pytest.mark.sqlite_only  # SQLite's WAL
async def test_a_reader_elsewhere_does_not_get_writers_held_every_second(db, monkeypatch):
    import bot.storage.db as db_module

    held = []
    real = db_module._restart_wal

    def counting(*args):
        held.append(args[-1])
        return real(*args)

    monkeypatch.setattr(db_module, "_restart_wal", counting)
    db._checkpointer.cancel()  # this test runs the rounds itself
    await db.atomic(lambda tx: members.create(tx, "demo", "1", "kk", "now"))
    reader = sqlite3.connect(db.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM members").fetchone()  # a snapshot the WAL cannot be emptied past
    try:
        await db.atomic(lambda tx: members.create(tx, "demo", "2", "kk", "now"))
        db.wipe_soon()
        assert not await db.checkpoint()  # tried: the reader keeps the WAL
        assert not await db.checkpoint()  # a second later: writers are not held again yet
        assert held == ["TRUNCATE"]
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    db._restart_after = 0.0
    assert await db.checkpoint() and not db._wipe_due  # once the reader is gone, the WAL is emptied


async def test_rebuilding_the_ballots_table_keeps_every_vote_and_every_guard(tmp_path):
    """Migration 010 rebuilds ``ballots`` (to take the election kind) with foreign keys off: the
    votes that cascade from it stay, and the triggers on it and on the vote tables still hold."""
    path = str(tmp_path / "r.db")
    db = await Database(path).open(migrate_to=9)
    async with db.transaction() as tx:
        member = await tx.insert("INSERT INTO members (name, locale, consent_at, created_at) VALUES ('m', 'en', 'x', 'x')")
        community = await tx.insert("INSERT INTO communities (name, place, tz, locale, join_code, created_at)"
                                    " VALUES ('A', 'A', 'Asia/Almaty', 'en', 'REB1', 'x')")
        problem = await tx.insert("INSERT INTO problems (community_id, number, text, norm, created_at)"
                                  " VALUES (?, 1, 'p', 'p', 'x')", (community,))
        ballot = await tx.insert("INSERT INTO ballots (community_id, kind, stickers, opened_at) VALUES (?, 'dots', 1, 'x')",
                                 (community,))
        await tx.execute("INSERT INTO ballot_options (ballot_id, problem_id) VALUES (?, ?)", (ballot, problem))
        await tx.execute("INSERT INTO dot_votes (ballot_id, member_id, problem_id, count) VALUES (?, ?, ?, 1)",
                         (ballot, member, problem))
    await db.close()
    async with Database(path) as migrated:
        assert await migrated.version() == LATEST
        async with migrated.transaction() as tx:
            assert await tx.scalar("SELECT COUNT(*) FROM dot_votes") == 1
            assert await tx.scalar("SELECT online FROM ballot_options") == 1
            assert await tx.scalar("SELECT turnout FROM ballots") == 1
            assert not await tx.all("PRAGMA foreign_key_check")
            assert await tx.scalar("PRAGMA foreign_keys") == 1  # on again after the migration
        with pytest.raises(sqlite3.IntegrityError, match="rules cannot change"):
            async with migrated.transaction() as tx:
                await tx.execute("UPDATE ballots SET stickers = 2")
        with pytest.raises(sqlite3.IntegrityError, match="sticker limit"):
            async with migrated.transaction() as tx:
                await tx.execute("INSERT INTO dot_votes (ballot_id, member_id, problem_id, count) VALUES (?, ?, ?, 1)",
                                 (ballot, member, problem))  # the vote guard reads the rebuilt table
