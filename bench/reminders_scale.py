"""Step 6 at scale: planning and sending the reminders of a big deployment, and the memory.

    python bench/reminders_scale.py                        # 100 communities × 30 tasks × 500 members
    python bench/reminders_scale.py --communities 20

Build (not measured): a database through ``bot.storage.db.Database`` (every migration applied)
with ``--communities`` communities of ``--members`` members and ``--tasks`` tasks each, every
task dated and with a responsible member.

Measured, in this process, each pass one transaction of the scheduler's jobs
(``bot.flows.reminders``):

* the first planning pass (at start: every task's due, overdue and check-in occurrence and each
  community's digest are written as rows), then a steady pass (nothing new: what runs once a
  minute);
* a sending pass of the first ``BATCH`` occurrences due (check-in prompts, a week later);
* RSS (VmRSS) after all that.

Goals: the first planning pass (the rebuild at start) < 1 s; a steady pass well under the 200 ms a
vote may wait; RSS < 200 MB. PASS/FAIL is printed for the row counts (3 a task, 1 a community).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import loadavg, machine, rss_mb, verdict  # noqa: E402
from bot.flows.engine import Engine  # noqa: E402
from bot.flows.reminders import BATCH, plan_task_reminders, send_reminders  # noqa: E402
from bot.storage.db import Database  # noqa: E402

NOW = datetime(2026, 3, 2, 5, 0, tzinfo=timezone.utc)


async def build(db: Database, communities: int, members: int, tasks: int) -> None:
    stamp = NOW.isoformat()
    async with db.transaction() as tx:
        await tx.executemany("INSERT INTO communities (id, name, place, tz, locale, join_code, created_at)"
                             " VALUES (?, 'V', 'P', 'Asia/Almaty', 'kk', ?, ?)",
                             [(c, f"C{c:05d}", stamp) for c in range(1, communities + 1)])
        await tx.executemany("INSERT INTO problems (id, community_id, number, text, norm, status, created_at)"
                             " VALUES (?, ?, 1, 'p', 'p', 'open', ?)", [(c, c, stamp) for c in range(1, communities + 1)])
        ids = range(1, communities * members + 1)
        await tx.executemany("INSERT INTO members (id, name, locale, consent_at, created_at) VALUES (?, 'M', 'kk', 'x',"
                             " 'x')", [(m,) for m in ids])
        await tx.executemany("INSERT INTO identities VALUES ('telegram', ?, ?, 'now')", [(str(m), m) for m in ids])
        await tx.executemany("INSERT INTO memberships (community_id, member_id, role, joined_at) VALUES (?, ?,"
                             " 'member', 'x')", [((m - 1) // members + 1, m) for m in ids])
        await tx.executemany(
            "INSERT INTO tasks (community_id, problem_id, number, title, norm, start_on, due_on, owner_id, created_at)"
            " VALUES (?, ?, ?, 'A task of the plan', ?, '2026-03-01', ?, ?, ?)",
            [(c, c, t, f"t{t}", f"2026-03-{10 + t % 15:02d}", (c - 1) * members + t, stamp)
             for c in range(1, communities + 1) for t in range(1, tasks + 1)])


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--communities", type=int, default=100)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=30)
    args = parser.parse_args()
    print(machine(), "| load", loadavg())
    folder = tempfile.mkdtemp()
    db = await Database(os.path.join(folder, "bench.db")).open()
    await build(db, args.communities, args.members, args.tasks)
    clock = [NOW]
    engine = Engine(db, clock=lambda: clock[0])
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        await engine.run_system(plan_task_reminders)
        timings.append(time.perf_counter() - started)
    rows = await db.scalar("SELECT COUNT(*) FROM reminders")
    clock[0] = NOW + timedelta(days=8)
    started = time.perf_counter()
    await engine.run_system(send_reminders)
    sending = time.perf_counter() - started
    expected = args.communities * (args.tasks * 3 + 1)
    print(f"first planning pass (start): {timings[0] * 1000:.0f} ms, {rows} rows")
    print(f"steady planning pass (once a minute): {timings[1] * 1000:.0f} ms")
    print(f"sending pass of {BATCH}: {sending * 1000:.0f} ms")
    print(f"RSS: {rss_mb():.0f} MB")
    ok = rows == expected and timings[0] < 1.0 and rss_mb() < 200
    print(verdict(ok), f"rows {rows} (expected {expected}), start < 1 s, RSS < 200 MB")
    await db.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
