-- Control-plane tables. None of them holds conversation content: refs, jobs,
-- outbox events, audit entries and feedback carry ids, hashes, statuses and
-- filtered metadata only.

CREATE TABLE memory_refs (
    id              text PRIMARY KEY,
    gateway_id      text NOT NULL,
    provenance_id   text NOT NULL,
    workspace_id    text NOT NULL,
    user_id         text NOT NULL,
    agent_id        text NOT NULL,
    session_id      text NOT NULL,
    turn_id         text,
    namespace       text NOT NULL,
    backend         text NOT NULL,
    ref_type        text NOT NULL,
    status          text NOT NULL,
    native_id       text,
    native_uri      text,
    idempotency_key text,
    source_type     text,
    source_event_id text,
    content_hash    text,
    error_message   text,
    job_id          text,
    outbox_event_id text,
    metadata        TEXT NOT NULL DEFAULT '{}',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX memory_refs_gateway_idx ON memory_refs (gateway_id);
--bun:split
CREATE INDEX memory_refs_workspace_idx ON memory_refs (workspace_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX memory_refs_session_idx ON memory_refs (workspace_id, session_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX memory_refs_user_idx ON memory_refs (workspace_id, user_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX memory_refs_namespace_idx ON memory_refs (workspace_id, namespace);
--bun:split
CREATE INDEX memory_refs_status_idx ON memory_refs (workspace_id, backend, status);
--bun:split
CREATE INDEX memory_refs_job_idx ON memory_refs (job_id, created_at DESC, id DESC) WHERE job_id IS NOT NULL;
--bun:split
CREATE INDEX memory_refs_event_idx ON memory_refs (outbox_event_id, created_at DESC, id DESC) WHERE outbox_event_id IS NOT NULL;
--bun:split
CREATE INDEX memory_refs_native_id_idx ON memory_refs (workspace_id, backend, native_id) WHERE native_id IS NOT NULL;
--bun:split
CREATE INDEX memory_refs_native_uri_idx ON memory_refs (workspace_id, backend, native_uri) WHERE native_uri IS NOT NULL;
--bun:split

CREATE TABLE commit_jobs (
    id                 text PRIMARY KEY,
    workspace_id       text NOT NULL,
    user_id            text NOT NULL,
    agent_id           text NOT NULL,
    session_id         text NOT NULL,
    namespace          text NOT NULL,
    status             text NOT NULL,
    idempotency_key    text,
    request_id         text,
    created_refs_count integer NOT NULL DEFAULT 0,
    error_message      text,
    metadata           TEXT NOT NULL DEFAULT '{}',
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    started_at         TIMESTAMP,
    finished_at        TIMESTAMP
);
--bun:split
CREATE INDEX commit_jobs_workspace_idx ON commit_jobs (workspace_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX commit_jobs_session_idx ON commit_jobs (workspace_id, session_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX commit_jobs_status_idx ON commit_jobs (workspace_id, status, created_at DESC);
--bun:split

CREATE TABLE outbox_events (
    id               text PRIMARY KEY,
    job_id           text REFERENCES commit_jobs (id),
    feedback_id      text,
    gateway_id       text NOT NULL,
    workspace_id     text NOT NULL,
    user_id          text NOT NULL,
    agent_id         text NOT NULL,
    session_id       text NOT NULL,
    namespace        text NOT NULL,
    backend          text NOT NULL,
    operation        text NOT NULL,
    status           text NOT NULL,
    attempt_count    integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL,
    next_retry_at    TIMESTAMP NOT NULL,
    locked_by        text,
    locked_at        TIMESTAMP,
    lease_expires_at TIMESTAMP,
    last_error       text,
    last_error_code  text,
    metadata         TEXT NOT NULL DEFAULT '{}',
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    completed_at     TIMESTAMP
);
--bun:split
-- The claim query reads only this partial index.
CREATE INDEX outbox_events_claim_idx ON outbox_events (next_retry_at, id) WHERE status = 'pending';
--bun:split
CREATE INDEX outbox_events_lease_idx ON outbox_events (lease_expires_at) WHERE status = 'processing';
--bun:split
CREATE INDEX outbox_events_job_idx ON outbox_events (job_id, created_at DESC, id DESC) WHERE job_id IS NOT NULL;
--bun:split
CREATE INDEX outbox_events_feedback_idx ON outbox_events (feedback_id) WHERE feedback_id IS NOT NULL;
--bun:split
CREATE INDEX outbox_events_workspace_idx ON outbox_events (workspace_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX outbox_events_status_idx ON outbox_events (status, backend);
--bun:split

CREATE TABLE audit_entries (
    id             text PRIMARY KEY,
    workspace_id   text NOT NULL,
    action         text NOT NULL,
    actor_user_id  text,
    actor_agent_id text,
    principal      text,
    target_type    text NOT NULL,
    target_id      text NOT NULL,
    namespace      text,
    session_id     text,
    job_id         text,
    gateway_id     text,
    metadata       TEXT NOT NULL DEFAULT '{}',
    created_at     TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX audit_entries_workspace_idx ON audit_entries (workspace_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX audit_entries_action_idx ON audit_entries (workspace_id, action, created_at DESC, id DESC);
--bun:split
CREATE INDEX audit_entries_session_idx ON audit_entries (workspace_id, session_id, created_at DESC, id DESC) WHERE session_id IS NOT NULL;
--bun:split
CREATE INDEX audit_entries_target_idx ON audit_entries (target_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX audit_entries_job_idx ON audit_entries (job_id, created_at DESC, id DESC) WHERE job_id IS NOT NULL;
--bun:split
CREATE INDEX audit_entries_gateway_idx ON audit_entries (gateway_id) WHERE gateway_id IS NOT NULL;
--bun:split

CREATE TABLE memory_feedback (
    id              text PRIMARY KEY,
    workspace_id    text NOT NULL,
    user_id         text NOT NULL,
    agent_id        text NOT NULL,
    namespace       text NOT NULL,
    memory_ref_id   text NOT NULL REFERENCES memory_refs (id),
    feedback_type   text NOT NULL,
    status          text NOT NULL,
    has_comment     boolean NOT NULL DEFAULT false,
    has_correction  boolean NOT NULL DEFAULT false,
    source_type     text,
    source_event_id text,
    metadata        TEXT NOT NULL DEFAULT '{}',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX memory_feedback_ref_idx ON memory_feedback (memory_ref_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX memory_feedback_workspace_idx ON memory_feedback (workspace_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX memory_feedback_status_idx ON memory_feedback (workspace_id, status, created_at DESC);
--bun:split

-- Feedback text is content: it lives apart from the control-plane row.
CREATE TABLE feedback_content (
    feedback_id text PRIMARY KEY REFERENCES memory_feedback (id) ON DELETE CASCADE,
    comment     text NOT NULL DEFAULT '',
    correction  text NOT NULL DEFAULT ''
);
