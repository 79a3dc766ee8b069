package gateway

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// TimeRange selects the times from From (inclusive) up to To (exclusive);
// a missing end leaves that side open.
type TimeRange struct {
	From *time.Time
	To   *time.Time
}

// Validate refuses a range that ends before it begins, naming field.
func (r *TimeRange) Validate(field string) error {
	if r != nil && r.From != nil && r.To != nil && !r.From.Before(*r.To) {
		return NewInputError(field+".to", "must be later than from")
	}
	return nil
}

// SessionFilter narrows the sessions list. Empty fields do not filter.
type SessionFilter struct {
	WorkspaceID string
	// UserID is the session's owner, the first user that wrote to it.
	UserID string
	// AgentID keeps the sessions an agent wrote or committed in.
	AgentID string
	// CreatedAt selects sessions begun within a time range.
	CreatedAt *TimeRange
	// Scope is the caller's read scope; the Reader sets it.
	Scope ReadScope
}

// SessionInfo is one session of the list: its owner and when it began.
type SessionInfo struct {
	WorkspaceID string
	SessionID   string
	UserID      string
	CreatedAt   time.Time
}

// SessionCursorID is the id part of a session's cursor: session ids are
// unique per workspace only, so it holds both, the workspace length-prefixed.
func SessionCursorID(workspaceID, sessionID string) string {
	return strconv.Itoa(len(workspaceID)) + ":" + workspaceID + sessionID
}

// SplitSessionCursorID reverses SessionCursorID; a malformed id is an input
// error naming field.
func SplitSessionCursorID(field, id string) (workspaceID, sessionID string, err error) {
	n, rest, ok := strings.Cut(id, ":")
	length, convErr := strconv.Atoi(n)
	if !ok || convErr != nil || length < 0 || length > len(rest) {
		return "", "", NewInputError(field, "is not a valid cursor")
	}
	return rest[:length], rest[length:], nil
}

// ListSessions lists the sessions the caller may open with session(), newest
// first: those with a ref or a job in its scope, exactly the rule session()
// answers by.
func (r Reader) ListSessions(ctx context.Context, f SessionFilter, p PageRequest) (Page[SessionInfo], error) {
	if r.err != nil {
		return Page[SessionInfo]{}, r.err
	}
	if err := f.CreatedAt.Validate("filter.createdAt"); err != nil {
		return Page[SessionInfo]{}, err
	}
	f.Scope = r.scope
	return r.store.ListSessions(ctx, f, p)
}

// SessionTotal counts the sessions ListSessions would list, when want asks.
func (r Reader) SessionTotal(ctx context.Context, f SessionFilter, want CountRequest) (*int, error) {
	f.Scope = r.scope
	return r.totalOnly(want, func() (int, error) { return r.store.CountSessions(ctx, f) })
}
