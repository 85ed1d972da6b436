-- Rate limits and view redraws shared by several workers (bot/storage/pace.py). Times are epoch
-- seconds of the server's clock (clock_timestamp()), so workers' clocks need not agree.
-- A channel's next overall slot and its slots of the last second (chat_id ''), each chat's next
-- message, a 429's hold.
CREATE TABLE pace (
    channel    TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    next_at    DOUBLE PRECISION NOT NULL DEFAULT 0,
    held_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    recent     TEXT NOT NULL DEFAULT '',  -- epoch seconds, comma-separated (text: `qatysu copy` takes it to SQLite)
    PRIMARY KEY (channel, chat_id)
);
-- When a view (a group's ballot counts) was last claimed for a redraw, by any worker.
CREATE TABLE view_claims (
    view       TEXT PRIMARY KEY,
    claimed_at DOUBLE PRECISION NOT NULL
);
-- What a tagged message shows (a digest of its text and buttons), so an identical redraw is
-- not sent, whichever worker drew it last.
ALTER TABLE message_refs ADD COLUMN shown TEXT;

-- One message's slot, reserved at once (see bot/storage/pace.py): called outside any explicit
-- transaction, at READ COMMITTED, it locks the channel's row and then the chat's (always in that
-- order), reads what other workers committed last, and books the slot. ``own``: an edit
-- answering the member's own tap, which takes no overall slot and waits for no chat interval,
-- only for a 429's hold. Returns ``slot``: seconds from now until the slot reserved (NULL: none
-- was, the chat or the channel is not ready), and how long the chat's interval, the chat's hold
-- and the channel's hold still run (seconds, negative when over).
CREATE FUNCTION pace_take(p_channel TEXT, p_chat TEXT, p_interval DOUBLE PRECISION, p_spacing DOUBLE PRECISION,
                          p_cap INTEGER, p_window DOUBLE PRECISION, p_catch_up DOUBLE PRECISION, p_own BOOLEAN,
                          OUT slot DOUBLE PRECISION, OUT chat_next DOUBLE PRECISION,
                          OUT chat_held DOUBLE PRECISION, OUT paused DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    ch pace%ROWTYPE;
    c pace%ROWTYPE;
    now_ DOUBLE PRECISION;
    ready DOUBLE PRECISION;
    base DOUBLE PRECISION;
    kept DOUBLE PRECISION[];
    n INTEGER;
BEGIN
    IF p_own THEN  -- no overall slot: the channel's hold is read, not locked
        SELECT * INTO ch FROM pace WHERE channel = p_channel AND chat_id = '';
    ELSE
        SELECT * INTO ch FROM pace WHERE channel = p_channel AND chat_id = '' FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO pace (channel, chat_id) VALUES (p_channel, '') ON CONFLICT DO NOTHING;
            SELECT * INTO ch FROM pace WHERE channel = p_channel AND chat_id = '' FOR UPDATE;
        END IF;
    END IF;
    SELECT * INTO c FROM pace WHERE channel = p_channel AND chat_id = p_chat FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO pace (channel, chat_id) VALUES (p_channel, p_chat) ON CONFLICT DO NOTHING;
        SELECT * INTO c FROM pace WHERE channel = p_channel AND chat_id = p_chat FOR UPDATE;
    END IF;
    now_ := extract(epoch FROM clock_timestamp());  -- once the rows are ours
    chat_next := c.next_at - now_;
    chat_held := c.held_until - now_;
    paused := COALESCE(ch.held_until, 0) - now_;
    ready := greatest(now_, c.held_until, COALESCE(ch.held_until, 0), CASE WHEN p_own THEN 0 ELSE c.next_at END);
    IF p_own THEN
        IF ready > now_ THEN
            RETURN;  -- a 429 holds the chat or the channel: nothing reserved
        END IF;
        UPDATE pace SET next_at = greatest(next_at, now_ + p_interval) WHERE channel = p_channel AND chat_id = p_chat;
        slot := 0;
        RETURN;
    END IF;
    -- The channel's next slot: evenly spaced, the slots missed within p_catch_up made up for,
    -- and never more than p_cap in any p_window seconds (a second and a little more: a send
    -- leaves a few milliseconds after its slot, some more than others; 0: no cap).
    base := greatest(now_, ch.next_at);
    kept := ARRAY(SELECT t FROM unnest(string_to_array(ch.recent, ',')::DOUBLE PRECISION[]) AS t
                  WHERE t > base - p_window ORDER BY t);
    n := cardinality(kept);
    IF p_cap > 0 AND n >= p_cap THEN
        base := greatest(base, kept[n - p_cap + 1] + p_window);
        kept := kept[n - p_cap + 2:n];
    END IF;
    IF ready > base THEN
        RETURN;  -- the chat is not ready by the channel's next slot: nothing reserved
    END IF;
    UPDATE pace SET next_at = greatest(next_at, base - p_catch_up) + p_spacing,
                    recent = CASE WHEN p_cap > 0 THEN array_to_string(array_append(kept, base), ',') ELSE '' END
     WHERE channel = p_channel AND chat_id = '';
    UPDATE pace SET next_at = base + p_interval WHERE channel = p_channel AND chat_id = p_chat;
    slot := base - now_;
    chat_next := slot + p_interval;
END $$;

-- Claim the redraw of ``p_view`` if nobody claimed it within ``p_interval`` seconds: ``won``, the
-- time of the claim standing now (this one if won), and the server's time (epoch seconds).
CREATE FUNCTION view_claim(p_view TEXT, p_interval DOUBLE PRECISION,
                           OUT won BOOLEAN, OUT claimed_at DOUBLE PRECISION, OUT now_ DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    now_ := extract(epoch FROM clock_timestamp());
    INSERT INTO view_claims AS v (view, claimed_at) VALUES (p_view, now_)
        ON CONFLICT (view) DO UPDATE SET claimed_at = excluded.claimed_at
        WHERE v.claimed_at <= excluded.claimed_at - p_interval
        RETURNING v.claimed_at INTO claimed_at;
    won := FOUND;
    IF NOT won THEN  -- the row is locked by the statement above: this reads the claim standing
        SELECT v.claimed_at INTO claimed_at FROM view_claims v WHERE v.view = p_view;
    END IF;
END $$;
