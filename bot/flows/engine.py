"""The conversation engine: one ``Event`` in, one transaction, an ``Outcome`` out.

Each event is handled in a single transaction that also records its update id with the answer,
so a duplicate delivery changes nothing (but is answered again: after a crash it may be the
first answer to reach the person) and a failure leaves no half-done write. The reply is
returned only after the commit: what a person is told has been stored.
"""

from __future__ import annotations

import functools
import inspect
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timezone

import bot.flows.all  # noqa: F401  (registers every flow module)
from bot.flows import community, linking, onboarding, registry
from bot.flows.access import require
from bot.flows.context import Context, Refused, short_answer
from bot.flows.payloads import BadPayload, prefix_of
from bot.flows.types import Event, Outcome, Toast, View
from bot.i18n import N_, pick_locale, translator
from bot.links import Link
from bot.storage import conversations, members, outbox, redraws, reminders, updates
from bot.storage.db import Busy, Database

log = logging.getLogger(__name__)

SYSTEM = "system"
DOUBLE_TAP = 1.0  # seconds: the same button pressed again this soon by the same person is one press
STALE_BUTTON = N_("This button no longer works. Open /start for the current menu.")
FAILED = N_("Sorry, something went wrong on our side and nothing was saved. Please try again.")


_signature = functools.cache(inspect.signature)  # the handlers never change; checked on every event


