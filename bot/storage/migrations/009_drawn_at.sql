-- When the content shown under each tagged message was drawn (Message.drawn_at): an edit drawn
-- earlier than that is not sent. Kept here, not in memory, so that it holds across a restart for
-- edits still queued in the outbox or given again with a replayed update's answer.
ALTER TABLE message_refs ADD COLUMN drawn_at REAL NOT NULL DEFAULT 0;
