-- pragma: foreign_keys off
-- Step 2: nominations to the initiative group (ҚМҰТ), the election ballot, the confirmed group.
-- (Run with foreign keys off, see Database.migrate: the ballots table is rebuilt, as SQLite
-- cannot change a CHECK constraint, and dropping it with foreign keys on would delete every vote.)

PRAGMA legacy_alter_table = ON;  -- the triggers on other tables name "ballots": keep them as written
CREATE TABLE ballots_new (
    id           INTEGER PRIMARY KEY,
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('dots', 'matrix', 'pairwise', 'election', 'plan', 'evaluation')),
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    stickers     INTEGER NOT NULL DEFAULT 3 CHECK (stickers BETWEEN 1 AND 20),  -- an election's seats
    per_option   INTEGER NOT NULL DEFAULT 1 CHECK (per_option BETWEEN 1 AND 20),
    visibility   TEXT NOT NULL DEFAULT 'live' CHECK (visibility IN ('live', 'voted', 'closed')),
    closes_at    TEXT,
    paper_present INTEGER NOT NULL DEFAULT 0,
    turnout      INTEGER NOT NULL DEFAULT 0,  -- members with at least one sticker or approval (kept by triggers)
    opened_by    INTEGER REFERENCES members(id) ON DELETE SET NULL,
    opened_at    TEXT NOT NULL,
    closed_at    TEXT
);
INSERT INTO ballots_new SELECT id, community_id, kind, status, stickers, per_option, visibility, closes_at,
                               paper_present, turnout, opened_by, opened_at, closed_at FROM ballots;
DROP TABLE ballots;
ALTER TABLE ballots_new RENAME TO ballots;
PRAGMA legacy_alter_table = OFF;
CREATE INDEX ballots_community ON ballots(community_id, status);
CREATE TRIGGER ballots_rules_frozen BEFORE UPDATE OF kind, stickers, per_option, visibility, community_id ON ballots
BEGIN
    SELECT RAISE(ABORT, 'ballot rules cannot change once it is opened');
END;
CREATE TRIGGER ballots_stay_closed BEFORE UPDATE OF status ON ballots WHEN OLD.status = 'closed'
BEGIN
    SELECT RAISE(ABORT, 'a closed ballot cannot be reopened');
END;

-- One nomination a member per community; the nominee answers it once.
CREATE TABLE nominations (
    id           INTEGER PRIMARY KEY,
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    member_id    INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    category     TEXT NOT NULL CHECK (category IN ('activist', 'vulnerable', 'authority', 'business', 'ngo', 'media')),
    nominated_by INTEGER REFERENCES members(id) ON DELETE SET NULL,
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined')),
    created_at   TEXT NOT NULL,
    answered_at  TEXT,
    UNIQUE (community_id, member_id)
);
CREATE INDEX nominations_member ON nominations(member_id);
CREATE TRIGGER nominations_answered_once BEFORE UPDATE OF status ON nominations WHEN OLD.status <> 'pending'
BEGIN
    SELECT RAISE(ABORT, 'a nomination is answered once');
END;
CREATE TRIGGER nominations_fixed BEFORE UPDATE OF community_id, member_id, category ON nominations
BEGIN
    SELECT RAISE(ABORT, 'a nomination cannot change');
END;

-- An election's candidates, frozen when it opens, with their online approval count (kept by triggers).
CREATE TABLE election_options (
    ballot_id     INTEGER NOT NULL REFERENCES ballots(id) ON DELETE CASCADE,
    nomination_id INTEGER NOT NULL REFERENCES nominations(id) ON DELETE CASCADE,
    online        INTEGER NOT NULL DEFAULT 0 CHECK (online >= 0),
    PRIMARY KEY (ballot_id, nomination_id)
);

CREATE TABLE election_votes (
    ballot_id     INTEGER NOT NULL REFERENCES ballots(id) ON DELETE CASCADE,
    member_id     INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    nomination_id INTEGER NOT NULL REFERENCES nominations(id) ON DELETE CASCADE,
    PRIMARY KEY (ballot_id, member_id, nomination_id)
);
CREATE INDEX election_votes_member ON election_votes(member_id);

