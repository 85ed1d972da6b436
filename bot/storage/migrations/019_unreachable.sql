-- A private chat that refused a message because the person blocked the bot: reminders and
-- notices skip it, and the person's next message there clears the mark.
CREATE TABLE unreachable (
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    since       TEXT NOT NULL,
    PRIMARY KEY (channel, external_id),
    FOREIGN KEY (channel, external_id) REFERENCES identities(channel, external_id) ON DELETE CASCADE
);
