-- The local backend's recall searches one user's memories full-text first:
-- the full-text index also holds, in a column of its own, one token naming
-- each memory's owner ('o', hex of workspace, 'x', hex of user, 'x'), and a
-- search matches it along with the query's words. The index is rebuilt from
-- local_memories.
ALTER TABLE local_memories ADD COLUMN owner_token TEXT
    GENERATED ALWAYS AS ('o' || hex(workspace_id) || 'x' || hex(user_id) || 'x') VIRTUAL;
--bun:split
DROP TRIGGER local_memories_fts_insert;
--bun:split
DROP TRIGGER local_memories_fts_delete;
--bun:split
DROP TRIGGER local_memories_fts_update;
--bun:split
DROP TABLE local_memories_fts;
--bun:split
CREATE VIRTUAL TABLE local_memories_fts USING fts5(
    content,
    owner_token,
    content = 'local_memories',
    content_rowid = 'seq',
    tokenize = 'porter unicode61'
);
--bun:split
INSERT INTO local_memories_fts (local_memories_fts) VALUES ('rebuild');
--bun:split
CREATE TRIGGER local_memories_fts_insert AFTER INSERT ON local_memories BEGIN
    INSERT INTO local_memories_fts (rowid, content, owner_token) VALUES (new.seq, new.content, new.owner_token);
END;
--bun:split
CREATE TRIGGER local_memories_fts_delete AFTER DELETE ON local_memories BEGIN
    INSERT INTO local_memories_fts (local_memories_fts, rowid, content, owner_token) VALUES ('delete', old.seq, old.content, old.owner_token);
END;
--bun:split
CREATE TRIGGER local_memories_fts_update AFTER UPDATE OF content, workspace_id, user_id ON local_memories BEGIN
    INSERT INTO local_memories_fts (local_memories_fts, rowid, content, owner_token) VALUES ('delete', old.seq, old.content, old.owner_token);
    INSERT INTO local_memories_fts (rowid, content, owner_token) VALUES (new.seq, new.content, new.owner_token);
END;
