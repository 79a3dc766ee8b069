package persistence

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/namespace"
)

type erasureRow struct {
	bun.BaseModel `bun:"table:erasure_requests,alias:er"`
	gateway.ErasureRequest
	RowNumber int `bun:"rn,scanonly"`
}

func (r erasureRow) domain() gateway.ErasureRequest {
	e := r.ErasureRequest
	e.CreatedAt = e.CreatedAt.UTC()
	return e
}

func (r erasureRow) rowNumber() int { return r.RowNumber }

// openJobStatuses are the statuses of a job still under way.
var openJobStatuses = []gateway.JobStatus{gateway.JobAccepted, gateway.JobRunning}

// CreateErasure implements gateway.ErasureStore. Erasures of one subject are
// serialised by a lock on the subject, taken first (the lock order is jobs,
// then events), so two requests racing without an idempotency key end as
// one erasure.
func (s *Store) CreateErasure(ctx context.Context, req gateway.ErasureRequest, job gateway.CommitJob, events []gateway.OutboxEvent, audit gateway.AuditEntry) (gateway.ErasureRequest, bool, error) {
	var stored gateway.ErasureRequest
	created := false
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		locks := []string{"erasure:" + req.WorkspaceID + ":" + req.UserID}
		if req.IdempotencyKey != nil {
			// Two subjects racing with one key: one wins, the other sees it.
			locks = append(locks, "erasure_key:"+req.WorkspaceID+":"+*req.IdempotencyKey)
			slices.Sort(locks)
		}
		if err := s.db.sql.lockJobs(ctx, tx, locks); err != nil {
			return err
		}
		var existing []erasureRow
		// By key, not by id: requests stored before ids included the
		// subject are found too.
		q := tx.NewSelect().Model(&existing).
			Where("er.workspace_id = ?", req.WorkspaceID).
			Where("er.idempotency_key = ?", derefString(req.IdempotencyKey)).
			OrderExpr("er.created_at, er.id").Limit(1)
		if req.IdempotencyKey == nil {
			// A running erasure of the same subject answers a request that
			// names no key.
			q = tx.NewSelect().Model(&existing).
				Join("JOIN commit_jobs AS j ON j.id = er.job_id").
				Where("er.workspace_id = ?", req.WorkspaceID).
				Where("er.user_id = ?", req.UserID).
				Where("COALESCE(er.agent_id, '') = ?", derefString(req.AgentID)).
				Where("COALESCE(er.namespace, '') = ?", derefString(req.Namespace)).
				Where("j.status IN (?)", bun.List(openJobStatuses)).
				OrderExpr("er.created_at DESC").Limit(1)
		}
		if err := q.Scan(ctx); err != nil {
			return fmt.Errorf("error looking up erasures: %w", err)
		}
		if len(existing) > 0 {
			stored = existing[0].domain()
			if stored.Scope() != req.Scope() {
				return gateway.ErrIdempotencyKeyTaken
			}
			return nil
		}
		job.Metadata = nonNil(job.Metadata)
		if _, err := tx.NewInsert().Model(&jobRow{CommitJob: job}).Exec(ctx); err != nil {
			return fmt.Errorf("error inserting the erasure job: %w", err)
		}
		if len(events) > 0 {
			rows := toEventRows(events)
			if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
				return fmt.Errorf("error inserting erasure events: %w", err)
			}
		}
		if _, err := tx.NewInsert().Model(&erasureRow{ErasureRequest: req}).Exec(ctx); err != nil {
			return fmt.Errorf("error inserting the erasure request: %w", err)
		}
		if err := eraseFeedbackTexts(ctx, tx, req.Scope()); err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, audit); err != nil {
			return err
		}
		if err := s.db.sql.notifyOutbox(ctx, tx); err != nil {
			return err
		}
		stored, created = req, true
		return s.changed(ctx, tx, gateway.Changes{Jobs: []gateway.CommitJob{job}, At: job.UpdatedAt})
	})
	if err != nil {
		return gateway.ErasureRequest{}, false, err
	}
	return stored, created, nil
}

// eraseFeedbackTexts removes the comments and corrections the subject gave
// (they are content) and the reasons their reviewers wrote. The feedback
// rows stay (ids, types, statuses, who decided and when).
func eraseFeedbackTexts(ctx context.Context, tx bun.Tx, scope gateway.ErasureScope) error {
	feedback := tx.NewSelect().Model((*feedbackRow)(nil)).Column("f.id").
		Where("f.workspace_id = ?", scope.WorkspaceID).
		Where("f.user_id = ?", scope.UserID)
	if scope.AgentID != "" {
		feedback = feedback.Where("f.agent_id = ?", scope.AgentID)
	}
	if scope.Namespace != "" {
		cond, args := namespace.Condition("f.namespace", scope.Namespace)
		feedback = feedback.Where(cond, args...)
	}
	_, err := tx.NewDelete().Model((*feedbackContentRow)(nil)).Where("fc.feedback_id IN (?)", feedback).Exec(ctx)
	if err != nil {
		return fmt.Errorf("error erasing feedback texts: %w", err)
	}
	// A reviewer's reason is the operator's text, but it was written about
	// the subject's feedback and may quote it: it goes too.
	reasons := tx.NewUpdate().Model((*feedbackRow)(nil)).Set("review_reason = NULL").
		Where("f.workspace_id = ?", scope.WorkspaceID).
		Where("f.user_id = ?", scope.UserID).
		Where("f.review_reason IS NOT NULL")
	if scope.AgentID != "" {
		reasons = reasons.Where("f.agent_id = ?", scope.AgentID)
	}
	if scope.Namespace != "" {
		cond, args := namespace.Condition("f.namespace", scope.Namespace)
		reasons = reasons.Where(cond, args...)
	}
	_, err = reasons.Exec(ctx)
	if err != nil {
		return fmt.Errorf("error erasing review reasons: %w", err)
	}
	return nil
}

