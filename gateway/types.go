// Package gateway is the domain core of Memory Gateway: it validates and
// normalises agent requests, derives the stable identifiers, fans turns out to
// memory backends, records memory refs, commit jobs, outbox events, feedback and
// audit entries through a Store, and merges retrieval results.
//
// It imports neither the GraphQL layer nor the database layer: both depend on
// it, and the interfaces it needs (Store, access policy) are declared here,
// where they are consumed. The backend contract — the capabilities adapters
// implement and the vocabulary they share with the domain — is package
// backendtype, so that adapters need not import the domain.
package gateway

import (
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// RefStatus is the state of one backend write.
type RefStatus string

// Ref statuses.
const (
	RefStatusFailed  RefStatus = "failed"
	RefStatusPending RefStatus = "pending"
	RefStatusSkipped RefStatus = "skipped"
	RefStatusSuccess RefStatus = "success"
	// RefStatusSuperseded: an applied correction replaced the memory; the
	// ref links to its replacement. RefStatusDeleted: an applied delete
	// request removed it. Retrieval never returns either.
	RefStatusSuperseded RefStatus = "superseded"
	RefStatusDeleted    RefStatus = "deleted"
)

// OperationStatus aggregates the ref statuses of one ingest.
type OperationStatus string

// Operation statuses.
const (
	OperationFailed         OperationStatus = "failed"
	OperationPartialSuccess OperationStatus = "partial_success"
	OperationPending        OperationStatus = "pending"
	OperationSkipped        OperationStatus = "skipped"
	OperationSuccess        OperationStatus = "success"
)

// JobStatus is the state of a commit job.
type JobStatus string

// Commit job statuses. A job is terminal once it is SUCCESS, PARTIAL_SUCCESS or
// FAILED.
const (
	JobAccepted       JobStatus = "accepted"
	JobFailed         JobStatus = "failed"
	JobPartialSuccess JobStatus = "partial_success"
	JobRunning        JobStatus = "running"
	JobSuccess        JobStatus = "success"
)

// Terminal reports whether no further change is expected for the job.
func (s JobStatus) Terminal() bool {
	return s == JobSuccess || s == JobPartialSuccess || s == JobFailed
}

// OutboxStatus is the state of one outbox event.
type OutboxStatus string

// Outbox event statuses. SUCCESS, SKIPPED and DEAD_LETTER are terminal.
const (
	OutboxDeadLetter OutboxStatus = "dead_letter"
	OutboxPending    OutboxStatus = "pending"
	OutboxProcessing OutboxStatus = "processing"
	OutboxSkipped    OutboxStatus = "skipped"
	OutboxSuccess    OutboxStatus = "success"
)

// Terminal reports whether the worker will not touch the event again (unless
// an admin re-drives a dead letter).
func (s OutboxStatus) Terminal() bool {
	return s == OutboxSuccess || s == OutboxSkipped || s == OutboxDeadLetter
}

// Operation is what an outbox event asks a backend to do.
type Operation string

// Outbox operations.
const (
	OperationApplyFeedback Operation = "apply_feedback"
	OperationCommitSession Operation = "commit_session"
)

// FeedbackStatus is the review state of feedback.
type FeedbackStatus string

// Feedback statuses: RECEIVED → ACCEPTED | REJECTED; an accepted correction
// or delete request is then routed to the owning backend and ends APPLIED,
// SKIPPED (it does not apply to this memory; ResultReason says why),
// UNSUPPORTED (the backend's API offers no way to do it: EverOS cannot
// delete; ResultReason says what it lacks) or FAILED (dead-lettered;
// re-driving the event brings it back to ACCEPTED).
const (
	FeedbackAccepted    FeedbackStatus = "accepted"
	FeedbackApplied     FeedbackStatus = "applied"
	FeedbackFailed      FeedbackStatus = "failed"
	FeedbackReceived    FeedbackStatus = "received"
	FeedbackRejected    FeedbackStatus = "rejected"
	FeedbackSkipped     FeedbackStatus = "skipped"
	FeedbackUnsupported FeedbackStatus = "unsupported"
)

// FeedbackDecision is a reviewer's verdict.
type FeedbackDecision string

// Review decisions.
const (
	DecisionAccept FeedbackDecision = "accept"
	DecisionReject FeedbackDecision = "reject"
)

// RetrievalOutcome is what happened when one backend was asked for context.
type RetrievalOutcome string

// Retrieval outcomes.
const (
	RetrievalError   RetrievalOutcome = "error"
	RetrievalOK      RetrievalOutcome = "ok"
	RetrievalSkipped RetrievalOutcome = "skipped"
	RetrievalTimeout RetrievalOutcome = "timeout"
)

// Metadata is control-plane metadata: JSON-shaped, filtered of content.
type Metadata = map[string]any

// Node is anything addressable by a globally unique id (the GraphQL Node
// interface). Every id the gateway issues carries a type prefix, so ids never
// collide across types.
type Node interface {
	NodeID() string
}

// MemoryRef records one write to one backend: what was stored where, with which
// status, under which provenance.
type MemoryRef struct {
	ID             string
	GatewayID      string
	ProvenanceID   string
	WorkspaceID    string
	UserID         string
	AgentID        string
	SessionID      string
	TurnID         *string
	Namespace      string
	Backend        backendtype.Backend
	RefType        backendtype.RefType
	Status         RefStatus
	NativeID       *string
	NativeURI      *string
	IdempotencyKey *string
	SourceType     *string
	SourceEventID  *string
	ContentHash    *string
	ErrorMessage   *string
	JobID          *string
	OutboxEventID  *string
	// SupersededByRefID is the replacement of a superseded ref.
	SupersededByRefID *string
	SupersededAt      *time.Time
	Metadata          Metadata
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// NodeID implements Node.
func (r MemoryRef) NodeID() string { return r.ID }

// CommitJob is one job of the outbox: a "commit session" request (also the
// job of applied feedback), or the job of an erasure (Kind).
type CommitJob struct {
	ID string
	// Kind is JobKindCommit ("" reads as it) or JobKindErasure; an erasure
	// job has no session, and no agent or namespace unless the erasure is
	// narrowed to them.
	Kind             JobKind
	WorkspaceID      string
	UserID           string
	AgentID          string
	SessionID        string
	Namespace        string
	Status           JobStatus
	IdempotencyKey   *string
	RequestID        *string
	CreatedRefsCount int
	ErrorMessage     *string
	Metadata         Metadata
	CreatedAt        time.Time
	UpdatedAt        time.Time
	StartedAt        *time.Time
	FinishedAt       *time.Time
	// Version grows by one with every change of the job.
	Version int64
}

// NodeID implements Node.
func (j CommitJob) NodeID() string { return j.ID }

// OutboxEvent is one unit of backend work drained by the worker.
type OutboxEvent struct {
	ID           string
	JobID        *string
	FeedbackID   *string
	GatewayID    string
	WorkspaceID  string
	UserID       string
	AgentID      string
	SessionID    string
	Namespace    string
	Backend      backendtype.Backend
	Operation    Operation
	Status       OutboxStatus
	AttemptCount int
	MaxAttempts  int
	// ClaimCount counts every claim and never goes back: with LockedBy it
	// names the current lease.
	ClaimCount     int
	NextRetryAt    time.Time
	LockedBy       *string
	LockedAt       *time.Time
	LeaseExpiresAt *time.Time
	LastError      *string
	LastErrorCode  *string
	Metadata       Metadata
	CreatedAt      time.Time
	UpdatedAt      time.Time
	CompletedAt    *time.Time
}

// NodeID implements Node.
func (e OutboxEvent) NodeID() string { return e.ID }

// OutboxSummary counts outbox events by status.
type OutboxSummary struct {
	TotalEvents      int
	PendingEvents    int
	ProcessingEvents int
	SuccessEvents    int
	SkippedEvents    int
	DeadLetterEvents int
}

// Add counts n events of the given status.
func (s *OutboxSummary) Add(status OutboxStatus, n int) {
	s.TotalEvents += n
	switch status {
	case OutboxPending:
		s.PendingEvents += n
	case OutboxProcessing:
		s.ProcessingEvents += n
	case OutboxSuccess:
		s.SuccessEvents += n
	case OutboxSkipped:
		s.SkippedEvents += n
	case OutboxDeadLetter:
		s.DeadLetterEvents += n
	}
}

// AuditEntry records one write operation. It never holds conversation content.
type AuditEntry struct {
	ID           string
	WorkspaceID  string
	Action       string
	ActorUserID  *string
	ActorAgentID *string
	Principal    *string
	TargetType   string
	TargetID     string
	Namespace    *string
	SessionID    *string
	JobID        *string
	GatewayID    *string
	Metadata     Metadata
	CreatedAt    time.Time
}

// NodeID implements Node.
func (a AuditEntry) NodeID() string { return a.ID }

// MemoryFeedback is feedback an agent or user gave on a memory ref.
type MemoryFeedback struct {
	ID            string
	WorkspaceID   string
	UserID        string
	AgentID       string
	Namespace     string
	MemoryRefID   string
	FeedbackType  backendtype.FeedbackType
	Status        FeedbackStatus
	HasComment    bool
	HasCorrection bool
	SourceType    *string
	SourceEventID *string
	// Review: who decided, when and why (redacted, control-plane text).
	ReviewReason *string
	ReviewedBy   *string
	ReviewedAt   *time.Time
	// Routing of an accepted correction or delete: the job and outbox event
	// that carry it to the backend, the ref that replaced the memory, why it
	// was skipped or failed, and when it was applied.
	JobID            *string
	OutboxEventID    *string
	ReplacementRefID *string
	ResultReason     *string
	AppliedAt        *time.Time
	Metadata         Metadata
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// NodeID implements Node.
func (f MemoryFeedback) NodeID() string { return f.ID }

// FeedbackContent is the free text attached to feedback. It is content, so it is
// stored apart from the feedback row and never copied into audit entries.
type FeedbackContent struct {
	Comment    string
	Correction string
}

// Session is the dashboard view of one conversation session: everything the
// control plane holds under (workspace, session).
type Session struct {
	ID          string
	WorkspaceID string
	SessionID   string
}

// NodeID implements Node.
func (s Session) NodeID() string { return s.ID }
