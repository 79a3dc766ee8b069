-- Tables of the built-in local backend: the only place turn content lives.

CREATE TABLE local_memories (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    gateway_id   TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    agent_id     TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    namespace    TEXT NOT NULL,
    turn_id      TEXT NOT NULL,
    role         TEXT NOT NULL,
    content      TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'active',
    committed_by TEXT,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX local_memories_user_idx ON local_memories (workspace_id, user_id, namespace);
--bun:split
CREATE INDEX local_memories_session_idx ON local_memories (workspace_id, session_id, committed_by);
--bun:split
-- Full-text index over content, kept in step by triggers (external content).
CREATE VIRTUAL TABLE local_memories_fts USING fts5(
    content,
    content = 'local_memories',
    content_rowid = 'seq',
    tokenize = 'porter unicode61'
);
--bun:split
CREATE TRIGGER local_memories_fts_insert AFTER INSERT ON local_memories BEGIN
    INSERT INTO local_memories_fts (rowid, content) VALUES (new.seq, new.content);
END;
--bun:split
CREATE TRIGGER local_memories_fts_delete AFTER DELETE ON local_memories BEGIN
    INSERT INTO local_memories_fts (local_memories_fts, rowid, content) VALUES ('delete', old.seq, old.content);
END;
--bun:split
CREATE TRIGGER local_memories_fts_update AFTER UPDATE OF content ON local_memories BEGIN
    INSERT INTO local_memories_fts (local_memories_fts, rowid, content) VALUES ('delete', old.seq, old.content);
    INSERT INTO local_memories_fts (rowid, content) VALUES (new.seq, new.content);
END;
--bun:split

CREATE TABLE local_archives (
    id           TEXT PRIMARY KEY,
    job_id       TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    namespace    TEXT NOT NULL,
    turn_count   INTEGER NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
