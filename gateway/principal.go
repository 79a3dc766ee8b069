package gateway

import (
	"context"
	"fmt"
	"strings"

	"github.com/memory-gateway/memory-gateway/namespace"
)

// PrincipalRole is the kind of caller a key belongs to. It caps what its
// grants allow: a dashboard only reads, an agent reads and writes, an admin
// may also run admin operations.
type PrincipalRole string

// Principal roles.
const (
	RoleAdmin     PrincipalRole = "admin"
	RoleAgent     PrincipalRole = "agent"
	RoleDashboard PrincipalRole = "dashboard"
)

// Access is a level of a namespace grant.
type Access int

// Access levels, each including the ones below.
const (
	AccessNone Access = iota
	AccessRead
	AccessWrite
	AccessAdmin
)

// ParseAccess reads "READ", "WRITE" or "ADMIN" (any case).
func ParseAccess(s string) (Access, error) {
	switch strings.ToUpper(s) {
	case "READ":
		return AccessRead, nil
	case "WRITE":
		return AccessWrite, nil
	case "ADMIN":
		return AccessAdmin, nil
	}
	return AccessNone, fmt.Errorf("unknown access %q (want READ, WRITE or ADMIN)", s)
}

// Grant gives access to a namespace and everything below it; an empty
// namespace is the whole workspace.
type Grant struct {
	Namespace string
	Access    Access
}

// AllWorkspaces is the workspace of a principal that sees every workspace:
// the operator key's ("workspace": "*"), and dev mode's anonymous caller.
const AllWorkspaces = "*"

// Principal is the authenticated caller of a request.
type Principal struct {
	// Name identifies the caller in audit entries and logs (never its key).
	Name        string
	WorkspaceID string
	// UserID and AgentID, when set, restrict the caller to that user's and
	// that agent's data.
	UserID  string
	AgentID string
	Role    PrincipalRole
	Grants  []Grant
}

// DevPrincipal is the caller of dev mode (no keys configured): it may do
// everything everywhere.
var DevPrincipal = Principal{
	Name: "dev", WorkspaceID: AllWorkspaces, Role: RoleAdmin,
	Grants: []Grant{{Namespace: "", Access: AccessAdmin}},
}

type principalKey struct{}

// WithPrincipal returns a context carrying the caller.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller carried by ctx, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

func (p Principal) roleCap() Access {
	switch p.Role {
	case RoleAdmin:
		return AccessAdmin
	case RoleAgent:
		return AccessWrite
	default:
		return AccessRead
	}
}

// IsOperator reports whether the caller is the deployment's operator: an
// ADMIN key of every workspace ("workspace": "*" in the keys file), bound to
// no user or agent. Only an operator reaches what is process-wide (profiles,
// draining every workspace's outbox); dev mode's caller is one.
func (p Principal) IsOperator() bool {
	return p.WorkspaceID == AllWorkspaces && p.UserID == "" && p.AgentID == "" && p.AccessTo(AllWorkspaces, "") >= AccessAdmin
}

// SeesAllOfItsWorkspace reports whether the caller sees everything a
// request of its can touch: the operator, or an ADMIN of its whole
// workspace bound to no user or agent. Only such a caller learns how much
// work a request did (statement counts), since that also measures data
// the caller may not read.
func (p Principal) SeesAllOfItsWorkspace() bool {
	return p.IsOperator() || (p.WorkspaceID != "" && p.UserID == "" && p.AgentID == "" && p.AccessTo(p.WorkspaceID, "") >= AccessAdmin)
}

// InWorkspace reports whether the caller may see the workspace at all.
func (p Principal) InWorkspace(workspaceID string) bool {
	return p.WorkspaceID == AllWorkspaces || p.WorkspaceID == workspaceID
}

// AccessTo is the caller's access to a namespace of a workspace.
func (p Principal) AccessTo(workspaceID, ns string) Access {
	if !p.InWorkspace(workspaceID) {
		return AccessNone
	}
	best := AccessNone
	for _, g := range p.Grants {
		if namespace.Covers(g.Namespace, ns) && g.Access > best {
			best = g.Access
		}
	}
	return min(best, p.roleCap())
}

// ownsIdentity reports whether the caller's user/agent constraints allow
// acting as user and agent.
func (p Principal) ownsIdentity(userID, agentID string) bool {
	return (p.UserID == "" || p.UserID == userID) && (p.AgentID == "" || p.AgentID == agentID)
}

// May reports whether the caller has at least access on a scope.
func (p Principal) May(access Access, s Scope) bool {
	return p.ownsIdentity(s.UserID, s.AgentID) && p.AccessTo(s.WorkspaceID, s.Namespace) >= access
}

// ReadScope is the part of the data a caller may read.
func (p Principal) ReadScope() ReadScope {
	if p.WorkspaceID == AllWorkspaces && p.UserID == "" && p.AgentID == "" && p.AccessTo("", "") >= AccessRead {
		return ReadScope{}
	}
	s := ReadScope{Restricted: true, WorkspaceID: p.WorkspaceID, UserID: p.UserID, AgentID: p.AgentID, Namespaces: []string{}}
	if p.roleCap() < AccessRead {
		return s
	}
	for _, g := range p.Grants {
		if g.Access < AccessRead {
			continue
		}
		if g.Namespace == "" {
			s.Namespaces = nil // the whole workspace
			return s
		}
		s.Namespaces = append(s.Namespaces, g.Namespace)
	}
	return s
}

// ReadScope restricts reads: to one workspace, to namespace prefixes (nil:
// all), and to a user and agent when set. The zero value restricts nothing:
// it is for the gateway's own components; the Reader always sets the
// caller's scope.
type ReadScope struct {
	Restricted  bool
	WorkspaceID string
	Namespaces  []string
	UserID      string
	AgentID     string
}

// Allows reports whether a record in workspace/namespace owned by
// user/agent is inside the scope. Empty user/agent (records that have
// none) pass the user/agent restriction only for unrestricted scopes.
func (s ReadScope) Allows(workspaceID, ns, userID, agentID string) bool {
	if !s.Restricted {
		return true
	}
	if workspaceID != s.WorkspaceID && s.WorkspaceID != AllWorkspaces {
		return false
	}
	if (s.UserID != "" && userID != s.UserID) || (s.AgentID != "" && agentID != s.AgentID) {
		return false
	}
	if s.Namespaces == nil {
		return true
	}
	for _, prefix := range s.Namespaces {
		if ns != "" && namespace.Covers(prefix, ns) {
			return true
		}
	}
	return false
}
