"""Vote burst: many members voting at once, through the real bot.

    python bench/vote_burst.py                    # 1,000 members, the group's sticker ballot
    python bench/vote_burst.py --members 10000    # 10,000 members
    python bench/vote_burst.py --ballot election  # the ҚМҰТ election, in the group
    python bench/vote_burst.py --ballot matrix    # the priority matrix, in private chats
    python bench/vote_burst.py --ballot pairwise  # pairwise ranking, in private chats
    python bench/vote_burst.py --ballot plan      # the members' approval of the action plan, in the group
    python bench/vote_burst.py --ballot evaluation  # step 7's evaluation, in private chats
    python bench/vote_burst.py --profile pyspy    # also sample the bot with py-spy

What runs
---------
* The fake Telegram Bot API (``tests/fakes/telegram.py``) on 127.0.0.1, in this (the driver)
  process. It queues the updates, records every call the bot makes with its time, answers like
  Telegram (flood limits off: Telegram does not rate-limit ``answerCallbackQuery`` the way it
  limits sends).
* The bot in a child process, the way ``qatysu run`` runs it: ``TelegramApp`` (its durable-inbox
  long polling, updates read from their JSON, aiogram's ``Bot`` and aiohttp session, answers to
  taps as JSON on that session, the flows, the delivery with its edit
  coalescing at the production ``edit_interval`` of 3 s, the scheduler) on a real SQLite file in a
  temporary directory, logging at INFO to a file like ``qatysu run``. A separate process so that
  its CPU time and peak RSS are its own, and so the fake does not share its core.

Set-up (not measured): a facilitator onboards, creates the community, links the group and
proposes 5 problems over the fake API; the N members are then inserted with SQL through the
app's own ``Database`` (members, identities, memberships — like the e2e test of 200 members);
the facilitator opens the ballot with ``/poll dots`` in the group (3 stickers, one per problem,
counts shown live, the production defaults).

The burst: every member taps the group's ballot five times. With problems numbered 1..5 and a
member's start ``r`` (drawn from a fixed seed, skewed so the tallies differ):

    tap 1: r      → sticker placed          tap 4: r again → that sticker taken back
    tap 2: r+1    → sticker placed          tap 5: r+3     → sticker placed elsewhere
    tap 3: r+2    → sticker placed (3 of 3 used)

(numbers mod 5), so each member ends with stickers on r+1, r+2 and r+3: 3 stickers, one of them
moved from r to r+3. The updates are queued round by round (everyone's tap 1, then everyone's
tap 2, ...), all at once before the bot can fetch any (``--rate`` paces them instead). The bot
ignores the same person pressing the same button again within ``double_tap`` (1 s), so a
member's taps 1 and 4 must be handled more than 1 s apart: true unless the bot handles more than
3 × members taps a second (e.g. fewer than ~300 members at 1,000 taps/s). The toast check says so
if not.

Measured: updates/s from the first update queued to the last callback answered (the fake's
record of ``answerCallbackQuery``), per-update latency from queued to answered (p50/p95/p99),
the bot process's CPU seconds and peak RSS (ru_maxrss), the fake's CPU seconds.

Then the same number of callback updates (same users, same payloads, same message) goes to a
bare aiogram ``Dispatcher`` in a child process whose only handler is ``await query.answer()``,
polled with the same settings: the framework's ceiling on this machine. Our throughput is printed
as a ratio of it.

Checks (PASS/FAIL): stored stickers of every member equal the plan exactly; the ballot's online
counts and turnout equal the expected tallies; every update was answered exactly once, with the
expected toast (placed / taken back); no call failed; the group message, after the last
coalesced edit, shows the final counts.

The ҚМҰТ election (``--ballot election``)
-----------------------------------------
The same village, members, burst shape, measurements and checks, on the group's election message
(``bench/_ballots.py``, ``GroupBallot``: one mechanism for both group ballots).

Set-up (not measured): with the members, the first 10 seeded members are nominated through the
app's own storage (``bot.storage.nominations.add``, each nominating themselves, so accepted),
across the six categories (activist, vulnerable, authority, business, ngo, media, then again the
first four); the facilitator opens the election with ``/poll election 3`` in the group (3 seats,
counts shown live: the default). The group message has one button a candidate
(``el:<ballot id>:<nomination id>``), found by the candidate's name on it.

The burst: every member taps five times, candidates numbered 0..9 and ``r`` drawn (fixed seed,
skewed) as above: ``r``, ``r+1``, ``r+2`` approved (3 of 3 seats used), ``r`` again (approval
taken back), ``r+3`` approved (mod 10); each member ends with 3 approvals. The toasts expected:
"You approved {name}. {left} of 3 left." (2, 1, 0, then 0 after tap 5) and "Approval taken back
from {name}. 1 of 3 left." (tap 4), in the member's language. Checks: stored approvals
(``election_votes``) equal the plan exactly; the trigger-kept ``election_options.online`` counts
equal the expected tallies and 3 × members approvals are stored; ``ballots.turnout`` equals the
members; every update answered once with the expected toast; no call failed; the group message's
last edit shows every candidate's final count. The same double-tap caveat: below ~300 members,
pass ``--double-tap 0.2`` (tap 4 repeats tap 1's button).

The action plan (``--ballot plan``)
-----------------------------------
Step 5's plan ballot, with the same village, members, measurements and ``GroupBallot`` code as
the stickers and the election (``bench/_ballots.py``, ``Plan``).

Set-up (not measured): before the members are inserted, the facilitator confirms problem #1 with
``/choose 1`` in the group (step 1); with the members, the seed step inserts the plan's 10 tasks
(titles, some with dates and needs) through the app's own storage (``bot.storage.plan.add``,
proposed by the facilitator; the tasks cannot change once the vote is open, a trigger); the
facilitator opens the vote with ``/poll plan`` in the group (counts live: the default). The group
message lists the tasks and has two buttons, ``pl:<ballot>:1`` "I approve the plan" and
``pl:<ballot>:0`` "Not yet", each with its count.

The burst: every member taps five times, alternating: the side they start on ``s`` ("approve" two
times in three, fixed seed), the other, ``s``, the other, ``s``: one vote each, recorded, then
changed four times, ending on ``s``. Toasts expected: "You approve the plan. You can change your
vote until it closes." / "You do not approve the plan yet. ..." in the member's language. With two
buttons a tap repeats the button of two taps before (taps 1, 3, 5), 2 × members updates apart in
the queue: more than the 1 s double-tap window unless the bot handles more than 2 × members
taps a second (below ~500 members at 1,000/s give ``--double-tap 0.2``; unpaced, the bot handles
2,000-2,700 taps a second: below ~3,000 members give it too).

Checks: every member's stored vote (``plan_votes``) equals their last tap; the tally the app
reads (``bot.storage.plan.tally``: approve, not yet) equals the expected one and one vote a
member is stored; ``ballots.turnout`` (trigger-kept) equals the members; every update answered
once with the expected toast; no call failed; the group message's last edit shows the final
counts on its two buttons.

Private ballots (``--ballot matrix``, ``--ballot pairwise``)
------------------------------------------------------------
The same village, members and measurements; the ballot is answered in each member's private
chat instead (``bench/_ballots.py``).

Set-up (not measured): the facilitator sends ``/poll matrix`` (or ``/poll pairwise``) in the
group, for all 5 problems; every member then sends ``/start b_<id>``, the deep link of the group
message's button (all N at once; the time it takes is printed with the set-up), and gets the first
question; the bench waits until the bot is idle.

The burst: 10 callback updates per member — the matrix scores each problem on importance, then
urgency (1–3: 5 × 2 presses); pairwise answers "which is more pressing?" for all 10 pairs of the 5
problems. Each answer edits the member's message into the next question, in an order of the
member's own, so the bench presses a button of that message as the fake shows it now, choosing by
what it reads there (the problem number; the question, in the member's language; the label) from
the member's plan (matrix: scores drawn per problem from a fixed seed, skewed so the means
differ; pairwise: an order of the problems of the member's own, noisy around a common one). A
member's next press is queued as soon as the bot has answered the last one and edited their
message: one update in flight per member, all N members at once, round after round. Latency is
still queued → answered; the time until the message shows the next question (the time a member
waits for it) is printed below the table.

During the burst the fake enforces Telegram's limits (30 messages/s overall, 1/s in a chat, 20/min
in a group) as ``tests/fakes/telegram.py`` models them: an edit in a private chat answering a
press there (one per press, within 10 s) is interactive feedback and not counted, and the bot's
pacer (``bot/pacing.py``) gives such an edit no slot of the 30/s either; a 429 would fail the
"no call failed" check. The bare dispatcher gets the same presses, one in flight per member, each member's next as
soon as the last is answered (it edits nothing).

Checks: every member was asked each question once and answered as planned; the answers the bot
stored equal what the bench pressed; the result the bot computes from storage (its own
``results.build``: matrix means, cells and ranks; pairwise wins per pair, per problem, ranks)
equals the one the bench tallies from what it pressed; turnout; every update answered exactly
once, with the toast that confirms what was pressed; no call failed; every member's message ends
with the thank-you.

The evaluation (``--ballot evaluation``)
----------------------------------------
Step 7's evaluation, a private ballot like the matrix and pairwise (the same ``PrivateBallot``
code, ``Evaluation`` in ``bench/_ballots.py``): set-up, measurements, one update in flight per
member and the bare-aiogram replay as above, after ``/poll evaluation`` in the group.

The burst: 5 callback updates per member on one private message edited in place: the goal
(``ev:<ballot>:g:yes|partly|no``), the rating (``ev:<ballot>:r:1..5``), take part again
(``ev:<ballot>:a:1|0``), each drawn per member from a fixed seed, skewed so the totals differ;
then Skip on "What worked well?" (``ev:<ballot>:s:worked``) and on "What should we change?"
(``ev:<ballot>:s:change``). The bench reads the question from the kind of the message's buttons
(the thank-you's "Answer again", ``ev:<ballot>:x:0``, shares the prefix and ends the member's turn).

Checks: every member was asked each question once; their stored row of ``evaluation_answers``
equals the plan (goal, rating, again, both texts empty); ``bot.storage.evaluation.summary``
equals the bench's tally; ``ballots.turnout`` (trigger-kept) equals the members; every update
answered exactly once with exactly the expected toast — "Saved." in the member's language for the
goal, the rating, again and the skip of "change" (which closes the evaluation), none for the skip
of "worked" (the flow only moves on); no call failed; every member's message ends with the
thank-you.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ballots import BALLOTS, fmt_ms, member_name, say  # noqa: E402
from _common import (BOT_USERNAME, ROOT, TOKEN, cpu_seconds, loadavg, machine,  # noqa: E402
                     machine_busy_seconds, peak_rss_mb, percentile, rss_mb, verdict)

PROBLEMS = ["Жол жөндеу керек, көктемде су басып қалады", "Балалар алаңы жоқ", "Мектеп автобусы кешігеді",
            "Ауыз су жиі өшіп қалады", "Көше шамдары жанбайды"]
LOCALES = ("kk", "ru", "en")
FIRST_USER = 100_000
GROUP_ID = -1001234567890
GOAL_RATE = 1000.0
GOAL_RATIO = 0.5
GOAL_P99 = 0.025  # seconds, tap to toast at a paced GOAL_RATE (issue 12)


# ============================================================================ the bot side (child)
async def child_main(args: argparse.Namespace) -> None:
    """Run the bot (``ours``) or the bare dispatcher (``bare``); obey JSON lines on stdin."""
    import logging

    logging.basicConfig(level=getattr(logging, args.log_level),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    loop = asyncio.get_running_loop()
    profiler = None
    gc_time = [0.0, 0.0, 0]  # seconds in the garbage collector, start of the current one, collections
    gc_gen = [0.0, 0.0, 0.0]  # seconds per generation collected

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            spent = time.perf_counter() - gc_time[1]
            gc_time[0] += spent
            gc_time[2] += 1
            gc_gen[info["generation"]] += spent

    import gc

    gc.callbacks.append(on_gc)

    def reply(**payload) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    experiments = set(args.experiment or [])
    if "eager-aiogram" in experiments:
        import aiogram  # noqa: F401  (first: aiogram as shipped, every type built at import)
    if args.child == "ours":
        from bot.app import TelegramApp
        from bot.config import Config

        if "render-in-thread" in experiments:
            # What-if: charts and documents drawn in a thread of the bot's process (as before
            # bot.drawing), not in the drawing process.
            from bot import drawing

            async def in_thread(fn, *a, **kw):
                return await asyncio.to_thread(fn, *a, **kw)

            drawing.run = in_thread

        if "log-checkpoints" in experiments:
            # Diagnosis: each WAL checkpoint's start and end (time.monotonic()) in the bot's log.
            from bot.storage.db import Database

            checkpoint = Database.checkpoint

            async def logged(self):
                start = time.monotonic()
                complete = await checkpoint(self)
                logging.getLogger("bench").warning("checkpoint %.4f %.4f %s", start, time.monotonic(), complete)
                return complete

            Database.checkpoint = logged

        if "no-checkpoints" in experiments:
            # What-if: no WAL checkpoint while the burst lasts (the WAL grows): is the tail theirs?
            from bot.storage.db import Database

            Database.CHECKPOINT_COMMITS = 10**9
            Database.CHECKPOINT_INTERVAL = 3600.0

        if "no-wal-restart" in experiments:
            # What-if: the WAL is never started over while writers wait (``Database.checkpoint``'s
            # RESTART mode); passive checkpoints only, the WAL file grows.
            from bot.storage.db import Database

            Database.WAL_RESTART_PAGES = 10**9

        config = Config(db_path=args.db, telegram_token=TOKEN, telegram_api_base=args.api)
        extra = {} if args.double_tap is None else {"double_tap": args.double_tap}
        app = TelegramApp(config, rng=random.Random(5), edit_interval=args.edit_interval,
                          polling_timeout=args.polling_timeout, **extra)
        await app.start()
        stop = app.stop
    else:
        from aiogram import Bot, Dispatcher, Router
        from aiogram.client.default import DefaultBotProperties
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer
        from aiogram.types import CallbackQuery

        from bot.handlers.telegram import ALLOWED_UPDATES

        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(args.api)),
                  default=DefaultBotProperties(parse_mode="HTML"))
        dp = Dispatcher()
        router = Router()

        @router.callback_query()
        async def on_callback(query: CallbackQuery) -> None:
            await query.answer()

        dp.include_router(router)
        await bot.delete_webhook(drop_pending_updates=False)
        task = asyncio.create_task(dp.start_polling(
            bot, handle_signals=False, close_bot_session=False, allowed_updates=ALLOWED_UPDATES,
            polling_timeout=args.polling_timeout))

        async def stop() -> None:
            try:
                await dp.stop_polling()
            except RuntimeError:
                pass
            await asyncio.gather(task, return_exceptions=True)
            await bot.session.close()

    if "gc-freeze" in experiments:
        # What-if: move everything alive after start-up (aiogram's ~150 MB of pydantic types) out
        # of the collector's sight, so full collections stop traversing it.
        gc.collect()
        gc.freeze()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    reply(ready=True, pid=os.getpid(), rss_mb=rss_mb())
    while True:
        line = await reader.readline()
        if not line:
            await stop()
            return
        cmd = json.loads(line)
        if cmd["cmd"] == "seed":
            t0 = time.perf_counter()
            await seed_members(app.db, cmd["n"], cmd.get("nominees"), cmd.get("tasks"))
            reply(seeded=cmd["n"], seconds=time.perf_counter() - t0, rss_mb=rss_mb())
        elif cmd["cmd"] == "call":
            # Another bench's own step in the bot process (report.py writes its community with the
            # app's storage): ``await module.function(app, **kwargs)``, module on bench/'s path.
            import importlib

            module, _, name = cmd["fn"].partition(":")
            t0 = time.perf_counter()
            result = await getattr(importlib.import_module(module), name)(app, **cmd.get("kwargs", {}))
            reply(result=result, seconds=time.perf_counter() - t0, rss_mb=rss_mb())
        elif cmd["cmd"] == "profile_on":
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
            reply(ok=True)
        elif cmd["cmd"] == "profile_off":
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(cmd["path"])
            reply(ok=True)
        elif cmd["cmd"] == "sql_on":
            # Count SQL statements (sqlite's trace, values blanked) and aiosqlite round trips to
            # its worker thread (each ``await`` on the connection is one), by the call made.
            sql_counts: Counter[str] = Counter()
            hops: Counter[str] = Counter()
            conn = app.db.conn
            original = conn._execute

            def trace(statement: str) -> None:
                text = re.sub(r"'[^']*'", "?", " ".join(statement.split()))
                sql_counts[re.sub(r"(?<![\w.])-?\d+(\.\d+)?", "?", text)[:110]] += 1

            async def counting(fn, *a, **kw):
                hops[getattr(fn, "__name__", type(fn).__name__)] += 1
                return await original(fn, *a, **kw)

            await original(conn._conn.set_trace_callback, trace)
            app.db._sync.set_trace_callback(trace)  # the event loop's connection: every atomic()
            conn._execute = counting
            reply(ok=True)
        elif cmd["cmd"] == "sql_off":
            conn = app.db.conn
            del conn._execute
            await conn._execute(conn._conn.set_trace_callback, None)
            if app.db._sync is not None:
                app.db._sync.set_trace_callback(None)
            reply(counts=sql_counts.most_common(), hops=hops.most_common())
        elif cmd["cmd"] == "idle":
            # Handler tasks still running after their callback was answered (deliveries).
            tasks = app.polling._tasks if args.child == "ours" else dp._handle_update_tasks
            busy = len(tasks)
            while tasks:
                await asyncio.sleep(0.005)
            idle_at = time.monotonic()
            if args.child == "ours":
                await app.delivery.flush()  # the last coalesced group edit, the members' last views
            reply(idle_at=idle_at, busy=busy, flushed_at=time.monotonic(), gc=gc_time[0], gcs=gc_time[2],
                  gc_gen=list(gc_gen), gc_counts=[s["collections"] for s in gc.get_stats()])
        elif cmd["cmd"] == "gc":
            reply(gc=gc_time[0], gcs=gc_time[2], gc_gen=list(gc_gen),
                  gc_counts=[s["collections"] for s in gc.get_stats()])
        elif cmd["cmd"] == "rss":
            reply(rss_mb=rss_mb(), peak_rss_mb=peak_rss_mb())
        elif cmd["cmd"] == "stop":
            t0 = time.perf_counter()
            await stop()
            reply(stopped=True, stop_seconds=time.perf_counter() - t0, rss_mb=rss_mb(),
                  peak_rss_mb=peak_rss_mb())
            return


def member_row(i: int) -> tuple[int, str, str]:
    """The i-th seeded member: (telegram id, name, locale)."""
    return FIRST_USER + i, member_name(i), LOCALES[i % len(LOCALES)]


async def seed_members(db, n: int, nominees: list | None = None, tasks: list | None = None) -> None:
    """N members of the (only) community, inserted with SQL through the app's Database; then
    ``nominees`` ((member index, category): the election's candidates) nominated through the
    app's own storage, each nomination accepted; ``tasks`` ((title, start in days from today or
    None, days, needs): the plan's) added to the chosen problem's plan through the app's storage,
    proposed by the facilitator."""
    from datetime import date, datetime, timedelta, timezone

    from bot.flows.problems import normalize
    from bot.storage import nominations, plan, problems

    async with db.transaction() as tx:
        community_id = await tx.scalar("SELECT id FROM communities ORDER BY id LIMIT 1")
        base = int(await tx.scalar("SELECT COALESCE(MAX(id), 0) FROM members")) + 1
        rows = [member_row(i) for i in range(n)]
        await tx.executemany(
            "INSERT INTO members (id, name, locale, consent_at, active_community, created_at)"
            " VALUES (?, ?, ?, 'now', ?, 'now')",
            [(base + i, name, locale, community_id) for i, (_, name, locale) in enumerate(rows)])
        await tx.executemany("INSERT INTO identities VALUES ('telegram', ?, ?, 'now')",
                             [(str(tg_id), base + i) for i, (tg_id, _, _) in enumerate(rows)])
        await tx.executemany("INSERT INTO memberships (community_id, member_id, role, joined_at)"
                             " VALUES (?, ?, 'member', 'now')", [(community_id, base + i) for i in range(n)])
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for i, category in nominees or []:  # nominated themselves, so accepted by doing so
            await nominations.add(tx, community_id, base + i, category, base + i, now, accepted=True)
        if tasks:
            problem = await problems.chosen(tx, community_id)
            facilitator = await tx.scalar("SELECT member_id FROM memberships WHERE community_id = ? AND role ="
                                          " 'facilitator' ORDER BY member_id LIMIT 1", (community_id,))
            today = date.today()
            for title, start, days, needs in tasks:
                span = (None, None) if start is None else (today + timedelta(days=start),
                                                           today + timedelta(days=start + days))
                await plan.add(tx, community_id, problem.id, title, normalize(title), *span, needs, facilitator, now)


# ============================================================================ the driver side
class Child:
    """A bot process, spoken to with JSON lines."""

    def __init__(self, kind: str, api: str, db: str, args: argparse.Namespace, workdir: str) -> None:
        self.kind = kind
        self.log_path = os.path.join(workdir, f"{kind}.log")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--api", api, "--db", db,
               "--edit-interval", str(args.edit_interval), "--polling-timeout", str(args.polling_timeout),
               "--log-level", args.log_level]
        if args.double_tap is not None:
            cmd += ["--double-tap", str(args.double_tap)]
        for experiment in args.experiment or []:
            cmd += ["--experiment", experiment]
        self.cmd = cmd
        self.proc: asyncio.subprocess.Process | None = None
        self.pid = 0

    async def start(self) -> dict:
        self._log = open(self.log_path, "w")
        self.proc = await asyncio.create_subprocess_exec(
            *self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, cwd=str(ROOT),
            limit=1 << 20)
        ready = await self.read(timeout=60)
        self.pid = ready["pid"]
        return ready

    async def read(self, timeout: float = 120) -> dict:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"the {self.kind} bot process ended; see {self.log_path}:\n"
                               + Path(self.log_path).read_text()[-3000:])
        return json.loads(line)

    async def ask(self, timeout: float = 120, **cmd) -> dict:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()
        return await self.read(timeout)

    async def stop(self) -> dict:
        answer = await self.ask(cmd="stop", timeout=60)
        await asyncio.wait_for(self.proc.wait(), 30)
        self._log.close()
        return answer

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


async def set_up_village(tg) -> tuple[object, object]:
    """Facilitator onboards, creates the community, links the group, proposes the problems."""
    aigerim = tg.user(1, "Айгерим", "kk")
    choose = await say(tg, aigerim, "/start")
    tg.press_button(aigerim, choose, "қазақша")
    consent = await tg.next_message(aigerim.id)
    tg.press_button(aigerim, consent, "Келісемін")
    ask = await tg.next_message(aigerim.id)
    tg.press_button(aigerim, ask, aigerim.first_name)
    await tg.next_message(aigerim.id)  # the greeting
    await tg.next_message(aigerim.id)  # the menu
    await say(tg, aigerim, "/new")
    await say(tg, aigerim, "Көктерек ауылы")
    created = await say(tg, aigerim, "Талғар ауданы", contains="start=")  # Asia/Almaty, the default
    code = re.search(r"start=([A-Z0-9]+)", created["text"]).group(1)
    group = tg.group(GROUP_ID, "Көктерек", with_bot=True)
    await say(tg, aigerim, f"/link {code}", group)
    for text in PROBLEMS:
        await say(tg, aigerim, f"/propose {text}")
    return aigerim, group


async def burst(tg, child: Child, feed, n_updates: int, args: argparse.Namespace,
                profile_tag: str | None) -> dict:
    """Queue the updates (``await feed()``), wait until all are answered; return the measurements."""
    answers_before = len(tg.callback_answers)
    mark = tg.mark()
    spy = None
    if profile_tag and args.profile == "cprofile":
        await child.ask(cmd="profile_on")
    elif profile_tag and args.profile == "pyspy":
        spy = start_pyspy(child.pid, args, profile_tag)
        await asyncio.sleep(1.0)  # py-spy attaches
    if args.count_sql and child.kind == "ours":
        await child.ask(cmd="sql_on")
    gc0 = await child.ask(cmd="gc")
    bot_cpu0, fake_cpu0, all_cpu0 = cpu_seconds(child.pid), cpu_seconds(), machine_busy_seconds()
    import gc

    gc.collect()
    gc.freeze()  # the fake's records so far (in this process): not walked by its collections during the burst
    t_first = time.monotonic()
    queued = await feed()
    t_pushed = time.monotonic()
    deadline = t_first + args.timeout
    while len(tg.callback_answers) - answers_before < n_updates and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    bot_cpu1, fake_cpu1, all_cpu1 = cpu_seconds(child.pid), cpu_seconds(), machine_busy_seconds()
    idle = await child.ask(cmd="idle", timeout=max(30.0, deadline - time.monotonic() + 30))
    bot_cpu2 = cpu_seconds(child.pid)
    sql = await child.ask(cmd="sql_off") if args.count_sql and child.kind == "ours" else None
    if spy is not None:
        stop_pyspy(spy)
    if profile_tag and args.profile == "cprofile":
        await child.ask(cmd="profile_off", path=os.path.join(args.profile_dir, f"{profile_tag}.prof"))
    answered_at: dict[str, float] = {}
    calls = tg.calls(since=mark)
    answer_calls = Counter()
    for call in calls:
        if call.method.lower() == "answercallbackquery":
            cb = call.params.get("callback_query_id")
            answer_calls[cb] += 1
            if call.ok:
                answered_at.setdefault(cb, call.time)
    latencies = sorted(answered_at[cb] - t for cb, t, _ in queued if cb in answered_at)
    if args.latencies and child.kind == "ours":
        with open(args.latencies, "w") as out:  # queued at (s from the first), latency (s): where the tail comes from
            json.dump({"first_queued": t_first,  # time.monotonic(), the same clock as the bot's log of checkpoints
                       "taps": [(t - t_first, answered_at[cb] - t) for cb, t, _ in queued if cb in answered_at]}, out)
    t_last = max(answered_at.values()) if answered_at else time.monotonic()
    wall = t_last - t_first
    methods = Counter(c.method for c in calls)
    failed = [c for c in calls if not c.ok]
    return {
        "updates": n_updates, "answered": len(latencies), "wall": wall, "push_seconds": t_pushed - t_first,
        "rate": len(latencies) / wall if wall > 0 else float("nan"),
        "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "p99": percentile(latencies, 99),
        "max": latencies[-1] if latencies else float("nan"),
        "bot_cpu": bot_cpu1 - bot_cpu0, "fake_cpu": fake_cpu1 - fake_cpu0,
        "other_cpu": max(0.0, (all_cpu1 - all_cpu0) - (bot_cpu1 - bot_cpu0) - (fake_cpu1 - fake_cpu0)),
        "loadavg": loadavg(),
        "gc": idle["gc"] - gc0["gc"], "gcs": idle["gcs"] - gc0["gcs"],
        "gc_gen": " / ".join(f"{c1 - c0:,} in {t1 - t0:.1f} s" for c0, c1, t0, t1 in
                             zip(gc0["gc_counts"], idle["gc_counts"], gc0["gc_gen"], idle["gc_gen"])),
        "busy_after": idle["busy"], "idle": idle["idle_at"] - t_first, "bot_cpu_to_idle": bot_cpu2 - bot_cpu0,
        "methods": dict(methods), "failed": [str(c) for c in failed[:5]], "n_failed": len(failed),
        "double_answers": sum(1 for v in answer_calls.values() if v > 1),
        "queued": queued, "answered_at": answered_at, "sql": sql,
    }


def start_pyspy(pid: int, args: argparse.Namespace, tag: str):
    exe = args.pyspy or "py-spy"
    out = os.path.join(args.profile_dir, f"{tag}.pyspy.txt")
    cmd = [exe, "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "--threads", "--idle",
           "--nonblocking", "-o", out]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, out


def stop_pyspy(spy) -> None:
    proc, _ = spy
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


async def driver(args: argparse.Namespace) -> int:
    from tests.fakes import FakeTelegram

    workdir = tempfile.mkdtemp(prefix="qatysu-vote-burst-")
    args.profile_dir = args.profile_dir or workdir
    db_path = os.path.join(workdir, "bench.db")
    n = args.members
    ballot = BALLOTS[args.ballot](n, args.seed)
    for line in ballot.header(n, args.rate):
        print(line)
    print(f"machine: {machine()}")
    print(f"work dir: {workdir}")
    if args.experiment:
        print(f"EXPERIMENT (not the shipped code): {', '.join(args.experiment)}")
    t_setup = time.perf_counter()
    children: list[Child] = []
    try:
        async with FakeTelegram(token=TOKEN, bot_username=BOT_USERNAME) as tg:
            ours = Child("ours", tg.base_url, db_path, args, workdir)
            children.append(ours)
            ready = await ours.start()
            aigerim, group = await set_up_village(tg)
            await ballot.prepare(tg, aigerim, group)  # the plan: /choose 1
            seeded = await ours.ask(cmd="seed", n=n, nominees=getattr(ballot, "nominees", None),
                                    tasks=getattr(ballot, "tasks", None))
            users = [tg.user(tg_id, name, locale) for tg_id, name, locale in map(member_row, range(n))]
            opened = await ballot.open(tg, aigerim, group, users)
            if ballot.private:
                await ours.ask(cmd="idle")  # every first question remembered before anyone answers it
            before = await ours.ask(cmd="rss")
            print(f"set-up: {time.perf_counter() - t_setup:.1f} s (members inserted in {seeded['seconds']:.2f} s"
                  f"{opened}); bot RSS at start {ready['rss_mb']:.0f} MB, before the burst {before['rss_mb']:.0f} MB")

            n_updates = ballot.per_member * n
            if ballot.private:  # Telegram's limits, as the fake models them (its docstring): none may be refused
                tg.enforce_limits(per_chat_per_sec=1, group_per_min=20, global_per_sec=30)
            own0, refused0 = tg.own_tap_edits, tg.count_429
            mine = await burst(tg, ours, lambda: ballot.feed(tg, users, args), n_updates, args,
                               "ours" if args.profile else None)
            if ballot.private:
                mine["own_tap_edits"], mine["n_429"] = tg.own_tap_edits - own0, tg.count_429 - refused0
            stopped = await ours.stop()
            mine["peak_rss"] = stopped["peak_rss_mb"]
            mine["rss_before"] = before["rss_mb"]
            checks = await ballot.check(tg, db_path, users, mine)

            # --- the framework's ceiling
            bare = Child("bare", tg.base_url, db_path, args, workdir)
            children.append(bare)
            await bare.start()
            ceiling = await burst(tg, bare, lambda: ballot.replay(tg, users, args), n_updates, args,
                                  "bare" if args.profile else None)
            stopped = await bare.stop()
            ceiling["peak_rss"] = stopped["peak_rss_mb"]
            checks.append((ceiling["answered"] == ceiling["updates"], "bare dispatcher answered every update",
                           f"{ceiling['answered']}/{ceiling['updates']}"))
    finally:
        for child in children:
            child.kill()

    report(args, mine, ceiling, checks, ballot.notes())
    if not args.keep and not args.profile:
        shutil.rmtree(workdir, ignore_errors=True)
    if mine.get("sql"):
        n = mine["updates"]
        hops = mine["sql"]["hops"]
        total = sum(c for _, c in hops)
        print(f"\naiosqlite round trips to its thread during the burst: {total:,} = {total / n:.1f} per update ("
              + ", ".join(f"{name} {c / n:.1f}" for name, c in hops) + ")")
        counts = mine["sql"]["counts"]
        total = sum(c for _, c in counts)
        print(f"SQL statements (sqlite trace; executemany rows and trigger bodies count one each): "
              f"{total:,} = {total / n:.1f} per update")
        for statement, count in counts[:30]:
            print(f"  {count / n:6.2f}/update  {statement}")
    if args.profile == "pyspy":
        for tag in ("ours", "bare"):
            path = os.path.join(args.profile_dir, f"{tag}.pyspy.txt")
            if os.path.exists(path):
                summarise_pyspy(path, tag)
    elif args.profile == "cprofile":
        print(f"\ncProfile dumps (main thread only): {args.profile_dir}/ours.prof, bare.prof "
              "(python -m pstats FILE)")
    return 0 if all(ok for ok, _, _ in checks) else 1


def report(args, mine: dict, ceiling: dict, checks, notes: list[str]) -> None:
    ratio = mine["rate"] / ceiling["rate"] if ceiling["rate"] else float("nan")
    rows = [
        ("updates answered", f"{mine['answered']:,}/{mine['updates']:,}", f"{ceiling['answered']:,}/{ceiling['updates']:,}"),
        ("updates/s", f"{mine['rate']:,.0f}", f"{ceiling['rate']:,.0f}"),
        ("first queued → last answered", f"{mine['wall']:.2f} s", f"{ceiling['wall']:.2f} s"),
        ("latency p50", fmt_ms(mine["p50"]), fmt_ms(ceiling["p50"])),
        ("latency p95", fmt_ms(mine["p95"]), fmt_ms(ceiling["p95"])),
        ("latency p99", fmt_ms(mine["p99"]), fmt_ms(ceiling["p99"])),
        ("latency max", fmt_ms(mine["max"]), fmt_ms(ceiling["max"])),
        ("handlers still busy at the last answer", f"{mine['busy_after']:,}", f"{ceiling['busy_after']:,}"),
        ("first queued → bot idle", f"{mine['idle']:.2f} s", f"{ceiling['idle']:.2f} s"),
        ("bot CPU during the burst", f"{mine['bot_cpu']:.1f} s ({mine['bot_cpu'] / mine['wall']:.0%} of a core)",
         f"{ceiling['bot_cpu']:.1f} s ({ceiling['bot_cpu'] / ceiling['wall']:.0%} of a core)"),
        ("bot CPU per update (until idle)", f"{mine['bot_cpu_to_idle'] / max(1, mine['answered']) * 1e6:,.0f} µs",
         f"{ceiling['bot_cpu_to_idle'] / max(1, ceiling['answered']) * 1e6:,.0f} µs"),
        ("updates per bot CPU-second", f"{mine['answered'] / max(1e-9, mine['bot_cpu_to_idle']):,.0f}",
         f"{ceiling['answered'] / max(1e-9, ceiling['bot_cpu_to_idle']):,.0f}"),
        ("bot time in garbage collection", f"{mine['gc']:.1f} s ({mine['gcs']:,} collections)",
         f"{ceiling['gc']:.1f} s ({ceiling['gcs']:,} collections)"),
        ("  by generation 0 / 1 / 2", mine["gc_gen"], ceiling["gc_gen"]),
        ("fake API CPU (driver process)", f"{mine['fake_cpu']:.1f} s", f"{ceiling['fake_cpu']:.1f} s"),
        ("other processes' CPU meanwhile", f"{mine['other_cpu']:.1f} s", f"{ceiling['other_cpu']:.1f} s"),
        ("load average after", mine["loadavg"], ceiling["loadavg"]),
        ("bot peak RSS (ru_maxrss)", f"{mine['peak_rss']:.0f} MB", f"{ceiling['peak_rss']:.0f} MB"),
        ("time to queue the updates", f"{mine['push_seconds']:.2f} s", f"{ceiling['push_seconds']:.2f} s"),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows + [("", "Qatysu bot", "")])
    print()
    print(f"{'':{w0}}  {'Qatysu bot':>{w1}}  bare aiogram (ceiling)")
    for name, a, b in rows:
        print(f"{name:{w0}}  {a:>{w1}}  {b}")
    print()
    print("Bot API calls by the bot during the burst: "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(mine["methods"].items())))
    for line in notes:
        print(line)
    print(f"bot RSS before the burst: {mine['rss_before']:.0f} MB")
    met = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    print(f"goal ≥ {GOAL_RATE:,.0f} vote updates/s: {mine['rate']:,.0f}/s — {met(mine['rate'] >= GOAL_RATE)}")
    print(f"goal ratio to the bare dispatcher ≥ {GOAL_RATIO}: {ratio:.2f} — {met(ratio >= GOAL_RATIO)}")
    triple = lambda m: " / ".join(fmt_ms(m[p]) for p in ("p50", "p95", "p99"))  # noqa: E731
    print(f"tap-to-toast p50 / p95 / p99 ({args.ballot}{f', paced at {args.rate:,.0f}/s' if args.rate else ''}): "
          f"{triple(mine)} (bare aiogram {triple(ceiling)}); CPU per update "
          f"{mine['bot_cpu_to_idle'] / max(1, mine['answered']) * 1e6:,.0f} µs "
          f"(bare {ceiling['bot_cpu_to_idle'] / max(1, ceiling['answered']) * 1e6:,.0f} µs)")
    if args.rate >= GOAL_RATE:
        print(f"goal tap-to-toast p99 ≤ {GOAL_P99 * 1000:.0f} ms at a paced {GOAL_RATE:,.0f} taps/s: "
              f"{fmt_ms(mine['p99'])} — {met(mine['p99'] <= GOAL_P99)}")
    edits = mine["methods"].get("editMessageText", 0)
    if edits and mine.get("own_tap_edits") is not None:  # private ballots: the fake enforced Telegram's limits
        print(f"edits: {edits:,}, of which {mine['own_tap_edits']:,} answered the member's own press (not counted "
              f"against 30/s by the fake, no slot of the bot's pacer); 429s: {mine['n_429']:,}")
    other = max(mine["other_cpu"] / mine["wall"], ceiling["other_cpu"] / ceiling["wall"])
    if other > 0.25:
        print(f"WARNING: other processes kept {other:.1f} of the {os.cpu_count()} cores busy during a burst; "
              "the figures are lower than on an idle machine (see 'updates per bot CPU-second').")
    print()
    for ok, name, detail in checks:
        print(f"{verdict(ok)}  {name}: {detail}")


IDLE_LEAVES = ("EpollSelector.select", "aiosqlite/core.py:59", "concurrent/futures/thread.py:83",
               "Condition.wait", "Event.wait")


def summarise_pyspy(path: str, tag: str, top: int = 22) -> None:
    """Collapsed stacks (``--idle --threads``) → per thread busy/idle shares; the main thread's
    heaviest frames (inclusive and self), the other threads' busiest lines."""
    stacks: list[tuple[list[str], int]] = []
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    threads: Counter[str] = Counter()
    busy: Counter[str] = Counter()
    for frames, count in stacks:
        threads[frames[0]] += count
        if not any(marker in frames[-1] for marker in IDLE_LEAVES):
            busy[frames[0]] += count
    main = next((t for t in threads if "MainThread" in t), "")
    print(f"\npy-spy ({tag}), per thread: busy share of its samples (idle = waiting in epoll / a queue):")
    for thread, count in threads.most_common():
        print(f"    {thread}: {busy[thread] / count:.0%} busy of {count:,} samples")
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total_main = threads[main]
    for frames, count in stacks:
        if frames[0] != main:
            continue
        seen = set()
        for f in frames[1:]:
            name = short_frame(f)
            if name not in seen:
                inclusive[name] += count
                seen.add(name)
        leaf[short_frame(frames[-1])] += count
    print("  main thread by component (a sample goes to the innermost component on its stack):")
    components: Counter[str] = Counter()
    for frames, count in stacks:
        if frames[0] == main:
            components[component(frames)] += count
    for name, c in components.most_common():
        print(f"    {c / total_main:6.1%}  {name}")
    skip = ("<module>", "main (", "run (", "Runner.run", "run_until_complete", "run_forever")
    print("  main thread, inclusive (share of all its samples, idle included):")
    shown = 0
    for name, c in inclusive.most_common():
        if any(name.startswith(k) or k in name for k in skip):
            continue
        print(f"    {c / total_main:6.1%}  {name}")
        shown += 1
        if shown >= top:
            break
    print("  main thread, self:")
    for name, c in leaf.most_common(15):
        print(f"    {c / total_main:6.1%}  {name}")
    for thread, count in threads.most_common():
        if thread == main:
            continue
        lines: Counter[str] = Counter()
        for frames, c in stacks:
            if frames[0] == thread:
                lines[short_frame(frames[-1], keep_line=True)] += c
        print(f"  {thread}, where it is:")
        for name, c in lines.most_common(5):
            print(f"    {c / count:6.1%}  {name}")
    print(f"  raw collapsed stacks: {path}")


