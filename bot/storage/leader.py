"""PostgreSQL's advisory locks for several workers on one database (``bot/leader.py`` uses them).

Each worker keeps one connection of its own, outside the pool, and holds two kinds of
session-level advisory lock on it:

* its *worker lock* (``WORKERS``, its id): held for as long as the worker lives. A row a worker
  stored for itself (a WhatsApp message in the inbox) names that id; a row whose worker's lock is
  held by nobody belongs to a dead worker, and another takes it (``bot/storage/inbox.py``'s
  ``adopt``).
* the *scheduler lock* (``SCHEDULER``), taken by one worker at a time: that worker runs the
  scheduler. The others try to take it every few seconds.

A session-level lock goes with its session: when the process dies, even by SIGKILL, its socket
closes and PostgreSQL ends the session, so its locks are free within moments. ``held`` reads
``pg_locks`` inside a unit of work, so each of the scheduler's transactions can check that the
lock is still held by the session that took it (a fence: a worker that lost the lock's
connection commits nothing more as the scheduler, even before it notices).
"""

from __future__ import annotations

import asyncio
import logging
import random

import asyncpg

from bot.storage.db import Tx

log = logging.getLogger(__name__)

# pg_try_advisory_lock(int4, int4): pg_locks shows (classid, objid) with objsubid = 2
SCHEDULER = (0x51A75E01, 1)  # the one scheduler
WORKERS = 0x51A75E02         # with a worker's id: that worker is alive


class LockSession:
    """The worker's own connection to PostgreSQL, and the locks it holds."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self.conn: asyncpg.Connection | None = None
        self.pid: int | None = None  # the server process of this session: what pg_locks names
        self.worker: int | None = None

    @property
    def open(self) -> bool:
        return self.conn is not None and not self.conn.is_closed()

    async def connect(self, on_lost) -> None:
        """Connect, and call ``on_lost()`` (no arguments) when the connection ends."""
        conn = await asyncpg.connect(self.url, timeout=self.timeout)
        # only while it is the session's: one dropped or closed here (``drop``, ``close``) says nothing
        conn.add_termination_listener(lambda ended: on_lost() if ended is self.conn else None)
        self.conn, self.pid = conn, conn.get_server_pid()

    async def take_worker_id(self, wanted: int | None = None) -> int:
        """Hold a worker lock: ``wanted`` (a worker reconnecting keeps its id) if it is free, else
        a new random id."""
        assert self.conn is not None
        candidate = wanted or random.randint(1, 2**31 - 1)
        while not await self.conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", WORKERS, candidate,
                                           timeout=self.timeout):
            candidate = random.randint(1, 2**31 - 1)
        self.worker = candidate
        return candidate

    async def try_scheduler(self) -> bool:
        assert self.conn is not None
        return bool(await self.conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", *SCHEDULER,
                                             timeout=self.timeout))

    async def alive(self, timeout: float) -> bool:
        """The connection answers within ``timeout`` seconds."""
        if not self.open:
            return False
        try:
            await self.conn.fetchval("SELECT 1", timeout=timeout)
            return True
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.TimeoutError):
            return False

    async def close(self) -> None:
        """End the session: its locks go with it."""
        conn, self.conn = self.conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await asyncio.wait_for(conn.close(), 2.0)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.TimeoutError):
            conn.terminate()

    def drop(self) -> None:
        """The connection is lost or unsure: end it at once, without a word to the server."""
        conn, self.conn = self.conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()


# advisory locks belong to a database; pg_locks lists those of every database on the server
_HERE = "database = (SELECT oid FROM pg_database WHERE datname = current_database())"


async def held(tx: Tx, pid: int) -> bool:
    """The scheduler lock is held by the server process ``pid`` (the session that took it)."""
    return bool(await tx.scalar(
        f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND {_HERE} AND classid = ? AND objid = ?"
        " AND objsubid = 2 AND pid = ? AND granted", (SCHEDULER[0], SCHEDULER[1], pid)))


async def live_workers(tx: Tx) -> set[int]:
    """The ids of the workers alive now (their worker lock is held)."""
    rows = await tx.all(f"SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND {_HERE} AND classid = ?"
                        " AND objsubid = 2 AND granted", (WORKERS,))
    return {int(r[0]) for r in rows}
