-- The outbox is claimed with leases, so several workers on one database never send the same
-- message, nor two messages of one chat at once: a worker leases each chat's oldest message
-- (leased_by: the worker, leased_until: epoch seconds) before it sends it, and a lease a dead
-- worker left runs out. A claim locks the rows it takes (FOR UPDATE SKIP LOCKED).
ALTER TABLE outbox ADD COLUMN leased_by TEXT;
ALTER TABLE outbox ADD COLUMN leased_until DOUBLE PRECISION;
