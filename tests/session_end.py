"""The end of a test session: fail fast, never hang.

A test that fails before it closes an aiosqlite connection leaves the connection's thread
running (a non-daemon thread, waiting for work forever), and the interpreter waits for every
non-daemon thread before it exits: pytest printed its summary and then hung, and a red CI
waited out its 90 minutes. So, once pytest has done everything (the summary printed), any such
thread still alive after a short grace is named on stderr and the process ends at once with
pytest's own status. Threads of concurrent.futures' pools (the drawing process's manager,
asyncio's default executor) are left to the interpreter, which stops them itself at exit.

The suite's conftest.py carries these hooks; a session of its own loads them with
``-p tests.session_end`` (tests/test_session_exit.py).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time

import pytest

STRAY_GRACE = 1.0  # seconds a thread still has to end by itself (a connection closing)
_session = None


def _stray_threads() -> list[threading.Thread]:
    def stopped_by_the_interpreter(thread: threading.Thread) -> bool:
        target = getattr(thread, "_target", None)
        return (type(thread).__module__.startswith("concurrent.futures")
                or getattr(target, "__module__", "").startswith("concurrent.futures"))

    return [t for t in threading.enumerate()
            if t is not threading.main_thread() and not t.daemon and t.is_alive() and not stopped_by_the_interpreter(t)]


def pytest_sessionstart(session) -> None:
    global _session
    _session = session


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config) -> None:
    if _session is None:
        return
    deadline = time.monotonic() + STRAY_GRACE
    for thread in _stray_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    stray = _stray_threads()
    if not stray:
        return
    status = int(_session.exitstatus)
    print(f"\ntests/session_end.py: {len(stray)} thread(s) a test left running would hold the exit: "
          f"{', '.join(t.name for t in stray)}; exiting with pytest's status {status}", file=sys.stderr)
    for child in multiprocessing.active_children():  # the drawing process, which would outlive us
        child.terminate()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)

