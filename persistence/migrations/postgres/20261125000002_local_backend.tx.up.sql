-- Tables of the built-in local backend: the only place turn content lives.

CREATE TABLE local_memories (
    seq          bigserial PRIMARY KEY,
    id           text NOT NULL UNIQUE,
    gateway_id   text NOT NULL,
    workspace_id text NOT NULL,
    user_id      text NOT NULL,
    agent_id     text NOT NULL,
    session_id   text NOT NULL,
    namespace    text NOT NULL,
    turn_id      text NOT NULL,
    role         text NOT NULL,
    content      text NOT NULL,
    content_hash text NOT NULL,
    state        text NOT NULL DEFAULT 'active',
    committed_by text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    search       tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED
);
--bun:split
CREATE INDEX local_memories_search_idx ON local_memories USING gin (search);
--bun:split
CREATE INDEX local_memories_user_idx ON local_memories (workspace_id, user_id, namespace text_pattern_ops);
--bun:split
CREATE INDEX local_memories_session_idx ON local_memories (workspace_id, session_id, committed_by);
--bun:split

CREATE TABLE local_archives (
    id           text PRIMARY KEY,
    job_id       text NOT NULL UNIQUE,
    workspace_id text NOT NULL,
    user_id      text NOT NULL,
    session_id   text NOT NULL,
    namespace    text NOT NULL,
    turn_count   integer NOT NULL,
    created_at   timestamptz NOT NULL
);
