-- The outbox depth (memory_gateway_outbox_events, read from the database by
-- every /metrics scrape of every process) counts pending, processing and
-- dead-lettered events, each through a partial index of its status. Dead
-- letters had none, so every scrape read the whole table: every finished
-- event of the retention window. They are few (each wants attention), and so
-- is this index.
CREATE INDEX outbox_events_dead_letter_idx ON outbox_events (backend) WHERE status = 'dead_letter';
