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
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.config import is_postgresql
from bot.storage.db import AwaitedOutsideDatabase, Busy

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATE_LOCK = 0x51A7_5E00_0001  # pg_advisory_lock key: one migrating process at a time
SCRIPT_LOCK = 0x51A7_5E00_0002  # transaction(): one at a time, like BEGIN IMMEDIATE
RETRY = ("40001", "40P01")  # serialization failure, deadlock: the unit of work may run again
ISOLATION = {None: "SERIALIZABLE", "read committed": "READ COMMITTED"}  # atomic(isolation=...)


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
    found = []
    for entry in resources.files("bot.storage.migrations_pg").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if not numbers or numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        raise RuntimeError(f"PostgreSQL migrations must be a baseline and then numbered without gaps: {numbers}")
    return found


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


class PgTx:
    """``Tx`` on a PostgreSQL connection inside a transaction."""

    def __init__(self, conn: asyncpg.Connection, identities: dict[str, str]) -> None:
        self._conn = conn
        self._identities = identities
        self.waiting = False  # a helper is awaiting the server (atomic checks each suspension)
        self.failed: asyncpg.PostgresError | None = None  # the last error, should the work swallow it

    async def _call(self, method: Callable[..., Awaitable[Any]], sql: str, *args: Any) -> Any:
        self.waiting = True
        try:
            return await method(sql, *args)
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
        table = re.match(r"\s*INSERT\s+INTO\s+\"?(\w+)", text, re.I)
        column = self._identities.get(table.group(1)) if table else None
        if column is None or re.search(r"\bRETURNING\b", text, re.I):
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

    async def open(self, *, migrate_to: int | None = None) -> "PgDatabase":
        try:
            self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=self.pool_size,
                                                   init=_init_connection, timeout=10,
                                                   connection_class=_PooledConnection)
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            raise Unreachable(f"cannot connect to {redacted(self.url)}: {_reason(exc)}") from None
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
            return await _version(conn)

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
                current = self.found = await _version(conn)
                if current > latest:
                    raise SchemaTooNew(f"{redacted(self.url)} has schema {current}, newer than this version of "
                                       f"Qatysu knows ({latest}): run the newer version, or restore a backup")
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
            rows = await conn.fetch("SELECT table_name, column_name FROM information_schema.columns"
                                    " WHERE table_schema = current_schema() AND is_identity = 'YES'")
        self._identities = {r["table_name"]: r["column_name"] for r in rows}
        return current

    async def atomic(self, work: Callable[[Any], Awaitable[T]], *, isolation: str | None = None) -> T:
        """``_atomic``, one unit of work of this process at a time (see ``_turn``)."""
        async with self._turn:
            return await self._atomic(work, isolation=isolation)

    async def _atomic(self, work: Callable[[Any], Awaitable[T]], *, isolation: str | None = None) -> T:
        """Run ``work(tx)`` in one SERIALIZABLE transaction and return its result; run it again
        while PostgreSQL reports a serialization failure or deadlock, up to ``busy_timeout_ms``
        (then ``Busy``). It commits when ``work`` returns and rolls back when it raises.
        ``isolation="read committed"``: for work whose statements take row locks themselves (the
        outbox's claim, ``FOR UPDATE SKIP LOCKED``), where SERIALIZABLE would only fail claims
        racing for the same queue and run them again; SQLite ignores it."""
        begin = f"BEGIN ISOLATION LEVEL {ISOLATION[isolation]}"
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        pause = 0.002
        while True:
            async with self.pool.acquire() as conn:
                tx = PgTx(conn, self._identities)
                await conn.execute(begin)
                try:
                    result = await _drive(work(tx), tx)  # type: ignore[arg-type]
                    if tx.failed is not None:  # the work caught an error: PostgreSQL would only roll back
                        raise tx.failed
                    await conn.execute("COMMIT")
                    return result
                except asyncpg.PostgresError as exc:
                    await _roll_back(conn)
                    if exc.sqlstate not in RETRY:
                        if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
                            raise _rule_broken(exc) from None
                        raise
                    if time.monotonic() >= deadline:
                        raise Busy(f"still conflicting with other transactions after {self.busy_timeout_ms} ms: "
                                   f"{exc}") from exc
                except BaseException:
                    await _roll_back(conn)
                    raise
            self.retries += 1
            await asyncio.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 0.05)

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


async def _version(conn: asyncpg.Connection) -> int:
    if await conn.fetchval("SELECT to_regclass('qatysu_schema')") is None:
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM qatysu_schema"))


async def _roll_back(conn: asyncpg.Connection) -> None:
    if conn.is_closed():
        return
    try:
        await conn.execute("ROLLBACK")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        log.exception("ROLLBACK failed; closing the connection")
        conn.terminate()


def _reason(exc: BaseException) -> str:
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
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
