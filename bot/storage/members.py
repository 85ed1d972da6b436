"""Members, their channel identities and memberships."""

from __future__ import annotations

from bot.domain.models import Community, Member, Membership
from bot.storage.db import Tx


def _member(row) -> Member | None:
    if row is None:
        return None
    return Member(id=row["id"], name=row["name"], locale=row["locale"], active_community=row["active_community"])


async def by_identity(tx: Tx, channel: str, external_id: str) -> Member | None:
    row = await tx.one(
        "SELECT m.* FROM members m JOIN identities i ON i.member_id = m.id"
        " WHERE i.channel = ? AND i.external_id = ?",
        (channel, external_id),
    )
    return _member(row)


async def get(tx: Tx, member_id: int) -> Member | None:
    return _member(await tx.one("SELECT * FROM members WHERE id = ?", (member_id,)))


async def create(tx: Tx, channel: str, external_id: str, locale: str, now: str) -> Member:
    member_id = await tx.insert(
        "INSERT INTO members (locale, consent_at, created_at, last_seen_on) VALUES (?, ?, ?, ?)",
        (locale, now, now, now[:10]),
    )
    await tx.execute(
        "INSERT INTO identities (channel, external_id, member_id, created_at) VALUES (?, ?, ?, ?)",
        (channel, external_id, member_id, now),
    )
    return Member(id=member_id, name=None, locale=locale, active_community=None, last_seen_on=now[:10])


async def seen(tx: Tx, member_id: int, day: str) -> None:
    """Note the day of the member's latest action (what the retention period counts from)."""
    await tx.execute("UPDATE members SET last_seen_on = ? WHERE id = ?", (day, member_id))


async def inactive_before(tx: Tx, day: str, limit: int) -> list[int]:
    """Members not yet erased whose last action was before ``day``, the longest silent first."""
    rows = await tx.all("SELECT id FROM members WHERE consent_at <> '' AND last_seen_on < ?"
                        " ORDER BY last_seen_on LIMIT ?", (day, limit))
    return [r["id"] for r in rows]


async def set_name(tx: Tx, member_id: int, name: str) -> None:
    await tx.execute("UPDATE members SET name = ? WHERE id = ?", (name, member_id))


async def set_locale(tx: Tx, member_id: int, locale: str) -> None:
    await tx.execute("UPDATE members SET locale = ? WHERE id = ?", (locale, member_id))


async def set_active(tx: Tx, member_id: int, community_id: int) -> None:
    await tx.execute("UPDATE members SET active_community = ? WHERE id = ?", (community_id, member_id))


async def identities(tx: Tx, member_id: int) -> list[tuple[str, str]]:
    """Where the member can be written to in private: their identities, but those that blocked the bot."""
    rows = await tx.all(
        "SELECT channel, external_id FROM identities i WHERE member_id = ? AND NOT EXISTS"
        " (SELECT 1 FROM unreachable u WHERE u.channel = i.channel AND u.external_id = i.external_id)"
        " ORDER BY created_at", (member_id,)
    )
    return [(r["channel"], r["external_id"]) for r in rows]


async def mark_unreachable(tx: Tx, channel: str, external_id: str, now: str) -> None:
    """The private chat ``external_id`` refused a message (the person blocked the bot)."""
    await tx.execute("INSERT INTO unreachable (channel, external_id, since) SELECT channel, external_id, ?"
                     " FROM identities WHERE channel = ? AND external_id = ? ON CONFLICT DO NOTHING",
                     (now, channel, external_id))


async def reachable_again(tx: Tx, channel: str, external_id: str) -> None:
    await tx.execute("DELETE FROM unreachable WHERE channel = ? AND external_id = ?", (channel, external_id))


