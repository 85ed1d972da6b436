"""Privacy: the consent text, /mydata and /forget (nothing personal survives; votes stay counted)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3

import pytest

from bot.flows.engine import Engine
from bot.flows.types import View
from bot.sim import Person, Sim
from bot.storage import ballots, privacy
from bot.storage.db import Database
from tests.conftest import _in_thread, build_community, create_community
from tests.test_flows_step1 import button_for
from tests.test_flows_step2 import nominate


CONSENT_PARTS = {  # operator, BIN, purpose, data, where, how long, how to withdraw, the law
    ("en", "English"): ("BIN 123456789012", "Purpose", "Data:", "Where:", "How long",
                        "On personal data and their protection"),
    ("kk", "қазақша"): ("БСН 123456789012", "Мақсаты", "Деректер:", "Қайда:", "Қанша уақыт",
                        "Дербес деректер және оларды қорғау туралы"),
    ("ru", "русский"): ("БИН 123456789012", "Цель", "Данные:", "Где:", "Как долго",
                        "О персональных данных и их защите"),
}


@pytest.mark.parametrize("lang, label", list(CONSENT_PARTS))
async def test_consent_names_the_operator_and_how_to_withdraw(db, clock, lang, label):
    engine = Engine(db, clock=clock, rng=random.Random(1), operator_name="«Ауыл дамуы» ҚҚ",
                    operator_bin="123456789012")
    person = Sim(engine).person("Ерлан", lang)
    await person.send("/start")
    await person.press(label)
    text = person.last().text
    for part in ("«Ауыл дамуы» ҚҚ", "/forget", "/mydata", *CONSENT_PARTS[(lang, label)]):
        assert part in text, part


async def test_mydata_sends_everything_stored_about_the_member(sim):
    c = await build_community(sim, 1, ("en",))
    member = c.members[0]
    await member.send("/propose The road floods every spring")
    await member.send("/mydata")
    name, content = member.last().document
    data = json.loads(content)
    assert name.endswith(".json")
    assert data["member"]["name"] == member.name
    assert data["identities"][0]["external_id"] == member.id
    assert data["problems_proposed"][0]["text"] == "The road floods every spring"
    assert data["communities"][0]["name"] == "Көктерек"
    async with sim.engine.db.transaction() as tx:  # no second copy waits for a retry
        kept = [r[0] for r in await tx.all("SELECT reply FROM processed_updates WHERE reply IS NOT NULL")]
    kept = [reply.decode() if isinstance(reply, bytes) else reply for reply in kept]  # PostgreSQL's BYTEA
    assert kept and not [reply for reply in kept if "qatysu-my-data.json" in reply]


# Every column that can point at a member, and the part of /mydata that shows those rows. A table
# added later with such a column fails the test below until /mydata exports it (or it is listed
# under NOT_EXPORTED, with the reason).
EXPORTED = {
    ("identities", "member_id"): "identities",
    ("identities", "external_id"): "identities",
    ("memberships", "member_id"): "communities",
    ("communities", "created_by"): "communities_created",
    ("group_links", "linked_by"): "groups_linked",
    ("problems", "created_by"): "problems_proposed",
    ("problem_authors", "member_id"): "problems_proposed",
    ("ballots", "opened_by"): "ballots_opened",
    ("dot_votes", "member_id"): "stickers",
    ("matrix_votes", "member_id"): "matrix_scores",
    ("pairwise_votes", "member_id"): "pairwise_answers",
    ("pairwise_plans", "member_id"): "pairs_to_compare",
    ("ballot_voters", "member_id"): "ballots_voted_in",
    ("step1_choices", "confirmed_by"): "problems_chosen",
    ("volunteers", "member_id"): "volunteered",
    ("audit_log", "actor_id"): "actions_in_audit_log",
    ("conversations", "external_id"): "conversations",  # keyed by the messenger account
    ("nominations", "member_id"): "nominations_received",
    ("nominations", "nominated_by"): "nominations_made",
    ("election_votes", "member_id"): "election_approvals",
    ("kmut_confirmations", "confirmed_by"): "kmut_confirmed",
    ("tree_nodes", "created_by"): "tree_nodes_added",
    ("resources", "created_by"): "resources_added",
    ("orgs", "created_by"): "organisations_added",
    ("org_ratings", "member_id"): "organisation_estimates",
    ("tasks", "created_by"): "tasks_proposed",
    ("cycles", "started_by"): "cycles_started",
    ("cycles", "ended_by"): "cycles_ended",
    ("tasks", "owner_id"): "tasks_responsible_for",
    ("task_volunteers", "member_id"): "tasks_offered",
    ("plan_votes", "member_id"): "plan_votes",
    ("evaluation_answers", "member_id"): "evaluations",
    ("checkins", "member_id"): "task_reports",
    ("mutes", "member_id"): "reminders_muted_until",
    ("group_presence", "member_id"): "seen_in_groups_of",
}
NOT_EXPORTED = {  # about the account, but only for moments, and nothing they told us
    ("unreachable", "external_id"): "their chat refused the bot; gone as soon as they write (/mydata too)",
    ("recent_taps", "user_id"): "a button press, kept a second to drop a double tap",
    ("message_refs", "chat_id"): "which of the bot's own messages to edit",
    ("outbox", "chat_id"): "the bot's messages on their way to them",
    ("group_links", "chat_id"): "a group chat, never a person's",
    ("pace", "chat_id"): "when the bot may send their chat its next message (several workers), for seconds",
    ("outbox", "leased_by"): "the bot's worker sending a message, never a person",
}


async def _pg_catalog(url: str) -> tuple[dict[str, list[str]], set[tuple[str, str]], list[str]]:
    """PostgreSQL's tables with their columns, the (table, column) foreign keys to members, and
    every row of every table as text."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        tables: dict[str, list[str]] = {}
        for row in await conn.fetch("SELECT table_name, column_name FROM information_schema.columns"
                                    " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"):
            tables.setdefault(row[0], []).append(row[1])
        keys = {(r[0], r[1]) for r in await conn.fetch(
            "SELECT kcu.table_name, kcu.column_name FROM information_schema.table_constraints tc"
            " JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name"
            " AND kcu.table_schema = tc.table_schema"
            " JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name"
            " AND ccu.table_schema = tc.table_schema"
            " WHERE tc.constraint_type = 'FOREIGN KEY' AND ccu.table_name = 'members'"
            " AND tc.table_schema = current_schema()")}
        # ``pace`` (several workers' shared pacing) holds a chat's id for a minute after the bot's
        # last message to it (the erasure's own answer too), then the scheduler's prune drops it
        # (tests/test_shared_pacing.py): it is left out here, where the erasure was a moment ago
        rows = [str(tuple(row)) for table in tables if table != "pace"
                for row in await conn.fetch(f'SELECT * FROM "{table}"')]
    finally:
        await conn.close()
    return tables, keys, rows


