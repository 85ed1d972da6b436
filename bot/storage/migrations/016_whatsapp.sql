-- WhatsApp. Per person: when they last wrote (the 24-hour window in which free-form messages
-- may be sent; outside it only approved templates) and the options the last interactive message
-- offered them (a typed "2" or an option's text picks it).
CREATE TABLE wa_contacts (
    wa_id        TEXT PRIMARY KEY,
    last_inbound REAL NOT NULL DEFAULT 0,   -- epoch seconds
    options      TEXT NOT NULL DEFAULT '[]' -- JSON [[id, title], ...]
);

-- Messages sent: the options each offered (a tap is checked against the message it came from;
-- a paged list shows its next page from here) and its delivery status from the status callbacks.
CREATE TABLE wa_sent (
    message_id  TEXT PRIMARY KEY,           -- the Cloud API's wamid
    wa_id       TEXT NOT NULL,
    options     TEXT NOT NULL DEFAULT '[]', -- JSON [[id, title], ...]: all of them, every page
    body        TEXT NOT NULL DEFAULT '',   -- the text the options came with (for the next page)
    page        INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL DEFAULT 'accepted' CHECK (status IN ('accepted', 'sent', 'delivered', 'read', 'failed')),
    error_code  INTEGER,
    sent_at     REAL NOT NULL,
    status_at   REAL
);
CREATE INDEX wa_sent_at ON wa_sent(sent_at);

-- Uploaded media, by the file's SHA-256: a chart sent to many is uploaded once (media ids
-- last 30 days at Meta; an older one is uploaded again).
CREATE TABLE wa_media (
    digest      TEXT PRIMARY KEY,
    media_id    TEXT NOT NULL,
    uploaded_at REAL NOT NULL
);
