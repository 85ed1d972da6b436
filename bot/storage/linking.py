"""One person, one member: finding the member a phone number belongs to, and making two members
one (``merge``) when a shared contact shows they are the same person on two channels."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.models import Member
from bot.domain.phones import digits
from bot.storage import members
from bot.storage.db import Tx

VOTES = ("dot_votes", "matrix_votes", "pairwise_votes", "election_votes", "plan_votes", "evaluation_answers")
# Who made or did something, by column: passes to the kept member as it is.
AUTHORSHIP = (("communities", "created_by"), ("group_links", "linked_by"), ("problems", "created_by"),
              ("step1_choices", "confirmed_by"), ("ballots", "opened_by"), ("nominations", "nominated_by"),
              ("kmut_confirmations", "confirmed_by"), ("tree_nodes", "created_by"), ("resources", "created_by"),
              ("orgs", "created_by"), ("tasks", "created_by"), ("tasks", "owner_id"), ("checkins", "member_id"),
              ("cycles", "started_by"), ("cycles", "ended_by"))
# One row a member and thing: the kept member's own row wins, the other's goes.
ONE_EACH = (("problem_authors", "problem_id"), ("volunteers", "community_id"), ("task_volunteers", "task_id"),
            ("org_ratings", "org_id"), ("group_presence", "community_id"), ("mutes", "member_id"))


@dataclass
class Merged:
    kept: int
    merged: int
    # Open ballots both had voted in: (ballot id, the member whose vote was removed — the later one).
    removed: list[tuple[int, int]] = field(default_factory=list)
    # Closed ballots both had voted in: their counted result stands (the later vote stays counted,
    # linked to no one, as /forget leaves a closed ballot's votes).
    closed: list[int] = field(default_factory=list)


async def owner(tx: Tx, phone: str) -> Member | None:
    """The member a number belongs to: shared as theirs, or their WhatsApp account's."""
    row = await tx.one("SELECT id FROM members WHERE phone = ?1 UNION SELECT member_id FROM identities"
                       " WHERE channel = 'whatsapp' AND external_id = ?2 LIMIT 1", (phone, digits(phone)))
    return None if row is None else await members.get(tx, row[0])


async def phone_of(tx: Tx, member_id: int) -> str | None:
    return await tx.scalar("SELECT phone FROM members WHERE id = ?", (member_id,))


async def channels(tx: Tx, member_id: int) -> set[str]:
    return {r[0] for r in await tx.all("SELECT channel FROM identities WHERE member_id = ?", (member_id,))}


async def older(tx: Tx, a: int, b: int) -> tuple[int, int]:
    """(the older member, the other): the one created first stays."""
    rows = await tx.all("SELECT id FROM members WHERE id IN (?, ?) ORDER BY created_at, id", (a, b))
    return rows[0][0], rows[1][0]


async def merge(tx: Tx, keep: int, other: int) -> Merged:
    """Make ``other`` part of ``keep``: its identities, memberships, proposals, nominations, votes,
    estimates and tasks pass to ``keep``; of two votes in one open ballot the earlier stays. What
    is left of ``other`` is an anonymous row, as /forget leaves one."""
    result = Merged(keep, other)
    await tx.execute("INSERT INTO member_merges (merged_id, into_id) VALUES (?, ?)", (other, keep))
    await _memberships(tx, keep, other)
    await _votes(tx, keep, other, result)
    for table, thing in ONE_EACH:
        # what the kept member has already stays; the rest passes to them (a portable UPDATE OR IGNORE)
        same = "" if thing == "member_id" else f" AND k.{thing} = {table}.{thing}"
        await tx.execute(f"UPDATE {table} SET member_id = ?1 WHERE member_id = ?2"
                         f" AND NOT EXISTS (SELECT 1 FROM {table} k WHERE k.member_id = ?1{same})", (keep, other))
        await tx.execute(f"DELETE FROM {table} WHERE member_id = ?", (other,))
    # a nomination a member and community: the kept member's stays; the other's goes if unanswered
    await tx.execute("UPDATE nominations SET member_id = ?1 WHERE member_id = ?2 AND community_id NOT IN"
                     " (SELECT community_id FROM nominations WHERE member_id = ?1)", (keep, other))
    await tx.execute("DELETE FROM nominations WHERE member_id = ? AND status = 'pending'", (other,))
    for table, column in AUTHORSHIP:
        await tx.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (keep, other))
    await tx.execute("UPDATE identities SET member_id = ? WHERE member_id = ?", (keep, other))
    await tx.execute(
        "UPDATE members SET name = COALESCE(name, (SELECT name FROM members WHERE id = ?2)),"
        " active_community = COALESCE(active_community, (SELECT active_community FROM members WHERE id = ?2)),"
        " last_seen_on = max(COALESCE(last_seen_on, ''), COALESCE((SELECT last_seen_on FROM members WHERE id = ?2), ''))"
        " WHERE id = ?1", (keep, other))
    await tx.execute("UPDATE members SET name = NULL, phone = NULL, active_community = NULL, consent_at = '',"
                     " created_at = '' WHERE id = ?", (other,))
    await tx.execute("DELETE FROM member_merges WHERE merged_id = ?", (other,))
    return result