def member_references(path: str) -> set[tuple[str, str]]:
    """(table, column) pairs that point at a member: foreign keys to members, columns named for a
    member (member_id, actor_id, ..._by), and messenger-account columns next to a channel."""
    if "://" in path:  # PostgreSQL (QATYSU_TEST_STORE=postgresql)
        tables, keys, _ = _in_thread(lambda: _pg_catalog(path))
        found = set(keys)
        for table, columns in tables.items():
            found |= {(table, c) for c in columns if c in ("member_id", "actor_id") or c.endswith("_by")}
            if "channel" in columns:
                found |= {(table, c) for c in columns if c in ("external_id", "user_id", "chat_id")}
        return found
    raw = sqlite3.connect(path)
    found = set()
    for table, in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
        columns = [row[1] for row in raw.execute(f"PRAGMA table_info({table})")]
        found |= {(table, fk[3]) for fk in raw.execute(f"PRAGMA foreign_key_list({table})") if fk[2] == "members"}
        found |= {(table, c) for c in columns if c in ("member_id", "actor_id") or c.endswith("_by")}
        if "channel" in columns:
            found |= {(table, c) for c in columns if c in ("external_id", "user_id", "chat_id")}
    raw.close()
    return found


async def test_mydata_exports_every_row_that_refers_to_the_member(sim):
    c = await build_community(sim, 2, ("en",))
    member, other = c.members
    await sim.handle(member, "contact", phone="+7 701 555 12 34")
    await member.send("/propose The road floods every spring")
    await member.send("/propose No playground for the children")
    await other.send("/propose The school bus is always late")
    await c.facilitator.send("/poll dots", c.group)  # ballot 1: stickers on #1 and #2, then closed
    for number in (1, 2):
        await member.press_data(button_for(sim.messages(c.group.id)[-1], number), c.group)
    await c.facilitator.send("/close", c.group)
    await c.facilitator.send("/poll dots", c.group)  # ballot 2, still open: a sticker on #3
    await member.press_data(button_for(sim.messages(c.group.id)[-1], 3), c.group)
    await c.facilitator.send("/poll matrix", c.group)  # ballot 3
    await member.send("/start b_3")
    for _ in range(3):
        await member.press_data(member.last().buttons[0][2].data)  # importance 3
        await member.press_data(member.last().buttons[0][0].data)  # urgency 1
    await c.facilitator.send("/poll pairwise", c.group)  # ballot 4: the lower number is preferred
    await member.send("/start b_4")
    for _ in range(3):
        choices = [b for row in member.last().buttons for b in row]
        await member.press_data(min(choices, key=lambda b: int(b.text.split("#")[1].split()[0])).data)
    await c.facilitator.send("/choose 1", c.group)
    await member.press("🙋", c.group)  # "I will take part in the next stage"
    await member.send("/tree")  # step 3: a cause of the chosen problem
    await member.press_data(next(b.data for row in member.last().buttons for b in row if b.data.endswith(":cause")))
    await member.send("The culvert under the road is blocked")
    await member.send("/resources")  # step 4: a resource, an organisation and the member's estimate of it
    await member.press_data(next(b.data for row in member.last().buttons for b in row if b.data.startswith("ra:")))
    await member.press_data(next(b.data for row in member.last().buttons for b in row if b.data.endswith(":materials")))
    await member.send("A tractor\nSerik\nThe farm")
    await member.send("/orgs")
    await member.press_data(next(b.data for row in member.last().buttons for b in row if b.data.startswith("oa:")))
    await member.send("The akimat")
    await member.press_data(member.last().buttons[0][2].data)  # importance 3
    await member.press_data(member.last().buttons[0][0].data)  # closeness 1
    await member.send("/plan")  # step 5: a task, the offer to do it, named responsible, the plan approved
    await member.press_data(next(b.data for row in member.last().buttons for b in row if b.data.startswith("ka:")))
    await member.send("Clean the culvert\n01.12 – 05.12\nTwo shovels")
    await member.press_data(next(b.data for row in member.last().buttons for b in row if b.data.startswith("kv:")))
    await c.facilitator.send("/plan owner 1", c.group)
    await c.facilitator.press_data(next(b.data for row in c.sim.messages(c.group.id)[-1].buttons for b in row),
                                   c.group)
    await c.facilitator.send("/poll plan", c.group)  # ballot 5
    await member.press_data(next(b.data for row in sim.messages(c.group.id)[-1].buttons for b in row
                                 if b.data.endswith(":1")), c.group)
    await c.facilitator.send("/close plan", c.group)
    await member.send("/checkin")  # step 6: a report on the task, and reminders muted for a week
    await member.press_data(next(b.data for row in member.last().buttons for b in row if b.data.startswith("ci:")))
    await member.press_data(next(b.data for row in member.last().buttons for b in row if b.data.endswith(":on_track")))
    await member.press_data(next(b.data for row in member.last().buttons for b in row if b.data.endswith(":50")))
    await member.send("Half of it is clean")
    await member.send("/mute 7d")
    await c.facilitator.send("/poll evaluation", c.group)  # step 7: ballot 6
    await member.send("/start b_6")
    await member.press_data(member.last().buttons[1][0].data)  # partly
    await member.press_data(member.last().buttons[0][3].data)  # rating 4
    await member.press_data(member.last().buttons[0][0].data)  # will take part again
    await member.send("Everyone came to clean the culvert")
    # step 2: nominated and nominating, approving in an election, and (below) confirming a ҚМҰТ
    await nominate(other, "ше 1", "activist")
    await member.press_data(next(b.data for row in member.last().buttons for b in row if b.data.startswith("na:")))
    await nominate(member, "ше 2", "media")
    await other.press_data(next(b.data for row in other.last().buttons for b in row if b.data.startswith("na:")))
    await c.facilitator.send("/poll election", c.group)  # ballot 7 (after the plan's, 5, and the evaluation, 6)
    election = sim.messages(c.group.id)[-1]
    await member.press_data(next(b.data for row in election.buttons for b in row if other.name in b.text), c.group)
    # the member also leads a community of their own: created, its group linked, a vote opened, a choice
    code = await create_community(member, "Second village")
    their_group = sim.group("-100600", "Second village chat")
    await member.send(f"/link {code}", their_group)
    await member.send("/propose The well is dry", their_group)
    await member.send("/propose The bridge is broken", their_group)
    await member.send("/poll dots", their_group)  # ballot 8
    await member.send("/choose 2", their_group)
    await other.send(f"/start {code}")
    await nominate(member, "Myself", "ngo")
    await nominate(other, "Myself", "business")
    await member.send("/poll election", their_group)  # ballot 9
    await other.press_data(next(b.data for row in sim.messages(their_group.id)[-1].buttons for b in row
                                if member.name in b.text), their_group)
    await member.send("/close election", their_group)
    await member.press("✅", their_group)
    await member.press("Confirm anyway", their_group)
    for _ in range(6):
        await member.send("/next", their_group)
    await member.send("/close dots", their_group)
    await member.send("/cycle new", their_group)  # cycle 1 of their village is archived, cycle 2 starts
    await member.press_data(next(b.data for row in sim.messages(their_group.id)[-1].buttons for b in row), their_group)
    await member.send("/propose")  # asked to describe a problem: the conversation waits for it

    db = sim.engine.db
    async with db.transaction() as tx:
        member_id = await tx.scalar("SELECT member_id FROM identities WHERE external_id = ?", (member.id,))
        stored = {}
        for table, column in sorted(member_references(db.path)):
            key = member.id if column in ("external_id", "user_id", "chat_id") else member_id
            stored[table, column] = await tx.scalar(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (key,))
        if isinstance(db, Database):
            member_columns = {row[1] for row in await tx.all("PRAGMA table_info(members)")}
        else:
            member_columns = {row[0] for row in await tx.all(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'members'"
                " AND table_schema = current_schema()")}
    assert set(stored) - set(EXPORTED) - set(NOT_EXPORTED) == set(), "refers to members; add it to /mydata"
    assert [ref for ref in EXPORTED if not stored.get(ref)] == []  # the member has a row in every one

    await member.send("/mydata")
    name, content = member.last().document
    data = json.loads(content)
    assert name.endswith(".json")
    for (table, column), section in EXPORTED.items():
        assert len(data[section]) >= stored[table, column], (table, column)
    assert set(data["member"]) >= member_columns  # every column of the member's own row
    assert data["member"]["name"] == member.name and data["member"]["phone"] == "+77015551234"
    assert [i["external_id"] for i in data["identities"]] == [member.id]
    assert {(m["name"], m["role"]) for m in data["communities"]} == {("Көктерек", "member"),
                                                                    ("Second village", "facilitator")}
    assert {p["text"] for p in data["problems_proposed"]} == {
        "The road floods every spring", "No playground for the children", "The well is dry", "The bridge is broken"}
    assert sorted((s["ballot_id"], s["problem"], s["count"]) for s in data["stickers"]) == [
        (1, 1, 1), (1, 2, 1), (2, 3, 1)]  # the closed ballot's and the open one's
    assert sorted((m["ballot_id"], m["problem"], m["importance"], m["urgency"]) for m in data["matrix_scores"]) == [
        (3, 1, 3, 1), (3, 2, 3, 1), (3, 3, 3, 1)]
    assert sorted((a["ballot_id"], a["a"], a["b"], a["preferred"]) for a in data["pairwise_answers"]) == [
        (4, 1, 2, 1), (4, 1, 3, 1), (4, 2, 3, 2)]
    assert [(p["ballot_id"], sorted(sorted(pair) for pair in p["pairs"])) for p in data["pairs_to_compare"]] == [
        (4, [[1, 2], [1, 3], [2, 3]])]
    assert [v["community"] for v in data["volunteered"]] == ["Көктерек"]
    assert [c["name"] for c in data["communities_created"]] == ["Second village"]
    assert [g["title"] for g in data["groups_linked"]] == ["Second village chat"]
    assert [b["ballot_id"] for b in data["ballots_opened"]] == [8, 9]
    assert sorted((n["community"], n["category"], n["status"]) for n in data["nominations_received"]) == [
        ("Second village", "ngo", "accepted"), ("Көктерек", "activist", "accepted")]
    assert [(n["nominee"], n["category"]) for n in data["nominations_made"]] == [
        (other.name, "media"), (member.name, "ngo")]
    assert [(a["ballot_id"], a["candidate"]) for a in data["election_approvals"]] == [(7, other.name)]
    assert [(k["community"], k["ballot_id"]) for k in data["kmut_confirmed"]] == [("Second village", 9)]
    assert [(t["number"], t["kind"], t["text"]) for t in data["tree_nodes_added"]] == [
        (1, "cause", "The culvert under the road is blocked")]
    assert [(r["kind"], r["text"], r["holder"], r["place"]) for r in data["resources_added"]] == [
        ("materials", "A tractor", "Serik", "The farm")]
    assert [o["name"] for o in data["organisations_added"]] == ["The akimat"]
    assert [(e["name"], e["importance"], e["closeness"]) for e in data["organisation_estimates"]] == [
        ("The akimat", 3, 1)]
    assert [(t["title"], t["start_on"], t["resources"]) for t in data["tasks_proposed"]] == [
        ("Clean the culvert", "2026-12-01", "Two shovels")]
    assert [t["title"] for t in data["tasks_responsible_for"]] == ["Clean the culvert"]
    assert [t["number"] for t in data["tasks_offered"]] == [1]
    assert [v["approve"] for v in data["plan_votes"]] == [1]
    assert [(r["number"], r["status"], r["percent"], r["note"]) for r in data["task_reports"]] == [
        (1, "on_track", 50, "Half of it is clean")]
    assert len(data["reminders_muted_until"]) == 1
    assert [g["community"] for g in data["seen_in_groups_of"]] == ["Көктерек", "Second village"]
    assert [(e["goal"], e["rating"], e["again"], e["worked"]) for e in data["evaluations"]] == [
        ("partly", 4, 1, "Everyone came to clean the culvert")]
    assert [(p["community"], p["problem"]) for p in data["problems_chosen"]] == [("Second village", 2)]
    assert [(s["state"], s["channel"]) for s in data["conversations"]] == [("p.text", "demo")]
    assert "member.phone_shared" in [a["action"] for a in data["actions_in_audit_log"]]

    async with db.transaction() as tx:  # /mydata is in the audit log, with no more than who asked
        entry = dict(await tx.one("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1"))
    assert (entry["action"], entry["actor_id"], entry["community_id"], entry["detail"]) == (
        "member.data_exported", member_id, None, "{}")


