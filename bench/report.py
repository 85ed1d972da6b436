"""/report for a big community while its members vote: seconds to build the PDF, its size, and
how fast the bot answers the taps that arrive meanwhile.

    python bench/report.py                       # 1,000 members, 3 reports during 150 taps/s
    python bench/report.py --rate 200 --runs 5   # more taps a second, more reports
    python bench/report.py --keep /tmp/report.pdf --profile pyspy

What runs: the bot as ``qatysu run`` runs it (``TelegramApp``: aiogram's polling, the flows, the
delivery) in a child process, against the fake Bot API over HTTP in this process — the
machinery and the set-up of ``vote_burst.py``: a facilitator onboards, creates the community,
links the group and proposes 5 problems; the N members are inserted with SQL; the facilitator
opens the sticker ballot with ``/poll dots`` in the group. Then the rest of a finished cycle is
written in the bot process with the app's storage (``populate``, not measured): 25 more problems
(30 in all) with a closed sticker ballot on all 30 in which every member placed 3 stickers, the
problem chosen, 40 problem-tree nodes, 30 scheduled tasks with owners and 300 check-ins (late and
blocked now and then), 10 organisations every member rated, 20 resources.

The measurement: every member taps the group's open ballot five times (``vote_burst.py``'s
dots burst: placed, placed, placed, taken back, placed elsewhere), paced at ``--rate`` taps a
second (5,000 taps at 150/s: 33 s). Meanwhile the facilitator sends ``/report`` in private
``--runs`` times, spread over the burst; the flow reads and words the cycle in its transaction,
the delivery renders every chart and the PDF in its drawing process and sends the document. A
build lasts from ``/report`` queued to the fake's record of ``sendDocument``.

A tap's latency is from its update queued to the fake's record of its ``answerCallbackQuery``
(the toast). Taps are counted by when they were queued: during a build, in the second after one
(the backlog, printed apart), or in the baseline (every other tap of the same run: before the
first build and between builds). The first build is the first chart the bot draws since it started: it
imports matplotlib and fpdf2 on the event loop and starts the drawing process; the builds after it
are printed together too. Printed: each build's seconds, the taps inside it and the CPU meanwhile; latency
p50/p95/p99/max of each window and the ratio build/baseline; where the bot spent its CPU; the
machine's load.

Checks: every report came as a PDF under 3 MB, each built in under 5 s; tap p99 during the
builds under 200 ms; taps fell inside every build; and ``vote_burst.py``'s checks of the burst:
every member's stored stickers equal the plan, the trigger-kept counts and turnout are right,
every tap answered exactly once with the expected toast, no call failed, the group message ends
with the final counts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ballots import Dots, fmt_ms, queue_all  # noqa: E402
from _common import (BOT_USERNAME, TOKEN, cpu_seconds, loadavg, machine, machine_busy_seconds,  # noqa: E402
                     percentile, verdict)

PROBLEMS, TREE_NODES, TASKS, CHECKINS_PER_TASK, ORGS, RESOURCES = 30, 40, 30, 10, 10, 20
GOAL_SECONDS, GOAL_P99_MS, MAX_BYTES = 5.0, 200.0, 3 * 1024 * 1024
SETTLE = 1.0  # seconds after a build whose taps are printed apart (the backlog drains)


# ============================================================================ in the bot process
# Called by vote_burst.py's child (``{"cmd": "call", "fn": "report:populate"}``) with the app.

async def populate(app, seed: int) -> dict:
    """The rest of a finished cycle, written with the app's storage in one transaction: problems up
    to 30 with a closed sticker ballot every member voted in, the choice, the tree, the plan with
    its check-ins, the organisations rated by every member, the resources."""
    from bot.storage import ballots, checkins, plan, problems, resources, tree

    rng = random.Random(seed)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")

    async def write(tx) -> dict:
        community = await tx.scalar("SELECT id FROM communities ORDER BY id LIMIT 1")
        ids = [r[0] for r in await tx.all("SELECT member_id FROM memberships WHERE community_id = ? AND role ="
                                          " 'member' ORDER BY member_id", (community,))]
        found = list(await problems.listed(tx, community))  # the village's, on the open ballot
        for n in range(len(found) + 1, PROBLEMS + 1):
            found.append(await problems.add(tx, community, f"Мәселе {n}: ауылдағы жол мен су құбыры жөндеуді "
                                            "қажет етеді", f"p{n}", ids[n], now))
        ballot = await ballots.open_ballot(tx, community, "dots", [p.id for p in found], stickers=3,
                                           per_option=3, visibility="live", closes_at=None, opened_by=ids[0],
                                           now=now)
        for member_id in ids:
            for problem in rng.sample(found, 3):
                await ballots.set_stickers(tx, ballot.id, member_id, problem.id, 1)
        await ballots.close(tx, ballot.id, now)
        chosen = found[5]  # not one of the open ballot's
        await problems.choose(tx, community, chosen.id, ids[0], now)
        parents: dict[str, list[int]] = {"cause": [], "effect": []}
        for n in range(TREE_NODES):
            kind = "cause" if n % 2 else "effect"
            parent = rng.choice(parents[kind]) if parents[kind] and n > 10 else None
            node = await tree.add(tx, community, chosen.id, kind, parent,
                                  f"Себеп не салдар {n + 1}: мектептің жылуы жоқ", f"t{n}", ids[n], now)
            parents[kind].append(node.id)
        start = date.today()
        for n in range(TASKS):
            task = await plan.add(tx, community, chosen.id, f"Міндет {n + 1}: құбырды ауыстыру", f"k{n}",
                                  start + timedelta(days=n), start + timedelta(days=n + 14), "құбыр, күрек",
                                  ids[n], now)
            await plan.set_owner(tx, task, ids[n])
            for k in range(CHECKINS_PER_TASK):  # late and blocked now and then, as the episodes are listed
                status = ("on_track", "late", "on_track", "blocked", "on_track")[(n + k) % 5]
                await checkins.add(tx, task, ids[n], status, min(100, 10 * k), f"Есеп {k + 1}: құбыр жеткізілді",
                                   None, now)
        for n in range(ORGS):
            org = await resources.add_org(tx, community, f"Ұйым {n + 1}", f"o{n}", ids[n], now)
            for member_id in ids:
                await resources.rate(tx, org, member_id, rng.randint(1, 3), rng.randint(1, 3))
        for n in range(RESOURCES):
            await resources.add_resource(tx, community, "materials", f"Ресурс {n + 1}", "мектеп", "ауыл", ids[n], now)
        return {"problems": len(found), "tree": TREE_NODES, "tasks": TASKS, "checkins": TASKS * CHECKINS_PER_TASK,
                "members": len(ids)}

    return await app.db.atomic(write)


GATHERED: list[float] = []  # seconds each /report spent reading and wording, in its transaction on the loop


async def time_gather(app) -> None:
    """Time ``bot.flows.report.gather`` (the part of /report done on the event loop) from now on."""
    from bot.flows import report as flow

    original = flow.gather

    async def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            GATHERED.append(time.perf_counter() - started)

    flow.gather = timed


async def gathered(app) -> list[float]:
    return GATHERED


# ============================================================================ the driver
def children_cpu(pid: int) -> float:
    """CPU seconds of a process's children alive now (the bot's drawing process)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += cpu_seconds(child)
            except OSError:  # gone meanwhile
                pass
    return total