COMPONENTS = (  # (marker in a frame, component), matched from the innermost frame outwards
    ("EpollSelector.select", "idle (waiting for the DB thread or the network)"),
    ("Logger.", "logging"),
    ("Handler.emit", "logging"),
    ("aiosqlite/", "aiosqlite calls (hand-over to its thread, futures)"),
    ("_read_from_self", "event loop: wake-ups from the DB thread (self-pipe)"),
    ("TelegramMethod.emit", "Bot API requests (answerCallbackQuery, edits)"),
    ("TelegramUpdates._answer", "Bot API requests (answerCallbackQuery, edits)"),
    ("TelegramSender.edit", "Bot API requests (answerCallbackQuery, edits)"),
    ("on_callback (vote_burst", "Bot API requests (answerCallbackQuery, edits)"),
    ("Engine.handle", "engine: the flows' own Python (SQL excluded)"),
    ("Delivery.deliver", "delivery: group edit (its own transaction, throttle)"),
    ("DurablePolling._flush", "inbox clean-up"),
    ("DurablePolling._poll", "getUpdates, parsing, inbox write"),
    ("read (bot/handlers/telegram_updates", "getUpdates, parsing, inbox write"),
    ("Dispatcher._listen_updates", "getUpdates, parsing"),
    ("Dispatcher.feed_update", "aiogram dispatch (middlewares, routers, filters)"),
    ("OutboxWorker", "outbox"),
    ("Scheduler", "scheduler"),
)