def dump(path: str) -> str:
    if "://" in path:  # PostgreSQL (QATYSU_TEST_STORE=postgresql)
        return "\n".join(_in_thread(lambda: _pg_catalog(path))[2])
    raw = sqlite3.connect(path)
    text = "\n".join(str(row) for table, in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")
                     for row in raw.execute(f"SELECT * FROM {table}"))
    raw.close()
    return text


async def test_forget_erases_every_personal_field_and_keeps_votes_counted(sim, tmp_path):
    c = await build_community(sim, 2, ("en",))
    target = sim.person("Zhanar Unique-Name", "en")
    await target.send(f"/start {c.code}")
    await target.press("English")
    await target.press_data("consent:yes")
    await target.send("Zhanar Unique-Name")
    await sim.handle(target, "contact", phone="+7 701 555 12 34")
    await target.send("/propose Secret-problem-text about the well")
    await c.members[0].send("/propose Another problem in the village")
    await c.facilitator.send("/poll dots", c.group)
    ballot = sim.messages(c.group.id)[-1]
    for row in ballot.buttons:
        await target.press_data(row[0].data, c.group)
    await c.facilitator.send("/close", c.group)
    async with sim.engine.db.transaction() as tx:
        before = dict(await ballots.options(tx, 1))
    assert sum(before.values()) == 2
    assert target.id in dump(sim.engine.db.path) and "Zhanar Unique-Name" in dump(sim.engine.db.path)

    await target.send("/forget")
    await target.press("Erase my data")
    assert "erased" in target.last().text
    text = dump(sim.engine.db.path)
    for personal in ("Zhanar Unique-Name", "77015551234", "5551234", f"'{target.id}'"):
        assert personal not in text, personal
    async with sim.engine.db.transaction() as tx:
        assert dict(await ballots.options(tx, 1)) == before  # the votes of a closed ballot still count
        row = await tx.one("SELECT action FROM audit_log ORDER BY id DESC LIMIT 1")
    assert row["action"] == "member.forgotten"
    await target.send("/start")
    assert "Choose your language" in target.last().text  # a stranger again
    await c.facilitator.send("/problems")
    assert "Secret-problem-text" in c.facilitator.last().text  # the proposal stays, authorless