async def ask_report(tg, facilitator, bot_pid: int, timeout: float) -> dict:
    """``/report`` in the facilitator's private chat; wait for the document. With the CPU the bot,
    its children and the whole machine spent meanwhile."""
    mark = tg.mark()
    cpu0 = (cpu_seconds(bot_pid), children_cpu(bot_pid), machine_busy_seconds())
    sent = time.monotonic()
    tg.send(facilitator, "/report")

    def document(call) -> bool:
        return call.ok and call.method.lower() == "senddocument" and call.message["chat_id"] == facilitator.id

    call = await tg.wait_for(document, timeout, since=mark, what="the report's document")
    bot, children, busy = (b - a for a, b in zip(cpu0, (cpu_seconds(bot_pid), children_cpu(bot_pid),
                                                        machine_busy_seconds())))
    preparing = [c for c in tg.calls(since=mark) if c.ok and c.method.lower() == "sendmessage"
                 and c.message["chat_id"] == facilitator.id and c.index < call.index]
    return {"sent": sent, "done": call.time, "seconds": call.time - sent, "pdf": bytes(call.message["document"]),
            "filename": call.message["filename"], "preparing": len(preparing), "bot_cpu": bot,
            "children_cpu": children, "machine_cpu": busy}


def window_stats(latencies: list[float]) -> dict:
    latencies = sorted(latencies)
    return {"taps": len(latencies), **{f"p{p}": percentile(latencies, p) for p in (50, 95, 99)},
            "max": latencies[-1] if latencies else float("nan")}


