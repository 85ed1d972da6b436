-- Step 6, monitoring (іске асыру және мониторинг): the owners' check-ins on their tasks, the
-- reminders the scheduler sends (each occurrence a row: the database is the truth), each
-- community's reminder settings, members' mutes, where members were seen (the linked group),
-- and the plan's approval (so a plan changed since is shown as such).

CREATE TABLE checkins (
    id        INTEGER PRIMARY KEY,
    task_id   INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    member_id INTEGER REFERENCES members(id) ON DELETE SET NULL,
    status    TEXT NOT NULL CHECK (status IN ('done', 'on_track', 'late', 'blocked')),
    percent   INTEGER NOT NULL CHECK (percent BETWEEN 0 AND 100),
    note      TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    photo     TEXT,                      -- the channel's file id ("channel:id"), never the bytes
    at        TEXT NOT NULL
);
CREATE INDEX checkins_task ON checkins(task_id, id);
-- Only the task's responsible member checks in, on an open task; a check-in is kept as made.
CREATE TRIGGER checkins_by_the_owner BEFORE INSERT ON checkins
BEGIN
    SELECT RAISE(ABORT, 'only the responsible member checks in on an open task')
     WHERE NOT EXISTS (SELECT 1 FROM tasks WHERE id = NEW.task_id AND owner_id = NEW.member_id AND status = 'open');
END;
CREATE TRIGGER checkins_kept BEFORE UPDATE OF task_id, status, percent, note, photo, at ON checkins
BEGIN
    SELECT RAISE(ABORT, 'a check-in is kept as it was made');
END;

CREATE TABLE reminder_settings (
    community_id INTEGER PRIMARY KEY REFERENCES communities(id) ON DELETE CASCADE,
    digest_day   INTEGER NOT NULL DEFAULT 0 CHECK (digest_day BETWEEN 0 AND 6),  -- 0 Monday
    digest_time  TEXT NOT NULL DEFAULT '10:00' CHECK (digest_time GLOB '[0-2][0-9]:[0-5][0-9]'),
    checkin_days INTEGER NOT NULL DEFAULT 7 CHECK (checkin_days BETWEEN 1 AND 60),
    quiet_from   TEXT NOT NULL DEFAULT '22:00' CHECK (quiet_from GLOB '[0-2][0-9]:[0-5][0-9]'),
    quiet_to     TEXT NOT NULL DEFAULT '08:00' CHECK (quiet_to GLOB '[0-2][0-9]:[0-5][0-9]'),
    off_kinds    TEXT NOT NULL DEFAULT '',    -- the kinds turned off, comma-separated
    CHECK (quiet_from <> quiet_to)
);

CREATE TABLE mutes (
    member_id INTEGER PRIMARY KEY REFERENCES members(id) ON DELETE CASCADE,
    until     TEXT NOT NULL                  -- a UTC instant
);

-- A member seen acting in one of the community's linked groups is in the group.
CREATE TABLE group_presence (
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    member_id    INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    PRIMARY KEY (community_id, member_id)
) WITHOUT ROWID;

-- One occurrence of a reminder: its key names it ("closing24:b7", "due:t5:2026-03-10", ...) so
-- it is never planned twice; it is marked sent in the transaction that queues its messages.
CREATE TABLE reminders (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('closing', 'opened', 'due', 'overdue', 'checkin', 'digest')),
    ballot_id    INTEGER REFERENCES ballots(id) ON DELETE CASCADE,
    task_id      INTEGER REFERENCES tasks(id) ON DELETE CASCADE,
    due_at       TEXT NOT NULL,              -- a UTC instant; quiet hours may delay it
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'skipped')),
    sent_to      INTEGER NOT NULL DEFAULT 0,
    done_at      TEXT
);
CREATE INDEX reminders_pending ON reminders(status, due_at);
CREATE INDEX reminders_task ON reminders(task_id, status);
CREATE TRIGGER reminders_once BEFORE UPDATE OF status ON reminders WHEN OLD.status <> 'pending'
BEGIN
    SELECT RAISE(ABORT, 'a reminder is sent or skipped once');
END;

-- The plan's approval by the members; "changed" once a task is added, edited or taken off after it.
CREATE TABLE plan_approvals (
    community_id INTEGER PRIMARY KEY REFERENCES communities(id) ON DELETE CASCADE,
    approved_at  TEXT NOT NULL,
    changed      INTEGER NOT NULL DEFAULT 0 CHECK (changed IN (0, 1))
);
-- Plans approved before this version: their latest approval (whether they changed since is not known).
INSERT INTO plan_approvals (community_id, approved_at, changed)
SELECT b.community_id, MAX(b.closed_at), 0 FROM ballots b
 WHERE b.kind = 'plan' AND b.status = 'closed' AND b.closed_at IS NOT NULL
   AND (SELECT COALESCE(SUM(approve), 0) * 2 > COUNT(*) FROM plan_votes WHERE ballot_id = b.id)
 GROUP BY b.community_id;
CREATE TRIGGER plan_approved AFTER UPDATE OF status ON ballots
WHEN NEW.kind = 'plan' AND NEW.status = 'closed' AND OLD.status = 'open'
 AND (SELECT COALESCE(SUM(approve), 0) * 2 > COUNT(*) FROM plan_votes WHERE ballot_id = NEW.id)
BEGIN
    INSERT INTO plan_approvals (community_id, approved_at, changed) VALUES (NEW.community_id, NEW.closed_at, 0)
    ON CONFLICT (community_id) DO UPDATE SET approved_at = excluded.approved_at, changed = 0;
END;
CREATE TRIGGER plan_changed_insert AFTER INSERT ON tasks
BEGIN
    UPDATE plan_approvals SET changed = 1 WHERE community_id = NEW.community_id;
END;
CREATE TRIGGER plan_changed_update AFTER UPDATE OF title, start_on, due_on, resources, owner_id, status ON tasks
WHEN NEW.title IS NOT OLD.title OR NEW.start_on IS NOT OLD.start_on OR NEW.due_on IS NOT OLD.due_on
  OR NEW.resources IS NOT OLD.resources OR NEW.owner_id IS NOT OLD.owner_id OR NEW.status IS NOT OLD.status
BEGIN
    UPDATE plan_approvals SET changed = 1 WHERE community_id = NEW.community_id;
END;
