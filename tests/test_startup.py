"""``qatysu run`` that cannot start: a wrong token, Telegram out of reach, a webhook Telegram
refuses or a port taken. The operator reads one line saying what failed, and the process exits
non-zero within seconds, so Docker or systemd restart it (it used to print a long traceback and
hang, the database never closed)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time

from bot.storage.db import Database
from tests.test_e2e_telegram import TOKEN

WITHIN = 20.0  # seconds, the interpreter's start included; it hung forever before


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens on it once the socket is closed


async def run_bot(tmp_path, **env: str) -> tuple[int, list[str], float]:
    """``qatysu run`` in a child process: its exit code, its stderr lines and how long it ran."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("TELEGRAM_", "QATYSU_"))}
    environment.update(QATYSU_DB=str(tmp_path / "start.db"), **env)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=environment,
                                                   stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(process.communicate(), WITHIN)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"still running after {WITHIN:.0f}s") from None
    return process.returncode, err.decode().splitlines(), time.monotonic() - started


def assert_one_line(code: int, lines: list[str], *expected: str) -> None:
    """One line says what failed (after the line naming the database, which every start prints)."""
    assert code not in (0, None), code
    lines = [line for line in lines if not line.startswith("Database: ")]
    assert len(lines) == 1, "\n".join(lines)
    assert "Traceback" not in lines[0]
    for text in expected:
        assert text in lines[0], lines[0]


async def test_a_wrong_token_is_named_in_one_line(tg, tmp_path):
    code, lines, _ = await run_bot(tmp_path, TELEGRAM_BOT_TOKEN="123456:WRONGwrongWRONGwrongWRONG",
                                   TELEGRAM_API_BASE=tg.base_url)
    assert_one_line(code, lines, "401", "TELEGRAM_BOT_TOKEN is wrong")
    assert not tg.calls("setMyCommands"), "nothing is done with a token Telegram refused"


async def test_telegram_out_of_reach_names_the_address_in_one_line(tmp_path):
    port = closed_port()
    code, lines, elapsed = await run_bot(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN,
                                         TELEGRAM_API_BASE=f"http://127.0.0.1:{port}")
    assert_one_line(code, lines, "cannot reach the Telegram Bot API", f"127.0.0.1:{port}")


async def migrated(tmp_path) -> None:
    """The database of a bot that ran before (as Docker restarts it): no migration to log."""
    async with Database(str(tmp_path / "start.db")):
        pass


async def test_a_webhook_telegram_refuses_is_named_in_one_line(tg, tmp_path):
    await migrated(tmp_path)
    tg.fail_next(1, 400, description="Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
                 methods=["setWebhook"])
    code, lines, _ = await run_bot(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=tg.base_url,
                                   TELEGRAM_WEBHOOK_URL="http://bot.example.kz", TELEGRAM_WEBHOOK_SECRET="s3cret",
                                   QATYSU_HTTP_HOST="127.0.0.1", QATYSU_HTTP_PORT=str(closed_port()))
    assert_one_line(code, lines, "http://bot.example.kz/telegram/webhook", "An HTTPS URL must be provided")
    assert "s3cret" not in lines[0]
    assert not tg.webhook_url


async def test_a_webhook_port_already_taken_is_named_in_one_line(tg, tmp_path):
    await migrated(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines, _ = await run_bot(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=tg.base_url,
                                       TELEGRAM_WEBHOOK_URL="https://bot.example.kz", TELEGRAM_WEBHOOK_SECRET="s3cret",
                                       QATYSU_HTTP_HOST="127.0.0.1", QATYSU_HTTP_PORT=str(port))
    assert_one_line(code, lines, f"cannot listen for Telegram's webhook on 127.0.0.1:{port}")


async def test_telegram_out_of_reach_in_webhook_mode_is_named_in_one_line(tmp_path):
    port = closed_port()
    code, lines, _ = await run_bot(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=f"http://127.0.0.1:{port}",
                                   TELEGRAM_WEBHOOK_URL="https://bot.example.kz", TELEGRAM_WEBHOOK_SECRET="s3cret",
                                   QATYSU_HTTP_HOST="127.0.0.1", QATYSU_HTTP_PORT=str(closed_port()))
    assert_one_line(code, lines, "cannot reach the Telegram Bot API", f"127.0.0.1:{port}")


async def test_a_token_revoked_while_running_ends_the_process_with_one_line(tg, tmp_path):
    """Retrying a revoked token helps nothing: the process says so and exits, instead of
    running on without receiving a single update."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("TELEGRAM_", "QATYSU_"))}
    environment.update(QATYSU_DB=str(tmp_path / "start.db"), TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=tg.base_url)
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=environment,
                                                   stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        deadline = time.monotonic() + WITHIN
        while not tg.stats["getUpdates"] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert tg.stats["getUpdates"], "the bot never started polling"
        tg.token = "654321:REVOKEDrevokedREVOKEDrevoked"
        tg.send(tg.user(5, "Late", "en"), "hello")  # ends the long poll under way; the next one meets the 401
        _, err = await asyncio.wait_for(process.communicate(), WITHIN)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    lines = err.decode().splitlines()
    assert process.returncode not in (0, None)
    assert "Traceback" not in err.decode()
    assert lines[-1].startswith("qatysu: ") and "401" in lines[-1], lines
