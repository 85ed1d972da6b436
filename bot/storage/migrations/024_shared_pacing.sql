-- Rate limits and view redraws shared by several workers on PostgreSQL (bot/storage/pace.py).
-- SQLite's one process keeps them in memory (bot/pacing.py, bot/delivery.py): these tables stay
-- empty there, and exist so that both stores have one schema.
-- A channel's next overall slot (chat_id ''), each chat's next message, a 429's hold.
CREATE TABLE pace (
    channel    TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    next_at    REAL NOT NULL DEFAULT 0,
    held_until REAL NOT NULL DEFAULT 0,
    recent     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (channel, chat_id)
);
-- When a view (a group's ballot counts) was last claimed for a redraw, by any worker.
CREATE TABLE view_claims (
    view       TEXT PRIMARY KEY,
    claimed_at REAL NOT NULL
);
-- What a tagged message shows (a digest of its text and buttons), so an identical redraw is
-- not sent, whichever worker drew it last.
ALTER TABLE message_refs ADD COLUMN shown TEXT;
