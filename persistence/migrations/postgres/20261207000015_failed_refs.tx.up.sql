-- FAILED refs are what the heal of failed ingest writes counts (the console
-- and the memory_gateway_ingest_writes_failed gauge, per backend): this
-- index holds only them, so the count reads as many rows as there are
-- failures, not every ref.
CREATE INDEX memory_refs_failed_idx ON memory_refs (backend, workspace_id) WHERE status = 'failed';
--bun:split
-- Finished heal events (INGEST_TURN: no job) are what retention deletes of
-- them, oldest first.
CREATE INDEX outbox_events_heal_done_idx ON outbox_events (completed_at)
    WHERE job_id IS NULL AND operation = 'ingest_turn' AND status IN ('success', 'skipped', 'dead_letter');
