"""The process charts and documents are drawn in, so that drawing never holds the bot's GIL.

Matplotlib and fpdf2 are CPU-bound and hold the GIL for most of their work. Drawn in a thread of
the bot's process, every chart of a /report made the event loop wait for the GIL at each of its
thousands of hand-overs (every SQL statement, every socket read): taps answered in 1.1 s (p99)
while the report was built against 0.1 s without (``bench/report.py``). In a process of its own
the drawing takes the other core and the bot keeps its own.

One process, started with the bot (``start``) or else at the first render (``spawn``: nothing of
the bot's threads, locks or database connections is copied into it), kept for the next ones;
renders take turns in it, in the order asked. The renderer and its arguments go to it pickled (functions of ``bot.charts`` by
name, plain data), the bytes come back. If the process dies (killed, out of memory), every render
it had is tried once more in a new one; a render that fails twice so raises ``BrokenProcessPool``,
and the next render gets a new process again. If the bot's process dies, the drawing process
ends within a second.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def _outlive_no_parent(parent: int) -> None:
    """In the drawing process: end it when the bot's process is gone (killed, or ended by a
    signal with no clean-up), which would otherwise leave it waiting for work forever."""
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _current() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_outlive_no_parent, initargs=(os.getpid(),))
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    """Forget a broken pool (once, however many renders saw it break); the next render starts a new one."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def _ready() -> int:
    import bot.charts.registry  # noqa: F401  (every renderer, matplotlib and fpdf2)

    return os.getpid()


def start() -> Future:
    """Make the first chart as quick as the next ones; call it before serving. The drawing process
    starts now and imports every renderer (a new interpreter, matplotlib, fpdf2: seconds), and the
    renderers are imported here too (the flows name one to have it drawn: about a second of imports
    that would otherwise hold the event loop at the first chart, while members vote). Returns the
    future of the drawing process's id."""
    ready = _current().submit(_ready)
    import bot.charts.registry  # noqa: F401  (meanwhile, in this process)

    return ready


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in the drawing process (``fn`` a module-level function, the
    arguments picklable); its exception, if it raises one, is raised here."""
    loop = asyncio.get_running_loop()
    call = functools.partial(fn, *args, **kwargs)
    for attempt in (1, 2):
        pool = _current()
        try:
            return await loop.run_in_executor(pool, call)
        except BrokenProcessPool:
            _discard(pool)
            if attempt == 2:
                raise
            log.warning("the drawing process died during %s; drawing it again in a new one",
                        getattr(fn, "__name__", fn))
    raise AssertionError("unreachable")

