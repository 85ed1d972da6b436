-- Step 1: problems (brainstorm), ballots of three kinds, paper tallies, the chosen problem.

CREATE TABLE problems (
    id           INTEGER PRIMARY KEY,
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    text         TEXT NOT NULL,
    norm         TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'merged', 'hidden')),
    merged_into  INTEGER REFERENCES problems(id),
    created_by   INTEGER REFERENCES members(id) ON DELETE SET NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (community_id, number),
    UNIQUE (community_id, norm)
);

CREATE TABLE problem_authors (
    problem_id INTEGER NOT NULL REFERENCES problems(id) ON DELETE CASCADE,
    member_id  INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    PRIMARY KEY (problem_id, member_id)
);

CREATE TABLE ballots (
    id           INTEGER PRIMARY KEY,
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('dots', 'matrix', 'pairwise')),
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    stickers     INTEGER NOT NULL DEFAULT 3 CHECK (stickers BETWEEN 1 AND 20),
    per_option   INTEGER NOT NULL DEFAULT 1 CHECK (per_option BETWEEN 1 AND 20),
    visibility   TEXT NOT NULL DEFAULT 'live' CHECK (visibility IN ('live', 'voted', 'closed')),
    closes_at    TEXT,
    paper_present INTEGER NOT NULL DEFAULT 0,
    turnout      INTEGER NOT NULL DEFAULT 0,  -- members with at least one sticker (kept by triggers)
    opened_by    INTEGER REFERENCES members(id) ON DELETE SET NULL,
    opened_at    TEXT NOT NULL,
    closed_at    TEXT
);
CREATE INDEX ballots_community ON ballots(community_id, status);

-- A ballot's rules cannot change while it is open, and a closed ballot stays closed.
CREATE TRIGGER ballots_rules_frozen BEFORE UPDATE OF kind, stickers, per_option, visibility, community_id ON ballots
BEGIN
    SELECT RAISE(ABORT, 'ballot rules cannot change once it is opened');
END;
CREATE TRIGGER ballots_stay_closed BEFORE UPDATE OF status ON ballots WHEN OLD.status = 'closed'
BEGIN
    SELECT RAISE(ABORT, 'a closed ballot cannot be reopened');
END;

-- The options, frozen when the ballot opens, with their online sticker count (kept by triggers,
-- so a tap reads one small row set instead of counting every vote).
CREATE TABLE ballot_options (
    ballot_id  INTEGER NOT NULL REFERENCES ballots(id) ON DELETE CASCADE,
    problem_id INTEGER NOT NULL REFERENCES problems(id) ON DELETE CASCADE,
    online     INTEGER NOT NULL DEFAULT 0 CHECK (online >= 0),
    PRIMARY KEY (ballot_id, problem_id)
);

CREATE TABLE dot_votes (
    ballot_id  INTEGER NOT NULL REFERENCES ballots(id) ON DELETE CASCADE,
    member_id  INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    problem_id INTEGER NOT NULL REFERENCES problems(id) ON DELETE CASCADE,
    count      INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (ballot_id, member_id, problem_id)
);
CREATE INDEX dot_votes_problem ON dot_votes(ballot_id, problem_id);

CREATE TRIGGER dot_votes_added AFTER INSERT ON dot_votes
BEGIN
    UPDATE ballot_options SET online = online + NEW.count
     WHERE ballot_id = NEW.ballot_id AND problem_id = NEW.problem_id;
    UPDATE ballots SET turnout = turnout + 1 WHERE id = NEW.ballot_id
       AND (SELECT COUNT(*) FROM dot_votes WHERE ballot_id = NEW.ballot_id AND member_id = NEW.member_id) = 1;
END;
CREATE TRIGGER dot_votes_changed AFTER UPDATE OF count ON dot_votes
BEGIN
    UPDATE ballot_options SET online = online - OLD.count + NEW.count
     WHERE ballot_id = NEW.ballot_id AND problem_id = NEW.problem_id;
END;
CREATE TRIGGER dot_votes_removed AFTER DELETE ON dot_votes
BEGIN
    UPDATE ballot_options SET online = online - OLD.count
     WHERE ballot_id = OLD.ballot_id AND problem_id = OLD.problem_id;
    UPDATE ballots SET turnout = turnout - 1 WHERE id = OLD.ballot_id
       AND NOT EXISTS (SELECT 1 FROM dot_votes WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id);
END;

CREATE TABLE matrix_votes (
    ballot_id  INTEGER NOT NULL REFERENCES ballots(id) ON DELETE CASCADE,
    member_id  INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    problem_id INTEGER NOT NULL REFERENCES problems(id) ON DELETE CASCADE,
    a          INTEGER NOT NULL CHECK (a BETWEEN 1 AND 3),
    b          INTEGER NOT NULL CHECK (b BETWEEN 1 AND 3),
    PRIMARY KEY (ballot_id, member_id, problem_id)
);