async def test_forget_withdraws_votes_from_open_ballots_so_rejoining_cannot_vote_twice(sim):
    c = await build_community(sim, 2, ("en",))
    await c.facilitator.send("/propose First problem of the village")
    await c.facilitator.send("/propose Second problem of the village")
    await c.facilitator.send("/poll dots", c.group)
    ballot = sim.messages(c.group.id)[-1]
    voter = c.members[0]
    chosen = int(ballot.buttons[0][0].data.split(":")[-1])  # the buttons come shuffled
    other = 3 - chosen
    await voter.press_data(ballot.buttons[0][0].data, c.group)
    await c.members[1].press_data(ballot.buttons[0][0].data, c.group)

    async def counts():
        async with sim.engine.db.transaction() as tx:
            return dict(await ballots.options(tx, 1)), (await ballots.get(tx, 1)).turnout

    assert await counts() == ({chosen: 2, other: 0}, 2)
    await voter.send("/forget")
    await voter.press("Erase my data")
    assert await counts() == ({chosen: 1, other: 0}, 1)  # withdrawn from the ballot still open
    async with sim.engine.db.transaction() as tx:
        entry = await tx.one("SELECT action, detail FROM audit_log ORDER BY id DESC LIMIT 1")
    assert entry["action"] == "member.forgotten" and json.loads(entry["detail"])["votes_withdrawn_from_ballots"] == [1]
    assert sim.messages(c.group.id)[-1].buttons[0][0].text.endswith("· 1")  # the group sees it at once

    await voter.send(f"/start {c.code}")  # the same account joins again
    await voter.press("English")
    await voter.press_data("consent:yes")
    await voter.send("Back again")
    await voter.press_data(ballot.buttons[0][0].data, c.group)
    assert await counts() == ({chosen: 2, other: 0}, 2)  # one person, one set of stickers


