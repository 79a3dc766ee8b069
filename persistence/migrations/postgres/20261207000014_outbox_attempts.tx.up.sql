-- Every run of an outbox event, with its outcome and error: written in the
-- worker's completion transaction (only a completion that holds the lease
-- lands, and its attempt with it) and by the rescue of expired leases. The
-- last few runs of each event are kept (the completion deletes older ones);
-- retention deletes those of finished events. number is the event's claim
-- count, which every claim raises and nothing lowers: one row per claim.
-- Error texts are the event's own (redacted, coarse, bounded), never content.
CREATE TABLE outbox_attempts (
    event_id      text NOT NULL,
    number        integer NOT NULL,
    attempt       integer NOT NULL,
    workspace_id  text NOT NULL,
    backend       text NOT NULL,
    worker_id     text NOT NULL,
    outcome       text NOT NULL,
    error_code    text,
    error_message text,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    PRIMARY KEY (event_id, number)
);
--bun:split
CREATE INDEX outbox_attempts_finished_idx ON outbox_attempts (finished_at);
--bun:split
-- An error a remote backend reported named the backend, and a job's error
-- names each event's backend again ("evermemos: evermemos: HTTP 503"): the
-- event's own text no longer names it, and the texts stored so are
-- rewritten as they would be now.
UPDATE outbox_events
SET last_error = substr(last_error, length(backend) + 3)
WHERE last_error LIKE backend || ': %';
--bun:split
UPDATE commit_jobs
SET error_message = replace(replace(replace(error_message,
        'evermemos: evermemos: ', 'evermemos: '),
        'openviking: openviking: ', 'openviking: '),
        'local: local: ', 'local: ')
WHERE error_message LIKE '%: %: %';
