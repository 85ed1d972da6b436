"""``qatysu copy SRC DST``: a whole database from one store to the other (SQLite ⇄ PostgreSQL, or
the same store twice), verified before it is kept.

SRC and DST are each a SQLite file or a ``postgresql://`` URL. The rules, each the simplest that
keeps the copy faithful:

**Schemas.** SRC must be at this version's schema (a copy never migrates what it reads: run
``qatysu migrate`` on it first). DST must hold no data: it is created and migrated when it is a
new file or an empty PostgreSQL database, and refused when any of its tables has a row. There is no
``--replace``: a copy never erases a database, least of all its audit log; name a new file, or
``createdb`` an empty database. Both must then have the same tables, columns and primary keys.

**Reading.** SRC is read in one snapshot (SQLite's read transaction; PostgreSQL's ``REPEATABLE
READ READ ONLY``), table by table in foreign-key order, in batches of ``BATCH`` rows ordered by
primary key, so memory stays bounded however big the database is, and a bot still running on
SRC changes nothing that is copied or compared (its later writes are simply not in the copy).

**Writing.** All of DST is written in one transaction: a failed copy or a failed verification
leaves DST as empty as it was. Ids are kept as they are; the guard triggers (closed ballots,
frozen plans, the audit log's append-only rule, …) and the triggers that keep counts (turnout,
stickers) must not act on rows that are history, already counted: on PostgreSQL the session sets
``session_replication_role = replica``, which switches off user triggers and foreign-key checks
for that session only (the way ``pg_restore --disable-triggers`` does; it needs a superuser, or
``GRANT SET ON PARAMETER session_replication_role`` on PostgreSQL 15+), and ``COPY`` writes the
rows, then every identity sequence is moved past the largest id, as SQLite's next rowid is; on
SQLite, whose triggers cannot be switched off, the transaction drops them, writes the rows and
creates them again from their own text, in their order (DDL is transactional in SQLite: a failed
copy leaves them as they were), with ``defer_foreign_keys`` on and ``foreign_key_check`` before
the commit. PostgreSQL's foreign keys are not checked while the copy writes: the rows are SRC's,
whose store checked them, and the verification proves them the same. The tables whose ``rowid``
the code reads (a ``rowid`` column on PostgreSQL) keep it; another table's rowid, which no code
can tell, follows the primary key's order on a SQLite DST.

**Values.** A SQLite ``BLOB`` column holds what the code wrote, a JSON text; PostgreSQL's
``BYTEA`` holds its UTF-8 bytes (``bot/storage/pg.py`` binds it so); back on SQLite such bytes are
text again when they are UTF-8 (a ``BLOB``-typed value there would be taken for a pickle by
``bot/storage/pickled.py``). ``REAL`` is ``DOUBLE PRECISION``, an integer stored in it a float.

**Verification**, inside DST's transaction, before the commit: each table is read again from both
sides in primary-key order (text keys compared bytewise on both: ``COLLATE "C"`` on PostgreSQL)
and compared row by row, values normalised alike (a blob as bytes, a real as a float); its line
gives the row count and the SHA-256 of its rows. Then the audit chain is recomputed on both
(``bot/storage/audit.verify``) and its head must be the same. ``verify`` does the same for two
databases that already exist (``qatysu copy --verify-only``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bot.config import ConfigError, database_target
from bot.storage import audit, dbfile, pg
from bot.storage.db import Database, Tx, too_new

BATCH = 5000  # rows read or written at a time: bounds the memory a table of any size takes

Row = tuple[Any, ...]
Say = Callable[[str], None]


class Refused(Exception):
    """SRC or DST cannot be copied from or to; the message says why, in one line."""


class Failed(Exception):
    """The copy or its verification failed; nothing was kept in DST. One line."""


# --- what a table is --------------------------------------------------------------------------
_KINDS_PG = {"integer": "int", "bigint": "int", "smallint": "int", "text": "text",
             "double precision": "real", "bytea": "blob"}


def _kind_sqlite(declared: str) -> str:
    """The column's affinity, as SQLite decides it from the declared type."""
    declared = declared.upper()
    if "INT" in declared:
        return "int"
    if any(word in declared for word in ("CHAR", "CLOB", "TEXT")):
        return "text"
    if not declared or "BLOB" in declared:
        return "blob"
    if any(word in declared for word in ("REAL", "FLOA", "DOUB")):
        return "real"
    return "numeric"


