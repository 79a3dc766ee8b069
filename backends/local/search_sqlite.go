package local

import (
	"strings"

	"github.com/uptrace/bun"
)

// sqliteSearch ranks with FTS5's bm25 over local_memories_fts.
type sqliteSearch struct{}

func (sqliteSearch) match(sel *bun.SelectQuery, terms []string) *bun.SelectQuery {
	quoted := make([]string, len(terms))
	for i, t := range terms {
		quoted[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	return sel.
		ColumnExpr("-bm25(local_memories_fts) AS score").
		Join("JOIN local_memories_fts ON local_memories_fts.rowid = m.seq").
		Where("local_memories_fts MATCH ?", strings.Join(quoted, " OR "))
}
