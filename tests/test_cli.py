"""The `qatysu` command in an operator's first hour: every mistake ends in one line naming it and a
non-zero exit, never a traceback, and no command creates a database it was only meant to read."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from bot import cli, i18n
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.dbfile import latest_version

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def qatysu(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """``python -m bot ARGS`` in ``cwd``, with nothing of the caller's environment but PATH and ``env``."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=60)


def one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("qatysu: ")
    return lines[0]


async def make_database(path: Path, *, migrate_to: int | None = None, entries: int = 3) -> str:
    """A database the bot has run on, with a few audit entries; returns the head hash."""
    db = await Database(str(path)).open(migrate_to=migrate_to)
    try:
        for i in range(entries):
            await db.atomic(lambda tx, i=i: audit.append(tx, f"2026-12-0{i + 1}T10:00:00", "test.entry", n=i))
        return await db.atomic(audit.head)
    finally:
        await db.close()


@pytest.mark.parametrize("args", [["backup", "copy.db"], ["audit", "verify"], ["audit", "verify", "--head", "3fa9c01b"]])
def test_backup_and_audit_refuse_a_folder_without_the_database_and_create_none(tmp_path, args):
    result = qatysu(*args, cwd=tmp_path)
    line = one_line(result)
    assert result.returncode == 2
    assert f"there is no database at {tmp_path / 'qatysu.db'}" in line and "QATYSU_DB" in line
    assert "Backup written" not in result.stdout and "intact" not in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no empty qatysu.db left behind


@pytest.mark.parametrize("args, env", [
    (["backup", "copy.db"], {}),
    (["audit", "verify"], {}),
    (["run"], {"TELEGRAM_BOT_TOKEN": TOKEN}),
])
def test_qatysu_db_in_a_missing_folder_is_one_line_naming_the_variable(tmp_path, args, env):
    missing = tmp_path / "no-such-folder" / "qatysu.db"
    line = one_line(qatysu(*args, cwd=tmp_path, QATYSU_DB=str(missing), **env))
    assert f"QATYSU_DB={missing}" in line
    assert not missing.parent.exists()


@pytest.mark.parametrize("args, env", [
    (["backup", "copy.db"], {}),
    (["audit", "verify"], {}),
    (["run"], {"TELEGRAM_BOT_TOKEN": TOKEN}),
])
def test_a_file_that_is_not_a_database_is_named_and_left_alone(tmp_path, args, env):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    line = one_line(qatysu(*args, cwd=tmp_path, QATYSU_DB=str(notes), **env))
    assert "cannot be read as a SQLite database" in line and "QATYSU_DB=" in line
    assert notes.read_text() == "not a database\n" * 100
    assert not (tmp_path / "copy.db").exists()


def test_qatysu_db_naming_a_folder_is_one_line(tmp_path):
    line = one_line(qatysu("audit", "verify", cwd=tmp_path, QATYSU_DB=str(tmp_path)))
    assert "is a folder, not a database file" in line


def test_the_empty_file_an_earlier_backup_left_is_not_taken_for_the_database(tmp_path):
    (tmp_path / "qatysu.db").write_bytes(b"")  # what `qatysu backup` in the wrong folder used to leave
    line = one_line(qatysu("backup", "copy.db", cwd=tmp_path))
    assert "empty database" in line
    assert not (tmp_path / "copy.db").exists()


def test_backup_into_a_missing_folder_is_one_line(tmp_path):
    line = one_line(qatysu("backup", str(tmp_path / "nope" / "copy.db"), cwd=tmp_path))
    assert f"the folder {tmp_path / 'nope'} does not exist" in line


