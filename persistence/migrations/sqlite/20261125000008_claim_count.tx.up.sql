-- Every claim of an event counts here, and nothing ever lowers it (a re-drive
-- resets attempt_count, a release gives the attempt back): with the worker's
-- name it identifies one lease, which is what a completion is fenced by.
ALTER TABLE outbox_events ADD COLUMN claim_count integer NOT NULL DEFAULT 0;
