"""The SQLite database: one aiosqlite connection in WAL mode, numbered migrations, transactions.

Every user action runs in one ``transaction()``: ``BEGIN IMMEDIATE`` takes SQLite's write lock at
the start, so a read-then-write can never interleave with another writer (even another process),
and an asyncio lock serialises the transactions of this process on its single connection.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)


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
    """A running transaction: thin helpers over the connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] | dict = ()) -> aiosqlite.Cursor:
        return await self.conn.execute(sql, params)

    async def insert(self, sql: str, params: Sequence[Any] | dict = ()) -> int:
        cursor = await self.conn.execute(sql, params)
        return int(cursor.lastrowid or 0)

    async def changed(self, sql: str, params: Sequence[Any] | dict = ()) -> int:
        cursor = await self.conn.execute(sql, params)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, rows)

    async def one(self, sql: str, params: Sequence[Any] | dict = ()) -> sqlite3.Row | None:
        rows = await self.conn.execute_fetchall(sql, params)  # one hop to the database thread, not three
        return rows[0] if rows else None

    async def all(self, sql: str, params: Sequence[Any] | dict = ()) -> list[sqlite3.Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def scalar(self, sql: str, params: Sequence[Any] | dict = ()) -> Any:
        row = await self.one(sql, params)
        return None if row is None else row[0]


class Database:
    """Owns the connection; ``async with db.transaction() as tx`` for every unit of work."""

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
        async with self.conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0])

    async def migrate(self, target: int | None = None) -> int:
        """Apply every migration above ``PRAGMA user_version`` (up to ``target``), each atomically."""
        current = await self.version()
        for number, name, script in migrations():
            if number <= current or (target is not None and number > target):
                continue
            log.info("applying migration %s", name)
            async with self.transaction() as tx:
                for statement in split_statements(script):
                    await tx.execute(statement)
                await tx.execute(f"PRAGMA user_version = {number}")
            current = number
        return current

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self.conn)
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    async def backup(self, target: str) -> None:
        """A consistent copy of the live database (``VACUUM INTO``), safe while the bot runs."""
        async with self._lock:
            await self.conn.execute("VACUUM INTO ?", (target,))
