package local

import (
	"context"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
)

// sqliteSearch ranks with FTS5's bm25 over local_memories_fts, a contentless
// table that indexes every word of a memory under its owner's key
// ("u7xgarden": 'u', the key local_search_owners gives the workspace and
// user, 'x', the word). The query names the owner's words alone, so FTS5
// finds the user's matching memories, and bm25 counts the memories holding
// each word among the user's alone, without reading the rest of the user's
// history. CROSS JOIN keeps SQLite's planner from starting with the user's
// rows instead (and matching each of them in turn).
type sqliteSearch struct{}

// ownerKeyPlaceholder stands for the owner's key in the words and queries
// the backend builds; the database puts the key in (no owner yet: key 0,
// which no memory has). Words are letters and digits alone: it is never
// part of one.
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

func (sqliteSearch) writesIndex() bool { return true }

// index gives the rows' owners their keys and adds the rows' words, each
// prefixed with its owner's, under their seq.
func (sqliteSearch) index(ctx context.Context, db bun.IDB, rows []memoryRow) error {
	if len(rows) == 0 {
		return nil
	}
	var owners, entries strings.Builder
	var ownerArgs, entryArgs []any
	seen := map[[2]string]bool{}
	for i := range rows {
		r := &rows[i]
		if owner := [2]string{r.WorkspaceID, r.UserID}; !seen[owner] {
			seen[owner] = true
			if len(ownerArgs) > 0 {
				owners.WriteString(", ")
			}
			owners.WriteString("(?, ?)")
			ownerArgs = append(ownerArgs, r.WorkspaceID, r.UserID)
		}
		if i > 0 {
			entries.WriteString(", ")
		}
		entries.WriteString("(?, ?, ?, ?)")
		entryArgs = append(entryArgs, r.Seq, ownedWords(r.Content), r.WorkspaceID, r.UserID)
	}
	if _, err := db.NewRaw("INSERT OR IGNORE INTO local_search_owners (workspace_id, user_id) VALUES "+owners.String(), ownerArgs...).Exec(ctx); err != nil {
		return fmt.Errorf("local: error keying memory owners: %w", err)
	}
	_, err := db.NewRaw("INSERT INTO local_memories_fts (rowid, words) "+
		"SELECT v.column1, replace(v.column2, '"+ownerKeyPlaceholder+"', o.key) FROM (VALUES "+entries.String()+") AS v "+
		"JOIN local_search_owners AS o ON o.workspace_id = v.column3 AND o.user_id = v.column4", entryArgs...).Exec(ctx)
	if err != nil {
		return fmt.Errorf("local: error indexing memories: %w", err)
	}
	return nil
}

func (sqliteSearch) unindex(ctx context.Context, db bun.IDB, seq int64) error {
	if _, err := db.NewRaw("DELETE FROM local_memories_fts WHERE rowid = ?", seq).Exec(ctx); err != nil {
		return fmt.Errorf("local: error removing a memory from the index: %w", err)
	}
	return nil
}

// ownedWords is content as the index holds it: its words, each behind the
// owner's prefix with the key still a placeholder.
func ownedWords(content string) string {
	var b strings.Builder
	for i, w := range words(content) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("u" + ownerKeyPlaceholder + "x")
		b.WriteString(w)
	}
	return b.String()
}
