"""The outbox's own cost: N queued messages over M chats drained through ``OutboxWorker`` to a
channel that answers at once (no rate limit, no network), so what is measured is the outbox:
its claims, its records, the pacer's bookkeeping.

    python bench/outbox_drain.py                                # SQLite, 5,000 messages over 500 chats
    python bench/outbox_drain.py --pg postgresql://…            # and PostgreSQL with 1 and 2 workers
    python bench/outbox_drain.py --code /tmp/main               # the same, on another checkout's code

SQLite: one worker in this process. PostgreSQL: each worker is a process of its own (this script
with ``--worker``), started together on one database; each reports its own CPU. Printed per run:
wall time, messages/s, the workers' CPU per message (µs), whether every message was sent once
and each chat's in order, the load average, and the CPU other processes used meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _use(code: str | None) -> None:
    sys.path.insert(0, str(Path(code).resolve()) if code else str(ROOT))


class Channel:
    """Answers at once; remembers what each chat got, in order."""

    rate = 1e6

    def __init__(self) -> None:
        self.got: dict[str, list[int]] = defaultdict(list)
        self.count = 0

    def min_interval(self, chat_id: str) -> float:
        return 0.0

    async def send(self, message, image) -> str:
        self.got[message.chat_id].append(int(message.text.rsplit("#", 1)[1]))
        self.count += 1
        return str(self.count)


def messages(n: int, chats: int):
    from bot.messages import Message

    return [Message("telegram", f"c{i % chats}", f"message #{i // chats}") for i in range(n)]


async def fill(db, n: int, chats: int) -> None:
    from bot.storage import outbox

    batch = messages(n, chats)
    now = datetime.now(timezone.utc).isoformat()
    for i in range(0, n, 1000):
        await db.atomic(lambda tx, part=batch[i:i + 1000]: outbox.add(tx, part, now))


async def drain_all(worker, db) -> None:
    from bot.storage import outbox

    while True:
        await worker.drain()
        if await db.atomic(outbox.size) == 0:
            return
        await asyncio.sleep(0.005)  # the rest is leased by another worker


def check(got: dict[str, list[int]], n: int, chats: int) -> bool:
    per_chat = [len(range(c, n, chats)) for c in range(chats)]
    return all(got.get(f"c{c}", []) == list(range(per_chat[c])) for c in range(chats))


async def sqlite_run(n: int, chats: int) -> dict:
    from bot.delivery import Delivery
    from bot.outbox import OutboxWorker
    from bot.storage.db import Database

    with tempfile.TemporaryDirectory() as tmp:
        async with Database(f"{tmp}/outbox.db") as db:
            await fill(db, n, chats)
            channel = Channel()
            worker = OutboxWorker(Delivery(db, {"telegram": channel}))
            cpu, wall = time.process_time(), time.perf_counter()
            await drain_all(worker, db)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"wall": wall, "cpu": [cpu], "ok": check(channel.got, n, chats) and channel.count == n}


async def worker_process(url: str) -> None:
    """One PostgreSQL worker: drains until the outbox is empty, then prints its CPU and what it sent."""
    from bot.delivery import Delivery
    from bot.outbox import OutboxWorker
    from bot.storage.pg import PgDatabase

    db = await PgDatabase(url).open()
    channel = Channel()
    worker = OutboxWorker(Delivery(db, {"telegram": channel}))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()  # go
    cpu = time.process_time()
    await drain_all(worker, db)
    cpu = time.process_time() - cpu
    await db.close()
    print(json.dumps({"cpu": cpu, "got": channel.got}))


async def pg_run(url: str, n: int, chats: int, workers: int, code: str | None) -> dict:
    import asyncpg

    from bot.storage.pg import PgDatabase

    admin = await asyncpg.connect(url)
    name = f"qatysu_bench_outbox_{os.getpid()}"
    target = url.rsplit("/", 1)[0] + "/" + name
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        db = await PgDatabase(target).open()
        await fill(db, n, chats)
        await db.close()
        env = {**os.environ, "PYTHONPATH": str(Path(code).resolve()) if code else str(ROOT)}
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", target], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=env) for _ in range(workers)]
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        wall = time.perf_counter()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        reports = [json.loads(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in procs]
        wall = time.perf_counter() - wall
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    got: dict[str, list[int]] = defaultdict(list)
    sent = 0
    for report in reports:
        for chat, numbers in report["got"].items():
            got[chat].extend(numbers)
            sent += len(numbers)
    ordered = all(numbers == sorted(numbers) for r in reports for numbers in r["got"].values())  # each worker's
    every = check({c: sorted(v) for c, v in got.items()}, n, chats) and sent == n
    return {"wall": wall, "cpu": [r["cpu"] for r in reports], "ok": every and ordered,
            "shares": [sum(len(v) for v in r["got"].values()) for r in reports]}


def busy() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields[:3] + fields[5:8]) / os.sysconf("SC_CLK_TCK")


def show(label: str, n: int, result: dict, other: float) -> None:
    cpu = sum(result["cpu"])
    shares = f", shares {result['shares']}" if "shares" in result else ""
    print(f"{label:<22} {result['wall']:6.2f} s  {n / result['wall']:8.0f} msg/s  "
          f"worker CPU {cpu / n * 1e6:6.0f} µs/msg{shares}  once & in order: {'PASS' if result['ok'] else 'FAIL'}"
          f"  (other processes {other:.1f} CPU-s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--pg", help="a PostgreSQL server (a database is made on it for the run)")
    parser.add_argument("--code", help="run another checkout's bot/ (e.g. main's, for a before/after)")
    parser.add_argument("--workers", default="1,2", help="PostgreSQL's runs: how many workers in each")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)))
        asyncio.run(worker_process(args.worker))
        return 0
    _use(args.code)
    import bot

    print(f"code: {Path(bot.__file__).resolve().parent.parent}; load average {os.getloadavg()[0]:.2f} "
          f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; {os.cpu_count()} cores")
    print(f"{args.messages} messages over {args.chats} chats")
    ok = True
    runs = [("SQLite, 1 worker", lambda: sqlite_run(args.messages, args.chats))]
    if args.pg:
        runs += [(f"PostgreSQL, {w} worker{'s' if w > 1 else ''}",
                  lambda w=w: pg_run(args.pg, args.messages, args.chats, w, args.code))
                 for w in map(int, args.workers.split(","))]
    for _ in range(args.repeat):
        for label, run in runs:
            before, own = busy(), time.process_time()
            result = asyncio.run(run())
            other = busy() - before - (time.process_time() - own) - (sum(result["cpu"]) if "shares" in result else 0)
            show(label, args.messages, result, max(0.0, other))
            ok &= result["ok"]
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
