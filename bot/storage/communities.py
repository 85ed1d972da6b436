"""Communities and the group chats linked to them."""

from __future__ import annotations

from bot.domain.models import Community
from bot.storage.db import Tx


def community_from_row(row) -> Community:
    return Community(
        id=row["id"], name=row["name"], place=row["place"], tz=row["tz"],
        locale=row["locale"], join_code=row["join_code"], step=row["step"],
    )


async def create(tx: Tx, *, name: str, place: str, tz: str, locale: str, join_code: str,
                 created_by: int, now: str) -> Community:
    community_id = await tx.insert(
        "INSERT INTO communities (name, place, tz, locale, join_code, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (name, place, tz, locale, join_code, created_by, now),
    )
    return Community(community_id, name, place, tz, locale, join_code, 1)


async def get(tx: Tx, community_id: int) -> Community | None:
    row = await tx.one("SELECT * FROM communities WHERE id = ?", (community_id,))
    return None if row is None else community_from_row(row)


async def by_code(tx: Tx, join_code: str) -> Community | None:
    row = await tx.one("SELECT * FROM communities WHERE join_code = ? AND archive_of IS NULL", (join_code,))
    return None if row is None else community_from_row(row)


async def code_taken(tx: Tx, join_code: str) -> bool:
    return await tx.one("SELECT 1 FROM communities WHERE join_code = ?", (join_code,)) is not None


async def set_step(tx: Tx, community_id: int, step: int) -> None:
    await tx.execute("UPDATE communities SET step = ? WHERE id = ?", (step, community_id))


async def set_tz(tx: Tx, community_id: int, tz: str) -> None:
    await tx.execute("UPDATE communities SET tz = ? WHERE id = ?", (tz, community_id))


async def mark_skipped(tx: Tx, community_id: int, step: int, now: str) -> None:
    """The facilitator moved past ``step`` without a result (nothing was done in it)."""
    await tx.execute("INSERT INTO skipped_steps (community_id, step, at) VALUES (?, ?, ?)"
                     " ON CONFLICT (community_id, step) DO NOTHING", (community_id, step, now))


async def skipped_steps(tx: Tx, community_id: int) -> set[int]:
    rows = await tx.all("SELECT step FROM skipped_steps WHERE community_id = ?", (community_id,))
    return {row[0] for row in rows}


async def link_group(tx: Tx, channel: str, chat_id: str, community_id: int, title: str,
                     member_id: int, now: str) -> None:
    await tx.execute(
        "INSERT INTO group_links (channel, chat_id, community_id, title, linked_by, linked_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, chat_id) DO UPDATE SET"
        " community_id = excluded.community_id, title = excluded.title,"
        " linked_by = excluded.linked_by, linked_at = excluded.linked_at",
        (channel, chat_id, community_id, title, member_id, now),
    )


async def move_group(tx: Tx, channel: str, chat_id: str, new_chat_id: str) -> int | None:
    """The group now has another id (Telegram made it a supergroup): its link and the bot's
    messages there follow. The community it is linked to, if any."""
    community_id = await tx.scalar("SELECT community_id FROM group_links WHERE channel = ? AND chat_id = ?",
                                   (channel, chat_id))
    if community_id is not None:
        if await tx.scalar("SELECT 1 FROM group_links WHERE channel = ? AND chat_id = ?", (channel, new_chat_id)):
            # the supergroup is linked already (by /link there): that link stands
            await tx.execute("DELETE FROM group_links WHERE channel = ? AND chat_id = ?", (channel, chat_id))
        else:
            await tx.execute("UPDATE group_links SET chat_id = ? WHERE channel = ? AND chat_id = ?",
                             (new_chat_id, channel, chat_id))
        await tx.execute("DELETE FROM message_refs WHERE channel = ? AND chat_id = ?", (channel, chat_id))
    return community_id


async def by_group(tx: Tx, channel: str, chat_id: str) -> Community | None:
    row = await tx.one(
        "SELECT c.* FROM communities c JOIN group_links g ON g.community_id = c.id"
        " WHERE g.channel = ? AND g.chat_id = ?",
        (channel, chat_id),
    )
    return None if row is None else community_from_row(row)


MOVES_REMEMBERED = 1000  # audit entries back a group's move is looked for (its late updates come at once)


async def moved_to(tx: Tx, chat_id: str) -> str | None:
    """The id the group ``chat_id`` lives on under, if Telegram made it a supergroup lately: an
    update sent there before the move may be handled after it (several are handled at once; on
    PostgreSQL the move's transaction may commit first). The audit log's record of the move says
    where, among its latest entries (read through its key: cheap, and only for a group not linked)."""
    return await tx.scalar(
        "SELECT json_extract(detail, '$.to') FROM audit_log"
        " WHERE id > (SELECT COALESCE(MAX(id), 0) FROM audit_log) - ? AND action = 'group.moved'"
        " AND json_extract(detail, '$.chat') = ? ORDER BY id DESC LIMIT 1", (MOVES_REMEMBERED, chat_id))


async def groups(tx: Tx, community_id: int) -> list[tuple[str, str]]:
    rows = await tx.all(
        "SELECT channel, chat_id FROM group_links WHERE community_id = ? ORDER BY linked_at", (community_id,)
    )
    return [(r["channel"], r["chat_id"]) for r in rows]


async def facilitators(tx: Tx, community_id: int) -> list[int]:
    rows = await tx.all("SELECT member_id FROM memberships WHERE community_id = ? AND role = 'facilitator'"
                        " ORDER BY member_id", (community_id,))
    return [r[0] for r in rows]


async def facilitator_names(tx: Tx, community_id: int) -> list[str]:
    """The facilitators' names, by name ("" for one who erased their data)."""
    rows = await tx.all("SELECT COALESCE(m.name, '') FROM memberships s JOIN members m ON m.id = s.member_id"
                        " WHERE s.community_id = ? AND s.role = 'facilitator' ORDER BY m.name, m.id", (community_id,))
    return [r[0] for r in rows]


async def created_at(tx: Tx, community_id: int) -> str:
    return await tx.scalar("SELECT created_at FROM communities WHERE id = ?", (community_id,))
