"""/report for a big community: seconds to build the PDF, its size, and how late a timer on the
event loop fires meanwhile (the bot must keep answering votes while a report is built).

The community (1,000 members, 30 problems with a sticker ballot every member voted in, 40 tree
nodes, 30 scheduled tasks with owners and 300 check-ins, 10 organisations rated by every member) is written with
the storage functions in one transaction (not measured). Then the facilitator sends /report
through the simulated channel, as a phone would: the flow gathers the data in its transaction,
delivery renders the PDF in a worker thread and sends it. A 10 ms timer runs all along.

    python bench/report.py [--members 1000] [--runs 3] [--keep report.pdf]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import loadavg, machine, percentile, verdict  # noqa: E402
from bot.flows import report  # noqa: E402
from bot.flows.engine import Engine  # noqa: E402
from bot.sim import Sim  # noqa: E402
from bot.storage import ballots, checkins, members, plan, problems, resources, tree  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from tests.conftest import create_community, onboard  # noqa: E402

TICK = 0.010
CHECKINS_PER_TASK = 10  # 300 check-ins on the 30 tasks
GOAL_SECONDS, GOAL_LAG_MS, MAX_BYTES = 5.0, 200.0, 3 * 1024 * 1024


async def populate(db: Database, n_members: int, rng: random.Random) -> None:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")

    async def write(tx) -> None:
        ids = []
        for i in range(n_members):
            member = await members.create(tx, "demo", f"m{i}", "kk", now)
            await members.set_name(tx, member.id, f"Мүше {i + 1}")
            await members.join(tx, 1, member.id, "member", now)
            ids.append(member.id)
        found = [await problems.add(tx, 1, f"Мәселе {n}: ауылдағы жол мен су құбыры жөндеуді қажет етеді",
                                    f"p{n}", ids[n], now) for n in range(1, 31)]
        ballot = await ballots.open_ballot(tx, 1, "dots", [p.id for p in found], stickers=3, per_option=3,
                                           visibility="live", closes_at=None, opened_by=ids[0], now=now)
        for member_id in ids:
            for problem in rng.sample(found, 3):
                await ballots.set_stickers(tx, ballot.id, member_id, problem.id, 1)
        await ballots.close(tx, ballot.id, now)
        chosen = found[0]
        await problems.choose(tx, 1, chosen.id, ids[0], now)
        parents: dict[str, list[int]] = {"cause": [], "effect": []}
        for n in range(40):
            kind = "cause" if n % 2 else "effect"
            parent = rng.choice(parents[kind]) if parents[kind] and n > 10 else None
            node = await tree.add(tx, 1, chosen.id, kind, parent, f"Себеп не салдар {n + 1}: мектептің жылуы жоқ",
                                  f"t{n}", ids[n], now)
            parents[kind].append(node.id)
        start = date.today()
        for n in range(30):
            task = await plan.add(tx, 1, chosen.id, f"Міндет {n + 1}: құбырды ауыстыру", f"k{n}",
                                  start + timedelta(days=n), start + timedelta(days=n + 14), "құбыр, күрек",
                                  ids[n], now)
            await plan.set_owner(tx, task, ids[n])
            for k in range(CHECKINS_PER_TASK):  # late and blocked now and then, as the episodes are listed
                status = ("on_track", "late", "on_track", "blocked", "on_track")[(n + k) % 5]
                await checkins.add(tx, task, ids[n], status, min(100, 10 * k), f"Есеп {k + 1}: құбыр жеткізілді",
                                   None, now)
        for n in range(10):
            org = await resources.add_org(tx, 1, f"Ұйым {n + 1}", f"o{n}", ids[n], now)
            for member_id in ids:
                await resources.rate(tx, org, member_id, rng.randint(1, 3), rng.randint(1, 3))
        for n in range(20):
            await resources.add_resource(tx, 1, "materials", f"Ресурс {n + 1}", "мектеп", "ауыл", ids[n], now)

    await db.atomic(write)


GATHERED: list[float] = []  # seconds /report spent reading and wording, in its transaction on the event loop
_gather = report.gather


async def timed_gather(*args, **kwargs):
    started = time.perf_counter()
    try:
        return await _gather(*args, **kwargs)
    finally:
        GATHERED.append(time.perf_counter() - started)


report.gather = timed_gather


async def one_run(n_members: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        async with Database(str(Path(folder) / "bench.db")) as db:
            sim = Sim(Engine(db, bot_username="qatysu_bench_bot", rng=random.Random(seed)))
            facilitator = sim.person("Айгерим", "kk")
            await onboard(facilitator)
            await create_community(facilitator)
            await populate(db, n_members, random.Random(seed))
            lags: list[float] = []
            building = True

            async def timer() -> None:
                while building:
                    due = time.perf_counter() + TICK
                    await asyncio.sleep(TICK)
                    lags.append(max(0.0, time.perf_counter() - due))

            ticking = asyncio.create_task(timer())
            started = time.perf_counter()
            await facilitator.send("/report")
            seconds = time.perf_counter() - started
            building = False
            await ticking
            name, pdf = facilitator.last().document
            return {"seconds": seconds, "bytes": len(pdf), "lags": sorted(lags), "name": name, "pdf": pdf,
                    "gathered": GATHERED[-1]}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", metavar="FILE.pdf", help="write the last run's PDF there, to look at it")
    args = parser.parse_args()
    print(machine())
    print(f"load average before: {loadavg()}")
    runs = [await one_run(args.members, seed) for seed in range(args.runs)]
    if args.keep:
        Path(args.keep).write_bytes(runs[-1]["pdf"])
    seconds = statistics.median(r["seconds"] for r in runs)
    size = max(r["bytes"] for r in runs)
    lags = sorted(lag for r in runs for lag in r["lags"])
    p50, p99, worst = (percentile(lags, p) * 1000 for p in (50, 99, 100))
    print(f"members {args.members}, runs {args.runs}: /report built and sent in {seconds:.2f} s (median; "
          f"{', '.join(format(r['seconds'], '.2f') for r in runs)}), PDF {size / 1024:.0f} KiB")
    print(f"of which reading and wording in the transaction, on the event loop: "
          f"{statistics.median(r['gathered'] for r in runs) * 1000:.0f} ms (median)")
    print(f"timer lag during the build: p50 {p50:.1f} ms, p99 {p99:.1f} ms, worst {worst:.1f} ms "
          f"({len(lags)} ticks)")
    checks = [(seconds < GOAL_SECONDS, f"built in under {GOAL_SECONDS:.0f} s"),
              (p99 < GOAL_LAG_MS, f"timer lag p99 under {GOAL_LAG_MS:.0f} ms"),
              (size < MAX_BYTES, "PDF under 3 MB")]
    for ok, what in checks:
        print(f"{verdict(ok)} {what}")
    print(f"load average after: {loadavg()}")
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
