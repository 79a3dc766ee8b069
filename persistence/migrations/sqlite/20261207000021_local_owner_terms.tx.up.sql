-- The local backend's recall scores with FTS5's bm25, which counts, once per
-- query, the memories holding each phrase of the query. With the owner as a
-- phrase of its own that count read the user's whole history. Now every word
-- is indexed under its owner instead: 'u', the owner's key, 'x', the word
-- ("u7xgarden"). A query names the owner's words alone, so both the match and
-- bm25's counts read only the user's memories that hold the query's words.
--
-- The owner's key is a short number (the porter stemmer leaves tokens over
-- 64 characters alone), from local_search_owners. The local backend writes
-- a memory's index entry itself, in the transaction that stores or
-- corrects the memory, splitting the content into words of letters and
-- digits as it splits queries; in SQL a trigger could only approximate the
-- split, with fifty replace() calls costing more than the insert itself.
-- Deletes leave the index through a trigger.
CREATE TABLE local_search_owners (
    key INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    UNIQUE (workspace_id, user_id)
);
--bun:split
INSERT INTO local_search_owners (workspace_id, user_id)
    SELECT DISTINCT workspace_id, user_id FROM local_memories ORDER BY workspace_id, user_id;
--bun:split
DROP TRIGGER local_memories_fts_insert;
--bun:split
DROP TRIGGER local_memories_fts_delete;
--bun:split
DROP TRIGGER local_memories_fts_update;
--bun:split
DROP TABLE local_memories_fts;
--bun:split
ALTER TABLE local_memories DROP COLUMN owner_token;
--bun:split
-- Contentless: the prefixed words are in no table; a memory leaves the
-- index by its rowid (contentless_delete, SQLite 3.43).
CREATE VIRTUAL TABLE local_memories_fts USING fts5(
    words,
    content = '',
    contentless_delete = 1,
    tokenize = 'porter unicode61'
);
--bun:split
-- The memories stored so far are indexed here, in SQL: the separators of
-- FTS5's unicode61 tokenizer that turns hold most often (ASCII punctuation
-- and white space, typographic quotes, dashes and ellipses, guillemets, the
-- no-break space, CJK full stop and commas) become spaces, and every
-- space-separated word gets its owner's prefix. After a rarer separator the
-- rest of a word is indexed without an owner: no search finds it (never
-- another user's); a correction re-indexes the memory as the backend does.
INSERT INTO local_memories_fts (rowid, words)
    SELECT m.seq, 'u' || o.key || 'x' || replace(
    replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
    replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
    replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
    replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
    replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
    m.content,
    char(9), ' '), char(10), ' '), char(11), ' '), char(12), ' '), char(13), ' '),
    '!', ' '), '"', ' '), '#', ' '), '$', ' '), '%', ' '),
    '&', ' '), '''', ' '), '(', ' '), ')', ' '), '*', ' '),
    '+', ' '), ',', ' '), '-', ' '), '.', ' '), '/', ' '),
    ':', ' '), ';', ' '), '<', ' '), '=', ' '), '>', ' '),
    '?', ' '), '@', ' '), '[', ' '), '\', ' '), ']', ' '),
    '^', ' '), '_', ' '), '`', ' '), '{', ' '), '|', ' '),
    '}', ' '), '~', ' '), char(160), ' '), char(8216), ' '), char(8217), ' '),
    char(8220), ' '), char(8221), ' '), char(8211), ' '), char(8212), ' '), char(8230), ' '),
    char(171), ' '), char(187), ' '), char(12290), ' '), char(12289), ' '), char(65292), ' ')
        , ' ', ' u' || o.key || 'x')
    FROM local_memories AS m
    JOIN local_search_owners AS o ON o.workspace_id = m.workspace_id AND o.user_id = m.user_id;
--bun:split
CREATE TRIGGER local_memories_fts_delete AFTER DELETE ON local_memories BEGIN
    DELETE FROM local_memories_fts WHERE rowid = old.seq;
END;
