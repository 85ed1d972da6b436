"""PostgreSQL behind the same storage API as bot/storage/db.py (``QATYSU_DB=postgresql://…``).

``PgDatabase`` has ``Database``'s public API: ``open``, ``close``, ``atomic``, ``transaction``,
``migrate``, ``version``, ``scalar``, and its ``Tx`` helpers (``execute``, ``insert``, ``changed``,
``executemany``, ``one``, ``all``, ``scalar``) take the same SQL. The repositories are not
changed for it. The choices, each the one with the fewest moving parts we found:

**The schema.** PostgreSQL starts from a baseline equal to SQLite's schema at migration 22
(``bot/storage/migrations_pg/022_baseline.sql``, written by ``scripts/pg_baseline.py``, which
translates SQLite's tables, indexes and its triggers into PL/pgSQL functions); every later
migration is written twice, with the same number, in ``migrations/`` and ``migrations_pg/``
(tests/test_pg_schema.py fails when the two stores' tables, columns, indexes or triggers differ).
A translator run at every start would have to understand SQLite's table rebuilds (the way SQLite
changes a constraint); a baseline does not, and a PostgreSQL migration can simply ``ALTER``.
The version is the one row of ``qatysu_schema``; ``migrate`` holds an advisory lock, so two
processes migrating at once apply each migration once, and a database whose version is above the
code's refuses to open (``SchemaTooNew``).

**A unit of work.** On SQLite ``atomic`` runs the work to the end at once, under SQLite's write
lock, so units of work never interleave. On PostgreSQL each runs in its own ``SERIALIZABLE``
transaction on a connection of a pool, those of one process in turn (side by side, a burst of
taps on one ballot conflicted nearly every time: bench/workers_burst.py); units of work of
several processes (workers) overlap in time, but PostgreSQL commits
only what equals some serial order and fails the others with 40001 (or 40P01, a deadlock);
``atomic`` then rolls back and runs the work again, with a growing random pause, until
``busy_timeout_ms`` has passed (then ``Busy``, as when SQLite's lock stayed taken: the engine
answers ``NotHandled`` and the channel tries the update again). Running work twice is safe for
the reason it is on SQLite: the work awaits nothing but ``Tx`` helpers (``AwaitedOutsideDatabase``
otherwise, checked here by driving the coroutine step by step) and builds its results anew on
every run; the network is used after the commit. ``transaction()`` (tests, scripts) cannot be run
again, so it takes an exclusive advisory lock first: two of them run one after the other, as two
``BEGIN IMMEDIATE`` do on SQLite.

**The rules.** The triggers raise SQLSTATE 23000 with SQLite's message, and PostgreSQL's own
unique, check, not-null and foreign-key violations are class 23 too: every one becomes
``RuleBroken``, a subclass of ``sqlite3.IntegrityError`` whose message reads as SQLite's
("UNIQUE constraint failed: …", "CHECK constraint failed: …", or the trigger's words). So the
code and the tests that expect a broken rule see the same exception on both stores, and the
engine answers a member the same way (``Engine.handle``: everything rolled back, "nothing was
saved", as for any other failure inside a unit of work).

**The SQL dialect.** One translation in ``translate()``, cached per statement: ``?``, ``?NNN``
and ``:name`` placeholders become ``$n``; ``INSERT OR IGNORE`` becomes ``… ON CONFLICT DO
NOTHING``; ``IS [NOT] x`` becomes ``IS [NOT] DISTINCT FROM x``; ``+col`` (SQLite's "use no index
for this") ``col``; ``insert`` appends ``RETURNING`` the table's identity column (SQLite's
``lastrowid``). The schema does the rest: ``max(a, b)``, ``min(a, b)`` and ``json_extract`` are
functions in the baseline, and the tables whose ``rowid`` the repositories read have a ``rowid``
column numbered as rows are inserted. Values are bound as SQLite would store them: a text column
takes ``str()`` of what it is given, a ``str`` given to a ``BLOB`` (``BYTEA``) is stored as its
UTF-8 bytes (and read back as ``bytes``), a NUL in a text (which PostgreSQL's text cannot hold)
as U+FFFD, ``numeric`` results (``AVG``) come back as ``float``. The repositories' SQL is what
both stores take (``INSERT … ON CONFLICT … DO UPDATE``, not ``INSERT OR REPLACE``; an order
stated with ``ORDER BY`` where it matters: PostgreSQL has no rowid order to fall back on).

**Running.** ``qatysu run`` opens ``QATYSU_DB`` through ``bot.storage.stores.database``; what is
SQLite's own does nothing here (``checkpoint``, ``wipe_soon``) or is refused (``backup``: use
``pg_dump``), and the polling heartbeat is a file in the temporary folder (``bot/heartbeat.py``).
The whole test suite runs on PostgreSQL with ``QATYSU_TEST_STORE=postgresql`` (tests/conftest.py).

**A restart of the server.** A connection lost (the server restarting, failing over, the network)
or none to be made now is, to ``atomic``, what a conflict is: the unit of work rolls back (the
server does that for a cut connection) and runs again on a new connection from the pool, up to
``busy_timeout_ms``, then ``Busy``: the engine answers ``NotHandled``, and the channel tries the
update again (polling and WhatsApp from the inbox; Telegram's webhook answers 503, WhatsApp's
POST 503 unless it is already in the inbox: both senders deliver again). The pool keeps no floor
of idle connections, so nothing reconnects in the background while the server is down. The log
says once that the server is out of reach and once that it is back; a ``Busy`` logged anywhere
is one line, no traceback (``db.busy_in_one_line``). tests/test_pg_restart.py restarts a server
mid-burst under ``qatysu run``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.config import is_postgresql
from bot.storage.db import AwaitedOutsideDatabase, Busy, too_new
from bot.storage.db import migrations as sqlite_migrations

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATE_LOCK = 0x51A7_5E00_0001  # pg_advisory_lock key: one migrating process at a time
SCRIPT_LOCK = 0x51A7_5E00_0002  # transaction(): one at a time, like BEGIN IMMEDIATE
RETRY = ("40001", "40P01")  # serialization failure, deadlock: the unit of work may run again
ISOLATION = {None: "SERIALIZABLE", "read committed": "READ COMMITTED"}  # atomic(isolation=...)
# The server is out of reach (restarting, failing over, the network): the connection was lost, or no
# new one can be made now. Like a conflict, the unit of work runs again, on a new connection.
# asyncpg's InterfaceError and InternalClientError are that too when they come from a lost connection
# (its protocol, cut in mid-operation, refuses the next one), not when the connection is fine.
LOST = (OSError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError,
        asyncpg.CrashShutdownError, asyncpg.InterfaceError, asyncpg.InternalClientError)
LOST_PAUSE = 0.25  # seconds at most between tries while the server is out of reach
BACK_AFTER = 1.0  # seconds without a lost connection before the server is said to be back


class RuleBroken(sqlite3.IntegrityError):
    """A rule the database enforces was broken (a guard trigger, a key, a check): the same
    exception SQLite raises, with SQLite's wording, and PostgreSQL's SQLSTATE in ``sqlstate``."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class Unreachable(Exception):
    """The server named by QATYSU_DB could not be reached or refused us; one line, no password."""


