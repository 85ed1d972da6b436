"""A member's personal data: everything stored about them (export) and its erasure."""

from __future__ import annotations

import json
from typing import Any

from bot.storage import whatsapp
from bot.storage.db import Tx


def _rows(rows) -> list[dict[str, Any]]:
    return [dict(r) for r in rows]


def _mentions(value: Any, external_id: str) -> bool:
    """Whether a received update (as JSON) names this account: a user or chat ``id`` (or a
    contact's ``user_id``) equal to it, as Telegram's updates carry them, with the person's name."""
    if isinstance(value, dict):
        return any((key in ("id", "user_id") and isinstance(item, int) and not isinstance(item, bool)
                    and str(item) == external_id) or _mentions(item, external_id) for key, item in value.items())
    if isinstance(value, list):
        return any(_mentions(item, external_id) for item in value)
    return False


async def _drop_received_updates(tx: Tx, channel: str, external_id: str) -> None:
    """Remove from the inbox the raw updates that quote the account (its name, username, what it
    wrote): among them the very /forget being handled, and nothing removes them otherwise before
    the WAL is emptied. The one being handled is claimed in this transaction, so it is not needed
    again; any other still in flight is handled all the same, only not again after a crash."""
    for update_id, payload in await tx.all("SELECT update_id, payload FROM inbox WHERE channel = ?", (channel,)):
        try:
            update = json.loads(payload)
        except ValueError:
            continue
        if _mentions(update, external_id):
            await tx.execute("DELETE FROM inbox WHERE channel = ? AND update_id = ?", (channel, update_id))


async def _pairs_to_compare(tx: Tx, member_id: int) -> list[dict[str, Any]]:
    """The pairs each pairwise ballot asks the member, by problem number (stored by problem id)."""
    plans = []
    for ballot_id, pairs in await tx.all("SELECT ballot_id, pairs FROM pairwise_plans WHERE member_id = ?"
                                         " ORDER BY ballot_id", (member_id,)):
        number = {r[0]: r[1] for r in await tx.all(
            "SELECT p.id, p.number FROM ballot_options o JOIN problems p ON p.id = o.problem_id"
            " WHERE o.ballot_id = ?", (ballot_id,))}
        plans.append({"ballot_id": ballot_id, "pairs": [[number.get(a, a), number.get(b, b)]
                                                         for a, b in json.loads(pairs)]})
    return plans


