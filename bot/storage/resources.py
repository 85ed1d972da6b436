"""Step 4: the resource map (what the community has) and the institutional diagram (the
organisations and people that matter, with each member's estimate of them)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Tx


@dataclass(frozen=True)
class Resource:
    id: int
    number: int
    kind: str
    text: str
    holder: str
    place: str


@dataclass(frozen=True)
class Org:
    id: int
    number: int
    name: str
    importance: float | None  # the members' mean estimate (None: nobody estimated it yet)
    closeness: float | None
    raters: int


async def _next_number(tx: Tx, table: str, community_id: int) -> int:
    return int(await tx.scalar(f"SELECT COALESCE(MAX(number), 0) + 1 FROM {table} WHERE community_id = ?",
                               (community_id,)))


async def recent_additions(tx: Tx, member_id: int, since: str) -> int:
    """Resources and organisations the member added since ``since`` (the rate limit counts both)."""
    return int(await tx.scalar(
        "SELECT (SELECT COUNT(*) FROM resources WHERE created_by = ?1 AND created_at >= ?2)"
        " + (SELECT COUNT(*) FROM orgs WHERE created_by = ?1 AND created_at >= ?2)", (member_id, since)))


# --- resources -----------------------------------------------------------------------------
async def add_resource(tx: Tx, community_id: int, kind: str, text: str, holder: str, place: str, author: int,
                       now: str) -> Resource:
    number = await _next_number(tx, "resources", community_id)
    resource_id = await tx.insert(
        "INSERT INTO resources (community_id, number, kind, text, holder, place, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (community_id, number, kind, text, holder, place, author, now))
    return Resource(resource_id, number, kind, text, holder, place)


async def resources_of(tx: Tx, community_id: int) -> list[Resource]:
    rows = await tx.all("SELECT id, number, kind, text, holder, place FROM resources"
                        " WHERE community_id = ? AND status = 'open' ORDER BY number", (community_id,))
    return [Resource(*r) for r in rows]


async def remove_resource(tx: Tx, community_id: int, number: int) -> bool:
    return await tx.changed("UPDATE resources SET status = 'removed' WHERE community_id = ? AND number = ?"
                            " AND status = 'open'", (community_id, number)) > 0


# --- organisations -------------------------------------------------------------------------
async def add_org(tx: Tx, community_id: int, name: str, norm: str, author: int, now: str) -> int:
    number = await _next_number(tx, "orgs", community_id)
    await tx.insert("INSERT INTO orgs (community_id, number, name, norm, created_by, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)", (community_id, number, name, norm, author, now))
    return number


async def org_by_norm(tx: Tx, community_id: int, norm: str) -> int | None:
    return await tx.scalar("SELECT number FROM orgs WHERE community_id = ? AND norm = ? AND status = 'open'",
                           (community_id, norm))


async def orgs_of(tx: Tx, community_id: int) -> list[Org]:
    """The organisations on the diagram with the members' mean estimates, by number."""
    rows = await tx.all(
        "SELECT o.id, o.number, o.name, AVG(r.importance), AVG(r.closeness), COUNT(r.member_id) FROM orgs o"
        " LEFT JOIN org_ratings r ON r.org_id = o.id WHERE o.community_id = ? AND o.status = 'open'"
        " GROUP BY o.id ORDER BY o.number", (community_id,))
    return [Org(*r) for r in rows]


async def org_id(tx: Tx, community_id: int, number: int) -> int | None:
    return await tx.scalar("SELECT id FROM orgs WHERE community_id = ? AND number = ? AND status = 'open'",
                           (community_id, number))


async def rate(tx: Tx, org: int, member_id: int, importance: int, closeness: int) -> None:
    await tx.execute(
        "INSERT INTO org_ratings (org_id, member_id, importance, closeness) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (org_id, member_id) DO UPDATE SET importance = excluded.importance,"
        " closeness = excluded.closeness", (org, member_id, importance, closeness))


async def ratings_of(tx: Tx, community_id: int, member_id: int) -> dict[int, tuple[int, int]]:
    """The member's own estimates: organisation number → (importance, closeness)."""
    rows = await tx.all("SELECT o.number, r.importance, r.closeness FROM org_ratings r JOIN orgs o ON o.id = r.org_id"
                        " WHERE o.community_id = ? AND r.member_id = ?", (community_id, member_id))
    return {r[0]: (r[1], r[2]) for r in rows}


async def remove_org(tx: Tx, community_id: int, number: int) -> bool:
    return await tx.changed("UPDATE orgs SET status = 'removed' WHERE community_id = ? AND number = ?"
                            " AND status = 'open'", (community_id, number)) > 0
