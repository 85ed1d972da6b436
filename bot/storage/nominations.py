"""Step 2: nominations to the initiative group (ҚМҰТ) and the group the facilitator confirmed."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Tx


@dataclass(frozen=True)
class Nomination:
    id: int
    community_id: int
    member_id: int
    category: str
    nominated_by: int | None
    status: str  # pending, accepted, declined
    name: str    # the nominee's display name as it is now ("" once erased)


_SELECT = ("SELECT n.id, n.community_id, n.member_id, n.category, n.nominated_by, n.status,"
           " COALESCE(m.name, '') AS name FROM nominations n JOIN members m ON m.id = n.member_id")


def _nomination(row) -> Nomination:
    return Nomination(row["id"], row["community_id"], row["member_id"], row["category"], row["nominated_by"],
                      row["status"], row["name"])


async def get(tx: Tx, nomination_id: int) -> Nomination | None:
    row = await tx.one(_SELECT + " WHERE n.id = ?", (nomination_id,))
    return None if row is None else _nomination(row)


async def of_member(tx: Tx, community_id: int, member_id: int) -> Nomination | None:
    row = await tx.one(_SELECT + " WHERE n.community_id = ? AND n.member_id = ?", (community_id, member_id))
    return None if row is None else _nomination(row)


async def of_community(tx: Tx, community_id: int, status: str | None = None) -> list[Nomination]:
    if status is None:
        rows = await tx.all(_SELECT + " WHERE n.community_id = ? ORDER BY n.id", (community_id,))
    else:
        rows = await tx.all(_SELECT + " WHERE n.community_id = ? AND n.status = ? ORDER BY n.id",
                            (community_id, status))
    return [_nomination(r) for r in rows]


async def add(tx: Tx, community_id: int, member_id: int, category: str, nominated_by: int, now: str,
              accepted: bool) -> int:
    """A new nomination (a member nominating themselves has accepted it by doing so)."""
    return await tx.insert(
        "INSERT INTO nominations (community_id, member_id, category, nominated_by, status, created_at, answered_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (community_id, member_id, category, nominated_by, "accepted" if accepted else "pending", now,
         now if accepted else None))


async def answer(tx: Tx, nomination_id: int, accepted: bool, now: str) -> bool:
    """The nominee's answer; False when it was answered before (a second tap changes nothing)."""
    return await tx.changed("UPDATE nominations SET status = ?, answered_at = ? WHERE id = ? AND status = 'pending'",
                            ("accepted" if accepted else "declined", now, nomination_id)) > 0


async def drop_declined(tx: Tx, nomination_id: int) -> None:
    """Forget a declined nomination, so that the person may be nominated again."""
    await tx.execute("DELETE FROM nominations WHERE id = ? AND status = 'declined'", (nomination_id,))


async def search_members(tx: Tx, community_id: int, query: str, limit: int = 8) -> list[tuple[int, str]]:
    """Members of the community whose name contains ``query`` (any case, any script), by name."""
    rows = await tx.all("SELECT m.id, m.name FROM memberships s JOIN members m ON m.id = s.member_id"
                        " WHERE s.community_id = ? AND m.name IS NOT NULL AND m.name <> '' ORDER BY m.name, m.id",
                        (community_id,))
    wanted = query.casefold()
    return [(r[0], r[1]) for r in rows if wanted in r[1].casefold()][:limit]


# --- the confirmed group -------------------------------------------------------------------
async def confirm(tx: Tx, ballot_id: int, community_id: int, elected: list[int], by: int, now: str) -> bool:
    """Make the members ``elected`` the community's ҚМҰТ (replacing an earlier one); False when
    this election's group was confirmed before."""
    if await tx.one("SELECT 1 FROM kmut_confirmations WHERE ballot_id = ?", (ballot_id,)) is not None:
        return False
    await tx.execute("INSERT INTO kmut_confirmations (ballot_id, community_id, confirmed_by, confirmed_at)"
                     " VALUES (?, ?, ?, ?)", (ballot_id, community_id, by, now))
    await tx.execute("UPDATE memberships SET kmut = 0 WHERE community_id = ? AND kmut = 1", (community_id,))
    await tx.executemany("UPDATE memberships SET kmut = 1 WHERE community_id = ? AND member_id = ?",
                         [(community_id, m) for m in elected])
    return True


async def confirmed(tx: Tx, ballot_id: int) -> bool:
    return await tx.one("SELECT 1 FROM kmut_confirmations WHERE ballot_id = ?", (ballot_id,)) is not None


async def confirmed_later(tx: Tx, community_id: int, ballot_id: int) -> bool:
    """Whether the group of an election opened after this one is confirmed."""
    return await tx.one("SELECT 1 FROM kmut_confirmations WHERE community_id = ? AND ballot_id > ?",
                        (community_id, ballot_id)) is not None


async def group(tx: Tx, community_id: int) -> list[tuple[int, str]]:
    """The community's ҚМҰТ now: (member id, name), by name."""
    rows = await tx.all("SELECT m.id, COALESCE(m.name, '') FROM memberships s JOIN members m ON m.id = s.member_id"
                        " WHERE s.community_id = ? AND s.kmut = 1 ORDER BY m.name, m.id", (community_id,))
    return [(r[0], r[1]) for r in rows]
