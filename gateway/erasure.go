package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/namespace"
)

// Erasure: everything the gateway wrote about a person (a subject: a user,
// optionally narrowed to an agent or a namespace), deleted in every backend
// through the outbox, verified, and recorded as proof.
const (
	PrefixErasure    = "era_"
	PrefixErasureJob = "gwe_"
	// OperationEraseSubject is the outbox operation of one backend's share
	// of an erasure.
	OperationEraseSubject Operation = "erase_subject"
	// AuditActionErase audits an accepted erasure (counts only).
	AuditActionErase = "erase_subject"
	// ConflictErased is a retrieved item an erasure deleted that a backend
	// still returns; it is left out.
	ConflictErased = "erased_memory"
	// ReasonErasureInProgress is the reason of a write refused while an
	// erasure of its subject runs.
	ReasonErasureInProgress = "erasure_in_progress"
	// ErrorCodeResidue is an erasure attempt whose verification still found
	// the subject's data: retried with backoff, dead-lettered if it stays.
	ErrorCodeResidue = "residue_remaining"
	// metadataErasureID names, in an erasure's job, outbox events and
	// audit entry, the erasure request they belong to.
	metadataErasureID = "erasure_id"
	// ErrorCodeVerification is an erasure whose verification failed.
	ErrorCodeVerification = "verification_failed"
	// ErrorCodeErasureIncomplete is a backend's share that deleted all it
	// can while the backend keeps data its API cannot delete: not retried
	// (trying again cannot help), dead-lettered with the residue by kind,
	// and the erasure ends PARTIAL. Re-drive it once the rest is removed by
	// other means.
	ErrorCodeErasureIncomplete = "erasure_incomplete"
	// maxErasureReasonBytes bounds an erasure's reason.
	maxErasureReasonBytes = 2 << 10
	// erasureGraceMargin is added to the longest ingest bound before an
	// erasure's deletes start (see Config.ErasureGrace).
	erasureGraceMargin = time.Second
)

// JobKind tells commit jobs (commits and applied feedback) from erasure
// jobs; both are jobs of the outbox.
type JobKind string

// Job kinds. A job's stored kind is commit or erasure; the job of applied
// feedback is stored as a commit and told apart by its metadata
// (KindOf).
const (
	JobKindCommit  JobKind = "commit"
	JobKindErasure JobKind = "erasure"
	// JobKindFeedbackRouting is what KindOf calls the job of an accepted
	// correction or delete request, and what a JobFilter selects it by.
	JobKindFeedbackRouting JobKind = "feedback_routing"
)

// KindOf is what a job does: a commit, the routing of feedback, or an
// erasure.
func KindOf(j CommitJob) JobKind {
	switch {
	case j.Kind == JobKindErasure:
		return JobKindErasure
	case j.Metadata["kind"] == JobKindApplyFeedback:
		return JobKindFeedbackRouting
	default:
		return JobKindCommit
	}
}

// Job is a job of the outbox as the graph shows it: a CommitJob, or the
// ErasureJob of an erasure.
type Job interface {
	Node
	JobRecord() CommitJob
}

// JobRecord implements Job.
func (j CommitJob) JobRecord() CommitJob { return j }

// ErasureJob is the job of an erasure request: a job without a session.
type ErasureJob struct {
	CommitJob
}

// AsJob is a job record as the graph shows it, by its kind.
func AsJob(j CommitJob) Job {
	if j.Kind == JobKindErasure {
		return ErasureJob{CommitJob: j}
	}
	return j
}

// ErasureStatus is an erasure request's state, from its job's.
type ErasureStatus string

// Erasure statuses.
const (
	ErasureAccepted  ErasureStatus = "accepted"
	ErasureRunning   ErasureStatus = "running"
	ErasureCompleted ErasureStatus = "completed"
	ErasurePartial   ErasureStatus = "partial"
	ErasureFailed    ErasureStatus = "failed"
)

// ErasureStatusOf is the status of an erasure whose job is job: COMPLETED
// only when every backend erased and verified (the job succeeded).
func ErasureStatusOf(job CommitJob) ErasureStatus {
	switch job.Status {
	case JobAccepted:
		return ErasureAccepted
	case JobSuccess:
		return ErasureCompleted
	case JobPartialSuccess:
		return ErasurePartial
	case JobFailed:
		return ErasureFailed
	default:
		return ErasureRunning
	}
}