async def test_forget_can_be_cancelled(sim):
    c = await build_community(sim, 1, ("en",))
    await c.members[0].send("/forget")
    await c.members[0].press("Cancel")
    assert "Nothing was erased" in c.members[0].last().text
    await c.members[0].send("/status")
    assert "seven steps" in c.members[0].last().text


async def test_members_silent_for_three_years_are_erased_as_by_forget(sim, clock):
    from bot.flows.privacy import expire_inactive

    c = await build_community(sim, 2, ("en",))
    silent, active = c.members
    await c.facilitator.send("/propose First problem of the village")
    await c.facilitator.send("/propose Second problem of the village")
    await c.facilitator.send("/poll dots", c.group)
    ballot = sim.messages(c.group.id)[-1]
    await silent.press_data(ballot.buttons[0][0].data, c.group)
    clock.advance(days=3 * 366 - 30)
    await active.send("/status")               # a member who still takes part
    await c.facilitator.send("/status")
    clock.advance(days=29)
    await sim.engine.run_system(expire_inactive)  # one day short of three years: nobody goes
    async with sim.engine.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM members WHERE name IS NOT NULL") == 3
    clock.advance(days=2)
    outcome = await sim.engine.run_system(expire_inactive)
    async with sim.engine.db.transaction() as tx:
        names = [r[0] for r in await tx.all("SELECT name FROM members WHERE name IS NOT NULL ORDER BY id")]
        entry = await tx.one("SELECT action, detail FROM audit_log ORDER BY id DESC LIMIT 1")
        turnout = (await ballots.get(tx, 1)).turnout
    assert silent.name not in names and active.name in names and c.facilitator.name in names
    assert silent.id not in dump(sim.engine.db.path)
    assert entry["action"] == "member.expired"
    assert json.loads(entry["detail"])["votes_withdrawn_from_ballots"] == [1] and turnout == 0
    assert outcome.refresh == {View("b", 1)}  # the group's counts are redrawn without the sticker
    await silent.send("/start")
    assert "Choose your language" in silent.last().text  # a stranger now


