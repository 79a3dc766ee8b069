-- Every claim of an event counts here, and nothing ever lowers it (a re-drive
-- resets attempt_count, a release gives the attempt back): with the worker's
-- name it identifies one lease, which is what a completion is fenced by.
ALTER TABLE outbox_events ADD COLUMN claim_count integer NOT NULL DEFAULT 0;
--bun:split
-- The fence relies on this: an event has a lease holder exactly while it is
-- PROCESSING, so every way out of PROCESSING lets go of the lease. (SQLite
-- cannot add a CHECK to an existing table; these triggers are the same rule.)
CREATE TRIGGER outbox_events_lease_holder_insert BEFORE INSERT ON outbox_events
WHEN (new.status = 'processing') <> (new.locked_by IS NOT NULL) BEGIN
    SELECT RAISE(ABORT, 'outbox_events_lease_holder: an event has a lease holder exactly while it is processing');
END;
--bun:split
CREATE TRIGGER outbox_events_lease_holder_update BEFORE UPDATE OF status, locked_by ON outbox_events
WHEN (new.status = 'processing') <> (new.locked_by IS NOT NULL) BEGIN
    SELECT RAISE(ABORT, 'outbox_events_lease_holder: an event has a lease holder exactly while it is processing');
END;