class NotHandled(Exception):
    """The event's transaction could not begin (the database stayed locked): nothing was done
    or answered; the channel tries the whole event again later."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Engine:
    def __init__(self, db: Database, *, bot_username: str = "qatysu_bot",
                 clock: Callable[[], datetime] = utcnow, rng: random.Random | None = None,
                 default_locale: str = "kk", default_tz: str = "Asia/Almaty",
                 operator_name: str = "Qatysu", operator_bin: str = "", double_tap: float = DOUBLE_TAP) -> None:
        self.db = db
        self.bot_username = bot_username
        self.clock = clock
        self.rng = rng or random.Random()
        self.default_locale = default_locale
        self.default_tz = default_tz
        self.operator_name = operator_name
        self.operator_bin = operator_bin
        self.double_tap = double_tap

    async def handle(self, event: Event) -> Outcome:
        ctx: Context | None = None

        async def work(tx) -> Outcome:
            nonlocal ctx
            if event.update_id is not None and not await updates.claim(
                    tx, event.channel, event.update_id, utcnow().isoformat(timespec="seconds")):
                return (await updates.replay(tx, event.channel, event.update_id) if event.retry
                        else Outcome(duplicate=True))
            if event.button is not None and not await updates.claim_tap(
                    tx, event.channel, event.user_id, event.button,
                    self.clock().timestamp() if event.pressed_at is None else event.pressed_at, self.double_tap):
                return Outcome(duplicate=True)
            member, state, data, saved_at = await conversations.identify(tx, event.channel, event.user_id)
            ctx = Context(self, tx, event, member, state, data)
            ctx.state_saved_at = saved_at
            if member is None and event.own_number and not event.is_group:
                await linking.recognise(ctx)  # their number shared on another channel: that member
                member = ctx.member
            if member is not None and member.unreachable and not event.is_group:  # they wrote: unblocked
                await members.reachable_again(tx, event.channel, event.user_id)
            if member is not None and (member.last_seen_on or "") < (today := ctx.now.date().isoformat()):
                await members.seen(tx, member.id, today)  # once a day: the retention period restarts
            if member is not None and event.is_group:  # in the group: hears of ballots there (step 6)
                await reminders.seen_in_group(tx, event.channel, event.chat_id, member.id)
            await self._dispatch(ctx)
            if event.button is not None and not event.is_group:  # its view's edit answers the tap
                ctx.outcome.tapped = (event.channel, event.chat_id)
            await ctx.save_state()
            await self._persist(tx, ctx.outcome)
            if event.update_id is not None:
                await updates.keep_reply(tx, event.channel, event.update_id, ctx.outcome)
            return ctx.outcome

        try:
            return await self.db.atomic(work)
        except (Refused, BadPayload) as refusal:
            if isinstance(refusal, BadPayload):
                log.warning("refused payload %r from %s:%s: %s", event.button, event.channel, event.user_id, refusal)
                text = (ctx.tr if ctx else translator(pick_locale(event.user_lang))).t(STALE_BUTTON)
                link = None
            else:
                text, link = refusal.text, refusal.link
            return await self._after_rollback(event, text, link)
        except Busy as exc:  # nothing was done: the channel tries the event again (not "try again" to a person)
            raise NotHandled(str(exc)) from exc
        except Exception:
            log.exception("failed to handle %r", event)
            tr = ctx.tr if ctx else translator(pick_locale(event.user_lang, self.default_locale))
            return await self._after_rollback(event, tr.t(FAILED))

    async def run_system(self, job: Callable[[Context], Awaitable[None]]) -> Outcome:
        """Run a scheduled job (no person behind it) in one transaction, like an event."""
        async def work(tx) -> Outcome:
            ctx = Context(self, tx, Event(channel=SYSTEM, user_id=SYSTEM, chat_id=SYSTEM), None, "", {})
            await job(ctx)
            await self._persist(tx, ctx.outcome)
            return ctx.outcome

        return await self.db.atomic(work)

    async def redraw(self, view: View) -> Outcome:
        """Run the refresher for ``view`` and return the messages it draws (nothing for a kind of
        view this version does not have: a newer version asked for it, in a rolling deploy, and
        its row in pending_redraws stays for a worker of that version)."""
        handler = registry.REFRESHERS.get(view.name)
        if handler is None:
            log.warning("not redrawing %r: a kind of view this version does not draw, left for a version that does",
                        view.name)
            return Outcome()

        async def draw(ctx: Context) -> None:
            await redraws.drawing(ctx.tx, view)
            await handler(ctx, view.id)

        return await self.run_system(draw)

    @staticmethod
    async def _persist(tx, outcome: Outcome) -> None:
        """What must survive a crash is written in the action's own transaction: group posts and
        notifications go to the outbox, and the views to redraw are noted (see redraws)."""
        durable = [m for m in outcome.messages if m.durable]
        if durable:
            await outbox.add(tx, durable, utcnow().isoformat(timespec="seconds"))
            outcome.messages = [m for m in outcome.messages if not m.durable]
            outcome.queued = True
            outcome.queued_to |= {(m.channel, m.chat_id) for m in durable}
        if outcome.refresh:
            await redraws.want(tx, outcome.refresh)

    async def _after_rollback(self, event: Event, text: str, link: Link | None = None) -> Outcome:
        """Everything was rolled back; say why, and remember the update and that answer in a
        fresh transaction."""
        outcome = Outcome()
        answer = short_answer(event, text, link)
        if isinstance(answer, Toast):
            outcome.toast = answer
        else:
            outcome.messages.append(answer)
        if event.update_id is not None:
            async def remember(tx) -> bool:
                claimed = await updates.claim(tx, event.channel, event.update_id, utcnow().isoformat(timespec="seconds"))
                if claimed:
                    await updates.keep_reply(tx, event.channel, event.update_id, outcome)
                return claimed

            try:
                if not await self.db.atomic(remember):  # handled before: "nothing was saved" would be false
                    return Outcome(duplicate=True)
            except Exception:  # the database is still failing: say so all the same
                log.exception("could not record update %s as handled", event.update_id)
        return outcome

    # --- routing ---------------------------------------------------------------------------
    async def _dispatch(self, ctx: Context) -> None:
        event = ctx.event
        if event.joined_group:
            await community.bot_added(ctx)
        elif event.group_moved_to is not None:
            await community.group_moved(ctx, event.group_moved_to)
        elif event.command is not None:
            if event.command == "start" and event.args and not event.is_group:
                await self._start_payload(ctx, event.args.strip())
                return
            route = registry.COMMANDS.get(event.command)
            if route is None:
                ctx.reply(ctx.t("I don't know the command /{command}. Send /help to see what I can do.",
                                command=event.command[:32]))
                return
            await self._run(ctx, route, [])
        elif event.button is not None:
            route = registry.BUTTONS.get(prefix_of(event.button))
            if route is None or route.payload is None:
                raise BadPayload(f"unknown prefix {prefix_of(event.button)[:20]!r}")
            await self._run(ctx, route, [route.payload.decode(event.button)])
        elif event.phone is not None or event.foreign_contact:
            await onboarding.contact_shared(ctx, event.phone)
        elif event.text is not None and not event.is_group:
            route = registry.STATES.get(ctx.state)
            if route is not None and route.expires is not None and ctx.state_saved_at < (
                    ctx.now - route.expires).isoformat(timespec="seconds"):
                ctx.clear()  # asked long ago: a message now is not the answer (a greeting is not a task)
                route = None
            if route is not None:
                await self._run(ctx, route, [event.text])
            elif not ctx.onboarded:
                await onboarding.begin(ctx)
            else:
                await community.show_menu(ctx, hint=True)

    async def _start_payload(self, ctx: Context, payload: str) -> None:
        prefix, _, rest = payload.partition("_")
        route = registry.START_PAYLOADS.get(prefix) if rest else None
        if route is not None:
            await self._run(ctx, route, [rest])
        elif payload in registry.COMMANDS and payload.islower():  # ?start=propose opens that command
            ctx.event = replace(ctx.event, command=payload, args="")
            await self._run(ctx, registry.COMMANDS[payload], [])
        else:
            await community.join_by_code(ctx, payload)

    async def _run(self, ctx: Context, route: registry.Route, args: list[str]) -> None:
        try:
            _signature(route.handler).bind(ctx, *args)
        except TypeError:
            raise BadPayload(f"{len(args)} arguments do not fit {route.handler.__qualname__}") from None
        if route.where == "private" and ctx.event.is_group:
            raise ctx.refuse(ctx.t("This works in the private chat with me."), ctx.deep_link("menu"))
        if route.where == "group" and not ctx.event.is_group:
            raise ctx.refuse(ctx.t("Send this command in the community's group chat."))
        if route.who != "anyone" and not ctx.onboarded:
            if ctx.event.is_group:
                raise ctx.refuse(ctx.t("Please open the private chat with me first to join."),
                                 ctx.deep_link("menu"))
            await onboarding.begin(ctx)
            return
        if route.who in ("member", "kmut", "facilitator"):
            found = await route.scope(ctx, *args) if route.scope else await ctx.community()
            await require(ctx, found, route.who)
            ctx.scoped = found
        await route.handler(ctx, *args)
