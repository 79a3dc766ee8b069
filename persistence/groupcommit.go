package persistence

import (
	"context"
	"fmt"
	"sync"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// Group commit of ingests: concurrent SaveIngest calls share one
// transaction. There is no waiting window: a call that finds no batch being
// written writes its own at once, and calls that arrive while a batch is
// being written form the next one (at most groupCommitMax writes, at most
// groupCommitFlushers transactions at a time). So a lone ingest pays
// nothing, and under load one commit (one fsync on PostgreSQL) carries many
// turns. Each call still gets its own answer: a turn whose basis check fails
// fails alone, and if the shared transaction fails every write of it is
// retried in a transaction of its own.
const (
	groupCommitMax = 64
	// groupCommitFlushersPostgres bounds the shared transactions in flight
	// on PostgreSQL; SQLite has one writer, so one.
	groupCommitFlushersPostgres = 4
)

// ingestWrite is one SaveIngest call waiting for its batch.
type ingestWrite struct {
	refs  []gateway.MemoryRef
	audit gateway.AuditEntry
	done  chan error
}

// groupCommitter batches ingest writes.
type groupCommitter struct {
	db          *DB
	maxFlushers int

	mu       sync.Mutex
	pending  []*ingestWrite
	flushers int
}

func newGroupCommitter(db *DB) *groupCommitter {
	flushers := 1
	if db.Notifies() { // PostgreSQL
		flushers = groupCommitFlushersPostgres
	}
	return &groupCommitter{db: db, maxFlushers: flushers}
}

// save writes one ingest, in a batch with whatever else is due.
func (g *groupCommitter) save(ctx context.Context, refs []gateway.MemoryRef, audit gateway.AuditEntry) error {
	w := &ingestWrite{refs: refs, audit: audit, done: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, w)
	if g.flushers < g.maxFlushers {
		g.flushers++
		g.mu.Unlock()
		g.flushUntil(w)
	} else {
		g.mu.Unlock()
	}
	// The write lands whether or not this caller waits for it, as an
	// unbatched transaction would once begun.
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flushUntil writes batches until own is written, then hands what is still
// pending to another flusher, so no caller waits on others' turns for long.
func (g *groupCommitter) flushUntil(own *ingestWrite) {
	for {
		g.mu.Lock()
		n := min(len(g.pending), groupCommitMax)
		if n == 0 {
			g.flushers--
			g.mu.Unlock()
			return
		}
		batch := g.pending[:n:n]
		g.pending = g.pending[n:]
		g.mu.Unlock()

		g.commit(batch)
		if len(own.done) > 0 || contains(batch, own) {
			g.mu.Lock()
			more := len(g.pending) > 0
			if !more {
				g.flushers--
			}
			g.mu.Unlock()
			if more {
				go g.flushUntil(&ingestWrite{done: make(chan error, 1)})
			}
			return
		}
	}
}

func contains(batch []*ingestWrite, w *ingestWrite) bool {
	for _, b := range batch {
		if b == w {
			return true
		}
	}
	return false
}

// commit writes a batch in one transaction. Writes whose turn is already in
// the batch, or whose shared transaction failed, are written alone.
func (g *groupCommitter) commit(batch []*ingestWrite) {
	ctx := context.Background()
	var shared, alone []*ingestWrite
	seen := map[string]bool{}
	for _, w := range batch {
		id := gatewayIDOf(w)
		if id != "" && seen[id] {
			alone = append(alone, w)
			continue
		}
		seen[id] = true
		shared = append(shared, w)
	}
	if len(shared) == 1 {
		alone = append(shared, alone...)
		shared = nil
	}
	if len(shared) > 0 {
		results, err := g.commitShared(ctx, shared)
		if err != nil {
			alone = append(alone, shared...)
		} else {
			for i, w := range shared {
				w.done <- results[i]
			}
		}
	}
	for _, w := range alone {
		w.done <- saveIngestAlone(ctx, g.db, w.refs, w.audit)
	}
}

func gatewayIDOf(w *ingestWrite) string {
	if len(w.refs) == 0 {
		return ""
	}
	return w.refs[0].GatewayID
}

// commitShared writes the batch in one transaction: one read checks every
// write's basis, one statement upserts the refs of those that pass, one
// inserts their audit entries. results[i] is write i's own outcome; err
// means the transaction failed and nothing of it was written.
func (g *groupCommitter) commitShared(ctx context.Context, batch []*ingestWrite) ([]error, error) {
	results := make([]error, len(batch))
	err := g.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		clear(results)
		ids := make([]string, 0, len(batch))
		for _, w := range batch {
			if id := gatewayIDOf(w); id != "" {
				ids = append(ids, id)
			}
		}
		stored, err := storedBases(ctx, tx, ids)
		if err != nil {
			return err
		}
		var refs []gateway.MemoryRef
		var audits []auditRow
		for i, w := range batch {
			if len(w.refs) > 0 {
				if results[i] = basisConflict(stored[w.refs[0].GatewayID], w.refs[0]); results[i] != nil {
					continue
				}
			}
			refs = append(refs, w.refs...)
			a := w.audit
			a.Metadata = nonNil(a.Metadata)
			audits = append(audits, auditRow{AuditEntry: a})
		}
		if err := g.db.sql.upsertRefs(ctx, tx, refs); err != nil {
			return err
		}
		if len(audits) > 0 {
			if _, err := tx.NewInsert().Model(&audits).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("error inserting audit entries: %w", err)
			}
		}
		return nil
	})
	return results, err
}

// storedBasis is what a gateway id already holds: whose turn, and its
// content hash.
type storedBasis struct {
	GatewayID   string
	UserID      string
	ContentHash *string
}

// storedBases reads the bases recorded under gateway ids.
func storedBases(ctx context.Context, tx bun.IDB, ids []string) (map[string][]storedBasis, error) {
	out := map[string][]storedBasis{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []storedBasis
	err := tx.NewSelect().Model((*refRow)(nil)).
		ColumnExpr("DISTINCT r.gateway_id, r.user_id, r.content_hash").
		Where("r.gateway_id IN (?)", bun.List(ids)).
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
func saveIngestAlone(ctx context.Context, db *DB, refs []gateway.MemoryRef, audit gateway.AuditEntry) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if len(refs) > 0 {
			stored, err := storedBases(ctx, tx, []string{refs[0].GatewayID})
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
		return insertAudit(ctx, tx, audit)
	})
}
