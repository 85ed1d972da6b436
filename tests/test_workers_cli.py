"""``qatysu run --webhook`` and several processes: a worker started with --webhook never polls and
refuses to start without TELEGRAM_WEBHOOK_URL; a second ``qatysu run`` on one SQLite file is
refused (SQLite is served by one process; several workers need PostgreSQL); each worker's
``qatysu health`` answers for itself."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from bot.app import TelegramApp
from bot.config import Config
from tests.test_e2e_telegram import TOKEN, Bot
from tests.test_health import health
from tests.test_startup import assert_one_line
from tests.workers import SECRET, free_port, run_to_exit


def environment(tmp_path, **env: str) -> dict[str, str]:
    kept = {key: value for key, value in os.environ.items() if not key.startswith(("TELEGRAM_", "QATYSU_", "WHATSAPP_"))}
    return {**kept, "QATYSU_DB": str(tmp_path / "one.db"), **env}


async def run_once(tmp_path, *args: str, **env: str) -> tuple[int, list[str]]:
    return await run_to_exit(*args, env=environment(tmp_path, **env), cwd=tmp_path)


async def test_a_webhook_worker_without_telegram_webhook_url_refuses_to_start_in_one_line(tg, tmp_path):
    code, lines = await run_once(tmp_path, "--webhook", TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=tg.base_url)
    assert code == 2
    assert_one_line(code, lines, "--webhook", "TELEGRAM_WEBHOOK_URL is not set")
    assert not tg.calls() and tg.stats["getUpdates"] == 0, "it must not even ask Telegram"


def start(tmp_path, log_name: str, *args: str, **env: str) -> tuple[subprocess.Popen, object]:
    log = (tmp_path / log_name).open("wb")
    process = subprocess.Popen([sys.executable, "-m", "bot", "run", *args], env=environment(tmp_path, **env),
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log)
    return process, log


async def wait_for(path, words: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while words not in path.read_text(errors="replace"):
        assert process.poll() is None, path.read_text()
        assert time.monotonic() < deadline, path.read_text()
        await asyncio.sleep(0.05)


async def stopped(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.to_thread(process.wait, 15)


async def test_a_second_qatysu_run_on_one_sqlite_file_is_refused_and_the_webhook_worker_is_healthy(tg, tmp_path):
    port = free_port()
    env = dict(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=tg.base_url, TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}",
               TELEGRAM_WEBHOOK_SECRET=SECRET, QATYSU_HTTP_PORT=str(port))
    first, log = start(tmp_path, "first.log", "--webhook", **env)
    try:
        await wait_for(tmp_path / "first.log", "is running (webhook)", first)
        assert tg.webhook_url == f"http://127.0.0.1:{port}/telegram/webhook" and tg.stats["getUpdates"] == 0
        code, lines = await run_once(tmp_path, "--webhook", **{**env, "QATYSU_HTTP_PORT": str(free_port())})
        assert_one_line(code, lines, "another `qatysu run` serves", str(tmp_path / "one.db"), "PostgreSQL")
        assert code == 2
        result = await asyncio.to_thread(health, tmp_path, QATYSU_DB=str(tmp_path / "one.db"), **env)
        assert result.returncode == 0 and f"answers on 127.0.0.1:{port}" in result.stdout, result.stdout
    finally:
        assert await stopped(first) == 0
        log.close()
    text = (tmp_path / "first.log").read_text()
    assert "Traceback" not in text, text
    again, log = start(tmp_path, "again.log", "--webhook", **env)  # the file is free once the first is gone
    try:
        await wait_for(tmp_path / "again.log", "is running (webhook)", again)
    finally:
        assert await stopped(again) == 0
        log.close()


@pytest.mark.sqlite_only  # SQLite's write lock, taken by another connection
async def test_a_webhook_update_that_finds_the_database_busy_is_answered_503_and_handled_when_sent_again(
        tg, tmp_path, caplog):
    """A worker whose unit of work kept conflicting (PostgreSQL) or waiting (SQLite) past its
    bound has done nothing: it answers 503 so that Telegram delivers the update again (to any
    worker), and logs one warning, not a traceback of an error in the HTTP server."""
    port = free_port()
    runner = Bot(tg, str(tmp_path / "busy.db"))
    config = Config(db_path=runner.db_path, telegram_token=TOKEN, telegram_api_base=tg.base_url,
                    telegram_webhook_url=f"http://127.0.0.1:{port}", telegram_webhook_secret=SECRET,
                    http_host="127.0.0.1", http_port=port)
    app = TelegramApp(config, rng=random.Random(1), session=tg.session())
    await app.start()
    try:
        app.db.busy_timeout_ms = 200
        john = tg.user(3, "John", "en")
        update = tg.send(john, "/start")
        locked, release = threading.Event(), threading.Event()

        def hold_lock() -> None:
            raw = sqlite3.connect(runner.db_path, timeout=10)
            raw.execute("BEGIN IMMEDIATE")
            locked.set()
            release.wait(10)
            raw.rollback()
            raw.close()

        holder = threading.Thread(target=hold_lock)
        holder.start()
        await asyncio.to_thread(locked.wait, 10)
        try:
            with caplog.at_level(logging.WARNING):
                assert await tg.deliver_webhook(update) == 503
        finally:
            release.set()
            await asyncio.to_thread(holder.join)
        assert not [r for r in caplog.records if r.name.startswith(("aiohttp", "bot.app")) and r.levelno >= logging.ERROR], \
            caplog.text
        assert any("Telegram delivers it again" in r.getMessage() for r in caplog.records)
        await tg.assert_silent(john.id, within=0.3)
        assert await tg.deliver_webhook(update) == 200
        assert "Choose your language" in (await tg.next_message(john.id))["text"]
        await tg.assert_silent(john.id, within=0.3)
    finally:
        await app.stop()
