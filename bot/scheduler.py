"""Timed work: closing ballots at their closing time, the reminders of step 6, pruning, erasing
members silent too long; and, once at start, the redraws a crash cut off.

A sweep every few seconds reads what is due from the database, so nothing is kept only in
memory: a restart loses no deadline, and one that passed while the bot was down is handled on
start. APScheduler runs the sweep.

Several workers on one PostgreSQL database run one scheduler between them (``bot/leader.py``):
there each job's transaction first runs ``guard`` (is the scheduler lock still this worker's?),
and ``halt()`` stops the scheduler at once when the lock's connection is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.delivery import Delivery
from bot.flows.context import Context
from bot.flows.engine import Engine, utcnow
from bot.flows.privacy import expire_inactive
from bot.flows.reminders import PLAN_PAGE, iso, plan_ballot_reminders, plan_digests, plan_tasks, send_reminders
from bot.storage import reminders
from bot.storage.db import Tx

log = logging.getLogger(__name__)


async def close_due_ballots(ctx: Context) -> None:
    from bot.flows import ballots as ballot_flows
    from bot.storage import ballots, communities

    for ballot in await ballots.open_with_deadline(ctx.tx):
        if ballot.closes_at is not None and datetime.fromisoformat(ballot.closes_at) <= ctx.now:
            community = await communities.get(ctx.tx, ballot.community_id)
            if community is not None:
                log.info("closing ballot %s at its closing time", ballot.id)
                await ballot_flows.close(ctx, community, ballot)


PROCESSED_KEPT = timedelta(days=30)  # long beyond any redelivery Telegram makes
TAPS_KEPT = timedelta(hours=1)       # far beyond the double-tap window
REPLIES_KEPT = timedelta(minutes=10)  # an answer never marked as gone out (its handling failed), for a retry


async def prune(ctx: Context) -> None:
    """Forget update ids and button presses too old to come again, so those tables stay small."""
    from bot.storage import pace, updates

    await updates.prune(ctx.tx, (ctx.now - PROCESSED_KEPT).isoformat(timespec="seconds"))
    # processed_at is the real time, not the engine's clock (which a demo runs fast)
    await updates.forget_replies(ctx.tx, (utcnow() - REPLIES_KEPT).isoformat(timespec="seconds"))
    await updates.prune_taps(ctx.tx, (ctx.now - TAPS_KEPT).timestamp())
    await pace.prune(ctx.tx)  # the shared pacing's rows (PostgreSQL)


JOBS = (close_due_ballots, plan_ballot_reminders, send_reminders, prune, expire_inactive)


async def redraw_pending(ctx: Context) -> None:
    """Ask again for the redraws that a crash cut off (a clean stop leaves none)."""
    from bot.flows import registry
    from bot.storage import redraws

    for view in await redraws.pending(ctx.tx):
        if view.name in registry.REFRESHERS:
            ctx.refresh(view)
        elif await redraws.forget_key(ctx.tx, view):
            pass  # stored as "name:id", as only versions before views were JSON stored it: none draws it now
        else:  # a newer version's kind of view (a rolling deploy): left for a worker of that version
            log.warning("a view waiting for a redraw is of a kind this version does not draw (%r), left for a "
                        "version that does", view.name)


MAX_BATCHES = 1_000  # of the reminders due, per sweep (the next sweep sends the rest)
AT_START = (redraw_pending,)  # once, in the background: the bot answers meanwhile


class Scheduler:
    def __init__(self, engine: Engine, delivery: Delivery, *, interval: float = 10.0,
                 guard: Callable[[Tx], Awaitable[None]] | None = None) -> None:
        self.engine = engine
        self.delivery = delivery
        self.interval = interval
        self.guard = guard  # run first in each job's transaction; raises when this worker may not run it
        self._scheduler = AsyncIOScheduler()
        self._at_start: asyncio.Task | None = None
        self._planned_minute: datetime | None = None
        self._sweeping: asyncio.Task | None = None  # the sweep under way, which a stop lets finish
        self._stopping = False

    async def sweep(self) -> None:
        minute = self.engine.clock().replace(second=0, microsecond=0)
        if minute != self._planned_minute:  # before the sweep's own jobs, once in a minute of the engine's clock
            self._planned_minute = minute
            await self._plan_tasks()
            await self._run_jobs((plan_digests,))
        await self._run_jobs(JOBS)
        await self._send_the_rest()

    async def _plan_tasks(self) -> None:
        """Every open task's reminders, a page of tasks per transaction: with 10,000 tasks a
        vote's answer waits for one page at most, never for the whole pass."""
        after: int | None = 0
        while after is not None and not self._stopping:
            start = after

            async def page(ctx: Context) -> None:
                nonlocal after
                after = await plan_tasks(ctx, start, PLAN_PAGE)

            try:
                await self.engine.run_system(self._fenced(page))  # plans rows only: nothing to deliver
            except Exception as exc:
                if self._lost(exc):
                    return
                log.exception("planning the reminders of the tasks after #%s failed", start)
                return
            await asyncio.sleep(0)  # what waits for the loop (a vote's answer) goes first

    async def _send_the_rest(self) -> None:
        """The reminders still due after the sweep's batch, a batch per transaction: 10,000 prompts
        due the same minute reach the outbox within the sweep, while a vote waits for the
        database one short batch at most, never for all of them."""
        before = None
        for _ in range(MAX_BATCHES):
            if self._stopping:  # the next start sends the rest
                return
            now = iso(self.engine.clock())
            first = await self.engine.db.atomic(lambda tx: reminders.due(tx, now, 1))
            if not first or first[0].id == before:  # none left, or the batch failed (logged): next sweep
                return
            before = first[0].id
            await asyncio.sleep(0)  # what waits for the loop (a vote's answer) goes first
            await self._run_jobs((send_reminders,))

    async def _run_jobs(self, jobs: tuple) -> None:
        for job in jobs:
            if self._stopping:
                return
            try:
                outcome = await self.engine.run_system(self._fenced(job))
                await self.delivery.deliver_outcome(outcome)
            except Exception as exc:
                if self._lost(exc):
                    return
                log.exception("scheduled job %s failed", job.__name__)
            await asyncio.sleep(0)  # each job is a transaction on the event loop: an answer may go between

    def _fenced(self, job: Callable[[Context], Awaitable[None]]) -> Callable[[Context], Awaitable[None]]:
        if self.guard is None:
            return job
        guard = self.guard

        async def fenced(ctx: Context) -> None:
            await guard(ctx.tx)
            await job(ctx)

        return fenced

    def _lost(self, exc: Exception) -> bool:
        """The guard refused: this worker no longer runs the scheduler; it stops now."""
        from bot.leader import LostLeadership

        if not isinstance(exc, LostLeadership):
            return False
        if not self._stopping:
            log.warning("scheduler: the lock is no longer this worker's; its scheduler stops")
            self.halt()
        return True

    def halt(self) -> None:
        """Stop at once (the lock was lost): no job starts any more, and the one under way is
        cancelled (its transaction rolls back)."""
        self._stopping = True
        for task in (self._at_start, self._sweeping):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def start(self) -> None:
        # The digest's chart is named in a sweep's transaction, on the event loop: the apps import
        # the renderers before serving (``bot.drawing.start``), so that this never holds an answer.
        await self.sweep()  # what fell due while the bot was down
        self._at_start = asyncio.create_task(self._run_jobs(AT_START))
        self._scheduler.add_job(self._sweep_job, "interval", seconds=self.interval, max_instances=1, coalesce=True)
        self._scheduler.start()

    async def _sweep_job(self) -> None:
        self._sweeping = asyncio.current_task()
        try:
            await self.sweep()
        finally:
            self._sweeping = None

    async def stop(self, grace: float = 0.0) -> None:
        """No sweep begins any more; the one under way finishes its job (each job is one
        transaction and the sending of its outcome) within ``grace`` seconds, or is cancelled."""
        self._stopping = True  # a sweep that starts now returns at once
        if self._at_start is not None:
            self._at_start.cancel()
            await asyncio.gather(self._at_start, return_exceptions=True)
            self._at_start = None
        sweeping = self._sweeping
        if sweeping is not None and grace > 0:
            await asyncio.wait({sweeping}, timeout=grace)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)  # cancels a sweep still running