async def test_backup_copies_an_older_database_as_it_is_without_upgrading_it(tmp_path):
    """Taken before an upgrade (the new version installed, the old one still running), a backup
    must not migrate the live database under the running version."""
    await make_database(tmp_path / "qatysu.db", migrate_to=2)
    result = qatysu("backup", "copy.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("qatysu.db", "copy.db"):
        with closing(sqlite3.connect(tmp_path / name)) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == 2
            assert db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == 3


async def test_a_mistyped_head_is_said_to_match_no_entry_not_that_the_log_was_cut(tmp_path):
    head = await make_database(tmp_path / "qatysu.db")
    assert qatysu("audit", "verify", "--head", head[:8], cwd=tmp_path).returncode == 0
    typo = ("0" if head[0] != "0" else "1") + head[1:8]
    result = qatysu("audit", "verify", "--head", typo, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith(f"audit log: no entry has the posted hash {typo}; the chain itself is intact")
    assert "audit log cut" not in result.stdout and "were removed" not in result.stdout
    assert "Check the hash" in result.stdout and len(result.stdout.strip().splitlines()) == 1


async def test_run_refuses_a_database_written_by_a_newer_version(tmp_path):
    await make_database(tmp_path / "qatysu.db")
    with closing(sqlite3.connect(tmp_path / "qatysu.db")) as db:
        db.execute(f"PRAGMA user_version = {latest_version() + 1}")
    line = one_line(qatysu("run", cwd=tmp_path, TELEGRAM_BOT_TOKEN=TOKEN))
    assert "written by a newer version of Qatysu" in line


def test_run_refuses_to_start_without_its_translation_catalogs(tmp_path, monkeypatch, capsys):
    """Before, a wheel without `locales/` started and spoke English to people who chose Kazakh."""
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("QATYSU_DB", str(tmp_path / "qatysu.db"))
    assert cli.main(["run"]) == 2
    assert "translation catalogs for kk, ru, en are missing" in capsys.readouterr().err
    assert not (tmp_path / "qatysu.db").exists()


def test_demo_into_a_file_is_one_line(tmp_path):
    (tmp_path / "demo-out").write_text("a file")
    line = one_line(qatysu("demo", cwd=tmp_path))
    assert "demo-out is a file" in line


def readme_variables() -> list[str]:
    table = (ROOT / "README.md").read_text(encoding="utf-8").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return sorted(set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table)))


def test_each_help_names_the_variables_it_reads(tmp_path):
    variables = readme_variables()
    assert "TELEGRAM_BOT_TOKEN" in variables and "QATYSU_OPERATOR_NAME" in variables
    run_help = qatysu("run", "--help", cwd=tmp_path).stdout
    assert [v for v in variables if v not in run_help] == []
    for command in (["backup"], ["audit"]):
        assert "QATYSU_DB" in qatysu(*command, "--help", cwd=tmp_path).stdout
    health_help = qatysu("health", "--help", cwd=tmp_path).stdout
    assert all(v in health_help for v in ("TELEGRAM_WEBHOOK_URL", "QATYSU_HTTP_PORT", "QATYSU_DB"))
    assert "environment: none" in qatysu("demo", "--help", cwd=tmp_path).stdout
    assert "environment variables" in qatysu("--help", cwd=tmp_path).stdout


# --- the commands that read, on PostgreSQL (QATYSU_DB=postgresql://…) -------------------------------
from tests.stores import PG, drop_pg_database, new_pg_database  # noqa: E402

needs_pg = pytest.mark.skipif(not PG, reason="QATYSU_TEST_PG names no PostgreSQL server")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    import asyncio

    from bot.demo import run_demo

    out = tmp_path_factory.mktemp("demo") / "demo-out"
    asyncio.run(run_demo(str(out), seed=7))
    return out / "demo.db"


@pytest.fixture
async def demo_pg(demo_db, tmp_path):
    """The demo's database copied into a new PostgreSQL database with `qatysu copy`; its URL."""
    if not PG:
        pytest.skip("QATYSU_TEST_PG names no PostgreSQL server")
    url = await new_pg_database("qatysu_cli")
    try:
        import asyncpg

        conn = await asyncpg.connect(url)  # `qatysu copy` takes an empty database
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()
        copied = qatysu("copy", str(demo_db), url, cwd=tmp_path)
        assert copied.returncode == 0, copied.stderr
        yield url
    finally:
        await drop_pg_database(url)


