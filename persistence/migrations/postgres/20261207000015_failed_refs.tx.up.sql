-- FAILED refs are what the heal of failed ingest writes counts (the console
-- and the memory_gateway_ingest_writes_failed gauge, per backend): this
-- index holds only them, so the count reads as many rows as there are
-- failures, not every ref.
CREATE INDEX memory_refs_failed_idx ON memory_refs (backend, workspace_id) WHERE status = 'failed';
