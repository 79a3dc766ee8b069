-- The local backend's recall searches one user's memories full-text first:
-- every memory's words plus one lexeme naming its owner ('o' and the md5 of
-- workspace and user), so the index finds the user's matching memories
-- without reading the rest of the user's history. The plain index on the
-- words served no query the new one does not, and goes. Built in the
-- migration's transaction (writes to local_memories wait for the build):
-- CREATE INDEX CONCURRENTLY would wait for every open snapshot, among them a
-- second migrator's, which waits on the migration lock held here.
CREATE INDEX local_memories_owner_search_idx ON local_memories
    USING gin ((search || ('o' || md5(workspace_id || chr(31) || user_id))::tsvector));
--bun:split
DROP INDEX local_memories_search_idx;
