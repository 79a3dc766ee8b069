package resolvers

import (
	"context"
	"errors"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/graph/model"
	"github.com/memory-gateway/memory-gateway/requestinfo"
)

// Node implements graph.QueryResolver. An unknown id is null, as Relay
// expects, not an error.
func (r *queryResolver) Node(ctx context.Context, id string) (gateway.Node, error) {
	if n, ok := r.webhookNode(ctx, id); ok {
		return n, nil
	}
	n, err := r.Service.Reader(ctx).Node(ctx, id)
	if errors.Is(err, gateway.ErrNotFound) {
		return nil, nil
	}
	return n, err
}

// MemoryRef implements graph.QueryResolver.
func (r *queryResolver) MemoryRef(ctx context.Context, id string) (*gateway.MemoryRef, error) {
	ref, err := r.Service.Reader(ctx).MemoryRef(ctx, id)
	if err != nil {
		return nil, inArg("id", err)
	}
	return &ref, nil
}

// MemoryTexts implements graph.QueryResolver.
func (r *queryResolver) MemoryTexts(ctx context.Context, ids []string) ([]gateway.MemoryText, error) {
	texts, err := r.Service.MemoryTexts(ctx, ids)
	if err != nil {
		return nil, inArg("ids", err)
	}
	return texts, nil
}

// MemoryRefs implements graph.QueryResolver.
func (r *queryResolver) MemoryRefs(ctx context.Context, filter *gateway.RefFilter, first *int, after *string, last *int, before *string) (*model.MemoryRefConnection, error) {
	p, err := pagingRequest(first, after, last, before)
	if err != nil {
		return nil, err
	}
	reader, f := r.Service.Reader(ctx), deref(filter)
	page, err := reader.ListMemoryRefs(ctx, f, p)
	if err != nil {
		return nil, err
	}
	conn := refConnection(page)
	conn.TotalCount, err = reader.MemoryRefTotal(ctx, f, countsWanted(ctx))
	return conn, err
}

// CommitJob implements graph.QueryResolver.
func (r *queryResolver) CommitJob(ctx context.Context, id string) (*gateway.CommitJob, error) {
	job, err := r.Service.Reader(ctx).CommitJob(ctx, id)
	if err == nil && job.Kind == gateway.JobKindErasure {
		// An erasure's job is an ErasureJob: see erasureRequest or node.
		err = &gateway.NotFoundError{What: "commit job"}
	}
	if err != nil {
		return nil, inArg("id", err)
	}
	return &job, nil
}

// CommitJobs implements graph.QueryResolver.
func (r *queryResolver) CommitJobs(ctx context.Context, filter *gateway.JobFilter, first *int, after *string, last *int, before *string) (*model.CommitJobConnection, error) {
	p, err := pagingRequest(first, after, last, before)
	if err != nil {
		return nil, err
	}
	reader, f := r.Service.Reader(ctx), deref(filter)
	page, err := reader.ListCommitJobs(ctx, f, p)
	if err != nil {
		return nil, err
	}
	counts, err := reader.CommitJobCounts(ctx, f, countsWanted(ctx))
	if err != nil {
		return nil, err
	}
	conn := jobConnection(page)
	conn.TotalCount, conn.StatusCounts = counts.Total, jobStatusCounts(counts.ByStatus)
	return conn, nil
}

// Jobs implements graph.QueryResolver.
func (r *queryResolver) Jobs(ctx context.Context, filter *gateway.JobFilter, first *int, after *string, last *int, before *string) (*model.JobConnection, error) {
	p, err := pagingRequest(first, after, last, before)
	if err != nil {
		return nil, err
	}
	f := deref(filter)
	f.AllKinds = f.Kind == ""
	reader := r.Service.Reader(ctx)
	page, err := reader.ListCommitJobs(ctx, f, p)
	if err != nil {
		return nil, err
	}
	counts, err := reader.CommitJobCounts(ctx, f, countsWanted(ctx))
	if err != nil {
		return nil, err
	}
	conn := anyJobConnection(page)
	conn.TotalCount, conn.StatusCounts = counts.Total, jobStatusCounts(counts.ByStatus)
	return conn, nil
}

// OutboxSummaries implements graph.QueryResolver.
func (r *queryResolver) OutboxSummaries(ctx context.Context, workspaceID *string) ([]model.BackendOutboxSummary, error) {
	reader := r.Service.Reader(ctx)
	var out []model.BackendOutboxSummary
	for _, b := range r.Service.Backends() {
		sum, err := reader.OutboxSummary(ctx, gateway.EventFilter{WorkspaceID: deref(workspaceID), Backend: b.Name()})
		if err != nil {
			return nil, err
		}
		out = append(out, model.BackendOutboxSummary{Backend: b.Name(), Summary: &sum})
	}
	return out, nil
}

// IngestHeals implements graph.QueryResolver.
func (r *queryResolver) IngestHeals(ctx context.Context, workspaceID *string) ([]gateway.IngestHealCount, error) {
	counts, err := r.Service.Reader(ctx).IngestHeals(ctx, deref(workspaceID))
	if err != nil {
		return nil, err
	}
	out := make([]gateway.IngestHealCount, 0, len(r.Service.Backends()))
	for _, b := range r.Service.Backends() {
		c := counts[b.Name()]
		c.Backend = b.Name()
		out = append(out, c)
	}
	return out, nil
}

