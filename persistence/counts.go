package persistence

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// A list's counts apply the list's own filter, scope included, so they count
// only what the caller may read; each is one statement whatever the page.

func countList[R any](ctx context.Context, db bun.IDB, filter func(*bun.SelectQuery) *bun.SelectQuery) (int, error) {
	n, err := filter(db.NewSelect().Model((*R)(nil))).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("error counting: %w", err)
	}
	return n, nil
}

func countByStatus[S ~string, R any](ctx context.Context, db bun.IDB, alias string, filter func(*bun.SelectQuery) *bun.SelectQuery) (map[S]int, error) {
	var rows []struct {
		Status S
		N      int
	}
	q := filter(db.NewSelect().Model((*R)(nil))).
		ColumnExpr(alias + ".status, count(*) AS n").
		GroupExpr(alias + ".status")
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("error counting by status: %w", err)
	}
	out := make(map[S]int, len(rows))
	for _, r := range rows {
		out[r.Status] += r.N
	}
	return out, nil
}

// CountMemoryRefs implements gateway.ReadStore.
func (s *Store) CountMemoryRefs(ctx context.Context, f gateway.RefFilter) (int, error) {
	return countList[refRow](ctx, s.db, func(q *bun.SelectQuery) *bun.SelectQuery { return applyRefFilter(q, f) })
}

// CountCommitJobs implements gateway.ReadStore.
func (s *Store) CountCommitJobs(ctx context.Context, f gateway.JobFilter) (int, error) {
	return countList[jobRow](ctx, s.db, func(q *bun.SelectQuery) *bun.SelectQuery { return applyJobFilter(q, f, s.db.sql) })
}

// CountOutboxEvents implements gateway.ReadStore.
func (s *Store) CountOutboxEvents(ctx context.Context, f gateway.EventFilter) (int, error) {
	return countList[eventRow](ctx, s.db, func(q *bun.SelectQuery) *bun.SelectQuery { return applyEventFilter(q, f) })
}

// CountAuditEntries implements gateway.ReadStore.
func (s *Store) CountAuditEntries(ctx context.Context, f gateway.AuditFilter) (int, error) {
	return countList[auditRow](ctx, s.db, func(q *bun.SelectQuery) *bun.SelectQuery { return applyAuditFilter(q, f) })
}

// CountFeedback implements gateway.ReadStore.
func (s *Store) CountFeedback(ctx context.Context, f gateway.FeedbackFilter) (int, error) {
	return countList[feedbackRow](ctx, s.db, func(q *bun.SelectQuery) *bun.SelectQuery { return applyFeedbackFilter(q, f) })
}

// CountErasureRequests implements gateway.ReadStore.
func (s *Store) CountErasureRequests(ctx context.Context, f gateway.ErasureFilter) (int, error) {
	return countList[erasureRow](ctx, s.db, func(q *bun.SelectQuery) *bun.SelectQuery { return applyErasureFilter(q, f) })
}

// CommitJobStatusCounts implements gateway.ReadStore.
func (s *Store) CommitJobStatusCounts(ctx context.Context, f gateway.JobFilter) (map[gateway.JobStatus]int, error) {
	return countByStatus[gateway.JobStatus, jobRow](ctx, s.db, "j", func(q *bun.SelectQuery) *bun.SelectQuery { return applyJobFilter(q, f, s.db.sql) })
}

// CountWebhookDeliveries implements gateway.WebhookStore.
func (s *Store) CountWebhookDeliveries(ctx context.Context, f gateway.WebhookDeliveryFilter) (int, error) {
	return countList[webhookDeliveryRow](ctx, s.db, func(q *bun.SelectQuery) *bun.SelectQuery { return applyDeliveryFilter(q, f) })
}

// WebhookDeliveryStatusCounts implements gateway.WebhookStore.
func (s *Store) WebhookDeliveryStatusCounts(ctx context.Context, f gateway.WebhookDeliveryFilter) (map[gateway.WebhookDeliveryStatus]int, error) {
	return countByStatus[gateway.WebhookDeliveryStatus, webhookDeliveryRow](ctx, s.db, "wd", func(q *bun.SelectQuery) *bun.SelectQuery { return applyDeliveryFilter(q, f) })
}
