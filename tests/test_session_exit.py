"""The suite fails fast instead of hanging: a test that fails with an aiosqlite connection left
open (its non-daemon thread waits for work forever) used to leave pytest hung after its summary,
and a red CI waited out its 90 minutes; a test that hangs is stopped by the per-test timeout.

Each test runs a tiny pytest session in a child process, on a test file written to a temporary
directory, with the hooks this suite's conftest.py carries (``-p tests.session_end``)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LEAKS_A_CONNECTION = '''
import asyncio
import aiosqlite

def test_fails_with_a_connection_open(tmp_path):
    async def open_and_fail():
        connection = await aiosqlite.connect(str(tmp_path / "left-open.db"))
        await connection.execute("CREATE TABLE t (x)")
        assert False, "failed before closing the connection"
    asyncio.run(open_and_fail())
'''

HANGS = '''
import time

def test_hangs():
    time.sleep(600)
'''


def pytest_session(tmp_path: Path, test: str, *options: str, hooks: bool = True) -> tuple[subprocess.Popen, Path]:
    """``python -m pytest`` on ``test`` in a child process, from the project's root, outside its
    tests (no ini file: only what the command line says); stdout and stderr in one file."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "test_tiny.py").write_text(test)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # the project's pyproject.toml stays out
    out = tmp_path / "out.txt"
    plugins = ["-p", "tests.session_end"] if hooks else []
    with open(out, "wb") as file:
        process = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plugins,
                                    "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), *options,
                                    str(tmp_path / "test_tiny.py")],
                                   cwd=ROOT, stdout=file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return process, out


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_failed_test_that_left_a_connection_open_ends_the_session_with_its_failure(tmp_path):
    hooked, hooked_out = pytest_session(tmp_path / "hooked", LEAKS_A_CONNECTION)
    bare, bare_out = pytest_session(tmp_path / "bare", LEAKS_A_CONNECTION, hooks=False)
    try:
        started = time.monotonic()
        status = hooked.wait(timeout=60)  # generous: an interpreter's start and imports on a loaded machine
        took = time.monotonic() - started
        text = hooked_out.read_text(errors="replace")
        assert status == 1, text  # pytest's status for a failed test
        assert "1 failed" in text, text  # the summary printed before the exit
        assert "would hold the exit" in text and "exiting with pytest's status 1" in text, text
        assert took < 30, text
        # the same session without the hooks: its summary printed, then it hangs
        assert wait_for(lambda: "1 failed" in bare_out.read_text(errors="replace"), 60), bare_out.read_text()
        time.sleep(2.0)  # longer than the hook's grace
        assert bare.poll() is None, "the session without the hook exited: this test would prove nothing"
    finally:
        for process in (hooked, bare):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_a_hanging_test_fails_at_its_timeout_and_the_session_goes_on_to_its_summary(tmp_path):
    process, out = pytest_session(tmp_path, HANGS, "--timeout", "1", hooks=False)
    try:
        status = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = out.read_text(errors="replace")
    assert status == 1, text
    assert "Timeout" in text and "1 failed" in text, text


def test_this_suite_runs_with_the_session_end_hooks(request):
    from tests import session_end

    hooks = request.config.pluginmanager.hook
    assert session_end.pytest_unconfigure in [h.function for h in hooks.pytest_unconfigure.get_hookimpls()]
    assert session_end.pytest_sessionstart in [h.function for h in hooks.pytest_sessionstart.get_hookimpls()]


def test_the_suite_runs_with_a_generous_per_test_timeout(request):
    assert request.config.pluginmanager.hasplugin("timeout")
    assert float(request.config.getini("timeout")) == 300  # pyproject.toml; the slowest test takes ~40 s