// ErasureRequest is the record of one erasure: who asked to erase whom, and
// the job that carries it out. It is kept whatever the retention policy
// says: it is the proof.
type ErasureRequest struct {
	ID             string
	WorkspaceID    string
	UserID         string
	AgentID        *string
	Namespace      *string
	Reason         string
	RequestedBy    string
	IdempotencyKey *string
	JobID          string
	CreatedAt      time.Time
}

// NodeID implements Node.
func (r ErasureRequest) NodeID() string { return r.ID }

// Scope is the subject the request erases.
func (r ErasureRequest) Scope() ErasureScope {
	return ErasureScope{WorkspaceID: r.WorkspaceID, UserID: r.UserID, AgentID: deref(r.AgentID), Namespace: deref(r.Namespace)}
}

// ErasureScope is a subject: a user of a workspace, narrowed to one agent
// and to a namespace subtree when those are set.
type ErasureScope struct {
	WorkspaceID string
	UserID      string
	AgentID     string
	Namespace   string
}

// Narrow reports whether the scope is less than the whole user.
func (s ErasureScope) Narrow() bool { return s.AgentID != "" || s.Namespace != "" }

// Holds reports whether something written by (user, agent) under ns is the
// subject's.
func (s ErasureScope) Holds(userID, agentID, ns string) bool {
	return userID == s.UserID && (s.AgentID == "" || agentID == s.AgentID) && namespace.Covers(s.Namespace, ns)
}

// Touches reports whether a read of the user's memories by agent (any agent
// when "") under ns (all when "") may return something of the subject.
func (s ErasureScope) Touches(agentID, ns string) bool {
	agents := s.AgentID == "" || agentID == "" || agentID == s.AgentID
	spaces := s.Namespace == "" || ns == "" || namespace.Covers(s.Namespace, ns) || namespace.Covers(ns, s.Namespace)
	return agents && spaces
}

// ErasureBackendResult is one backend's share of an erasure.
type ErasureBackendResult struct {
	Backend  backendtype.Backend
	Outcome  backendtype.ErasureOutcome
	Verified bool
	Residue  int
	// ResidueByKind is the last verification's residue, kind by kind.
	ResidueByKind []backendtype.ResidueKind
	Detail        *string
}

// residueMetadata is the residue as stored on the event.
func residueMetadata(r backendtype.Residue) []any {
	out := make([]any, 0, len(r))
	for _, k := range r {
		m := map[string]any{"kind": k.Kind, "count": k.Count}
		if k.Uncounted {
			m["uncounted"] = true
		}
		if k.Unerasable {
			m["unerasable"] = true
		}
		out = append(out, m)
	}
	return out
}

// residueFromMetadata reads the residue stored on an event.
func residueFromMetadata(v any) backendtype.Residue {
	list, _ := v.([]any)
	out := make(backendtype.Residue, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		k := backendtype.ResidueKind{Count: metadataInt(m["count"])}
		k.Kind, _ = m["kind"].(string)
		k.Uncounted, _ = m["uncounted"].(bool)
		k.Unerasable, _ = m["unerasable"].(bool)
		out = append(out, k)
	}
	return out
}

// ErasureBackendResults reads each backend's result from the erasure job's
// events.
func ErasureBackendResults(events []OutboxEvent) []ErasureBackendResult {
	out := make([]ErasureBackendResult, 0, len(events))
	for _, e := range events {
		r := ErasureBackendResult{Backend: e.Backend, Outcome: backendtype.ErasureOutcomePending}
		r.Verified, _ = e.Metadata["verified"].(bool)
		r.Residue = metadataInt(e.Metadata["residue"])
		r.ResidueByKind = residueFromMetadata(e.Metadata["residue_kinds"])
		if d, ok := e.Metadata["detail"].(string); ok && d != "" {
			r.Detail = &d
		}
		switch e.Status {
		case OutboxSuccess:
			if o, ok := e.Metadata["outcome"].(string); ok {
				r.Outcome = backendtype.ErasureOutcome(o)
			} else {
				r.Outcome = backendtype.ErasureOutcomeErased
			}
		case OutboxSkipped:
			r.Outcome = backendtype.ErasureOutcomeSkipped
			if reason, ok := e.Metadata["reason"].(string); ok && r.Detail == nil {
				r.Detail = &reason
			}
		case OutboxDeadLetter:
			r.Outcome = backendtype.ErasureOutcomeFailed
			if o, _ := e.Metadata["outcome"].(string); deref(e.LastErrorCode) == ErrorCodeErasureIncomplete && o != "" {
				r.Outcome = backendtype.ErasureOutcome(o)
			}
			if r.Detail == nil && e.LastError != nil {
				r.Detail = e.LastError
			}
		}
		out = append(out, r)
	}
	return out
}

func metadataInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	case string:
		i, _ := strconv.Atoi(n)
		return i
	}
	return 0
}

// ErasureFilter narrows erasure requests.
type ErasureFilter struct {
	WorkspaceID string
	UserID      string
	// Status is applied through the job's status.
	Status ErasureStatus
	// Scope is the caller's read scope; the Reader sets it.
	Scope ReadScope
}

// ErasureCompletion, on a backend's erasure that finished and verified,
// marks the subject's refs of that backend DELETED in the completion's
// transaction.
type ErasureCompletion struct {
	RequestID string
	Scope     ErasureScope
	Backend   backendtype.Backend
	// Keep are ref types whose memories the backend could not delete (a
	// partial erasure): their refs stay live, since the memories remain.
	Keep []backendtype.RefType
	// Sessions the backend deleted whole (CommitResult.DeletedSessions):
	// the SESSION_ARCHIVE refs of every scope written there are DELETED too.
	Sessions []string
}

// ErasureStore persists erasures.
type ErasureStore interface {
	// CreateErasure stores the request, its job, one event per backend and
	// the audit entry in one transaction, and removes the subject's
	// feedback texts. An existing request with the same idempotency key and
	// subject, or a running one for the same subject when the request has
	// no idempotency key, is returned instead, with created=false; a request
	// of another subject under the same key is ErrIdempotencyKeyTaken.
	CreateErasure(ctx context.Context, req ErasureRequest, job CommitJob, events []OutboxEvent, audit AuditEntry) (ErasureRequest, bool, error)
	// ActiveErasures are the user's requests whose job is not terminal.
	ActiveErasures(ctx context.Context, workspaceID, userID string) ([]ErasureRequest, error)
	// SubjectRefs are the subject's refs in one backend.
	SubjectRefs(ctx context.Context, scope ErasureScope, backend backendtype.Backend) ([]MemoryRef, error)
	// SubjectSessionScopes are the scopes (agent, namespace) written in the
	// sessions that hold something of the subject, the subject's own
	// included.
	SubjectSessionScopes(ctx context.Context, scope ErasureScope) ([]backendtype.SessionScope, error)
	// SubjectRefCounts counts the subject's refs in one backend by type.
	SubjectRefCounts(ctx context.Context, scope ErasureScope, backend backendtype.Backend) (map[backendtype.RefType]int, error)
	// SubjectRefsPage pages through all of the subject's refs, oldest
	// first, after the cursor.
	SubjectRefsPage(ctx context.Context, scope ErasureScope, after *Cursor, limit int) ([]MemoryRef, error)
}

// EraseSubjectInput asks to erase a person's memories.
type EraseSubjectInput struct {
	WorkspaceID    string `json:"workspaceId" validate:"required,max=128,ident"`
	UserID         string `json:"userId" validate:"required,max=128,ident"`
	AgentID        string `json:"agentId" validate:"max=128,ident"`
	Namespace      string `json:"namespace" validate:"max=512,namespace"`
	Reason         string `json:"reason" validate:"required,text"`
	IdempotencyKey string `json:"idempotencyKey" validate:"max=256,ident"`
}

// EraseSubjectResult is the accepted (or already running) erasure.
type EraseSubjectResult struct {
	Request ErasureRequest
	Job     CommitJob
	// Created is false when an existing request answered.
	Created bool
}

