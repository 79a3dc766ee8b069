package gateway

import "time"

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