@dataclass
class Shape:
    """A table as one store has it: its columns (name: kind) in order, its primary key, and
    whether it has a rowid that no column names and that the code reads (SQLite)."""

    columns: dict[str, str]
    key: list[str]
    hidden_rowid: bool = False


@dataclass
class Table:
    """A table as both stores have it: the columns copied and compared, in order, and the key."""

    name: str
    columns: list[str]
    kinds: list[str]
    key: list[str]

    def key_of(self, row: Row) -> str:
        return ", ".join(f"{k}={row[self.columns.index(k)]!r}" for k in self.key)


@functools.cache
def rowid_tables() -> frozenset[str]:
    """The tables whose implicit rowid the code reads: those PostgreSQL's schema gives a ``rowid``
    column (``ROWID_TABLES`` of scripts/pg_baseline.py, and any a later migration adds). Their
    rowid is copied and compared; another table's is not, since no code can tell it."""
    found = set()
    for _, _, script in pg.migrations():
        for name, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\);", script, re.S):
            if re.search(r"^\s*rowid\s", body, re.M):
                found.add(name)
        found.update(re.findall(r"ALTER TABLE (\w+) ADD COLUMN (?:IF NOT EXISTS )?rowid\b", script, re.I))
    return frozenset(found)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- conversions ------------------------------------------------------------------------------
def _as_float(value: Any) -> Any:
    return float(value) if isinstance(value, int) else value


def _as_bytes(value: Any) -> Any:
    return value.encode("utf-8") if isinstance(value, str) else value


