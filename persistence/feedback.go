package persistence

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// insertRoute writes the job and outbox event that carry accepted feedback
// to its backend, and announces both.
func (s *Store) insertRoute(ctx context.Context, tx bun.Tx, route *gateway.FeedbackRoute) error {
	job := route.Job
	job.Metadata = nonNil(job.Metadata)
	if job.Kind == "" {
		job.Kind = gateway.JobKindCommit
	}
	row := jobRow{CommitJob: job}
	if _, err := tx.NewInsert().Model(&row).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("error inserting the feedback job: %w", err)
	}
	events := toEventRows([]gateway.OutboxEvent{route.Event})
	if _, err := tx.NewInsert().Model(&events).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("error inserting the feedback outbox event: %w", err)
	}
	if err := s.db.sql.notifyOutbox(ctx, tx); err != nil {
		return err
	}
	return s.changed(ctx, tx, gateway.Changes{Jobs: []gateway.CommitJob{job}, At: job.UpdatedAt})
}

// ReviewFeedback implements gateway.FeedbackStore.
func (s *Store) ReviewFeedback(ctx context.Context, review gateway.FeedbackReview) (gateway.MemoryFeedback, bool, error) {
	var stored feedbackRow
	changed := false
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Model((*feedbackRow)(nil)).
			Set("status = ?", review.Status).
			Set("review_reason = ?", review.Reason).
			Set("reviewed_by = ?", review.ReviewedBy).
			Set("reviewed_at = ?", review.ReviewedAt).
			Set("updated_at = ?", review.ReviewedAt).
			Where("f.id = ?", review.FeedbackID).
			Where("f.status = ?", gateway.FeedbackReceived)
		if review.Route != nil {
			q = q.Set("job_id = ?", review.Route.Job.ID).Set("outbox_event_id = ?", review.Route.Event.ID)
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return fmt.Errorf("error updating feedback: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			changed = true
			if review.Route != nil {
				if err := s.insertRoute(ctx, tx, review.Route); err != nil {
					return err
				}
			}
			if err := insertAudit(ctx, tx, review.Audit); err != nil {
				return err
			}
		}
		if err := tx.NewSelect().Model(&stored).Where("f.id = ?", review.FeedbackID).Scan(ctx); err != nil {
			return fmt.Errorf("error reading feedback: %w", err)
		}
		return nil
	})
	if err != nil {
		return gateway.MemoryFeedback{}, false, err
	}
	return stored.domain(), changed, nil
}

// applyFeedbackOutcomes writes what finished APPLY_FEEDBACK events did: the
// feedback's status, the retirement of the memory's refs, the audit entry.
// It runs in the completion's transaction, after the replacement refs were
// written, for completions whose fence held.
func applyFeedbackOutcomes(ctx context.Context, tx bun.Tx, outcomes []*gateway.FeedbackOutcome, now time.Time) ([]gateway.MemoryRef, error) {
	var retired []gateway.MemoryRef
	for _, o := range outcomes {
		q := tx.NewUpdate().Model((*feedbackRow)(nil)).
			Set("status = ?", o.Status).
			Set("result_reason = ?", o.ResultReason).
			Set("updated_at = ?", now).
			Where("f.id = ?", o.FeedbackID)
		if o.Status == gateway.FeedbackApplied {
			q = q.Set("replacement_ref_id = ?", o.ReplacementRefID).Set("applied_at = ?", now)
		}
		if _, err := q.Exec(ctx); err != nil {
			return nil, fmt.Errorf("error recording the feedback outcome: %w", err)
		}
		if o.Retire != nil {
			refs, err := retireRefs(ctx, tx, o.Retire, now)
			if err != nil {
				return nil, err
			}
			retired = append(retired, refs...)
		}
		if err := insertAudit(ctx, tx, o.Audit); err != nil {
			return nil, err
		}
	}
	return retired, nil
}

// retireRefs marks the live refs of one backend memory superseded (linked
// to the replacement) or deleted: the ref the feedback named and every other
// ref of the same native id or uri, except the replacement itself. It
// returns the refs it retired.
func retireRefs(ctx context.Context, tx bun.Tx, r *gateway.RefRetirement, now time.Time) ([]gateway.MemoryRef, error) {
	q := tx.NewUpdate().Model((*refRow)(nil)).
		Set("status = ?", r.Status).
		Set("superseded_by_ref_id = ?", r.SupersededBy).
		Set("superseded_at = ?", now).
		Set("updated_at = ?", now).
		Set("content_hash = COALESCE(r.content_hash, ?)", r.ContentHash).
		Where("r.workspace_id = ?", r.WorkspaceID).
		Where("r.backend = ?", r.Backend).
		Where("r.status = ?", gateway.RefStatusSuccess).
		WhereGroup(" AND ", func(q *bun.UpdateQuery) *bun.UpdateQuery {
			if r.RefID != "" {
				q = q.WhereOr("r.id = ?", r.RefID)
			}
			if r.NativeID != "" {
				q = q.WhereOr("r.native_id = ?", r.NativeID)
			}
			if r.NativeURI != "" {
				q = q.WhereOr("r.native_uri = ?", r.NativeURI)
			}
			return q
		})
	if r.SupersededBy != nil {
		q = q.Where("r.id <> ?", *r.SupersededBy)
	}
	if r.UserID != "" {
		q = q.Where("r.user_id = ?", r.UserID)
	}
	var rows []refRow
	if err := q.Returning("*").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("error retiring the memory's refs: %w", err)
	}
	return toDomain[gateway.MemoryRef](rows), nil
}

// failFeedbackOf marks the feedback of dead-lettered events FAILED (a
// rescue gave up on them).
func failFeedbackOf(ctx context.Context, tx bun.Tx, eventIDs []string, reason string, now time.Time) error {
	if len(eventIDs) == 0 {
		return nil
	}
	_, err := tx.NewUpdate().Model((*feedbackRow)(nil)).
		Set("status = ?", gateway.FeedbackFailed).
		Set("result_reason = ?", reason).
		Set("updated_at = ?", now).
		Where("f.outbox_event_id IN (?)", bun.List(eventIDs)).
		Where("f.status = ?", gateway.FeedbackAccepted).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("error failing the feedback of dead-lettered events: %w", err)
	}
	return nil
}

// reacceptFeedbackOf puts the feedback of re-driven events back to ACCEPTED.
func reacceptFeedbackOf(ctx context.Context, tx bun.Tx, eventIDs []string, now time.Time) error {
	if len(eventIDs) == 0 {
		return nil
	}
	_, err := tx.NewUpdate().Model((*feedbackRow)(nil)).
		Set("status = ?", gateway.FeedbackAccepted).
		Set("result_reason = NULL").
		Set("updated_at = ?", now).
		Where("f.outbox_event_id IN (?)", bun.List(eventIDs)).
		Where("f.status = ?", gateway.FeedbackFailed).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("error re-accepting the feedback of re-driven events: %w", err)
	}
	return nil
}