class SchemaTooNew(Exception):
    """The database was migrated by a newer version of Qatysu than this one."""


is_url = is_postgresql  # one test of what a QATYSU_DB names (bot.config's)


def redacted(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def migrations() -> list[tuple[int, str, str]]:
    """PostgreSQL's migrations: the baseline (numbered as the SQLite migration it equals), then
    one for each later SQLite migration, with the same number."""
    return sqlite_migrations("bot.storage.migrations_pg", first=None)


async def identity_columns(conn: asyncpg.Connection) -> dict[str, str]:
    """Each table's identity column (SQLite's rowid alias): what ``insert`` returns, and what a
    copy moves each sequence past."""
    rows = await conn.fetch("SELECT table_name, column_name FROM information_schema.columns"
                            " WHERE table_schema = current_schema() AND is_identity = 'YES'")
    return {r["table_name"]: r["column_name"] for r in rows}


# --- the dialect ------------------------------------------------------------------------------
_LITERALS = re.compile(r"('(?:[^']|'')*'|\"[^\"]*\"|--[^\n]*)")
_PARAMS = re.compile(r"\?(\d*)|(?<!:):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> tuple[str, tuple[str, ...] | None]:
    """SQLite's SQL as PostgreSQL takes it, and the names of ``:name`` parameters in order
    (None when the statement uses ``?``)."""
    names: list[str] = []
    count = largest = 0

    def placeholder(match: re.Match) -> str:
        nonlocal count, largest
        if match.group(2):
            if match.group(2) not in names:
                names.append(match.group(2))
            return f"${names.index(match.group(2)) + 1}"
        # ?, or ?NNN: the NNNth parameter (then ? is the one after the largest)
        count = int(match.group(1)) if match.group(1) else largest + 1
        largest = max(largest, count)
        return f"${count}"

    parts = _LITERALS.split(sql)
    for i in range(0, len(parts), 2):  # the code between string literals, quoted names and comments
        code = _PARAMS.sub(placeholder, parts[i])
        code = re.sub(r"\bIS NOT (?!NULL\b|DISTINCT\b|TRUE\b|FALSE\b)", "IS DISTINCT FROM ", code, flags=re.I)
        code = re.sub(r"\bIS (?!NOT\b|NULL\b|DISTINCT\b|TRUE\b|FALSE\b)", "IS NOT DISTINCT FROM ", code, flags=re.I)
        code = re.sub(r"(\b(?:AND|OR|WHERE|ON|BY)\s+|\(\s*)\+(?=[A-Za-z_])", r"\1", code, flags=re.I)  # +col: SQLite's "no index"
        parts[i] = code
    out = "".join(parts)
    ignore = re.match(r"\s*INSERT\s+OR\s+IGNORE\s+INTO\b", out, re.I)
    if ignore:
        out = out[:ignore.start()] + "INSERT INTO" + out[ignore.end():]
        returning = re.search(r"\bRETURNING\b", out, re.I)
        at = returning.start() if returning else len(out.rstrip().rstrip(";"))
        out = out[:at].rstrip() + " ON CONFLICT DO NOTHING " + out[at:]
    return out.strip(), (tuple(names) if names else None)


def _args(names: tuple[str, ...] | None, params: Sequence[Any] | dict) -> Sequence[Any]:
    if names is None:
        return params
    return [params[name] for name in names]  # type: ignore[index]


def _rule_broken(exc: asyncpg.PostgresError) -> RuleBroken:
    table = getattr(exc, "table_name", None) or ""
    name = getattr(exc, "constraint_name", None) or ""
    if isinstance(exc, asyncpg.UniqueViolationError):
        text = f"UNIQUE constraint failed: {table} ({name})"
    elif isinstance(exc, asyncpg.CheckViolationError):
        text = f"CHECK constraint failed: {name}"
    elif isinstance(exc, asyncpg.NotNullViolationError):
        text = f"NOT NULL constraint failed: {table}.{getattr(exc, 'column_name', '')}"
    elif isinstance(exc, asyncpg.ForeignKeyViolationError):
        text = f"FOREIGN KEY constraint failed: {table} ({name})"
    else:  # a guard trigger's RAISE: its own words, as SQLite's RAISE(ABORT, ...)
        text = exc.args[0] if exc.args else str(exc)
    return RuleBroken(text, exc.sqlstate)


@functools.lru_cache(maxsize=2048)
def _inserted_into(text: str) -> str | None:
    """The table an INSERT (translated) writes, if ``insert`` is to append ``RETURNING`` its
    identity; None when it says RETURNING itself (read once per statement)."""
    if re.search(r"\bRETURNING\b", text, re.I):
        return None
    table = re.match(r"\s*INSERT\s+INTO\s+\"?(\w+)", text, re.I)
    return table.group(1) if table else None


class PgTx:
    """``Tx`` on a PostgreSQL connection inside a transaction."""

    def __init__(self, conn: asyncpg.Connection, identities: dict[str, str]) -> None:
        self._conn = conn
        self._identities = identities
        self.waiting = False  # a helper is awaiting the server (atomic checks each suspension)
        self.failed: asyncpg.PostgresError | None = None  # the last error, should the work swallow it
        self.lost: BaseException | None = None  # the connection was lost: the work runs again elsewhere

    async def _call(self, method: Callable[..., Awaitable[Any]], sql: str, *args: Any) -> Any:
        self.waiting = True
        try:
            return await method(sql, *args)
        except LOST as exc:
            if _lost(exc, self._conn):  # not "another operation is in progress" on a sound one: a mistake
                self.lost = exc
            raise
        except asyncpg.PostgresError as exc:
            if exc.sqlstate == "25P02" and self.failed is not None:  # "transaction aborted": by what failed first,
                exc = self.failed  # which the work caught (SQLite would have gone on): that is the news
            self.failed = exc
            if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
                raise _rule_broken(exc) from None
            raise exc from None
        finally:
            self.waiting = False

    async def execute(self, sql: str, params: Sequence[Any] | dict = ()) -> None:
        text, names = translate(sql)
        await self._call(self._conn.execute, text, *_args(names, params))
        if text[:11].upper() == "ROLLBACK TO":  # back at a savepoint: what failed after it is undone
            self.failed = None

    async def changed(self, sql: str, params: Sequence[Any] | dict = ()) -> int:
        text, names = translate(sql)
        status = await self._call(self._conn.execute, text, *_args(names, params))
        return int(status.rsplit(" ", 1)[-1]) if status and status[-1].isdigit() else 0

    async def insert(self, sql: str, params: Sequence[Any] | dict = ()) -> int:
        text, names = translate(sql)
        table = _inserted_into(text)
        column = self._identities.get(table) if table else None
        if column is None:
            await self._call(self._conn.execute, text, *_args(names, params))
            return 0
        value = await self._call(self._conn.fetchval, f"{text} RETURNING {column}", *_args(names, params))
        return int(value or 0)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        text, names = translate(sql)
        await self._call(self._conn.executemany, text, [_args(names, row) for row in rows])

    async def one(self, sql: str, params: Sequence[Any] | dict = ()) -> asyncpg.Record | None:
        text, names = translate(sql)
        return await self._call(self._conn.fetchrow, text, *_args(names, params))

    async def all(self, sql: str, params: Sequence[Any] | dict = ()) -> list[asyncpg.Record]:
        text, names = translate(sql)
        return await self._call(self._conn.fetch, text, *_args(names, params))

    async def scalar(self, sql: str, params: Sequence[Any] | dict = ()) -> Any:
        row = await self.one(sql, params)
        return None if row is None else row[0]


class _Pass:
    """Hands what the work yielded (a future, or None) to the task running ``atomic``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self):
        return (yield self.value)


async def _drive(coro: Coroutine[Any, Any, T], tx: PgTx) -> T:
    """Run ``coro`` as the task's own step by step, refusing any await that is not a Tx helper's."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            yielded = coro.send(value) if error is None else coro.throw(error)
        except StopIteration as done:
            return done.value
        if not tx.waiting:
            coro.close()
            raise AwaitedOutsideDatabase(
                f"a transaction awaited {yielded!r}: only Tx helpers may be awaited inside Database.atomic")
        try:
            value, error = await _Pass(yielded), None
        except BaseException as exc:  # noqa: BLE001 (cancellation too: the work sees it where it waits)
            value, error = None, exc


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Values are bound as SQLite stores them in a column of that type: text takes str() of any
    # value (an id given as an int), numeric (AVG, SUM of numeric) comes back as float.
    await conn.set_type_codec("text", schema="pg_catalog", encoder=_text, decoder=str, format="text")
    await conn.set_type_codec("numeric", schema="pg_catalog", encoder=str, decoder=float, format="text")
    await conn.set_type_codec("bytea", schema="pg_catalog", encoder=_blob, decoder=bytes, format="binary")


class _PooledConnection(asyncpg.Connection):
    """A connection of the pool, back in it without asyncpg's reset query (``RESET ALL``,
    ``UNLISTEN *``, ``CLOSE ALL``, ``pg_advisory_unlock_all()``): a round trip after every unit of
    work, ~75 µs of the worker's CPU each (~4 units of work a vote), for state nothing here leaves
    behind: no ``SET``, ``LISTEN`` or cursor, and the advisory locks (``migrate``, ``transaction``)
    are released where they are taken. A transaction left open is still rolled back on release."""

    def get_reset_query(self) -> str:
        return ""


def _text(value: Any) -> str:
    """A text column takes what SQLite's takes, but for NUL, which PostgreSQL's text cannot hold:
    it becomes U+FFFD (a button's data or a message from a broken client carried one, and the
    update failed on PostgreSQL only)."""
    text = str(value)
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _blob(value: Any) -> bytes:
    """A BLOB column takes text too on SQLite (a payload's JSON): stored here as its UTF-8 bytes."""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


class PgDatabase:
    """Owns a pool of connections; ``await db.atomic(work)`` for every unit of work."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000, pool_size: int = 10) -> None:
        self.url = url
        self.path = url  # what the SQLite Database calls its target
        self.busy_timeout_ms = busy_timeout_ms
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._identities: dict[str, str] = {}
        self.retries = 0  # units of work run again after a serialization failure (for benchmarks)
        self.found = 0  # the schema version the last migrate() found, before it applied any
        # One unit of work of this process at a time, as on SQLite: run side by side, a burst of
        # taps on one ballot conflicted nearly every time (each reads and counts the same rows),
        # and each conflict is a rollback and a run again (bench/workers_burst.py: 8 runs an
        # update, 36 updates/s); in turn, only units of work of different processes can conflict.
        self._turn = asyncio.Lock()
        self._lost_since: float | None = None  # when the server was found out of reach (monotonic)
        self._lost_last = 0.0  # when a unit of work last found it so

    async def open(self, *, migrate_to: int | None = None) -> "PgDatabase":
        # No floor of idle connections (min_size 0): asyncpg would keep restoring it while the
        # server is down, a traceback each time; a connection is made when a unit of work needs one.
        pool = None
        try:
            pool = await asyncpg.create_pool(self.url, min_size=0, max_size=self.pool_size,
                                             init=_init_connection, timeout=10,
                                             connection_class=_PooledConnection)
            async with pool.acquire():  # reached now: a wrong password or host is told at the start
                pass
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            if pool is not None:
                await pool.close()
            raise Unreachable(f"cannot connect to {redacted(self.url)}: {reason(exc)}") from None
        self._pool = pool
        try:
            await self.migrate(migrate_to)
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def __aenter__(self) -> "PgDatabase":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database is not open")
        return self._pool

    async def version(self) -> int:
        async with self.pool.acquire() as conn:
            return await stored_version(conn)

    async def scalar(self, sql: str, params: Sequence[Any] | dict = ()) -> Any:
        return await self.atomic(lambda tx: tx.scalar(sql, params))

    async def migrate(self, target: int | None = None) -> int:
        """Apply every migration above the stored version (up to ``target``), each in its own
        transaction, under an advisory lock: safe from two processes at once. A target below the
        baseline's number is refused: PostgreSQL has no schema older than the baseline."""
        steps = migrations()
        latest = steps[-1][0]
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATE_LOCK)
            try:
                current = self.found = await stored_version(conn)
                if current > latest:
                    raise SchemaTooNew(too_new(redacted(self.url), current, latest))
                if target is not None and target != 0 and target < steps[0][0]:
                    raise ValueError(f"PostgreSQL's schema starts at migration {steps[0][0]}")
                for number, name, script in steps:
                    if number <= current or (target is not None and number > target):
                        continue
                    log.info("applying migration %s", name)
                    async with conn.transaction():
                        await conn.execute(script)
                        await conn.execute("CREATE TABLE IF NOT EXISTS qatysu_schema (version INTEGER NOT NULL)")
                        await conn.execute("DELETE FROM qatysu_schema")
                        await conn.execute("INSERT INTO qatysu_schema VALUES ($1)", number)
                    current = number
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATE_LOCK)
            self._identities = await identity_columns(conn)
        return current

    async def atomic(self, work: Callable[[Any], Awaitable[T]], *, isolation: str | None = None) -> T:
        """``_atomic``, one unit of work of this process at a time (see ``_turn``)."""
        async with self._turn:
            return await self._atomic(work, isolation=isolation)

    async def _atomic(self, work: Callable[[Any], Awaitable[T]], *, isolation: str | None = None) -> T:
        """Run ``work(tx)`` in one SERIALIZABLE transaction and return its result; run it again
        while PostgreSQL reports a serialization failure or deadlock, or while the server is out
        of reach (the connection lost, none to be made: a restart), up to ``busy_timeout_ms``
        (then ``Busy``). It commits when ``work`` returns and rolls back when it raises. A
        connection lost during COMMIT leaves it unknown whether the work was kept: it runs again,
        and what makes an update's second run harmless (its id claimed in the same transaction,
        see Engine.handle) makes this one so.
        ``isolation="read committed"``: for work whose statements take row locks themselves (the
        outbox's claim, ``FOR UPDATE SKIP LOCKED``), where SERIALIZABLE would only fail claims
        racing for the same queue and run them again; SQLite ignores it."""
        begin = f"BEGIN ISOLATION LEVEL {ISOLATION[isolation]}"
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        pause = 0.002
        while True:
            try:
                result = await self._once(work, begin)
            except _Again as again:
                if again.lost:
                    self._out_of_reach(again.cause)
                if time.monotonic() >= deadline:
                    what = ("the database is out of reach" if again.lost
                            else "still conflicting with other transactions")
                    raise Busy(f"{what} after {self.busy_timeout_ms} ms: {first_line(again.cause)}") from None
                self.retries += 1
                await asyncio.sleep(pause * (0.5 + random.random()))
                pause = min(pause * 2, LOST_PAUSE if again.lost else 0.05)
                continue
            if self._lost_since is not None:
                self._reached()
            return result

    async def _once(self, work: Callable[[Any], Awaitable[T]], begin: str) -> T:
        """One run of ``work`` in its own transaction; ``_Again`` when it may run again."""
        try:
            conn = await self.pool.acquire()
        except LOST as exc:
            if isinstance(exc, asyncpg.InterfaceError):  # the pool is closing: not the server
                raise
            raise _Again(exc, lost=True) from None
        tx = PgTx(conn, self._identities)
        try:
            await tx._call(conn.execute, begin)
            result = await _drive(work(tx), tx)  # type: ignore[arg-type]
            if tx.lost is not None:  # the work caught it: nothing it did can be committed
                raise tx.lost
            if tx.failed is not None:  # the work caught an error: PostgreSQL would only roll back
                raise tx.failed
            await tx._call(conn.execute, "COMMIT")
            return result
        except Exception as exc:
            if tx.lost is not None:
                _terminate(conn)  # the server rolls back what a cut connection began
                raise _Again(tx.lost, lost=True) from None
            await _roll_back(conn)
            if isinstance(exc, asyncpg.PostgresError) and exc.sqlstate in RETRY:
                raise _Again(exc, lost=False) from None
            if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
                raise _rule_broken(exc) from None
            raise
        except BaseException:
            await _roll_back(conn)
            raise
        finally:
            try:
                await self.pool.release(conn)
            except LOST:  # it was lost: the pool makes a new one when next asked
                pass

    def _out_of_reach(self, cause: BaseException) -> None:
        """One warning when the server is lost (not one per unit of work waiting for it)."""
        self._lost_last = now = time.monotonic()
        if self._lost_since is None:
            self._lost_since = now
            why = "the connection was cut" if isinstance(cause, asyncpg.InternalClientError) else first_line(cause)
            log.warning("the database %s is out of reach (%s): units of work wait for it and run again",
                        redacted(self.url), why)

    def _reached(self) -> None:
        """One warning when it is back: a unit of work committed, and none lost the server for a
        second (a server shutting down still lets some connect: that is not "back")."""
        lost = self._lost_since
        if lost is not None and time.monotonic() - self._lost_last >= BACK_AFTER:
            self._lost_since = None
            log.warning("the database %s is reachable again, after %.1f s", redacted(self.url),
                        time.monotonic() - lost)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection for statements outside a unit of work (``bot/storage/pace.py``: one
        round trip where a unit of work takes three). The server out of reach raises ``Busy`` at
        once, noted as ``atomic`` notes it: the caller tries again later, as after a busy unit of work."""
        try:
            async with self.pool.acquire() as conn:
                yield conn
        except LOST as exc:
            if self._pool is None:  # closed meanwhile: not the server
                raise
            self._out_of_reach(exc)
            raise Busy(f"the database is out of reach: {first_line(exc)}") from None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgTx]:
        """A transaction for tests and scripts: one at a time (an exclusive advisory lock taken
        before it begins, so it reads what the one before committed), not run again on a
        serialization failure (that is raised)."""
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", SCRIPT_LOCK)
            try:
                await conn.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
                try:
                    yield PgTx(conn, self._identities)
                except BaseException:
                    await _roll_back(conn)
                    raise
                try:
                    await conn.execute("COMMIT")
                except asyncpg.IntegrityConstraintViolationError as exc:  # a deferred check
                    raise _rule_broken(exc) from None
            finally:
                if not conn.is_closed():
                    await conn.execute("SELECT pg_advisory_unlock($1)", SCRIPT_LOCK)

    # What SQLite's Database also has, and that means nothing here.
    def wipe_soon(self) -> None:
        """SQLite empties its WAL of erased data; PostgreSQL's dead rows go at the next vacuum."""

    async def checkpoint(self) -> bool:
        return True

    async def backup(self, target: str) -> None:
        raise NotImplementedError("back a PostgreSQL database up with pg_dump")


