package persistence

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/groupcommit"
)

// Group commit of ingests (package groupcommit): concurrent SaveIngest
// calls share one transaction. A turn whose basis check fails fails alone,
// and if the shared transaction fails every write of it is retried in a
// transaction of its own. One shared transaction at a time: measured
// against two and four on PostgreSQL, it gives the largest batches, the
// fewest statements per turn and the best throughput and tail (BENCHMARKS.md).

// ingestWrite is one SaveIngest call.
type ingestWrite struct {
	refs  []gateway.MemoryRef
	audit gateway.AuditEntry
	heals []gateway.OutboxEvent
}

func newIngestBatcher(db *DB) *groupcommit.Batcher[ingestWrite, struct{}] {
	return &groupcommit.Batcher[ingestWrite, struct{}]{
		Write: func(ctx context.Context, batch []ingestWrite) ([]struct{}, []error, error) {
			errs, err := saveIngests(ctx, db, batch)
			return make([]struct{}, len(batch)), errs, err
		},
		Alone: func(ctx context.Context, w ingestWrite) (struct{}, error) {
			return struct{}{}, saveIngestAlone(ctx, db, w)
		},
		// Two writes of one turn never share a batch: the check of the
		// second must see the first.
		Key: func(w ingestWrite) string { return gatewayIDOf(w) },
	}
}

func gatewayIDOf(w ingestWrite) string {
	if len(w.refs) == 0 {
		return ""
	}
	return w.refs[0].GatewayID
}

// saveIngests writes a batch in one transaction: one read checks every
// write's basis, one statement upserts the refs of those that pass, one
// inserts their audit entries. errs[i] is write i's own outcome; err means
// the transaction failed and nothing of it was written.
func saveIngests(ctx context.Context, db *DB, batch []ingestWrite) ([]error, error) {
	errs := make([]error, len(batch))
	if done, err := saveIngestsAtOnce(ctx, db, batch); done || err != nil {
		return errs, err
	}
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		clear(errs)
		ids := make([]string, 0, len(batch))
		for _, w := range batch {
			if id := gatewayIDOf(w); id != "" {
				ids = append(ids, id)
			}
		}
		stored, err := storedBases(ctx, db.sql, tx, ids)
		if err != nil {
			return err
		}
		var refs []gateway.MemoryRef
		var heals []gateway.OutboxEvent
		var audits []auditRow
		for i, w := range batch {
			if len(w.refs) > 0 {
				if errs[i] = basisConflict(stored[w.refs[0].GatewayID], w.refs[0]); errs[i] != nil {
					continue
				}
			}
			refs = append(refs, w.refs...)
			heals = append(heals, w.heals...)
			a := w.audit
			a.Metadata = nonNil(a.Metadata)
			audits = append(audits, auditRow{AuditEntry: a})
		}
		if err := db.sql.upsertRefs(ctx, tx, refs); err != nil {
			return err
		}
		if err := insertHeals(ctx, tx, heals); err != nil {
			return err
		}
		if len(audits) > 0 {
			if _, err := tx.NewInsert().Model(&audits).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("error inserting audit entries: %w", err)
			}
		}
		return nil
	})
	return errs, err
}

// storedBasis is what a gateway id already holds: whose turn, and its
// content hash.
type storedBasis struct {
	GatewayID   string
	UserID      string
	ContentHash *string
}

// storedBases reads the bases recorded under gateway ids.
func storedBases(ctx context.Context, d sqlDialect, tx bun.IDB, ids []string) (map[string][]storedBasis, error) {
	out := map[string][]storedBasis{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []storedBasis
	err := tx.NewSelect().Model((*refRow)(nil)).
		ColumnExpr("DISTINCT r.gateway_id, r.user_id, r.content_hash").
		Where(d.inList("r.gateway_id", ids)).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("error checking refs for conflicts: %w", err)
	}
	for _, r := range rows {
		out[r.GatewayID] = append(out[r.GatewayID], r)
	}
	return out, nil
}

// basisConflict refuses a ref whose gateway id already holds another user's
// turn (ids are unique per workspace, and answered only to their user) or
// other content: a race the domain's own checks cannot close.
func basisConflict(stored []storedBasis, ref gateway.MemoryRef) error {
	for _, s := range stored {
		if s.UserID != ref.UserID {
			return gateway.ErrOutOfScope
		}
		if s.ContentHash != nil && ref.ContentHash != nil && *s.ContentHash != *ref.ContentHash {
			return &gateway.ConflictError{Message: "a turn with different content was already ingested under this idempotency basis"}
		}
	}
	return nil
}

// saveIngestAlone writes one ingest in its own transaction.
func saveIngestAlone(ctx context.Context, db *DB, w ingestWrite) error {
	if done, err := saveIngestsAtOnce(ctx, db, []ingestWrite{w}); done || err != nil {
		return err
	}
	refs, audit := w.refs, w.audit
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if len(refs) > 0 {
			stored, err := storedBases(ctx, db.sql, tx, []string{refs[0].GatewayID})
			if err != nil {
				return err
			}
			if err := basisConflict(stored[refs[0].GatewayID], refs[0]); err != nil {
				return err
			}
		}
		if err := db.sql.upsertRefs(ctx, tx, refs); err != nil {
			return err
		}
		if err := insertHeals(ctx, tx, w.heals); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
}

// saveIngestsAtOnce writes a batch in one statement where the dialect can
// (sqlDialect.saveIngestsAtOnce). A batch with heal events, rare, goes
// through the transaction.
func saveIngestsAtOnce(ctx context.Context, db *DB, batch []ingestWrite) (bool, error) {
	var refs []gateway.MemoryRef
	audits := make([]gateway.AuditEntry, 0, len(batch))
	for _, w := range batch {
		if len(w.heals) > 0 {
			return false, nil
		}
		refs = append(refs, w.refs...)
		audits = append(audits, w.audit)
	}
	return db.sql.saveIngestsAtOnce(ctx, db, refs, audits)
}

// insertHeals records the heal events of failed writes. An event already
// there (the turn failed before, and was sent again) is kept as it is:
// pending, it will write the turn; dead-lettered, a re-drive does.
func insertHeals(ctx context.Context, tx bun.Tx, heals []gateway.OutboxEvent) error {
	if len(heals) == 0 {
		return nil
	}
	rows := toEventRows(heals)
	if _, err := tx.NewInsert().Model(&rows).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("error inserting heal events: %w", err)
	}
	return nil
}