async def without_groups(tx: Tx, community_id: int,
                         channels: tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    """(channel, external_id, locale, role) of the community's members reachable only on ``channels``
    (channels without group chats): what the groups are told must reach them one by one. The role
    is "facilitator", "kmut" (elected to the ҚМҰТ) or "member"."""
    marks = ", ".join("?" * len(channels))
    rows = await tx.all(
        "SELECT i.channel, i.external_id, m.locale, CASE WHEN ms.role = 'facilitator' THEN 'facilitator'"
        " WHEN ms.kmut = 1 THEN 'kmut' ELSE 'member' END FROM memberships ms JOIN members m ON m.id = ms.member_id"
        f" JOIN identities i ON i.member_id = ms.member_id WHERE ms.community_id = ? AND i.channel IN ({marks})"
        " AND NOT EXISTS (SELECT 1 FROM identities j WHERE j.member_id = ms.member_id"
        f" AND j.channel NOT IN ({marks})) ORDER BY ms.joined_at, i.external_id",
        (community_id, *channels, *channels))
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def membership(tx: Tx, community_id: int, member_id: int) -> Membership | None:
    row = await tx.one(
        "SELECT * FROM memberships WHERE community_id = ? AND member_id = ?", (community_id, member_id)
    )
    if row is None:
        return None
    return Membership(row["community_id"], row["member_id"], row["role"], bool(row["kmut"]))


async def join(tx: Tx, community_id: int, member_id: int, role: str, now: str) -> bool:
    """Add a membership; False when the member already belonged (their role is kept)."""
    changed = await tx.changed(
        "INSERT OR IGNORE INTO memberships (community_id, member_id, role, joined_at) VALUES (?, ?, ?, ?)",
        (community_id, member_id, role, now),
    )
    return changed > 0


async def communities_of(tx: Tx, member_id: int) -> list[tuple[Community, str]]:
    rows = await tx.all(
        "SELECT c.*, ms.role FROM communities c JOIN memberships ms ON ms.community_id = c.id"
        " WHERE ms.member_id = ? ORDER BY ms.joined_at, c.id",
        (member_id,),
    )
    from bot.storage.communities import community_from_row

    return [(community_from_row(r), r["role"]) for r in rows]


async def led_alone(tx: Tx, member_id: int) -> list[str]:
    """The names of the communities whose only facilitator is this member."""
    rows = await tx.all(
        "SELECT c.name FROM communities c JOIN memberships ms ON ms.community_id = c.id"
        " WHERE ms.member_id = ? AND ms.role = 'facilitator' AND NOT EXISTS (SELECT 1 FROM memberships o"
        " WHERE o.community_id = c.id AND o.role = 'facilitator' AND o.member_id <> ms.member_id) ORDER BY c.id",
        (member_id,))
    return [r["name"] for r in rows]


async def count_members(tx: Tx, community_id: int) -> int:
    return int(await tx.scalar("SELECT COUNT(*) FROM memberships WHERE community_id = ?", (community_id,)))


async def set_phone(tx: Tx, member_id: int, phone: str) -> None:
    await tx.execute("UPDATE members SET phone = ? WHERE id = ?", (phone, member_id))


async def set_role(tx: Tx, community_id: int, member_id: int, role: str) -> bool:
    """Make a member of the community a facilitator or a plain member again; False if they were
    that already (the database refuses to take the role from the last facilitator)."""
    return await tx.changed("UPDATE memberships SET role = ? WHERE community_id = ? AND member_id = ? AND role <> ?",
                            (role, community_id, member_id, role)) > 0


async def facilitators(tx: Tx, community_id: int) -> list[tuple[int, str]]:
    """(member id, name) of the community's facilitators, the longest-serving first."""
    rows = await tx.all("SELECT m.id, COALESCE(m.name, '') FROM memberships ms JOIN members m ON m.id = ms.member_id"
                        " WHERE ms.community_id = ? AND ms.role = 'facilitator' ORDER BY ms.joined_at, m.id",
                        (community_id,))
    return [(r[0], r[1]) for r in rows]
