"""The SQLite database: one aiosqlite connection in WAL mode, numbered migrations, transactions.

Every user action runs in one ``atomic(work)``: ``BEGIN IMMEDIATE`` takes SQLite's write lock at
the start, so a read-then-write can never interleave with another writer (even another process),
and an asyncio lock serialises the transactions of this process on its single connection.

``atomic`` hands the whole unit of work to aiosqlite's database thread at once and runs it there
to the end: the work is an ``async def`` whose only awaits are ``Tx`` helpers, which on that
thread complete without suspending. One thread hand-over per transaction instead of one per SQL
statement: on a vote tap that was ~12 hand-overs, each waking the other core (bench/README.md).
Awaiting anything else inside (a network call, a sleep, another transaction) raises
``AwaitedOutsideDatabase`` and rolls back: do such things after the commit.
``transaction()`` (one hand-over per statement) is for tests and maintenance scripts.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)
T = TypeVar("T")


def migrations() -> list[tuple[int, str, str]]:
    """The numbered migrations shipped in ``bot/storage/migrations``: (number, name, sql)."""
    found = []
    for entry in resources.files("bot.storage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migrations must be numbered 001, 002, ... without gaps: {numbers}")
    return found


def split_statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (so each runs inside our transaction)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement at end of migration: {current.strip()[:80]}")
    return statements


class Tx:
    """A running transaction: thin helpers over the sqlite3 connection.

    Inside ``Database.atomic`` the helpers run SQL at once, on the database thread (the awaits
    never suspend). Inside ``Database.transaction`` each helper is one hop to that thread.
    """

    def __init__(self, conn: aiosqlite.Connection, *, direct: bool) -> None:
        self._aconn = conn
        self._direct = direct

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._direct:
            return fn(self._aconn._conn, *args)
        return await self._aconn._execute(fn, self._aconn._conn, *args)

    async def execute(self, sql: str, params: Sequence[Any] | dict = ()) -> None:
        await self._call(_execute, sql, params)

    async def insert(self, sql: str, params: Sequence[Any] | dict = ()) -> int:
        return await self._call(_lastrowid, sql, params)

    async def changed(self, sql: str, params: Sequence[Any] | dict = ()) -> int:
        return await self._call(_rowcount, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._call(_executemany, sql, list(rows))

    async def one(self, sql: str, params: Sequence[Any] | dict = ()) -> sqlite3.Row | None:
        rows = await self._call(_fetchall, sql, params)
        return rows[0] if rows else None

    async def all(self, sql: str, params: Sequence[Any] | dict = ()) -> list[sqlite3.Row]:
        return await self._call(_fetchall, sql, params)

    async def scalar(self, sql: str, params: Sequence[Any] | dict = ()) -> Any:
        row = await self.one(sql, params)
        return None if row is None else row[0]


def _execute(conn: sqlite3.Connection, sql: str, params: Any) -> None:
    conn.execute(sql, params).close()


def _lastrowid(conn: sqlite3.Connection, sql: str, params: Any) -> int:
    cursor = conn.execute(sql, params)
    cursor.close()
    return int(cursor.lastrowid or 0)


def _rowcount(conn: sqlite3.Connection, sql: str, params: Any) -> int:
    cursor = conn.execute(sql, params)
    cursor.close()
    return cursor.rowcount


def _executemany(conn: sqlite3.Connection, sql: str, rows: list) -> None:
    conn.executemany(sql, rows).close()


def _fetchall(conn: sqlite3.Connection, sql: str, params: Any) -> list[sqlite3.Row]:
    cursor = conn.execute(sql, params)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


class AwaitedOutsideDatabase(RuntimeError):
    """Work run by ``Database.atomic`` awaited something other than the database."""


def run_to_end(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that must finish without suspending (its awaits are all ``Tx`` helpers)."""
    try:
        awaited = coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise AwaitedOutsideDatabase(
        f"a transaction awaited {awaited!r}: only Tx helpers may be awaited inside Database.atomic")


class Database:
    """Owns the connection; ``await db.atomic(work)`` for every unit of work."""

    def __init__(self, path: str, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> "Database":
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        await self._conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        await self._conn.execute("PRAGMA journal_mode = WAL")
        await self._conn.execute("PRAGMA synchronous = NORMAL")
        await self._conn.execute("PRAGMA foreign_keys = ON")
        await self.migrate()
        return self

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def __aenter__(self) -> "Database":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def version(self) -> int:
        return int(await self.scalar("PRAGMA user_version"))

    async def scalar(self, sql: str, params: Sequence[Any] | dict = ()) -> Any:
        """One value read outside any transaction (a snapshot, as SQLite gives every statement)."""
        rows = await self.conn._execute(_fetchall, self.conn._conn, sql, params)
        return rows[0][0] if rows else None

    async def migrate(self, target: int | None = None) -> int:
        """Apply every migration above ``PRAGMA user_version`` (up to ``target``), each atomically."""
        current = await self.version()
        for number, name, script in migrations():
            if number <= current or (target is not None and number > target):
                continue
            log.info("applying migration %s", name)

            async def apply(tx: Tx, script: str = script, number: int = number) -> None:
                for statement in split_statements(script):
                    await tx.execute(statement)
                await tx.execute(f"PRAGMA user_version = {number}")

            await self.atomic(apply)
            current = number
        return current

    async def atomic(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """Run ``work(tx)`` as one transaction on the database thread and return its result.

        The transaction commits when ``work`` returns and rolls back when it raises (the
        exception is re-raised here).
        """
        async with self._lock:
            return await self.conn._execute(self._run_atomic, work)

    def _run_atomic(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        conn = self.conn._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = run_to_end(work(Tx(self.conn, direct=True)))  # type: ignore[arg-type]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """A transaction driven from the event loop, one hand-over per statement (tests, scripts)."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self.conn, direct=False)
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    async def backup(self, target: str) -> None:
        """A consistent copy of the live database (``VACUUM INTO``), safe while the bot runs."""
        async with self._lock:
            await self.conn.execute("VACUUM INTO ?", (target,))