def _as_text(value: Any) -> Any:
    """PostgreSQL's bytes of a BLOB column back as the text SQLite's code wrote, when they are."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value)
    return value


def _converter(functions: list[Callable[[Any], Any] | None]) -> Callable[[Iterable[Any]], Row] | None:
    """A function that applies ``functions`` to a row's values (None: as it is), or None when
    every value stays as it is."""
    if not any(functions):
        return None
    pairs = list(enumerate(functions))

    def convert(row: Iterable[Any]) -> Row:
        values = tuple(row)
        return tuple(values[i] if f is None else f(values[i]) for i, f in pairs)

    return convert


def _normaliser(table: Table) -> Callable[[Iterable[Any]], Row] | None:
    """Values as both stores are compared: a blob as bytes, a real as a float."""
    return _converter([{"blob": _as_bytes, "real": _as_float}.get(kind) for kind in table.kinds])


# --- SQLite -----------------------------------------------------------------------------------
class SqliteSide:
    """One SQLite file, read in one snapshot or written in one transaction."""

    def __init__(self, path: str, role: str) -> None:
        self.path = path
        self.role = role  # "SRC" or "DST": named in every message
        self.shown = os.path.abspath(path)
        self.is_pg = False
        self.conn: sqlite3.Connection | None = None
        self.created = False  # DST did not exist: removed again when the copy fails
        self._triggers: list[tuple[str, str]] = []

    def _check(self, *, must_exist: bool) -> int | None:
        if must_exist and not os.path.lexists(self.path):
            raise Refused(f"{self.role}: there is no database at {self.shown}")
        try:
            return dbfile.check(self.path, must_exist=must_exist)
        except dbfile.Unusable as exc:
            raise Refused(f"{self.role}: {exc}") from None

    def _read_only(self) -> sqlite3.Connection:
        return sqlite3.connect(Path(self.path).absolute().as_uri() + "?mode=ro", uri=True, isolation_level=None)

    async def open_source(self) -> None:
        version = self._check(must_exist=True)
        _same_schema(self, version, dbfile.latest_version())
        self.conn = self._read_only()
        self.conn.execute("BEGIN")  # one snapshot for everything read
        self.conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()

    async def open_target(self) -> None:
        version = self._check(must_exist=False)
        if version is None:
            self.created = True
        else:
            if version > dbfile.latest_version():
                raise Refused(f"{self.role}: {too_new(self.shown, version, dbfile.latest_version())}")
            conn = self._read_only()
            try:
                self._refuse_data(conn, version)
            finally:
                conn.close()
        db = Database(self.path)  # creates and migrates it, as `qatysu migrate` would
        try:
            await db.open()
        finally:
            await db.close()
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=5)
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("BEGIN IMMEDIATE")  # the write lock, until the copy is kept or dropped
        self.conn.execute("PRAGMA defer_foreign_keys = ON")  # checked at the end (rows refer forward too)
        self._refuse_data(self.conn, dbfile.latest_version())

    def _refuse_data(self, conn: sqlite3.Connection, version: int) -> None:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                             " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        if version == 0 and tables:
            raise Refused(f"{self.role}: {self.shown} holds tables that are not Qatysu's; name a new file")
        full = [t for t in tables if conn.execute(f"SELECT 1 FROM {_q(t)} LIMIT 1").fetchone()]
        if full:
            raise Refused(f"{self.role}: {self.shown} already holds data (in {', '.join(full[:3])}"
                          f"{', …' if len(full) > 3 else ''}); a copy never replaces a database: name a new file")

    @property
    def _conn(self) -> sqlite3.Connection:
        assert self.conn is not None
        return self.conn

    async def shapes(self) -> dict[str, Shape]:
        shapes = {}
        for name, sql in self._conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"
                                            " AND name NOT LIKE 'sqlite_%' ORDER BY rowid").fetchall():
            info = self._conn.execute(f"PRAGMA table_info({_q(name)})").fetchall()
            columns = {row[1]: _kind_sqlite(row[2]) for row in info}
            key = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]]
            alias = len(key) == 1 and info[[r[1] for r in info].index(key[0])][2].upper() == "INTEGER"
            without = "WITHOUT ROWID" in " ".join(sql.upper().split())
            shapes[name] = Shape(columns, key, hidden_rowid=not alias and not without and name in rowid_tables())
        return shapes

    async def references(self) -> dict[str, set[str]]:
        tables = [r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                                   " AND name NOT LIKE 'sqlite_%'")]
        return {t: {r[2] for r in self._conn.execute(f"PRAGMA foreign_key_list({_q(t)})")} for t in tables}

    async def batches(self, table: Table, batch: int = BATCH) -> AsyncIterator[list[Row]]:
        cursor = self._conn.execute(f"SELECT {', '.join(map(_q, table.columns))} FROM {_q(table.name)}"
                                    f" ORDER BY {', '.join(map(_q, table.key))}")
        try:
            while rows := cursor.fetchmany(batch):
                yield rows
        finally:
            cursor.close()

    async def begin_writing(self, tables: list[Table]) -> None:
        """Drop the triggers (kept, to be created again in ``finish``) inside the transaction."""
        self._triggers = self._conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY rowid").fetchall()
        for name, _ in self._triggers:
            self._conn.execute(f"DROP TRIGGER {_q(name)}")

    async def write(self, table: Table, batches: AsyncIterator[list[Row]], from_pg: bool) -> None:
        convert = _converter([_as_text if from_pg and kind == "blob" else None for kind in table.kinds])
        sql = (f"INSERT INTO {_q(table.name)} ({', '.join(map(_q, table.columns))})"
               f" VALUES ({', '.join('?' * len(table.columns))})")
        async for rows in batches:
            self._conn.executemany(sql, rows if convert is None else map(convert, rows))

    async def finish(self) -> None:
        for _, sql in self._triggers:
            self._conn.execute(sql)
        broken = self._conn.execute("PRAGMA foreign_key_check").fetchone()
        if broken:
            raise Failed(f"{broken[0]} row {broken[1]} refers to a missing row of {broken[2]}")

    def tx(self) -> Tx:
        self._conn.row_factory = sqlite3.Row  # audit.verify reads columns by name
        return Tx(self._conn)

    def rows_as_tuples(self) -> None:
        self._conn.row_factory = None

    async def commit(self) -> None:
        self._conn.execute("COMMIT")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def close(self, *, failed: bool = False) -> None:
        if self.conn is not None:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.conn.close()
            self.conn = None
        if failed and self.created:
            for suffix in ("", "-wal", "-shm"):
                Path(self.path + suffix).unlink(missing_ok=True)


# --- PostgreSQL -------------------------------------------------------------------------------
class PgSide:
    """One PostgreSQL database, read in one snapshot or written in one transaction."""

    def __init__(self, url: str, role: str) -> None:
        self.url = url
        self.role = role
        self.shown = pg.redacted(url)
        self.is_pg = True
        self.created = False
        self.conn: asyncpg.Connection | None = None

    async def _connect(self) -> asyncpg.Connection:
        try:
            return await asyncpg.connect(self.url, timeout=10)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            raise Refused(f"{self.role}: cannot connect to {self.shown}: {pg.reason(exc)}") from None

    @property
    def _conn(self) -> asyncpg.Connection:
        assert self.conn is not None
        return self.conn

    async def open_source(self) -> None:
        self.conn = await self._connect()
        _same_schema(self, await pg.stored_version(self.conn), pg.migrations()[-1][0])
        await self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    async def open_target(self) -> None:
        self.conn = await self._connect()
        version, latest = await pg.stored_version(self.conn), pg.migrations()[-1][0]
        if version > latest:
            raise Refused(f"{self.role}: {too_new(self.shown, version, latest)}")
        await self._refuse_data(version)
        if version < latest:
            db = pg.PgDatabase(self.url, pool_size=1)
            try:
                await db.open()  # migrates, under the advisory lock `qatysu migrate` takes
            except pg.SchemaTooNew as exc:
                raise Refused(f"{self.role}: {exc}") from None
            finally:
                await db.close()
        await self.conn.execute("BEGIN")
        try:  # this session's triggers and foreign-key checks off, until the transaction ends
            await self.conn.execute("SET LOCAL session_replication_role = replica")
        except asyncpg.InsufficientPrivilegeError:
            raise Refused(f"{self.role}: the user of {self.shown} may not set session_replication_role, which a "
                          f"copy needs to write history past the guard triggers: copy as a superuser, or "
                          f"GRANT SET ON PARAMETER session_replication_role TO that user") from None
        tables = await self._tables()
        await self.conn.execute(f"LOCK TABLE {', '.join(map(_q, tables))} IN EXCLUSIVE MODE")  # no one else writes
        await self._refuse_data(latest)

    async def _tables(self) -> list[str]:
        rows = await self._conn.fetch("SELECT c.relname FROM pg_class c WHERE c.relkind = 'r'"
                                      " AND c.relnamespace = current_schema()::regnamespace ORDER BY c.oid")
        return [r[0] for r in rows if r[0] != "qatysu_schema"]

    async def _refuse_data(self, version: int) -> None:
        tables = await self._tables()
        if version == 0 and tables:
            raise Refused(f"{self.role}: {self.shown} holds tables that are not Qatysu's; name an empty database")
        full = [t for t in sorted(tables) if await self._conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {_q(t)})")]
        if full:
            raise Refused(f"{self.role}: {self.shown} already holds data (in {', '.join(full[:3])}"
                          f"{', …' if len(full) > 3 else ''}); a copy never replaces a database: "
                          f"name an empty one (createdb)")

    async def shapes(self) -> dict[str, Shape]:
        tables = await self._tables()
        columns = await self._conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position")
        keys = await self._conn.fetch(
            "SELECT t.relname, a.attname FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid"
            " CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS p(attnum, n)"
            " JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = p.attnum"
            " WHERE k.contype = 'p' AND t.relnamespace = current_schema()::regnamespace ORDER BY t.relname, p.n")
        shapes = {t: Shape({}, []) for t in tables}
        for row in columns:
            if row["table_name"] in shapes:
                kind = _KINDS_PG.get(row["data_type"], row["data_type"])
                shapes[row["table_name"]].columns[row["column_name"]] = kind
        for row in keys:
            if row["relname"] in shapes:
                shapes[row["relname"]].key.append(row["attname"])
        return shapes

    async def references(self) -> dict[str, set[str]]:
        rows = await self._conn.fetch(
            "SELECT t.relname AS child, r.relname AS parent FROM pg_constraint k"
            " JOIN pg_class t ON t.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid"
            " WHERE k.contype = 'f' AND t.relnamespace = current_schema()::regnamespace")
        found: dict[str, set[str]] = {t: set() for t in await self._tables()}
        for row in rows:
            found.setdefault(row["child"], set()).add(row["parent"])
        return found

    async def batches(self, table: Table, batch: int = BATCH) -> AsyncIterator[list[Row]]:
        order = ", ".join(_q(k) + (' COLLATE "C"' if table.kinds[table.columns.index(k)] == "text" else "")
                          for k in table.key)
        cursor = await self._conn.cursor(f"SELECT {', '.join(map(_q, table.columns))} FROM {_q(table.name)}"
                                         f" ORDER BY {order}")
        while rows := await cursor.fetch(batch):
            yield [tuple(r) for r in rows]

    async def begin_writing(self, tables: list[Table]) -> None:
        """Nothing more: the session's triggers are off since ``open_target``."""

    async def write(self, table: Table, batches: AsyncIterator[list[Row]], from_pg: bool) -> None:
        convert = _converter([{"blob": _as_bytes, "real": _as_float}.get(kind) for kind in table.kinds])

        async def records() -> AsyncIterator[Row]:
            async for rows in batches:
                for row in (rows if convert is None else map(convert, rows)):
                    yield row

        await self._conn.copy_records_to_table(table.name, records=records(), columns=table.columns)

    async def finish(self) -> None:
        """Every identity sequence past the largest id copied: the next row gets the next id."""
        for name, identity in (await pg.identity_columns(self._conn)).items():
            table, column = _q(name), _q(identity)
            await self._conn.execute(
                f"SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX({column}), 0) + 1, false) FROM {table}",
                table, identity)

    def tx(self) -> pg.PgTx:
        return pg.PgTx(self._conn, {})

    def rows_as_tuples(self) -> None:
        pass

    async def commit(self) -> None:
        await self._conn.execute("COMMIT")

    async def close(self, *, failed: bool = False) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            try:
                if conn.is_in_transaction():
                    await conn.execute("ROLLBACK")
            finally:
                await conn.close()