// OutboxEvents implements graph.QueryResolver.
func (r *queryResolver) OutboxEvents(ctx context.Context, filter *gateway.EventFilter, first *int, after *string, last *int, before *string) (*model.OutboxEventConnection, error) {
	p, err := pagingRequest(first, after, last, before)
	if err != nil {
		return nil, err
	}
	reader, f := r.Service.Reader(ctx), deref(filter)
	page, err := reader.ListOutboxEvents(ctx, f, p)
	if err != nil {
		return nil, err
	}
	counts, err := reader.OutboxEventCounts(ctx, f, countsWanted(ctx))
	if err != nil {
		return nil, err
	}
	conn := eventConnection(page)
	conn.TotalCount, conn.StatusCounts = counts.Total, outboxStatusCounts(counts.ByStatus)
	return conn, nil
}

// OutboxSummary implements graph.QueryResolver.
func (r *queryResolver) OutboxSummary(ctx context.Context, workspaceID *string) (*gateway.OutboxSummary, error) {
	sum, err := r.Service.Reader(ctx).OutboxSummary(ctx, gateway.EventFilter{WorkspaceID: deref(workspaceID)})
	if err != nil {
		return nil, err
	}
	return &sum, nil
}

// Session implements graph.QueryResolver.
func (r *queryResolver) Session(ctx context.Context, workspaceID string, sessionID string) (*gateway.Session, error) {
	s, err := r.Service.Reader(ctx).Session(ctx, workspaceID, sessionID)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// AuditLog implements graph.QueryResolver.
func (r *queryResolver) AuditLog(ctx context.Context, filter *gateway.AuditFilter, first *int, after *string, last *int, before *string) (*model.AuditEntryConnection, error) {
	p, err := pagingRequest(first, after, last, before)
	if err != nil {
		return nil, err
	}
	reader, f := r.Service.Reader(ctx), deref(filter)
	page, err := reader.ListAuditEntries(ctx, f, p)
	if err != nil {
		return nil, err
	}
	conn := auditConnection(page)
	conn.TotalCount, err = reader.AuditEntryTotal(ctx, f, countsWanted(ctx))
	return conn, err
}

// Feedback implements graph.QueryResolver.
func (r *queryResolver) Feedback(ctx context.Context, filter *gateway.FeedbackFilter, first *int, after *string, last *int, before *string) (*model.MemoryFeedbackConnection, error) {
	p, err := pagingRequest(first, after, last, before)
	if err != nil {
		return nil, err
	}
	reader, f := r.Service.Reader(ctx), deref(filter)
	page, err := reader.ListFeedback(ctx, f, p)
	if err != nil {
		return nil, err
	}
	conn := feedbackConnection(page)
	conn.TotalCount, err = reader.FeedbackTotal(ctx, f, countsWanted(ctx))
	return conn, err
}

// RetrieveContext implements graph.QueryResolver.
func (r *queryResolver) RetrieveContext(ctx context.Context, input gateway.RetrieveContextInput) (*gateway.RetrieveResult, error) {
	if input.TraceID == "" {
		// The payload's traceId finds this request in the tracing backend.
		input.TraceID = requestinfo.TraceID(ctx)
	}
	res, err := r.Service.RetrieveContext(ctx, input)
	if err != nil {
		return nil, inArg("input", err)
	}
	return &res, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Backends implements graph.QueryResolver.
func (r *queryResolver) Backends(ctx context.Context) ([]gateway.BackendStatus, error) {
	return r.Service.BackendStatuses(ctx)
}

// Sessions implements graph.QueryResolver.
func (r *queryResolver) Sessions(ctx context.Context, filter *gateway.SessionFilter, first *int, after *string, last *int, before *string) (*model.SessionConnection, error) {
	p, err := sessionPagingRequest(first, after, last, before)
	if err != nil {
		return nil, err
	}
	reader, f := r.Service.Reader(ctx), deref(filter)
	page, err := reader.ListSessions(ctx, f, p)
	if err != nil {
		return nil, err
	}
	total, err := reader.SessionTotal(ctx, f, countsWanted(ctx))
	if err != nil {
		return nil, err
	}
	e, info := edges(page, sessionCursor, func(c string, n *gateway.SessionInfo) model.SessionEdge {
		return model.SessionEdge{Cursor: c, Node: sessionOf(n.WorkspaceID, n.SessionID), UserID: n.UserID, StartedAt: n.CreatedAt}
	})
	return &model.SessionConnection{Edges: e, PageInfo: info, TotalCount: total}, nil
}

// BackendMetrics implements graph.QueryResolver.
func (r *queryResolver) BackendMetrics(ctx context.Context) (*gateway.BackendMetrics, error) {
	m, err := r.Service.BackendMetrics(ctx)
	if err != nil {
		return nil, err
	}
	return &m, nil
}
