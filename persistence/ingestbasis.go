package persistence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/groupcommit"
)

// The read every ingest starts with (its turn's refs, and whether an
// erasure of its user is under way) is shared by the turns that arrive
// together, as their writes are: on PostgreSQL one statement answers a
// batch, so concurrent turns cost one round trip and one statement, not one
// each (it was a sixth of the server's CPU per turn at 16 clients). A lone
// turn reads at once; the turns that arrive while a batch is read form the
// next one (one batch at a time: two at once made smaller batches and fewer
// turns per second). SQLite, in process, reads each alone.

// basisKey is one turn's read.
type basisKey struct {
	gatewayID, workspaceID, userID string
}

// ingestBasis is what the read answers.
type ingestBasis struct {
	refs    []gateway.MemoryRef
	erasing bool
}

func newBasisBatcher(db *DB) *groupcommit.Batcher[basisKey, ingestBasis] {
	query := ingestBasesQuery(db)
	return &groupcommit.Batcher[basisKey, ingestBasis]{
		Write: func(ctx context.Context, keys []basisKey) ([]ingestBasis, []error, error) {
			bases, err := readIngestBases(ctx, db, query, keys)
			return bases, make([]error, len(keys)), err
		},
		// A lone turn runs the same prepared statement: prepared, one
		// statement serves every batch size.
		Alone: func(ctx context.Context, k basisKey) (ingestBasis, error) {
			bases, err := readIngestBases(ctx, db, query, []basisKey{k})
			if err != nil {
				return ingestBasis{}, err
			}
			return bases[0], nil
		},
	}
}

// readIngestBasis reads one turn's basis: one row per ref, or one row of
// NULLs when there is none, each carrying the erasure flag.
func readIngestBasis(ctx context.Context, db *DB, k basisKey) (ingestBasis, error) {
	erasing := db.NewSelect().ColumnExpr("EXISTS (?) AS erasing", activeErasuresOf(db, k.workspaceID, k.userID))
	var rows []ingestBasisRow
	err := db.NewSelect().TableExpr("(?) AS x", erasing).
		Join("LEFT JOIN memory_refs AS r ON r.gateway_id = ?", k.gatewayID).
		ColumnExpr("r.*").ColumnExpr("x.erasing").
		OrderExpr("r.id").
		Scan(ctx, &rows)
	if err != nil {
		return ingestBasis{}, fmt.Errorf("error reading the ingest basis of %s: %w", k.gatewayID, err)
	}
	if len(rows) == 0 {
		return ingestBasis{}, errors.New("error reading the ingest basis: no row")
	}
	return basisOf(rows), nil
}

// ingestBasesQuery is readIngestBases' statement, prepared (PostgreSQL):
// its parameters are the turns' gateway ids, workspaces and users, one array
// each. It names the ref columns it returns (see prepared.go).
func ingestBasesQuery(db *DB) string {
	erasing := db.NewSelect().Model((*erasureRow)(nil)).ColumnExpr("1").
		Join("JOIN commit_jobs AS j ON j.id = er.job_id").
		Where("er.workspace_id = k.workspace_id").
		Where("er.user_id = k.user_id").
		Where("j.status IN (?)", bun.List(openJobStatuses))
	q := db.NewSelect().
		TableExpr("unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(gateway_id, workspace_id, user_id, n)").
		// Probed by index for each turn: as a join, a batch of tens of turns
		// on a table of some tens of thousands of refs (or one not yet
		// analyzed) was planned as a hash join over the whole table (35 ms
		// against 0.9); OFFSET 0 keeps the subquery from being pulled up
		// into one.
		Join("LEFT JOIN LATERAL (SELECT * FROM memory_refs AS r WHERE r.gateway_id = k.gateway_id OFFSET 0) AS r ON true")
	return q.ColumnExpr(columnsOf[refRow](db, "r")).ColumnExpr("EXISTS (?) AS erasing", erasing).ColumnExpr("k.n AS basis_turn").
		OrderExpr("k.n, r.id").
		String()
}

// readIngestBases reads the bases of several turns in one statement
// (PostgreSQL, query: ingestBasesQuery): the same rows as readIngestBasis
// for each, numbered by the turn they answer.
func readIngestBases(ctx context.Context, db *DB, query string, keys []basisKey) ([]ingestBasis, error) {
	n := len(keys)
	gatewayIDs, workspaces, users := make(textArray, n), make(textArray, n), make(textArray, n)
	for i, k := range keys {
		gatewayIDs[i], workspaces[i], users[i] = k.gatewayID, k.workspaceID, k.userID
	}
	rows := make([]ingestBasisRow, 0, n)
	err := db.queryPrepared(ctx, query, []any{gatewayIDs, workspaces, users}, func(r *sql.Rows) error {
		return db.ScanRows(ctx, r, &rows)
	})
	if err != nil {
		return nil, fmt.Errorf("error reading the ingest basis of %d turns: %w", n, err)
	}
	out := make([]ingestBasis, n)
	answered := 0
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].BasisTurn == rows[start].BasisTurn {
			end++
		}
		turn := rows[start].BasisTurn - 1 // ORDINALITY counts from 1
		if turn < 0 || turn >= n {
			return nil, fmt.Errorf("error reading the ingest basis: turn %d of %d", turn+1, n)
		}
		out[turn] = basisOf(rows[start:end])
		answered++
		start = end
	}
	if answered != n {
		// Never so (every turn has a row, of NULLs at least); were it so,
		// a turn must not read as "no refs, no erasure".
		return nil, fmt.Errorf("error reading the ingest basis: %d of %d turns answered", answered, n)
	}
	return out, nil
}

// basisOf reads the rows of one turn.
func basisOf(rows []ingestBasisRow) ingestBasis {
	refs := make([]gateway.MemoryRef, 0, len(rows))
	for _, r := range rows {
		if r.ID != "" {
			refs = append(refs, r.domain())
		}
	}
	return ingestBasis{refs: refs, erasing: rows[0].Erasing}
}
