package persistence

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/namespace"
)

var _ gateway.RetentionStore = (*Store)(nil)

// inWorkspaces narrows a query to a workspace set.
func inWorkspaces(q *bun.SelectQuery, column string, ws gateway.WorkspaceSet) *bun.SelectQuery {
	if ws.Only != "" {
		return q.Where(column+" = ?", ws.Only)
	}
	if len(ws.Except) > 0 {
		return q.Where(column+" NOT IN (?)", bun.List(ws.Except))
	}
	return q
}

// deleteFinishedHeals deletes up to limit finished INGEST_TURN events (they
// have no job) completed before before. A dead-lettered one goes too, as a
// failed job's events do: its ref stays FAILED and counts as unhealable.
func deleteFinishedHeals(ctx context.Context, tx bun.Tx, d sqlDialect, ws gateway.WorkspaceSet, before time.Time, limit int) (int, error) {
	pick := tx.NewSelect().Model((*eventRow)(nil)).Column("e.id").
		Where("e.job_id IS NULL").
		Where("e.operation = ?", gateway.OperationIngestTurn).
		Where("e.status IN (?)", bun.List([]gateway.OutboxStatus{gateway.OutboxSuccess, gateway.OutboxSkipped, gateway.OutboxDeadLetter})).
		Where("e.completed_at < ?", before).
		OrderExpr("e.completed_at").Limit(limit)
	var ids []string
	if err := d.lockClaim(inWorkspaces(pick, "e.workspace_id", ws)).Scan(ctx, &ids); err != nil {
		return 0, fmt.Errorf("error picking finished heal events: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if err := deleteAttemptsOf(ctx, tx, bun.List(ids)); err != nil {
		return 0, err
	}
	res, err := tx.NewDelete().Model((*eventRow)(nil)).Where("e.id IN (?)", bun.List(ids)).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("error deleting finished heal events: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// deleteAttemptsOf deletes the kept attempts of the events retention is
// about to delete (a list of ids or a query of them), before the events
// themselves, so none is left behind.
func deleteAttemptsOf(ctx context.Context, tx bun.Tx, eventIDs any) error {
	if _, err := tx.NewDelete().TableExpr("outbox_attempts AS a").Where("a.event_id IN (?)", eventIDs).Exec(ctx); err != nil {
		return fmt.Errorf("error deleting attempts of finished events: %w", err)
	}
	return nil
}

// DeleteFinishedJobs implements gateway.RetentionStore.
func (s *Store) DeleteFinishedJobs(ctx context.Context, ws gateway.WorkspaceSet, before time.Time, limit int) (int, int, error) {
	var jobs, events int
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var ids []string
		pick := tx.NewSelect().Model((*jobRow)(nil)).Column("j.id").
			Where("j.kind = ?", gateway.JobKindCommit).
			Where("j.status IN (?)", bun.List([]gateway.JobStatus{gateway.JobSuccess, gateway.JobPartialSuccess, gateway.JobFailed})).
			Where("j.created_at < ?", before).
			Where("j.finished_at < ?", before).
			OrderExpr("j.created_at").Limit(limit)
		pick = s.db.sql.lockClaim(inWorkspaces(pick, "j.workspace_id", ws))
		if err := pick.Scan(ctx, &ids); err != nil {
			return fmt.Errorf("error picking finished jobs: %w", err)
		}
		heals, err := deleteFinishedHeals(ctx, tx, s.db.sql, ws, before, limit)
		if err != nil {
			return err
		}
		events = heals
		if len(ids) == 0 {
			return nil
		}
		jobEvents := tx.NewSelect().Model((*eventRow)(nil)).Column("e.id").Where("e.job_id IN (?)", bun.List(ids))
		if err := deleteAttemptsOf(ctx, tx, jobEvents); err != nil {
			return err
		}
		res, err := tx.NewDelete().Model((*eventRow)(nil)).Where("e.job_id IN (?)", bun.List(ids)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("error deleting events of finished jobs: %w", err)
		}
		n, _ := res.RowsAffected()
		events += int(n)
		if res, err = tx.NewDelete().Model((*jobRow)(nil)).Where("j.id IN (?)", bun.List(ids)).Exec(ctx); err != nil {
			return fmt.Errorf("error deleting finished jobs: %w", err)
		}
		n, _ = res.RowsAffected()
		jobs = int(n)
		return nil
	})
	return jobs, events, err
}

// DeleteFinishedAttempts implements gateway.RetentionStore.
func (s *Store) DeleteFinishedAttempts(ctx context.Context, ws gateway.WorkspaceSet, before time.Time, limit int) (int, error) {
	open := s.db.NewSelect().Model((*eventRow)(nil)).ColumnExpr("1").
		Where("e.id = a.event_id").
		Where("e.status IN (?)", bun.List([]gateway.OutboxStatus{gateway.OutboxPending, gateway.OutboxProcessing}))
	pick := s.db.NewSelect().Model((*attemptRow)(nil)).ColumnExpr("a.event_id, a.number").
		Where("a.finished_at < ?", before).
		Where("NOT EXISTS (?)", open).
		OrderExpr("a.finished_at").Limit(limit)
	pick = s.db.sql.lockClaim(inWorkspaces(pick, "a.workspace_id", ws))
	res, err := s.db.NewDelete().Model((*attemptRow)(nil)).Where("(a.event_id, a.number) IN (?)", pick).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("error deleting attempts of finished events: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// DeleteAuditBefore implements gateway.RetentionStore.
func (s *Store) DeleteAuditBefore(ctx context.Context, ws gateway.WorkspaceSet, before time.Time, limit int) (int, error) {
	pick := s.db.NewSelect().Model((*auditRow)(nil)).Column("a.id").
		Where("a.created_at < ?", before).
		Where("a.action <> ?", gateway.AuditActionErase).
		OrderExpr("a.created_at").Limit(limit)
	pick = s.db.sql.lockClaim(inWorkspaces(pick, "a.workspace_id", ws))
	return deleteIn(ctx, s.db, (*auditRow)(nil), "a.id", pick, "audit entries")
}

// DeleteDecidedFeedback implements gateway.RetentionStore.
func (s *Store) DeleteDecidedFeedback(ctx context.Context, ws gateway.WorkspaceSet, before time.Time, limit int) (int, error) {
	pick := s.db.NewSelect().Model((*feedbackRow)(nil)).Column("f.id").
		Where("f.status IN (?)", bun.List([]gateway.FeedbackStatus{gateway.FeedbackRejected, gateway.FeedbackApplied, gateway.FeedbackSkipped, gateway.FeedbackUnsupported, gateway.FeedbackFailed})).
		Where("f.created_at < ?", before).
		Where("f.updated_at < ?", before).
		OrderExpr("f.created_at").Limit(limit)
	pick = s.db.sql.lockClaim(inWorkspaces(pick, "f.workspace_id", ws))
	return deleteIn(ctx, s.db, (*feedbackRow)(nil), "f.id", pick, "decided feedback")
}

// DeleteFinishedWebhookDeliveries implements gateway.RetentionStore.
func (s *Store) DeleteFinishedWebhookDeliveries(ctx context.Context, ws gateway.WorkspaceSet, before time.Time, limit int) (int, error) {
	pick := s.db.NewSelect().Model((*webhookDeliveryRow)(nil)).Column("wd.id").
		Where("wd.status IN (?)", bun.List([]gateway.WebhookDeliveryStatus{gateway.WebhookSuccess, gateway.WebhookDeadLetter})).
		Where("wd.updated_at < ?", before).
		OrderExpr("wd.updated_at").Limit(limit)
	pick = s.db.sql.lockClaim(inWorkspaces(pick, "wd.workspace_id", ws))
	return deleteIn(ctx, s.db, (*webhookDeliveryRow)(nil), "wd.id", pick, "finished webhook deliveries")
}

// deleteIn deletes the rows a pick selects, in one statement.
func deleteIn(ctx context.Context, db *DB, model any, column string, pick *bun.SelectQuery, what string) (int, error) {
	res, err := db.NewDelete().Model(model).Where(db.sql.inSubquery(column), pick).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("error deleting %s: %w", what, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// ExpiredRefs implements gateway.RetentionStore.
func (s *Store) ExpiredRefs(ctx context.Context, ws gateway.WorkspaceSet, rule gateway.MemoryTTL, before time.Time, limit int) ([]gateway.MemoryRef, error) {
	var rows []refRow
	routed := s.db.NewSelect().Model((*feedbackRow)(nil)).ColumnExpr("1").
		Where("f.memory_ref_id = r.id").
		Where("f.source_type = ?", gateway.SourceRetention).
		// The policy's own: a client's feedback under that source type
		// (accepted before it was reserved) exempts nothing.
		Where("f.reviewed_by = ?", gateway.ReviewerRetention)
	q := s.db.NewSelect().Model(&rows).
		Where("r.status = ?", gateway.RefStatusSuccess).
		Where("r.created_at < ?", before).
		Where("NOT EXISTS (?)", routed).
		OrderExpr("r.created_at, r.id").Limit(limit)
	q = inWorkspaces(q, "r.workspace_id", ws)
	if rule.Namespace != "" {
		cond, args := namespace.Condition("r.namespace", rule.Namespace)
		q = q.Where(cond, args...)
	}
	if len(rule.MemoryTypes) > 0 {
		q = q.Where("r.ref_type IN (?)", bun.List(rule.MemoryTypes))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("error finding expired refs: %w", err)
	}
	return toDomain[gateway.MemoryRef](rows), nil
}
