package local

import (
	"context"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// fullTextOf picks the full-text search of db's dialect.
func fullTextOf(db *bun.DB) fullText {
	if db.Dialect().Name() == dialect.PG {
		return postgresSearch{}
	}
	return sqliteSearch{}
}

// postgresOwnedSearch is the expression local_memories_owner_search_idx
// indexes: a memory's words plus the lexeme of its owner. A query names the
// same expression to use the index.
const postgresOwnedSearch = "(m.search || ('o' || md5(m.workspace_id || chr(31) || m.user_id))::tsvector)"

// postgresSearch ranks with ts_rank_cd over the tsvector column "search";
// the GIN index over the words and the owner's lexeme finds the user's
// matching memories.
type postgresSearch struct{}

// writesIndex: the tsvector is a generated column, which PostgreSQL keeps
// in step by itself.
func (postgresSearch) writesIndex() bool { return false }

func (postgresSearch) index(context.Context, bun.IDB, []memoryRow) error { return nil }

func (postgresSearch) unindex(context.Context, bun.IDB, int64) error { return nil }

// mergeStep: a GIN index has no parts to merge (autovacuum flushes its
// pending list).
func (postgresSearch) mergeStep(context.Context, *bun.DB) (bool, error) { return false, nil }

func (postgresSearch) match(sel *bun.SelectQuery, workspaceID, userID string, terms []string) *bun.SelectQuery {
	tsq := strings.Join(terms, " | ")
	return sel.
		ColumnExpr("ts_rank_cd(m.search, to_tsquery('english', ?)) AS score", tsq).
		Where(postgresOwnedSearch+" @@ (('o' || md5(? || chr(31) || ?))::tsquery && to_tsquery('english', ?))", workspaceID, userID, tsq).
		// Words that are all stop words of the english configuration ("then",
		// "again") make an empty tsquery, and the owner's lexeme alone would
		// match every memory of the user.
		Where("numnode(to_tsquery('english', ?)) > 0", tsq)
}