@pytest.mark.sqlite_only  # SQLite's files and WAL, read byte by byte
async def test_forget_leaves_no_trace_in_the_database_files(sim):
    c = await build_community(sim, 1, ("en",))
    target = Person(sim, "5550123456789", "Aigul Traceable-Name", "en")  # a messenger id to look for
    await target.send(f"/start {c.code}")
    await target.press("English")
    await target.press_data("consent:yes")
    await target.send("Aigul Traceable-Name")
    await sim.handle(target, "contact", phone="+7 701 999 88 77")
    db = sim.engine.db

    def files() -> bytes:
        return b"".join(open(path, "rb").read() for path in (db.path, db.path + "-wal") if os.path.exists(path))

    assert "Aigul Traceable-Name".encode() in files()
    await target.send("/forget")
    await target.press("Erase my data")
    for _ in range(150):  # the checkpointer's next round (every second)
        if not db._wipe_due:
            break
        await asyncio.sleep(0.02)
    data = files()
    for trace in ("Aigul Traceable-Name", "77019998877", "5550123456789"):
        assert trace.encode() not in data, trace


async def test_members_from_before_retention_was_kept_count_from_the_upgrade(tmp_path, clock):
    from bot.flows.privacy import expire_inactive

    db = await Database(str(tmp_path / "old.db")).open(migrate_to=4)
    try:
        async with db.transaction() as tx:  # joined 1,200 days ago, before the upgrade
            await tx.execute("INSERT INTO members (name, locale, consent_at, created_at)"
                             " VALUES ('Old Timer', 'kk', '2023-01-01', '2023-01-01')")
        await db.migrate()
        engine = Engine(db, clock=clock, rng=random.Random(1))
        await engine.run_system(expire_inactive)
        async with db.transaction() as tx:
            assert await tx.scalar("SELECT name FROM members") == "Old Timer"
            exported = await privacy.export(tx, 1)
        assert exported["member"]["last_seen_on"]  # /mydata shows what retention counts from
    finally:
        await db.close()


