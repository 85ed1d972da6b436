"""`qatysu health`, Docker's HEALTHCHECK: the webhook server answers, or the poller's heartbeat is fresh."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from bot import heartbeat
from tests.test_e2e_telegram import TOKEN

ROOT = Path(__file__).resolve().parent.parent


def health(cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "bot", "health"], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=60)


def test_polling_is_healthy_only_while_the_heartbeat_is_fresh(tmp_path):
    db = tmp_path / "qatysu.db"
    result = health(tmp_path, QATYSU_DB=str(db))
    assert result.returncode == 1 and result.stdout.startswith("unhealthy: no heartbeat")
    beat = heartbeat.path_for(str(db))
    beat.touch()
    result = health(tmp_path, QATYSU_DB=str(db))
    assert result.returncode == 0 and result.stdout.startswith("healthy"), result.stdout + result.stderr
    old = time.time() - heartbeat.STALE_AFTER - 5
    os.utime(beat, (old, old))
    result = health(tmp_path, QATYSU_DB=str(db))
    assert result.returncode == 1 and "stopped polling" in result.stdout


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_webhook_mode_is_healthy_while_the_http_port_answers(tmp_path):
    server = HTTPServer(("127.0.0.1", 0), _NotFound)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {"TELEGRAM_WEBHOOK_URL": "https://bot.example.kz", "TELEGRAM_WEBHOOK_SECRET": "s3cret",
           "QATYSU_HTTP_PORT": str(port), "QATYSU_DB": str(tmp_path / "qatysu.db")}
    try:
        result = health(tmp_path, **env)
        assert result.returncode == 0 and "answers" in result.stdout, result.stdout + result.stderr
    finally:
        server.shutdown()
        server.server_close()
    result = health(tmp_path, **env)  # the server is gone: nothing answers on its port
    assert result.returncode == 1 and result.stdout.startswith("unhealthy: the webhook server does not answer")


async def test_a_running_bot_creates_its_database_says_where_and_keeps_its_heartbeat_fresh(tg, tmp_path):
    db = tmp_path / "data" / "qatysu.db"
    db.parent.mkdir()
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url, "QATYSU_DB": str(db)}
    log = tmp_path / "run.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        beat = heartbeat.path_for(str(db))
        deadline = time.monotonic() + 60
        while not beat.exists() and time.monotonic() < deadline and process.poll() is None:
            await asyncio.sleep(0.1)
        assert beat.exists(), log.read_text()
        result = await asyncio.to_thread(health, tmp_path, QATYSU_DB=str(db))
        assert result.returncode == 0, result.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 10)  # the loop free: the fake answers the bot's last long poll
    assert f"Database: none yet; creating one at {db}" in log.read_text()
    assert db.exists()
    with log.open("wb") as stderr:  # started again, it names the database it found
        process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while f"Database: {db}" not in log.read_text() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 10)  # the loop free: the fake answers the bot's last long poll
    assert f"Database: {db}\n" in log.read_text() and "creating" not in log.read_text()


async def test_a_webhook_port_already_taken_is_one_line_naming_the_variables(tg, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url,
               "QATYSU_DB": str(tmp_path / "qatysu.db"), "TELEGRAM_WEBHOOK_URL": "https://bot.example.kz",
               "TELEGRAM_WEBHOOK_SECRET": "s3cret", "QATYSU_HTTP_HOST": "127.0.0.1", "QATYSU_HTTP_PORT": str(port)}
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
                                                       stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.PIPE)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    lines = stderr.decode().splitlines()
    assert process.returncode == 1  # a failed start: Docker or systemd restart it
    assert "Traceback" not in stderr.decode() and "Unclosed" not in stderr.decode()
    assert lines[-1] == (f"qatysu: cannot listen for Telegram's webhook on 127.0.0.1:{port} (QATYSU_HTTP_HOST, "
                         f"QATYSU_HTTP_PORT): Address already in use")
