-- Session ownership: a session id is unique per workspace and belongs to the
-- user who first wrote to it. Its scopes are the (agent, namespace) pairs its
-- owner's turns were written under: a commit is checked against them, and
-- what it produces is labelled with them.
CREATE TABLE sessions (
    workspace_id text NOT NULL,
    session_id   text NOT NULL,
    user_id      text NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, session_id)
);
--bun:split
CREATE TABLE session_scopes (
    workspace_id text NOT NULL,
    session_id   text NOT NULL,
    agent_id     text NOT NULL,
    namespace    text NOT NULL,
    user_id      text NOT NULL,
    PRIMARY KEY (workspace_id, session_id, agent_id, namespace)
);
--bun:split
-- "Every namespace this user wrote in": retrieval decides with it whether a
-- key's grants cover all of a user's memories.
CREATE INDEX session_scopes_user_idx ON session_scopes (workspace_id, user_id, namespace);
--bun:split
-- Existing sessions belong to the user of their first turn (ingest refs are
-- the refs without a job), else of their first job.
INSERT INTO sessions (workspace_id, session_id, user_id, created_at)
SELECT workspace_id, session_id, user_id, created_at FROM (
    SELECT workspace_id, session_id, user_id, created_at,
           ROW_NUMBER() OVER (PARTITION BY workspace_id, session_id ORDER BY created_at, id) AS rn
    FROM memory_refs WHERE job_id IS NULL
) first_turns WHERE rn = 1;
--bun:split
INSERT INTO sessions (workspace_id, session_id, user_id, created_at)
SELECT workspace_id, session_id, user_id, created_at FROM (
    SELECT workspace_id, session_id, user_id, created_at,
           ROW_NUMBER() OVER (PARTITION BY workspace_id, session_id ORDER BY created_at, id) AS rn
    FROM commit_jobs
) first_jobs WHERE rn = 1
ON CONFLICT (workspace_id, session_id) DO NOTHING;
--bun:split
INSERT INTO session_scopes (workspace_id, session_id, agent_id, namespace, user_id)
SELECT DISTINCT r.workspace_id, r.session_id, r.agent_id, r.namespace, r.user_id
FROM memory_refs r
JOIN sessions s ON s.workspace_id = r.workspace_id AND s.session_id = r.session_id AND s.user_id = r.user_id
WHERE r.job_id IS NULL;