// ActiveErasures implements gateway.ErasureStore.
func (s *Store) ActiveErasures(ctx context.Context, workspaceID, userID string) ([]gateway.ErasureRequest, error) {
	var rows []erasureRow
	if err := activeErasuresOf(s.db, workspaceID, userID).Model(&rows).Scan(ctx); err != nil {
		return nil, fmt.Errorf("error reading active erasures: %w", err)
	}
	return toDomain[gateway.ErasureRequest](rows), nil
}

// activeErasuresOf selects a user's erasure requests whose job is under way.
func activeErasuresOf(db bun.IDB, workspaceID, userID string) *bun.SelectQuery {
	return db.NewSelect().Model((*erasureRow)(nil)).
		Join("JOIN commit_jobs AS j ON j.id = er.job_id").
		Where("er.workspace_id = ?", workspaceID).
		Where("er.user_id = ?", userID).
		Where("j.status IN (?)", bun.List(openJobStatuses))
}

// subjectRefs selects the refs of a subject, reaching them through the
// sessions the user owns (memory_refs keeps no index by user: the ingest
// path is lighter without one).
func subjectRefs(db bun.IDB, q *bun.SelectQuery, scope gateway.ErasureScope) *bun.SelectQuery {
	sessions := db.NewSelect().Table("sessions").Column("session_id").
		Where("workspace_id = ?", scope.WorkspaceID).Where("user_id = ?", scope.UserID)
	q = q.Where("r.workspace_id = ?", scope.WorkspaceID).
		Where("r.session_id IN (?)", sessions).
		Where("r.user_id = ?", scope.UserID)
	if scope.AgentID != "" {
		q = q.Where("r.agent_id = ?", scope.AgentID)
	}
	if scope.Namespace != "" {
		cond, args := namespace.Condition("r.namespace", scope.Namespace)
		q = q.Where(cond, args...)
	}
	return q
}

// SubjectSessionScopes implements gateway.ErasureStore.
func (s *Store) SubjectSessionScopes(ctx context.Context, scope gateway.ErasureScope) ([]backendtype.SessionScope, error) {
	held := s.db.NewSelect().Model((*sessionScopeRow)(nil)).Column("sc.session_id").
		Where("sc.workspace_id = ?", scope.WorkspaceID).Where("sc.user_id = ?", scope.UserID)
	if scope.AgentID != "" {
		held = held.Where("sc.agent_id = ?", scope.AgentID)
	}
	if scope.Namespace != "" {
		cond, args := namespace.Condition("sc.namespace", scope.Namespace)
		held = held.Where(cond, args...)
	}
	var rows []sessionScopeRow
	err := s.db.NewSelect().Model(&rows).Distinct().Column("sc.agent_id", "sc.namespace").
		Where("sc.workspace_id = ?", scope.WorkspaceID).
		Where("sc.user_id = ?", scope.UserID).
		Where("sc.session_id IN (?)", held).
		OrderExpr("sc.agent_id, sc.namespace").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("error reading the scopes of the subject's sessions: %w", err)
	}
	out := make([]backendtype.SessionScope, len(rows))
	for i, r := range rows {
		out[i] = backendtype.SessionScope{AgentID: r.AgentID, Namespace: r.Namespace}
	}
	return out, nil
}

// SubjectRefs implements gateway.ErasureStore: the subject's refs in one
// backend that still name a memory.
func (s *Store) SubjectRefs(ctx context.Context, scope gateway.ErasureScope, backend backendtype.Backend) ([]gateway.MemoryRef, error) {
	var rows []refRow
	q := subjectRefs(s.db, s.db.NewSelect().Model(&rows), scope).
		Where("r.backend = ?", backend).
		Where("r.status <> ?", gateway.RefStatusDeleted).
		OrderExpr("r.created_at, r.id")
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("error reading the subject's refs: %w", err)
	}
	return toDomain[gateway.MemoryRef](rows), nil
}

