-- Cycles and several facilitators.
--
-- A community goes through the seven steps again and again: each pass is a cycle. The current
-- cycle's data is kept as before, under the community's id, so every query reads the current
-- cycle. When a facilitator starts the next cycle (/cycle new), the finished cycle's rows move to
-- an archive: a row of `communities` with `archive_of` set to the community, holding nothing but
-- that cycle's data (no members, no groups, no join code anyone can use). What reads a community's
-- data by its id reads an archived cycle the same way, by the archive's id (cycles.archive_id).
-- The database refuses any change to an archive, save what a member's erasure takes away: their
-- name on rows (set to NULL) and their offers and estimates (deleted); their votes stay counted.
-- An existing database's data becomes cycle 1 of its community.

ALTER TABLE communities ADD COLUMN archive_of INTEGER REFERENCES communities(id);
ALTER TABLE problems ADD COLUMN carried_from INTEGER REFERENCES problems(id);  -- the problem of the last cycle

CREATE TABLE cycles (
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    number       INTEGER NOT NULL CHECK (number >= 1),
    started_at   TEXT NOT NULL,
    started_by   INTEGER REFERENCES members(id) ON DELETE SET NULL,
    ended_at     TEXT,
    ended_by     INTEGER REFERENCES members(id) ON DELETE SET NULL,
    archive_id   INTEGER UNIQUE REFERENCES communities(id),  -- where the finished cycle's data is kept
    PRIMARY KEY (community_id, number)
);
INSERT INTO cycles (community_id, number, started_at) SELECT id, 1, created_at FROM communities;
CREATE TRIGGER cycles_first AFTER INSERT ON communities WHEN NEW.archive_of IS NULL
BEGIN
    INSERT INTO cycles (community_id, number, started_at, started_by) VALUES (NEW.id, 1, NEW.created_at, NEW.created_by);
