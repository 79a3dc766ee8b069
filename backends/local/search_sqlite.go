package local

import (
	"strings"

	"github.com/uptrace/bun"
)

// sqliteSearch ranks with FTS5's bm25 over local_memories_fts, which indexes
// every word of a memory under its owner's key ("u7xgarden": 'u', the key
// local_search_owners gives the workspace and user, 'x', the word). The
// query names the owner's words alone, so FTS5 finds the user's matching
// memories, and bm25 counts the memories holding each word among the user's
// alone, without reading the rest of the user's history. CROSS JOIN keeps
// SQLite's planner from starting with the user's rows instead (and matching
// each of them in turn).
type sqliteSearch struct{}

// ownerKeyPlaceholder stands for the owner's key in the query the search
// builds; the database puts the key in (no owner yet: key 0, which no
// memory has).
const ownerKeyPlaceholder = "{owner}"

func (sqliteSearch) match(sel *bun.SelectQuery, workspaceID, userID string, terms []string) *bun.SelectQuery {
	// Terms are letters and digits alone (queryTerms): no quote to escape.
	quoted := make([]string, len(terms))
	for i, t := range terms {
		quoted[i] = `"u` + ownerKeyPlaceholder + `x` + t + `"`
	}
	return sel.
		ModelTableExpr("local_memories_fts CROSS JOIN local_memories AS m ON m.seq = local_memories_fts.rowid").
		ColumnExpr("-bm25(local_memories_fts) AS score").
		Where("local_memories_fts MATCH replace(?, ?, coalesce((SELECT key FROM local_search_owners WHERE workspace_id = ? AND user_id = ?), 0))",
			strings.Join(quoted, " OR "), ownerKeyPlaceholder, workspaceID, userID)
}