// EraseSubject accepts the erasure of a subject: one job with one
// ERASE_SUBJECT event per configured backend, run by the worker like a
// commit (leases, retries, dead letters, re-drives). validate → authorize
// (ADMIN on the scope, or the user's own key with WRITE there) → plan →
// store → publish. From acceptance until the job is terminal, the subject's
// retrieval returns nothing and its ingests are refused.
func (s *Service) EraseSubject(ctx context.Context, in EraseSubjectInput) (EraseSubjectResult, error) {
	in.Namespace = normalizeNamespace(in.Namespace)
	in.Reason = strings.TrimSpace(in.Reason)
	if err := s.validateStruct(in); err != nil {
		return EraseSubjectResult{}, err
	}
	if err := checkText("reason", in.Reason, maxErasureReasonBytes); err != nil {
		return EraseSubjectResult{}, err
	}
	if err := s.checkIDs(
		idField{"workspaceId", in.WorkspaceID}, idField{"userId", in.UserID}, idField{"agentId", in.AgentID},
		idField{"namespace", in.Namespace}, idField{"idempotencyKey", in.IdempotencyKey},
	); err != nil {
		return EraseSubjectResult{}, err
	}
	principal, err := s.authorizeErasure(ctx, in)
	if err != nil {
		return EraseSubjectResult{}, err
	}
	if err := s.authorizeSessionWideDeletes(ctx, in, principal); err != nil {
		return EraseSubjectResult{}, err
	}
	reason := s.redact(in.WorkspaceID, in.Reason)
	if len(reason.Rejected) > 0 {
		return EraseSubjectResult{}, rejection("reason", reason)
	}
	req, job, events, audit := s.planErasure(in, reason.Text, principal, s.clock())
	stampVia(ctx, &audit)
	publish := s.holdJobs(job.ID)
	defer publish(ctx, nil) // on every path; a no-op once published below
	stored, created, err := s.store.CreateErasure(ctx, req, job, events, audit)
	if errors.Is(err, ErrIdempotencyKeyTaken) {
		// Nothing of the other request: not its subject, reason or job.
		return EraseSubjectResult{}, &ConflictError{Field: "idempotencyKey", Message: "this idempotencyKey was already used for another erasure: use a new key"}
	}
	if err != nil {
		return EraseSubjectResult{}, fmt.Errorf("error creating erasure %s: %w", req.ID, err)
	}
	jobs, err := s.store.CommitJobsByIDs(ctx, []string{stored.JobID})
	if err != nil || len(jobs) == 0 {
		return EraseSubjectResult{}, fmt.Errorf("error loading erasure job %s: %w", stored.JobID, err)
	}
	if created {
		publish(ctx, jobs)
		s.notifyOutbox(ctx)
	}
	return EraseSubjectResult{Request: stored, Job: jobs[0], Created: created}, nil
}

// authorizeErasure: ADMIN on the subject's scope, or a key bound to that
// very user with WRITE on it (a person erasing their own memories).
func (s *Service) authorizeErasure(ctx context.Context, in EraseSubjectInput) (Principal, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return Principal{}, err
	}
	scope := Scope{WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID, Namespace: in.Namespace}
	own := p.UserID != "" && p.UserID == in.UserID && p.May(AccessWrite, scope)
	if !own && !p.May(AccessAdmin, scope) {
		return Principal{}, fmt.Errorf("%w: erasing needs ADMIN on the scope, or the user's own key with WRITE there", ErrForbidden)
	}
	return p, nil
}

// authorizeSessionWideDeletes: where a backend deletes whole sessions, a
// narrowed erasure destroys every scope written in the subject's sessions,
// so the requester must be allowed to write each of them; otherwise it is
// refused before anything is deleted.
func (s *Service) authorizeSessionWideDeletes(ctx context.Context, in EraseSubjectInput, p Principal) error {
	scope := ErasureScope{WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID, Namespace: in.Namespace}
	if !scope.Narrow() || !slices.ContainsFunc(s.backends, erasesWholeSessions) {
		return nil
	}
	scopes, err := s.store.SubjectSessionScopes(ctx, scope)
	if err != nil {
		return fmt.Errorf("error reading the scopes of the subject's sessions: %w", err)
	}
	for _, sc := range scopes {
		if scope.Holds(in.UserID, sc.AgentID, sc.Namespace) {
			continue
		}
		if !p.May(AccessWrite, Scope{WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: sc.AgentID, Namespace: sc.Namespace}) {
			return fmt.Errorf("%w: the subject's conversations also hold turns outside this erasure's scope that the key may not erase, "+
				"and a backend deletes conversations whole; erase with a key that may write all of them, or erase the whole user", ErrForbidden)
		}
	}
	return nil
}