CREATE TABLE pairwise_votes (
    ballot_id  INTEGER NOT NULL REFERENCES ballots(id) ON DELETE CASCADE,
    member_id  INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    low_id     INTEGER NOT NULL REFERENCES problems(id) ON DELETE CASCADE,
    high_id    INTEGER NOT NULL REFERENCES problems(id) ON DELETE CASCADE,
    winner_id  INTEGER NOT NULL,
    PRIMARY KEY (ballot_id, member_id, low_id, high_id),
    CHECK (low_id < high_id),
    CHECK (winner_id IN (low_id, high_id))
);

-- The pairs each member is asked, drawn once from the injected random source.
CREATE TABLE pairwise_plans (
    ballot_id INTEGER NOT NULL REFERENCES ballots(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    pairs     TEXT NOT NULL,
    PRIMARY KEY (ballot_id, member_id)
);

CREATE TABLE paper_tallies (
    ballot_id  INTEGER NOT NULL REFERENCES ballots(id) ON DELETE CASCADE,
    problem_id INTEGER NOT NULL REFERENCES problems(id) ON DELETE CASCADE,
    count      INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (ballot_id, problem_id)
);

CREATE TABLE step1_choices (
    community_id INTEGER PRIMARY KEY REFERENCES communities(id) ON DELETE CASCADE,
    problem_id   INTEGER NOT NULL REFERENCES problems(id),
    confirmed_by INTEGER REFERENCES members(id) ON DELETE SET NULL,
    confirmed_at TEXT NOT NULL
);

CREATE TABLE volunteers (
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    member_id    INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    at           TEXT NOT NULL,
    PRIMARY KEY (community_id, member_id)
);

-- The database itself refuses a vote on a closed ballot, on a problem the ballot does not offer,
-- or beyond the ballot's sticker limits — whatever the code above it does.
CREATE TRIGGER dot_votes_guard_insert BEFORE INSERT ON dot_votes
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open')
     WHERE (SELECT status FROM ballots WHERE id = NEW.ballot_id) IS NOT 'open';
    SELECT RAISE(ABORT, 'not a sticker ballot')
     WHERE (SELECT kind FROM ballots WHERE id = NEW.ballot_id) IS NOT 'dots';
    SELECT RAISE(ABORT, 'not an option of this ballot')
     WHERE NOT EXISTS (SELECT 1 FROM ballot_options WHERE ballot_id = NEW.ballot_id AND problem_id = NEW.problem_id);
    SELECT RAISE(ABORT, 'sticker limit')
     WHERE NEW.count > (SELECT per_option FROM ballots WHERE id = NEW.ballot_id)
        OR NEW.count + (SELECT COALESCE(SUM(count), 0) FROM dot_votes
                        WHERE ballot_id = NEW.ballot_id AND member_id = NEW.member_id)
           > (SELECT stickers FROM ballots WHERE id = NEW.ballot_id);
END;
CREATE TRIGGER dot_votes_guard_update BEFORE UPDATE ON dot_votes
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open')
     WHERE (SELECT status FROM ballots WHERE id = NEW.ballot_id) IS NOT 'open';
    SELECT RAISE(ABORT, 'sticker limit')
     WHERE NEW.count > (SELECT per_option FROM ballots WHERE id = NEW.ballot_id)
        OR NEW.count - OLD.count + (SELECT COALESCE(SUM(count), 0) FROM dot_votes
                                    WHERE ballot_id = NEW.ballot_id AND member_id = NEW.member_id)
           > (SELECT stickers FROM ballots WHERE id = NEW.ballot_id);
END;
CREATE TRIGGER dot_votes_guard_delete BEFORE DELETE ON dot_votes
WHEN (SELECT status FROM ballots WHERE id = OLD.ballot_id) IS NOT 'open'
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open');
END;
CREATE TRIGGER matrix_votes_guard BEFORE INSERT ON matrix_votes
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open')
     WHERE (SELECT status FROM ballots WHERE id = NEW.ballot_id) IS NOT 'open';
    SELECT RAISE(ABORT, 'not a matrix ballot')
     WHERE (SELECT kind FROM ballots WHERE id = NEW.ballot_id) IS NOT 'matrix';
    SELECT RAISE(ABORT, 'not an option of this ballot')
     WHERE NOT EXISTS (SELECT 1 FROM ballot_options WHERE ballot_id = NEW.ballot_id AND problem_id = NEW.problem_id);
END;
CREATE TRIGGER pairwise_votes_guard BEFORE INSERT ON pairwise_votes
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open')
     WHERE (SELECT status FROM ballots WHERE id = NEW.ballot_id) IS NOT 'open';
    SELECT RAISE(ABORT, 'not a pairwise ballot')
     WHERE (SELECT kind FROM ballots WHERE id = NEW.ballot_id) IS NOT 'pairwise';
    SELECT RAISE(ABORT, 'not an option of this ballot')
     WHERE NOT EXISTS (SELECT 1 FROM ballot_options WHERE ballot_id = NEW.ballot_id AND problem_id = NEW.low_id)
        OR NOT EXISTS (SELECT 1 FROM ballot_options WHERE ballot_id = NEW.ballot_id AND problem_id = NEW.high_id);
END;
