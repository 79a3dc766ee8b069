-- Every claim of an event counts here, and nothing ever lowers it (a re-drive
-- resets attempt_count, a release gives the attempt back): with the worker's
-- name it identifies one lease, which is what a completion is fenced by.
ALTER TABLE outbox_events ADD COLUMN claim_count integer NOT NULL DEFAULT 0;
--bun:split
-- The fence relies on this: an event has a lease holder exactly while it is
-- PROCESSING, so every way out of PROCESSING lets go of the lease.
ALTER TABLE outbox_events ADD CONSTRAINT outbox_events_lease_holder
    CHECK ((status = 'processing') = (locked_by IS NOT NULL));
