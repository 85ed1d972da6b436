-- One person, one member, one vote across channels: a Telegram member who shares their own
-- contact and the WhatsApp account of that number are one member (see bot/storage/linking.py).

-- A phone number belongs to one member. Numbers were stored as "+" and up to 15 digits; one too
-- short to be a number is dropped, and of two members with the same number the older keeps it.
UPDATE members SET phone = NULL WHERE phone IS NOT NULL AND (length(phone) < 9 OR phone NOT LIKE '+%');
UPDATE members SET phone = NULL WHERE phone IS NOT NULL
   AND EXISTS (SELECT 1 FROM members o WHERE o.phone = members.phone AND o.id < members.id);
CREATE UNIQUE INDEX members_phone ON members(phone) WHERE phone IS NOT NULL;

-- A WhatsApp account is its number: it cannot belong to one member while another holds the number.
CREATE TRIGGER identities_number_one_member BEFORE INSERT ON identities WHEN NEW.channel = 'whatsapp'
BEGIN
    SELECT RAISE(ABORT, 'this number belongs to another member')
     WHERE EXISTS (SELECT 1 FROM members WHERE phone = '+' || NEW.external_id AND id <> NEW.member_id);
END;
CREATE TRIGGER identities_number_one_member_update BEFORE UPDATE OF member_id ON identities
WHEN NEW.channel = 'whatsapp'
BEGIN
    SELECT RAISE(ABORT, 'this number belongs to another member')
     WHERE EXISTS (SELECT 1 FROM members WHERE phone = '+' || NEW.external_id AND id <> NEW.member_id);
END;
CREATE TRIGGER members_phone_one_member BEFORE UPDATE OF phone ON members WHEN NEW.phone IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'this number belongs to another member')
     WHERE EXISTS (SELECT 1 FROM identities WHERE channel = 'whatsapp' AND external_id = substr(NEW.phone, 2)
                   AND member_id <> NEW.id);
END;

