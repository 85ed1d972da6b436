-- Retention: personal data is kept while the member takes part and at most three years after
-- their last action (the consent text says so). The day of the last action, nothing finer.
-- Erased members (consent_at = '') are not looked at again.
ALTER TABLE members ADD COLUMN last_seen_on TEXT;
UPDATE members SET last_seen_on = substr(created_at, 1, 10) WHERE consent_at <> '';
CREATE INDEX members_last_seen ON members(last_seen_on) WHERE consent_at <> '';
