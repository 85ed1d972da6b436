-- Guards the database keeps whatever the code above it does: an open ballot's options are frozen,
-- and the audit log loses no entry.

-- Options may be added to an open ballot only
--   * while it is being opened: its opening is not yet in the audit log and nothing is recorded
--     against it (no vote, pairwise plan or paper tally) — ballots.open_ballot inserts the ballot,
--     open, before its options, so the database cannot tell the opening's own transaction apart;
--   * by a merge: the problem one of its options was merged into (problems.merge marks the source
--     merged first), so votes can move to it; the option set, read through merges, stays the same.
CREATE TRIGGER ballot_options_frozen_insert BEFORE INSERT ON ballot_options
WHEN (SELECT status FROM ballots WHERE id = NEW.ballot_id) = 'open'
BEGIN
    SELECT RAISE(ABORT, 'ballot options cannot change while it is open')
     WHERE NOT (
            NOT EXISTS (SELECT 1 FROM audit_log a JOIN ballots b ON a.community_id = b.community_id
                        WHERE b.id = NEW.ballot_id AND a.action = 'ballot.opened'
                          AND json_extract(a.detail, '$.ballot') = NEW.ballot_id)
        AND NOT EXISTS (SELECT 1 FROM dot_votes WHERE ballot_id = NEW.ballot_id)
        AND NOT EXISTS (SELECT 1 FROM matrix_votes WHERE ballot_id = NEW.ballot_id)
        AND NOT EXISTS (SELECT 1 FROM pairwise_votes WHERE ballot_id = NEW.ballot_id)
        AND NOT EXISTS (SELECT 1 FROM pairwise_plans WHERE ballot_id = NEW.ballot_id)
        AND NOT EXISTS (SELECT 1 FROM paper_tallies WHERE ballot_id = NEW.ballot_id))
       AND NOT (
            (SELECT status FROM problems WHERE id = NEW.problem_id) = 'open'
        AND EXISTS (SELECT 1 FROM ballot_options o JOIN problems s ON s.id = o.problem_id
                    WHERE o.ballot_id = NEW.ballot_id AND s.status = 'merged'
                      AND s.merged_into = NEW.problem_id));
END;
-- A merged or hidden problem keeps its option row: results count it as the problem it was merged
-- into, and a tap on its old button is answered with where to vote instead.
CREATE TRIGGER ballot_options_frozen_delete BEFORE DELETE ON ballot_options
WHEN (SELECT status FROM ballots WHERE id = OLD.ballot_id) = 'open'
BEGIN
    SELECT RAISE(ABORT, 'ballot options cannot change while it is open');
END;
CREATE TRIGGER ballot_options_frozen_update BEFORE UPDATE OF ballot_id, problem_id ON ballot_options
WHEN (SELECT status FROM ballots WHERE id = OLD.ballot_id) = 'open'
  OR (SELECT status FROM ballots WHERE id = NEW.ballot_id) = 'open'
BEGIN
    SELECT RAISE(ABORT, 'ballot options cannot change while it is open');
END;

-- With UPDATE refused (001), the hash chain shows an edited or removed entry, but not the newest
-- ones cut off; refuse DELETE too.
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
