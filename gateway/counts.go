package gateway

import "context"

// CountRequest says which counts of a list a caller asked for besides its
// page: each costs one statement, so none is made unasked.
type CountRequest struct {
	Total    bool
	ByStatus bool
}

// ListCounts are the counts of a list across every page: Total is nil and
// ByStatus empty unless asked for. ByStatus leaves out the filter's own
// status, so each entry is the total that filtering on its status gives.
type ListCounts[S ~string] struct {
	Total    *int
	ByStatus map[S]int
}

func listCounts[S ~string](want CountRequest, total func() (int, error), byStatus func() (map[S]int, error)) (ListCounts[S], error) {
	var out ListCounts[S]
	if want.Total {
		n, err := total()
		if err != nil {
			return ListCounts[S]{}, err
		}
		out.Total = &n
	}
	if want.ByStatus && byStatus != nil {
		m, err := byStatus()
		if err != nil {
			return ListCounts[S]{}, err
		}
		out.ByStatus = m
	}
	return out, nil
}

// noStatus is the status type of lists counted only in total.
type noStatus string

// totalOnly counts a list that has no status counts.
func (r Reader) totalOnly(want CountRequest, total func() (int, error)) (*int, error) {
	if r.err != nil {
		return nil, r.err
	}
	c, err := listCounts[noStatus](CountRequest{Total: want.Total}, total, nil)
	return c.Total, err
}

// MemoryRefTotal counts the visible refs matching f, when want asks.
func (r Reader) MemoryRefTotal(ctx context.Context, f RefFilter, want CountRequest) (*int, error) {
	f.Scope = r.scope
	return r.totalOnly(want, func() (int, error) { return r.store.CountMemoryRefs(ctx, f) })
}

// AuditEntryTotal counts the visible audit entries matching f, when want asks.
func (r Reader) AuditEntryTotal(ctx context.Context, f AuditFilter, want CountRequest) (*int, error) {
	f.Scope = r.scope
	return r.totalOnly(want, func() (int, error) { return r.store.CountAuditEntries(ctx, f) })
}

// FeedbackTotal counts the visible feedback matching f, when want asks.
func (r Reader) FeedbackTotal(ctx context.Context, f FeedbackFilter, want CountRequest) (*int, error) {
	f.Scope = r.scope
	return r.totalOnly(want, func() (int, error) { return r.store.CountFeedback(ctx, f) })
}

// ErasureRequestTotal counts the visible erasure requests matching f, when
// want asks.
func (r Reader) ErasureRequestTotal(ctx context.Context, f ErasureFilter, want CountRequest) (*int, error) {
	f.Scope = r.scope
	return r.totalOnly(want, func() (int, error) { return r.store.CountErasureRequests(ctx, f) })
}

// CommitJobCounts counts the visible jobs matching f, as want asks.
func (r Reader) CommitJobCounts(ctx context.Context, f JobFilter, want CountRequest) (ListCounts[JobStatus], error) {
	if r.err != nil {
		return ListCounts[JobStatus]{}, r.err
	}
	f.Scope = r.scope
	return listCounts(want,
		func() (int, error) { return r.store.CountCommitJobs(ctx, f) },
		func() (map[JobStatus]int, error) {
			f.Status = ""
			return r.store.CommitJobStatusCounts(ctx, f)
		})
}

// OutboxEventCounts counts the visible outbox events matching f, as want
// asks.
func (r Reader) OutboxEventCounts(ctx context.Context, f EventFilter, want CountRequest) (ListCounts[OutboxStatus], error) {
	if r.err != nil {
		return ListCounts[OutboxStatus]{}, r.err
	}
	f.Scope = r.scope
	return listCounts(want,
		func() (int, error) { return r.store.CountOutboxEvents(ctx, f) },
		func() (map[OutboxStatus]int, error) {
			f.Status = ""
			sum, err := r.store.OutboxSummary(ctx, f)
			return map[OutboxStatus]int{
				OutboxPending:    sum.PendingEvents,
				OutboxProcessing: sum.ProcessingEvents,
				OutboxSuccess:    sum.SuccessEvents,
				OutboxSkipped:    sum.SkippedEvents,
				OutboxDeadLetter: sum.DeadLetterEvents,
			}, err
		})
}
