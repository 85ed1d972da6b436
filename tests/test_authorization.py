"""Who may do what: every command, button and deep link × every role, against PRODUCT.md.

The expected table is written out below. A command, button or deep-link prefix that exists in
``bot.flows.registry`` but not in the table fails ``test_every_route_is_classified``: a new one
must be classified here.

Roles, always towards community A (the *target*):
- ``stranger``  — onboarded (consented, named), member of nothing;
- ``member``    — a member of A;
- ``kmut``      — a member of A elected to the ҚМҰТ (``memberships.kmut = 1``);
- ``facilitator`` — A's facilitator;
- ``other_facilitator`` — the facilitator of community B, not a member of A.

Each case runs on a fresh copy of a template database (built once through the real engine): A
with a linked group, four problems, an open ballot of each kind, two candidates for the ҚМҰТ and
a nomination of the facilitator not yet answered, a closed election and an open one; B with its
own group. Commands
go to A's group (where everyone's target is A) and, for the roles whose active community is A, to
the private chat. Buttons carry payloads naming real objects of A (its ballots, problems, id), so
the authorization decision — not a missing object — is what is tested. "Refused" is recognised
by the English refusal texts; "allowed" is anything else (it may still say "no vote is open").
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import shutil
import tempfile
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

import bot.flows.all  # noqa: F401  (registers every route)
from bot.flows import registry
from bot.flows.engine import Engine
from bot.flows.types import Event, Message, Outcome
from bot.storage.db import Database
from tests.conftest import STORE, open_store
from tests.stores import copy_pg_database, drop_pg_database, new_pg_database
from tests.test_fuzz_flows import ErrorLog

# --- the expected table (PRODUCT.md) ------------------------------------------------------------
# The least role that may do it: anyone < onboarded < member < kmut (elected to the ҚМҰТ) < facilitator.
EXPECTED_COMMANDS = {
    # anyone, even before onboarding
    "start": "anyone", "menu": "anyone", "help": "anyone", "lang": "anyone", "status": "anyone",
    "join": "anyone",
    # a person who consented and gave a name
    "new": "onboarded", "communities": "onboarded", "mydata": "onboarded", "forget": "onboarded", "phone": "onboarded",
    # members of the community
    "propose": "member", "problems": "member", "vote": "member", "results": "member", "nominate": "member",
    "tree": "member", "resources": "member", "orgs": "member", "plan": "member", "checkin": "member",
    "progress": "member", "mute": "onboarded",
    # its ҚМҰТ (and facilitator)
    "report": "kmut",
    # its facilitator
    "link": "facilitator", "next": "facilitator", "poll": "facilitator", "close": "facilitator",
    "merge": "facilitator", "hide": "facilitator", "choose": "facilitator", "paper": "facilitator",
    "remind": "facilitator", "export": "facilitator", "facilitator": "facilitator", "cycle": "facilitator",
}
EXPECTED_BUTTONS = {
    "lang": "anyone", "consent": "anyone", "onbname": "anyone", "m": "anyone",
    "forget": "onboarded",
    "c": "member",  # switch the active community: only to one's own
    "d": "member", "mx": "member", "mxr": "member", "pw": "member", "pwr": "member", "open": "member",
    "vol": "member", "nm": "member", "nc": "member", "el": "member", "tn": "member", "tp": "member", "tc": "member",
    "ra": "member", "rk": "member", "rp": "member", "oa": "member", "op": "member", "oe": "member", "or": "member", "oi": "member",
    "oc": "member", "ka": "member", "kv": "member", "kp": "member", "pl": "member", "ev": "member",
    "ko": "kmut",
    # a check-in: a member's route; the handler then lets only the task's responsible member report
    "ci": "member", "cs": "member", "cp": "member", "cn": "member",
    # A member's routes; the handler then lets only the nominee answer, and tells a nominator who
    # is already nominated (in its own words: allowed here, as past the route's check).
    "na": "member", "nd": "member",
    "ch": "facilitator", "close": "facilitator", "kc": "facilitator", "tz": "facilitator",
    "fc": "facilitator", "cy": "facilitator",
}
EXPECTED_START_PAYLOADS = {"b": "member", "g": "member"}

# Commands whose arguments ask for more than the command's route: (command, arguments) → least role.
EXPECTED_VARIANTS = {("tree", "merge 2 1"): "kmut", ("tree", "remove 1"): "kmut",
                     ("resources", "remove 1"): "kmut", ("orgs", "remove 1"): "kmut",
                     ("plan", "remove 1"): "kmut", ("plan", "dates 1 01.12 20.12"): "kmut", ("plan", "owner 1"): "kmut"}

RANK = {"anyone": 0, "onboarded": 1, "member": 2, "kmut": 3, "facilitator": 4}
ROLES = {"stranger": "onboarded", "member": "member", "kmut": "kmut", "facilitator": "facilitator",
         "other_facilitator": "onboarded"}  # the rank each role holds in community A

REFUSALS = ("Only the community's facilitator can do that.",
            "Only the ҚМҰТ (the initiative group) or the facilitator can do that.",
            "Only members of this community can do that.",
            "Please open the private chat with me first to join.",
            "You are not in a community yet. Open a join link from your facilitator, or create a community "
            "with /new.")
STALE = "This button no longer works."

CH = "demo"
PEOPLE = {"facilitator": "3001", "member": "3002", "kmut": "3003", "stranger": "3004", "other_facilitator": "3005"}
GROUP_A, GROUP_B = "-300100", "-300200"
PROBLEMS = ["The road floods every spring", "No playground for children", "The school bus is late",
            "Drinking water is often cut off"]


def allowed(role: str, needed: str) -> bool:
    return RANK[ROLES[role]] >= RANK[needed]


# --- the template ----------------------------------------------------------------------------------
@dataclass
class World:
    path: str
    clock_end: datetime
    community_a: int
    community_b: int
    code_a: str
    code_b: str
    problems: list[int]           # A's problem ids by number
    ballots: dict[str, int]       # A's open ballot of each kind; "closed_election": a closed one
    ids: dict[str, int]           # member ids by role
    nominations: dict[str, int]   # A's nominations: "pending" (of the facilitator, unanswered), "candidate"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Bot:
    """The engine on a database, driven with events; what it queues in the outbox counts as said."""

    def __init__(self, db: Database, clock: Clock, updates: str) -> None:
        self.db, self.clock, self.updates = db, clock, updates
        self.engine = Engine(db, bot_username="qatysu_auth_bot", clock=clock, rng=random.Random(3),
                             default_locale="en")
        self.counter = itertools.count(1)

    async def send(self, who: str, chat: str | None = None, **fields) -> tuple[Outcome, list[Message]]:
        self.clock.now += timedelta(seconds=5)
        user = PEOPLE[who]
        event = Event(channel=CH, user_id=user, chat_id=chat or user, is_group=chat is not None,
                      update_id=f"{self.updates}-{next(self.counter)}", user_name=who.replace("_", " ").title(),
                      user_lang="en", chat_title="Group" if chat else "", **fields)
        outcome = await self.engine.handle(event)
        assert not outcome.duplicate, event
        return outcome, await take_outbox(self.db)

    async def scalar(self, sql: str, params: tuple = ()):
        async with self.db.transaction() as tx:
            return await tx.scalar(sql, params)

    async def visible_state(self) -> dict[str, list[tuple]]:
        """Every table but the bookkeeping ones, as sorted rows: what anyone could see or be told."""
        async with self.db.transaction() as tx:
            tables = await table_names(tx, self.db)
            return {table: sorted((tuple(r) for r in await tx.all(f'SELECT * FROM "{table}"')), key=repr)
                    for table in sorted(tables) if table not in BOOKKEEPING}


# Tables that record how the bot works, not what anyone did: which updates were handled (a refusal
# is remembered there too), conversation steps, what waits to be sent or redrawn, recent taps.
BOOKKEEPING = {"processed_updates", "conversations", "inbox", "outbox", "message_refs", "recent_taps",
               "pending_redraws", "sqlite_sequence"}


def changes(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> dict[str, dict[str, list]]:
    """Per table, the rows that appeared and disappeared."""
    found = {}
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table, []), after.get(table, [])
        if old != new:
            found[table] = {"added": [r for r in new if r not in old], "removed": [r for r in old if r not in new]}
    return found


async def table_names(tx, db) -> list[str]:
    """The tables of the database, on either store."""
    if isinstance(db, Database):
        return [r[0] for r in await tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return [r[0] for r in await tx.all("SELECT table_name FROM information_schema.tables"
                                       " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")]


async def take_outbox(db: Database) -> list[Message]:
    async with db.transaction() as tx:
        if "outbox" not in await table_names(tx, db):
            return []
        rows = await tx.all("SELECT payload FROM outbox ORDER BY id")
        await tx.execute("DELETE FROM outbox")
    return [Message.from_json(r[0]) for r in rows]


async def _build(path: str) -> World:
    errors = ErrorLog()
    logging.getLogger("bot.flows.engine").addHandler(errors)
    db = await open_store(path).open()
    clock = Clock(datetime(2026, 3, 2, 5, 0, tzinfo=timezone.utc))
    bot = Bot(db, clock, "setup")

    async def onboard(who: str, code: str = "") -> None:
        await bot.send(who, command="start", args=code)
        await bot.send(who, button="lang:en")
        await bot.send(who, button="consent:yes")
        await bot.send(who, text=who.replace("_", " ").title())

    async def new_community(who: str, name: str, group: str) -> tuple[int, str]:
        await bot.send(who, command="new")
        await bot.send(who, text=name)
        await bot.send(who, text="Talgar district")
        community, code = None, None
        async with db.transaction() as tx:
            row = await tx.one("SELECT id, join_code FROM communities ORDER BY id DESC LIMIT 1")
            community, code = row[0], row[1]
        await bot.send(who, group, command="link", args=code)
        return community, code

    await onboard("facilitator")
    community_a, code_a = await new_community("facilitator", "Kokterek", GROUP_A)
    await onboard("member", code_a)
    await onboard("kmut", code_a)
    await onboard("stranger")
    await onboard("other_facilitator")
    community_b, code_b = await new_community("other_facilitator", "Other village", GROUP_B)
    await bot.send("other_facilitator", command="propose", args="A problem of the other village")
    await bot.send("other_facilitator", command="propose", args="Another problem of the other village")
    for who, text in zip(("member", "kmut", "facilitator", "member"), PROBLEMS):
        await bot.send(who, GROUP_A, command="propose", args=text)
    ballots = {}
    for kind in ("dots", "matrix", "pairwise"):
        await bot.send("facilitator", GROUP_A, command="poll", args=kind)
        ballots[kind] = await bot.scalar("SELECT id FROM ballots WHERE community_id = ? AND kind = ? AND status = 'open'",
                                         (community_a, kind))
    ids = {}
    for who in PEOPLE:
        ids[who] = await bot.scalar("SELECT member_id FROM identities WHERE external_id = ?", (PEOPLE[who],))
    # Step 2: the member and the ҚМҰТ member nominate themselves; the member nominates the facilitator,
    # who has not answered. One election is closed (with a vote), another is open.
    for who in ("member", "kmut"):
        await bot.send(who, button=f"nc:{community_a}:{ids[who]}:activist")
    await bot.send("member", button=f"nc:{community_a}:{ids['facilitator']}:business")
    election_ballots = []
    for _ in range(2):
        await bot.send("facilitator", GROUP_A, command="poll", args="election 1")
        election_ballots.append(await bot.scalar(
            "SELECT id FROM ballots WHERE community_id = ? AND kind = 'election' AND status = 'open'", (community_a,)))
        if len(election_ballots) == 1:
            candidate = await bot.scalar("SELECT id FROM nominations WHERE member_id = ?", (ids["member"],))
            await bot.send("member", GROUP_A, button=f"el:{election_ballots[0]}:{candidate}")
            await bot.send("facilitator", GROUP_A, command="close", args="election")
    ballots["closed_election"], ballots["election"] = election_ballots
    async with db.transaction() as tx:
        nominations = {"pending": await tx.scalar("SELECT id FROM nominations WHERE status = 'pending'"),
                       "candidate": await tx.scalar("SELECT id FROM nominations WHERE member_id = ?", (ids["kmut"],))}
        assert await tx.scalar("SELECT status FROM ballots WHERE id = ?", (ballots["closed_election"],)) == "closed"
    # Step 3: #1 chosen; a cause #1 with a cause #2 under it, and a consequence #3
    await bot.send("facilitator", GROUP_A, command="choose", args="1")
    for kind, text, place in (("cause", "The culvert is blocked", None), ("cause", "Nobody cleans it", "1"),
                              ("effect", "Children miss school", None)):
        await bot.send("member", button=f"tn:{community_a}:{kind}")
        await bot.send("member", text=text)
        if place:
            await bot.send("member", button=f"tp:{community_a}:{place}")
    assert await bot.scalar("SELECT COUNT(*) FROM tree_nodes WHERE status = 'open'") == 3
    # Step 4: a resource #1 and an organisation #1, estimated by the member
    await bot.send("member", button=f"rk:{community_a}:money")
    await bot.send("member", text="The district's grant for roads")
    await bot.send("member", button=f"oa:{community_a}")
    await bot.send("member", text="The akimat")
    await bot.send("member", button=f"oc:{community_a}:1:3:2")
    assert await bot.scalar("SELECT COUNT(*) FROM resources") == 1
    assert await bot.scalar("SELECT COUNT(*) FROM org_ratings") == 1
    # Step 5: task #1 with an offer from the member, task #2; a plan ballot, opened and closed
    for title in ("Clean the culvert", "Ask the akimat for a grader"):
        await bot.send("member", button=f"ka:{community_a}")
        await bot.send("member", text=title)
    await bot.send("member", button=f"kv:{community_a}:1")
    await bot.send("facilitator", GROUP_A, command="poll", args="plan")
    plan_ballot = await bot.scalar("SELECT id FROM ballots WHERE kind = 'plan'")
    await bot.send("member", GROUP_A, button=f"pl:{plan_ballot}:1")
    await bot.send("facilitator", GROUP_A, command="close", args="plan")
    await bot.send("facilitator", GROUP_A, command="poll", args="plan")
    assert await bot.scalar("SELECT COUNT(*) FROM tasks") == 2
    ballots["plan"] = await bot.scalar("SELECT id FROM ballots WHERE kind = 'plan' AND status = 'open'")
    # Step 7: an evaluation open
    await bot.send("facilitator", GROUP_A, command="poll", args="evaluation")
    ballots["evaluation"] = await bot.scalar("SELECT id FROM ballots WHERE kind = 'evaluation' AND status = 'open'")
    async with db.transaction() as tx:
        problems = [r[0] for r in await tx.all("SELECT id FROM problems WHERE community_id = ? ORDER BY number",
                                               (community_a,))]
        kmut_id = await tx.scalar("SELECT member_id FROM identities WHERE external_id = ?", (PEOPLE["kmut"],))
        await tx.execute("UPDATE memberships SET kmut = 1 WHERE community_id = ? AND member_id = ?",
                         (community_a, kmut_id))
        roles = {r[0]: r[1] for r in await tx.all(
            "SELECT i.external_id, ms.role || ms.kmut FROM identities i LEFT JOIN memberships ms"
            " ON ms.member_id = i.member_id AND ms.community_id = ?", (community_a,))}
    assert roles == {PEOPLE["facilitator"]: "facilitator0", PEOPLE["member"]: "member0", PEOPLE["kmut"]: "member1",
                     PEOPLE["stranger"]: None, PEOPLE["other_facilitator"]: None}, roles
    assert len(problems) == 4 and all(ballots.values()) and all(nominations.values()), (problems, ballots, nominations)
    assert not errors.records, errors.records
    logging.getLogger("bot.flows.engine").removeHandler(errors)
    await db.close()
    return World(path, clock.now, community_a, community_b, code_a, code_b, problems, ballots, ids, nominations)


@pytest.fixture(scope="module")
def world():
    if STORE == "postgresql":  # the world built once on a PostgreSQL database, each case on a copy of it
        url = asyncio.run(new_pg_database("qatysu_auth"))
        try:
            yield asyncio.run(_build(url))
        finally:
            asyncio.run(drop_pg_database(url))
        return
    folder = tempfile.mkdtemp(prefix="qatysu-auth-")
    try:
        yield asyncio.run(_build(os.path.join(folder, "template.db")))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def fresh(world, tmp_path):
    if STORE == "postgresql":
        path = await copy_pg_database(world.path)
    else:
        path = str(tmp_path / "auth.db")
        shutil.copyfile(world.path, path)
    db = await open_store(path).open()
    errors = ErrorLog()
    logging.getLogger("bot.flows.engine").addHandler(errors)
    bot = Bot(db, Clock(world.clock_end + timedelta(minutes=1)), "case")
    bot.errors = errors
    yield bot
    logging.getLogger("bot.flows.engine").removeHandler(errors)
    await db.close()
    if STORE == "postgresql":
        await drop_pg_database(path)


def said(outcome: Outcome, queued: list[Message]) -> list[str]:
    texts = [m.text for m in [*outcome.messages, *queued]]
    if outcome.toast is not None:
        texts.append(outcome.toast.text)
    return texts


def refused(texts: list[str], extra: tuple[str, ...] = ()) -> bool:
    return any(r in text for text in texts for r in (*REFUSALS, *extra))


# --- the cases ---------------------------------------------------------------------------------------
def command_args(name: str, world: World) -> str:
    return {"propose": "The bridge over the river is broken", "poll": "dots", "merge": "4 1", "hide": "3",
            "choose": "2", "paper": "5 1:3 2:2", "link": world.code_a, "join": world.code_a,
            "close": "dots", "facilitator": "leave", "cycle": "new", "report": "1"}.get(name, "")


def button_payload(prefix: str, world: World) -> tuple[str, bool]:
    """A payload naming A's real objects, and whether it is pressed in A's group (else in private)."""
    b, p = world.ballots, world.problems
    return {
        "d": (f"d:{b['dots']}:{p[0]}", True),
        "close": (f"close:{b['dots']}", True),
        "ch": (f"ch:{p[1]}", True),
        "vol": (f"vol:{world.community_a}", True),
        "open": (f"open:{b['matrix']}", False),
        "mx": (f"mx:{b['matrix']}:{p[0]}:a:2", False),
        "mxr": (f"mxr:{b['matrix']}", False),
        "pw": (f"pw:{b['pairwise']}:{p[0]}:{p[1]}:{p[0]}", False),
        "pwr": (f"pwr:{b['pairwise']}", False),
        "c": (f"c:{world.community_a}", False),
        "nm": (f"nm:{world.community_a}:{world.ids['member']}", False),
        "nc": (f"nc:{world.community_a}:{world.ids['facilitator']}:media", False),
        "na": (f"na:{world.nominations['pending']}", False),
        "nd": (f"nd:{world.nominations['pending']}", False),
        "el": (f"el:{b['election']}:{world.nominations['candidate']}", True),
        "kc": (f"kc:{b['closed_election']}", True),
        "tn": (f"tn:{world.community_a}:cause", False),
        "tp": (f"tp:{world.community_a}:0", False),  # after PREPARE: a node waits for its place
        "tc": (f"tc:{world.community_a}", False),
        "ra": (f"ra:{world.community_a}", False),
        "rk": (f"rk:{world.community_a}:people", False),
        "rp": (f"rp:{world.community_a}", False),
        "oa": (f"oa:{world.community_a}", False),
        "op": (f"op:{world.community_a}", False),
        "or": (f"or:{world.community_a}:1", False),
        "oi": (f"oi:{world.community_a}:1:2", False),
        "oc": (f"oc:{world.community_a}:1:2:3", False),
        "ka": (f"ka:{world.community_a}", False),
        "kv": (f"kv:{world.community_a}:1", False),
        "kp": (f"kp:{world.community_a}", False),
        "ko": (f"ko:{world.community_a}:1:{world.ids['member']}", False),
        "pl": (f"pl:{b['plan']}:1", True),
        "ci": (f"ci:{world.community_a}:1", False),
        "cs": (f"cs:{world.community_a}:1:late", False),
        "cp": (f"cp:{world.community_a}:1:late:50", False),
        "cn": (f"cn:{world.community_a}", False),
        "ev": (f"ev:{b['evaluation']}:g:yes", False),
        "lang": ("lang:en", False),
        "consent": ("consent:yes", False),
        "onbname": ("onbname", False),
        "m": ("m:help", False),
        "tz": (f"tz:{world.community_a}:bishkek", False),
        "oe": (f"oe:{world.community_a}", False),
        "forget": ("forget:no", False),
        "fc": (f"fc:{world.community_a}:add:{world.ids['member']}", False),
        "cy": (f"cy:{world.community_a}:1", False),
    }[prefix]


PREPARE = {
}
# Refusals a handler gives in its own words, counted as refusals for that route only.
OWN_REFUSALS = {"c": (STALE,)}
# A place for a node is pressed after the node's text: prepared like that, it is allowed for members.
PREPARE["tp"] = [dict(button="tn:{community}:cause"), dict(text="The pipes froze last winter")]  # switching to a community one is not in: refused as a stale button


def command_cases():
    for name in sorted(EXPECTED_COMMANDS):
        route = registry.COMMANDS.get(name)
        where = route.where if route else "any"
        for role in ROLES:
            if where in ("any", "group"):
                yield pytest.param(name, role, "group", id=f"/{name}-{role}-group")
            # In private the target is the active community: A for its members; the stranger has none
            # and B's facilitator acts on B, so they are tested there only where no community is needed
            # (a private-only command of a community's, like /report, is for the stranger only).
            needs_community = route is not None and route.who in ("member", "kmut", "facilitator")
            if where in ("any", "private") and (role in ("member", "kmut", "facilitator")
                                                or (where == "private" and not (needs_community
                                                                                and role == "other_facilitator"))):
                yield pytest.param(name, role, "private", id=f"/{name}-{role}-private")


@pytest.mark.parametrize("name, role, chat", list(command_cases()))
async def test_command(fresh, world, name, role, chat):
    expected = allowed(role, EXPECTED_COMMANDS[name])
    before = None if expected else await fresh.visible_state()
    outcome, queued = await fresh.send(role, GROUP_A if chat == "group" else None, command=name,
                                       args=command_args(name, world))
    texts = said(outcome, queued)
    assert not fresh.errors.records, [r.getMessage() for r in fresh.errors.records]
    assert texts, f"/{name} by {role} got no answer"
    assert refused(texts) != expected, (f"/{name} by {role} in the {chat} chat should be "
                                        f"{'allowed' if expected else 'refused'}; the bot said {texts}")
    if before is not None:
        assert not (changed := changes(before, await fresh.visible_state())), \
            f"/{name} by {role} was refused, yet it changed {changed}"


@pytest.mark.parametrize("name, args, role", [pytest.param(n, a, r, id=f"/{n} {a}-{r}")
                                              for (n, a) in sorted(EXPECTED_VARIANTS) for r in ROLES])
async def test_command_variant(fresh, world, name, args, role):
    """The ҚМҰТ's curation of the tree: /tree is a member's, /tree merge and /tree remove the ҚМҰТ's."""
    expected = allowed(role, EXPECTED_VARIANTS[name, args])
    before = None if expected else await fresh.visible_state()
    outcome, queued = await fresh.send(role, GROUP_A, command=name, args=args)
    texts = said(outcome, queued)
    assert not fresh.errors.records, [r.getMessage() for r in fresh.errors.records]
    assert refused(texts) != expected, (f"/{name} {args} by {role} should be "
                                        f"{'allowed' if expected else 'refused'}; the bot said {texts}")
    if before is not None:
        assert not (changed := changes(before, await fresh.visible_state())), \
            f"/{name} {args} by {role} was refused, yet it changed {changed}"
    else:
        table, left = {"tree": ("tree_nodes", 2), "resources": ("resources", 0), "orgs": ("orgs", 0),
                       "plan": ("tasks", 2)}[name]  # the plan is frozen while the members vote on it
        assert await fresh.scalar(f"SELECT COUNT(*) FROM {table} WHERE status = 'open'") == left