def component(frames: list[str]) -> str:
    for frame in reversed(frames[1:]):
        for marker, name in COMPONENTS:
            if marker in frame:
                return name
    return "event loop, other"


def short_frame(frame: str, keep_line: bool = False) -> str:
    m = re.match(r"(.*) \((.*?)(:\d+)?\)$", frame.strip())
    if not m:
        return frame.strip()
    func, file = m.group(1), m.group(2)
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{func} ({file}{(m.group(3) or '') if keep_line else ''})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1000, help="members tapping (default 1000; try 10000)")
    parser.add_argument("--ballot", choices=sorted(BALLOTS), default="dots",
                        help="dots: stickers in the group (default); election: the ҚМҰТ election in the "
                             "group; plan: the action plan's approval in the group; matrix, pairwise, "
                             "evaluation: in private chats")
    parser.add_argument("--rate", type=float, default=0,
                        help="queue the updates at this many per second instead of all at once")
    parser.add_argument("--edit-interval", type=float, default=3.0,
                        help="seconds between edits of one group message (production: 3)")
    parser.add_argument("--polling-timeout", type=int, default=30, help="long-polling timeout (production: 30)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="the bot's logging level (qatysu run: INFO)")
    parser.add_argument("--timeout", type=float, default=170.0,
                        help="give up on a burst after this many seconds (default 170)")
    parser.add_argument("--double-tap", type=float,
                        help="the bot's double-tap window in seconds (default: the app's own)")
    parser.add_argument("--experiment", action="append", choices=["gc-freeze", "eager-aiogram", "render-in-thread", "no-wal-restart", "log-checkpoints", "no-checkpoints"],
                        help="what-if runs, not the shipped code: gc.freeze() after start-up (the "
                             "bare bot; ours does it already); every aiogram type built at import; "
                             "charts drawn in a thread of the bot's process "
                             "instead of its drawing process (our bot); no WAL restart while writers "
                             "wait, passive checkpoints only (our bot); each WAL checkpoint's time in the "
                             "bot's log (our bot). Repeatable.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the work dir (database, bot logs)")
    parser.add_argument("--profile", choices=["pyspy", "cprofile"], help="profile the bot during each burst")
    parser.add_argument("--count-sql", action="store_true",
                        help="count the SQL statements the bot runs during the burst (sqlite trace)")
    parser.add_argument("--pyspy", help="path of the py-spy executable (default: py-spy on PATH)")
    parser.add_argument("--profile-dir", help="where profiles go (default: the work dir)")
    parser.add_argument("--latencies", help="write our bot's per-update (queued at, latency) pairs to this JSON file")
    parser.add_argument("--child", choices=["ours", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rate > 0 and BALLOTS[args.ballot].private:
        parser.error("--rate paces the group ballots' bursts only; private ballots are answered one update per member at a time")
    if args.child:
        asyncio.run(child_main(args))
        return 0
    return asyncio.run(driver(args))


if __name__ == "__main__":
    sys.exit(main())
