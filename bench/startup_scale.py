"""Start-up at scale: how long the bot takes to come up on a big database, and its memory.

    python bench/startup_scale.py                          # 100 communities × 500 members
    python bench/startup_scale.py --communities 20 --repeat 1

Build (not measured, printed): a SQLite database through ``bot.storage.db.Database`` (so every
migration is applied), filled with ``executemany``: ``--communities`` communities of
``--members`` members each (members, identities, memberships; the first member facilitates), one
linked group each, ``--problems`` problems each, and a closed sticker ballot each in which every
member placed 3 stickers (the triggers keep the counts and the turnout, as in production), its
group message reference, two audit-log entries per community, and ``--history`` processed
update ids (what months of use leave behind).

Measured, ``--repeat`` times, each in a fresh Python process started against the fake Bot API
(``tests/fakes/telegram.py``, in this process, on 127.0.0.1):

* imports: ``import bot.app`` (aiogram, aiohttp, the flows, ...);
* start: open the database + migrations (none left to apply: a restart) + the Engine + the whole
  ``TelegramApp.start()`` (getMe, setMyCommands, the scheduler's first sweep, deleteWebhook, the
  durable inbox) until the fake receives the first ``getUpdates``, i.e. polling is running;
* the process from spawn to that first ``getUpdates`` (interpreter + imports + start);
* the first reply: a member's ``/start``, queued before the spawn as if written while the bot was
  down, answered (this includes building the aiogram types that first update uses, which are
  built on first use: ``bot/handlers/aiogram_types.py``);
* RSS (VmRSS) once polling runs, and the peak (ru_maxrss);
* then, for information, RSS after rendering a first result chart (matplotlib is imported on
  first use, so a bot that has posted a result carries it).

Goals: start ≤ 3 s, RSS ≤ 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T_PROCESS = time.monotonic()  # before the heavy imports (the child measures them)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BOT_USERNAME, ROOT, TOKEN, loadavg, machine, peak_rss_mb, rss_mb  # noqa: E402

GOAL_START = 3.0
GOAL_RSS = 200.0
LOCALES = ("kk", "ru", "en")
STICKERS = 3


# ============================================================================ the bot (child)
async def child_main(args: argparse.Namespace) -> None:
    import logging

    t_imports = time.monotonic()
    if args.eager_aiogram:
        import aiogram  # noqa: F401  (first: aiogram as shipped, every type built at import)
    from bot.app import TelegramApp
    from bot.config import Config

    t_imported = time.monotonic()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = Config(db_path=args.db, telegram_token=TOKEN, telegram_api_base=args.api)
    app = TelegramApp(config)
    t_start = time.monotonic()
    await app.start()
    t_started = time.monotonic()

    def reply(**payload) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    reply(t_process=T_PROCESS, t_imports=t_imports, t_imported=t_imported, t_start=t_start,
          t_started=t_started, rss_mb=rss_mb())
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        cmd = json.loads(line)["cmd"]
        if cmd == "report":
            reply(rss_mb=rss_mb(), peak_rss_mb=peak_rss_mb())
        elif cmd == "chart":
            # What the first result chart adds (matplotlib is imported on first use).
            from bot.charts import StickerRow, render, render_stickers

            t0 = time.monotonic()
            png = await render(render_stickers, [StickerRow(i, f"Мәселе {i}", 60 - i * 7) for i in range(1, 7)])
            reply(rss_mb=rss_mb(), peak_rss_mb=peak_rss_mb(), seconds=time.monotonic() - t0, png=len(png))
        elif cmd == "stop":
            break
    await app.stop()


# ============================================================================ the database
async def build(path: str, args: argparse.Namespace) -> dict:
    from bot.storage import audit
    from bot.storage.db import Database

    rng = random.Random(args.seed)
    now = "2026-03-02T05:00:00+00:00"
    n_c, n_m, n_p = args.communities, args.members, args.problems
    db = await Database(path).open()
    try:
        async with db.transaction() as tx:
            members, identities, memberships, communities, groups = [], [], [], [], []
            problems, authors, ballots, options, votes, refs = [], [], [], [], [], []
            member_id = problem_id = 0
            for c in range(1, n_c + 1):
                first = member_id + 1
                for k in range(n_m):
                    member_id += 1
                    members.append((member_id, f"Мүше {c}-{k}", LOCALES[member_id % 3], now, c, now))
                    identities.append(("telegram", str(1_000_000 + member_id), member_id, now))
                    memberships.append((c, member_id, "facilitator" if k == 0 else "member", now))
                communities.append((c, f"Ауыл {c}", f"Аудан {c}", "Asia/Almaty", "kk", f"CODE{c:06d}", first, now))
                groups.append(("telegram", str(-1_001_000_000_000 - c), c, f"Ауыл {c}", first, now))
                ids = []
                for number in range(1, n_p + 1):
                    problem_id += 1
                    ids.append(problem_id)
                    text = f"Мәселе {number}: жол, су, жарық, мектеп ({c})"
                    problems.append((problem_id, c, number, text, text.lower(), first, now))
                    authors.append((problem_id, first))
                    options.append((c, problem_id))
                ballots.append((c, c, "dots", STICKERS, 1, "live", first, now))
                for m in range(first, member_id + 1):
                    for pid in rng.sample(ids, min(STICKERS, len(ids))):
                        votes.append((c, m, pid, 1))
                refs.append(("telegram", str(-1_001_000_000_000 - c), f"b{c}", str(100 + c)))
            await tx.executemany("INSERT INTO members (id, name, locale, consent_at, active_community, created_at)"
                                 " VALUES (?, ?, ?, ?, ?, ?)", members)
            await tx.executemany("INSERT INTO communities (id, name, place, tz, locale, join_code, created_by,"
                                 " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", communities)
            await tx.executemany("INSERT INTO identities (channel, external_id, member_id, created_at)"
                                 " VALUES (?, ?, ?, ?)", identities)
            await tx.executemany("INSERT INTO memberships (community_id, member_id, role, joined_at)"
                                 " VALUES (?, ?, ?, ?)", memberships)
            await tx.executemany("INSERT INTO group_links (channel, chat_id, community_id, title, linked_by,"
                                 " linked_at) VALUES (?, ?, ?, ?, ?, ?)", groups)
            await tx.executemany("INSERT INTO problems (id, community_id, number, text, norm, created_by,"
                                 " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", problems)
            await tx.executemany("INSERT INTO problem_authors (problem_id, member_id) VALUES (?, ?)", authors)
            await tx.executemany("INSERT INTO ballots (id, community_id, kind, stickers, per_option, visibility,"
                                 " opened_by, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ballots)
            await tx.executemany("INSERT INTO ballot_options (ballot_id, problem_id) VALUES (?, ?)", options)
            await tx.executemany("INSERT INTO dot_votes (ballot_id, member_id, problem_id, count)"
                                 " VALUES (?, ?, ?, ?)", votes)
            await tx.execute("UPDATE ballots SET status = 'closed', closed_at = ?", (now,))
            await tx.executemany("INSERT INTO message_refs (channel, chat_id, tag, message_id) VALUES (?, ?, ?, ?)",
                                 refs)
            for c in range(1, n_c + 1):
                await audit.append(tx, now, "ballot.opened", community_id=c, actor_id=None, ballot=c, kind="dots")
                await audit.append(tx, now, "ballot.closed", community_id=c, actor_id=None, ballot=c)
            await tx.executemany("INSERT INTO processed_updates (channel, update_id, processed_at) VALUES (?, ?, ?)",
                                 [("telegram", str(10_000_000 + i), now) for i in range(args.history)])
        async with db.transaction() as tx:
            counts = {t: await tx.scalar(f"SELECT COUNT(*) FROM {t}") for t in
                      ("members", "communities", "problems", "ballots", "dot_votes", "processed_updates")}
            turnout = await tx.scalar("SELECT SUM(turnout) FROM ballots")
            online = await tx.scalar("SELECT SUM(online) FROM ballot_options")
        await db.checkpoint()
    finally:
        await db.close()
    counts["turnout"], counts["stickers"] = turnout, online
    return counts


# ============================================================================ the driver
async def measure(tg, db_path: str, eager_aiogram: bool = False) -> dict:
    """One fresh bot process: spawn → started → first getUpdates → first reply; RSS then."""
    tg.first_poll = None
    member = tg.user(1_000_001, "Мүше 1-0", "kk")  # the facilitator of community 1
    tg.send(member, "/start")  # written while the bot was down: answered first thing
    t_spawn = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).resolve()), "--child", "--api", tg.base_url, "--db", db_path,
        *(["--eager-aiogram"] if eager_aiogram else []),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(ROOT))
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if not line:
            raise RuntimeError("the bot process ended before it started")
        started = json.loads(line)
        while tg.first_poll is None:
            await asyncio.sleep(0.001)
        await tg.next_message(member, timeout=60)
        t_reply = time.monotonic()
        await asyncio.sleep(0.2)  # polling settles (first long poll waiting)
        proc.stdin.write(b'{"cmd": "report"}\n')
        await proc.stdin.drain()
        report = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
        proc.stdin.write(b'{"cmd": "chart"}\n')
        await proc.stdin.drain()
        chart = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        proc.stdin.write(b'{"cmd": "stop"}\n')
        await proc.stdin.drain()
        await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
    return {
        "interpreter": started["t_imports"] - t_spawn,
        "imports": started["t_imported"] - started["t_imports"],
        "start_call": started["t_started"] - started["t_start"],
        "start": tg.first_poll - started["t_start"],
        "process": tg.first_poll - t_spawn,
        "reply": t_reply - t_spawn, "first_update": t_reply - tg.first_poll,
        "rss": report["rss_mb"], "peak": report["peak_rss_mb"], "rss_at_start_return": started["rss_mb"],
        "rss_chart": chart["rss_mb"], "chart_seconds": chart["seconds"],
    }


def timed_fake():
    from tests.fakes import FakeTelegram

    class TimedFake(FakeTelegram):
        """The fake Bot API, noting when the first getUpdates arrives."""

        first_poll: float | None = None

        async def _m_getupdates(self, params, files):
            if self.first_poll is None:
                self.first_poll = time.monotonic()
            return await super()._m_getupdates(params, files)

    return TimedFake(token=TOKEN, bot_username=BOT_USERNAME)


async def driver(args: argparse.Namespace) -> int:
    workdir = tempfile.mkdtemp(prefix="qatysu-startup-")
    db_path = args.db or os.path.join(workdir, "big.db")
    print(f"startup_scale: {args.communities} communities × {args.members} members, {args.problems} problems "
          f"and a closed sticker ballot each, {args.history:,} processed update ids")
    print(f"machine: {machine()}")
    if not (args.db and os.path.exists(args.db)):
        t0 = time.perf_counter()
        counts = await build(db_path, args)
        print(f"built {db_path} in {time.perf_counter() - t0:.1f} s: "
              + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    size = sum(os.path.getsize(p) for p in (db_path, db_path + "-wal") if os.path.exists(p))
    print(f"database size {size / 1024 / 1024:.1f} MB; load average {loadavg()}")
    runs = []
    async with timed_fake() as tg:
        for i in range(args.repeat):
            run = await measure(tg, db_path)
            runs.append(run)
            print(f"  run {i + 1}: start {run['start']:.2f} s (start() returned after {run['start_call']:.2f} s), "
                  f"imports {run['imports']:.2f} s, interpreter {run['interpreter']:.2f} s, "
                  f"spawn → polling {run['process']:.2f} s, → first reply {run['reply']:.2f} s; "
                  f"RSS {run['rss']:.0f} MB, peak {run['peak']:.0f} MB, "
                  f"after the first chart {run['rss_chart']:.0f} MB")
        eager = [await measure(tg, db_path, eager_aiogram=True) for _ in range(args.repeat)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    base = {k: statistics.median(r[k] for r in eager) for k in eager[0]}
    print()
    print(f"median of {len(runs)} fresh processes (load average {loadavg()}):")
    rows = [
        ("open DB + migrations + Engine + TelegramApp.start → polling", f"{med['start']:.2f} s",
         f"goal ≤ {GOAL_START:.0f} s: {'met' if med['start'] <= GOAL_START else 'NOT met'}"),
        ("  of which TelegramApp.start() itself", f"{med['start_call']:.2f} s", ""),
        ("import bot.app (aiogram, aiohttp, flows)", f"{med['imports']:.2f} s", ""),
        ("Python interpreter up to the imports", f"{med['interpreter']:.2f} s", ""),
        ("whole process: spawn → first getUpdates", f"{med['process']:.2f} s",
         f"goal ≤ {GOAL_START:.0f} s: {'met' if med['process'] <= GOAL_START else 'NOT met'}"),
        ("  then the first update (a /start written while it was down) answered", f"{med['first_update']:.2f} s",
         ""),
        ("whole process: spawn → that first reply", f"{med['reply']:.2f} s", ""),
        ("RSS with polling running", f"{med['rss']:.0f} MB",
         f"goal ≤ {GOAL_RSS:.0f} MB: {'met' if med['rss'] <= GOAL_RSS else 'NOT met'}"),
        ("peak RSS (ru_maxrss)", f"{med['peak']:.0f} MB",
         f"goal ≤ {GOAL_RSS:.0f} MB: {'met' if med['peak'] <= GOAL_RSS else 'NOT met'}"),
        ("RSS after the first chart (matplotlib loaded)", f"{med['rss_chart']:.0f} MB",
         f"(not part of the goal; the chart rendered in {med['chart_seconds']:.2f} s)"),
    ]
    w0 = max(len(r[0]) for r in rows)
    for name, value, goal in rows:
        print(f"  {name:{w0}}  {value:>8}  {goal}")
    print()
    print(f"baseline, same runs with aiogram's types built at import (aiogram as shipped), median of {len(eager)}:")
    for label, key, unit in (("import bot.app", "imports", "s"), ("spawn → first getUpdates", "process", "s"),
                             ("spawn → first reply", "reply", "s"), ("RSS with polling running", "rss", "MB"),
                             ("RSS after the first chart", "rss_chart", "MB")):
        value = f"{base[key]:.2f} s" if unit == "s" else f"{base[key]:.0f} MB"
        print(f"  {label:{w0}}  {value:>8}  ours ÷ baseline {med[key] / base[key]:.2f}")
    if not args.db:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--communities", type=int, default=100)
    parser.add_argument("--members", type=int, default=500, help="members per community")
    parser.add_argument("--problems", type=int, default=6, help="problems per community")
    parser.add_argument("--history", type=int, default=100_000, help="processed update ids already stored")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes to start")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--db", help="use (or build once and keep at) this database path")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--eager-aiogram", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        asyncio.run(child_main(args))
        return 0
    return asyncio.run(driver(args))


if __name__ == "__main__":
    sys.exit(main())
