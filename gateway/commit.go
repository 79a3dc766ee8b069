package gateway

import (
	"context"
	"fmt"
	"time"
)

// AuditActionCommit is the audit action of an accepted commit.
const AuditActionCommit = "commit_session_accepted"

// CommitSessionInput asks for a session's turns to be committed to durable
// memory on every configured backend.
type CommitSessionInput struct {
	WorkspaceID    string `json:"workspaceId" validate:"required,max=128,ident"`
	UserID         string `json:"userId" validate:"required,max=128,ident"`
	AgentID        string `json:"agentId" validate:"required,max=128,ident"`
	SessionID      string `json:"sessionId" validate:"required,max=128,ident"`
	Namespace      string `json:"namespace" validate:"required,max=512,namespace"`
	IdempotencyKey string `json:"idempotencyKey" validate:"max=256,ident"`
	RequestID      string `json:"requestId" validate:"max=128,ident"`
}

// CommitSessionResult is the accepted (or previously accepted) job.
type CommitSessionResult struct {
	Job CommitJob
	// Snapshot is the job with its events, read together: the answer's
	// outbox summary and events come from it.
	Snapshot JobSnapshot
	// Created is false when the same commit basis had already been accepted.
	Created bool
}

// CommitSession stores a job (ACCEPTED) and one outbox event per configured
// backend in one transaction, audits it and returns at once; the worker does
// the rest. The same basis (idempotency key, else request id, else session)
// returns the same job.
func (s *Service) CommitSession(ctx context.Context, in CommitSessionInput) (CommitSessionResult, error) {
	in.Namespace = normalizeNamespace(in.Namespace)
	if err := s.validateStruct(in); err != nil {
		return CommitSessionResult{}, err
	}
	if err := s.checkIDs(
		idField{"workspaceId", in.WorkspaceID}, idField{"userId", in.UserID}, idField{"agentId", in.AgentID},
		idField{"sessionId", in.SessionID}, idField{"namespace", in.Namespace},
		idField{"idempotencyKey", in.IdempotencyKey}, idField{"requestId", in.RequestID},
	); err != nil {
		return CommitSessionResult{}, err
	}
	scope := Scope{WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID, Namespace: in.Namespace}
	principal, err := s.authorize(ctx, AccessWrite, scope)
	if err != nil {
		return CommitSessionResult{}, err
	}
	now := s.clock()
	if err := s.authorizeCommit(ctx, principal, in, now); err != nil {
		return CommitSessionResult{}, err
	}
	job, events, audit := s.planCommit(in, principal, now)
	stampVia(ctx, &audit)
	publish := s.holdJobs(job.ID)
	defer publish(ctx, nil) // on every path; a no-op once published below
	stored, created, err := s.store.CreateCommitJob(ctx, job, events, audit)
	if err != nil {
		return CommitSessionResult{}, fmt.Errorf("error creating commit job %s: %w", job.ID, err)
	}
	if !created && !answerable(principal.ReadScope(), in.UserID, []CommitJob{stored.Job}, jobPlace) {
		return CommitSessionResult{}, ErrOutOfScope
	}
	if created {
		publish(ctx, []CommitJob{stored.Job})
		if len(events) > 0 {
			s.notifyOutbox(ctx)
		}
	}
	return CommitSessionResult{Job: stored.Job, Snapshot: stored, Created: created}, nil
}

// planCommit builds what a commit writes in one transaction: the job
// (ACCEPTED, or FAILED with no backend configured), one PENDING outbox event
// per configured backend, and the audit entry.
func (s *Service) planCommit(in CommitSessionInput, principal Principal, now time.Time) (CommitJob, []OutboxEvent, AuditEntry) {
	jobID := CommitJobID(in.WorkspaceID, in.SessionID, in.IdempotencyKey, in.RequestID)
	job := CommitJob{
		ID:             jobID,
		WorkspaceID:    in.WorkspaceID,
		UserID:         in.UserID,
		AgentID:        in.AgentID,
		SessionID:      in.SessionID,
		Namespace:      in.Namespace,
		Status:         JobAccepted,
		Version:        1,
		IdempotencyKey: optional(in.IdempotencyKey),
		RequestID:      optional(in.RequestID),
		Metadata:       Metadata{"schema_version": SchemaVersionOutbox, "backends": len(s.backends)},
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	if len(s.backends) == 0 {
		job.Status = JobFailed
		job.ErrorMessage = optional("no backends are configured")
		job.FinishedAt = &now
	}
	events := make([]OutboxEvent, 0, len(s.backends))
	for _, b := range s.backends {
		events = append(events, OutboxEvent{
			ID:          OutboxEventID(jobID, b.Name(), OperationCommitSession),
			JobID:       &job.ID,
			GatewayID:   jobID,
			WorkspaceID: in.WorkspaceID,
			UserID:      in.UserID,
			AgentID:     in.AgentID,
			SessionID:   in.SessionID,
			Namespace:   in.Namespace,
			Backend:     b.Name(),
			Operation:   OperationCommitSession,
			Status:      OutboxPending,
			MaxAttempts: s.cfg.MaxAttempts,
			NextRetryAt: now,
			Metadata: Metadata{
				"schema_version":  SchemaVersionOutbox,
				"job_id":          jobID,
				"namespace":       in.Namespace,
				"idempotency_key": in.IdempotencyKey,
				"request_id":      in.RequestID,
			},
			CreatedAt: now,
			UpdatedAt: now,
		})
	}
	audit := auditEntry(AuditActionCommit, []string{jobID}, auditSubject{
		WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID, Principal: principal.Name,
		TargetType: "session", TargetID: in.SessionID,
		Namespace: in.Namespace, SessionID: in.SessionID, JobID: jobID, GatewayID: jobID,
	}, Metadata{"job_id": jobID, "outbox_events": len(events), "request_id": in.RequestID}, now)
	return job, events, audit
}
