-- Crash safety: updates are written here before Telegram is told they were received, and
-- removed once handled; what is here at start is handled again (the engine drops duplicates).
CREATE TABLE inbox (
    channel     TEXT NOT NULL,
    update_id   TEXT NOT NULL,
    payload     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (channel, update_id)
);

-- Messages to send that must not be lost (group posts, notifications, broadcasts): written in
-- the same transaction as the action that caused them, sent at the channel's allowed rate.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    payload     BLOB NOT NULL,
    not_before  REAL NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox(not_before, id);

-- A double-tapped button sends the same callback twice within a moment: the second is dropped.
-- One row per person and button; BEGIN IMMEDIATE makes the read-then-write race-free.
CREATE TABLE recent_taps (
    channel TEXT NOT NULL,
    user_id TEXT NOT NULL,
    data    TEXT NOT NULL,
    at      REAL NOT NULL,
    PRIMARY KEY (channel, user_id, data)
);