END;
-- A finished cycle stays as it ended (its people's ids may only be erased).
CREATE TRIGGER cycles_finished_fixed BEFORE UPDATE OF community_id, number, started_at, ended_at, archive_id ON cycles
WHEN OLD.ended_at IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a finished cycle cannot change');
END;
CREATE TRIGGER cycles_people_erased_only BEFORE UPDATE OF started_by, ended_by ON cycles
WHEN OLD.ended_at IS NOT NULL AND (NEW.started_by IS NOT NULL AND NEW.started_by IS NOT OLD.started_by
                                   OR NEW.ended_by IS NOT NULL AND NEW.ended_by IS NOT OLD.ended_by)
BEGIN
    SELECT RAISE(ABORT, 'a finished cycle cannot change');
END;
CREATE TRIGGER cycles_kept BEFORE DELETE ON cycles WHEN OLD.ended_at IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a finished cycle cannot change');
END;

-- An archive is made once, for a community that is not an archive itself, and nobody joins it.
CREATE TRIGGER communities_archive_fixed BEFORE UPDATE OF name, place, tz, locale, join_code, step, archive_of, created_at
ON communities WHEN OLD.archive_of IS NOT NULL OR NEW.archive_of IS NOT OLD.archive_of
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER communities_archive_people BEFORE UPDATE OF created_by ON communities
WHEN OLD.archive_of IS NOT NULL AND NEW.created_by IS NOT NULL AND NEW.created_by IS NOT OLD.created_by
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER communities_archive_kept BEFORE DELETE ON communities WHEN OLD.archive_of IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER communities_archive_of_a_community BEFORE INSERT ON communities WHEN NEW.archive_of IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archive belongs to a community')
     WHERE (SELECT archive_of FROM communities WHERE id = NEW.archive_of) IS NOT NULL
        OR NOT EXISTS (SELECT 1 FROM communities WHERE id = NEW.archive_of);
END;
CREATE TRIGGER memberships_not_in_an_archive BEFORE INSERT ON memberships
WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle has no members');
END;
CREATE TRIGGER group_links_not_to_an_archive BEFORE INSERT ON group_links
WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle has no groups');
END;
CREATE TRIGGER group_links_not_moved_to_an_archive BEFORE UPDATE OF community_id ON group_links
WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle has no groups');
END;

-- A community always keeps a facilitator: the last one cannot step down (they name a successor first).
CREATE TRIGGER memberships_keep_a_facilitator BEFORE UPDATE OF role ON memberships
WHEN OLD.role = 'facilitator' AND NEW.role <> 'facilitator'
 AND NOT EXISTS (SELECT 1 FROM memberships WHERE community_id = OLD.community_id AND role = 'facilitator'
                 AND member_id <> OLD.member_id)
BEGIN
    SELECT RAISE(ABORT, 'a community keeps at least one facilitator');
END;

-- The rows of a cycle kept their community; now they may also move, once, into the archive of
-- their community's cycle while it is being made (cycles.archive_id set, the cycle not yet ended).
DROP TRIGGER ballots_rules_frozen;
CREATE TRIGGER ballots_rules_frozen BEFORE UPDATE OF kind, stickers, per_option, visibility ON ballots
BEGIN
    SELECT RAISE(ABORT, 'ballot rules cannot change once it is opened');
END;
DROP TRIGGER nominations_fixed;
CREATE TRIGGER nominations_fixed BEFORE UPDATE OF member_id, category ON nominations
BEGIN
    SELECT RAISE(ABORT, 'a nomination cannot change');
END;
DROP TRIGGER tree_nodes_fixed;
CREATE TRIGGER tree_nodes_fixed BEFORE UPDATE OF problem_id, kind, number ON tree_nodes
BEGIN
    SELECT RAISE(ABORT, 'a node keeps its kind, number and community');
END;
DROP TRIGGER resources_fixed;
CREATE TRIGGER resources_fixed BEFORE UPDATE OF number, kind ON resources
BEGIN
    SELECT RAISE(ABORT, 'a resource keeps its kind, number and community');
END;
DROP TRIGGER orgs_fixed;
CREATE TRIGGER orgs_fixed BEFORE UPDATE OF number ON orgs
BEGIN
    SELECT RAISE(ABORT, 'an organisation keeps its number and community');
END;
DROP TRIGGER tasks_fixed;
CREATE TRIGGER tasks_fixed BEFORE UPDATE OF problem_id, number ON tasks
BEGIN
    SELECT RAISE(ABORT, 'a task keeps its number and problem');
END;

-- Each table of a cycle: nothing is added to an archive, nothing in it changes or goes; its rows move
-- only from the community into the archive being made.
CREATE TRIGGER problems_archive_insert BEFORE INSERT ON problems WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER problems_archive_update BEFORE UPDATE OF community_id, number, text, norm, status, merged_into, created_at, carried_from ON problems WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER problems_moves_to_its_archive BEFORE UPDATE OF community_id ON problems
WHEN NOT EXISTS (SELECT 1 FROM cycles
     WHERE community_id = OLD.community_id AND archive_id = NEW.community_id AND ended_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'a cycle''s data stays in its community');
END;
CREATE TRIGGER problems_archive_people BEFORE UPDATE OF created_by ON problems
WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.created_by IS NOT NULL AND NEW.created_by IS NOT OLD.created_by)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER problems_archive_delete BEFORE DELETE ON problems WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER ballots_archive_insert BEFORE INSERT ON ballots WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER ballots_archive_update BEFORE UPDATE OF community_id, status, closes_at, paper_present, turnout, opened_at, closed_at, paper_meetings, check_code ON ballots WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER ballots_moves_to_its_archive BEFORE UPDATE OF community_id ON ballots
WHEN NOT EXISTS (SELECT 1 FROM cycles
     WHERE community_id = OLD.community_id AND archive_id = NEW.community_id AND ended_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'ballot rules cannot change once it is opened');
END;
CREATE TRIGGER ballots_archive_people BEFORE UPDATE OF opened_by ON ballots
WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.opened_by IS NOT NULL AND NEW.opened_by IS NOT OLD.opened_by)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER ballots_archive_delete BEFORE DELETE ON ballots WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER step1_choices_archive_insert BEFORE INSERT ON step1_choices WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER step1_choices_archive_update BEFORE UPDATE OF community_id, problem_id, confirmed_at ON step1_choices WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER step1_choices_moves_to_its_archive BEFORE UPDATE OF community_id ON step1_choices
WHEN NOT EXISTS (SELECT 1 FROM cycles
     WHERE community_id = OLD.community_id AND archive_id = NEW.community_id AND ended_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'a cycle''s data stays in its community');
END;
CREATE TRIGGER step1_choices_archive_people BEFORE UPDATE OF confirmed_by ON step1_choices
WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.confirmed_by IS NOT NULL AND NEW.confirmed_by IS NOT OLD.confirmed_by)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER step1_choices_archive_delete BEFORE DELETE ON step1_choices WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER volunteers_archive_insert BEFORE INSERT ON volunteers WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER volunteers_archive_update BEFORE UPDATE OF community_id, member_id, at ON volunteers WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER volunteers_moves_to_its_archive BEFORE UPDATE OF community_id ON volunteers
WHEN NOT EXISTS (SELECT 1 FROM cycles
     WHERE community_id = OLD.community_id AND archive_id = NEW.community_id AND ended_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'a cycle''s data stays in its community');
END;
CREATE TRIGGER nominations_archive_insert BEFORE INSERT ON nominations WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER nominations_archive_update BEFORE UPDATE OF community_id, status, created_at, answered_at ON nominations WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER nominations_moves_to_its_archive BEFORE UPDATE OF community_id ON nominations
WHEN NOT EXISTS (SELECT 1 FROM cycles
     WHERE community_id = OLD.community_id AND archive_id = NEW.community_id AND ended_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'a nomination cannot change');
