package gateway

import (
	"context"
	"fmt"
	"strings"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Reader serves the dashboard graph for one caller: every list is narrowed
// to the caller's read scope and every lookup of something outside it is
// NOT_FOUND, so a caller learns nothing, not even existence or counts, of
// data beyond its grants.
type Reader struct {
	store ReadStore
	scope ReadScope
	err   error
}

// Reader returns the read API for the caller in ctx.
func (s *Service) Reader(ctx context.Context) Reader {
	p, err := s.principal(ctx)
	if err != nil {
		return Reader{err: err}
	}
	return Reader{store: s.store, scope: p.ReadScope()}
}

// Scope is the caller's read scope.
func (r Reader) Scope() ReadScope { return r.scope }

// NewPageRequest validates Relay paging arguments: first defaults to
// PageSizeDefault and may not exceed PageSizeMax.
func NewPageRequest(first *int, after *Cursor) (PageRequest, error) {
	p := PageRequest{First: PageSizeDefault, After: after}
	if first != nil {
		if *first < 0 || *first > PageSizeMax {
			return PageRequest{}, NewInputError("first", fmt.Sprintf("must be between 0 and %d", PageSizeMax))
		}
		p.First = *first
	}
	return p, nil
}

// NewPagingRequest validates Relay arguments in either direction: first
// with after pages forward, last with before backward; mixing the two
// directions is refused, naming the argument that mixes them. Neither
// first nor last asks for the first PageSizeDefault items.
func NewPagingRequest(first *int, after *Cursor, last *int, before *Cursor) (PageRequest, error) {
	if err := CheckPagingDirection(first != nil, after != nil, last != nil, before != nil); err != nil {
		return PageRequest{}, err
	}
	if last == nil && before == nil {
		return NewPageRequest(first, after)
	}
	p := PageRequest{Backward: true, Last: PageSizeDefault, Before: before}
	if last != nil {
		if *last < 0 || *last > PageSizeMax {
			return PageRequest{}, NewInputError("last", fmt.Sprintf("must be between 0 and %d", PageSizeMax))
		}
		p.Last = *last
	}
	return p, nil
}

// CheckPagingDirection refuses Relay arguments that mix the two directions,
// naming the argument that mixes them; it is checked before any cursor is
// read, so the error names the mix rather than a cursor.
func CheckPagingDirection(first, after, last, before bool) error {
	switch {
	case first && last:
		return NewInputError("last", "cannot be combined with first: page forward with first and after, or backward with last and before")
	case after && before:
		return NewInputError("before", "cannot be combined with after")
	case first && before:
		return NewInputError("before", "pages backward: use it with last, not first")
	case last && after:
		return NewInputError("after", "pages forward: use it with first, not last")
	}
	return nil
}

// visible filters loaded records down to the scope.
func visible[T any](r Reader, items []T, place func(T) (workspace, namespace, user, agent string)) []T {
	if !r.scope.Restricted {
		return items
	}
	out := items[:0:0]
	for _, it := range items {
		if r.scope.Allows(place(it)) {
			out = append(out, it)
		}
	}
	return out
}

func refPlace(x MemoryRef) (string, string, string, string) {
	return x.WorkspaceID, x.Namespace, x.UserID, x.AgentID
}
func jobPlace(x CommitJob) (string, string, string, string) {
	return x.WorkspaceID, x.Namespace, x.UserID, x.AgentID
}
func eventPlace(x OutboxEvent) (string, string, string, string) {
	return x.WorkspaceID, x.Namespace, x.UserID, x.AgentID
}
func auditPlace(x AuditEntry) (string, string, string, string) {
	return x.WorkspaceID, deref(x.Namespace), deref(x.ActorUserID), deref(x.ActorAgentID)
}
func feedbackPlace(x MemoryFeedback) (string, string, string, string) {
	return x.WorkspaceID, x.Namespace, x.UserID, x.AgentID
}
func erasurePlace(x ErasureRequest) (string, string, string, string) {
	return x.WorkspaceID, deref(x.Namespace), x.UserID, deref(x.AgentID)
}

// ErasureRequestsByIDs returns the visible erasure requests among ids.
func (r Reader) ErasureRequestsByIDs(ctx context.Context, ids []string) ([]ErasureRequest, error) {
	if r.err != nil {
		return nil, r.err
	}
	items, err := r.store.ErasureRequestsByIDs(ctx, ids)
	return visible(r, items, erasurePlace), err
}

// ErasureRequest returns one erasure request or a NotFoundError.
func (r Reader) ErasureRequest(ctx context.Context, id string) (ErasureRequest, error) {
	return one(ctx, r.ErasureRequestsByIDs, id, "erasure request")
}

// ListErasureRequests lists visible erasure requests.
func (r Reader) ListErasureRequests(ctx context.Context, f ErasureFilter, p PageRequest) (Page[ErasureRequest], error) {
	if r.err != nil {
		return Page[ErasureRequest]{}, r.err
	}
	f.Scope = r.scope
	return r.store.ListErasureRequests(ctx, f, p)
}

// MemoryRefsByIDs returns the visible refs among ids.
func (r Reader) MemoryRefsByIDs(ctx context.Context, ids []string) ([]MemoryRef, error) {
	if r.err != nil {
		return nil, r.err
	}
	items, err := r.store.MemoryRefsByIDs(ctx, ids)
	return visible(r, items, refPlace), err
}

// CommitJobsByIDs returns the visible jobs among ids.
func (r Reader) CommitJobsByIDs(ctx context.Context, ids []string) ([]CommitJob, error) {
	if r.err != nil {
		return nil, r.err
	}
	items, err := r.store.CommitJobsByIDs(ctx, ids)
	return visible(r, items, jobPlace), err
}

// OutboxEventsByIDs returns the visible events among ids.
func (r Reader) OutboxEventsByIDs(ctx context.Context, ids []string) ([]OutboxEvent, error) {
	if r.err != nil {
		return nil, r.err
	}
	items, err := r.store.OutboxEventsByIDs(ctx, ids)
	return visible(r, items, eventPlace), err
}

// AuditEntriesByIDs returns the visible audit entries among ids.
func (r Reader) AuditEntriesByIDs(ctx context.Context, ids []string) ([]AuditEntry, error) {
	if r.err != nil {
		return nil, r.err
	}
	items, err := r.store.AuditEntriesByIDs(ctx, ids)
	return visible(r, items, auditPlace), err
}

// FeedbackByIDs returns the visible feedback among ids.
func (r Reader) FeedbackByIDs(ctx context.Context, ids []string) ([]MemoryFeedback, error) {
	if r.err != nil {
		return nil, r.err
	}
	items, err := r.store.FeedbackByIDs(ctx, ids)
	return visible(r, items, feedbackPlace), err
}

// ListMemoryRefs lists visible refs.
func (r Reader) ListMemoryRefs(ctx context.Context, f RefFilter, p PageRequest) (Page[MemoryRef], error) {
	if r.err != nil {
		return Page[MemoryRef]{}, r.err
	}
	f.Scope = r.scope
	return r.store.ListMemoryRefs(ctx, f, p)
}

// ListCommitJobs lists visible jobs.
func (r Reader) ListCommitJobs(ctx context.Context, f JobFilter, p PageRequest) (Page[CommitJob], error) {
	if r.err != nil {
		return Page[CommitJob]{}, r.err
	}
	if err := f.CreatedAt.Validate("filter.createdAt"); err != nil {
		return Page[CommitJob]{}, err
	}
	f.Scope = r.scope
	return r.store.ListCommitJobs(ctx, f, p)
}

// ListOutboxEvents lists visible events.
func (r Reader) ListOutboxEvents(ctx context.Context, f EventFilter, p PageRequest) (Page[OutboxEvent], error) {
	if r.err != nil {
		return Page[OutboxEvent]{}, r.err
	}
	f.Scope = r.scope
	return r.store.ListOutboxEvents(ctx, f, p)
}

// ListAuditEntries lists visible audit entries.
func (r Reader) ListAuditEntries(ctx context.Context, f AuditFilter, p PageRequest) (Page[AuditEntry], error) {
	if r.err != nil {
		return Page[AuditEntry]{}, r.err
	}
	f.Scope = r.scope
	return r.store.ListAuditEntries(ctx, f, p)
}

// ListFeedback lists visible feedback.
func (r Reader) ListFeedback(ctx context.Context, f FeedbackFilter, p PageRequest) (Page[MemoryFeedback], error) {
	if r.err != nil {
		return Page[MemoryFeedback]{}, r.err
	}
	f.Scope = r.scope
	return r.store.ListFeedback(ctx, f, p)
}

// ListMemoryRefsGrouped lists visible refs per parent.
func (r Reader) ListMemoryRefsGrouped(ctx context.Context, by RefGroup, keys []string, f RefFilter, p PageRequest) (map[string]Page[MemoryRef], error) {
	if r.err != nil {
		return nil, r.err
	}
	f.Scope = r.scope
	return r.store.ListMemoryRefsGrouped(ctx, by, keys, f, p)
}

// ListCommitJobsGrouped lists visible jobs per parent.
func (r Reader) ListCommitJobsGrouped(ctx context.Context, by JobGroup, keys []string, f JobFilter, p PageRequest) (map[string]Page[CommitJob], error) {
	if r.err != nil {
		return nil, r.err
	}
	f.Scope = r.scope
	return r.store.ListCommitJobsGrouped(ctx, by, keys, f, p)
}

// ListOutboxEventsGrouped lists visible events per parent.
func (r Reader) ListOutboxEventsGrouped(ctx context.Context, by EventGroup, keys []string, f EventFilter, p PageRequest) (map[string]Page[OutboxEvent], error) {
	if r.err != nil {
		return nil, r.err
	}
	f.Scope = r.scope
	return r.store.ListOutboxEventsGrouped(ctx, by, keys, f, p)
}

// ListAuditEntriesGrouped lists visible audit entries per parent.
func (r Reader) ListAuditEntriesGrouped(ctx context.Context, by AuditGroup, keys []string, f AuditFilter, p PageRequest) (map[string]Page[AuditEntry], error) {
	if r.err != nil {
		return nil, r.err
	}
	f.Scope = r.scope
	return r.store.ListAuditEntriesGrouped(ctx, by, keys, f, p)
}

// ListFeedbackGrouped lists visible feedback per parent.
func (r Reader) ListFeedbackGrouped(ctx context.Context, by FeedbackGroup, keys []string, f FeedbackFilter, p PageRequest) (map[string]Page[MemoryFeedback], error) {
	if r.err != nil {
		return nil, r.err
	}
	f.Scope = r.scope
	return r.store.ListFeedbackGrouped(ctx, by, keys, f, p)
}

// CountMemoryRefsGrouped counts visible refs per parent.
func (r Reader) CountMemoryRefsGrouped(ctx context.Context, by RefGroup, keys []string, f RefFilter) (map[string]int, error) {
	if r.err != nil {
		return nil, r.err
	}
	f.Scope = r.scope
	return r.store.CountMemoryRefsGrouped(ctx, by, keys, f)
}

// CountCommitJobsGrouped counts visible jobs per parent.
func (r Reader) CountCommitJobsGrouped(ctx context.Context, by JobGroup, keys []string, f JobFilter) (map[string]int, error) {
	if r.err != nil {
		return nil, r.err
	}
	f.Scope = r.scope
	return r.store.CountCommitJobsGrouped(ctx, by, keys, f)
}

// CountOutboxEventsGrouped counts visible events per parent.
func (r Reader) CountOutboxEventsGrouped(ctx context.Context, by EventGroup, keys []string, f EventFilter) (map[string]int, error) {
	if r.err != nil {
		return nil, r.err
	}
	f.Scope = r.scope
	return r.store.CountOutboxEventsGrouped(ctx, by, keys, f)
}

// CountAuditEntriesGrouped counts visible audit entries per parent.
func (r Reader) CountAuditEntriesGrouped(ctx context.Context, by AuditGroup, keys []string, f AuditFilter) (map[string]int, error) {
	if r.err != nil {
		return nil, r.err
	}
	f.Scope = r.scope
	return r.store.CountAuditEntriesGrouped(ctx, by, keys, f)
}

// CountFeedbackGrouped counts visible feedback per parent.
func (r Reader) CountFeedbackGrouped(ctx context.Context, by FeedbackGroup, keys []string, f FeedbackFilter) (map[string]int, error) {
	if r.err != nil {
		return nil, r.err
	}
	f.Scope = r.scope
	return r.store.CountFeedbackGrouped(ctx, by, keys, f)
}

// SiblingTotal is a ref's siblings' totalCount from the count of the
// visible refs under its gateway id: the ref itself is left out when the
// count holds it.
func (r Reader) SiblingTotal(ref MemoryRef, underGateway int) int {
	if underGateway > 0 && r.scope.Allows(refPlace(ref)) {
		return underGateway - 1
	}
	return underGateway
}

// OutboxAttempts returns the kept attempts of each event. Callers pass
// events they could see.
func (r Reader) OutboxAttempts(ctx context.Context, eventIDs []string) (map[string][]OutboxAttempt, error) {
	if r.err != nil {
		return nil, r.err
	}
	return r.store.OutboxAttempts(ctx, eventIDs)
}

// OutboxSummaries counts events per job. Callers pass jobs they could see.
func (r Reader) OutboxSummaries(ctx context.Context, jobIDs []string) (map[string]OutboxSummary, error) {
	if r.err != nil {
		return nil, r.err
	}
	return r.store.OutboxSummaries(ctx, jobIDs)
}

// OutboxSummary counts the visible events matching f.
func (r Reader) OutboxSummary(ctx context.Context, f EventFilter) (OutboxSummary, error) {
	if r.err != nil {
		return OutboxSummary{}, r.err
	}
	f.Scope = r.scope
	return r.store.OutboxSummary(ctx, f)
}

// IngestHeals counts the visible FAILED refs of workspaceID ("" for every
// workspace) per backend, by what their heal is doing.
func (r Reader) IngestHeals(ctx context.Context, workspaceID string) (map[backendtype.Backend]IngestHealCount, error) {
	if r.err != nil {
		return nil, r.err
	}
	return r.store.IngestHealCounts(ctx, RefFilter{WorkspaceID: workspaceID, Scope: r.scope})
}

// MemoryRef returns one ref or a NotFoundError.
func (r Reader) MemoryRef(ctx context.Context, id string) (MemoryRef, error) {
	return one(ctx, r.MemoryRefsByIDs, id, "memory ref")
}

// CommitJob returns one job or a NotFoundError.
func (r Reader) CommitJob(ctx context.Context, id string) (CommitJob, error) {
	return one(ctx, r.CommitJobsByIDs, id, "commit job")
}

// OutboxEvent returns one event or a NotFoundError.
func (r Reader) OutboxEvent(ctx context.Context, id string) (OutboxEvent, error) {
	return one(ctx, r.OutboxEventsByIDs, id, "outbox event")
}

// AuditEntry returns one audit entry or a NotFoundError.
func (r Reader) AuditEntry(ctx context.Context, id string) (AuditEntry, error) {
	return one(ctx, r.AuditEntriesByIDs, id, "audit entry")
}

// Feedback returns one feedback or a NotFoundError.
func (r Reader) Feedback(ctx context.Context, id string) (MemoryFeedback, error) {
	return one(ctx, r.FeedbackByIDs, id, "feedback")
}

// Session returns the session if anything visible is recorded under it.
func (r Reader) Session(ctx context.Context, workspaceID, sessionID string) (Session, error) {
	if r.err != nil {
		return Session{}, r.err
	}
	if r.scope.Restricted && workspaceID != r.scope.WorkspaceID && r.scope.WorkspaceID != AllWorkspaces {
		return Session{}, &NotFoundError{What: "session"}
	}
	ok, err := r.store.SessionExists(ctx, workspaceID, sessionID, r.scope)
	if err != nil {
		return Session{}, fmt.Errorf("error looking up session: %w", err)
	}
	if !ok {
		return Session{}, &NotFoundError{What: "session"}
	}
	return Session{ID: SessionNodeID(workspaceID, sessionID), WorkspaceID: workspaceID, SessionID: sessionID}, nil
}

// Node resolves any global id by its prefix.
func (r Reader) Node(ctx context.Context, id string) (Node, error) {
	switch {
	case strings.HasPrefix(id, PrefixRef):
		return r.MemoryRef(ctx, id)
	case strings.HasPrefix(id, PrefixCommit), strings.HasPrefix(id, PrefixErasureJob):
		job, err := r.CommitJob(ctx, id)
		if err != nil {
			return nil, err
		}
		return AsJob(job), nil
	case strings.HasPrefix(id, PrefixErasure):
		return r.ErasureRequest(ctx, id)
	case strings.HasPrefix(id, PrefixOutbox):
		return r.OutboxEvent(ctx, id)
	case strings.HasPrefix(id, PrefixAudit):
		return r.AuditEntry(ctx, id)
	case strings.HasPrefix(id, PrefixFeedback):
		return r.Feedback(ctx, id)
	case strings.HasPrefix(id, PrefixSession):
		ws, sess, ok := ParseSessionNodeID(id)
		if !ok {
			return nil, &NotFoundError{What: "node"}
		}
		return r.Session(ctx, ws, sess)
	default:
		return nil, &NotFoundError{What: "node"}
	}
}

func one[T any](ctx context.Context, byIDs func(context.Context, []string) ([]T, error), id, what string) (T, error) {
	var zero T
	items, err := byIDs(ctx, []string{id})
	if err != nil {
		return zero, fmt.Errorf("error loading %s: %w", what, err)
	}
	if len(items) == 0 {
		return zero, &NotFoundError{What: what}
	}
	return items[0], nil
}