async def _memberships(tx: Tx, keep: int, other: int) -> None:
    """In a community both belong to, the stronger role and the earlier joining count."""
    await tx.execute(
        "UPDATE memberships SET"
        " role = CASE WHEN o.role = 'facilitator' THEN 'facilitator' ELSE memberships.role END,"
        " kmut = max(memberships.kmut, o.kmut), joined_at = min(memberships.joined_at, o.joined_at)"
        " FROM (SELECT community_id, role, kmut, joined_at FROM memberships WHERE member_id = ?2) AS o"
        " WHERE memberships.member_id = ?1 AND memberships.community_id = o.community_id", (keep, other))
    await tx.execute("DELETE FROM memberships WHERE member_id = ?2 AND community_id IN"
                     " (SELECT community_id FROM memberships WHERE member_id = ?1)", (keep, other))
    await tx.execute("UPDATE memberships SET member_id = ? WHERE member_id = ?", (keep, other))


async def _move(tx: Tx, ballot_id: int, keep: int, other: int) -> None:
    for table in (*VOTES, "pairwise_plans", "ballot_voters"):
        await tx.execute(f"UPDATE {table} SET member_id = ? WHERE member_id = ? AND ballot_id = ?",
                         (keep, other, ballot_id))


async def _drop(tx: Tx, ballot_id: int, member_id: int) -> None:
    for table in (*VOTES, "pairwise_plans"):
        await tx.execute(f"DELETE FROM {table} WHERE member_id = ? AND ballot_id = ?", (member_id, ballot_id))


async def _votes(tx: Tx, keep: int, other: int, result: Merged) -> None:
    rows = await tx.all(
        "SELECT o.ballot_id, o.seq, k.seq, b.status FROM ballot_voters o JOIN ballots b ON b.id = o.ballot_id"
        " LEFT JOIN ballot_voters k ON k.ballot_id = o.ballot_id AND k.member_id = ?1"
        " WHERE o.member_id = ?2 ORDER BY o.ballot_id", (keep, other))
    for ballot_id, other_seq, keep_seq, status in rows:
        if keep_seq is None:
            await tx.execute("DELETE FROM pairwise_plans WHERE member_id = ? AND ballot_id = ?", (keep, ballot_id))
            await _move(tx, ballot_id, keep, other)
        elif status != "open":
            result.closed.append(ballot_id)  # the counted result stands; the later vote stays with no one
        elif other_seq > keep_seq:
            await _drop(tx, ballot_id, other)
            result.removed.append((ballot_id, other))
        else:
            await _drop(tx, ballot_id, keep)
            await _move(tx, ballot_id, keep, other)
            result.removed.append((ballot_id, keep))
    # pairs drawn for a ballot the other never answered: the kept member's own draw stays
    await tx.execute("UPDATE pairwise_plans SET member_id = ?1 WHERE member_id = ?2 AND ballot_id IN"
                     " (SELECT id FROM ballots WHERE status = 'open') AND NOT EXISTS (SELECT 1 FROM pairwise_plans k"
                     " WHERE k.member_id = ?1 AND k.ballot_id = pairwise_plans.ballot_id)", (keep, other))
    await tx.execute("DELETE FROM pairwise_plans WHERE member_id = ? AND ballot_id IN"
                     " (SELECT id FROM ballots WHERE status = 'open')", (other,))


async def add_identity(tx: Tx, channel: str, external_id: str, member_id: int, now: str) -> None:
    await tx.execute("INSERT INTO identities (channel, external_id, member_id, created_at) VALUES (?, ?, ?, ?)",
                     (channel, external_id, member_id, now))


async def set_phone(tx: Tx, member_id: int, phone: str | None) -> None:
    await tx.execute("UPDATE members SET phone = ? WHERE id = ?", (phone, member_id))
