-- Foundation: communities, members and their channel identities, roles, group links,
-- conversation state, processed updates, message references and the audit log.

CREATE TABLE members (
    id              INTEGER PRIMARY KEY,
    name            TEXT,
    locale          TEXT NOT NULL CHECK (locale IN ('kk', 'ru', 'en')),
    phone           TEXT,
    consent_at      TEXT NOT NULL,
    active_community INTEGER,
    created_at      TEXT NOT NULL
);

CREATE TABLE identities (
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    member_id   INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (channel, external_id)
);
CREATE INDEX identities_member ON identities(member_id);

CREATE TABLE communities (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    place       TEXT NOT NULL,
    tz          TEXT NOT NULL,
    locale      TEXT NOT NULL CHECK (locale IN ('kk', 'ru', 'en')),
    join_code   TEXT NOT NULL UNIQUE,
    step        INTEGER NOT NULL DEFAULT 1 CHECK (step BETWEEN 1 AND 7),
    created_by  INTEGER REFERENCES members(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE memberships (
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    member_id    INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('member', 'facilitator')),
    kmut         INTEGER NOT NULL DEFAULT 0 CHECK (kmut IN (0, 1)),
    joined_at    TEXT NOT NULL,
    PRIMARY KEY (community_id, member_id)
);
CREATE INDEX memberships_member ON memberships(member_id);

CREATE TABLE group_links (
    channel      TEXT NOT NULL,
    chat_id      TEXT NOT NULL,
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    title        TEXT NOT NULL DEFAULT '',
    linked_by    INTEGER REFERENCES members(id) ON DELETE SET NULL,
    linked_at    TEXT NOT NULL,
    PRIMARY KEY (channel, chat_id)
);
CREATE INDEX group_links_community ON group_links(community_id);

-- Keyed by channel identity, not member: a stranger mid-onboarding has no member row yet.
CREATE TABLE conversations (
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    state       TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (channel, external_id)
);

CREATE TABLE processed_updates (
    channel      TEXT NOT NULL,
    update_id    TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (channel, update_id)
);
CREATE INDEX processed_updates_at ON processed_updates(processed_at);

-- Where the bot's own messages went, by a flow-chosen tag (e.g. a ballot's group message).
CREATE TABLE message_refs (
    channel    TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    tag        TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (channel, chat_id, tag)
);

-- Append-only; each entry carries the previous entry's hash and its own (a hash chain).
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    community_id INTEGER,
    actor_id     INTEGER,
    action       TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '{}',
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_community ON audit_log(community_id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
