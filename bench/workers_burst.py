"""Vote burst on PostgreSQL with 1 and 2 workers, beside SQLite with 1, in the same run (issue 15).

    python bench/workers_burst.py                        # 1,000 members: sqlite1, pg1, pg2
    python bench/workers_burst.py --members 1000 10000   # both sizes, one after the other
    python bench/workers_burst.py --configs pg1 --profile pyspy   # where a PostgreSQL worker's CPU goes

What runs
---------
* Workers: real ``qatysu run`` processes (``python -m bot run``; ``--webhook`` is passed when the
  installed CLI has it), each with its own HTTP port, taking Telegram's updates by webhook
  (``TELEGRAM_WEBHOOK_URL``), INFO logging to a file, the production defaults (edit coalescing
  3 s, double-tap 1 s, the scheduler, the outbox, the drawing process).
* The database: SQLite in a temporary file for ``sqlite1``; for ``pg1`` and ``pg2`` a fresh
  database on a PostgreSQL server of the bench's own (``PG_LOCAL_PORT=5435 scripts/pg_local.sh
  start``, started when ``--pg`` is not given; never the test server at 5433).
* The fake Telegram Bot API (``tests/fakes/telegram.py``) in this, the driver, process. It queues
  each member's tap as Telegram does and delivers it by webhook, as Telegram delivers to a bot's
  webhook: at most ``--in-flight`` (40, Telegram's default ``max_connections``) POSTs waiting for
  their answer at once. One address would be a proxy in front of the workers; here the fake
  spreads the deliveries itself, round-robin over the workers' addresses (during the set-up all
  go to the first worker). An answer other than 2xx is delivered again, to the next worker.

Set-up (not measured) is ``vote_burst.py``'s: a facilitator onboards, creates the community, links
the group and proposes 5 problems over the fake API; the members are inserted with SQL through the
app's own storage (here from this process, on the same database); ``/poll dots`` in the group. The
burst is ``vote_burst.py``'s dots burst: every member taps 5 times (placed, placed, placed, taken
back, placed elsewhere), all ``5 × members`` updates queued at once.

Measured per configuration: updates/s (first queued → last ``answerCallbackQuery``); tap → answer
latency p50/p95/p99; CPU seconds per update of the workers (each worker's process and its
children, from /proc, from the first tap until the last group edit settled) and of PostgreSQL
(its backends serving the bench's database, and the whole server: backends plus its background
processes), transactions committed per update and serialization failures / deadlocks (the
server's log; the units of work run again) for PostgreSQL; the fake's own CPU, other processes'
CPU and the load average. Then the ratios PG1/SQLite1 and PG2/PG1, measured in the same run, and
a projection from CPU per update: N workers on N cores (database on the same cores, or on a
machine of its own) if nothing but CPU limits them.

Checks (PASS/FAIL), as ``vote_burst.py``'s: every member's stored stickers equal the plan; the
trigger-kept counts and turnout; every update answered exactly once, with the expected toast;
no Bot API call failed; the group message ends with the final counts; and every webhook POST
answered 2xx the first time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ballots import BALLOTS, fmt_ms, queue_all  # noqa: E402
from _common import (BOT_USERNAME, ROOT, TOKEN, loadavg, machine,  # noqa: E402
                     machine_busy_seconds, percentile, verdict)
from vote_burst import member_row, seed_members, set_up_village, short_frame  # noqa: E402

SECRET = "bench-secret"
PG_PORT = 5435
GOAL_PG1 = 0.7  # PostgreSQL with 1 worker at ≥ 0.7 of SQLite's rate (issue 15)
CONFIGS = {"sqlite1": ("sqlite", 1), "pg1": ("postgresql", 1), "pg2": ("postgresql", 2)}


# ---------------------------------------------------------------------------- /proc readings
def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, None when it is gone. The CPU time is the
    scheduler's own (``/proc/PID/schedstat``, nanoseconds): ``stat``'s user and system times are
    counted in 10 ms ticks, which miss much of a process that runs in short bursts between waits
    (PostgreSQL's backends: 20-30× less than schedstat in this bench)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), ran(pid)


def ran(pid: int | str = "self") -> float:
    """CPU seconds of a process's threads alive now (schedstat; stat's ticks if there is none)."""
    total = 0.0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return 0.0
    return total


def _processes() -> dict[int, tuple[int, float]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                found[int(entry)] = st
    return found


def tree_cpu(roots: list[int]) -> dict[int, float]:
    """CPU seconds of each process in the trees under ``roots`` (roots included)."""
    procs = _processes()
    keep = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _) in procs.items():
            if ppid in keep and pid not in keep:
                keep.add(pid)
                grew = True
    return {pid: procs[pid][1] for pid in keep if pid in procs}


class Tracker:
    """CPU seconds of the processes under ``roots``, read every 0.5 s while ``run`` runs, so that a
    process that ends meanwhile keeps what it spent until its last reading: asyncpg replaces a
    pool's connection after 50,000 queries (~3,000 taps), and its backend's CPU went uncounted."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.seen: dict[int, float] = {}
        self.names: dict[int, str] = {}

    def sample(self) -> dict[int, float]:
        for pid, cpu in tree_cpu(self.roots).items():
            self.seen[pid] = cpu
            if pid not in self.names:
                self.names[pid] = _cmdline(pid)
        return dict(self.seen)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def grown(before: dict[int, float], after: dict[int, float], only=None) -> float:
    """CPU seconds spent between two readings, by the processes alive at the second (a process
    started in between counts from its start)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items() if only is None or only(pid))


# ---------------------------------------------------------------------------- PostgreSQL
class Server:
    """The bench's PostgreSQL server: a fresh database per configuration, the postmaster's pid
    (for its processes' CPU) and its log (for serialization failures)."""

    def __init__(self, url: str, log_path: str | None) -> None:
        self.url = url
        self.log_path = log_path
        self.postmaster = 0
        self.made: list[str] = []

    async def fresh(self, name: str) -> str:
        import asyncpg

        admin = self.url.rsplit("/", 1)[0] + "/postgres"
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
            self.postmaster = self.postmaster or _stat(await conn.fetchval("SELECT pg_backend_pid()"))[0]
        finally:
            await conn.close()
        self.made.append(name)
        return self.url.rsplit("/", 1)[0] + "/" + name

    async def drop_all(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url.rsplit("/", 1)[0] + "/postgres")
        try:
            for name in self.made:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    def log_size(self) -> int:
        try:
            return os.path.getsize(self.log_path) if self.log_path else 0
        except OSError:
            return 0

    def failures_since(self, offset: int) -> Counter:
        """Serialization failures and deadlocks the server logged after ``offset``."""
        found: Counter = Counter()
        if not self.log_path:
            return found
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            for line in log:
                if b"could not serialize access" in line:
                    found["serialization"] += 1
                elif b"deadlock detected" in line:
                    found["deadlock"] += 1
        return found

    async def committed(self, url: str) -> tuple[int, int]:
        """(xact_commit, xact_rollback) of the database at ``url``."""
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            row = await conn.fetchrow("SELECT xact_commit, xact_rollback FROM pg_stat_database"
                                      " WHERE datname = current_database()")
        finally:
            await conn.close()
        return int(row[0]), int(row[1])


def start_pg() -> Server:
    env = {**os.environ, "PG_LOCAL_PORT": str(PG_PORT)}
    url = subprocess.run(["bash", str(ROOT / "scripts" / "pg_local.sh"), "start"], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    return Server(url, f"/tmp/qatysu-pg-{PG_PORT}/server.log")


# ---------------------------------------------------------------------------- workers and webhooks
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_flags() -> list[str]:
    """``--webhook`` when this checkout's ``qatysu run`` has it (a worker that never polls)."""
    help_text = subprocess.run([sys.executable, "-m", "bot", "run", "--help"], cwd=str(ROOT), capture_output=True,
                               text=True).stdout
    return ["--webhook"] if "--webhook" in help_text else []


class Worker:
    """One ``qatysu run`` process taking Telegram's webhook on a port of its own."""

    def __init__(self, index: int, db: str, api: str, workdir: str, flags: list[str], profile: str | None) -> None:
        self.index = index
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram/webhook"
        self.log_path = os.path.join(workdir, f"worker{index + 1}.log")
        self.env = {**os.environ, "QATYSU_DB": db, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": api,
                    "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{self.port}", "TELEGRAM_WEBHOOK_SECRET": SECRET,
                    "QATYSU_HTTP_PORT": str(self.port), "QATYSU_HTTP_HOST": "127.0.0.1"}
        self.cmd = [sys.executable, "-m", "bot", "run", *flags]
        if profile == "cprofile":
            self.prof = os.path.join(workdir, f"worker{index + 1}.prof")
            self.cmd = [sys.executable, "-m", "cProfile", "-o", self.prof, "-m", "bot", "run", *flags]
        self.proc: subprocess.Popen | None = None

    async def start(self, timeout: float = 60) -> None:
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=str(ROOT), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while "is running" not in Path(self.log_path).read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.index + 1} did not start; its log {self.log_path}:\n"
                                   + Path(self.log_path).read_text()[-3000:])
            await asyncio.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    async def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        for _ in range(200):
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        else:
            self.proc.kill()
        self._log.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()


