"""The running bot's heartbeat: a file touched while it receives updates, read by ``qatysu health``.

With a webhook the bot's HTTP port shows from outside that it runs; with long polling nothing
does, so ``qatysu run`` touches ``<QATYSU_DB>.heartbeat`` (``path_for``) every ``INTERVAL`` seconds while its
polling loop runs, and Docker's HEALTHCHECK (``qatysu health``) reads the file's age.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.config import is_postgresql

INTERVAL = 15.0  # seconds between beats
STALE_AFTER = 90.0  # a heartbeat older than this: the bot no longer receives updates


def path_for(db_path: str) -> Path:
    """``<QATYSU_DB>.heartbeat`` beside a SQLite file; for a PostgreSQL URL, a file in the
    machine's (the container's) temporary folder named by the URL's digest: ``qatysu health``
    runs where the bot runs, and a URL is no path (it may hold a password)."""
    if is_postgresql(db_path):
        digest = hashlib.sha256(db_path.encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"qatysu-{digest}.heartbeat"
    return Path(db_path + ".heartbeat")


async def beat_forever(path: Path, alive: Callable[[], bool], interval: float = INTERVAL) -> None:
    """Touch ``path`` every ``interval`` seconds while ``alive()`` says so (asked every second
    while it does not, so the first beat follows the start at once)."""
    while True:
        if alive():
            path.touch()
            await asyncio.sleep(interval)
        else:
            await asyncio.sleep(min(1.0, interval))


def age(path: Path) -> float | None:
    """Seconds since the last beat; None when there was none."""
    try:
        return max(0.0, time.time() - path.stat().st_mtime)
    except FileNotFoundError:
        return None
