package resolvers

import (
	"context"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/graph/model"
)

// Job implements graph.MemoryRefResolver.
func (r *memoryRefResolver) Job(ctx context.Context, obj *gateway.MemoryRef) (*gateway.CommitJob, error) {
	return loadOptional(ctx, loadersFrom(ctx).jobs, obj.JobID)
}

// OutboxEvent implements graph.MemoryRefResolver.
func (r *memoryRefResolver) OutboxEvent(ctx context.Context, obj *gateway.MemoryRef) (*gateway.OutboxEvent, error) {
	return loadOptional(ctx, loadersFrom(ctx).events, obj.OutboxEventID)
}

// Session implements graph.MemoryRefResolver.
func (r *memoryRefResolver) Session(_ context.Context, obj *gateway.MemoryRef) (*gateway.Session, error) {
	return sessionOf(obj.WorkspaceID, obj.SessionID), nil
}

// Siblings implements graph.MemoryRefResolver: the other refs of the same
// gateway id.
func (r *memoryRefResolver) Siblings(ctx context.Context, obj *gateway.MemoryRef, first *int, after *string, last *int, before *string) (*model.MemoryRefConnection, error) {
	conn, err := loadRefs(ctx, loadersFrom(ctx).refsByGateway, obj.GatewayID, paging{first, after, last, before}, obj.ID)
	if err != nil || conn.TotalCount == nil {
		return conn, err
	}
	n := r.Service.Reader(ctx).SiblingTotal(*obj, *conn.TotalCount)
	conn.TotalCount = &n
	return conn, nil
}

// Feedback implements graph.MemoryRefResolver.
func (r *memoryRefResolver) Feedback(ctx context.Context, obj *gateway.MemoryRef, first *int, after *string, last *int, before *string) (*model.MemoryFeedbackConnection, error) {
	page, total, err := nestedPage(ctx, loadersFrom(ctx).feedbackByRef, obj.ID, paging{first, after, last, before})
	if err != nil {
		return nil, err
	}
	conn := feedbackConnection(page)
	conn.TotalCount = total
	return conn, nil
}

// Kind implements graph.CommitJobResolver: a commit, or the routing of
// accepted feedback.
func (r *commitJobResolver) Kind(_ context.Context, obj *gateway.CommitJob) (gateway.JobKind, error) {
	return gateway.KindOf(*obj), nil
}

// OutboxSummary implements graph.CommitJobResolver.
func (r *commitJobResolver) OutboxSummary(ctx context.Context, obj *gateway.CommitJob) (*gateway.OutboxSummary, error) {
	if snap, ok := loadersFrom(ctx).snapshot(obj.ID); ok {
		sum := snap.Summary()
		return &sum, nil
	}
	sum, err := loadersFrom(ctx).summaries.Load(ctx, obj.ID)
	if err != nil {
		return nil, err
	}
	return &sum, nil
}

// OutboxEvents implements graph.CommitJobResolver.
func (r *commitJobResolver) OutboxEvents(ctx context.Context, obj *gateway.CommitJob, first *int, after *string, last *int, before *string) (*model.OutboxEventConnection, error) {
	args := paging{first, after, last, before}
	if snap, ok := loadersFrom(ctx).snapshot(obj.ID); ok {
		p, err := args.request()
		if err != nil {
			return nil, err
		}
		conn := eventConnection(snap.EventsPage(p))
		if countsWanted(ctx).Total {
			n := len(snap.Events)
			conn.TotalCount = &n
		}
		return conn, nil
	}
	page, total, err := nestedPage(ctx, loadersFrom(ctx).eventsByJob, obj.ID, args)
	if err != nil {
		return nil, err
	}
	conn := eventConnection(page)
	conn.TotalCount = total
	return conn, nil
}

// Refs implements graph.CommitJobResolver.
func (r *commitJobResolver) Refs(ctx context.Context, obj *gateway.CommitJob, first *int, after *string, last *int, before *string) (*model.MemoryRefConnection, error) {
	return loadRefs(ctx, loadersFrom(ctx).refsByJob, obj.ID, paging{first, after, last, before}, "")
}

