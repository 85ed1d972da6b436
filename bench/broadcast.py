"""Broadcast: a digest to N members through the outbox, against a fake Bot API that enforces
Telegram's limits (30 messages/s overall, 1/s per chat, 20/min per group).

    python bench/broadcast.py                   # 10,000 members (about 6 minutes at 30/s)
    python bench/broadcast.py --members 1000    # a quick run

Measured: the drain rate (messages/s from queueing to the last one delivered) against the
configured rate, the count of 429 answers, and that every member got the digest exactly once.
Goal: drains at the configured rate, zero 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import machine, peak_rss_mb, verdict  # noqa: E402
from bot.app import TelegramApp  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.flows.types import Message  # noqa: E402
from bot.storage import outbox  # noqa: E402
from tests.fakes import FakeTelegram  # noqa: E402

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"
RATE = 30.0


async def run(members: int) -> bool:
    async with FakeTelegram(token=TOKEN, bot_username="qatysu_bench_bot") as tg:
        tg.enforce_limits(per_chat_per_sec=1, group_per_min=20, global_per_sec=int(RATE))
        with tempfile.TemporaryDirectory() as tmp:
            config = Config(db_path=f"{tmp}/broadcast.db", telegram_token=TOKEN, telegram_api_base=tg.base_url)
            app = TelegramApp(config, session=tg.session(), limits={"rate": RATE})
            await app.start()
            users = [tg.user(100_000 + i, f"M{i}", "kk", started=True) for i in range(members)]
            digest = [Message("telegram", str(u.id), f"Апталық дайджест: 3 міндет орындалды, 2 кешікті ({i})")
                      for i, u in enumerate(users)]
            async with app.db.transaction() as tx:
                await outbox.add(tx, digest, datetime.now(timezone.utc).isoformat())
            started = time.monotonic()
            app.outbox.wake()
            last_report = started
            while True:
                async with app.db.transaction() as tx:
                    left = await outbox.size(tx)
                if left == 0:
                    break
                if time.monotonic() - last_report > 10:
                    last_report = time.monotonic()
                    print(f"  … {members - left} sent, {tg.count_429} 429s", flush=True)
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - started
            retried = app.outbox.retried
            await app.stop()
            received = [len(tg.messages(u.id)) for u in users]
    rate = members / elapsed
    exactly_once = all(n == 1 for n in received)
    print(f"machine: {machine()}")
    print(f"members: {members}; configured rate {RATE:.0f}/s (the first second waits: a restart guard)")
    print(f"drained in {elapsed:.1f} s: {rate:.1f} messages/s = {rate / RATE:.2f} of the configured rate")
    print(f"429 answers: {tg.count_429}; retried sends: {retried}; peak RSS {peak_rss_mb():.0f} MB")
    ok = exactly_once and tg.count_429 == 0 and rate >= 0.9 * RATE * members / (members + RATE)
    print(f"everyone got it exactly once: {verdict(exactly_once)}; goal (≥ 0.9 of the rate, no 429): {verdict(ok)}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    args = parser.parse_args()
    return 0 if asyncio.run(run(args.members)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