async def test_forget_warns_the_only_facilitator_that_the_community_will_have_none(sim):
    c = await build_community(sim, 1, ("en",))
    await c.facilitator.send("/forget")
    warning = c.facilitator.last().text
    assert "жалғыз фасилитаторысыз" in warning and "«Көктерек»" in warning  # the facilitator speaks Kazakh
    assert warning.split("\n\n")[-1].endswith("Алдымен басқа фасилитатор қосыңыз: /facilitator add АТЫ")
    await c.members[0].send("/forget")
    assert "only facilitator" not in c.members[0].last().text


@pytest.mark.sqlite_only  # SQLite's files and WAL, read byte by byte
async def test_forget_over_telegram_leaves_no_trace_in_the_database_files(tg, bot):
    """Through the real bot, where more quotes the member: the raw updates in the inbox (the /forget
    itself among them), the conversation state, the pages the WAL still holds. None survives."""
    from tests.test_e2e_telegram import PROBLEMS, button_for, join, new_community, onboard as tg_onboard, say

    aigerim = tg.user(1, "Айгерим", "kk")
    await tg_onboard(tg, aigerim, "қазақша")
    code = await new_community(tg, aigerim)
    group = tg.group(-100777, "Көктерек", with_bot=True)
    await say(tg, aigerim, f"/link {code}", group)
    for text in PROBLEMS[:2]:
        await say(tg, aigerim, f"/propose {text}")
    dinara = tg.user(5550123456789, "Dinara Traceable-Name", "en", "dinara_traceable", last_name="Unique-Surname")
    await join(tg, dinara, code, "English")
    tg.share_contact(dinara, "+7 701 999 88 77")
    await tg.next_message(dinara.id, contains="saved")
    await say(tg, dinara, "My neighbour Secret-Free-Text lives at Abai 5")  # not a command: the menu answers
    await say(tg, dinara, "/propose")  # asked to describe a problem: a conversation is waiting
    ballot = await say(tg, aigerim, "/poll dots", group)
    await tg.answer_to(tg.press(dinara, ballot, button_for(ballot, 1), chat=group))
    await tg.answer_to(tg.press(aigerim, ballot, button_for(ballot, 2), chat=group))
    await say(tg, aigerim, "/close", group)
    db = bot.app.db

    def files() -> bytes:
        return b"".join(open(path, "rb").read() for path in (db.path, db.path + "-wal") if os.path.exists(path))

    traces = ("Dinara Traceable-Name", "Unique-Surname", "dinara_traceable", "5550123456789", "77019998877",
              "Secret-Free-Text")
    before = files()
    assert [t for t in traces if t.encode() in before] == list(traces)  # all there, so the check below can fail

    prompt = await say(tg, dinara, "/forget")
    tg.press_button(dinara, prompt, "Erase my data")
    assert "erased" in (await tg.next_message(dinara.id))["text"]
    async with db.transaction() as tx:
        assert dict(await ballots.options(tx, 1)) == {1: 1, 2: 1}  # their sticker still counts, unlinked
    for _ in range(150):  # the checkpointer's next round (every second)
        if not db._wipe_due:
            break
        await asyncio.sleep(0.02)
    data = files()
    assert [t for t in traces if t.encode() in data] == []


async def test_an_old_erase_button_erases_nothing(community, sim, clock):
    from bot.storage import members

    async def still_there() -> bool:
        async with sim.engine.db.transaction() as tx:
            member = await members.get(tx, 4)
        return member is not None and member.name == "Мүше 3"

    old = "That question is old, and nothing was erased. To erase your data, send /forget again."
    m3 = community.members[2]  # en
    await m3.send("/forget")
    erase = next(b.data for row in m3.last().buttons for b in row if b.text == "Erase my data")
    await m3.press("Cancel")
    assert m3.last().text == "Nothing was erased."
    await m3.press_data(erase)  # the button beside "Cancel", pressed later
    assert m3.last().text == old and await still_there()
    await m3.send("/forget")
    await m3.send("/new")  # on to something else
    await m3.press_data(erase)
    assert m3.last().text == old and await still_there()
    await m3.send("/forget")
    clock.advance(hours=2)
    await m3.press_data(erase)
    assert m3.last().text == old and await still_there()
    await m3.send("/forget")
    await m3.press_data(erase)
    assert m3.last().text == "Your data is erased. You can join again at any time with /start."
    assert not await still_there()