def menu_cases():
    """m:<command> runs the command: it must be authorized exactly like the command itself."""
    for name in sorted(EXPECTED_COMMANDS):
        route = registry.COMMANDS.get(name)
        if route is None or route.who not in ("member", "facilitator") or route.where == "private":
            continue
        for role in ROLES:
            yield pytest.param(name, role, id=f"m:{name}-{role}")


@pytest.mark.parametrize("name, role", list(menu_cases()))
async def test_menu_button_is_authorized_like_its_command(fresh, world, name, role):
    expected = allowed(role, EXPECTED_COMMANDS[name])
    before = None if expected else await fresh.visible_state()
    outcome, queued = await fresh.send(role, GROUP_A, button=f"m:{name}")
    texts = said(outcome, queued)
    assert not fresh.errors.records, [r.getMessage() for r in fresh.errors.records]
    assert refused(texts) != expected, (f"m:{name} by {role} should be {'allowed' if expected else 'refused'}; "
                                        f"the bot said {texts}")
    if before is not None:
        assert not (changed := changes(before, await fresh.visible_state())), \
            f"m:{name} by {role} was refused, yet it changed {changed}"


@pytest.mark.parametrize("prefix, role", [pytest.param(p, r, id=f"{p}-{r}")
                                          for p in sorted(EXPECTED_BUTTONS) for r in ROLES])
