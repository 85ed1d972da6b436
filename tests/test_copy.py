"""``qatysu copy SRC DST``: a community's whole database moved between SQLite and PostgreSQL (and
SQLite to SQLite), every row, the audit chain and its head identical, and refused or undone, in
one line, whenever that cannot be promised.

The database copied is the demo's (``bot.demo.run_demo``): a community taken through all seven
steps, two cycles, every kind of ballot, closed ballots, a frozen plan and its audit log. The
tests on PostgreSQL skip without ``QATYSU_TEST_PG``."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest

from bot.demo import run_demo
from bot.storage import audit
from bot.storage import copy as copying
from bot.storage.db import Database
from tests.stores import PG, drop_pg_database, new_pg_database

ROOT = Path(__file__).resolve().parent.parent
needs_pg = pytest.mark.skipif(not PG, reason="QATYSU_TEST_PG names no PostgreSQL server")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo-out"
    asyncio.run(run_demo(str(out), seed=7))
    return out / "demo.db"


@pytest.fixture
def source(demo_db, tmp_path) -> Path:
    """A copy of the demo's database of this test's own (a test may tamper with it)."""
    path = tmp_path / "source.db"
    shutil.copyfile(demo_db, path)
    return path


@pytest.fixture
async def empty_pg():
    """A new PostgreSQL database at the current schema, with no rows."""
    if not PG:
        pytest.skip("QATYSU_TEST_PG names no PostgreSQL server")
    url = await new_pg_database("qatysu_copy")
    yield url
    await drop_pg_database(url)


async def qatysu(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, cwd=ROOT,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


def one_line(code: int, err: str, *expected: str) -> str:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("qatysu: "), lines[0]
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


# --- reading a SQLite database without the module under test --------------------------------
def tables_of(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as db:
        return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                         " AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def rows_of(path: Path, table: str) -> list[tuple]:
    """Every row, with the rowid the code reads where it does, in primary-key order; each value
    with its SQLite type (a payload stored as a BLOB would be taken for a pickle)."""
    with closing(sqlite3.connect(path)) as db:
        info = db.execute(f"PRAGMA table_info({table})").fetchall()
        key = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
        columns = [r[1] for r in info] + (["rowid"] if table in copying.rowid_tables() else [])
        select = ", ".join(f"{c}, typeof({c})" for c in columns)
        return db.execute(f"SELECT {select} FROM {table} ORDER BY {', '.join(key)}").fetchall()


def triggers_of(path: Path) -> list[tuple]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"
                          " ORDER BY rowid").fetchall()  # their order: the order they fire in


async def head_of(path: Path) -> str:
    db = await Database(str(path)).open(migrate_to=0)
    try:
        assert await db.atomic(audit.verify) is None
        return await db.atomic(audit.head)
    finally:
        await db.close()


def assert_same_database(a: Path, b: Path) -> None:
    assert tables_of(a) == tables_of(b)
    for table in tables_of(a):
        assert rows_of(a, table) == rows_of(b, table), table
    assert triggers_of(a) == triggers_of(b)
    with closing(sqlite3.connect(a)) as x, closing(sqlite3.connect(b)) as y:
        assert x.execute("PRAGMA user_version").fetchone() == y.execute("PRAGMA user_version").fetchone()


def copied(out: str, tables: int) -> None:
    lines = out.strip().splitlines()
    assert len(lines) == tables + 1, out
    assert all(line.endswith("identical") for line in lines[:-1]), out
    assert lines[-1].startswith("OK: "), out


# --- SQLite → SQLite: no server needed --------------------------------------------------------
async def test_sqlite_to_sqlite_copies_every_row_trigger_and_the_audit_head(source, tmp_path):
    target = tmp_path / "copy.db"
    code, out, err = await qatysu("copy", str(source), str(target))
    assert code == 0, err
    copied(out, len(tables_of(source)))
    head = await head_of(source)
    assert head[:12] in out.splitlines()[-1]
    assert sum(len(rows_of(source, t)) for t in tables_of(source)) > 1000  # the demo: a populated community
    assert_same_database(source, target)
    assert await head_of(target) == head


async def test_the_copy_is_a_working_database_with_its_rules_and_next_ids(source, tmp_path):
    target = tmp_path / "copy.db"
    code, _, err = await qatysu("copy", str(source), str(target))
    assert code == 0, err
    db = await Database(str(target)).open()  # as `qatysu run` opens it: nothing dropped on the way
    try:
        async with db.transaction() as tx:
            assert await tx.scalar("SELECT COUNT(*) FROM processed_updates WHERE reply IS NOT NULL") == \
                len([r for r in rows_of(source, "processed_updates") if r[6] is not None])
            largest = await tx.scalar("SELECT MAX(id) FROM audit_log")
            assert (await audit.append(tx, "2026-12-06T10:00:00", "test.after_copy"))
            assert await tx.scalar("SELECT MAX(id) FROM audit_log") == largest + 1
        with pytest.raises(sqlite3.IntegrityError):  # the append-only rule holds again
            async with db.transaction() as tx:
                await tx.execute("UPDATE audit_log SET detail = '{}' WHERE id = 1")
        with pytest.raises(sqlite3.IntegrityError):  # and a closed ballot stays closed
            async with db.transaction() as tx:
                await tx.execute("UPDATE ballots SET status = 'open' WHERE status = 'closed'")
    finally:
        await db.close()


async def test_a_database_that_holds_data_is_refused_and_left_alone(source, tmp_path):
    target = tmp_path / "copy.db"
    assert (await qatysu("copy", str(source), str(target)))[0] == 0
    before = {t: rows_of(target, t) for t in tables_of(target)}
    code, out, err = await qatysu("copy", str(source), str(target))
    one_line(code, err, "DST", str(target), "already holds data", "never replaces")
    assert code == 2 and out == ""
    assert {t: rows_of(target, t) for t in tables_of(target)} == before


async def test_a_tampered_row_fails_verification_naming_it(source, tmp_path):
    target = tmp_path / "copy.db"
    assert (await qatysu("copy", str(source), str(target)))[0] == 0
    code, out, err = await qatysu("copy", "--verify-only", str(source), str(target))
    assert code == 0 and out.strip().splitlines()[-1].startswith("OK: "), err
    with closing(sqlite3.connect(target)) as db, db:
        db.execute("UPDATE members SET name = 'Mallory' WHERE id = 3")
    code, out, err = await qatysu("copy", "--verify-only", str(source), str(target))
    assert code == 1
    one_line(code, err, "members", "id=3", "differs in name")


async def test_a_tampered_audit_log_fails_even_when_both_sides_agree(source, tmp_path):
    """An entry edited the same on both: every row equal, but the chain no longer holds."""
    target = tmp_path / "copy.db"
    assert (await qatysu("copy", str(source), str(target)))[0] == 0
    for path in (source, target):
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("DROP TRIGGER audit_log_no_update")
            db.execute("UPDATE audit_log SET detail = '{\"forged\":1}' WHERE id = 5")
    code, out, err = await qatysu("copy", "--verify-only", str(source), str(target))
    one_line(code, err, "audit log of SRC is broken at entry 5", "edited")
    again = tmp_path / "again.db"
    code, out, err = await qatysu("copy", str(source), str(again))
    one_line(code, err, "audit log", "broken at entry 5", "nothing was kept")
    assert not again.exists()  # the file the copy created is gone with it


async def test_a_copy_that_does_not_verify_keeps_nothing(source, tmp_path, monkeypatch):
    """Should a value change on the way (here: one name, as a faulty conversion would), the
    verification finds it before the commit, and DST is left as it was: no file."""
    write = copying.SqliteSide.write

    async def faulty(self, table, batches, from_pg):
        async def changed():
            async for rows in batches:
                if table.name == "members":
                    rows = [rows[0][:1] + ("Changed",) + rows[0][2:]] + rows[1:]
                yield rows
        await write(self, table, changed(), from_pg)

    monkeypatch.setattr(copying.SqliteSide, "write", faulty)
    target = tmp_path / "copy.db"
    with pytest.raises(copying.Failed, match=r"members: the row id=1 differs in name; nothing was kept"):
        await copying.copy(str(source), str(target), say=lambda line: None)
    assert not target.exists()


@pytest.mark.parametrize("case", ["missing", "folder", "scheme", "same", "unreachable", "no_host", "older", "newer"])
async def test_what_cannot_be_copied_is_one_line(source, tmp_path, case):
    target = str(tmp_path / "copy.db")
    src = str(source)
    if case == "missing":
        src, expected = str(tmp_path / "nothing.db"), ("SRC", "there is no database at")
    elif case == "folder":
        target, expected = str(tmp_path / "no" / "such" / "copy.db"), ("DST", "does not exist")
    elif case == "scheme":
        target, expected = "mysql://user:pw@host/db", ("DST", "mysql:// URL is neither")
    elif case == "same":
        target, expected = src, ("SRC and DST are the same database",)
    elif case == "unreachable":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        target, expected = f"postgresql://qatysu:s3cret@127.0.0.1:{port}/qatysu", ("DST", "cannot connect", "***")
    elif case == "no_host":
        target, expected = "postgresql://", ("DST", "names no host")
    elif case == "older":  # a database one migration behind this version
        older = tmp_path / "older.db"
        db = await Database(str(older)).open(migrate_to=copying.dbfile.latest_version() - 1)
        await db.close()
        src, expected = str(older), ("SRC", "has schema", "qatysu migrate")
    else:  # written by a later version
        with closing(sqlite3.connect(source)) as db:
            db.execute(f"PRAGMA user_version = {copying.dbfile.latest_version() + 1}")
        expected = ("SRC", f"has schema {copying.dbfile.latest_version() + 1}", "newer version")
    code, out, err = await qatysu("copy", src, target)
    line = one_line(code, err, *expected)
    assert code == 2 and "s3cret" not in line
    if case in ("missing", "older", "newer"):
        assert not Path(target).exists()  # nothing created for a copy that cannot be made


def test_rowid_tables_are_those_the_baseline_gives_a_rowid():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import pg_baseline
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert set(pg_baseline.ROWID_TABLES) <= copying.rowid_tables()


# --- PostgreSQL -------------------------------------------------------------------------------
@needs_pg
async def test_sqlite_to_postgresql_and_back_keeps_every_row_and_the_audit_head(source, tmp_path, empty_pg):
    code, out, err = await qatysu("copy", str(source), empty_pg)
    assert code == 0, err
    copied(out, len(tables_of(source)))
    assert ":***@" in out.splitlines()[-1]  # the URL is shown without its password
    back = tmp_path / "back.db"
    code, out, err = await qatysu("copy", empty_pg, str(back))
    assert code == 0, err
    copied(out, len(tables_of(source)))
    assert_same_database(source, back)  # and BLOB columns hold text again, as SQLite's code wrote them
    assert await head_of(back) == await head_of(source)
    code, out, err = await qatysu("copy", "--verify-only", str(source), empty_pg)
    assert code == 0 and out.strip().splitlines()[-1].startswith("OK: "), err


@needs_pg
async def test_the_postgresql_copy_has_its_rules_and_next_ids_again(source, empty_pg):
    from bot.storage.pg import PgDatabase

    assert (await qatysu("copy", str(source), empty_pg))[0] == 0
    with closing(sqlite3.connect(source)) as db:
        largest = {t: db.execute(f"SELECT MAX(id) FROM {t}").fetchone()[0] for t in ("audit_log", "members")}
    database = await PgDatabase(empty_pg).open()
    try:
        async with database.transaction() as tx:  # the triggers were off for the copy's session only
            await audit.append(tx, "2026-12-06T10:00:00", "test.after_copy")
            assert await tx.scalar("SELECT MAX(id) FROM audit_log") == largest["audit_log"] + 1
            member = await tx.insert("INSERT INTO members (locale, consent_at, created_at) VALUES ('kk', 'x', 'x')")
            assert member == largest["members"] + 1
        assert await database.atomic(audit.verify) is None
        with pytest.raises(sqlite3.IntegrityError, match="audit"):
            async with database.transaction() as tx:
                await tx.execute("UPDATE audit_log SET detail = '{}' WHERE id = 1")
        with pytest.raises(sqlite3.IntegrityError):
            async with database.transaction() as tx:
                await tx.execute("UPDATE ballots SET status = 'open' WHERE status = 'closed'")
    finally:
        await database.close()


@needs_pg
async def test_a_postgresql_database_that_holds_data_is_refused(source, empty_pg):
    assert (await qatysu("copy", str(source), empty_pg))[0] == 0
    code, out, err = await qatysu("copy", str(source), empty_pg)
    one_line(code, err, "DST", "already holds data", "createdb")


@needs_pg
async def test_a_tampered_postgresql_row_fails_verification(source, empty_pg):
    import asyncpg

    assert (await qatysu("copy", str(source), empty_pg))[0] == 0
    conn = await asyncpg.connect(empty_pg)
    try:
        await conn.execute("UPDATE processed_updates SET reply = NULL WHERE reply IS NOT NULL"
                           " AND rowid = (SELECT MIN(rowid) FROM processed_updates WHERE reply IS NOT NULL)")
    finally:
        await conn.close()
    code, out, err = await qatysu("copy", "--verify-only", str(source), empty_pg)
    assert code == 1
    one_line(code, err, "processed_updates", "differs in reply")


@needs_pg
async def test_a_postgresql_copy_that_does_not_verify_keeps_nothing(source, empty_pg, monkeypatch):
    import asyncpg

    write = copying.PgSide.write

    async def faulty(self, table, batches, from_pg):
        async def changed():
            async for rows in batches:
                if table.name == "audit_log":
                    rows = rows[:-1]  # the newest entry lost on the way
                yield rows
        await write(self, table, changed(), from_pg)

    monkeypatch.setattr(copying.PgSide, "write", faulty)
    with pytest.raises(copying.Failed, match=r"audit_log: the row id=\d+ is in SRC only.*nothing was kept"):
        await copying.copy(str(source), empty_pg, say=lambda line: None)
    conn = await asyncpg.connect(empty_pg)
    try:
        assert await conn.fetchval("SELECT COUNT(*) FROM members") == 0
        assert await conn.fetchval("SELECT COUNT(*) FROM audit_log") == 0
    finally:
        await conn.close()
    monkeypatch.setattr(copying.PgSide, "write", write)
    await copying.copy(str(source), empty_pg, say=lambda line: None)  # and it can be copied into after


@needs_pg
async def test_a_wrong_password_is_one_line(source, empty_pg):
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(empty_pg)
    wrong = urlunsplit(parts._replace(netloc=f"{parts.username}:s3cret@{parts.hostname}:{parts.port}"))
    code, out, err = await qatysu("copy", str(source), wrong)
    line = one_line(code, err, "DST", "cannot connect", "password")
    assert "s3cret" not in line


@needs_pg
async def test_rowid_tables_are_those_postgresql_gives_a_rowid(empty_pg):
    import asyncpg

    conn = await asyncpg.connect(empty_pg)
    try:
        rows = await conn.fetch("SELECT table_name FROM information_schema.columns"
                                " WHERE table_schema = current_schema() AND column_name = 'rowid'")
    finally:
        await conn.close()
    assert {r[0] for r in rows} == copying.rowid_tables()


@needs_pg
async def test_a_user_who_may_not_switch_the_triggers_off_is_told_what_to_grant(source, empty_pg):
    """The copy's session switches PostgreSQL's triggers off (session_replication_role): a plain
    user is refused in one line naming the grant, and with that grant the copy is made."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import asyncpg

    role = f"qatysu_plain_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(empty_pg)
    as_role = urlunsplit(parts._replace(netloc=f"{role}:plain@{parts.hostname}:{parts.port}"))
    admin = await asyncpg.connect(empty_pg)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'plain'")
        await admin.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        await admin.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        code, out, err = await qatysu("copy", str(source), as_role)
        assert code == 2
        one_line(code, err, "DST", "session_replication_role", "GRANT SET ON PARAMETER session_replication_role")
        assert await admin.fetchval("SELECT COUNT(*) FROM members") == 0
        await admin.execute(f"GRANT SET ON PARAMETER session_replication_role TO {role}")
        code, out, err = await qatysu("copy", str(source), as_role)
        assert code == 0, err
        assert await admin.fetchval("SELECT COUNT(*) FROM members") == len(rows_of(source, "members"))
    finally:
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