Side = SqliteSide | PgSide


def side(target: str, role: str) -> Side:
    """The store ``target`` names, or ``Refused`` when it is neither a file nor a PostgreSQL URL."""
    target = target.strip()
    if not target:
        raise Refused(f"{role} is empty: name a SQLite file or a postgresql:// URL")
    try:
        database_target(target, role)  # as QATYSU_DB is checked
    except ConfigError as exc:
        raise Refused(str(exc)) from None
    return PgSide(target, role) if pg.is_url(target) else SqliteSide(target, role)


def _same_schema(store: Side, version: int | None, latest: int) -> None:
    if not version:
        raise Refused(f"{store.role}: {store.shown} holds no Qatysu database")
    if version > latest:
        raise Refused(f"{store.role}: {too_new(store.shown, version, latest)}")
    if version < latest:
        raise Refused(f"{store.role}: {store.shown} has schema {version}, this version of Qatysu copies {latest}: "
                      f"run `qatysu migrate` on it first (QATYSU_DB=… qatysu migrate)")


def _same_target(src: Side, dst: Side) -> bool:
    if src.is_pg != dst.is_pg:
        return False
    if isinstance(src, PgSide) and isinstance(dst, PgSide):
        a, b = urlsplit(src.url), urlsplit(dst.url)
        return (a.hostname, a.port or 5432, a.path.strip("/")) == (b.hostname, b.port or 5432, b.path.strip("/"))
    a_path, b_path = Path(src.shown), Path(dst.shown)
    return a_path.resolve() == b_path.resolve()


