-- Step 7: the evaluation (бағалау): each member's answers to «Біз қалаған мақсатқа жеттік пе?»,
-- a rating, whether they will take part again, and what worked and what to change.

CREATE TABLE evaluation_answers (
    ballot_id INTEGER NOT NULL REFERENCES ballots(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    goal      TEXT CHECK (goal IN ('yes', 'partly', 'no')),
    rating    INTEGER CHECK (rating BETWEEN 1 AND 5),
    again     INTEGER CHECK (again IN (0, 1)),
    worked    TEXT NOT NULL DEFAULT '',
    change    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (ballot_id, member_id)
);
CREATE TRIGGER evaluation_answers_guard BEFORE INSERT ON evaluation_answers
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open')
     WHERE (SELECT status FROM ballots WHERE id = NEW.ballot_id) IS NOT 'open';
    SELECT RAISE(ABORT, 'not an evaluation')
     WHERE (SELECT kind FROM ballots WHERE id = NEW.ballot_id) IS NOT 'evaluation';
END;
CREATE TRIGGER evaluation_answers_guard_update BEFORE UPDATE ON evaluation_answers
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open')
     WHERE (SELECT status FROM ballots WHERE id = NEW.ballot_id) IS NOT 'open' OR NEW.ballot_id <> OLD.ballot_id
        OR NEW.member_id <> OLD.member_id;
END;
CREATE TRIGGER evaluation_answers_guard_delete BEFORE DELETE ON evaluation_answers
WHEN (SELECT status FROM ballots WHERE id = OLD.ballot_id) IS NOT 'open'
BEGIN
    SELECT RAISE(ABORT, 'ballot is not open');
END;
CREATE TRIGGER evaluation_answers_added AFTER INSERT ON evaluation_answers
BEGIN
    UPDATE ballots SET turnout = turnout + 1 WHERE id = NEW.ballot_id;
END;
CREATE TRIGGER evaluation_answers_removed AFTER DELETE ON evaluation_answers
BEGIN
    UPDATE ballots SET turnout = turnout - 1 WHERE id = OLD.ballot_id;
END;