-- The order in which members first voted in each ballot (``seq``, rising): when two members
-- turn out to be one person who voted twice, the earlier vote is the one kept. Kept by triggers
-- on every kind of vote; a member who takes all their votes back leaves the order.
CREATE TABLE ballot_voters (
    seq       INTEGER PRIMARY KEY,
    ballot_id INTEGER NOT NULL REFERENCES ballots(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    UNIQUE (ballot_id, member_id)
);
CREATE INDEX ballot_voters_member ON ballot_voters(member_id);
INSERT OR IGNORE INTO ballot_voters (ballot_id, member_id)
    SELECT ballot_id, member_id FROM dot_votes UNION SELECT ballot_id, member_id FROM matrix_votes
    UNION SELECT ballot_id, member_id FROM pairwise_votes UNION SELECT ballot_id, member_id FROM election_votes
    UNION SELECT ballot_id, member_id FROM plan_votes UNION SELECT ballot_id, member_id FROM evaluation_answers
    ORDER BY 1, 2;

CREATE TRIGGER dot_votes_voter AFTER INSERT ON dot_votes
BEGIN INSERT OR IGNORE INTO ballot_voters (ballot_id, member_id) VALUES (NEW.ballot_id, NEW.member_id); END;
CREATE TRIGGER dot_votes_voter_gone AFTER DELETE ON dot_votes
BEGIN DELETE FROM ballot_voters WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id
   AND NOT EXISTS (SELECT 1 FROM dot_votes WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id); END;
CREATE TRIGGER matrix_votes_voter AFTER INSERT ON matrix_votes
BEGIN INSERT OR IGNORE INTO ballot_voters (ballot_id, member_id) VALUES (NEW.ballot_id, NEW.member_id); END;
CREATE TRIGGER matrix_votes_voter_gone AFTER DELETE ON matrix_votes
BEGIN DELETE FROM ballot_voters WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id
   AND NOT EXISTS (SELECT 1 FROM matrix_votes WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id); END;
CREATE TRIGGER pairwise_votes_voter AFTER INSERT ON pairwise_votes
BEGIN INSERT OR IGNORE INTO ballot_voters (ballot_id, member_id) VALUES (NEW.ballot_id, NEW.member_id); END;
CREATE TRIGGER pairwise_votes_voter_gone AFTER DELETE ON pairwise_votes
BEGIN DELETE FROM ballot_voters WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id
   AND NOT EXISTS (SELECT 1 FROM pairwise_votes WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id); END;
CREATE TRIGGER election_votes_voter AFTER INSERT ON election_votes
BEGIN INSERT OR IGNORE INTO ballot_voters (ballot_id, member_id) VALUES (NEW.ballot_id, NEW.member_id); END;
CREATE TRIGGER election_votes_voter_gone AFTER DELETE ON election_votes
BEGIN DELETE FROM ballot_voters WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id
   AND NOT EXISTS (SELECT 1 FROM election_votes WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id); END;
CREATE TRIGGER plan_votes_voter AFTER INSERT ON plan_votes
BEGIN INSERT OR IGNORE INTO ballot_voters (ballot_id, member_id) VALUES (NEW.ballot_id, NEW.member_id); END;
CREATE TRIGGER plan_votes_voter_gone AFTER DELETE ON plan_votes
BEGIN DELETE FROM ballot_voters WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id; END;
CREATE TRIGGER evaluation_answers_voter AFTER INSERT ON evaluation_answers
BEGIN INSERT OR IGNORE INTO ballot_voters (ballot_id, member_id) VALUES (NEW.ballot_id, NEW.member_id); END;
CREATE TRIGGER evaluation_answers_voter_gone AFTER DELETE ON evaluation_answers
BEGIN DELETE FROM ballot_voters WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id; END;

-- While two members are made one (one transaction), the pair is written here, and only then may a
-- vote, an estimate, a nomination or a task's owner pass from the one to the other — in a closed
-- ballot or a plan being voted on too, where nothing else may change. Empty outside that transaction.
CREATE TABLE member_merges (
    merged_id INTEGER PRIMARY KEY,
    into_id   INTEGER NOT NULL
);

DROP TRIGGER dot_votes_guard_update;
CREATE TRIGGER dot_votes_guard_update BEFORE UPDATE ON dot_votes
WHEN NOT EXISTS (SELECT 1 FROM member_merges WHERE merged_id = OLD.member_id AND into_id = NEW.member_id
                 AND NEW.ballot_id = OLD.ballot_id AND NEW.problem_id = OLD.problem_id AND NEW.count = OLD.count)
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open')
     WHERE (SELECT status FROM ballots WHERE id = NEW.ballot_id) IS NOT 'open';
    SELECT RAISE(ABORT, 'sticker limit')
     WHERE NEW.count > (SELECT per_option FROM ballots WHERE id = NEW.ballot_id)
        OR NEW.count - OLD.count + (SELECT COALESCE(SUM(count), 0) FROM dot_votes
                                    WHERE ballot_id = NEW.ballot_id AND member_id = NEW.member_id)
           > (SELECT stickers FROM ballots WHERE id = NEW.ballot_id);
END;

DROP TRIGGER election_votes_no_update;
CREATE TRIGGER election_votes_no_update BEFORE UPDATE ON election_votes
WHEN NOT EXISTS (SELECT 1 FROM member_merges WHERE merged_id = OLD.member_id AND into_id = NEW.member_id
                 AND NEW.ballot_id = OLD.ballot_id AND NEW.nomination_id = OLD.nomination_id)
BEGIN
    SELECT RAISE(ABORT, 'an approval is placed or taken back, not changed');
END;

DROP TRIGGER plan_votes_guard_update;
CREATE TRIGGER plan_votes_guard_update BEFORE UPDATE ON plan_votes
WHEN NOT EXISTS (SELECT 1 FROM member_merges WHERE merged_id = OLD.member_id AND into_id = NEW.member_id
                 AND NEW.ballot_id = OLD.ballot_id AND NEW.approve = OLD.approve)
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open')
     WHERE (SELECT status FROM ballots WHERE id = NEW.ballot_id) IS NOT 'open' OR NEW.ballot_id <> OLD.ballot_id
        OR NEW.member_id <> OLD.member_id;
END;

DROP TRIGGER evaluation_answers_guard_update;
CREATE TRIGGER evaluation_answers_guard_update BEFORE UPDATE ON evaluation_answers
WHEN NOT EXISTS (SELECT 1 FROM member_merges WHERE merged_id = OLD.member_id AND into_id = NEW.member_id
                 AND NEW.ballot_id = OLD.ballot_id)
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open')
     WHERE (SELECT status FROM ballots WHERE id = NEW.ballot_id) IS NOT 'open' OR NEW.ballot_id <> OLD.ballot_id
        OR NEW.member_id <> OLD.member_id;
END;

DROP TRIGGER org_ratings_guard_update;
CREATE TRIGGER org_ratings_guard_update BEFORE UPDATE ON org_ratings
WHEN NOT EXISTS (SELECT 1 FROM member_merges WHERE merged_id = OLD.member_id AND into_id = NEW.member_id
                 AND NEW.org_id = OLD.org_id)
BEGIN
    SELECT RAISE(ABORT, 'the organisation is not on the diagram')
     WHERE (SELECT status FROM orgs WHERE id = NEW.org_id) IS NOT 'open' OR NEW.org_id <> OLD.org_id
        OR NEW.member_id <> OLD.member_id;
END;

DROP TRIGGER nominations_fixed;  -- (its community moves with an archived cycle: 020)
CREATE TRIGGER nominations_fixed BEFORE UPDATE OF member_id, category ON nominations
WHEN NOT EXISTS (SELECT 1 FROM member_merges WHERE merged_id = OLD.member_id AND into_id = NEW.member_id
                 AND NEW.category = OLD.category)
BEGIN
    SELECT RAISE(ABORT, 'a nomination cannot change');
END;

DROP TRIGGER tasks_frozen_update;
CREATE TRIGGER tasks_frozen_update BEFORE UPDATE OF title, start_on, due_on, resources, owner_id, status ON tasks
WHEN NOT EXISTS (SELECT 1 FROM member_merges WHERE merged_id = OLD.owner_id AND into_id = NEW.owner_id
                 AND NEW.title = OLD.title AND NEW.start_on IS OLD.start_on AND NEW.due_on IS OLD.due_on
                 AND NEW.resources IS OLD.resources AND NEW.status = OLD.status)
BEGIN
    SELECT RAISE(ABORT, 'the plan cannot change while it is voted on')
     WHERE EXISTS (SELECT 1 FROM ballots WHERE community_id = OLD.community_id AND kind = 'plan' AND status = 'open');
END;


-- Linking two members of one person (member_merges holds the pair for the link's transaction only)
-- moves their rows in archived cycles too: the archive's guards let that through, and nothing else.
DROP TRIGGER communities_archive_fixed;
CREATE TRIGGER communities_archive_fixed BEFORE UPDATE OF name, place, tz, locale, join_code, step, archive_of, created_at
ON communities
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND (OLD.archive_of IS NOT NULL OR NEW.archive_of IS NOT OLD.archive_of)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER communities_archive_people;
CREATE TRIGGER communities_archive_people BEFORE UPDATE OF created_by ON communities
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND (OLD.archive_of IS NOT NULL AND NEW.created_by IS NOT NULL AND NEW.created_by IS NOT OLD.created_by)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER communities_archive_kept;
CREATE TRIGGER communities_archive_kept BEFORE DELETE ON communities
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND (OLD.archive_of IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER problems_archive_update;
CREATE TRIGGER problems_archive_update BEFORE UPDATE OF community_id, number, text, norm, status, merged_into, created_at, carried_from ON problems
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER problems_archive_people;
CREATE TRIGGER problems_archive_people BEFORE UPDATE OF created_by ON problems
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.created_by IS NOT NULL AND NEW.created_by IS NOT OLD.created_by))
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER problems_archive_delete;
CREATE TRIGGER problems_archive_delete BEFORE DELETE ON problems
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER ballots_archive_update;
CREATE TRIGGER ballots_archive_update BEFORE UPDATE OF community_id, status, closes_at, paper_present, turnout, opened_at, closed_at, paper_meetings, check_code ON ballots
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER ballots_archive_people;
CREATE TRIGGER ballots_archive_people BEFORE UPDATE OF opened_by ON ballots
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.opened_by IS NOT NULL AND NEW.opened_by IS NOT OLD.opened_by))
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER ballots_archive_delete;
CREATE TRIGGER ballots_archive_delete BEFORE DELETE ON ballots
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER step1_choices_archive_update;
CREATE TRIGGER step1_choices_archive_update BEFORE UPDATE OF community_id, problem_id, confirmed_at ON step1_choices
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER step1_choices_archive_people;
CREATE TRIGGER step1_choices_archive_people BEFORE UPDATE OF confirmed_by ON step1_choices
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.confirmed_by IS NOT NULL AND NEW.confirmed_by IS NOT OLD.confirmed_by))
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER step1_choices_archive_delete;
CREATE TRIGGER step1_choices_archive_delete BEFORE DELETE ON step1_choices
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER volunteers_archive_update;
CREATE TRIGGER volunteers_archive_update BEFORE UPDATE OF community_id, member_id, at ON volunteers
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER nominations_archive_update;
CREATE TRIGGER nominations_archive_update BEFORE UPDATE OF community_id, status, created_at, answered_at ON nominations
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER nominations_archive_people;
CREATE TRIGGER nominations_archive_people BEFORE UPDATE OF nominated_by ON nominations
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.nominated_by IS NOT NULL AND NEW.nominated_by IS NOT OLD.nominated_by))
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER nominations_archive_delete;
CREATE TRIGGER nominations_archive_delete BEFORE DELETE ON nominations
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND NOT OLD.status = 'pending')
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER kmut_confirmations_archive_update;
CREATE TRIGGER kmut_confirmations_archive_update BEFORE UPDATE OF community_id, ballot_id, confirmed_at ON kmut_confirmations
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER kmut_confirmations_archive_people;
CREATE TRIGGER kmut_confirmations_archive_people BEFORE UPDATE OF confirmed_by ON kmut_confirmations
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.confirmed_by IS NOT NULL AND NEW.confirmed_by IS NOT OLD.confirmed_by))
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER kmut_confirmations_archive_delete;
CREATE TRIGGER kmut_confirmations_archive_delete BEFORE DELETE ON kmut_confirmations
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER tree_nodes_archive_update;
CREATE TRIGGER tree_nodes_archive_update BEFORE UPDATE OF community_id, parent_id, text, norm, status, merged_into, created_at ON tree_nodes
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER tree_nodes_archive_people;
CREATE TRIGGER tree_nodes_archive_people BEFORE UPDATE OF created_by ON tree_nodes
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.created_by IS NOT NULL AND NEW.created_by IS NOT OLD.created_by))
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER tree_nodes_archive_delete;
CREATE TRIGGER tree_nodes_archive_delete BEFORE DELETE ON tree_nodes
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER resources_archive_update;
CREATE TRIGGER resources_archive_update BEFORE UPDATE OF community_id, text, holder, place, status, created_at ON resources
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER resources_archive_people;
CREATE TRIGGER resources_archive_people BEFORE UPDATE OF created_by ON resources
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.created_by IS NOT NULL AND NEW.created_by IS NOT OLD.created_by))
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER resources_archive_delete;
CREATE TRIGGER resources_archive_delete BEFORE DELETE ON resources
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER orgs_archive_update;
CREATE TRIGGER orgs_archive_update BEFORE UPDATE OF community_id, name, norm, status, created_at ON orgs
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER orgs_archive_people;
CREATE TRIGGER orgs_archive_people BEFORE UPDATE OF created_by ON orgs
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.created_by IS NOT NULL AND NEW.created_by IS NOT OLD.created_by))
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER orgs_archive_delete;
CREATE TRIGGER orgs_archive_delete BEFORE DELETE ON orgs
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER tasks_archive_update;
CREATE TRIGGER tasks_archive_update BEFORE UPDATE OF community_id, title, norm, start_on, due_on, resources, status, created_at ON tasks
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER tasks_archive_people;
CREATE TRIGGER tasks_archive_people BEFORE UPDATE OF created_by, owner_id ON tasks
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL AND (NEW.created_by IS NOT NULL AND NEW.created_by IS NOT OLD.created_by OR NEW.owner_id IS NOT NULL AND NEW.owner_id IS NOT OLD.owner_id))
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER tasks_archive_delete;
CREATE TRIGGER tasks_archive_delete BEFORE DELETE ON tasks
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER skipped_steps_archive_update;
CREATE TRIGGER skipped_steps_archive_update BEFORE UPDATE OF community_id, step, at ON skipped_steps
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER skipped_steps_archive_delete;
CREATE TRIGGER skipped_steps_archive_delete BEFORE DELETE ON skipped_steps
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER problem_authors_archive_update;
CREATE TRIGGER problem_authors_archive_update BEFORE UPDATE ON problem_authors
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM problems p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.problem_id) IS NOT NULL OR (SELECT c.archive_of FROM problems p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.problem_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER ballot_options_archive_update;
CREATE TRIGGER ballot_options_archive_update BEFORE UPDATE ON ballot_options
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER ballot_options_archive_delete;
CREATE TRIGGER ballot_options_archive_delete BEFORE DELETE ON ballot_options
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER dot_votes_archive_update;
CREATE TRIGGER dot_votes_archive_update BEFORE UPDATE ON dot_votes
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER dot_votes_archive_delete;
CREATE TRIGGER dot_votes_archive_delete BEFORE DELETE ON dot_votes
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER matrix_votes_archive_update;
CREATE TRIGGER matrix_votes_archive_update BEFORE UPDATE ON matrix_votes
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER matrix_votes_archive_delete;
CREATE TRIGGER matrix_votes_archive_delete BEFORE DELETE ON matrix_votes
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER pairwise_votes_archive_update;
CREATE TRIGGER pairwise_votes_archive_update BEFORE UPDATE ON pairwise_votes
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER pairwise_votes_archive_delete;
CREATE TRIGGER pairwise_votes_archive_delete BEFORE DELETE ON pairwise_votes
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER pairwise_plans_archive_update;
CREATE TRIGGER pairwise_plans_archive_update BEFORE UPDATE ON pairwise_plans
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER pairwise_plans_archive_delete;
CREATE TRIGGER pairwise_plans_archive_delete BEFORE DELETE ON pairwise_plans
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER paper_tallies_archive_update;
CREATE TRIGGER paper_tallies_archive_update BEFORE UPDATE ON paper_tallies
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER paper_tallies_archive_delete;
CREATE TRIGGER paper_tallies_archive_delete BEFORE DELETE ON paper_tallies
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER election_options_archive_update;
CREATE TRIGGER election_options_archive_update BEFORE UPDATE ON election_options
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER election_options_archive_delete;
CREATE TRIGGER election_options_archive_delete BEFORE DELETE ON election_options
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER election_votes_archive_update;
CREATE TRIGGER election_votes_archive_update BEFORE UPDATE ON election_votes
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER election_votes_archive_delete;
CREATE TRIGGER election_votes_archive_delete BEFORE DELETE ON election_votes
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER plan_votes_archive_update;
CREATE TRIGGER plan_votes_archive_update BEFORE UPDATE ON plan_votes
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER plan_votes_archive_delete;
CREATE TRIGGER plan_votes_archive_delete BEFORE DELETE ON plan_votes
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER evaluation_answers_archive_update;
CREATE TRIGGER evaluation_answers_archive_update BEFORE UPDATE ON evaluation_answers
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL OR (SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER evaluation_answers_archive_delete;
CREATE TRIGGER evaluation_answers_archive_delete BEFORE DELETE ON evaluation_answers
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM ballots p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.ballot_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER org_ratings_archive_update;
CREATE TRIGGER org_ratings_archive_update BEFORE UPDATE ON org_ratings
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM orgs p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.org_id) IS NOT NULL OR (SELECT c.archive_of FROM orgs p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.org_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER task_volunteers_archive_update;
CREATE TRIGGER task_volunteers_archive_update BEFORE UPDATE ON task_volunteers
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT c.archive_of FROM tasks p JOIN communities c ON c.id = p.community_id WHERE p.id = OLD.task_id) IS NOT NULL OR (SELECT c.archive_of FROM tasks p JOIN communities c ON c.id = p.community_id WHERE p.id = NEW.task_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
DROP TRIGGER plan_approvals_archive_update;
CREATE TRIGGER plan_approvals_archive_update BEFORE UPDATE OF approved_at, changed ON plan_approvals
WHEN NOT EXISTS (SELECT 1 FROM member_merges) AND ((SELECT archive_of FROM communities WHERE id = OLD.community_id) IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'an archived cycle cannot change');
END;