async def test_button(fresh, world, prefix, role):
    payload, in_group = button_payload(prefix, world)
    for step in PREPARE.get(prefix, []):
        await fresh.send(role, **{k: v.format(community=world.community_a) for k, v in step.items()})
    expected = allowed(role, EXPECTED_BUTTONS[prefix])
    before = None if expected else await fresh.visible_state()
    outcome, queued = await fresh.send(role, GROUP_A if in_group else None, button=payload)
    texts = said(outcome, queued)
    assert not fresh.errors.records, [r.getMessage() for r in fresh.errors.records]
    assert texts, f"{payload} by {role} got no answer"
    assert refused(texts, OWN_REFUSALS.get(prefix, ())) != expected, (
        f"{payload} by {role} should be {'allowed' if expected else 'refused'}; the bot said {texts}")
    if before is not None:
        assert not (changed := changes(before, await fresh.visible_state())), \
            f"{payload} by {role} was refused, yet it changed {changed}"


@pytest.mark.parametrize("prefix, role", [pytest.param(p, r, id=f"start_{p}-{r}")
                                          for p in sorted(EXPECTED_START_PAYLOADS) for r in ROLES])
async def test_start_payload(fresh, world, prefix, role):
    rest = {"b": str(world.ballots["matrix"]), "g": f"{world.community_a}_tree"}[prefix]
    expected = allowed(role, EXPECTED_START_PAYLOADS[prefix])
    before = None if expected else await fresh.visible_state()
    outcome, queued = await fresh.send(role, command="start", args=f"{prefix}_{rest}")
    texts = said(outcome, queued)
    assert not fresh.errors.records, [r.getMessage() for r in fresh.errors.records]
    assert refused(texts) != expected, (f"/start {prefix}_{rest} by {role} should be "
                                        f"{'allowed' if expected else 'refused'}; the bot said {texts}")
    if before is not None:
        assert not (changed := changes(before, await fresh.visible_state())), \
            f"/start {prefix}_{rest} by {role} was refused, yet it changed {changed}"