async def test_the_audit_chain_is_checked_a_page_at_a_time_to_its_end(tmp_path):
    """``audit.verify`` (which the copy runs on both sides) reads a long log in pages: a break
    in a later page is found, and an intact log whose length is a multiple of the page passes."""
    db = await Database(str(tmp_path / "log.db")).open()
    try:
        for i in range(6):
            await db.atomic(lambda tx, i=i: audit.append(tx, f"2026-12-0{i + 1}T10:00:00", "test.entry", n=i))
        assert await db.atomic(lambda tx: audit.verify(tx, page=2)) is None
        assert await db.atomic(lambda tx: audit.verify(tx, page=3)) is None
        async with db.transaction() as tx:
            await tx.execute("DROP TRIGGER audit_log_no_update")
            await tx.execute("UPDATE audit_log SET detail = '{\"n\":9}' WHERE id = 5")
        for page in (2, 4, 5000):
            broken = await db.atomic(lambda tx, page=page: audit.verify(tx, page=page))
            assert broken is not None and broken.entry_id == 5, page
    finally:
        await db.close()


@pytest.mark.parametrize("url, said", [
    ("mysql://u:p@localhost/db", "a mysql:// URL is neither a SQLite file nor a postgresql:// URL"),
    ("postgresql://u:p@localhost", "names no host or no database"),
    ("postgresql:///qatysu", "names no host or no database"),
    ("postgresql://u:p@localhost:port/db", "has a malformed port"),
])
def test_qatysu_db_and_the_copys_src_and_dst_are_checked_alike(url, said):
    """One check of a database's URL: what QATYSU_DB refuses, SRC and DST of `qatysu copy` refuse
    in the same words, each naming its own variable (they once differed: copy took a URL without
    a host that `qatysu run` refused)."""
    from bot import config

    with pytest.raises(config.ConfigError) as refused:
        config.db_path({"QATYSU_DB": url})
    assert str(refused.value).startswith("QATYSU_DB") and said in str(refused.value)
    with pytest.raises(copying.Refused) as by_copy:
        copying.side(url, "DST")
    assert str(by_copy.value) == str(refused.value).replace("QATYSU_DB", "DST", 1)


def test_a_postgresql_url_is_one_in_any_case_of_its_scheme():
    from bot import config

    for url in ("postgresql://u:p@db/qatysu", "POSTGRESQL://u:p@db/qatysu", "Postgres://u:p@db/qatysu"):
        assert config.db_path({"QATYSU_DB": url}) == url and config.is_postgresql(url)
        assert isinstance(copying.side(url, "SRC"), copying.PgSide)
    assert not config.is_postgresql("postgresql.db") and isinstance(copying.side("x.db", "SRC"), copying.SqliteSide)