CREATE TRIGGER election_votes_added AFTER INSERT ON election_votes
BEGIN
    UPDATE election_options SET online = online + 1
     WHERE ballot_id = NEW.ballot_id AND nomination_id = NEW.nomination_id;
    UPDATE ballots SET turnout = turnout + 1 WHERE id = NEW.ballot_id
       AND (SELECT COUNT(*) FROM election_votes WHERE ballot_id = NEW.ballot_id AND member_id = NEW.member_id) = 1;
END;
CREATE TRIGGER election_votes_removed AFTER DELETE ON election_votes
BEGIN
    UPDATE election_options SET online = online - 1
     WHERE ballot_id = OLD.ballot_id AND nomination_id = OLD.nomination_id;
    UPDATE ballots SET turnout = turnout - 1 WHERE id = OLD.ballot_id
       AND NOT EXISTS (SELECT 1 FROM election_votes WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id);
END;

-- The database itself refuses an approval on a closed ballot, of someone not on it, or beyond the seats.
CREATE TRIGGER election_votes_guard_insert BEFORE INSERT ON election_votes
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open')
     WHERE (SELECT status FROM ballots WHERE id = NEW.ballot_id) IS NOT 'open';
    SELECT RAISE(ABORT, 'not an election')
     WHERE (SELECT kind FROM ballots WHERE id = NEW.ballot_id) IS NOT 'election';
    SELECT RAISE(ABORT, 'not a candidate of this election')
     WHERE NOT EXISTS (SELECT 1 FROM election_options WHERE ballot_id = NEW.ballot_id AND nomination_id = NEW.nomination_id);
    SELECT RAISE(ABORT, 'seat limit')
     WHERE (SELECT COUNT(*) FROM election_votes WHERE ballot_id = NEW.ballot_id AND member_id = NEW.member_id)
           >= (SELECT stickers FROM ballots WHERE id = NEW.ballot_id);
END;
CREATE TRIGGER election_votes_guard_delete BEFORE DELETE ON election_votes
WHEN (SELECT status FROM ballots WHERE id = OLD.ballot_id) IS NOT 'open'
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open');
END;
CREATE TRIGGER election_votes_no_update BEFORE UPDATE ON election_votes
BEGIN
    SELECT RAISE(ABORT, 'an approval is placed or taken back, not changed');
END;

-- Candidates are added only while the election is being opened: before its opening is audited
-- and before anyone has voted; never removed or changed while it is open.
CREATE TRIGGER election_options_frozen_insert BEFORE INSERT ON election_options
WHEN (SELECT status FROM ballots WHERE id = NEW.ballot_id) = 'open'
BEGIN
    SELECT RAISE(ABORT, 'ballot options cannot change while it is open')
     WHERE EXISTS (SELECT 1 FROM election_votes WHERE ballot_id = NEW.ballot_id)
        OR EXISTS (SELECT 1 FROM audit_log a JOIN ballots b ON a.community_id = b.community_id
                   WHERE b.id = NEW.ballot_id AND a.action = 'ballot.opened'
                     AND json_extract(a.detail, '$.ballot') = NEW.ballot_id);
    SELECT RAISE(ABORT, 'a candidate must have accepted a nomination in this community')
     WHERE NOT EXISTS (SELECT 1 FROM nominations n JOIN ballots b ON b.community_id = n.community_id
                       WHERE n.id = NEW.nomination_id AND b.id = NEW.ballot_id AND n.status = 'accepted');
END;
CREATE TRIGGER election_options_frozen_delete BEFORE DELETE ON election_options
WHEN (SELECT status FROM ballots WHERE id = OLD.ballot_id) = 'open'
BEGIN
    SELECT RAISE(ABORT, 'ballot options cannot change while it is open');
END;
CREATE TRIGGER election_options_frozen_update BEFORE UPDATE OF ballot_id, nomination_id ON election_options
BEGIN
    SELECT RAISE(ABORT, 'ballot options cannot change');
END;

-- The group the facilitator confirmed from an election's result (once per election).
CREATE TABLE kmut_confirmations (
    ballot_id    INTEGER PRIMARY KEY REFERENCES ballots(id) ON DELETE CASCADE,
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    confirmed_by INTEGER REFERENCES members(id) ON DELETE SET NULL,
    confirmed_at TEXT NOT NULL
);
