"""``QATYSU_DB=postgresql://… qatysu run``: the bot serves Telegram and WhatsApp on PostgreSQL, and
what SQLite said in its own dialect (an upsert, an order of ids) is said so both stores take it.

The end-to-end tests need a server (``QATYSU_TEST_PG``, as CI sets it); the rest run on both
stores (tests/stores.py). The whole suite runs on PostgreSQL with ``QATYSU_TEST_STORE=postgresql``
(tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit, urlunsplit


from bot import heartbeat
from bot.storage import inbox
from bot.storage import whatsapp as wa_store
from bot.storage.pg import PgDatabase
from tests.stores import PG, db, pg_url, needs_server  # noqa: F401  (fixtures)
from tests.test_e2e_telegram import TOKEN, Bot, new_community, onboard
from tests.test_health import health
from tests.workers import run_to_exit
from tests.test_startup import assert_one_line, closed_port
from tests.test_whatsapp_e2e import start_whatsapp, wa_onboard





@needs_server
async def test_the_telegram_bot_runs_on_postgresql_and_keeps_its_data_there(tg, pg_url):
    runner = Bot(tg, pg_url)
    await runner.start()
    try:
        assert isinstance(runner.app.db, PgDatabase)
        aigerim = tg.user(1, "Айгерим", "kk")
        await onboard(tg, aigerim, "қазақша")
        code = await new_community(tg, aigerim)
    finally:
        await runner.stop()
    async with PgDatabase(pg_url) as reopened:  # a worker started later reads what this one wrote
        assert await reopened.scalar("SELECT name FROM communities WHERE join_code = ?", (code,)) == "Көктерек ауылы"
        handled = await reopened.scalar("SELECT count(*) FROM processed_updates WHERE channel = 'telegram'")
        assert handled == 7, handled  # /start, language, consent, name, /new, its name, its district


@needs_server
async def test_whatsapp_alone_runs_on_postgresql(wa, pg_url):
    app = await start_whatsapp(wa, pg_url)
    try:
        assert isinstance(app.db, PgDatabase)
        alma = wa.user("77010000001", "Алма")
        greeting = await wa_onboard(wa, alma, "English")
        assert "Алма" in greeting.text
        async with app.db.transaction() as tx:
            # the language choice, the consent and the question of the name (the greeting is recorded as it is sent)
            assert await tx.scalar("SELECT count(*) FROM wa_sent WHERE wa_id = ?", (alma.wa_id,)) >= 3
    finally:
        await app.stop()
    assert not wa.refused


async def run_bot(**env: str) -> tuple[int, list[str]]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("TELEGRAM_", "QATYSU_"))}
    return await run_to_exit(env={**environment, **env})


@needs_server
async def test_a_wrong_password_in_qatysu_db_is_named_in_one_line_without_the_password(tg):
    parts = urlsplit(PG)
    wrong = urlunsplit(parts._replace(netloc=f"{parts.username}:not-the-Password@{parts.hostname}:{parts.port}"))
    code, lines = await run_bot(QATYSU_DB=wrong, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=tg.base_url)
    assert_one_line(code, lines, "QATYSU_DB", "password or user name is wrong")
    assert "not-the-Password" not in "\n".join(lines)


async def test_an_unreachable_postgresql_server_is_named_in_one_line(tg):
    port = closed_port()
    code, lines = await run_bot(QATYSU_DB=f"postgresql://qatysu:secret@127.0.0.1:{port}/qatysu",
                                TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=tg.base_url)
    assert_one_line(code, lines, "QATYSU_DB", f"127.0.0.1:{port}", "cannot be reached")
    assert "secret" not in "\n".join(lines)
    assert any(line.startswith("Database: postgresql://qatysu:***@") for line in lines)


def test_the_heartbeat_of_a_bot_on_postgresql_is_a_file_without_the_password():
    url = "postgresql://qatysu:s3cret@db.example:5432/qatysu"
    beat = heartbeat.path_for(url)
    assert beat.parent == type(beat)(tempfile.gettempdir()) and beat.name.endswith(".heartbeat")
    assert "s3cret" not in str(beat)
    assert heartbeat.path_for(url) == beat  # `qatysu health` finds the one `qatysu run` touches
    assert heartbeat.path_for(url.replace("/qatysu", "/other")) != beat
    assert str(heartbeat.path_for("/data/qatysu.db")) == "/data/qatysu.db.heartbeat"


@needs_server
async def test_qatysu_run_on_postgresql_keeps_a_heartbeat_that_qatysu_health_reads(tg, pg_url, tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "QATYSU_"))},
           "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url, "QATYSU_DB": pg_url}
    beat = heartbeat.path_for(pg_url)
    beat.unlink(missing_ok=True)
    log = tmp_path / "run.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while not beat.exists() and time.monotonic() < deadline and process.poll() is None:
            await asyncio.sleep(0.1)
        assert beat.exists(), log.read_text()
        result = await asyncio.to_thread(health, tmp_path, QATYSU_DB=pg_url, TELEGRAM_BOT_TOKEN=TOKEN)
        assert result.returncode == 0 and "healthy: polling" in result.stdout, result.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 10)  # the loop free: the fake answers the bot's last long poll
        beat.unlink(missing_ok=True)
    text = log.read_text()
    assert "Traceback" not in text and process.returncode == 0, text
    assert "Database: postgresql://qatysu:***@" in text and "pg_dump" in text


async def test_qatysu_health_reads_the_heartbeat_of_a_bot_on_postgresql(monkeypatch, capsys):
    from bot.cli import main

    url = f"postgresql://qatysu:x@127.0.0.1:1/health_{os.getpid()}_{time.monotonic_ns()}"
    monkeypatch.setenv("QATYSU_DB", url)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    beat = heartbeat.path_for(url)
    assert main(["health"]) == 1  # not polling yet
    beat.touch()
    try:
        assert main(["health"]) == 0
        assert "healthy: polling" in capsys.readouterr().out
    finally:
        beat.unlink()


async def test_a_message_sent_again_under_its_id_starts_its_status_anew(db):
    async with db.transaction() as tx:
        await wa_store.record_sent(tx, "wamid.1", "77010000001", 100.0, [("a", "A")], "pick", 0)
        assert await wa_store.status(tx, "wamid.1", "failed", 101.0, error_code=131047)
        await wa_store.record_sent(tx, "wamid.1", "77010000001", 200.0, [("b", "B")], "again", 1)
        sent = await wa_store.sent(tx, "wamid.1")
        row = await tx.one("SELECT status, error_code, status_at, sent_at FROM wa_sent WHERE message_id = 'wamid.1'")
    assert ([o[:2] for o in sent.options], sent.body, sent.page, sent.status) == ([("b", "B")], "again", 1, "accepted")
    assert tuple(row) == ("accepted", None, None, 200.0)


async def test_a_status_that_comes_before_the_sends_record_is_kept_for_it(db):
    """Meta may call back (delivered, read) before the send's record has committed (another
    worker sent it, or the record is a moment behind): the status was dropped. It is kept, and
    the record, when it comes, takes it; one whose message is never recorded goes when old."""
    async with db.transaction() as tx:
        assert await wa_store.status(tx, "wamid.2", "delivered", 101.0, recipient="77010000001")
        assert await wa_store.status(tx, "wamid.2", "read", 102.0, recipient="77010000001")
        assert not await wa_store.status(tx, "wamid.2", "sent", 101.5, recipient="77010000001")  # no step back
        await wa_store.record_sent(tx, "wamid.2", "77010000001", 100.0, [("a", "A")], "pick", 0)
        sent = await wa_store.sent(tx, "wamid.2")
        assert (sent.status, [o[:2] for o in sent.options], sent.body, sent.wa_id) == (
            "read", [("a", "A")], "pick", "77010000001")
        assert await wa_store.status(tx, "wamid.3", "delivered", 50.0, recipient="77010000002")  # never recorded
        assert await wa_store.prune(tx, 60.0) == 1
        assert await wa_store.sent(tx, "wamid.3") is None and await wa_store.sent(tx, "wamid.2") is not None


async def test_an_uploaded_media_id_is_replaced_by_a_newer_upload(db):
    async with db.transaction() as tx:
        await wa_store.uploaded(tx, "digest", "media-1", 100.0)
        await wa_store.uploaded(tx, "digest", "media-2", 200.0)
        assert await wa_store.media(tx, "digest", 150.0) == "media-2"
        assert await tx.scalar("SELECT count(*) FROM wa_media") == 1


async def test_the_inbox_gives_telegram_updates_by_id_and_whatsapp_messages_as_they_came(db):
    async with db.transaction() as tx:
        await inbox.store(tx, "telegram", [("1000", "a"), ("999", "b"), ("10001", "c")], "t")
        await inbox.store(tx, "whatsapp", [("wamid.ZZ", "first"), ("wamid.AA", "second"), ("wamid.MM", "third")], "t")
        assert [u for u, _ in await inbox.pending(tx, "telegram")] == ["999", "1000", "10001"]
        assert [p for _, p in await inbox.pending(tx, "whatsapp")] == ["first", "second", "third"]


async def test_a_nul_character_from_a_broken_client_is_stored_on_both_stores(db):
    """PostgreSQL's text cannot hold NUL (SQLite's can): an update carrying one failed there (the
    fuzzer, tests/test_fuzz_flows.py, found it with a tap whose data was "\\x00"). Stored, it reads
    back as U+FFFD on PostgreSQL, and the same text finds it."""
    async with db.transaction() as tx:
        await inbox.store(tx, "telegram", [("5", '{"data": "a\x00b"}')], "2026-12-06T04:00:00\x00")
        payload = await tx.scalar("SELECT payload FROM inbox WHERE update_id = ? AND received_at = ?",
                                  ("5", "2026-12-06T04:00:00\x00"))
    assert payload in ('{"data": "a\x00b"}', '{"data": "a\ufffdb"}')