# --- the plan ---------------------------------------------------------------------------------
async def plan(src: Side, dst: Side) -> list[Table]:
    """The tables to copy, in foreign-key order (a table after those it refers to), each with the
    columns both stores have; ``Refused`` when the two schemas differ."""
    theirs, ours = await src.shapes(), await dst.shapes()
    if set(theirs) != set(ours):
        only = sorted(set(theirs) ^ set(ours))
        raise Refused(f"SRC and DST have different tables ({', '.join(only[:5])}): both must be at this version's "
                      f"schema")
    tables = []
    for name, a in theirs.items():
        b = ours[name]
        a_cols, b_cols = dict(a.columns), dict(b.columns)
        for shape, columns in ((a, a_cols), (b, b_cols)):
            if shape.hidden_rowid:  # SQLite's, which the code reads: PostgreSQL's rowid column
                columns["rowid"] = "int"
        if a_cols != b_cols or a.key != b.key:
            differ = sorted(set(a_cols.items()) ^ set(b_cols.items()))
            raise Refused(f"SRC and DST differ in table {name} ({', '.join(c for c, _ in differ[:4]) or 'its key'}): "
                          f"both must be at this version's schema")
        tables.append(Table(name, list(a_cols), list(a_cols.values()), list(a.key or a_cols)))  # no key: every column
    refers = await src.references()
    return _in_key_order(tables, refers)


