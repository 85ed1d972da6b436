"""Both stores for the tests of the database's rules: SQLite always, PostgreSQL when
``QATYSU_TEST_PG`` names a server (``QATYSU_TEST_PG=$(scripts/pg_local.sh start)``), each test on a
database of its own, copied from one migrated once per run.

A module runs its tests on both by importing the fixture: ``from tests.stores import db``.
A test of what only SQLite has (its WAL, its two connections, its migrations' history) is marked
``@pytest.mark.sqlite_only``.
"""

from __future__ import annotations

import os
import re
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.storage.db import Database

PG = os.environ.get("QATYSU_TEST_PG", "").strip()
STORES = ["sqlite", "postgresql"]
_template: str | None = None


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def _admin():
    import asyncpg

    return await asyncpg.connect(PG)


async def new_pg_database(prefix: str = "qatysu_test") -> str:
    """A new database on the test server, at the current schema; its URL."""
    global _template
    from bot.storage.pg import PgDatabase

    admin = await _admin()
    try:
        if _template is None:
            name = f"qatysu_template_{os.getpid()}"
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await admin.execute(f'CREATE DATABASE "{name}"')
            template = PgDatabase(_with_db(PG, name))
            await template.open()
            await template.close()
            _template = name
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_template}" STRATEGY FILE_COPY')
    finally:
        await admin.close()
    return _with_db(PG, name)


async def drop_pg_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    assert re.fullmatch(r"qatysu_\w+", name), name
    admin = await _admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(name="db", params=STORES)
async def db(request, tmp_path):
    """The database, on each store in turn."""
    if request.param == "sqlite":
        database = await Database(str(tmp_path / "test.db")).open()
        yield database
        await database.close()
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("what this tests is SQLite's own")
    if not PG:
        pytest.skip("QATYSU_TEST_PG names no PostgreSQL server")
    from bot.storage.pg import PgDatabase

    url = await new_pg_database()
    database = await PgDatabase(url).open()
    try:
        yield database
    finally:
        await database.close()
        await drop_pg_database(url)
