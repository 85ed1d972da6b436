"""Shared fixtures: a database in a temporary file, the engine, and the no-network simulator;
and the session's end (tests/session_end.py), which exits with pytest's status even when a test
left a thread running."""

from __future__ import annotations

import asyncio
import atexit
import os
import random
import re
import shutil
import tempfile
import threading
from datetime import datetime, timedelta, timezone

import pytest

import bot.handlers  # noqa: F401  (before any test imports aiogram: as the bot runs, types built on first use)
from bot.flows.engine import Engine
from bot.sim import Group, Person, Sim
from bot.storage.db import Database
from tests.session_end import pytest_sessionstart, pytest_unconfigure  # noqa: F401  (hooks, found here by name)


class Clock:
    """Test time: two seconds pass at every reading, so no two presses look like one double tap."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 5, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=2)
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


_migrated: str | None = None
_migrated_lock = threading.Lock()


def migrated_database(path: str) -> str:
    """A new database at the current schema, at ``path``: a copy of one that ``Database.open``
    migrated once in this test session (migrating anew took ~0.1 s, in most of the suite's tests).
    Opened, it is what a fresh ``Database(path).open()`` makes: the same migrations wrote it."""
    global _migrated
    with _migrated_lock:
        if _migrated is None:
            folder = tempfile.mkdtemp(prefix="qatysu-migrated-")
            atexit.register(shutil.rmtree, folder, True)
            template, failed = os.path.join(folder, "migrated.db"), []

            async def migrate() -> None:
                async with Database(template):  # closing it checkpoints the WAL into the file
                    pass

            def build() -> None:  # a thread of its own: callable from a running event loop too
                try:
                    asyncio.run(migrate())
                except BaseException as exc:
                    failed.append(exc)

            builder = threading.Thread(target=build, name="migrate-template")
            builder.start()
            builder.join()
            if failed:
                raise failed[0]
            _migrated = template
    shutil.copyfile(_migrated, path)
    return path


# The store the common fixtures use: SQLite (the default), or, with QATYSU_TEST_STORE=postgresql,
# a new PostgreSQL database for each of them on the server QATYSU_TEST_PG names, copied from a
# template at the current schema (tests/stores.py), dropped when the test ends.
STORE = os.environ.get("QATYSU_TEST_STORE", "").strip().lower() or "sqlite"
if STORE not in ("sqlite", "postgresql"):
    raise RuntimeError(f"QATYSU_TEST_STORE must be sqlite or postgresql, not {STORE!r}")
if STORE == "postgresql" and not os.environ.get("QATYSU_TEST_PG", "").strip():
    raise RuntimeError("QATYSU_TEST_STORE=postgresql needs QATYSU_TEST_PG: $(scripts/pg_local.sh start)")
_made: dict[str, str] = {}  # a test's path -> the PostgreSQL database standing for it (this test's)


def _in_thread(make):
    """``asyncio.run(make())`` in a thread of its own: callable from a running event loop too."""
    result, failed = [], []

    def run() -> None:
        try:
            result.append(asyncio.run(make()))
        except BaseException as exc:
            failed.append(exc)

    worker = threading.Thread(target=run, name="test-store")
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return result[0] if result else None


def store_target(path: str) -> str:
    """What a test's bot opens as QATYSU_DB for the file ``path``: ``path`` itself on SQLite; on
    PostgreSQL the URL of a new database at the current schema, the same one for the same path
    within a test (a bot started again finds its data)."""
    if STORE == "sqlite" or path.startswith("postgresql://"):
        return path
    if path not in _made:
        from tests.stores import new_pg_database

        _made[path] = _in_thread(new_pg_database)
    return _made[path]


def new_database(path: str) -> str:
    """A new database at the current schema for a test: a copy of the migrated SQLite file at
    ``path``, or its PostgreSQL stand-in (``store_target``); what to open."""
    if STORE == "sqlite":
        return migrated_database(path)
    return store_target(path)


def open_store(target: str, **options):
    """The (unopened) database at ``target``, a file or a URL, as ``qatysu run`` opens it."""
    from bot.storage.stores import database

    return database(target, **options)


@pytest.fixture(autouse=True)
def _store_of_the_test(request):
    """On PostgreSQL: skips what tests SQLite's own, and drops the databases the test made."""
    if STORE == "postgresql" and request.node.get_closest_marker("sqlite_only"):
        pytest.skip("what this tests is SQLite's own (QATYSU_TEST_STORE=postgresql)")
    yield
    if _made:
        from tests.stores import drop_pg_database

        made = list(_made.values())
        _made.clear()
        for url in made:
            _in_thread(lambda: drop_pg_database(url))


@pytest.fixture
async def db(tmp_path):
    database = await open_store(new_database(str(tmp_path / "test.db"))).open()
    yield database
    await database.close()


@pytest.fixture
async def engine(db, clock):
    return Engine(db, bot_username="qatysu_test_bot", clock=clock, rng=random.Random(42))


@pytest.fixture
async def sim(engine):
    return Sim(engine)


async def onboard(person: Person, language: str | None = None) -> None:
    language = language or {"kk": "қазақша", "ru": "русский", "en": "English"}[person.lang]
    await person.send("/start")
    await person.press(language)
    await person.press_data("consent:yes")
    await person.press(person.name)


async def create_community(facilitator: Person, name: str = "Көктерек") -> str:
    await facilitator.send("/new")
    await facilitator.send(name)
    await facilitator.send("Талғар ауданы")
    return re.search(r"start=([A-Z0-9]+)", facilitator.last().text).group(1)


class Community:
    """A facilitator, a linked group and members, ready for a step's tests."""

    def __init__(self, sim: Sim, facilitator: Person, group: Group, code: str, members: list[Person]) -> None:
        self.sim, self.facilitator, self.group, self.code, self.members = sim, facilitator, group, code, members


async def build_community(sim: Sim, n_members: int = 3, langs: tuple[str, ...] = ("kk", "ru", "en")) -> Community:
    facilitator = sim.person("Айгерим", "kk")
    await onboard(facilitator)
    code = await create_community(facilitator)
    group = sim.group("-100500", "Көктерек тобы")
    await facilitator.send(f"/link {code}", group)
    members = []
    for i in range(n_members):
        member = sim.person(f"Мүше {i + 1}", langs[i % len(langs)])
        await member.send(f"/start {code}")
        await member.press({"kk": "қазақша", "ru": "русский", "en": "English"}[member.lang])
        await member.press_data("consent:yes")
        await member.press(member.name)
        members.append(member)
    return Community(sim, facilitator, group, code, members)


@pytest.fixture
async def community(sim) -> Community:
    return await build_community(sim)


@pytest.fixture
async def tg():
    """A fake Telegram Bot API on 127.0.0.1."""
    from tests.fakes import FakeTelegram
    from tests.test_e2e_telegram import TOKEN

    async with FakeTelegram(token=TOKEN, bot_username="qatysu_test_bot") as fake:
        yield fake


@pytest.fixture
async def bot(tg, tmp_path):
    """The real bot, polling the fake Bot API (no rate limits: the fake enforces none by default)."""
    from tests.test_e2e_telegram import Bot

    runner = Bot(tg, str(tmp_path / "bot.db"))
    await runner.start()
    yield runner
    await runner.stop()


@pytest.fixture
async def wa():
    """A fake WhatsApp Cloud API on 127.0.0.1."""
    from tests.fakes.whatsapp import FakeWhatsApp
    from tests.test_whatsapp_e2e import PHONE_ID, SECRET, WA_TOKEN

    async with FakeWhatsApp(token=WA_TOKEN, app_secret=SECRET, phone_number_id=PHONE_ID) as fake:
        yield fake


@pytest.fixture
async def wabot(wa, tmp_path):
    """The WhatsApp channel alone (its own database, engine and outbox), posted to by the fake."""
    from tests.test_whatsapp_e2e import start_whatsapp

    app = await start_whatsapp(wa, new_database(str(tmp_path / "wa.db")))
    yield app
    await app.stop()


@pytest.fixture
async def both(tg, bot, wa):
    """WhatsApp beside the Telegram bot (``bot``): one database, engine and outbox."""
    from tests.test_whatsapp_e2e import start_whatsapp

    app = await start_whatsapp(wa, bot.db_path, telegram=bot.app)
    yield app
    await app.stop()
