"""The SQLite database: WAL mode, numbered migrations, one transaction per unit of work.

Every user action runs in one ``atomic(work)``: ``BEGIN IMMEDIATE`` takes SQLite's write lock at
the start, so a read-then-write can never interleave with another writer (even another process).
The work is an ``async def`` whose only awaits are ``Tx`` helpers; ``atomic`` runs it to the end
at once, on the event loop's thread, with its own ``sqlite3`` connection: a vote tap's dozen
statements take a few hundred microseconds, less than handing them to a thread would cost (each
hand-over woke the other core and, worse, made the two threads take turns at the GIL: see
bench/README.md). Awaiting anything else inside raises ``AwaitedOutsideDatabase`` and rolls back,
so units of work never interleave: do network calls after the commit.

What could block the event loop for long runs on aiosqlite's thread and connection instead:
WAL checkpoints (the loop's connection never checkpoints; a background task does, see
``checkpoint``), ``backup`` (``VACUUM INTO``), and ``transaction()``, one hand-over per statement,
for tests and maintenance scripts. The two connections exclude each other only through SQLite's
own locks: when another connection or process holds the write lock, ``atomic`` does not wait
inside SQLite, it sleeps on the event loop and tries again, up to ``busy_timeout_ms``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)
T = TypeVar("T")


# The first line of a migration that rebuilds a table: it runs with foreign keys off (they
# cannot be switched inside a transaction), and is checked with ``foreign_key_check`` before it commits.
FOREIGN_KEYS_OFF = "-- pragma: foreign_keys off"


def migrations(package: str = "bot.storage.migrations", first: int | None = 1) -> list[tuple[int, str, str]]:
    """The numbered migrations shipped in ``package``: (number, name, sql), numbered from
    ``first`` without gaps (from whatever number the first has when ``first`` is None:
    PostgreSQL's start at its baseline)."""
    found = []
    for entry in resources.files(package).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    start = numbers[0] if numbers and first is None else first
    if not numbers or numbers != list(range(start, start + len(numbers))):
        raise RuntimeError(f"the migrations in {package} must be numbered from {start or 'a baseline'} "
                           f"without gaps: {numbers}")
    return found


def too_new(shown: str, version: int, latest: int) -> str:
    """The one refusal of a database a newer version of Qatysu migrated (both stores, every command)."""
    return (f"{shown} has schema {version}: it was written by a newer version of Qatysu (newer than this version "
            f"of Qatysu knows, {latest}); run that version, or restore a backup made before")


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
    """A running transaction: thin helpers over a connection.

    Inside ``Database.atomic`` the helpers run SQL at once on the loop's own connection (the
    awaits never suspend); inside ``Database.transaction`` each is one hop to aiosqlite's thread.
    """

    def __init__(self, conn: sqlite3.Connection | aiosqlite.Connection) -> None:
        self._conn = conn

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if isinstance(self._conn, sqlite3.Connection):
            return fn(self._conn, *args)
        return await self._conn._execute(fn, self._conn._conn, *args)

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


def _restart_wal(conn: sqlite3.Connection, wait_ms: int, usual_ms: int, mode: str) -> tuple[int, int, int]:
    conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}").close()
    try:
        return tuple(_fetchall(conn, f"PRAGMA wal_checkpoint({mode})", ())[0])  # type: ignore[return-value]
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(usual_ms)}").close()


