"""The PostgreSQL store's dialect layer and unit of work: SQLite's SQL as the repositories write
it, translated once; savepoints and failures inside a unit of work as on SQLite, or said aloud."""

from __future__ import annotations

import sqlite3

import pytest

from bot.storage import members
from bot.storage.pg import PgDatabase, translate
from tests.stores import db  # noqa: F401  (on SQLite, and on PostgreSQL when QATYSU_TEST_PG is set)


@pytest.mark.parametrize("given, expected", [
    ("SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = $1 AND c = $2"),
    ("UPDATE t SET a = ?2 WHERE b = ?1 AND c = ?", "UPDATE t SET a = $2 WHERE b = $1 AND c = $3"),
    ("SELECT ':x?', a FROM t WHERE c = :c AND d = :d OR e = :c",
     "SELECT ':x?', a FROM t WHERE c = $1 AND d = $2 OR e = $1"),
    ("SELECT 1 FROM t WHERE a IS NOT (SELECT b FROM u) AND c IS NOT NULL AND d IS 'x is not y'",
     "SELECT 1 FROM t WHERE a IS DISTINCT FROM (SELECT b FROM u) AND c IS NOT NULL AND d IS NOT DISTINCT FROM 'x is not y'"),
    ("SELECT a + b FROM t WHERE a = ? AND +status = 'open'", "SELECT a + b FROM t WHERE a = $1 AND status = 'open'"),
    ("INSERT OR IGNORE INTO t (a) VALUES (?)", "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING"),
    ("INSERT OR IGNORE INTO t (a) VALUES (?) RETURNING a", "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING RETURNING a"),
    ("SELECT x::jsonb FROM t -- what? :no", "SELECT x::jsonb FROM t -- what? :no"),
])
def test_sqlite_sql_is_translated_outside_its_literals(given, expected):
    assert translate(given)[0] == expected


def test_named_parameters_are_bound_in_order():
    assert translate("SELECT 1 WHERE a = :b AND c = :a AND d = :b")[1] == ("b", "a")


async def test_a_savepoint_rolled_back_lets_the_unit_of_work_go_on(db):
    """What reminders.send_reminders does: one occurrence fails, is undone alone, the rest commits."""
    async def work(tx):
        await members.create(tx, "demo", "1", "kk", "now")
        await tx.execute("SAVEPOINT one")
        try:
            await tx.execute("INSERT INTO identities VALUES ('demo', '9', 12345, 'now')")  # no member 12345
        except sqlite3.IntegrityError:
            await tx.execute("ROLLBACK TO one")
        await tx.execute("RELEASE one")
        await members.create(tx, "demo", "2", "kk", "now")

    await db.atomic(work)
    assert await db.scalar("SELECT COUNT(*) FROM identities") == 2


async def test_a_failure_the_work_swallows_is_not_committed_as_if_nothing_failed(db):
    """SQLite undoes the failed statement and goes on; PostgreSQL can only roll the whole
    transaction back, so the unit of work fails instead of losing its writes without a word."""
    async def work(tx):
        await members.create(tx, "demo", "1", "kk", "now")
        try:
            await tx.execute("INSERT INTO identities VALUES ('demo', '9', 12345, 'now')")
        except sqlite3.IntegrityError:
            pass
        await members.create(tx, "demo", "2", "kk", "now")

    if isinstance(db, PgDatabase):
        with pytest.raises(sqlite3.IntegrityError):
            await db.atomic(work)
        assert await db.scalar("SELECT COUNT(*) FROM identities") == 0
    else:
        await db.atomic(work)
        assert await db.scalar("SELECT COUNT(*) FROM identities") == 2


async def test_a_rule_broken_reads_as_on_sqlite(db):
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY constraint failed"):
        await db.atomic(lambda tx: tx.execute("INSERT INTO identities VALUES ('demo', '9', 12345, 'now')"))
    await db.atomic(lambda tx: members.create(tx, "demo", "1", "kk", "now"))
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: identities"):
        await db.atomic(lambda tx: tx.execute("INSERT INTO identities VALUES ('demo', '1', 1, 'now')"))
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL constraint failed: members.locale"):
        await db.atomic(lambda tx: tx.execute("INSERT INTO members (consent_at, created_at) VALUES ('', '')"))


async def test_an_id_inserted_explicitly_is_followed_by_the_next_one(db):
    async def work(tx):
        await tx.execute("INSERT INTO members (id, locale, consent_at, created_at) VALUES (41, 'kk', '', '')")
        return await tx.insert("INSERT INTO members (locale, consent_at, created_at) VALUES ('kk', '', '')")

    assert await db.atomic(work) == 42