// Session implements graph.CommitJobResolver.
func (r *commitJobResolver) Session(_ context.Context, obj *gateway.CommitJob) (*gateway.Session, error) {
	return sessionOf(obj.WorkspaceID, obj.SessionID), nil
}

// AuditEntries implements graph.CommitJobResolver.
func (r *commitJobResolver) AuditEntries(ctx context.Context, obj *gateway.CommitJob, first *int, after *string, last *int, before *string) (*model.AuditEntryConnection, error) {
	return loadAudit(ctx, loadersFrom(ctx).auditByJob, obj.ID, paging{first, after, last, before})
}

// Job implements graph.OutboxEventResolver.
func (r *outboxEventResolver) Job(ctx context.Context, obj *gateway.OutboxEvent) (*gateway.CommitJob, error) {
	job, err := loadOptional(ctx, loadersFrom(ctx).jobs, obj.JobID)
	if err != nil || job == nil || job.Kind == gateway.JobKindErasure {
		return nil, err // an erasure's job is the event's owner
	}
	return job, nil
}

// Refs implements graph.OutboxEventResolver.
func (r *outboxEventResolver) Refs(ctx context.Context, obj *gateway.OutboxEvent, first *int, after *string, last *int, before *string) (*model.MemoryRefConnection, error) {
	return loadRefs(ctx, loadersFrom(ctx).refsByEvent, obj.ID, paging{first, after, last, before}, "")
}

// Refs implements graph.SessionResolver.
func (r *sessionResolver) Refs(ctx context.Context, obj *gateway.Session, first *int, after *string, last *int, before *string) (*model.MemoryRefConnection, error) {
	return loadRefs(ctx, loadersFrom(ctx).refsBySession, obj.ID, paging{first, after, last, before}, "")
}

// Jobs implements graph.SessionResolver.
func (r *sessionResolver) Jobs(ctx context.Context, obj *gateway.Session, first *int, after *string, last *int, before *string) (*model.CommitJobConnection, error) {
	page, total, err := nestedPage(ctx, loadersFrom(ctx).jobsBySession, obj.ID, paging{first, after, last, before})
	if err != nil {
		return nil, err
	}
	conn := jobConnection(page)
	conn.TotalCount = total
	return conn, nil
}

// AuditEntries implements graph.SessionResolver.
func (r *sessionResolver) AuditEntries(ctx context.Context, obj *gateway.Session, first *int, after *string, last *int, before *string) (*model.AuditEntryConnection, error) {
	return loadAudit(ctx, loadersFrom(ctx).auditBySession, obj.ID, paging{first, after, last, before})
}

// Job implements graph.AuditEntryResolver.
func (r *auditEntryResolver) Job(ctx context.Context, obj *gateway.AuditEntry) (*gateway.CommitJob, error) {
	return loadOptional(ctx, loadersFrom(ctx).jobs, obj.JobID)
}

// Session implements graph.AuditEntryResolver.
func (r *auditEntryResolver) Session(_ context.Context, obj *gateway.AuditEntry) (*gateway.Session, error) {
	if obj.SessionID == nil {
		return nil, nil
	}
	return sessionOf(obj.WorkspaceID, *obj.SessionID), nil
}

// Ref implements graph.MemoryFeedbackResolver.
func (r *memoryFeedbackResolver) Ref(ctx context.Context, obj *gateway.MemoryFeedback) (*gateway.MemoryRef, error) {
	ref, err := loadersFrom(ctx).refs.Load(ctx, obj.MemoryRefID)
	if err != nil {
		return nil, err
	}
	return &ref, nil
}

// SupersededBy implements graph.MemoryRefResolver.
func (r *memoryRefResolver) SupersededBy(ctx context.Context, obj *gateway.MemoryRef) (*gateway.MemoryRef, error) {
	return loadOptional(ctx, loadersFrom(ctx).refs, obj.SupersededByRefID)
}