def csv_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix == ".csv"}


@needs_pg
async def test_audit_verify_on_postgresql_finds_the_head_the_group_was_shown(demo_db, demo_pg, tmp_path):
    with closing(sqlite3.connect(demo_db)) as db:
        head = db.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()[0]
    on_sqlite = qatysu("audit", "verify", "--head", head[:8], cwd=tmp_path, QATYSU_DB=str(demo_db))
    on_pg = qatysu("audit", "verify", "--head", head[:8], cwd=tmp_path, QATYSU_DB=demo_pg)
    assert on_pg.returncode == 0, on_pg.stderr
    assert on_pg.stdout == on_sqlite.stdout and f"audit log intact; head {head[:12]}" in on_pg.stdout
    missing = qatysu("audit", "verify", "--head", "3fa9c01b", cwd=tmp_path, QATYSU_DB=demo_pg)
    assert missing.returncode == 1 and "no entry has the posted hash 3fa9c01b" in missing.stdout


@needs_pg
async def test_audit_verify_on_postgresql_names_the_entry_someone_changed(demo_pg, tmp_path):
    import asyncpg

    conn = await asyncpg.connect(demo_pg)
    try:  # past the append-only guard, as someone with the server's superuser could
        await conn.execute("SET session_replication_role = replica")
        changed = await conn.fetchval("UPDATE audit_log SET detail = '{\"n\": 99}'"
                                      " WHERE id = (SELECT MIN(id) + 2 FROM audit_log) RETURNING id")
    finally:
        await conn.close()
    result = qatysu("audit", "verify", cwd=tmp_path, QATYSU_DB=demo_pg)
    assert result.returncode == 1 and f"audit log broken at entry {changed}" in result.stdout, result.stdout


@needs_pg
def test_report_and_export_on_postgresql_are_those_of_the_same_data_on_sqlite(demo_db, demo_pg, tmp_path,
                                                                              monkeypatch):
    from pypdf import PdfReader

    outputs = {}
    for store, target in (("sqlite", str(demo_db)), ("postgresql", demo_pg)):
        folder = tmp_path / store
        folder.mkdir()
        export = ["export", "1", "--out", str(folder / "export"), "--lang", "en"]
        report = ["report", "1", "--out", str(folder / "report.pdf"), "--lang", "en", "--cycle", "1"]
        if store == "sqlite":  # SQLite's in this process (a process costs seconds); PostgreSQL's as processes
            monkeypatch.setenv("QATYSU_DB", target)
            assert cli.main(export) == 0 and cli.main(report) == 0
        else:
            for command in (export, report):
                done = qatysu(*command, cwd=tmp_path, QATYSU_DB=target)
                assert done.returncode == 0, done.stderr
        text = "\n".join(page.extract_text() for page in PdfReader(folder / "report.pdf").pages)
        outputs[store] = csv_files(folder / "export"), re.sub(r"\d\d\.\d\d\.\d{4}( \d\d:\d\d)?", "DATE", text)
    (sqlite_csv, sqlite_text), (pg_csv, pg_text) = outputs["sqlite"], outputs["postgresql"]
    assert len(sqlite_csv) >= 5 and all(sqlite_csv.values())
    assert pg_csv == sqlite_csv
    assert "Step 1. Problems and priorities" in pg_text and pg_text == sqlite_text


def test_backup_of_postgresql_points_at_pg_dump_in_one_line_and_writes_nothing(tmp_path):
    result = qatysu("backup", "copy.db", cwd=tmp_path, QATYSU_DB="postgresql://qatysu:hunter2@127.0.0.1:9/qatysu")
    line = one_line(result)
    assert result.returncode == 2 and "pg_dump" in line and "QATYSU_DB" in line
    assert "hunter2" not in line and list(tmp_path.iterdir()) == []


