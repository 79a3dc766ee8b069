package gateway

import (
	"context"
	"fmt"
	"strings"
)

// Reader serves the dashboard graph for one caller. Every list and lookup the
// GraphQL layer makes goes through it.
type Reader struct {
	ReadStore
}

// Reader returns the read API for the caller in ctx.
func (s *Service) Reader(ctx context.Context) Reader {
	return Reader{ReadStore: s.store}
}

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

// Session returns the session if anything is recorded under it.
func (r Reader) Session(ctx context.Context, workspaceID, sessionID string) (Session, error) {
	ok, err := r.SessionExists(ctx, workspaceID, sessionID)
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
	case strings.HasPrefix(id, PrefixCommit):
		return r.CommitJob(ctx, id)
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
