-- An at-most-once message (a reminder) is marked before its send: a process that dies between
-- the send and the outbox's record of it leaves the mark, and the next one drops the message
-- instead of sending it again.
ALTER TABLE outbox ADD COLUMN sending_since REAL;
