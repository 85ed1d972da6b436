"""``qatysu migrate``: either store brought to this version's schema, safe to run twice or from
two processes at once; a PostgreSQL URL that does not work, or a database newer than the code,
said in one line naming QATYSU_DB."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import sys

import pytest

from bot.storage.dbfile import latest_version
from tests.stores import PG, drop_pg_database, new_pg_database

needs_pg = pytest.mark.skipif(not PG, reason="QATYSU_TEST_PG names no PostgreSQL server")


async def migrate(target: str) -> tuple[int, str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("QATYSU_")}
    environment["QATYSU_DB"] = target
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "migrate", env=environment,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()


def one_line(err: str, *expected: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.fixture
async def empty_pg():
    """A PostgreSQL database with nothing in it yet."""
    if not PG:
        pytest.skip("QATYSU_TEST_PG names no PostgreSQL server")
    import asyncpg

    url = await new_pg_database("qatysu_empty")
    conn = await asyncpg.connect(url)  # the copy of the migrated template, emptied
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    yield url
    await drop_pg_database(url)


async def sqlite_version(path: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


async def pg_version(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT version FROM qatysu_schema")
    finally:
        await conn.close()


async def test_a_new_sqlite_file_is_migrated_once_and_twice_does_nothing(tmp_path):
    path = str(tmp_path / "new.db")
    code, out, err = await migrate(path)
    assert code == 0, err
    assert f"migrated from schema 0 to {latest_version()}" in out
    assert await sqlite_version(path) == latest_version()
    code, out, err = await migrate(path)
    assert code == 0 and "nothing to do" in out, (out, err)


async def test_two_migrates_at_once_on_sqlite(tmp_path):
    """Two containers started after an upgrade, on the database the old version left."""
    from bot.storage.db import Database

    path = str(tmp_path / "race.db")
    old = await Database(path).open(migrate_to=1)
    await old.close()
    results = await asyncio.gather(migrate(path), migrate(path))
    assert [code for code, _, _ in results] == [0, 0], results
    assert await sqlite_version(path) == latest_version()


@needs_pg
async def test_two_migrates_at_once_on_postgresql_apply_each_migration_once(empty_pg):
    results = await asyncio.gather(*(migrate(empty_pg) for _ in range(3)))
    assert [code for code, _, _ in results] == [0, 0, 0], results
    outs = sorted(out for _, out, _ in results)
    assert sum("migrated from schema 0" in out for out in outs) == 1, outs  # the others found it done
    assert sum("nothing to do" in out for out in outs) == 2, outs
    assert "qatysu:***@" in outs[0] and ":qatysu@" not in "".join(outs)  # the password is never printed
    assert await pg_version(empty_pg) == latest_version()
    code, out, _ = await migrate(empty_pg)
    assert code == 0 and "nothing to do" in out


@needs_pg
async def test_a_wrong_password_is_one_line_naming_qatysu_db():
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(PG)
    wrong = urlunsplit(parts._replace(netloc=f"{parts.username}:not-the-password@{parts.hostname}:{parts.port}"))
    code, out, err = await migrate(wrong)
    assert code == 1
    one_line(err, "QATYSU_DB", "password")
    assert "not-the-password" not in err


async def test_an_unreachable_server_is_one_line_naming_qatysu_db():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens on it once closed
    code, _, err = await migrate(f"postgresql://qatysu:secret@127.0.0.1:{port}/qatysu")
    assert code == 1
    one_line(err, "QATYSU_DB", "cannot be reached")
    assert "secret" not in err


@pytest.mark.parametrize("url, said", [
    ("mysql://u:p@localhost/db", "postgresql:// URL"),
    ("postgresql://u:p@localhost", "name the server and the database"),
    ("postgresql://u:p@localhost:port/db", "port"),
])
async def test_a_malformed_url_is_one_line_naming_qatysu_db(url, said):
    code, _, err = await migrate(url)
    assert code == 2
    one_line(err, "QATYSU_DB", said)


async def test_a_sqlite_file_of_a_newer_version_is_refused(tmp_path):
    path = str(tmp_path / "newer.db")
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    code, _, err = await migrate(path)
    assert code == 2
    one_line(err, "newer version of Qatysu")
    assert await sqlite_version(path) == latest_version() + 1


@needs_pg
async def test_a_postgresql_database_of_a_newer_version_refuses_to_open(empty_pg):
    import asyncpg

    from bot.storage.pg import PgDatabase, SchemaTooNew

    assert (await migrate(empty_pg))[0] == 0
    conn = await asyncpg.connect(empty_pg)
    try:
        await conn.execute("UPDATE qatysu_schema SET version = version + 1")
    finally:
        await conn.close()
    code, _, err = await migrate(empty_pg)
    assert code == 2
    one_line(err, "newer than this version of Qatysu knows")
    with pytest.raises(SchemaTooNew):
        await PgDatabase(empty_pg).open()
    assert await pg_version(empty_pg) == latest_version() + 1


@pytest.mark.parametrize("command", [["backup", "copy.db"], ["audit", "verify"], ["report", "1", "--out", "r.pdf"]])
async def test_commands_that_read_a_sqlite_file_say_so_for_a_postgresql_url(command, tmp_path):
    """`qatysu backup` copies a SQLite file only (pg_dump backs PostgreSQL up); `audit verify` and
    `report` read PostgreSQL too (tests/test_cli.py), and a server that does not answer is one line."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("QATYSU_")}
    environment["QATYSU_DB"] = f"postgresql://qatysu:secret@127.0.0.1:{port}/qatysu"
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *command, env=environment,
                                                   cwd=tmp_path, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    if command[0] == "backup":
        one_line(err.decode(), "QATYSU_DB names a PostgreSQL server", "pg_dump")
    else:
        one_line(err.decode(), "QATYSU_DB", "cannot connect", f"127.0.0.1:{port}")
    assert "secret" not in err.decode() and not os.listdir(tmp_path)  # nothing written, no file named after the URL
