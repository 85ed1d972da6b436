"""What a shared slot reservation costs per send on PostgreSQL (bot/storage/pace.py), beside the
in-memory pacer SQLite's one process uses.

    QATYSU_TEST_PG=postgresql://qatysu:qatysu@127.0.0.1:5433/qatysu python bench/pacing.py
    python bench/pacing.py --sends 5000 --pg postgresql://…   # a server to create a database on

Measured, each case in a process of its own (``--sends`` messages to distinct chats, one after
the other, as the outbox sends them; the channel's rate unlimited, so nothing waits for a slot
and what is timed is the pacing's own work):

* ``memory``: ``Pacer.take`` + ``done`` without ``shared`` (SQLite's, and each worker's local part);
* ``shared``: the same with ``shared`` (``pace_take``: one statement, one round trip);
* ``shared ×2``: two such processes at once on one channel (both queue on the channel's row).

Per send: wall µs (p50, p99), the process's CPU µs and PostgreSQL's (the CPU of the server
backend serving it, from /proc: pool of one connection). The load average is printed before and
after, and the CPU other processes used meanwhile: the machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid

from _common import ROOT, cpu_seconds, drop_database, loadavg, machine, machine_busy_seconds, new_database, percentile


async def child(url: str | None, sends: int, label: str) -> dict:
    from bot.pacing import Pacer
    from bot.storage.pace import SharedPace

    db = shared = backend = None
    if url is not None:
        from bot.storage.pg import PgDatabase

        db = await PgDatabase(url, pool_size=1).open()
        shared = SharedPace(db, "telegram")
        async with db.pool.acquire() as conn:
            backend = await conn.fetchval("SELECT pg_backend_pid()")
    pacer = Pacer(float("inf"), lambda chat: 1.0, shared=shared)
    for i in range(200):  # warm up: the function's plan, the connection
        await pacer.take(f"warm-{label}-{i}", urgent=False)
    took: list[float] = []
    cpu, pg_cpu = cpu_seconds(), cpu_seconds(backend) if backend else 0.0
    began = time.perf_counter()
    for i in range(sends):
        chat = f"{label}-{i}"
        asked = time.perf_counter()
        await pacer.take(chat, urgent=False)
        await pacer.done(chat)
        took.append(time.perf_counter() - asked)
    wall = time.perf_counter() - began
    cpu, pg_cpu = cpu_seconds() - cpu, (cpu_seconds(backend) - pg_cpu) if backend else 0.0
    if db is not None:
        await db.close()
    took.sort()
    return {"sends": sends, "wall": wall, "p50": percentile(took, 50), "p99": percentile(took, 99),
            "cpu": cpu, "pg_cpu": pg_cpu, "per_s": sends / wall}


def run(args: list[str], n: int = 1) -> list[dict]:
    """``n`` children at once; what each printed."""
    procs = [subprocess.Popen([sys.executable, __file__, "--child", f"w{k}", *args], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True) for k in range(n)]
    out = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("a child failed")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=3000)
    parser.add_argument("--pg", default=os.environ.get("QATYSU_TEST_PG", "").strip() or None)
    parser.add_argument("--child")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.url, args.sends, args.child))))
        return
    if not args.pg:
        raise SystemExit("no PostgreSQL server: give --pg URL or QATYSU_TEST_PG (scripts/pg_local.sh start)")
    print(machine())
    name = f"qatysu_bench_pace_{uuid.uuid4().hex[:8]}"
    url = asyncio.run(new_database(args.pg, name))
    try:
        async def migrate() -> None:
            from bot.storage.pg import PgDatabase

            async with PgDatabase(url):
                pass

        asyncio.run(migrate())
        print(f"load before: {loadavg()}; {args.sends} sends per process, the rate unlimited")
        print(f"{'case':<12} {'sends/s':>9} {'p50 µs':>8} {'p99 µs':>8} {'CPU µs/send':>12} {'PG CPU µs/send':>15}")
        busy = machine_busy_seconds()
        began = time.perf_counter()
        ours = 0.0
        for label, argv, n in (("memory", [], 1), ("shared", ["--url", url], 1), ("shared ×2", ["--url", url], 2)):
            for r in run(["--sends", str(args.sends), *argv], n):
                ours += r["cpu"] + r["pg_cpu"]
                print(f"{label:<12} {r['per_s']:>9,.0f} {r['p50'] * 1e6:>8.0f} {r['p99'] * 1e6:>8.0f} "
                      f"{r['cpu'] / r['sends'] * 1e6:>12.0f} {r['pg_cpu'] / r['sends'] * 1e6:>15.0f}")
        others = machine_busy_seconds() - busy - ours
        print(f"load after: {loadavg()}; other processes used ~{max(others, 0) / (time.perf_counter() - began):.2f}"
              " cores meanwhile (children's start-up included)")
    finally:
        asyncio.run(drop_database(args.pg, name))


if __name__ == "__main__":
    main()
