-- Erasure: a request to erase a subject (a user, optionally narrowed to an
-- agent or a namespace) in every backend. Its job is a commit_jobs row of
-- kind 'erasure' (no session), driven by the worker like a commit. The
-- request is the proof: no retention setting deletes it.
ALTER TABLE commit_jobs ADD COLUMN kind text NOT NULL DEFAULT 'commit';
--bun:split
CREATE TABLE erasure_requests (
    id              text PRIMARY KEY,
    workspace_id    text NOT NULL,
    user_id         text NOT NULL,
    agent_id        text,
    namespace       text,
    reason          text NOT NULL,
    requested_by    text NOT NULL,
    idempotency_key text,
    job_id          text NOT NULL REFERENCES commit_jobs (id),
    created_at      timestamptz NOT NULL
);
--bun:split
-- Active erasures of a user are looked up on every ingest and retrieval.
CREATE INDEX erasure_requests_subject_idx ON erasure_requests (workspace_id, user_id, created_at DESC);
--bun:split
CREATE INDEX erasure_requests_workspace_idx ON erasure_requests (workspace_id, created_at DESC, id DESC);
