-- What handling an update answered (the toast, direct replies, the views to redraw), written in
-- the action's own transaction. An update handled again after a crash counts as a duplicate and
-- changes nothing, but it gets this answer again: a crash between the commit and the reply
-- would otherwise leave a member unanswered (and tempted to tap again, taking a sticker back).
-- Kept until the update is answered (it leaves the inbox, or the webhook handled it), else for
-- scheduler.REPLIES_KEPT; wiped whenever someone's personal data is erased.
ALTER TABLE processed_updates ADD COLUMN reply BLOB;
CREATE INDEX processed_updates_replies ON processed_updates(processed_at) WHERE reply IS NOT NULL;