// supersedesMax bounds MemoryRef.supersedes: a correction retires the refs
// of one memory, a handful.
const supersedesMax = 100

// Supersedes implements graph.MemoryRefResolver.
func (r *memoryRefResolver) Supersedes(ctx context.Context, obj *gateway.MemoryRef) ([]gateway.MemoryRef, error) {
	page, err := loadersFrom(ctx).refsReplacedBy.load(ctx, obj.ID, gateway.PageRequest{First: supersedesMax})
	if err != nil {
		return nil, err
	}
	return page.Items, nil
}

// Job implements graph.MemoryFeedbackResolver.
// ReviewTexts implements graph.MemoryFeedbackResolver: null unless the
// caller may decide the feedback.
func (r *memoryFeedbackResolver) ReviewTexts(ctx context.Context, obj *gateway.MemoryFeedback) (*gateway.FeedbackReviewTexts, error) {
	return loadOptional(ctx, loadersFrom(ctx).reviewTexts, &obj.ID)
}

// Job implements graph.MemoryFeedbackResolver.
func (r *memoryFeedbackResolver) Job(ctx context.Context, obj *gateway.MemoryFeedback) (*gateway.CommitJob, error) {
	return loadOptional(ctx, loadersFrom(ctx).jobs, obj.JobID)
}

// OutboxEvent implements graph.MemoryFeedbackResolver.
func (r *memoryFeedbackResolver) OutboxEvent(ctx context.Context, obj *gateway.MemoryFeedback) (*gateway.OutboxEvent, error) {
	return loadOptional(ctx, loadersFrom(ctx).events, obj.OutboxEventID)
}

// ReplacementRef implements graph.MemoryFeedbackResolver.
func (r *memoryFeedbackResolver) ReplacementRef(ctx context.Context, obj *gateway.MemoryFeedback) (*gateway.MemoryRef, error) {
	return loadOptional(ctx, loadersFrom(ctx).refs, obj.ReplacementRefID)
}

// Feedback implements graph.OutboxEventResolver.
func (r *outboxEventResolver) Feedback(ctx context.Context, obj *gateway.OutboxEvent) (*gateway.MemoryFeedback, error) {
	return loadOptional(ctx, loadersFrom(ctx).feedback, obj.FeedbackID)
}

// Ref implements graph.ContextItemResolver.
func (r *contextItemResolver) Ref(ctx context.Context, obj *gateway.ContextItem) (*gateway.MemoryRef, error) {
	return loadOptional(ctx, loadersFrom(ctx).refs, obj.RefID)
}

// loadRefs loads one page of a parent's refs, leaving out exclude (a ref is
// not its own sibling): it asks for one more than requested so the page is
// still full after the exclusion. The total is the store's count (the
// caller takes exclude out of it).
func loadRefs(ctx context.Context, l *pagedLoader[gateway.MemoryRef], key string, args paging, exclude string) (*model.MemoryRefConnection, error) {
	p, err := args.request()
	if err != nil {
		return nil, err
	}
	if exclude == "" {
		page, total, err := loadPage(ctx, l, key, p)
		if err != nil {
			return nil, err
		}
		conn := refConnection(page)
		conn.TotalCount = total
		return conn, nil
	}
	page, total, err := loadPage(ctx, l, key, p.Grown(1))
	if err != nil {
		return nil, err
	}
	page = gateway.Without(page, func(r gateway.MemoryRef) bool { return r.ID == exclude }, p)
	conn := refConnection(page)
	conn.TotalCount = total
	return conn, nil
}

func loadAudit(ctx context.Context, l *pagedLoader[gateway.AuditEntry], key string, args paging) (*model.AuditEntryConnection, error) {
	page, total, err := nestedPage(ctx, l, key, args)
	if err != nil {
		return nil, err
	}
	conn := auditConnection(page)
	conn.TotalCount = total
	return conn, nil
}