def _end_transaction(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _fetchall(conn: sqlite3.Connection, sql: str, params: Any) -> list[sqlite3.Row]:
    cursor = conn.execute(sql, params)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


class Busy(sqlite3.OperationalError):
    """Another connection held the write lock for longer than ``busy_timeout_ms``: nothing was
    done, and the whole unit of work may simply be tried again later."""


def busy_in_one_line(record: logging.LogRecord) -> bool:
    """A logging filter: a failure that is ``Busy`` (the database locked, or its server out of
    reach a while: nothing was done, it is tried again) is logged as a warning in one line, not
    as an error with a traceback, whichever loop logged it. ``qatysu run`` sets it on its log."""
    failure = record.exc_info[1] if record.exc_info else None
    while failure is not None and not isinstance(failure, Busy):
        failure = failure.__cause__  # the engine's NotHandled, raised from it
    if failure is not None:
        record.msg, record.args = f"{record.getMessage()}: {failure}", ()
        record.exc_info, record.exc_text = None, None
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
    return True


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
    """Owns the connections; ``await db.atomic(work)`` for every unit of work."""

    CHECKPOINT_INTERVAL = 1.0  # seconds between passive WAL checkpoints, off the event loop
    # or sooner, after this many commits: small checkpoints stall the loop's commits less (each
    # passive checkpoint's copy and fsync held them 30-110 ms after 1,000 commits; tap p99 at
    # 1,000 taps/s 18-28 ms, after 200 commits 9-14 ms: bench/README.md, vote_burst.py)
    CHECKPOINT_COMMITS = 200
    WAL_RESTART_PAGES = 4000  # a WAL still this long after a passive checkpoint is started over
    WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes a started-over WAL file is truncated to
    RESTART_WAIT_MS = 200  # how long writers may be held for that
    RESTART_RETRY = 10.0  # seconds before holding writers again, when a reader elsewhere kept it from finishing

    def __init__(self, path: str, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._sync: sqlite3.Connection | None = None  # the event loop's: every atomic()
        self._conn: aiosqlite.Connection | None = None  # its own thread: checkpoints, backup, tests
        self._lock = asyncio.Lock()  # one user of the aiosqlite connection at a time
        self._checkpointer: asyncio.Task | None = None
        self._commits = 0  # since the last complete checkpoint
        self._writers_may_go = asyncio.Event()  # cleared while the WAL is started over
        self._writers_may_go.set()
        self._checkpoint_due = asyncio.Event()  # set after CHECKPOINT_COMMITS commits
        self._wipe_due = False  # the WAL holds erased personal data: empty its file at the next round
        self._restart_after = 0.0  # monotonic time before which writers are not held again

    async def open(self, *, migrate_to: int | None = None) -> "Database":
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        for pragma in (f"busy_timeout = {int(self.busy_timeout_ms)}", "journal_mode = WAL",
                       "synchronous = NORMAL", "foreign_keys = ON", "secure_delete = ON",
                       f"journal_size_limit = {self.WAL_SIZE_LIMIT}"):
            await self._on_thread(f"PRAGMA {pragma}")
        self._sync = self._connect_sync()
        await self.migrate(migrate_to)
        self._checkpointer = asyncio.create_task(self._checkpoint_forever())
        return self

    def _connect_sync(self) -> sqlite3.Connection:
        sync = sqlite3.connect(self.path, isolation_level=None, timeout=0)  # never waits in SQLite
        sync.row_factory = sqlite3.Row
        for pragma in ("synchronous = NORMAL", "foreign_keys = ON", "wal_autocheckpoint = 0",
                       "secure_delete = ON",  # what is deleted is overwritten, not left in free pages
                       f"journal_size_limit = {self.WAL_SIZE_LIMIT}"):
            sync.execute(f"PRAGMA {pragma}")
        return sync

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            await asyncio.gather(self._checkpointer, return_exceptions=True)
            self._checkpointer = None
        if self._sync is not None:
            self._sync.close()
            self._sync = None
        if self._conn is not None:
            try:
                await self._on_thread("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
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
        """One value read in a transaction of its own."""
        return await self.atomic(lambda tx: tx.scalar(sql, params))

    async def migrate(self, target: int | None = None) -> int:
        """Apply every migration above ``PRAGMA user_version`` (up to ``target``), each atomically;
        then, when all were, rewrite the rows an earlier version pickled (``pickled.rewrite``)."""
        current = await self.version()
        for number, name, script in migrations():
            if number <= current or (target is not None and number > target):
                continue
            log.info("applying migration %s", name)

            rebuilds = script.startswith(FOREIGN_KEYS_OFF)

            async def apply(tx: Tx, script: str = script, number: int = number, rebuilds: bool = rebuilds) -> None:
                if await tx.scalar("PRAGMA user_version") >= number:
                    return  # another process applied it while this one waited for the write lock
                for statement in split_statements(script):
                    await tx.execute(statement)
                if rebuilds and await tx.all("PRAGMA foreign_key_check"):
                    raise RuntimeError(f"migration {number} leaves rows that break a foreign key")
                await tx.execute(f"PRAGMA user_version = {number}")

            if rebuilds:  # a table rebuilt (dropped and created anew) must not cascade its drop
                assert self._sync is not None
                self._sync.execute("PRAGMA foreign_keys = OFF")
            try:
                await self.atomic(apply)
            finally:
                if rebuilds:
                    self._sync.execute("PRAGMA foreign_keys = ON")
            current = number
        if target is None:  # this version's schema: what an earlier version pickled becomes JSON
            from bot.storage import pickled

            await self.atomic(pickled.rewrite)
        return current

    async def atomic(self, work: Callable[[Tx], Awaitable[T]], *, isolation: str | None = None) -> T:
        """Run ``work(tx)`` as one transaction and return its result.

        The transaction commits when ``work`` returns and rolls back when it raises (the
        exception is re-raised here). While another connection holds the write lock it waits,
        sleeping on the event loop, up to ``busy_timeout_ms``; then ``Busy``. ``isolation`` is
        PostgreSQL's (bot/storage/pg.py); here units of work never interleave, and it is ignored.
        """
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        pause = 0.002
        while True:
            await self._writers_may_go.wait()  # at once, unless a checkpoint restarts the WAL
            if self._sync is None:
                raise RuntimeError("database is not open")
            try:
                self._sync.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
                if time.monotonic() >= deadline:
                    raise Busy(str(exc)) from exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
        return self._run_begun(self._sync, work)

    def _run_begun(self, conn: sqlite3.Connection, work: Callable[[Tx], Awaitable[T]]) -> T:
        try:
            result = run_to_end(work(Tx(conn)))  # type: ignore[arg-type]
            conn.execute("COMMIT")
        except BaseException:
            self._roll_back(conn)
            raise
        self._commits += 1
        if self._commits >= self.CHECKPOINT_COMMITS:
            self._checkpoint_due.set()
        return result

    def _roll_back(self, conn: sqlite3.Connection) -> None:
        """End a failed transaction; should even that fail, start over with a new connection
        rather than leave every later unit of work inside the failed one."""
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("ROLLBACK failed; reconnecting to the database")
            conn.close()  # SQLite rolls back what a closed connection left open
            self._sync = self._connect_sync()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """A transaction driven from the event loop, one hand-over per statement (tests, scripts)."""
        async with self._lock:
            try:
                await self.conn._execute(_execute, self.conn._conn, "BEGIN IMMEDIATE", ())
                yield Tx(self.conn)
            except BaseException:
                # also when cancelled while BEGIN waited its turn: it may still run after this
                await asyncio.shield(self.conn._execute(_end_transaction, self.conn._conn))
                raise
            else:
                await self.conn._execute(_execute, self.conn._conn, "COMMIT", ())

    async def backup(self, target: str) -> None:
        """A consistent copy of the live database (``VACUUM INTO``), safe while the bot runs."""
        await self._on_thread("VACUUM INTO ?", (target,))

    async def checkpoint(self) -> bool:
        """Copy the WAL's committed pages into the database file; True when all were copied.

        Passive: it never makes a writer wait. Under a steady stream of writes a passive
        checkpoint never catches up with the last frame, and SQLite starts the WAL over only
        when one has, so a WAL still longer than ``WAL_RESTART_PAGES`` is then checkpointed in
        RESTART mode while this process's writers wait (``atomic`` on the loop), briefly, as
        most pages are copied already; if readers elsewhere keep it from finishing within
        ``RESTART_WAIT_MS``, it gives up, and holds writers again only ``RESTART_RETRY`` later.
        """
        commits, wipe = self._commits, self._wipe_due
        busy, log_pages, copied = await self._on_thread("PRAGMA wal_checkpoint(PASSIVE)")
        if not busy and (wipe or log_pages > self.WAL_RESTART_PAGES) and time.monotonic() >= self._restart_after:
            async with self._lock:  # first: a script's transaction() may hold the connection
                self._writers_may_go.clear()
                try:
                    busy, log_pages, copied = await self.conn._execute(
                        _restart_wal, self.conn._conn, self.RESTART_WAIT_MS, self.busy_timeout_ms,
                        "TRUNCATE" if wipe else "RESTART")
                finally:
                    self._writers_may_go.set()
            if busy:
                self._restart_after = time.monotonic() + self.RESTART_RETRY
        complete = not busy and copied == log_pages
        if complete:
            self._commits -= commits
            self._wipe_due = self._wipe_due and not wipe
        return complete

    def wipe_soon(self) -> None:
        """Personal data was just erased: besides the database pages (``secure_delete``), empty
        the WAL file, which still holds the old pages, at the next checkpoint."""
        self._wipe_due = True
        self._checkpoint_due.set()

    async def _checkpoint_forever(self) -> None:
        while True:
            try:  # not asyncio.wait_for: on Python 3.11 it can swallow a cancel that comes with the
                # event (then close() waited for this loop forever)
                async with asyncio.timeout(self.CHECKPOINT_INTERVAL):
                    await self._checkpoint_due.wait()
            except TimeoutError:
                pass
            self._checkpoint_due.clear()
            if self._commits or self._wipe_due:
                try:
                    await self.checkpoint()
                except Exception:
                    log.exception("WAL checkpoint failed; trying again in %.0f s", self.CHECKPOINT_INTERVAL)

    async def _on_thread(self, sql: str, params: Sequence[Any] = ()) -> tuple:
        """One statement on aiosqlite's connection and thread, after any ``transaction()`` in
        progress there; its first row (or ``()``)."""
        async with self._lock:
            rows = await self.conn._execute(_fetchall, self.conn._conn, sql, params)
        return tuple(rows[0]) if rows else ()
