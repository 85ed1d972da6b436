-- Retention: personal data is kept while the member takes part and at most three years after
-- their last action (the consent text says so). The day of the last action, nothing finer.
-- Erased members (consent_at = '') are not looked at again.
ALTER TABLE members ADD COLUMN last_seen_on TEXT;
-- Who was there before this column existed is counted from the day it came: when they joined
-- says nothing of when they last took part.
UPDATE members SET last_seen_on = date('now') WHERE consent_at <> '';
CREATE INDEX members_last_seen ON members(last_seen_on) WHERE consent_at <> '';