class Webhooks:
    """Telegram's side of the webhook: every update the fake queues is POSTed to a worker, at most
    ``in_flight`` awaiting their answers, in the order queued; ``spread`` sends them round-robin to
    every worker, else all to the first. A non-2xx answer or a failed POST: delivered again."""

    def __init__(self, tg, urls: list[str], in_flight: int) -> None:
        self.tg = tg
        self.urls = urls
        self.spread = False
        self.slots = asyncio.Semaphore(in_flight)
        self.next = 0
        self.posted = 0
        self.refused: Counter = Counter()
        self.tasks: set[asyncio.Task] = set()
        self.runner: asyncio.Task | None = None
        self.session = None

    async def start(self) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.runner = asyncio.create_task(self._run())

    async def _run(self) -> None:
        tg = self.tg
        queue = tg._queue  # noqa: SLF001  (the fake's pending updates, as Telegram holds them)
        while True:
            if not queue:
                wake = asyncio.get_running_loop().create_future()
                tg._poll_waiters.add(wake)  # noqa: SLF001  (woken by every update the fake queues)
                try:
                    await wake
                finally:
                    tg._poll_waiters.discard(wake)  # noqa: SLF001
                continue
            update = queue.popleft()
            await self.slots.acquire()
            url = self.urls[self.next % len(self.urls)] if self.spread else self.urls[0]
            self.next += 1
            task = asyncio.create_task(self._post(update, url))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _post(self, update: dict, url: str) -> None:
        import aiohttp

        try:
            async with self.session.post(url, data=json.dumps(update), headers={
                    "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
                    timeout=aiohttp.ClientTimeout(total=60)) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            status = type(exc).__name__
        finally:
            self.slots.release()
        self.posted += 1
        if not (isinstance(status, int) and 200 <= status < 300):
            self.refused[str(status)] += 1
            await asyncio.sleep(0.5)
            self.tg._queue.append(update)  # noqa: SLF001  (Telegram delivers it again)
            self.tg._wake_pollers("update")  # noqa: SLF001

    async def close(self) -> None:
        if self.runner is not None:
            self.runner.cancel()
            await asyncio.gather(self.runner, *self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()


# ---------------------------------------------------------------------------- one configuration
async def run_config(name: str, n: int, args, server: Server | None, workdir: str, flags: list[str]) -> dict:
    from tests.fakes import FakeTelegram

    store, n_workers = CONFIGS[name]
    ballot = BALLOTS["dots"](n, args.seed)
    if store == "sqlite":
        db = os.path.join(workdir, f"{name}-{n}.db")
    else:
        db = await server.fresh(f"qatysu_bench_{name}_{n}")
    workers: list[Worker] = []
    result: dict = {"name": name, "members": n, "workers": n_workers, "store": store}
    spy: list[subprocess.Popen] = []
    async with FakeTelegram(token=TOKEN, bot_username=BOT_USERNAME) as tg:
        hooks = None
        try:
            for i in range(n_workers):
                worker = Worker(i, db, tg.base_url, workdir, flags, args.profile)
                workers.append(worker)
                await worker.start()  # one after the other: the first migrates the database
            hooks = Webhooks(tg, [w.url for w in workers], args.in_flight)
            await hooks.start()
            t_setup = time.perf_counter()
            aigerim, group = await set_up_village(tg)
            from bot.storage.stores import database

            store_db = await database(db).open()
            try:
                t_seed = time.perf_counter()
                await seed_members(store_db, n)
                seeded = time.perf_counter() - t_seed
            finally:
                await store_db.close()
            users = [tg.user(tg_id, member, locale) for tg_id, member, locale in map(member_row, range(n))]
            await ballot.open(tg, aigerim, group, users)
            await asyncio.sleep(1.0)  # the worker's own start-up work settles
            print(f"  {name}, {n:,} members: set-up {time.perf_counter() - t_setup:.1f} s "
                  f"(members inserted in {seeded:.2f} s)", flush=True)

            if args.profile == "pyspy":
                spy = [subprocess.Popen(["py-spy", "record", "--pid", str(w.pid), "--rate", "250", "--format", "raw",
                                         "--nonblocking", "-o", os.path.join(workdir, f"{name}-w{w.index + 1}.pyspy.txt")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for w in workers]
                await asyncio.sleep(1.0)
            hooks.spread = True
            n_updates = ballot.per_member * n
            answers_before = len(tg.callback_answers)
            mark = tg.mark()
            pg_roots = [server.postmaster] if store == "postgresql" else []
            log_at = server.log_size() if server and store == "postgresql" else 0
            xact0 = await server.committed(db) if store == "postgresql" else (0, 0)
            w_track, pg_track = Tracker([w.pid for w in workers]), Tracker(pg_roots)
            w0, pg0 = w_track.sample(), pg_track.sample()
            tracking = asyncio.gather(w_track.run(), pg_track.run())
            fake0, all0 = ran(), machine_busy_seconds()
            t_first = time.monotonic()
            queued = await queue_all(tg, ballot.presses, 0)
            deadline = t_first + args.timeout
            while len(tg.callback_answers) - answers_before < n_updates and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            w1, pg1 = w_track.sample(), pg_track.sample()
            fake1, all1 = ran(), machine_busy_seconds()
            load = loadavg()
            # Settled: no edit of the group message for the edit interval and more (the last
            # coalesced edit with the final counts has gone out).
            settle_deadline = time.monotonic() + 30
            while time.monotonic() < settle_deadline:
                edits = [c for c in tg.calls("editMessageText", since=mark)]
                last = edits[-1].time if edits else t_first
                if time.monotonic() - last > 4.0:
                    break
                await asyncio.sleep(0.1)
            w2, pg2 = w_track.sample(), pg_track.sample()
            tracking.cancel()
            await asyncio.gather(tracking, return_exceptions=True)
            for p in spy:
                p.send_signal(signal.SIGINT)
            for p in spy:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
            xact1 = await server.committed(db) if store == "postgresql" else (0, 0)
            failures = server.failures_since(log_at) if server and store == "postgresql" else Counter()

            calls = tg.calls(since=mark)
            answered_at: dict[str, float] = {}
            per_callback: Counter = Counter()
            for call in calls:
                if call.method.lower() == "answercallbackquery":
                    cb = call.params.get("callback_query_id")
                    per_callback[cb] += 1
                    if call.ok:
                        answered_at.setdefault(cb, call.time)
            latencies = sorted(answered_at[cb] - t for cb, t, _ in queued if cb in answered_at)
            wall = (max(answered_at.values()) if answered_at else time.monotonic()) - t_first
            failed = [c for c in calls if not c.ok]

            def backend(pid: int) -> bool:
                return db.rsplit("/", 1)[-1] + " " in pg_track.names.get(pid, "")

            mine = {
                "updates": n_updates, "answered": len(latencies), "double_answers":
                    sum(1 for v in per_callback.values() if v > 1),
                "n_failed": len(failed), "failed": [str(c) for c in failed[:5]], "queued": queued,
            }
            result.update(
                updates=n_updates, answered=len(latencies), wall=wall,
                rate=len(latencies) / wall if wall > 0 else float("nan"),
                p50=percentile(latencies, 50), p95=percentile(latencies, 95), p99=percentile(latencies, 99),
                max=latencies[-1] if latencies else float("nan"),
                worker_cpu=grown(w0, w1), worker_cpu_settled=grown(w0, w2),
                worker_each=[grown(w0, w2, lambda pid, w=w: pid in tree_cpu([w.pid])) for w in workers],
                pg_backends=grown(pg0, pg1, backend), pg_server=grown(pg0, pg1),
                pg_server_settled=grown(pg0, pg2),
                fake_cpu=fake1 - fake0,
                other_cpu=max(0.0, (all1 - all0) - grown(w0, w1) - grown(pg0, pg1) - (fake1 - fake0)),
                loadavg=load, commits=xact1[0] - xact0[0], rollbacks=xact1[1] - xact0[1],
                serialization=failures["serialization"], deadlocks=failures["deadlock"],
                refused=dict(hooks.refused), edits=sum(1 for c in calls if c.method == "editMessageText"),
            )
            checks = await ballot.check(tg, db, users, mine)
            checks.append((not hooks.refused, "every webhook POST answered 2xx the first time",
                           f"refused {dict(hooks.refused)}" if hooks.refused else f"{hooks.posted:,} POSTs"))
            result["checks"] = checks
        finally:
            if hooks is not None:
                await hooks.close()
            await asyncio.gather(*(w.stop() for w in workers))
            for w in workers:
                w.kill()
    return result


# ---------------------------------------------------------------------------- the report
def us(seconds: float, updates: int) -> str:
    return f"{seconds / max(1, updates) * 1e6:,.0f}"


def summary(results: list[dict], args, commit: str) -> list[str]:
    lines = [f"workers_burst.py at {commit}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}; "
             f"dots ballot, 5 taps a member, all queued at once, webhooks round-robin, {args.in_flight} in flight"]
    lines.append("| members | config | updates/s | tap → answer p50 / p95 / p99 | CPU/update: workers | PostgreSQL "
                 "backends (server) | transactions/update | serialization failures, deadlocks | fake's CPU, others' | "
                 "load (1/5/15 min) | checks |")
    lines.append("|---:|---|---:|---|---:|---:|---:|---|---|---|---|")
    for r in results:
        pg = r["store"] == "postgresql"
        lines.append(
            f"| {r['members']:,} | {r['name']} | {r['rate']:,.0f} | {fmt_ms(r['p50'])} / {fmt_ms(r['p95'])} / "
            f"{fmt_ms(r['p99'])} | {us(r['worker_cpu'], r['answered'])} µs | "
            + (f"{us(r['pg_backends'], r['answered'])} ({us(r['pg_server'], r['answered'])}) µs" if pg else "—")
            + f" | {r['commits'] / max(1, r['answered']):.2f}" * pg + " | —" * (not pg)
            + (f" | {r['serialization']}, {r['deadlocks']}" if pg else " | —")
            + f" | {r['fake_cpu']:.1f} s, {r['other_cpu']:.1f} s | {r['loadavg']} | "
            + ("all PASS" if all(ok for ok, _, _ in r["checks"]) else
               "FAIL: " + "; ".join(name for ok, name, _ in r["checks"] if not ok)) + " |")
    for n in sorted({r["members"] for r in results}):
        by = {r["name"]: r for r in results if r["members"] == n}
        said = []
        if "sqlite1" in by and "pg1" in by:
            ratio = by["pg1"]["rate"] / by["sqlite1"]["rate"]
            said.append(f"PG1/SQLite1 {ratio:.2f} (goal ≥ {GOAL_PG1}: {'met' if ratio >= GOAL_PG1 else 'NOT met'})")
        if "pg1" in by and "pg2" in by:
            ratio = by["pg2"]["rate"] / by["pg1"]["rate"]
            said.append(f"PG2/PG1 {ratio:.2f} (goal > 1: {'met' if ratio > 1 else 'NOT met'})")
        if said:
            lines.append(f"{n:,} members: " + "; ".join(said))
        for name in ("pg1", "pg2"):
            if name in by:
                r = by[name]
                w = r["worker_cpu"] / max(1, r["answered"])
                d = r["pg_server"] / max(1, r["answered"])
                lines.append(
                    f"{n:,} members, projection from {name}'s CPU per update (worker {w * 1e6:,.0f} µs + PostgreSQL "
                    f"{d * 1e6:,.0f} µs): N workers and the database on N cores ≈ N × {1 / (w + d):,.0f} updates/s; "
                    f"with the database on its own machine, N worker cores ≈ N × {1 / w:,.0f}/s, the database "
                    f"then needs N × {d / w:.2f} cores")
        if "sqlite1" in by:
            r = by["sqlite1"]
            w = r["worker_cpu"] / max(1, r["answered"])
            lines.append(f"{n:,} members, SQLite: one process, at most one core: ≈ {1 / w:,.0f} updates/s "
                         f"({w * 1e6:,.0f} µs a tap), whatever N")
    return lines


def summarise_pyspy(workdir: str, top: int = 25) -> None:
    for path in sorted(Path(workdir).glob("*.pyspy.txt")):
        inclusive: Counter = Counter()
        leaf: Counter = Counter()
        total = idle = 0
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            c = int(count)
            frames = stack.split(";")
            total += c
            if "select (selectors.py" in frames[-1] or "EpollSelector.select" in frames[-1]:
                idle += c
            seen = set()
            for f in frames:
                name = short_frame(f)
                if name not in seen:
                    inclusive[name] += c
                    seen.add(name)
            leaf[short_frame(frames[-1])] += c
        print(f"\npy-spy {path.name}: {total:,} samples (busy: py-spy records only active samples)")
        for name, c in inclusive.most_common(top):
            print(f"  {c / max(1, total):6.1%}  {name}")
        print("  self:")
        for name, c in leaf.most_common(15):
            print(f"  {c / max(1, total):6.1%}  {name}")


async def driver(args) -> int:
    workdir = tempfile.mkdtemp(prefix="qatysu-workers-burst-")
    print(f"machine: {machine()}; load average {loadavg()}")
    print(f"work dir: {workdir}")
    server = None
    if any(CONFIGS[c][0] == "postgresql" for c in args.configs):
        server = Server(args.pg, None) if args.pg else start_pg()
        print(f"PostgreSQL: {server.url.rsplit('@', 1)[-1]}")
    flags = _run_flags()
    print(f"workers: python -m bot run {' '.join(flags)} (TELEGRAM_WEBHOOK_URL set: by webhook)")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=str(ROOT), capture_output=True,
                            text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=str(ROOT),
                           capture_output=True, text=True).stdout.strip()
    commit += "+changes" if dirty else ""
    results = []
    try:
        for n in args.members:
            for name in args.configs:
                results.append(await run_config(name, n, args, server, workdir, flags))
                r = results[-1]
                print(f"    {r['rate']:,.0f} updates/s, p99 {fmt_ms(r['p99'])}, workers "
                      f"{us(r['worker_cpu'], r['answered'])} µs/update"
                      + (f", PostgreSQL {us(r['pg_server'], r['answered'])} µs/update, "
                         f"{r['serialization']} serialization failures" if r["store"] == "postgresql" else "")
                      + f", load {r['loadavg']}", flush=True)
                for ok, name_, detail in r["checks"]:
                    if not ok:
                        print(f"    {verdict(ok)}  {name_}: {detail}")
    finally:
        if server is not None and not args.keep:
            await server.drop_all()
    print()
    for r in results:
        print(f"{r['name']}, {r['members']:,} members: {r['answered']:,}/{r['updates']:,} answered in {r['wall']:.2f} s; "
              f"worker CPU {r['worker_cpu']:.1f} s during the burst ({r['worker_cpu'] / r['wall']:.0%} of a core), "
              f"{r['worker_cpu_settled']:.1f} s until settled; each worker "
              + ", ".join(f"{c:.1f} s" for c in r["worker_each"])
              + (f"; PostgreSQL backends {r['pg_backends']:.1f} s, server {r['pg_server']:.1f} s "
                 f"({r['pg_server_settled']:.1f} s until settled), {r['commits']:,} commits, {r['rollbacks']:,} "
                 f"rollbacks" if r["store"] == "postgresql" else "")
              + f"; group edits {r['edits']}; p50/p95/p99/max {fmt_ms(r['p50'])} / {fmt_ms(r['p95'])} / "
                f"{fmt_ms(r['p99'])} / {fmt_ms(r['max'])}")
        for ok, name, detail in r["checks"]:
            print(f"  {verdict(ok)}  {name}: {detail}")
    if args.profile == "pyspy":
        summarise_pyspy(workdir)
    elif args.profile == "cprofile":
        print(f"\ncProfile dumps: {workdir}/worker*.prof (python -m pstats FILE); the last configuration's")
    print("\n--- summary (paste into bench/README.md) ---")
    for line in summary(results, args, commit):
        print(line)
    if not args.keep and not args.profile:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(ok for r in results for ok, _, _ in r["checks"]) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, nargs="+", default=[1000],
                        help="members tapping, one run per number (default 1000; try 1000 10000)")
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["sqlite1", "pg1", "pg2"],
                        help="which stores and worker counts, in this order (default: sqlite1 pg1 pg2)")
    parser.add_argument("--in-flight", type=int, default=40,
                        help="webhook POSTs awaiting their answer at once (Telegram's max_connections, default 40)")
    parser.add_argument("--pg", help="a PostgreSQL server URL the bench may create databases on "
                                     f"(default: its own, PG_LOCAL_PORT={PG_PORT} scripts/pg_local.sh start)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up on a burst after this many seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", choices=["pyspy", "cprofile"],
                        help="py-spy each worker during the burst, or run the workers under cProfile")
    parser.add_argument("--keep", action="store_true", help="keep the work dir and the PostgreSQL databases")
    args = parser.parse_args(argv)
    return asyncio.run(driver(args))


if __name__ == "__main__":
    sys.exit(main())