async def export(tx: Tx, member_id: int) -> dict[str, Any]:
    member = await tx.one("SELECT id, name, locale, phone, consent_at, active_community, created_at, last_seen_on"
                          " FROM members WHERE id = ?", (member_id,))
    ids = await tx.all("SELECT channel, external_id, created_at FROM identities WHERE member_id = ?", (member_id,))
    return {
        "member": dict(member) if member else None,
        "identities": _rows(ids),
        "communities": _rows(await tx.all(
            "SELECT c.name, c.place, ms.role, ms.kmut, ms.joined_at FROM memberships ms"
            " JOIN communities c ON c.id = ms.community_id WHERE ms.member_id = ? ORDER BY c.id", (member_id,))),
        "problems_proposed": _rows(await tx.all(
            "SELECT p.number, p.text, p.status, p.created_at, c.name AS community FROM problem_authors a"
            " JOIN problems p ON p.id = a.problem_id JOIN communities c ON c.id = p.community_id"
            " WHERE a.member_id = ? ORDER BY p.id", (member_id,))),
        "stickers": _rows(await tx.all(
            "SELECT d.ballot_id, p.number AS problem, d.count FROM dot_votes d JOIN problems p ON p.id = d.problem_id"
            " WHERE d.member_id = ? ORDER BY d.ballot_id, p.number", (member_id,))),
        "matrix_scores": _rows(await tx.all(
            "SELECT m.ballot_id, p.number AS problem, m.a AS importance, m.b AS urgency FROM matrix_votes m"
            " JOIN problems p ON p.id = m.problem_id WHERE m.member_id = ? ORDER BY m.ballot_id, p.number", (member_id,))),
        "pairwise_answers": _rows(await tx.all(
            "SELECT v.ballot_id, lo.number AS a, hi.number AS b, w.number AS preferred FROM pairwise_votes v"
            " JOIN problems lo ON lo.id = v.low_id JOIN problems hi ON hi.id = v.high_id"
            " JOIN problems w ON w.id = v.winner_id WHERE v.member_id = ? ORDER BY v.ballot_id, lo.number, hi.number", (member_id,))),
        "pairs_to_compare": await _pairs_to_compare(tx, member_id),
        "volunteered": _rows(await tx.all(
            "SELECT c.name AS community, v.at FROM volunteers v JOIN communities c ON c.id = v.community_id"
            " WHERE v.member_id = ?", (member_id,))),
        "communities_created": _rows(await tx.all(
            "SELECT name, place, created_at FROM communities WHERE created_by = ? ORDER BY id", (member_id,))),
        "groups_linked": _rows(await tx.all(
            "SELECT g.channel, g.chat_id, g.title, c.name AS community, g.linked_at FROM group_links g"
            " JOIN communities c ON c.id = g.community_id WHERE g.linked_by = ? ORDER BY g.linked_at, g.chat_id", (member_id,))),
        "ballots_opened": _rows(await tx.all(
            "SELECT b.id AS ballot_id, b.kind, c.name AS community, b.opened_at FROM ballots b"
            " JOIN communities c ON c.id = b.community_id WHERE b.opened_by = ? ORDER BY b.id", (member_id,))),
        "problems_chosen": _rows(await tx.all(
            "SELECT c.name AS community, p.number AS problem, s.confirmed_at FROM step1_choices s"
            " JOIN communities c ON c.id = s.community_id JOIN problems p ON p.id = s.problem_id"
            " WHERE s.confirmed_by = ? ORDER BY c.id, p.number", (member_id,))),
        "nominations_received": _rows(await tx.all(
            "SELECT c.name AS community, n.category, n.status, n.created_at, n.answered_at FROM nominations n"
            " JOIN communities c ON c.id = n.community_id WHERE n.member_id = ? ORDER BY n.id", (member_id,))),
        "nominations_made": _rows(await tx.all(
            "SELECT c.name AS community, COALESCE(m.name, '') AS nominee, n.category, n.status, n.created_at"
            " FROM nominations n JOIN communities c ON c.id = n.community_id JOIN members m ON m.id = n.member_id"
            " WHERE n.nominated_by = ? ORDER BY n.id", (member_id,))),
        "election_approvals": _rows(await tx.all(
            "SELECT v.ballot_id, COALESCE(m.name, '') AS candidate FROM election_votes v"
            " JOIN nominations n ON n.id = v.nomination_id JOIN members m ON m.id = n.member_id"
            " WHERE v.member_id = ?", (member_id,))),
        "kmut_confirmed": _rows(await tx.all(
            "SELECT c.name AS community, k.ballot_id, k.confirmed_at FROM kmut_confirmations k"
            " JOIN communities c ON c.id = k.community_id WHERE k.confirmed_by = ? ORDER BY k.ballot_id", (member_id,))),
        "tree_nodes_added": _rows(await tx.all(
            "SELECT c.name AS community, t.number, t.kind, t.text, t.status, t.created_at FROM tree_nodes t"
            " JOIN communities c ON c.id = t.community_id WHERE t.created_by = ? ORDER BY t.id", (member_id,))),
        "resources_added": _rows(await tx.all(
            "SELECT c.name AS community, r.number, r.kind, r.text, r.holder, r.place, r.status, r.created_at"
            " FROM resources r JOIN communities c ON c.id = r.community_id WHERE r.created_by = ? ORDER BY r.id", (member_id,))),
        "organisations_added": _rows(await tx.all(
            "SELECT c.name AS community, o.number, o.name, o.status, o.created_at FROM orgs o"
            " JOIN communities c ON c.id = o.community_id WHERE o.created_by = ? ORDER BY o.id", (member_id,))),
        "organisation_estimates": _rows(await tx.all(
            "SELECT c.name AS community, o.number, o.name, r.importance, r.closeness FROM org_ratings r"
            " JOIN orgs o ON o.id = r.org_id JOIN communities c ON c.id = o.community_id WHERE r.member_id = ? ORDER BY o.id",
            (member_id,))),
        "tasks_proposed": _rows(await tx.all(
            "SELECT c.name AS community, t.number, t.title, t.start_on, t.due_on, t.resources, t.status, t.created_at"
            " FROM tasks t JOIN communities c ON c.id = t.community_id WHERE t.created_by = ? ORDER BY t.id", (member_id,))),
        "tasks_responsible_for": _rows(await tx.all(
            "SELECT c.name AS community, t.number, t.title, t.start_on, t.due_on FROM tasks t"
            " JOIN communities c ON c.id = t.community_id WHERE t.owner_id = ? ORDER BY t.id", (member_id,))),
        "tasks_offered": _rows(await tx.all(
            "SELECT c.name AS community, t.number, t.title, v.at FROM task_volunteers v JOIN tasks t ON t.id = v.task_id"
            " JOIN communities c ON c.id = t.community_id WHERE v.member_id = ? ORDER BY t.id", (member_id,))),
        "plan_votes": _rows(await tx.all(
            "SELECT ballot_id, approve FROM plan_votes WHERE member_id = ? ORDER BY ballot_id", (member_id,))),
        "evaluations": _rows(await tx.all(
            "SELECT ballot_id, goal, rating, again, worked, change FROM evaluation_answers WHERE member_id = ? ORDER BY ballot_id",
            (member_id,))),
        "task_reports": _rows(await tx.all(
            "SELECT c.name AS community, t.number, k.status, k.percent, k.note, k.photo, k.at FROM checkins k"
            " JOIN tasks t ON t.id = k.task_id JOIN communities c ON c.id = t.community_id WHERE k.member_id = ?"
            " ORDER BY k.id", (member_id,))),
        "reminders_muted_until": _rows(await tx.all("SELECT until FROM mutes WHERE member_id = ?", (member_id,))),
        "seen_in_groups_of": _rows(await tx.all(
            "SELECT c.name AS community FROM group_presence p JOIN communities c ON c.id = p.community_id"
            " WHERE p.member_id = ? ORDER BY c.id", (member_id,))),
        "cycles_started": _rows(await tx.all(
            "SELECT c.name AS community, y.number, y.started_at FROM cycles y JOIN communities c ON c.id = y.community_id"
            " WHERE y.started_by = ? ORDER BY c.id, y.number", (member_id,))),
        "cycles_ended": _rows(await tx.all(
            "SELECT c.name AS community, y.number, y.ended_at FROM cycles y JOIN communities c ON c.id = y.community_id"
            " WHERE y.ended_by = ?", (member_id,))),
        "ballots_voted_in": _rows(await tx.all(
            "SELECT ballot_id FROM ballot_voters WHERE member_id = ? ORDER BY seq", (member_id,))),
        "conversations": _rows(await tx.all(
            "SELECT c.channel, c.state, c.data, c.updated_at FROM conversations c JOIN identities i"
            " ON i.channel = c.channel AND i.external_id = c.external_id WHERE i.member_id = ?", (member_id,))),
        "actions_in_audit_log": _rows(await tx.all(
            "SELECT at, action, detail FROM audit_log WHERE actor_id = ?1 OR actor_id IN"  # and as a member made part of them
            " (SELECT CAST(json_extract(detail, '$.merged') AS INTEGER) FROM audit_log WHERE action = 'member.linked'"
            " AND CAST(json_extract(detail, '$.kept') AS INTEGER) = ?1) ORDER BY id", (member_id,))),
    }