def test_every_route_is_classified():
    """A new command, button or deep link must be classified in the table above."""
    missing = {
        "commands": sorted(set(registry.COMMANDS) - set(EXPECTED_COMMANDS)),
        "buttons": sorted(set(registry.BUTTONS) - set(EXPECTED_BUTTONS)),
        "start payloads": sorted(set(registry.START_PAYLOADS) - set(EXPECTED_START_PAYLOADS)),
    }
    assert not any(missing.values()), f"classify these in tests/test_authorization.py: {missing}"
    gone = {
        "commands": sorted(set(EXPECTED_COMMANDS) - set(registry.COMMANDS)),
        "buttons": sorted(set(EXPECTED_BUTTONS) - set(registry.BUTTONS)),
        "start payloads": sorted(set(EXPECTED_START_PAYLOADS) - set(registry.START_PAYLOADS)),
    }
    assert not any(gone.values()), f"no longer registered, remove from the table: {gone}"


# --- refusals change nothing -------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["stranger", "other_facilitator"])
async def test_outsiders_taps_store_no_vote(fresh, world, role):
    b, p = world.ballots, world.problems
    tables = ("dot_votes", "matrix_votes", "pairwise_votes", "volunteers", "step1_choices", "tree_nodes",
              "resources", "orgs", "org_ratings", "tasks", "task_volunteers", "plan_votes", "evaluation_answers")
    before = {table: await fresh.scalar(f"SELECT COUNT(*) FROM {table}") for table in tables}
    closed_before = await fresh.scalar("SELECT COUNT(*) FROM ballots WHERE status = 'closed'")
    for payload in (f"d:{b['dots']}:{p[0]}", f"mx:{b['matrix']}:{p[0]}:a:2", f"mx:{b['matrix']}:{p[0]}:b:2",
                    f"pw:{b['pairwise']}:{p[0]}:{p[1]}:{p[0]}", f"vol:{world.community_a}", f"ch:{p[0]}",
                    f"close:{b['dots']}", f"tn:{world.community_a}:cause", f"tp:{world.community_a}:1",
                    f"oc:{world.community_a}:1:3:3", f"rk:{world.community_a}:money", f"kv:{world.community_a}:2",
                    f"pl:{b['plan']}:0", f"close:{b['plan']}", f"ev:{b['evaluation']}:r:5"):
        await fresh.send(role, GROUP_A, button=payload)
        await fresh.send(role, button=payload)
    for table in tables:
        assert await fresh.scalar(f"SELECT COUNT(*) FROM {table}") == before[table], table
    assert await fresh.scalar("SELECT COUNT(*) FROM ballots WHERE status = 'closed'") == closed_before


async def test_another_facilitator_cannot_relink_a_linked_group(fresh, world):
    """B's facilitator sends /link with B's code in A's group: the group stays A's."""
    outcome, queued = await fresh.send("other_facilitator", GROUP_A, command="link", args=world.code_b)
    linked = await fresh.scalar("SELECT community_id FROM group_links WHERE chat_id = ?", (GROUP_A,))
    assert linked == world.community_a, f"A's group now belongs to community {linked}; said {said(outcome, queued)}"
