"""Real ``qatysu run --webhook`` processes on one PostgreSQL database, as an operator runs them
behind one address: each its own HTTP port, all with the same TELEGRAM_WEBHOOK_URL; the fake Bot
API (``FakeTelegram.pump_webhooks``) spreads Telegram's webhooks over them, as a load balancer
would, and delivers again what got no 200."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.test_e2e_telegram import TOKEN

SECRET = "workers-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Worker:
    """One ``qatysu run --webhook`` in a child process; its stderr in ``log``."""

    def __init__(self, name: str, tg, db_url: str, folder: Path, *, public: str, wa=None, **env: str) -> None:
        """Telegram's worker (``tg``), or, with ``tg`` None, WhatsApp's alone (``wa``, the fake)."""
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram/webhook"
        self.wa_url = f"http://127.0.0.1:{self.port}/whatsapp/webhook"
        self.log = folder / f"{name}.log"
        self.ready = "is running (webhook)" if tg is not None else "WhatsApp webhook listening"
        channel = ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url, "TELEGRAM_WEBHOOK_URL": public,
                    "TELEGRAM_WEBHOOK_SECRET": SECRET} if tg is not None else {})
        if wa is not None:
            from tests.test_whatsapp_e2e import PHONE_ID, SECRET as WA_SECRET, VERIFY, WA_TOKEN

            channel.update(WHATSAPP_TOKEN=WA_TOKEN, WHATSAPP_PHONE_NUMBER_ID=PHONE_ID, WHATSAPP_APP_SECRET=WA_SECRET,
                           WHATSAPP_VERIFY_TOKEN=VERIFY, WHATSAPP_API_BASE=wa.base_url, WHATSAPP_API_VERSION=wa.version,
                           WHATSAPP_TEMPLATE_NOTICE="qatysu_notice", WHATSAPP_DISPLAY_NUMBER="77001234567")
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "QATYSU_", "WHATSAPP_"))},
                    **channel, "QATYSU_DB": db_url, "QATYSU_HTTP_HOST": "127.0.0.1", "QATYSU_HTTP_PORT": str(self.port),
                    "QATYSU_SWEEP_SECONDS": "1", **env}
        self.folder = folder
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:  # a pipe nobody reads would fill and stall it
            self.process = subprocess.Popen([sys.executable, "-m", "bot", "run", "--webhook"], env=self.env,
                                            cwd=self.folder, stdout=subprocess.DEVNULL, stderr=log)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def wait_for_line(self, words: str, timeout: float = 30.0) -> float:
        """Wait until the log has a line with ``words``; the monotonic time it was seen."""
        deadline = time.monotonic() + timeout
        while words not in self.text():
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.process.returncode}):\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} logged no {words!r} within {timeout:.0f} s:\n{self.text()}")
            await asyncio.sleep(0.05)
        return time.monotonic()

    async def started(self, timeout: float = 30.0) -> None:
        await self.wait_for_line(self.ready, timeout)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    async def stop(self) -> int | None:
        """SIGTERM, with the event loop free meanwhile (the fake Bot API runs on it)."""
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode

        def stop() -> int:
            process.send_signal(signal.SIGTERM)
            try:
                return process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
                return -9

        return await asyncio.to_thread(stop)


class Workers:
    """N workers behind one address, and the fake Telegram delivering to them."""

    def __init__(self, tg, db_url: str, folder: Path, count: int = 2, *, wa=None, **env: str) -> None:
        self.tg = tg
        public = f"http://127.0.0.1:{free_port()}"  # the balancer's address, as Telegram knows it
        self.all = [Worker(f"worker{i + 1}", tg, db_url, folder, public=public, wa=wa, **env) for i in range(count)]
        self.pump: asyncio.Task | None = None

    def __getitem__(self, i: int) -> Worker:
        return self.all[i]

    async def start(self, *, connections: int = 40) -> None:
        """Start them all at once, then deliver webhooks."""
        for worker in self.all:
            worker.start()
        await asyncio.gather(*(worker.started(60) for worker in self.all))
        if self.tg is not None:
            self.pump = asyncio.create_task(self.tg.pump_webhooks([w.url for w in self.all], connections=connections))

    def scheduler(self) -> tuple[Worker, list[Worker]]:
        """The worker that runs the scheduler, and those standing by (each says which at its start)."""
        leading = [w for w in self.all if "scheduler: this worker runs it" in w.text()]
        assert len(leading) == 1, "\n".join(w.text() for w in self.all)
        return leading[0], [w for w in self.all if w is not leading[0]]

    async def delivered(self, timeout: float = 30.0) -> None:
        """Wait until Telegram has a 200 for every update (``webhook_deliveries`` counts them all)."""
        deadline = time.monotonic() + timeout
        while self.tg is not None and self.tg.pending():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.tg.pending()} updates still undelivered after {timeout:.0f} s")
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # the last 200s counted

    async def stop(self) -> None:
        if self.pump is not None:
            self.pump.cancel()
            await asyncio.gather(self.pump, return_exceptions=True)
            self.pump = None
        await asyncio.gather(*(w.stop() for w in self.all))


async def run_to_exit(*args: str, env: dict[str, str], cwd=None) -> tuple[int, list[str]]:
    """``qatysu run ARGS`` that must exit by itself within 30 s: its exit code and its stderr's lines."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", *args, env=env, cwd=cwd,
                                                   stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError("still running after 30 s") from None
    return process.returncode, err.decode().splitlines()
