"""A crash between the outbox's send and its record of it (the process killed in that gap).

What is guaranteed, precisely:

* The scheduler records a reminder's occurrence and queues its message in ONE transaction, so
  an occurrence is queued exactly once, whatever crashes: a restart never makes it again.
* A reminder is sent at most once: the outbox marks it in its own transaction before the send
  and deletes it right after the channel accepted it. A crash in that gap leaves the mark, and
  the next process drops the reminder instead of sending it again (Telegram has no idempotency
  key: it may have gone out). A reminder is better missed than received twice.
* Every other message of the same sweep, sent before or after the crash, arrives exactly once.
"""

from __future__ import annotations

import random

import pytest

import bot.storage.outbox as stored_outbox
from bot.flows.engine import Engine
from bot.sim import Sim
from bot.scheduler import Scheduler
from tests.test_flows_step6 import at, planned, tick


class Killed(BaseException):
    """The process dies: nothing after this point runs (not even an ``except Exception``)."""


def sent(*sims: Sim) -> list[tuple[str, str]]:
    return [(m.chat_id, m.text) for sim in sims for _, m, _ in sim.sender.log]


async def test_a_crash_between_sending_and_recording_sends_a_reminder_once_at_most(community, clock, db,
                                                                                      monkeypatch):
    c = community
    m1, m2, m3 = await planned(c)
    tz = "Asia/Almaty"
    at(clock, tz, 2026, 3, 2, 12, 0)
    await tick(c.sim)  # plans each owner's weekly check-in prompt
    at(clock, tz, 2026, 3, 9, 9, 0)
    before = len(c.sim.sender.log)
    await Scheduler(c.sim.engine, c.sim.delivery).sweep()  # the prompts due (and the overdue task's): queued
    queued = await db.scalar("SELECT COUNT(*) FROM outbox")
    assert queued >= 2

    record = stored_outbox.sent

    async def killed_after_the_send(tx, ids):
        raise Killed()

    monkeypatch.setattr(stored_outbox, "sent", killed_after_the_send)
    with pytest.raises(Killed):
        await c.sim.outbox.drain()
    monkeypatch.setattr(stored_outbox, "sent", record)
    caught = sent(c.sim)[before:]
    # The send in flight went out; the process died before recording it.
    assert 1 <= len(caught) <= queued
    assert await db.scalar("SELECT COUNT(*) FROM outbox") == queued  # all still queued

    engine = Engine(db, bot_username="qatysu_test_bot", clock=clock, rng=random.Random(1))
    restarted = Sim(engine)  # the next process, on the same database
    await tick(restarted)
    await tick(restarted)
    assert await db.scalar("SELECT COUNT(*) FROM outbox") == 0
    everything = caught + sent(restarted)
    assert len(everything) == queued  # those caught in the gap are not sent again
    assert all(everything.count(m) == 1 for m in everything)  # every reminder: once
    prompts = [chat for chat, text in everything if text.startswith("🔔")]
    assert sorted(set(prompts)) == sorted([m2.id, m3.id])  # each owner's weekly prompt is among them
    assert await db.scalar("SELECT COUNT(*) FROM reminders WHERE kind = 'checkin' AND status = 'sent'") == 2

    at(clock, tz, 2026, 3, 9, 9, 30)
    await tick(restarted)  # later sweeps make no new occurrence of any
    assert len(sent(restarted)) == queued - len(caught)
