"""Both stores for the tests of the database's rules: SQLite always, PostgreSQL when
``QATYSU_TEST_PG`` names a server (``QATYSU_TEST_PG=$(scripts/pg_local.sh start)``), each test on a
database of its own, copied from a template migrated once per schema.

A module runs its tests on both by importing the fixture: ``from tests.stores import db``.
A test of what only SQLite has (its WAL, its two connections, its migrations' history) is marked
``@pytest.mark.sqlite_only``.

With ``QATYSU_TEST_STORE=postgresql`` the common fixtures of tests/conftest.py (``db``, the e2e
``Bot``, the WhatsApp bot) use a new PostgreSQL database from the same template too, so the whole
suite runs on PostgreSQL: ``QATYSU_TEST_STORE=postgresql QATYSU_TEST_PG=… python -m pytest``.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.storage.db import Database
from tests.conftest import migrated_database

PG = os.environ.get("QATYSU_TEST_PG", "").strip()
STORES = ["sqlite", "postgresql"]
_template: str | None = None


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def _admin():
    import asyncpg

    return await asyncpg.connect(PG)


async def new_pg_database(prefix: str = "qatysu_test") -> str:
    """A new database on the test server, at the current schema; its URL. It is copied from a
    template migrated once per schema (named by the migrations' digest, so a server used for
    many runs keeps one per schema, not one per run)."""
    global _template
    import asyncpg

    from bot.storage.pg import PgDatabase, migrations

    admin = await _admin()
    try:
        if _template is None:
            digest = hashlib.sha256("".join(text for _, _, text in migrations()).encode()).hexdigest()[:12]
            name = f"qatysu_template_{digest}"
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                building = f"qatysu_building_{os.getpid()}_{uuid.uuid4().hex[:6]}"
                await admin.execute(f'CREATE DATABASE "{building}"')
                template = PgDatabase(_with_db(PG, building))
                await template.open()
                await template.close()
                try:  # another run may have built it meanwhile: then theirs is used
                    await admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
                except asyncpg.DuplicateDatabaseError:
                    await admin.execute(f'DROP DATABASE "{building}"')
            _template = name
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_template}" STRATEGY FILE_COPY')
    finally:
        await admin.close()
    return _with_db(PG, name)


async def copy_pg_database(url: str, prefix: str = "qatysu_test") -> str:
    """A new database on the test server, a copy of the one at ``url`` (closed); its URL."""
    source = urlsplit(url).path.lstrip("/")
    assert re.fullmatch(r"qatysu_\w+", source), source
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}" STRATEGY FILE_COPY')
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
        database = await Database(migrated_database(str(tmp_path / "test.db"))).open()
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


needs_server = pytest.mark.skipif(not PG, reason="QATYSU_TEST_PG names no PostgreSQL server")


@pytest.fixture
async def pg_url():
    """A new PostgreSQL database at the current schema, for one test: its URL (a module imports the
    fixture: ``from tests.stores import pg_url``). The test is skipped without a server."""
    if not PG:
        pytest.skip("QATYSU_TEST_PG names no PostgreSQL server")
    url = await new_pg_database()
    yield url
    await drop_pg_database(url)