async def erase(tx: Tx, member_id: int) -> list[int]:
    """Erase what identifies the member; return the open ballots their votes were withdrawn from.

    Votes in closed ballots stay counted, linked only to an anonymous row that no identity, name
    or phone leads to; their proposals stay, without an author. Votes in ballots still open are
    withdrawn: whoever joins again under the same account starts afresh and cannot vote twice.
    """
    still_open = [r[0] for r in await tx.all(
        "SELECT id FROM ballots WHERE status = 'open' AND id IN (SELECT ballot_id FROM dot_votes"
        " WHERE member_id = ?1 UNION SELECT ballot_id FROM matrix_votes WHERE member_id = ?1"
        " UNION SELECT ballot_id FROM pairwise_votes WHERE member_id = ?1"
        " UNION SELECT ballot_id FROM election_votes WHERE member_id = ?1"
        " UNION SELECT ballot_id FROM plan_votes WHERE member_id = ?1"
        " UNION SELECT ballot_id FROM evaluation_answers WHERE member_id = ?1)", (member_id,))]
    for table in ("dot_votes", "matrix_votes", "pairwise_votes", "pairwise_plans", "election_votes", "plan_votes",
                  "evaluation_answers"):
        await tx.execute(f"DELETE FROM {table} WHERE member_id = ? AND ballot_id IN"
                         " (SELECT id FROM ballots WHERE status = 'open')", (member_id,))
    identities = await tx.all("SELECT channel, external_id FROM identities WHERE member_id = ?", (member_id,))
    for channel, external_id in identities:
        for table, column in (("conversations", "external_id"), ("recent_taps", "user_id"),
                              ("message_refs", "chat_id"), ("outbox", "chat_id"), ("pace", "chat_id")):
            await tx.execute(f"DELETE FROM {table} WHERE channel = ? AND {column} = ?", (channel, external_id))
        await _drop_received_updates(tx, channel, external_id)
        if channel == "whatsapp":
            await whatsapp.forget(tx, external_id)
    await tx.execute("DELETE FROM identities WHERE member_id = ?", (member_id,))
    await tx.execute("DELETE FROM problem_authors WHERE member_id = ?", (member_id,))
    await tx.execute("UPDATE problems SET created_by = NULL WHERE created_by = ?", (member_id,))
    await tx.execute("UPDATE tree_nodes SET created_by = NULL WHERE created_by = ?", (member_id,))
    await tx.execute("UPDATE resources SET created_by = NULL WHERE created_by = ?", (member_id,))
    await tx.execute("UPDATE orgs SET created_by = NULL WHERE created_by = ?", (member_id,))
    # an estimate is a member's opinion, not a vote of a ballot: it goes with them
    await tx.execute("DELETE FROM org_ratings WHERE member_id = ?", (member_id,))
    await tx.execute("UPDATE tasks SET created_by = NULL WHERE created_by = ?", (member_id,))
    await tx.execute("DELETE FROM task_volunteers WHERE member_id = ?", (member_id,))
    # a task they were responsible for needs someone else now — save in a plan being voted on,
    # which stays as voted (it shows no one responsible, the name being gone)
    await tx.execute("UPDATE tasks SET owner_id = NULL WHERE owner_id = ? AND NOT EXISTS (SELECT 1 FROM ballots b"
                     " WHERE b.community_id = tasks.community_id AND b.kind = 'plan' AND b.status = 'open')",
                     (member_id,))
    await tx.execute("DELETE FROM volunteers WHERE member_id = ?", (member_id,))
    # their reports on tasks stay, as the plan's history, linked only to the anonymous row
    await tx.execute("DELETE FROM mutes WHERE member_id = ?", (member_id,))
    await tx.execute("DELETE FROM group_presence WHERE member_id = ?", (member_id,))
    await tx.execute("DELETE FROM memberships WHERE member_id = ?", (member_id,))
    await tx.execute("UPDATE communities SET created_by = NULL WHERE created_by = ?", (member_id,))
    await tx.execute("UPDATE group_links SET linked_by = NULL WHERE linked_by = ?", (member_id,))
    # A nomination not yet answered goes; one answered stays, nameless (a closed election's votes
    # for it stay counted, and an open election's candidates cannot change).
    await tx.execute("DELETE FROM nominations WHERE member_id = ? AND status = 'pending'", (member_id,))
    await tx.execute("UPDATE nominations SET nominated_by = NULL WHERE nominated_by = ?", (member_id,))
    await tx.execute("UPDATE kmut_confirmations SET confirmed_by = NULL WHERE confirmed_by = ?", (member_id,))
    await tx.execute("UPDATE cycles SET started_by = NULL WHERE started_by = ?", (member_id,))
    await tx.execute("UPDATE cycles SET ended_by = NULL WHERE ended_by = ?", (member_id,))
    await tx.execute("UPDATE members SET name = NULL, phone = NULL, active_community = NULL,"
                     " consent_at = '', created_at = '' WHERE id = ?", (member_id,))
    return still_open