// SubjectRefCounts implements gateway.ErasureStore: the subject's refs in
// one backend that still name a memory, counted by type.
func (s *Store) SubjectRefCounts(ctx context.Context, scope gateway.ErasureScope, backend backendtype.Backend) (map[backendtype.RefType]int, error) {
	var rows []struct {
		RefType backendtype.RefType `bun:"ref_type"`
		N       int                 `bun:"n"`
	}
	q := subjectRefs(s.db, s.db.NewSelect().Model((*refRow)(nil)).ColumnExpr("r.ref_type").ColumnExpr("count(*) AS n"), scope).
		Where("r.backend = ?", backend).
		Where("r.status <> ?", gateway.RefStatusDeleted).
		GroupExpr("r.ref_type")
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("error counting the subject's refs: %w", err)
	}
	out := make(map[backendtype.RefType]int, len(rows))
	for _, r := range rows {
		out[r.RefType] = r.N
	}
	return out, nil
}

// SubjectRefsPage implements gateway.ErasureStore.
func (s *Store) SubjectRefsPage(ctx context.Context, scope gateway.ErasureScope, after *gateway.Cursor, limit int) ([]gateway.MemoryRef, error) {
	var rows []refRow
	q := subjectRefs(s.db, s.db.NewSelect().Model(&rows), scope)
	if after != nil {
		q = q.Where("(r.created_at, r.id) > (?, ?)", after.CreatedAt, after.ID)
	}
	if err := q.OrderExpr("r.created_at, r.id").Limit(limit).Scan(ctx); err != nil {
		return nil, fmt.Errorf("error paging the subject's refs: %w", err)
	}
	return toDomain[gateway.MemoryRef](rows), nil
}

// markErased marks the subject's refs of one backend DELETED (but those of
// the types a partial erasure kept), with the erasure that deleted them: retrieval then screens what a backend still
// returns of them as erased.
func (s *Store) markErased(ctx context.Context, tx bun.Tx, e *gateway.ErasureCompletion, now time.Time) error {
	sel := subjectRefs(tx, tx.NewSelect().Model((*refRow)(nil)).Column("r.id"), e.Scope).
		Where("r.backend = ?", e.Backend).
		Where("r.status <> ?", gateway.RefStatusDeleted)
	if len(e.Keep) > 0 {
		// A partial erasure: the memories of these types remain.
		sel = sel.Where("r.ref_type NOT IN (?)", bun.List(e.Keep))
	}
	_, err := tx.NewUpdate().Model((*refRow)(nil)).
		Set("status = ?", gateway.RefStatusDeleted).
		Set("superseded_at = ?", now).
		Set("updated_at = ?", now).
		Set("metadata = "+s.db.sql.withMetadataKey("r.metadata", "erased_by"), e.RequestID).
		Where("r.id IN (?)", sel).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("error marking erased refs: %w", err)
	}
	if len(e.Sessions) == 0 {
		return nil
	}
	// Sessions deleted whole: what any scope stored there is gone too.
	_, err = tx.NewUpdate().Model((*refRow)(nil)).
		Set("status = ?", gateway.RefStatusDeleted).
		Set("superseded_at = ?", now).
		Set("updated_at = ?", now).
		Set("metadata = "+s.db.sql.withMetadataKey("r.metadata", "erased_by"), e.RequestID).
		Where("r.workspace_id = ?", e.Scope.WorkspaceID).
		Where("r.user_id = ?", e.Scope.UserID).
		Where("r.backend = ?", e.Backend).
		Where("r.ref_type = ?", backendtype.RefTypeSessionArchive).
		Where("r.session_id IN (?)", bun.List(e.Sessions)).
		Where("r.status <> ?", gateway.RefStatusDeleted).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("error marking the refs of deleted sessions: %w", err)
	}
	return nil
}

// ErasureRequestsByIDs implements gateway.ReadStore.
func (s *Store) ErasureRequestsByIDs(ctx context.Context, ids []string) ([]gateway.ErasureRequest, error) {
	return byIDs[gateway.ErasureRequest, erasureRow](ctx, s.db, "er", ids)
}

// ListErasureRequests implements gateway.ReadStore.
func (s *Store) ListErasureRequests(ctx context.Context, f gateway.ErasureFilter, p gateway.PageRequest) (gateway.Page[gateway.ErasureRequest], error) {
	return listPage[gateway.ErasureRequest, erasureRow](ctx, s.db, "er", func(q *bun.SelectQuery) *bun.SelectQuery { return applyErasureFilter(q, f) }, p)
}

func applyErasureFilter(q *bun.SelectQuery, f gateway.ErasureFilter) *bun.SelectQuery {
	q = applyScope(q, f.Scope, "er", "user_id", "agent_id")
	q = whereEq(q, "er.workspace_id", f.WorkspaceID)
	q = whereEq(q, "er.user_id", f.UserID)
	if f.Status != "" {
		q = q.Join("JOIN commit_jobs AS j ON j.id = er.job_id").Where("j.status = ?", erasureJobStatus(f.Status))
	}
	return q
}

// erasureJobStatus is the job status an erasure status reads from.
func erasureJobStatus(s gateway.ErasureStatus) gateway.JobStatus {
	switch s {
	case gateway.ErasureAccepted:
		return gateway.JobAccepted
	case gateway.ErasureCompleted:
		return gateway.JobSuccess
	case gateway.ErasurePartial:
		return gateway.JobPartialSuccess
	case gateway.ErasureFailed:
		return gateway.JobFailed
	default:
		return gateway.JobRunning
	}
}
