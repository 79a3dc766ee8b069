package local

import (
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

// postgresSearch ranks with ts_rank_cd over the tsvector column "search".
type postgresSearch struct{}

func (postgresSearch) match(sel *bun.SelectQuery, terms []string) *bun.SelectQuery {
	tsq := strings.Join(terms, " | ")
	return sel.
		ColumnExpr("ts_rank_cd(m.search, to_tsquery('english', ?)) AS score", tsq).
		Where("m.search @@ to_tsquery('english', ?)", tsq)
}