def _in_key_order(tables: list[Table], refers: dict[str, set[str]]) -> list[Table]:
    left = {t.name: t for t in tables}
    ordered: list[Table] = []
    while left:
        ready = [t for t in left.values() if not (refers.get(t.name, set()) - {t.name}) & set(left)]
        for t in ready or [next(iter(left.values()))]:  # a cycle: break it where the schema began
            ordered.append(left.pop(t.name))
    return ordered


# --- verification -----------------------------------------------------------------------------
@dataclass
class Checked:
    table: str
    rows: int
    digest: str


@dataclass
class Summary:
    tables: list[Checked] = field(default_factory=list)
    head: str = audit.GENESIS
    seconds: float = 0.0
    src: str = ""  # as shown: a file's absolute path, a URL without its password
    dst: str = ""

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


class _Rows:
    """A side's rows of a table, normalised, taken a slice at a time."""

    def __init__(self, store: Side, table: Table) -> None:
        self._batches = store.batches(table)
        self._normal = _normaliser(table)
        self._rows: list[Row] = []
        self._at = 0
        self.done = False

    async def ahead(self) -> int:
        if self._at >= len(self._rows) and not self.done:
            rows = await anext(self._batches, None)
            if rows is None:
                self.done = True
                self._rows, self._at = [], 0
            else:
                self._rows = rows if self._normal is None else list(map(self._normal, rows))
                self._at = 0
        return len(self._rows) - self._at

    def take(self, n: int) -> list[Row]:
        rows = self._rows[self._at:self._at + n]
        self._at += n
        return rows

    def peek(self) -> Row:
        return self._rows[self._at]

    async def close(self) -> None:
        await self._batches.aclose()


async def compare(src: Side, dst: Side, table: Table) -> Checked:
    """The table's rows equal on both sides, in key order: its row count and SHA-256, or ``Failed``
    naming the first row that differs."""
    a, b = _Rows(src, table), _Rows(dst, table)
    try:
        return await _compare(a, b, table)
    finally:
        await a.close()
        await b.close()