func erasesWholeSessions(a backendtype.BackendAdapter) bool {
	w, ok := a.(backendtype.SessionWideEraser)
	return ok && w.ErasesWholeSessions()
}

// planErasure builds the request, its job, one event per backend (due after
// the grace that lets every ingest already under way land first, so none
// writes after the delete), and the audit entry.
func (s *Service) planErasure(in EraseSubjectInput, reason string, p Principal, now time.Time) (ErasureRequest, CommitJob, []OutboxEvent, AuditEntry) {
	id := ErasureID(in.WorkspaceID, in.UserID, in.AgentID, in.Namespace, in.IdempotencyKey, now)
	req := ErasureRequest{
		ID: id, WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: optional(in.AgentID), Namespace: optional(in.Namespace),
		Reason: reason, RequestedBy: p.Name, IdempotencyKey: optional(in.IdempotencyKey), JobID: ErasureJobID(id), CreatedAt: now,
	}
	job := CommitJob{
		ID: req.JobID, Kind: JobKindErasure, WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID,
		Namespace: in.Namespace, Status: JobAccepted, Version: 1, IdempotencyKey: optional(in.IdempotencyKey),
		Metadata:  Metadata{"schema_version": SchemaVersionOutbox, metadataErasureID: id, "backends": len(s.backends)},
		CreatedAt: now, UpdatedAt: now,
	}
	if len(s.backends) == 0 {
		job.Status, job.ErrorMessage, job.FinishedAt = JobFailed, optional("no backends are configured"), &now
	}
	due := now.Add(s.erasureGrace())
	events := make([]OutboxEvent, 0, len(s.backends))
	for _, b := range s.backends {
		events = append(events, OutboxEvent{
			ID: OutboxEventID(job.ID, b.Name(), OperationEraseSubject), JobID: &job.ID, GatewayID: job.ID,
			WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID, Namespace: in.Namespace,
			Backend: b.Name(), Operation: OperationEraseSubject, Status: OutboxPending, MaxAttempts: s.cfg.MaxAttempts,
			NextRetryAt: due, Metadata: Metadata{"schema_version": SchemaVersionOutbox, metadataErasureID: id}, CreatedAt: now, UpdatedAt: now,
		})
	}
	audit := auditEntry(AuditActionErase, []string{id}, auditSubject{
		WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID, Principal: p.Name,
		TargetType: "subject", TargetID: in.UserID, Namespace: in.Namespace, JobID: job.ID,
	}, Metadata{metadataErasureID: id, "backends": len(events), "narrow": in.AgentID != "" || in.Namespace != ""}, now)
	return req, job, events, audit
}

// erasureGrace is how long after acceptance an erasure's deletes start: the
// longest an ingest already past its erasure check may still be writing.
func (s *core) erasureGrace() time.Duration {
	if s.cfg.ErasureGrace > 0 {
		return s.cfg.ErasureGrace
	}
	longest := s.cfg.BackendTimeout
	for _, d := range s.cfg.BackendTimeouts {
		longest = max(longest, d)
	}
	return longest + erasureGraceMargin
}

// ErasureID names an erasure: by its subject and idempotency key when it
// has one (a key names a request only together with whom it erases), else
// by its subject and acceptance time (a later erasure of the same subject
// is a new one).
func ErasureID(workspaceID, userID, agentID, ns, idempotencyKey string, at time.Time) string {
	if idempotencyKey != "" {
		return PrefixErasure + hashHex(strings.Join([]string{"idempotency_key", workspaceID, userID, agentID, ns, idempotencyKey}, "\x00"), 24)
	}
	return PrefixErasure + hashHex(strings.Join([]string{"subject", workspaceID, userID, agentID, ns, at.Format(time.RFC3339Nano)}, "\x00"), 24)
}

// ErasureJobID is the job of an erasure.
func ErasureJobID(erasureID string) string {
	return PrefixErasureJob + hashHex("erasure_job:"+erasureID, 24)
}

