-- The outbox sends each chat's messages in order, oldest first: finding each chat's oldest
-- message is an index walk, not a sort of the whole queue.
CREATE INDEX outbox_chat ON outbox(channel, chat_id, id);
