package persistence

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// sqliteDialect is the store on an embedded SQLite file: one writer (the
// one connection and BEGIN IMMEDIATE serialise every writing transaction, so
// no locks are needed), bun's VALUES lists for bulk writes, and no other
// process to notify (the service signals its own worker).
type sqliteDialect struct{}

var _ sqlDialect = sqliteDialect{}

func (sqliteDialect) migrationsDir() string { return "migrations/sqlite" }

// lockMigrations holds an exclusive lock on a file next to the database.
func (sqliteDialect) lockMigrations(_ context.Context, db *DB) (func(), error) {
	return lockFile(migrateLockPath(db.SQLitePath))
}

// migrateLockPath is the lock file of the SQLite database at path.
func migrateLockPath(path string) string { return path + ".migrate.lock" }

func (sqliteDialect) notifies() bool { return false }

func (sqliteDialect) batchesReads() bool { return false }

func (sqliteDialect) prepares() bool { return false }

func (sqliteDialect) notifyOutbox(context.Context, bun.IDB) error { return nil }

func (sqliteDialect) notifyJobs(context.Context, bun.Tx, []gateway.CommitJob) error { return nil }

func (sqliteDialect) lockJobs(context.Context, bun.Tx, []string) error { return nil }

func (sqliteDialect) lockPrincipalSlots(context.Context, bun.Tx, string) error { return nil }

// least and greatest: SQLite's min and max of several arguments.
func (sqliteDialect) least() string    { return "min" }
func (sqliteDialect) greatest() string { return "max" }

func (sqliteDialect) lockClaim(pick *bun.SelectQuery) *bun.SelectQuery { return pick }

func (sqliteDialect) inSubquery(column string) string { return column + " IN (?)" }

func (sqliteDialect) inList(column string, ids []string) (string, any) {
	return column + " IN (?)", bun.List(ids)
}

// timestampArg: SQLite stores timestamps as text anyway.
func (sqliteDialect) timestampArg() string { return "?" }

func (sqliteDialect) metadataText(column, key string) string {
	return "json_extract(" + column + ", '$." + key + "')"
}

func (sqliteDialect) withMetadataKey(column, key string) string {
	return "json_set(" + column + ", '$." + key + "', ?)"
}

func (sqliteDialect) upsertRefs(ctx context.Context, tx bun.Tx, refs []gateway.MemoryRef) error {
	if len(refs) == 0 {
		return nil
	}
	rows := toRefRows(refs)
	_, err := tx.NewInsert().Model(&rows).On("CONFLICT (id) DO UPDATE").Set(refUpsertSet()).Where(refUpsertGuard).Exec(ctx)
	if err != nil {
		return fmt.Errorf("error upserting %d refs: %w", len(refs), err)
	}
	return nil
}

// saveIngestsAtOnce: SQLite runs in the process, where a statement costs
// no round trip; the transaction does it.
func (sqliteDialect) saveIngestsAtOnce(context.Context, *DB, []gateway.MemoryRef, []gateway.AuditEntry) (bool, error) {
	return false, nil
}

func (sqliteDialect) completeEvents(ctx context.Context, _ *DB, tx bun.Tx, rows []completionRow, ids []string, now time.Time) ([]lease, error) {
	applied := make([]lease, 0, len(rows))
	err := tx.NewUpdate().
		With("_data", tx.NewValues(&rows)).
		Model((*eventRow)(nil)).
		TableExpr("_data").
		Set("status = _data.status").
		Set("attempt_count = _data.attempt_count").
		Set("next_retry_at = _data.next_retry_at").
		Set("last_error = _data.last_error").
		Set("last_error_code = _data.last_error_code").
		Set("metadata = _data.metadata").
		Set("completed_at = _data.completed_at").
		Set("locked_by = NULL").
		Set("locked_at = NULL").
		Set("lease_expires_at = NULL").
		Set("updated_at = ?", now).
		Where("e.id = _data.id").
		Where("e.id IN (?)", bun.List(ids)).
		Where("e.status = ?", gateway.OutboxProcessing).
		Where("e.locked_by = _data.fence_worker").
		Where("e.claim_count = _data.fence_claim").
		Returning("id, claim_count").
		Scan(ctx, &applied)
	if err != nil {
		return nil, fmt.Errorf("error completing outbox events: %w", err)
	}
	if err := recordAttempts(ctx, tx, rows, applied); err != nil {
		return nil, err
	}
	return applied, nil
}

