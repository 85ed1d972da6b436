"""What the WhatsApp channel keeps (migration 017): each person's last message (the 24-hour
window) and last offered options, the messages sent with their options and delivery status,
and uploaded media."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.storage.db import Tx

Options = list[tuple[str, str, int | None]]  # (id, title, the number the flow gave it)
STATUS_ORDER = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


@dataclass(frozen=True)
class Sent:
    message_id: str
    wa_id: str
    options: Options
    body: str
    page: int
    status: str


async def wrote_many(tx: Tx, wrote_at: list[tuple[str, float]]) -> None:
    """Each person (wa_id) wrote to us at ``at``: their 24-hour window runs from the latest such time."""
    await tx.executemany("INSERT INTO wa_contacts (wa_id, last_inbound) VALUES (?, ?) ON CONFLICT (wa_id)"
                         " DO UPDATE SET last_inbound = MAX(wa_contacts.last_inbound, excluded.last_inbound)", wrote_at)


async def last_inbound(tx: Tx, wa_id: str) -> float | None:
    value = await tx.scalar("SELECT last_inbound FROM wa_contacts WHERE wa_id = ?", (wa_id,))
    return None if not value else float(value)


async def offered(tx: Tx, wa_id: str, options: Options) -> None:
    """The options the latest interactive message offered (empty: the latest message offered none)."""
    await tx.execute("INSERT INTO wa_contacts (wa_id, options) VALUES (?, ?) ON CONFLICT (wa_id)"
                     " DO UPDATE SET options = excluded.options", (wa_id, _dump(options)))


async def last_options(tx: Tx, wa_id: str) -> Options:
    raw = await tx.scalar("SELECT options FROM wa_contacts WHERE wa_id = ?", (wa_id,))
    return _load(raw) if raw else []


async def record_sent(tx: Tx, message_id: str, wa_id: str, at: float, options: Options = (),
                      body: str = "", page: int = 0) -> None:
    # Sent again under the same id: a new message as far as its status goes; but a status that came
    # before this record (``status`` kept it, sent_at 0) is this message's own (SQL both stores take)
    await tx.execute("INSERT INTO wa_sent (message_id, wa_id, options, body, page, sent_at) VALUES (?, ?, ?, ?, ?, ?)"
                     " ON CONFLICT (message_id) DO UPDATE SET wa_id = excluded.wa_id, options = excluded.options,"
                     " body = excluded.body, page = excluded.page, sent_at = excluded.sent_at,"
                     " status = CASE WHEN wa_sent.sent_at = 0 THEN wa_sent.status ELSE 'accepted' END,"
                     " error_code = CASE WHEN wa_sent.sent_at = 0 THEN wa_sent.error_code END,"
                     " status_at = CASE WHEN wa_sent.sent_at = 0 THEN wa_sent.status_at END",
                     (message_id, wa_id, _dump(options), body, page, at))


async def sent(tx: Tx, message_id: str) -> Sent | None:
    row = await tx.one("SELECT message_id, wa_id, options, body, page, status FROM wa_sent WHERE message_id = ?",
                       (message_id,))
    if row is None:
        return None
    return Sent(row[0], row[1], _load(row[2]), row[3], row[4], row[5])


async def status(tx: Tx, message_id: str, status: str, at: float, error_code: int | None = None,
                 recipient: str = "") -> bool:
    """A status callback; a late one (``sent`` after ``read``) does not step back. One for a
    message not recorded yet is kept (sent_at 0) for its record to find: Meta may call back
    before the send's record has committed (another worker's, or this one's a moment later).
    False when the status is not one we know or steps back."""
    rank = STATUS_ORDER.get(status)
    if rank is None:
        return False
    if await tx.changed(
            "UPDATE wa_sent SET status = ?, status_at = ?, error_code = COALESCE(?, error_code) WHERE message_id = ?"
            " AND (CASE status WHEN 'accepted' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3"
            " ELSE 4 END) < ?", (status, at, error_code, message_id, rank)):
        return True
    return await tx.changed(
        "INSERT OR IGNORE INTO wa_sent (message_id, wa_id, status, error_code, sent_at, status_at)"
        " VALUES (?, ?, ?, ?, 0, ?)", (message_id, recipient, status, error_code, at)) > 0


async def media(tx: Tx, digest: str, fresh_after: float) -> str | None:
    return await tx.scalar("SELECT media_id FROM wa_media WHERE digest = ? AND uploaded_at >= ?", (digest, fresh_after))


async def uploaded(tx: Tx, digest: str, media_id: str, at: float) -> None:
    await tx.execute("INSERT INTO wa_media (digest, media_id, uploaded_at) VALUES (?, ?, ?) ON CONFLICT (digest)"
                     " DO UPDATE SET media_id = excluded.media_id, uploaded_at = excluded.uploaded_at",
                     (digest, media_id, at))


async def locale_of(tx: Tx, wa_id: str) -> str | None:
    """The language of the member behind a WhatsApp number, or of their onboarding so far."""
    row = await tx.one(
        "SELECT m.locale, c.data FROM (SELECT ? AS id) k"
        " LEFT JOIN identities i ON i.channel = 'whatsapp' AND i.external_id = k.id"
        " LEFT JOIN members m ON m.id = i.member_id"
        " LEFT JOIN conversations c ON c.channel = 'whatsapp' AND c.external_id = k.id", (wa_id,))
    if row[0]:
        return row[0]
    if row[1]:
        return json.loads(row[1]).get("locale")
    return None


async def forget(tx: Tx, wa_id: str) -> None:
    """Erase what is kept about a WhatsApp number (its window, its options, what it was sent,
    its messages waiting in the inbox): the number is the person's phone number."""
    await tx.execute("DELETE FROM wa_contacts WHERE wa_id = ?", (wa_id,))
    await tx.execute("DELETE FROM wa_sent WHERE wa_id = ?", (wa_id,))
    await tx.execute("DELETE FROM inbox WHERE channel = 'whatsapp' AND json_extract(payload, '$.message.from') = ?",
                     (wa_id,))


async def prune(tx: Tx, before: float) -> int:
    """Forget sent messages (and media ids) older than ``before``: a tap on one is then stale; and
    statuses whose message was never recorded, once they are that old."""
    await tx.execute("DELETE FROM wa_media WHERE uploaded_at < ?", (before,))
    return await tx.changed("DELETE FROM wa_sent WHERE sent_at < ? AND (sent_at > 0 OR status_at < ?)",
                            (before, before))


def _dump(options) -> str:
    """[id, title], and the number where the flow gave one (a row without it reads as before)."""
    return json.dumps([[o[0], o[1]] + ([o[2]] if len(o) > 2 and o[2] is not None else []) for o in options],
                      ensure_ascii=False)


def _load(raw: str) -> Options:
    return [(str(o[0]), str(o[1]), o[2] if len(o) > 2 and isinstance(o[2], int) else None) for o in json.loads(raw)]
