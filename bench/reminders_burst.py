"""Step 6 under load: a weekly digest and 10,000 check-in prompts due the same minute, drained
through the outbox against a fake Bot API that enforces Telegram's limits, while a vote burst runs
in the group.

    python bench/reminders_burst.py                       # 10,000 prompts (~6 min at 30/s)
    python bench/reminders_burst.py --prompts 2000        # a quick run (~75 s)
    python bench/reminders_burst.py --taps 3000 --tap-rate 300
    python bench/reminders_burst.py --prompts 2000 --profile holds   # what holds the bot's event loop
    python bench/reminders_burst.py --prompts 2000 --profile pyspy   # sample the bot with py-spy

What runs: the bot in a child process, the way ``qatysu run`` runs it (``TelegramApp`` with the
production limits: 30/s overall, 1/s per chat, 3 s per group; edit coalescing 3 s; the scheduler
sweeping every second), on a SQLite file in a temporary directory, logging at INFO to a file. The
fake Bot API (``tests/fakes/telegram.py``) stays in this (the driver) process on 127.0.0.1,
enforcing Telegram's limits (429 + ``retry_after`` beyond them, edits counted), so the fake does
not share the bot's event loop and the bot's CPU is its own (as in ``vote_burst.py``).

Set-up (not measured): ``vote_burst.py``'s village (facilitator, community, linked group, 5
problems), problem 1 chosen; N members seeded with ``vote_burst.seed_members``, each owning one
open task of the plan and seen in the group (so no "a vote is open" in private); the community's
quiet hours moved 12 hours away from now (the default 22:00–08:00 would hold every prompt when
the bench runs at night in Almaty); the facilitator opens ``/poll dots`` in the group; a restart
plans each task's weekly check-in prompt and the community's digest. Then every prompt and the
digest are made due now (the same minute) and the scheduler sweeps.

The burst: ``--taps`` members (default 2,000) each tap one sticker on the group's ballot, queued
at ``--tap-rate`` a second (``_ballots.queue_all``), starting 5 s into the drain. Each tap is
answered with a toast (``answerCallbackQuery``, not counted by Telegram's limits) and redraws the
group's counts (an edit, which is: it takes its slot from the same pacer as the outbox, first).

Measured: the drain rate (every limited call, sends and edits, from due to the last prompt
delivered) against the configured 30/s; the pacer's own accounting of slots that went unused
beyond its catch-up window (``Pacer.missed``: the sender came late); 429 answers; each prompt and
the digest delivered exactly once; the taps' answer latency from queued to answered (p50/p95/p99)
while the drain runs; CPU seconds of the bot, the fake, and every other process on the machine.
Goals: ≥ 0.9 of the configured rate, zero 429s, each once, p99 answer latency < 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench._ballots import Press, button_data, queue_all, say  # noqa: E402
from bench._common import (ROOT, TOKEN, cpu_seconds, loadavg, machine, machine_busy_seconds,  # noqa: E402
                           percentile, rss_mb, verdict)
from bench.vote_burst import FIRST_USER, GROUP_ID, PROBLEMS, member_row, seed_members  # noqa: E402

RATE = 30.0
PROMPT = "🔔"
HOLD = 0.02  # seconds: a turn of the event loop longer than this is recorded by --profile holds


# ============================================================================ the bot side (child)
def watch_holds(holds: Counter, seconds: Counter) -> None:
    """Time every callback the event loop runs; one longer than ``HOLD`` is counted under the
    coroutine (or callback) that ran, so the tail of the answer latency has names."""
    from asyncio import events

    run = events.Handle._run
    clock = time.perf_counter

    def name(handle) -> str:
        callback = handle._callback
        task = getattr(callback, "__self__", None)
        coro = getattr(task, "get_coro", None)
        if coro is not None:
            return getattr(coro(), "__qualname__", repr(coro()))
        return getattr(callback, "__qualname__", repr(callback))[:80]

    def timed(handle):
        t0 = clock()
        try:
            return run(handle)
        finally:
            spent = clock() - t0
            if spent > HOLD:
                key = name(handle)
                holds[key] += 1
                seconds[key] += spent

    events.Handle._run = timed


async def child_main(args: argparse.Namespace) -> None:
    """Run the bot; obey JSON lines on stdin."""
    import logging

    from bot.app import TelegramApp
    from bot.config import Config
    from bot.storage import problems, reminders

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    holds: Counter[str] = Counter()
    held: Counter[str] = Counter()
    if args.profile == "holds":
        watch_holds(holds, held)
    config = Config(db_path=args.db, telegram_token=TOKEN, telegram_api_base=args.api)

    def new_app() -> TelegramApp:
        return TelegramApp(config, rng=random.Random(7), sweep_interval=1.0)

    def reply(**payload) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    app = new_app()
    await app.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    reply(ready=True, pid=os.getpid())
    profiler = None
    sweep: asyncio.Task | None = None
    while True:
        line = await reader.readline()
        if not line:
            await app.stop()
            return
        cmd = json.loads(line)
        if cmd["cmd"] == "seed":
            n = cmd["n"]
            await seed_members(app.db, n)
            now = datetime.now(timezone.utc)
            local = now.astimezone(ZoneInfo(config.tz))
            quiet = (f"{(local.hour + 12) % 24:02d}:00", f"{(local.hour + 13) % 24:02d}:00")
            async with app.db.transaction() as tx:
                rows = await tx.all("SELECT i.member_id FROM identities i WHERE i.channel = 'telegram'"
                                    " AND CAST(i.external_id AS INTEGER) >= ?", (FIRST_USER,))
                problem = (await problems.chosen(tx, 1)).id
                await tx.executemany(
                    "INSERT INTO tasks (community_id, problem_id, number, title, norm, owner_id, created_at)"
                    " VALUES (1, ?, ?, ?, ?, ?, ?)",
                    [(problem, k + 1, f"Міндет {k + 1}", f"міндет {k + 1}", member_id,
                      now.isoformat(timespec="seconds"))
                     for k, member_id in enumerate(sorted(r[0] for r in rows))])
                # seen in the group: the ballot's "a vote is open" goes to no one in private
                await tx.executemany("INSERT INTO group_presence VALUES (1, ?)", [(r[0],) for r in rows])
                await reminders.save_settings(tx, 1, reminders.Settings(quiet_from=quiet[0], quiet_to=quiet[1]))
            reply(seeded=n, quiet=quiet)
        elif cmd["cmd"] == "restart":  # plans every task's weekly prompt and the digest
            await app.stop()
            app = new_app()
            await app.start()
            async with app.db.transaction() as tx:
                planned = await tx.scalar("SELECT COUNT(*) FROM reminders WHERE kind = 'checkin'")
            reply(planned=planned, rss_mb=rss_mb())
        elif cmd["cmd"] == "due":  # every prompt and the digest due now; the scheduler sweeps
            async with app.db.transaction() as tx:
                await tx.execute("UPDATE reminders SET due_at = ? WHERE kind IN ('checkin', 'digest')",
                                 (datetime.now(timezone.utc).isoformat(timespec="seconds"),))
            holds.clear()
            held.clear()
            if args.profile == "cprofile":
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            pacer = app.delivery.pacer("telegram")
            missed0, taken0 = pacer.missed, pacer.taken
            sweep = asyncio.create_task(app.scheduler.sweep())
            reply(ok=True)
        elif cmd["cmd"] == "done":  # the drain is over: what the bot counted
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(cmd["path"])
            await app.delivery.flush()
            if sweep is not None:
                await sweep
            reply(retried=app.outbox.retried, missed=pacer.missed - missed0, taken=pacer.taken - taken0,
                  holds=[(k, holds[k], held[k]) for k, _ in held.most_common(15)], rss_mb=rss_mb())
        elif cmd["cmd"] == "stop":
            await app.stop()
            reply(stopped=True)
            return


# ============================================================================ the driver side
class Child:
    """The bot process, spoken to with JSON lines."""

    def __init__(self, api: str, db: str, args: argparse.Namespace, workdir: str) -> None:
        self.log_path = os.path.join(workdir, "bot.log")
        self.cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--api", api, "--db", db,
                    "--profile", args.profile or "none"]
        self.proc: asyncio.subprocess.Process | None = None
        self.pid = 0

    async def start(self) -> None:
        self._log = open(self.log_path, "w")
        self.proc = await asyncio.create_subprocess_exec(*self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                         stderr=self._log, cwd=str(ROOT), limit=1 << 20)
        self.pid = (await self.read(60))["pid"]

    async def read(self, timeout: float) -> dict:
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"the bot process ended; see {self.log_path}:\n" + Path(self.log_path).read_text()[-3000:])
        return json.loads(line)

    async def ask(self, timeout: float = 300, **cmd) -> dict:
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()
        return await self.read(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


async def set_up_village(tg):
    """The facilitator onboards, creates the community, links the group, proposes the problems
    (as ``vote_burst.set_up_village``, through the e2e tests' steps)."""
    from tests.test_e2e_telegram import new_community, onboard

    aigerim = tg.user(1, "Айгерим", "kk")
    await onboard(tg, aigerim, "қазақша")
    code = await new_community(tg, aigerim)
    group = tg.group(GROUP_ID, "Көктерек", with_bot=True)
    await say(tg, aigerim, f"/link {code}", group)
    for text in PROBLEMS:
        await say(tg, aigerim, f"/propose {text}")
    return aigerim, group


def waited(pid: int) -> float:
    """Seconds the process's threads have been ready to run but waiting for a core (the kernel's
    run-queue wait, /proc/PID/task/*/schedstat): how much the machine's other work held it back."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def others_cpu(pids: set[int]) -> dict[str, float]:
    """CPU seconds so far of every other process on the machine, by command name."""
    out: dict[str, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in pids:
            continue
        try:
            name = Path(f"/proc/{entry}/comm").read_text().strip()
            out[f"{entry}:{name}"] = cpu_seconds(entry)
        except (OSError, ValueError, IndexError):
            continue
    return out


async def run(args: argparse.Namespace) -> bool:
    from tests.fakes import FakeTelegram
    from tests.fakes.telegram import EDIT_METHODS, SEND_METHODS

    n = args.prompts
    workdir = tempfile.mkdtemp(prefix="qatysu-reminders-burst-")
    print(f"machine: {machine()}; load average {loadavg()} at the start; work dir {workdir}", flush=True)
    child = None
    spy = None
    try:
        async with FakeTelegram(token=TOKEN, bot_username="qatysu_bench_bot") as tg:
            child = Child(tg.base_url, os.path.join(workdir, "reminders.db"), args, workdir)
            await child.start()
            aigerim, group = await set_up_village(tg)
            await say(tg, aigerim, "/choose 1", group)
            await child.ask(cmd="seed", n=n)
            users = [tg.user(tg_id, name, locale, started=True) for tg_id, name, locale in map(member_row, range(n))]
            ballot = await say(tg, aigerim, "/poll dots 3", group)
            planned = (await child.ask(cmd="restart"))["planned"]
            tg.enforce_limits(per_chat_per_sec=1, group_per_min=20, global_per_sec=int(RATE))
            await asyncio.sleep(3.5)  # the group's last post (the ballot) is 3 s behind: a clean start
            mark = tg.mark()
            if args.profile == "pyspy":
                out = os.path.join(workdir, "bot.pyspy.txt")
                spy = (subprocess.Popen([args.pyspy, "record", "--pid", str(child.pid), "--rate", "200", "--format",
                                         "raw", "--nonblocking", "-o", out],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out)
            mine = {os.getpid(), child.pid} | ({spy[0].pid} if spy else set())
            others0 = others_cpu(mine)
            bot_cpu0, fake_cpu0, all_cpu0 = cpu_seconds(child.pid), cpu_seconds(), machine_busy_seconds()
            bot_wait0 = waited(child.pid)
            started = time.monotonic()
            await child.ask(cmd="due")

            await asyncio.sleep(5.0)
            taps = min(args.taps, n)
            presses = [Press(i, users[i], ballot, button_data(ballot, 1 + i % 5), chat=group) for i in range(taps)]
            burst0 = cpu_seconds(child.pid), machine_busy_seconds(), time.monotonic(), waited(child.pid)
            queued = await queue_all(tg, presses, args.tap_rate)
            await asyncio.sleep(1.0)  # the last taps' answers
            burst = (cpu_seconds(child.pid) - burst0[0], machine_busy_seconds() - burst0[1], time.monotonic() - burst0[2],
                     waited(child.pid) - burst0[3])

            def prompted() -> int:
                return sum(1 for c in tg.calls(since=mark)
                           if c.ok and c.method == "sendMessage" and (c.params.get("text") or "").startswith(PROMPT))

            last_report = time.monotonic()
            while prompted() < planned or not any(c.ok and c.method == "sendPhoto" for c in tg.calls(since=mark)):
                if time.monotonic() - last_report > 15:
                    last_report = time.monotonic()
                    print(f"  … {prompted()} prompts sent, {tg.count_429} 429s; load average {loadavg()}", flush=True)
                if time.monotonic() - started > args.timeout:
                    print("timed out")
                    break
                await asyncio.sleep(0.5)
            calls = tg.calls(since=mark)
            limited = [c for c in calls if c.ok and c.method.lower() in SEND_METHODS | EDIT_METHODS]
            elapsed = max(c.time for c in limited) - started
            bot_cpu, fake_cpu = cpu_seconds(child.pid) - bot_cpu0, cpu_seconds() - fake_cpu0
            all_cpu = machine_busy_seconds() - all_cpu0
            bot_wait = waited(child.pid) - bot_wait0
            others1 = others_cpu(mine)
            load_end = loadavg()
            if spy:
                spy[0].send_signal(signal.SIGINT)
                spy[0].wait(30)
            counted = await child.ask(cmd="done", path=os.path.join(workdir, "bot.prof"))
            await asyncio.sleep(2.0)
            calls = tg.calls(since=mark)
            answered = {}
            for c in calls:
                if c.method.lower() == "answercallbackquery" and c.ok:
                    answered.setdefault(c.params.get("callback_query_id"), c.time)
            latencies = sorted(answered[q.callback_id] - q.at for q in queued if q.callback_id in answered)
            per_user: dict[int, int] = {}
            for c in calls:
                if c.ok and c.method == "sendMessage" and (c.params.get("text") or "").startswith(PROMPT):
                    per_user[c.params["chat_id"]] = per_user.get(c.params["chat_id"], 0) + 1
            digests = sum(1 for c in calls if c.ok and c.method == "sendPhoto" and c.params.get("chat_id") == group.id
                          and (c.params.get("caption") or "").startswith("📊"))
            edits = sum(1 for c in limited if c.method.lower() in EDIT_METHODS)
            await child.ask(cmd="stop")
            count_429 = tg.count_429
    finally:
        if child is not None:
            child.kill()
        if args.profile == "none":
            shutil.rmtree(workdir, ignore_errors=True)

    rate = len(limited) / elapsed
    once = len(per_user) == planned == n and all(v == 1 for v in per_user.values()) and digests == 1
    p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
    others = sorted(((others1[k] - others0.get(k, 0.0), k) for k in others1), reverse=True)
    print(f"load average {loadavg()} at the end of the drain: {load_end}")
    print(f"prompts planned and due the same minute: {planned}; digest to the group: {digests}; "
          f"configured rate {RATE:.0f}/s")
    print(f"drained in {elapsed:.1f} s: {len(limited)} limited calls ({edits} of them live-count edits) = "
          f"{rate:.1f}/s = {rate / RATE:.2f} of the configured rate")
    print(f"the pacer: {counted['taken']} slots taken, {counted['missed']:.0f} missed (the sender came later than "
          f"its slot and {0.25:.2f} s of catch-up) = {counted['missed'] / RATE:.1f} s of sending lost")
    print(f"429 answers: {count_429}; retried sends: {counted['retried']}; bot RSS {counted['rss_mb']:.0f} MB")
    print(f"CPU over the {elapsed:.0f} s drain (2 cores = {2 * elapsed:.0f} s): the bot {bot_cpu:.1f} s, the fake "
          f"{fake_cpu:.1f} s, other processes {max(0.0, all_cpu - bot_cpu - fake_cpu):.1f} s (machine busy "
          f"{all_cpu / (2 * elapsed):.0%}); the bot ready to run but waiting for a core: {bot_wait:.1f} s")
    top = [f"{k.split(':', 1)[1]} {s:.1f} s" for s, k in others[:5] if s >= 0.5]
    print("  the busiest other processes: " + (", ".join(top) if top else "none above 0.5 s"))
    print(f"vote burst: {len(latencies)}/{taps} taps answered at {args.tap_rate:.0f}/s; answer latency "
          f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    print(f"  during the burst ({burst[2]:.1f} s): the bot's CPU {burst[0]:.1f} s, waiting for a core {burst[3]:.1f} s; "
          f"the machine busy {burst[1] / (2 * burst[2]):.0%} of 2 cores")
    by_second: dict[int, list[float]] = {}
    for q in queued:
        if q.callback_id in answered:
            by_second.setdefault(int(q.at - queued[0].at), []).append(answered[q.callback_id] - q.at)
    print("  slowest answer to the taps queued in each second of the burst (ms): "
          + " ".join(f"{max(v) * 1000:.0f}" for _, v in sorted(by_second.items())))
    if args.profile == "holds":
        print(f"turns of the bot's event loop longer than {HOLD * 1000:.0f} ms during the drain (count, total, mean):")
        for key, count, seconds in counted["holds"]:
            print(f"  {count:6d} {seconds:7.2f} s {seconds / count * 1000:6.0f} ms  {key}")
    elif args.profile == "cprofile":
        print(f"cProfile of the bot during the drain: {workdir}/bot.prof (python -m pstats)")
    elif spy:
        print(f"py-spy samples of the bot during the drain: {spy[1]}")
    ok_rate = rate >= 0.9 * RATE
    ok_latency = len(latencies) == taps and p99 < 0.2
    print(f"each once: {verdict(once)}; ≥ 0.9 of the rate: {verdict(ok_rate)}; no 429: {verdict(count_429 == 0)}; "
          f"p99 < 200 ms: {verdict(ok_latency)}")
    return once and ok_rate and count_429 == 0 and ok_latency


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=10_000)
    parser.add_argument("--taps", type=int, default=2_000)
    parser.add_argument("--tap-rate", type=float, default=200.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--profile", choices=("none", "holds", "cprofile", "pyspy"), default="none")
    parser.add_argument("--pyspy", default="py-spy", help="the py-spy executable (--profile pyspy)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child_main(args))
        return 0
    return 0 if asyncio.run(run(args)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
