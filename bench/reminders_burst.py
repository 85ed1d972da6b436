"""Step 6 under load: a weekly digest and 10,000 check-in prompts due the same minute, drained
through the outbox against a fake Bot API that enforces Telegram's limits, while a vote burst runs
in the group.

    python bench/reminders_burst.py                       # 10,000 prompts (~6 min at 30/s)
    python bench/reminders_burst.py --prompts 2000        # a quick run (~75 s)
    python bench/reminders_burst.py --taps 3000 --tap-rate 300

What runs: ``TelegramApp`` in this process, with the production limits (30/s overall, 1/s per
chat, 3 s per group) and edit coalescing (3 s), against ``tests/fakes/telegram.py`` on
127.0.0.1 enforcing Telegram's limits (429 + ``retry_after`` beyond them, edits counted). Set-up
(not measured): ``vote_burst.py``'s village (facilitator, community, linked group, 5 problems),
problem 1 chosen; N members seeded with ``vote_burst.seed_members``, each owning one open task
of the plan and seen in the group (so no "a vote is open" in private); a restart plans each task's weekly check-in prompt and the community's digest; the
facilitator opens ``/poll dots`` in the group. Then every prompt and the digest are made due now
(the same minute) and the scheduler sweeps.

The burst: ``--taps`` members (default 2,000) each tap one sticker on the group's ballot, queued
at ``--tap-rate`` a second (``_ballots.queue_all``), starting 5 s into the drain. Each tap is
answered with a toast (``answerCallbackQuery``, not counted by Telegram's limits) and redraws the
group's counts (an edit, which is: it takes its slot from the same pacer as the outbox, first).

Measured: the drain rate (every limited call, sends and edits, from due to the last prompt
delivered) against the configured 30/s; 429 answers; each prompt and the digest delivered exactly
once; the taps' answer latency from queued to answered (p50/p95/p99) while the drain runs. The
fake shares this process's core with the bot, so the latency is an upper bound of the bot's.
Goals: ≥ 0.9 of the configured rate, zero 429s, each once, p99 answer latency < 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._ballots import Press, button_data, queue_all, say  # noqa: E402
from bench._common import (TOKEN, cpu_seconds, loadavg, machine, machine_busy_seconds, peak_rss_mb,  # noqa: E402
                           percentile, verdict)
from bench.vote_burst import FIRST_USER, GROUP_ID, PROBLEMS, member_row, seed_members  # noqa: E402
from bot.app import TelegramApp  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.storage import problems  # noqa: E402
from tests.fakes import FakeTelegram  # noqa: E402
from tests.fakes.telegram import EDIT_METHODS, SEND_METHODS  # noqa: E402
from tests.test_e2e_telegram import new_community, onboard  # noqa: E402

RATE = 30.0


async def set_up_village(tg):
    """The facilitator onboards, creates the community, links the group, proposes the problems
    (as ``vote_burst.set_up_village``, through the e2e tests' steps)."""
    aigerim = tg.user(1, "Айгерим", "kk")
    await onboard(tg, aigerim, "қазақша")
    code = await new_community(tg, aigerim)
    group = tg.group(GROUP_ID, "Көктерек", with_bot=True)
    await say(tg, aigerim, f"/link {code}", group)
    for text in PROBLEMS:
        await say(tg, aigerim, f"/propose {text}")
    return aigerim, group
PROMPT = "🔔"


async def run(args: argparse.Namespace) -> bool:
    n = args.prompts
    async with FakeTelegram(token=TOKEN, bot_username="qatysu_bench_bot") as tg:
        with tempfile.TemporaryDirectory() as tmp:
            config = Config(db_path=f"{tmp}/reminders.db", telegram_token=TOKEN, telegram_api_base=tg.base_url)

            def app_() -> TelegramApp:
                return TelegramApp(config, session=tg.session(), rng=random.Random(7), sweep_interval=1.0)

            app = app_()
            await app.start()
            aigerim, group = await set_up_village(tg)
            await say(tg, aigerim, "/choose 1", group)
            await seed_members(app.db, n)
            users = [tg.user(tg_id, name, locale, started=True) for tg_id, name, locale in map(member_row, range(n))]
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            async with app.db.transaction() as tx:
                rows = await tx.all("SELECT i.member_id, i.external_id FROM identities i WHERE i.channel ="
                                    " 'telegram' AND CAST(i.external_id AS INTEGER) >= ?", (FIRST_USER,))
                problem = (await problems.chosen(tx, 1)).id
                await tx.executemany(
                    "INSERT INTO tasks (community_id, problem_id, number, title, norm, owner_id, created_at)"
                    " VALUES (1, ?, ?, ?, ?, ?, ?)",
                    [(problem, k + 1, f"Міндет {k + 1}", f"міндет {k + 1}", member_id, now)
                     for k, member_id in enumerate(sorted(r[0] for r in rows))])
                # seen in the group: the ballot's "a vote is open" goes to no one in private
                await tx.executemany("INSERT INTO group_presence VALUES (1, ?)", [(r[0],) for r in rows])
            ballot = await say(tg, aigerim, "/poll dots 3", group)
            await app.stop()
            app = app_()
            await app.start()  # plans every task's weekly prompt and the digest
            tg.enforce_limits(per_chat_per_sec=1, group_per_min=20, global_per_sec=int(RATE))
            await asyncio.sleep(3.5)  # the group's last post (the ballot) is 3 s behind: a clean start
            async with app.db.transaction() as tx:
                planned = await tx.scalar("SELECT COUNT(*) FROM reminders WHERE kind = 'checkin'")
                await tx.execute("UPDATE reminders SET due_at = ? WHERE kind IN ('checkin', 'digest')",
                                 (datetime.now(timezone.utc).isoformat(timespec="seconds"),))
            mark = tg.mark()
            bot_cpu0, all_cpu0 = cpu_seconds(), machine_busy_seconds()
            started = time.monotonic()
            await app.scheduler.sweep()

            await asyncio.sleep(5.0)
            taps = min(args.taps, n)
            presses = [Press(i, users[i], ballot, button_data(ballot, 1 + i % 5), chat=group) for i in range(taps)]
            queued = await queue_all(tg, presses, args.tap_rate)

            def prompted() -> int:
                return sum(1 for c in tg.calls(since=mark)
                           if c.ok and c.method == "sendMessage" and (c.params.get("text") or "").startswith(PROMPT))

            last_report = time.monotonic()
            while prompted() < planned or not any(c.ok and c.method == "sendPhoto" for c in tg.calls(since=mark)):
                if time.monotonic() - last_report > 15:
                    last_report = time.monotonic()
                    print(f"  … {prompted()} prompts sent, {tg.count_429} 429s", flush=True)
                if time.monotonic() - started > args.timeout:
                    print("timed out")
                    break
                await asyncio.sleep(0.5)
            calls = tg.calls(since=mark)
            limited = [c for c in calls if c.ok and c.method.lower() in SEND_METHODS | EDIT_METHODS]
            elapsed = max(c.time for c in limited) - started
            bot_cpu, all_cpu = cpu_seconds() - bot_cpu0, machine_busy_seconds() - all_cpu0
            await app.delivery.flush()
            await asyncio.sleep(2.0)
            calls = tg.calls(since=mark)
            answered = {}
            for c in calls:
                if c.method.lower() == "answercallbackquery" and c.ok:
                    answered.setdefault(c.params.get("callback_query_id"), c.time)
            latencies = sorted(answered[q.callback_id] - q.at for q in queued if q.callback_id in answered)
            per_user = {}
            for c in calls:
                if c.ok and c.method == "sendMessage" and (c.params.get("text") or "").startswith(PROMPT):
                    per_user[c.params["chat_id"]] = per_user.get(c.params["chat_id"], 0) + 1
            digests = sum(1 for c in calls if c.ok and c.method == "sendPhoto" and c.params.get("chat_id") == group.id
                          and (c.params.get("caption") or "").startswith("📊"))
            edits = sum(1 for c in limited if c.method.lower() in EDIT_METHODS)
            retried = app.outbox.retried
            await app.stop()

    rate = len(limited) / elapsed
    once = len(per_user) == planned == n and all(v == 1 for v in per_user.values()) and digests == 1
    p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
    print(f"machine: {machine()}; load average {loadavg()}")
    print(f"prompts planned and due the same minute: {planned}; digest to the group: {digests}; "
          f"configured rate {RATE:.0f}/s")
    print(f"drained in {elapsed:.1f} s: {len(limited)} limited calls ({edits} of them live-count edits) = "
          f"{rate:.1f}/s = {rate / RATE:.2f} of the configured rate")
    print(f"429 answers: {tg.count_429}; retried sends: {retried}; peak RSS {peak_rss_mb():.0f} MB; "
          f"CPU: this process {bot_cpu:.1f} s, the machine {all_cpu:.1f} s over {elapsed:.0f} s on 2 cores")
    print(f"vote burst: {len(latencies)}/{taps} taps answered at {args.tap_rate:.0f}/s; answer latency "
          f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    ok_rate = rate >= 0.9 * RATE
    ok_latency = len(latencies) == taps and p99 < 0.2
    print(f"each once: {verdict(once)}; ≥ 0.9 of the rate: {verdict(ok_rate)}; no 429: {verdict(tg.count_429 == 0)}; "
          f"p99 < 200 ms: {verdict(ok_latency)}")
    return once and ok_rate and tg.count_429 == 0 and ok_latency


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=10_000)
    parser.add_argument("--taps", type=int, default=2_000)
    parser.add_argument("--tap-rate", type=float, default=200.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    return 0 if asyncio.run(run(args)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
