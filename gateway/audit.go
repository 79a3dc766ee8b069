package gateway

import (
	"context"
	"maps"
	"time"
)

// auditSubject is who acted, on what, and where, for one audit entry.
// Empty fields stay empty (NULL).
type auditSubject struct {
	WorkspaceID string
	// The actor: the request's user and agent, and the key's principal.
	UserID, AgentID, Principal string
	// The target.
	TargetType, TargetID string
	// Where it happened.
	Namespace, SessionID, JobID, GatewayID string
}

// auditEntry is the one way an audit entry is made. Its id derives from the
// action and keys, so recording the same event again writes nothing new.
func auditEntry(action string, keys []string, subject auditSubject, md Metadata, now time.Time) AuditEntry {
	return AuditEntry{
		ID:           AuditID(append([]string{action}, keys...)...),
		WorkspaceID:  subject.WorkspaceID,
		Action:       action,
		ActorUserID:  optional(subject.UserID),
		ActorAgentID: optional(subject.AgentID),
		Principal:    optional(subject.Principal),
		TargetType:   subject.TargetType,
		TargetID:     subject.TargetID,
		Namespace:    optional(subject.Namespace),
		SessionID:    optional(subject.SessionID),
		JobID:        optional(subject.JobID),
		GatewayID:    optional(subject.GatewayID),
		Metadata:     md,
		CreatedAt:    now,
	}
}

// Via names the edge a request came through; its audit entries record it
// in their metadata ("via"). Work the gateway starts itself (the worker,
// retention) records none.
type Via string

// Edges.
const (
	ViaGraphQL Via = "graphql"
	ViaMCP     Via = "mcp"
	ViaHTTP    Via = "http"
)

type viaKey struct{}

// WithVia returns a context whose requests are audited as coming through via.
func WithVia(ctx context.Context, via Via) context.Context {
	return context.WithValue(ctx, viaKey{}, via)
}

// ViaFrom is the edge of ctx's request, or "" for the gateway's own work.
func ViaFrom(ctx context.Context) Via {
	v, _ := ctx.Value(viaKey{}).(Via)
	return v
}

// stampVia records on a request's audit entry the edge it came through.
func stampVia(ctx context.Context, a *AuditEntry) {
	via := ViaFrom(ctx)
	if via == "" {
		return
	}
	md := make(Metadata, len(a.Metadata)+1)
	maps.Copy(md, a.Metadata)
	md[auditMetadataVia] = string(via)
	a.Metadata = md
}

// auditMetadataVia is the metadata key of an audit entry's edge.
const auditMetadataVia = "via"
