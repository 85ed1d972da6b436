"""``qatysu run --webhook`` and several processes: a worker started with --webhook never polls and
refuses to start without TELEGRAM_WEBHOOK_URL; a second ``qatysu run`` on one SQLite file is
refused (SQLite is served by one process; several workers need PostgreSQL); each worker's
``qatysu health`` answers for itself."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from tests.test_e2e_telegram import TOKEN
from tests.test_health import health
from tests.test_startup import assert_one_line
from tests.workers import SECRET, free_port


def environment(tmp_path, **env: str) -> dict[str, str]:
    kept = {key: value for key, value in os.environ.items() if not key.startswith(("TELEGRAM_", "QATYSU_", "WHATSAPP_"))}
    return {**kept, "QATYSU_DB": str(tmp_path / "one.db"), **env}


async def run_once(tmp_path, *args: str, **env: str) -> tuple[int, list[str]]:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", *args,
                                                   env=environment(tmp_path, **env), cwd=tmp_path,
                                                   stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError("still running after 30 s") from None
    return process.returncode, err.decode().splitlines()


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