// recordAttempts writes the attempts of the completions that landed and
// prunes those events' older attempts: two statements for the batch.
func recordAttempts(ctx context.Context, tx bun.Tx, rows []completionRow, applied []lease) error {
	if len(applied) == 0 {
		return nil
	}
	landed := make(map[lease]bool, len(applied))
	for _, l := range applied {
		landed[l] = true
	}
	values := make([]string, 0, len(applied))
	args := make([]any, 0, 9*len(applied))
	ids := make([]string, 0, len(applied))
	for _, r := range rows {
		if !landed[lease{ID: r.ID, ClaimCount: r.FenceClaim}] {
			continue
		}
		values = append(values, "(?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, r.ID, r.FenceClaim, r.AttemptCount, r.FenceWorker, string(r.Outcome),
			r.LastErrorCode, r.LastError, r.StartedAt, r.FinishedAt)
		ids = append(ids, r.ID)
	}
	// "WHERE true" keeps SQLite from reading ON CONFLICT as a join's ON.
	query := "INSERT INTO outbox_attempts (event_id, number, attempt, workspace_id, backend, worker_id, outcome, error_code, " +
		"error_message, started_at, finished_at) " +
		"SELECT v.column1, v.column2, v.column3, e.workspace_id, e.backend, v.column4, v.column5, v.column6, v.column7, v.column8, v.column9 " +
		"FROM (VALUES " + strings.Join(values, ", ") + ") AS v JOIN outbox_events AS e ON e.id = v.column1 WHERE true " +
		"ON CONFLICT (event_id, number) DO NOTHING"
	if _, err := tx.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("error recording outbox attempts: %w", err)
	}
	_, err := tx.NewDelete().TableExpr("outbox_attempts AS a").
		Where("a.event_id IN (?)", bun.List(ids)).
		Where("a.number <= (SELECT e.claim_count FROM outbox_events AS e WHERE e.id = a.event_id) - ?", gateway.AttemptsKeptPerEvent).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("error pruning outbox attempts: %w", err)
	}
	return nil
}

func (sqliteDialect) aggregateJobs(ctx context.Context, _ *DB, tx bun.Tx, jobIDs []string, now time.Time) ([]gateway.CommitJob, error) {
	if len(jobIDs) == 0 {
		return nil, nil
	}
	errorsAgg := "group_concat(CASE WHEN o.status = 'dead_letter' THEN o.backend || ': ' || o.last_error END, '; ' ORDER BY o.backend)"
	counts := tx.NewSelect().TableExpr("outbox_events AS o").
		ColumnExpr("o.job_id").
		ColumnExpr("sum(CASE WHEN o.status IN (?, ?) THEN 1 ELSE 0 END) AS open_events", gateway.OutboxPending, gateway.OutboxProcessing).
		ColumnExpr("sum(CASE WHEN o.status = ? THEN 1 ELSE 0 END) AS ok_events", gateway.OutboxSuccess).
		ColumnExpr("sum(CASE WHEN o.status = ? THEN 1 ELSE 0 END) AS dead_events", gateway.OutboxDeadLetter).
		ColumnExpr("sum(CASE WHEN o.status = ? AND o.last_error_code = ? THEN 1 ELSE 0 END) AS incomplete_events",
			gateway.OutboxDeadLetter, gateway.ErrorCodeErasureIncomplete).
		ColumnExpr(errorsAgg+" AS errors").
		Where("o.job_id IN (?)", bun.List(jobIDs)).
		GroupExpr("o.job_id")
	rows := make([]jobRow, 0, len(jobIDs))
	err := tx.NewUpdate().Model((*jobRow)(nil)).
		With("_agg", counts).
		TableExpr("_agg").
		Set("status = "+jobStatusCase("_agg"), jobStatusArgs...).
		Set("started_at = COALESCE(j.started_at, ?)", now).
		Set("finished_at = CASE WHEN _agg.open_events > 0 THEN NULL ELSE COALESCE(j.finished_at, ?) END", now).
		Set("error_message = _agg.errors").
		Set("created_refs_count = (SELECT count(*) FROM memory_refs AS r WHERE r.gateway_id = j.id AND r.job_id = j.id)").
		Set("updated_at = ?", now).
		Set("version = j.version + 1").
		Where("j.id = _agg.job_id").
		Where("j.id IN (?)", bun.List(jobIDs)).
		Returning("*").
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("error aggregating jobs: %w", err)
	}
	return toDomain[gateway.CommitJob](rows), nil
}
