package local

import (
	"encoding/hex"
	"strings"

	"github.com/uptrace/bun"
)

// sqliteSearch ranks with FTS5's bm25 over local_memories_fts, whose second
// column holds each memory's owner token. The query matches the owner's
// token and any of the terms, so FTS5 alone finds the user's matching
// memories; CROSS JOIN keeps SQLite's planner from starting with the user's
// rows instead (and matching each of them in turn).
type sqliteSearch struct{}

func (sqliteSearch) match(sel *bun.SelectQuery, workspaceID, userID string, terms []string) *bun.SelectQuery {
	quoted := make([]string, len(terms))
	for i, t := range terms {
		quoted[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	query := `owner_token : "` + sqliteOwnerToken(workspaceID, userID) + `" AND content : (` + strings.Join(quoted, " OR ") + `)`
	return sel.
		ModelTableExpr("local_memories_fts CROSS JOIN local_memories AS m ON m.seq = local_memories_fts.rowid").
		// The owner column weighs nothing: only the terms rank.
		ColumnExpr("-bm25(local_memories_fts, 1.0, 0.0) AS score").
		Where("local_memories_fts MATCH ?", query)
}

// sqliteOwnerToken is the token local_memories.owner_token generates: one
// word of letters and digits (FTS5 lower-cases it; a final x keeps the
// porter stemmer off it), distinct for every workspace and user.
func sqliteOwnerToken(workspaceID, userID string) string {
	return "o" + hex.EncodeToString([]byte(workspaceID)) + "x" + hex.EncodeToString([]byte(userID)) + "x"
}