async def stored_version(conn: asyncpg.Connection) -> int:
    """The schema version of the database ``conn`` is connected to (0: none yet)."""
    if await conn.fetchval("SELECT to_regclass('qatysu_schema')") is None:
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM qatysu_schema"))


class _Again(Exception):
    """The unit of work may run again: a conflict (``lost`` False) or the server out of reach."""

    def __init__(self, cause: BaseException, *, lost: bool) -> None:
        super().__init__(str(cause))
        self.cause, self.lost = cause, lost


def _lost(exc: BaseException, conn: asyncpg.Connection) -> bool:
    """Was ``exc`` (one of ``LOST``) the connection's loss?"""
    if isinstance(exc, asyncpg.InternalClientError):
        _terminate(conn)  # its protocol is out of step: a connection not to be used again
        return True
    return not isinstance(exc, asyncpg.InterfaceError) or _closed(conn)


def _closed(conn: asyncpg.Connection) -> bool:
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:  # lost, it went back to its pool at once
        return True


def _terminate(conn: asyncpg.Connection) -> None:
    try:
        conn.terminate()
    except asyncpg.InterfaceError:  # back in its pool already: the pool closed it
        pass


async def _roll_back(conn: asyncpg.Connection) -> None:
    if _closed(conn):
        return
    try:
        await conn.execute("ROLLBACK")
    except LOST:  # lost meanwhile: nothing to roll back on the server's side any more
        _terminate(conn)
    except asyncpg.PostgresError:
        log.exception("ROLLBACK failed; closing the connection")
        _terminate(conn)


def reason(exc: BaseException) -> str:
    """Why a connection could not be made, in words for an operator (no password)."""
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return "the password or user name is wrong"
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return f"the server refused the user: {exc}"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"no such database: {exc}"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "no answer within 10 s"
    if isinstance(exc, OSError):
        return f"the server cannot be reached ({exc.strerror or exc})"
    return first_line(exc)


def first_line(exc: BaseException) -> str:
    """An error in one line, for a message or a log line (its type when it says nothing)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
