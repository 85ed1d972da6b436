"""PostgreSQL's schema is SQLite's: the baseline is the translation of SQLite's schema at its
migration, and both stores end with the same tables, columns, indexes and triggers (a migration
written for one store only fails here)."""

from __future__ import annotations

import importlib.util
from importlib import resources
from pathlib import Path

import pytest

from bot.storage import pg
from bot.storage.db import Database, migrations
from tests.stores import PG, drop_pg_database, new_pg_database

ROOT = Path(__file__).resolve().parent.parent


def generator():
    spec = importlib.util.spec_from_file_location("pg_baseline", ROOT / "scripts" / "pg_baseline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_baseline_is_sqlites_schema_translated():
    number, name, text = pg.migrations()[0]
    assert name == f"{number:03d}_baseline.sql"
    assert text == generator().baseline(number), "regenerate it: python scripts/pg_baseline.py N"


def test_both_stores_have_the_same_migrations():
    assert pg.migrations()[-1][0] == migrations()[-1][0]
    assert [n for n, _, _ in pg.migrations()[1:]] == [n for n, _, _ in migrations() if n > pg.migrations()[0][0]]


async def sqlite_shape(tmp_path) -> dict[str, set]:
    async with Database(str(tmp_path / "shape.db")) as db:
        async with db.transaction() as tx:
            objects = await tx.all("SELECT type, name, tbl_name FROM sqlite_master WHERE sql IS NOT NULL")
            columns = set()
            for kind, name, _ in objects:
                if kind == "table":
                    columns |= {(name, c[1]) for c in await tx.all(f"PRAGMA table_info({name})")}
    return {"tables": {n for k, n, _ in objects if k == "table"}, "columns": columns,
            "indexes": {(n, t) for k, n, t in objects if k == "index"},
            "triggers": {(n, t) for k, n, t in objects if k == "trigger"}}


@pytest.mark.skipif(not PG, reason="QATYSU_TEST_PG names no PostgreSQL server")
async def test_postgresql_has_sqlites_tables_columns_indexes_and_triggers(tmp_path):
    import asyncpg

    url = await new_pg_database("qatysu_shape")
    conn = await asyncpg.connect(url)
    try:
        schema = "current_schema()"
        tables = {r[0] for r in await conn.fetch(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = {schema}")} - {"qatysu_schema"}
        columns = {tuple(r) for r in await conn.fetch(
            f"SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = {schema}"
            " AND table_name <> 'qatysu_schema'")}
        indexes = {tuple(r) for r in await conn.fetch(
            f"SELECT indexname, tablename FROM pg_indexes WHERE schemaname = {schema}")}
        triggers = {tuple(r) for r in await conn.fetch(
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            f" WHERE NOT t.tgisinternal AND c.relnamespace = {schema}::regnamespace")}
    finally:
        await conn.close()
        await drop_pg_database(url)
    sqlite = await sqlite_shape(tmp_path)
    assert tables == sqlite["tables"]
    rowids = {(t, "rowid") for t in generator().ROWID_TABLES}  # SQLite's implicit rowid, made a column
    assert columns == sqlite["columns"] | rowids
    # SQLite's automatic indexes (keys, UNIQUE) are PostgreSQL's constraint indexes: compare the named ones
    assert {i for i in indexes if not i[0].endswith(("_pkey", "_key"))} == sqlite["indexes"]
    # and each identity column has one more trigger: its sequence follows ids inserted explicitly
    assert {t for t in triggers if not t[0].endswith("_follows")} == sqlite["triggers"]