// erasingSubject refuses a write of (user, agent) under ns while an erasure
// that holds it is under way; checks, in a batch, are the batch's recent
// answers.
func (s *Service) erasingSubject(ctx context.Context, checks *erasureChecks, workspaceID, userID, agentID, ns, sessionID string) error {
	active, err := s.activeErasures(ctx, checks, workspaceID, userID)
	if err != nil {
		return fmt.Errorf("error checking erasures: %w", err)
	}
	var sessionScopes []backendtype.SessionScope // read once, when a narrowed erasure needs them
	scopesRead := false
	for _, r := range active {
		scope := r.Scope()
		if scope.Holds(userID, agentID, ns) {
			return &ConflictError{Field: "userId", Reason: ReasonErasureInProgress,
				Message: "an erasure of this user's memories is in progress (" + r.ID + "); try again once it finished"}
		}
		if !scope.Narrow() || !slices.ContainsFunc(s.backends, erasesWholeSessions) {
			continue
		}
		// The erasure will delete the subject's sessions whole: a turn of
		// another scope written there now would go with them, although
		// the erasure's requester was allowed only what the sessions held
		// when it was accepted.
		if !scopesRead {
			facts, err := s.store.SessionFacts(ctx, workspaceID, sessionID)
			if err != nil {
				return fmt.Errorf("error reading session %s: %w", sessionID, err)
			}
			sessionScopes, scopesRead = facts.Scopes, true
		}
		if slices.ContainsFunc(sessionScopes, func(sc backendtype.SessionScope) bool { return scope.Holds(userID, sc.AgentID, sc.Namespace) }) {
			return &ConflictError{Field: "sessionId", Reason: ReasonErasureInProgress,
				Message: "an erasure in progress (" + r.ID + ") deletes this conversation whole; write to another session, or try again once it finished"}
		}
	}
	return nil
}

// erasureHidesRetrieval reports whether an erasure under way may hide a
// retrieval of the user's memories by agent under ns: then nothing is
// returned from any backend, even while one is still deleting.
func (s *Service) erasureHidesRetrieval(ctx context.Context, workspaceID, userID, agentID, ns string) (bool, error) {
	active, err := s.store.ActiveErasures(ctx, workspaceID, userID)
	if err != nil {
		return false, fmt.Errorf("error checking erasures: %w", err)
	}
	for _, r := range active {
		if r.Scope().Touches(agentID, ns) {
			return true, nil
		}
	}
	return false, nil
}