END;
CREATE TRIGGER nominations_archive_people BEFORE UPDATE OF nominated_by ON nominations
WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.nominated_by IS NOT NULL AND NEW.nominated_by IS NOT OLD.nominated_by)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER nominations_archive_delete BEFORE DELETE ON nominations WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND NOT OLD.status = 'pending'
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER kmut_confirmations_archive_insert BEFORE INSERT ON kmut_confirmations WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER kmut_confirmations_archive_update BEFORE UPDATE OF community_id, ballot_id, confirmed_at ON kmut_confirmations WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER kmut_confirmations_moves_to_its_archive BEFORE UPDATE OF community_id ON kmut_confirmations
WHEN NOT EXISTS (SELECT 1 FROM cycles
     WHERE community_id = OLD.community_id AND archive_id = NEW.community_id AND ended_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'a cycle''s data stays in its community');
END;
CREATE TRIGGER kmut_confirmations_archive_people BEFORE UPDATE OF confirmed_by ON kmut_confirmations
WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.confirmed_by IS NOT NULL AND NEW.confirmed_by IS NOT OLD.confirmed_by)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER kmut_confirmations_archive_delete BEFORE DELETE ON kmut_confirmations WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER tree_nodes_archive_insert BEFORE INSERT ON tree_nodes WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER tree_nodes_archive_update BEFORE UPDATE OF community_id, parent_id, text, norm, status, merged_into, created_at ON tree_nodes WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER tree_nodes_moves_to_its_archive BEFORE UPDATE OF community_id ON tree_nodes
WHEN NOT EXISTS (SELECT 1 FROM cycles
     WHERE community_id = OLD.community_id AND archive_id = NEW.community_id AND ended_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'a node keeps its kind, number and community');
END;
CREATE TRIGGER tree_nodes_archive_people BEFORE UPDATE OF created_by ON tree_nodes
WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.created_by IS NOT NULL AND NEW.created_by IS NOT OLD.created_by)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER tree_nodes_archive_delete BEFORE DELETE ON tree_nodes WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER resources_archive_insert BEFORE INSERT ON resources WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER resources_archive_update BEFORE UPDATE OF community_id, text, holder, place, status, created_at ON resources WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER resources_moves_to_its_archive BEFORE UPDATE OF community_id ON resources
WHEN NOT EXISTS (SELECT 1 FROM cycles
     WHERE community_id = OLD.community_id AND archive_id = NEW.community_id AND ended_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'a resource keeps its kind, number and community');
END;
CREATE TRIGGER resources_archive_people BEFORE UPDATE OF created_by ON resources
WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.created_by IS NOT NULL AND NEW.created_by IS NOT OLD.created_by)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER resources_archive_delete BEFORE DELETE ON resources WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER orgs_archive_insert BEFORE INSERT ON orgs WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER orgs_archive_update BEFORE UPDATE OF community_id, name, norm, status, created_at ON orgs WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER orgs_moves_to_its_archive BEFORE UPDATE OF community_id ON orgs
WHEN NOT EXISTS (SELECT 1 FROM cycles
     WHERE community_id = OLD.community_id AND archive_id = NEW.community_id AND ended_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'an organisation keeps its number and community');
END;
CREATE TRIGGER orgs_archive_people BEFORE UPDATE OF created_by ON orgs
WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.created_by IS NOT NULL AND NEW.created_by IS NOT OLD.created_by)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER orgs_archive_delete BEFORE DELETE ON orgs WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER tasks_archive_insert BEFORE INSERT ON tasks WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER tasks_archive_update BEFORE UPDATE OF community_id, title, norm, start_on, due_on, resources, status, created_at ON tasks WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER tasks_moves_to_its_archive BEFORE UPDATE OF community_id ON tasks
WHEN NOT EXISTS (SELECT 1 FROM cycles
     WHERE community_id = OLD.community_id AND archive_id = NEW.community_id AND ended_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'a task keeps its number and problem');
END;
CREATE TRIGGER tasks_archive_people BEFORE UPDATE OF created_by, owner_id ON tasks
WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.created_by IS NOT NULL AND NEW.created_by IS NOT OLD.created_by OR NEW.owner_id IS NOT NULL AND NEW.owner_id IS NOT OLD.owner_id)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER tasks_archive_delete BEFORE DELETE ON tasks WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER skipped_steps_archive_insert BEFORE INSERT ON skipped_steps WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER skipped_steps_archive_update BEFORE UPDATE OF community_id, step, at ON skipped_steps WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER skipped_steps_moves_to_its_archive BEFORE UPDATE OF community_id ON skipped_steps
WHEN NOT EXISTS (SELECT 1 FROM cycles
     WHERE community_id = OLD.community_id AND archive_id = NEW.community_id AND ended_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'a cycle''s data stays in its community');
