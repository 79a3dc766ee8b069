package gateway

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/namespace"
)

// ErrOutOfScope answers a request that collides with what another user (or
// another agent or namespace the key does not reach) wrote: a session, a
// turn id, an idempotency key, a feedback source event, a commit. It is one
// message for every such collision, whatever the stored record holds, so it
// confirms nothing about it (not its text, ids or status).
var ErrOutOfScope = fmt.Errorf("%w: this session, id or key is already in use outside the key's scope", ErrForbidden)

// SessionStore records who owns a session and under which agents and
// namespaces its turns were written.
type SessionStore interface {
	// ClaimSession records a write to a session: the session becomes its
	// writer's if nobody owns it yet; when the claim names a scope (a turn's
	// agent and namespace) and the writer is the owner, the scope is recorded
	// too. It returns the owner. Claims are idempotent and race-free: of two
	// users claiming a new session at once, exactly one owns it.
	ClaimSession(ctx context.Context, c SessionClaim) (owner string, err error)
	// SessionFacts returns a session's owner ("" when nobody wrote to it yet)
	// and the scopes of its owner's turns.
	SessionFacts(ctx context.Context, workspaceID, sessionID string) (SessionFacts, error)
	// UserNamespaces returns every namespace a user's turns were written in.
	UserNamespaces(ctx context.Context, workspaceID, userID string) ([]string, error)
}

// SessionClaim is one write to a session.
type SessionClaim struct {
	WorkspaceID string
	SessionID   string
	UserID      string
	// AgentID and Namespace name the scope of a turn; both empty for a
	// write without turns (a commit).
	AgentID   string
	Namespace string
	At        time.Time
}

// SessionFacts is what the store knows of a session's ownership.
type SessionFacts struct {
	Owner  string
	Scopes []backendtype.SessionScope
}

// claimSession records the write and refuses it when the session is
// another user's.
func (s *Service) claimSession(ctx context.Context, c SessionClaim) error {
	owner, err := s.store.ClaimSession(ctx, c)
	if err != nil {
		return fmt.Errorf("error claiming session %s: %w", c.SessionID, err)
	}
	if owner != c.UserID {
		return ErrOutOfScope
	}
	return nil
}

// authorizeCommit checks a principal may commit a session: the session is
// the user's (or nobody's yet), and since a commit takes the whole session,
// the key must reach every turn of it — an agent-bound key only a session
// whose every turn its agent wrote, and a key with some namespaces only a
// session written inside them.
func (s *Service) authorizeCommit(ctx context.Context, p Principal, in CommitSessionInput, now time.Time) error {
	facts, err := s.store.SessionFacts(ctx, in.WorkspaceID, in.SessionID)
	if err != nil {
		return fmt.Errorf("error reading session %s: %w", in.SessionID, err)
	}
	if facts.Owner == "" {
		return s.claimSession(ctx, SessionClaim{WorkspaceID: in.WorkspaceID, SessionID: in.SessionID, UserID: in.UserID, At: now})
	}
	if facts.Owner != in.UserID {
		return ErrOutOfScope
	}
	for _, sc := range facts.Scopes {
		if p.AgentID != "" && sc.AgentID != p.AgentID {
			return fmt.Errorf("%w: a commit takes the whole session, and another agent wrote turns of it: commit it with a key of the user that is not bound to one agent", ErrForbidden)
		}
		if p.AccessTo(in.WorkspaceID, sc.Namespace) < AccessWrite {
			return fmt.Errorf("%w: a commit takes the whole session, and some of its turns lie in namespaces this key may not write", ErrForbidden)
		}
	}
	return nil
}

// CommitLabel is the agent and namespace that what a commit derived from a
// whole session is recorded under, given the session's scopes: such a
// memory belongs to every scope of the session — to the one agent that
// wrote it, else to none (only keys not bound to an agent see it), and to
// the namespace covering all of its turns (possibly the workspace root). A
// session the gateway holds no turns of keeps the job's own agent and
// namespace.
func CommitLabel(scopes []backendtype.SessionScope, jobAgentID, jobNamespace string) (agentID, ns string) {
	if len(scopes) == 0 {
		return jobAgentID, jobNamespace
	}
	var agents, namespaces []string
	for _, sc := range scopes {
		if !slices.Contains(agents, sc.AgentID) {
			agents = append(agents, sc.AgentID)
		}
		namespaces = append(namespaces, sc.Namespace)
	}
	if len(agents) == 1 {
		agentID = agents[0]
	}
	return agentID, namespace.Common(namespaces...)
}

// answerable reports whether records already stored under an id the caller
// named may be answered to it: they must be the user's own and inside the
// key's read scope.
func answerable[T any](scope ReadScope, userID string, items []T, place func(T) (workspace, namespace, user, agent string)) bool {
	for _, it := range items {
		ws, ns, user, agent := place(it)
		if user != userID || !scope.Allows(ws, ns, user, agent) {
			return false
		}
	}
	return true
}
