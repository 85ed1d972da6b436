-- Views many people change at once (a ballot's live counts in the group) are redrawn at most every
-- few seconds. Each change that asks for a redraw notes the view here, in its own transaction; the
-- redraw's transaction, which reads what it draws, removes it. What is still here at start lost
-- its redraw to a crash, and is redrawn then.
CREATE TABLE pending_redraws (
    view TEXT PRIMARY KEY
) WITHOUT ROWID;