@needs_pg
async def test_reading_commands_on_an_unusable_postgresql_are_one_line_naming_qatysu_db(tmp_path):
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(PG)
    wrong_password = urlunsplit(parts._replace(netloc=f"{parts.username}:not-the-password@{parts.hostname}:{parts.port}"))
    for command in (["audit", "verify"], ["export", "1", "--out", "x"]):  # (report opens it as export does)
        result = qatysu(*command, cwd=tmp_path, QATYSU_DB=wrong_password)
        line = one_line(result)
        assert result.returncode == 2 and "QATYSU_DB" in line and "not-the-password" not in line, line
    empty = await new_pg_database("qatysu_cli")
    try:
        import asyncpg

        conn = await asyncpg.connect(empty)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()
        result = qatysu("audit", "verify", cwd=tmp_path, QATYSU_DB=empty)
        assert "holds no Qatysu database" in one_line(result) and "qatysu migrate" in one_line(result)
    finally:
        await drop_pg_database(empty)
    assert list(tmp_path.iterdir()) == []


@needs_pg
@pytest.mark.skipif(not shutil.which("pg_dump") or not shutil.which("pg_restore"), reason="no pg_dump on PATH")
async def test_the_readmes_pg_dump_and_pg_restore_bring_back_every_row_rule_and_the_audit_head(demo_db, demo_pg,
                                                                                              tmp_path):
    """README, "Several workers on PostgreSQL": `pg_dump -Fc` while it runs, then (workers stopped)
    `pg_restore --clean --if-exists --single-transaction` into the same database over what was
    written since, and `qatysu audit verify`."""
    import asyncpg

    from bot.storage.pg import PgDatabase

    dump = tmp_path / "qatysu.dump"
    with open(dump, "wb") as out:
        subprocess.run(["pg_dump", "-d", demo_pg, "-Fc"], stdout=out, check=True, timeout=60)
    async with PgDatabase(demo_pg) as db:  # written after the backup: the restore takes it away
        await db.atomic(lambda tx: audit.append(tx, "2026-12-07T10:00:00", "test.after_backup", n=1))
        before_restore = await db.atomic(audit.head)

    async def triggers() -> int:
        conn = await asyncpg.connect(demo_pg)
        try:
            return await conn.fetchval("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal")
        finally:
            await conn.close()

    guards = await triggers()
    with open(dump, "rb") as source:
        subprocess.run(["pg_restore", "-d", demo_pg, "--clean", "--if-exists", "--single-transaction"], stdin=source,
                       check=True, timeout=120, capture_output=True)
    verified = qatysu("audit", "verify", cwd=tmp_path, QATYSU_DB=demo_pg)
    assert verified.returncode == 0 and "audit log intact" in verified.stdout
    assert before_restore[:12] not in verified.stdout
    same = qatysu("copy", "--verify-only", str(demo_db), demo_pg, cwd=tmp_path)  # every row, the head, as the demo's
    assert same.returncode == 0, same.stderr
    assert await triggers() == guards and guards > 50  # the database's rules are back with it
    async with PgDatabase(demo_pg) as db:  # and it goes on: the next entry chains to the restored head
        await db.atomic(lambda tx: audit.append(tx, "2026-12-07T11:00:00", "test.after_restore", n=2))
        assert await db.atomic(audit.verify) is None


@needs_pg
async def test_reading_a_postgresql_database_of_a_newer_version_is_refused_in_one_line(demo_pg, tmp_path):
    import asyncpg

    conn = await asyncpg.connect(demo_pg)
    try:
        await conn.execute("UPDATE qatysu_schema SET version = version + 1")
    finally:
        await conn.close()
    for command in (["audit", "verify"], ["export", "1", "--out", "x"]):
        result = qatysu(*command, cwd=tmp_path, QATYSU_DB=demo_pg)
        line = one_line(result)
        assert result.returncode == 2 and "newer than this version of Qatysu knows" in line and "QATYSU_DB" in line
    assert list(tmp_path.iterdir()) == []
    conn = await asyncpg.connect(demo_pg)
    try:  # left as it was
        assert await conn.fetchval("SELECT version FROM qatysu_schema") == latest_version() + 1
    finally:
        await conn.close()
