-- Claims filter by backend: lead the partial claim index with it.
DROP INDEX outbox_events_claim_idx;
--bun:split
CREATE INDEX outbox_events_claim_idx ON outbox_events (backend, next_retry_at, id) WHERE status = 'pending';
