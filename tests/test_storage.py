"""Storage: migrations, pragmas, transactions and the audit chain."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot.storage import audit, members, updates
from bot.storage.db import AwaitedOutsideDatabase, Database, migrations, split_statements


async def tables(db: Database) -> set[str]:
    async with db.transaction() as tx:
        rows = await tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r[0] for r in rows}


async def test_fresh_database_is_migrated_to_the_latest_version(tmp_path):
    async with Database(str(tmp_path / "a.db")) as db:
        assert await db.version() == len(migrations())
        assert {"communities", "members", "identities", "memberships", "group_links", "conversations",
                "processed_updates", "audit_log"} <= await tables(db)
        async with db.conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
        async with db.conn.execute("PRAGMA foreign_keys") as cur:
            assert (await cur.fetchone())[0] == 1


@pytest.mark.parametrize("start", range(0, len(migrations()) + 1))
async def test_migrating_from_each_earlier_version(tmp_path, start):
    path = str(tmp_path / "b.db")
    db = await Database(path).open(migrate_to=start)
    assert await db.version() == start
    await db.close()
    async with Database(path) as reopened:  # opening applies the rest
        assert await reopened.version() == len(migrations())
        expected = await tables(reopened)
    async with Database(str(tmp_path / "fresh.db")) as fresh:
        assert await tables(fresh) == expected


async def test_migrations_are_idempotent(tmp_path):
    path = str(tmp_path / "c.db")
    async with Database(path):
        pass
    async with Database(path) as db:
        assert await db.version() == len(migrations())


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
    ("DELETE FROM audit_log WHERE id = 2", 3),
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


async def test_backup_is_a_consistent_copy(db, tmp_path):
    await fill_audit(db)
    target = str(tmp_path / "backup.db")
    await db.backup(target)
    async with Database(target) as copy:
        async with copy.transaction() as tx:
            assert await tx.scalar("SELECT COUNT(*) FROM audit_log") == 5
            assert await audit.verify(tx) is None