// executeErasure runs one backend's share of an erasure: delete, then verify
// by listing or searching the backend for the subject. What verification
// still finds is a retryable failure, so an erasure never completes while
// data remains.
func (s *OutboxExecutor) executeErasure(ctx context.Context, c OutboxCompletion, e OutboxEvent, adapter backendtype.BackendAdapter, now time.Time) OutboxCompletion {
	eraser, ok := adapter.(backendtype.SubjectEraser)
	if !ok {
		return s.skipped(c, now, ReasonAdapterMethodMissing)
	}
	scope := ErasureScope{WorkspaceID: e.WorkspaceID, UserID: e.UserID, AgentID: e.AgentID, Namespace: e.Namespace}
	state, _ := e.Metadata["backend_state"].(map[string]any)
	req := backendtype.EraseRequest{EventID: e.ID, WorkspaceID: e.WorkspaceID, UserID: e.UserID, AgentID: e.AgentID, Namespace: e.Namespace, Attempt: e.AttemptCount, State: state}
	held, err := s.store.SubjectRefCounts(ctx, scope, e.Backend)
	if err != nil {
		return s.failed(c, now, true, ErrorCodeAdapterException, "error counting the subject's refs: "+err.Error())
	}
	req.Held = held
	if scope.Narrow() {
		refs, err := s.store.SubjectRefs(ctx, scope, e.Backend)
		if err != nil {
			return s.failed(c, now, true, ErrorCodeAdapterException, "error listing the subject's refs: "+err.Error())
		}
		req.Memories = make([]backendtype.MemoryLocator, 0, len(refs))
		for _, r := range refs {
			req.Memories = append(req.Memories, backendtype.MemoryLocator{
				RefType: r.RefType, SessionID: r.SessionID, NativeID: deref(r.NativeID), NativeURI: deref(r.NativeURI), Produced: ProducedMetadata(r),
			})
		}
	}
	res, err := callAdapter(ctx, s.core, adapterCall[backendtype.CommitResult]{
		backend: e.Backend, operation: CallEraseSubject, timeout: s.cfg.CommitTimeout, status: commitStatus,
		call: func(ctx context.Context) (backendtype.CommitResult, error) { return eraser.EraseSubject(ctx, req) },
	})
	if err != nil || res.Status == backendtype.ResultFailed || res.Status == backendtype.ResultPending {
		// A pending answer (a remote deletion task still running) is asked
		// again later with its state, without spending an attempt.
		return s.applyCommitResult(c, e, res, err, now)
	}
	delete(c.Metadata, "backend_state")
	outcome, _ := res.Response["outcome"].(string)
	if outcome == "" {
		outcome = string(backendtype.ErasureOutcomeErased)
	}
	c.Metadata["outcome"] = outcome
	if n := metadataInt(res.Response["unreached"]); n > 0 {
		c.Metadata["unreached"] = n
	}
	if detail, _ := res.Response["detail"].(string); detail != "" {
		c.Metadata["detail"] = truncate(s.redactError(e.WorkspaceID, detail), maxErrorMessageLength)
	}
	residue, err := callAdapter(ctx, s.core, adapterCall[backendtype.Residue]{
		backend: e.Backend, operation: CallVerifyErasure, timeout: s.cfg.CommitTimeout,
		call: func(ctx context.Context) (backendtype.Residue, error) { return eraser.SubjectResidue(ctx, req) },
	})
	if err != nil {
		c.Metadata["verified"] = false
		return s.failed(c, now, true, ErrorCodeVerification, err.Error())
	}
	c.Metadata["residue"], c.Metadata["residue_kinds"], c.Metadata["verified"] = residue.Total(), residueMetadata(residue), residue.Clear()
	requestID, _ := e.Metadata[metadataErasureID].(string)
	if n := residue.Erasable(); n > 0 {
		return s.failed(c, now, true, ErrorCodeResidue,
			fmt.Sprintf("%s still returns %d item(s) of the subject after the delete", e.Backend, n))
	}
	if cannot := residue.Unerasable(); len(cannot) > 0 {
		return s.incompleteErasure(c, outcome, cannot, &ErasureCompletion{RequestID: requestID, Scope: scope, Backend: e.Backend, Sessions: res.DeletedSessions}, now)
	}
	if outcome == string(backendtype.ErasureOutcomeUnsupported) {
		// A backend that cannot delete, holding nothing of the subject.
		c.Metadata["outcome"] = string(backendtype.ErasureOutcomeNothingToErase)
	}
	c.Status, c.CompletedAt = OutboxSuccess, &now
	c.LastError, c.LastErrorCode = nil, nil
	c.Erasure = &ErasureCompletion{RequestID: requestID, Scope: scope, Backend: e.Backend, Sessions: res.DeletedSessions}
	return c
}

// incompleteErasure ends a backend's share that deleted what it can while
// the backend keeps kinds of data its API cannot delete: dead-lettered at
// once (trying again cannot help; a re-drive once they are gone verifies
// again), PARTIAL (or UNSUPPORTED when the backend deletes nothing), with
// what remains named. The refs of what was deleted are marked DELETED; the
// refs of what remains stay live.
func (s *OutboxExecutor) incompleteErasure(c OutboxCompletion, outcome string, cannot backendtype.Residue, done *ErasureCompletion, now time.Time) OutboxCompletion {
	if outcome != string(backendtype.ErasureOutcomeUnsupported) {
		outcome = string(backendtype.ErasureOutcomePartial)
		for _, k := range cannot {
			done.Keep = append(done.Keep, k.RefTypes...)
		}
		c.Erasure = done
	}
	c.Metadata["outcome"] = outcome
	detail := string(done.Backend) + " cannot erase " + cannot.Describe()
	if prior, _ := c.Metadata["detail"].(string); prior != "" {
		detail = prior + "; " + detail
	}
	c.Metadata["detail"] = truncate(detail, maxErrorMessageLength)
	return s.failed(c, now, false, ErrorCodeErasureIncomplete, detail)
}