async def _compare(a: _Rows, b: _Rows, table: Table) -> Checked:
    digest, count = hashlib.sha256(), 0
    while True:
        n, m = await a.ahead(), await b.ahead()
        if not n or not m:
            if n or m:
                extra, where = (a, "SRC") if n else (b, "DST")
                raise Failed(f"{table.name}: the row {table.key_of(extra.peek())} is in {where} only "
                             f"(after {count:,} equal rows)")
            return Checked(table.name, count, digest.hexdigest())
        k = min(n, m)
        ours, theirs = a.take(k), b.take(k)
        if ours != theirs:
            i = next(i for i, (x, y) in enumerate(zip(ours, theirs)) if x != y)
            x, y = ours[i], theirs[i]
            if [x[table.columns.index(c)] for c in table.key] != [y[table.columns.index(c)] for c in table.key]:
                raise Failed(f"{table.name}: SRC has the row {table.key_of(x)} where DST has {table.key_of(y)}")
            columns = [c for c, u, v in zip(table.columns, x, y) if u != v]
            raise Failed(f"{table.name}: the row {table.key_of(x)} differs in {', '.join(columns)}")
        digest.update("".join(f"{row!r}\n" for row in ours).encode("utf-8", "surrogatepass"))
        count += k


async def _audit_same(src: Side, dst: Side) -> str:
    """Both audit chains intact, ending at the same head: that head."""
    heads = []
    for store in (src, dst):
        tx = store.tx()
        try:
            broken = await audit.verify(tx)
            heads.append(await audit.head(tx))
        finally:
            store.rows_as_tuples()
        if broken is not None:
            raise Failed(f"the audit log of {store.role} is broken at entry {broken.entry_id}: {broken.reason}")
    if heads[0] != heads[1]:
        raise Failed(f"the audit log's head is {heads[0][:12]} in SRC but {heads[1][:12]} in DST")
    return heads[0]


def _line(checked: Checked) -> str:
    rows = "row " if checked.rows == 1 else "rows"
    return f"{checked.table:<20} {checked.rows:>10,} {rows}  sha256 {checked.digest[:16]}  identical"


# --- the commands -----------------------------------------------------------------------------
async def copy(src: str, dst: str, *, say: Say = print) -> Summary:
    """Copy the database at ``src`` into the empty one at ``dst`` and verify it; one line per
    table through ``say``. ``Refused`` before anything is written, ``Failed`` when the copy or
    its verification failed (then nothing was kept in DST)."""
    began = time.monotonic()
    source, target = side(src, "SRC"), side(dst, "DST")
    if _same_target(source, target):
        raise Refused(f"SRC and DST are the same database ({target.shown})")
    summary, failed = Summary(src=source.shown, dst=target.shown), True
    try:
        await source.open_source()
        await target.open_target()
        tables = await plan(source, target)
        await target.begin_writing(tables)
        for table in tables:
            rows = source.batches(table)
            try:
                await target.write(table, rows, from_pg=source.is_pg)
            except (sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                raise Failed(f"writing {table.name} into DST failed: {pg.first_line(exc)}") from None
            finally:
                await rows.aclose()
            checked = await compare(source, target, table)
            summary.tables.append(checked)
            say(_line(checked))
        summary.head = await _audit_same(source, target)
        await target.finish()
        await target.commit()
        failed = False
    except Failed as exc:
        raise Failed(f"{exc}; nothing was kept in DST") from None
    except (sqlite3.Error, asyncpg.PostgresError) as exc:
        raise Failed(f"the copy failed: {pg.first_line(exc)}; nothing was kept in DST") from None
    finally:
        await source.close()
        await target.close(failed=failed)
    summary.seconds = time.monotonic() - began
    return summary


async def verify(src: str, dst: str, *, say: Say = print) -> Summary:
    """Compare two existing databases as ``copy`` verifies a copy: every table's rows and the
    audit chain's head. ``Failed`` names the first difference."""
    began = time.monotonic()
    first, second = side(src, "SRC"), side(dst, "DST")
    summary = Summary(src=first.shown, dst=second.shown)
    try:
        await first.open_source()
        await second.open_source()
        for table in await plan(first, second):
            checked = await compare(first, second, table)
            summary.tables.append(checked)
            say(_line(checked))
        summary.head = await _audit_same(first, second)
    except (sqlite3.Error, asyncpg.PostgresError) as exc:
        raise Failed(f"reading failed: {pg.first_line(exc)}") from None
    finally:
        await first.close()
        await second.close()
    summary.seconds = time.monotonic() - began
    return summary
