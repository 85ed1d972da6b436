-- Results that must not mislead:
--  * in-person meetings add up: each /paper adds a meeting (its people and stickers) to the
--    ballot's paper tallies, and the ballot counts its meetings;
--  * the check code (the audit log's head when a ballot's result was last posted), so /results
--    repeats the code the group saw, not a new one;
--  * the steps the facilitator moved past without a result, so /status says "skipped".
ALTER TABLE ballots ADD COLUMN paper_meetings INTEGER NOT NULL DEFAULT 0 CHECK (paper_meetings >= 0);
UPDATE ballots SET paper_meetings = 1 WHERE paper_present > 0;
ALTER TABLE ballots ADD COLUMN check_code TEXT;

CREATE TABLE skipped_steps (
    community_id INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    step         INTEGER NOT NULL CHECK (step BETWEEN 1 AND 7),
    at           TEXT NOT NULL,
    PRIMARY KEY (community_id, step)
);