END;
CREATE TRIGGER skipped_steps_archive_delete BEFORE DELETE ON skipped_steps WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
-- What hangs on a cycle's rows (options, votes, tallies, answers, estimates, offers) is as fixed.
CREATE TRIGGER problem_authors_archive_insert BEFORE INSERT ON problem_authors WHEN (SELECT c.archive_of FROM problems p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.problem_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER problem_authors_archive_update BEFORE UPDATE ON problem_authors WHEN (SELECT c.archive_of FROM problems p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.problem_id) IS NOT NULL OR (SELECT c.archive_of FROM problems p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.problem_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER ballot_options_archive_insert BEFORE INSERT ON ballot_options WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER ballot_options_archive_update BEFORE UPDATE ON ballot_options WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER ballot_options_archive_delete BEFORE DELETE ON ballot_options WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER dot_votes_archive_insert BEFORE INSERT ON dot_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER dot_votes_archive_update BEFORE UPDATE ON dot_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER dot_votes_archive_delete BEFORE DELETE ON dot_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER matrix_votes_archive_insert BEFORE INSERT ON matrix_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER matrix_votes_archive_update BEFORE UPDATE ON matrix_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER matrix_votes_archive_delete BEFORE DELETE ON matrix_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER pairwise_votes_archive_insert BEFORE INSERT ON pairwise_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER pairwise_votes_archive_update BEFORE UPDATE ON pairwise_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER pairwise_votes_archive_delete BEFORE DELETE ON pairwise_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER pairwise_plans_archive_insert BEFORE INSERT ON pairwise_plans WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER pairwise_plans_archive_update BEFORE UPDATE ON pairwise_plans WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER pairwise_plans_archive_delete BEFORE DELETE ON pairwise_plans WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER paper_tallies_archive_insert BEFORE INSERT ON paper_tallies WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER paper_tallies_archive_update BEFORE UPDATE ON paper_tallies WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER paper_tallies_archive_delete BEFORE DELETE ON paper_tallies WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER election_options_archive_insert BEFORE INSERT ON election_options WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER election_options_archive_update BEFORE UPDATE ON election_options WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER election_options_archive_delete BEFORE DELETE ON election_options WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER election_votes_archive_insert BEFORE INSERT ON election_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER election_votes_archive_update BEFORE UPDATE ON election_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER election_votes_archive_delete BEFORE DELETE ON election_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER plan_votes_archive_insert BEFORE INSERT ON plan_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER plan_votes_archive_update BEFORE UPDATE ON plan_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER plan_votes_archive_delete BEFORE DELETE ON plan_votes WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER evaluation_answers_archive_insert BEFORE INSERT ON evaluation_answers WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER evaluation_answers_archive_update BEFORE UPDATE ON evaluation_answers WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER evaluation_answers_archive_delete BEFORE DELETE ON evaluation_answers WHEN (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER org_ratings_archive_insert BEFORE INSERT ON org_ratings WHEN (SELECT c.archive_of FROM orgs p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.org_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER org_ratings_archive_update BEFORE UPDATE ON org_ratings WHEN (SELECT c.archive_of FROM orgs p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.org_id) IS NOT NULL OR (SELECT c.archive_of FROM orgs p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.org_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER task_volunteers_archive_insert BEFORE INSERT ON task_volunteers WHEN (SELECT c.archive_of FROM tasks p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.task_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER task_volunteers_archive_update BEFORE UPDATE ON task_volunteers WHEN (SELECT c.archive_of FROM tasks p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.task_id) IS NOT NULL OR (SELECT c.archive_of FROM tasks p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.task_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;

-- Step 6's tables. What the plan's monitoring was belongs to its cycle: the reminders (the pending
-- ones are skipped when the cycle ends) and the plan's approval move to the archive; the reminder
-- settings and who was seen in the group belong to the community. Nothing is added to an archive.
CREATE TRIGGER reminders_archive_insert BEFORE INSERT ON reminders WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER plan_approvals_archive_insert BEFORE INSERT ON plan_approvals WHEN (SELECT archive_of FROM communities WHERE id = NEW.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER plan_approvals_archive_update BEFORE UPDATE OF approved_at, changed ON plan_approvals WHEN (SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
CREATE TRIGGER checkins_archive_insert BEFORE INSERT ON checkins WHEN (SELECT c.archive_of FROM tasks t JOIN communities c ON c.id = t.community_id WHERE t.id = NEW.task_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
