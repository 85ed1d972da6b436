-- Step 5: the joint action plan (іс-әрекет жоспары): tasks for the chosen problem, the members
-- who offer to do them, and the members' approval of the plan by ballot.

CREATE TABLE tasks (
    id           INTEGER PRIMARY KEY,
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    problem_id   INTEGER NOT NULL REFERENCES problems(id),
    number       INTEGER NOT NULL,
    title        TEXT NOT NULL,
    norm         TEXT NOT NULL,
    start_on     TEXT,                  -- ISO dates
    due_on       TEXT,
    resources    TEXT NOT NULL DEFAULT '',
    owner_id     INTEGER REFERENCES members(id) ON DELETE SET NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'removed')),
    created_by   INTEGER REFERENCES members(id) ON DELETE SET NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (community_id, number),
    CHECK (start_on IS NULL OR due_on IS NULL OR start_on <= due_on)
);
CREATE INDEX tasks_problem ON tasks(problem_id, status);
CREATE INDEX tasks_author ON tasks(created_by, created_at);

CREATE TABLE task_volunteers (
    task_id   INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    at        TEXT NOT NULL,
    PRIMARY KEY (task_id, member_id)
);

-- The responsible member is a member of the community; a task keeps its number and tree; while
-- the members vote on the plan, the plan does not change under them.
CREATE TRIGGER tasks_owner_is_a_member BEFORE UPDATE OF owner_id ON tasks WHEN NEW.owner_id IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'the responsible member must be a member of the community')
     WHERE NOT EXISTS (SELECT 1 FROM memberships WHERE community_id = NEW.community_id AND member_id = NEW.owner_id);
END;
CREATE TRIGGER tasks_fixed BEFORE UPDATE OF community_id, problem_id, number ON tasks
BEGIN
    SELECT RAISE(ABORT, 'a task keeps its number and problem');
END;
CREATE TRIGGER tasks_frozen_insert BEFORE INSERT ON tasks
BEGIN
    SELECT RAISE(ABORT, 'the plan cannot change while it is voted on')
     WHERE EXISTS (SELECT 1 FROM ballots WHERE community_id = NEW.community_id AND kind = 'plan' AND status = 'open');
END;
CREATE TRIGGER tasks_frozen_update BEFORE UPDATE OF title, start_on, due_on, resources, owner_id, status ON tasks
BEGIN
    SELECT RAISE(ABORT, 'the plan cannot change while it is voted on')
     WHERE EXISTS (SELECT 1 FROM ballots WHERE community_id = OLD.community_id AND kind = 'plan' AND status = 'open');
END;

-- One vote a member on a plan ballot: approve (1) or not yet (0), changeable while it is open.
CREATE TABLE plan_votes (
    ballot_id INTEGER NOT NULL REFERENCES ballots(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    approve   INTEGER NOT NULL CHECK (approve IN (0, 1)),
    PRIMARY KEY (ballot_id, member_id)
);
CREATE TRIGGER plan_votes_guard BEFORE INSERT ON plan_votes
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open')
     WHERE (SELECT status FROM ballots WHERE id = NEW.ballot_id) IS NOT 'open';
    SELECT RAISE(ABORT, 'not a plan ballot')
     WHERE (SELECT kind FROM ballots WHERE id = NEW.ballot_id) IS NOT 'plan';
END;
CREATE TRIGGER plan_votes_guard_update BEFORE UPDATE ON plan_votes
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open')
     WHERE (SELECT status FROM ballots WHERE id = NEW.ballot_id) IS NOT 'open' OR NEW.ballot_id <> OLD.ballot_id
        OR NEW.member_id <> OLD.member_id;
END;
CREATE TRIGGER plan_votes_no_delete BEFORE DELETE ON plan_votes
WHEN (SELECT status FROM ballots WHERE id = OLD.ballot_id) IS NOT 'open'
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open');
END;
CREATE TRIGGER plan_votes_added AFTER INSERT ON plan_votes
BEGIN
    UPDATE ballots SET turnout = turnout + 1 WHERE id = NEW.ballot_id;
END;
CREATE TRIGGER plan_votes_removed AFTER DELETE ON plan_votes
BEGIN
    UPDATE ballots SET turnout = turnout - 1 WHERE id = OLD.ballot_id;
END;