def split_taps(queued, answered_at: dict, builds: list[dict]) -> tuple[dict, dict, dict, dict, list[dict]]:
    """Tap latencies by when each was queued: during a build, during the builds after the first
    (the bot's first report imports matplotlib and fpdf2), in the second after one, or the
    baseline (the rest); and those of each build."""
    during, after, baseline = [], [], []
    inside: list[list[float]] = [[] for _ in builds]
    for cb, at, _ in queued:
        if cb not in answered_at:
            continue
        latency = answered_at[cb] - at
        k = next((k for k, b in enumerate(builds) if b["sent"] <= at <= b["done"]), None)
        if k is not None:
            during.append(latency)
            inside[k].append(latency)
        elif any(b["done"] < at <= b["done"] + SETTLE for b in builds):
            after.append(latency)
        else:
            baseline.append(latency)
    later = [latency for latencies in inside[1:] for latency in latencies]
    return (window_stats(baseline), window_stats(during), window_stats(later), window_stats(after),
            [window_stats(i) for i in inside])


async def driver(args: argparse.Namespace) -> int:
    from tests.fakes import FakeTelegram
    from vote_burst import Child, burst, member_row, set_up_village, summarise_pyspy

    workdir = tempfile.mkdtemp(prefix="qatysu-report-")
    args.profile_dir = args.profile_dir or workdir
    db_path = os.path.join(workdir, "bench.db")
    n = args.members
    ballot = Dots(n, args.seed)
    n_taps = ballot.per_member * n
    duration = n_taps / args.rate
    print(f"report: {n:,} members, {PROBLEMS} problems, {TREE_NODES} tree nodes, {TASKS} tasks with "
          f"{TASKS * CHECKINS_PER_TASK} check-ins; /report {args.runs} times during {n_taps:,} taps on the group's "
          f"sticker ballot at {args.rate:,.0f}/s ({duration:.0f} s)")
    print(f"machine: {machine()}")
    print(f"load average before: {loadavg()}")
    print(f"work dir: {workdir}")
    if args.experiment:
        print(f"EXPERIMENT (not the shipped code): {', '.join(args.experiment)}")
    t_setup = time.perf_counter()
    ours = None
    try:
        async with FakeTelegram(token=TOKEN, bot_username=BOT_USERNAME) as tg:
            ours = Child("ours", tg.base_url, db_path, args, workdir)
            ready = await ours.start()
            aigerim, group = await set_up_village(tg)
            seeded = await ours.ask(cmd="seed", n=n)
            users = [tg.user(tg_id, name, locale) for tg_id, name, locale in map(member_row, range(n))]
            await ballot.open(tg, aigerim, group, users)
            filled = await ours.ask(cmd="call", fn="report:populate", kwargs={"seed": args.seed}, timeout=600)
            await ours.ask(cmd="call", fn="report:time_gather")
            before = await ours.ask(cmd="rss")
            print(f"set-up: {time.perf_counter() - t_setup:.1f} s (members inserted in {seeded['seconds']:.2f} s, "
                  f"the cycle written in {filled['seconds']:.1f} s: {filled['result']}); bot RSS at start "
                  f"{ready['rss_mb']:.0f} MB, before the burst {before['rss_mb']:.0f} MB")

            builds: list[dict] = []

            async def feed():
                """The taps, paced; the reports spread over them (each after the last came)."""
                taps = asyncio.create_task(queue_all(tg, ballot.presses, args.rate))
                t0 = time.monotonic()
                try:
                    for k in range(args.runs):
                        await asyncio.sleep(max(0.0, t0 + duration * (k + 1) / (args.runs + 1) - time.monotonic()))
                        builds.append(await ask_report(tg, aigerim, ours.pid, args.timeout))
                finally:
                    queued = await taps
                return queued

            mine = await burst(tg, ours, feed, n_taps, args, "ours" if args.profile else None)
            read = (await ours.ask(cmd="call", fn="report:gathered"))["result"]
            stopped = await ours.stop()
            checks = await ballot.check(tg, db_path, users, mine)
    finally:
        if ours is not None:
            ours.kill()

    if args.keep and builds:
        Path(args.keep).write_bytes(builds[-1]["pdf"])
    baseline, during, later, after, inside = split_taps(mine["queued"], mine["answered_at"], builds)
    seconds = [b["seconds"] for b in builds]
    size = max(len(b["pdf"]) for b in builds)
    print()
    print(f"/report built and sent in {statistics.median(seconds):.2f} s (median; "
          f"{', '.join(f'{s:.2f}' for s in seconds)} s), PDF {size / 1024:.0f} KiB; read and worded in the "
          f"transaction on the event loop: {statistics.median(read) * 1000:.0f} ms (median of "
          f"{', '.join(f'{r * 1000:.0f}' for r in read)} ms)")
    for k, (b, w) in enumerate(zip(builds, inside), start=1):
        print(f"  build {k}: {b['seconds']:.2f} s, {w['taps']:,} taps inside (p99 {fmt_ms(w['p99'])}); CPU meanwhile: "
              f"bot {b['bot_cpu']:.1f} s ({b['bot_cpu'] / b['seconds']:.0%} of a core), its drawing process "
              f"{b['children_cpu']:.1f} s, the machine {b['machine_cpu']:.1f} s of {os.cpu_count() * b['seconds']:.1f}")
    print()
    print(f"{'tap → answer':28} {'taps':>6} {'p50':>9} {'p95':>9} {'p99':>9} {'max':>9}")
    for name, w in (("baseline (no build)", baseline), ("during /report builds", during),
                    ("  during builds 2 and later", later), (f"in the {SETTLE:.0f} s after a build", after)):
        print(f"{name:28} {w['taps']:>6,} " + " ".join(f"{fmt_ms(w[k]):>9}" for k in ("p50", "p95", "p99", "max")))
    ratio = during["p99"] / baseline["p99"] if baseline["p99"] else float("nan")
    print(f"p99 during the builds / baseline: {ratio:.1f}×; p50: {during['p50'] / baseline['p50']:.1f}×; "
          f"p99 during builds 2 and later / baseline: {later['p99'] / baseline['p99']:.1f}×")
    print()
    print(f"bot CPU during the burst: {mine['bot_cpu']:.1f} s ({mine['bot_cpu'] / mine['wall']:.0%} of a core over "
          f"{mine['wall']:.1f} s); fake API (this process) {mine['fake_cpu']:.1f} s; other processes "
          f"{mine['other_cpu']:.1f} s; bot peak RSS {stopped['peak_rss_mb']:.0f} MB")
    print(f"load average after: {mine['loadavg']}")
    checks = [
        (len(builds) == args.runs and all(b["pdf"].startswith(b"%PDF") and b["preparing"] for b in builds),
         "every /report answered with 'preparing…' and a PDF",
         f"{len(builds)}/{args.runs}: " + ", ".join(b["filename"] for b in builds)),
        (size < MAX_BYTES, "PDF under 3 MB", f"largest {size / 1024:.0f} KiB"),
        (max(seconds) < GOAL_SECONDS, f"every report built in under {GOAL_SECONDS:.0f} s",
         f"slowest {max(seconds):.2f} s"),
        (all(w["taps"] for w in inside), "taps fell inside every build", ", ".join(str(w["taps"]) for w in inside)),
        (during["p99"] * 1000 < GOAL_P99_MS, f"tap p99 during the builds under {GOAL_P99_MS:.0f} ms",
         f"{fmt_ms(during['p99'])} ({during['taps']:,} taps)"),
    ] + checks
    print()
    for ok, name, detail in checks:
        print(f"{verdict(ok)}  {name}: {detail}")
    if args.profile == "pyspy":
        summarise_pyspy(os.path.join(args.profile_dir, "ours.pyspy.txt"), "ours")
    if not args.keep_dir and not args.profile:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(ok for ok, _, _ in checks) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="reports asked for during the burst")
    parser.add_argument("--rate", type=float, default=150.0, help="taps a second (default 150)")
    parser.add_argument("--keep", metavar="FILE.pdf", help="write the last report there, to look at it")
    parser.add_argument("--keep-dir", action="store_true", help="keep the work dir (database, bot log)")
    parser.add_argument("--profile", choices=["pyspy", "cprofile"], help="profile the bot during the burst")
    parser.add_argument("--pyspy", help="path of the py-spy executable (default: py-spy on PATH)")
    parser.add_argument("--profile-dir", help="where profiles go (default: the work dir)")
    parser.add_argument("--timeout", type=float, default=170, help="give up on the burst after this many seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--experiment", action="append", choices=["render-in-thread"],
                        help="what-if, not the shipped code: the bot draws the report in a thread of its own "
                             "process (as before bot.drawing)")
    args = parser.parse_args()
    # what vote_burst.py's Child and burst read: the bot as in production
    args.edit_interval, args.polling_timeout, args.log_level = 3.0, 30, "INFO"
    args.double_tap, args.count_sql = None, False
    return asyncio.run(driver(args))


if __name__ == "__main__":
    sys.exit(main())
