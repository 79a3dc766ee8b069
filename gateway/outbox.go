package gateway

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Outbox defaults.
const (
	// BackoffMax caps the retry delay: min(60 s, 2^attempts s).
	BackoffMax = 60 * time.Second
	// BackoffJitter is the largest extra delay, as a fraction of the base.
	BackoffJitter = 0.1
	// CommitTimeoutDefault bounds one backend commit call; the worker's lease
	// is extended while it runs.
	CommitTimeoutDefault = 2 * time.Minute
)

// Error codes recorded on events.
const (
	ErrorCodeAdapterException     = "adapter_exception"
	ErrorCodeBackendNotConfigured = "backend_not_configured"
	ErrorCodeLeaseExpired         = "lease_expired"
	ErrorCodeTimeout              = "timeout"
)

// Reasons recorded on SKIPPED events.
const (
	ReasonUnsupportedOperation = "unsupported_operation"
)

// ClaimRequest asks the store for pending events whose retry time has come,
// oldest first, for one backend.
type ClaimRequest struct {
	WorkerID string
	Backend  backendtype.Backend
	// WorkspaceID, when set, claims only that workspace's events (an admin's
	// synchronous drain); the worker's own loop claims every workspace's.
	WorkspaceID string
	Limit       int
	Now         time.Time
	LeaseUntil  time.Time
}

// ClaimedBatch is what a claim returned: events now PROCESSING and leased to
// the worker (their attempt count already includes this attempt), and the
// jobs that moved from ACCEPTED to RUNNING, as they are now.
type ClaimedBatch struct {
	Events      []OutboxEvent
	StartedJobs []CommitJob
}

// OutboxCompletion is the outcome of one attempt at one event, to be applied
// only if the worker still holds the event's lease (the fence).
type OutboxCompletion struct {
	EventID   string
	JobID     *string
	Backend   backendtype.Backend
	Operation Operation
	// FenceWorker and FenceClaim name the lease the attempt ran under; the
	// completion lands only while the event is still under it.
	FenceWorker string
	FenceClaim  int

	Status        OutboxStatus
	AttemptCount  int
	NextRetryAt   time.Time
	LastError     *string
	LastErrorCode *string
	Metadata      Metadata
	CompletedAt   *time.Time
	// Refs are written (idempotently) in the same transaction.
	Refs []MemoryRef
	// SessionLabelled names the Refs that are derived from the whole
	// session rather than one turn: the store records them under the
	// session's scope as it is when the completion is written (CommitLabel),
	// so every turn that reached the session before the backend answered
	// counts.
	SessionLabelled []string
	// Feedback, for an APPLY_FEEDBACK event that finished, updates the
	// feedback and the memory's refs in the same transaction.
	Feedback *FeedbackOutcome
	// Erasure, for an ERASE_SUBJECT event that finished and verified, marks
	// the subject's refs of that backend DELETED in the same transaction.
	Erasure *ErasureCompletion
	// Retire, for a commit that succeeded, marks the refs of memories the
	// backend deleted while committing DELETED in the same transaction.
	Retire []RefRetirement

	// Outcome is how the run ended, when the status alone does not say
	// (AttemptOutcome derives it otherwise); StartedAt and FinishedAt
	// bound the run. They become the run's OutboxAttempt.
	Outcome    AttemptOutcome
	StartedAt  time.Time
	FinishedAt time.Time

	maxAttempts int
	// workspaceID is the event's, whose policy redacts its error text.
	workspaceID string
}

// CompletionResult reports which completions landed.
type CompletionResult struct {
	// Applied are the events whose completion was written.
	Applied []string
	// Lost are events whose lease had been taken over: their result was
	// discarded and newer state kept.
	Lost []string
	// Jobs are the re-aggregated jobs, as they are now.
	Jobs []CommitJob
}

// RescueResult reports a sweep of expired leases.
type RescueResult struct {
	Rescued      int
	DeadLettered int
	Jobs         []CommitJob
}

// JobPublisher hands committed job states to this process's subscribers.
// (Other processes hear of the change through the store's notifications.)
type JobPublisher interface {
	PublishJobStates(ctx context.Context, jobs []CommitJob)
}

// JobHolder is a JobPublisher that keeps a job's states in order while the
// job is being created: from HoldJobs (before the creating transaction)
// until release (after it), a later state of the job — the worker claiming
// it — waits, and release hands over the created states ahead of it.
// release takes nil when nothing was created.
type JobHolder interface {
	HoldJobs(ids []string) (release func(ctx context.Context, created []CommitJob))
}

// RetryDelay is the base backoff after a failed attempt: min(60 s, 2^attempt s).
func RetryDelay(attempt int) time.Duration {
	if attempt < 0 {
		attempt = 0
	}
	if attempt >= 6 {
		return BackoffMax
	}
	return min(BackoffMax, time.Duration(1<<attempt)*time.Second)
}

// RetryDelayWithJitter adds up to BackoffJitter of the base, so events that
// failed together do not retry together.
func RetryDelayWithJitter(attempt int) time.Duration {
	base := RetryDelay(attempt)
	return base + time.Duration(rand.Float64()*BackoffJitter*float64(base))
}

// ExecuteOutboxEvent runs one claimed event against its backend and returns
// the completion to apply. It never panics and never returns an error: every
// failure becomes a retry or a dead letter.
func (s *OutboxExecutor) ExecuteOutboxEvent(ctx context.Context, e OutboxEvent, workerID string) OutboxCompletion {
	started := s.clock()
	c := s.execute(ctx, e, workerID, started)
	c.StartedAt, c.FinishedAt = started, s.clock()
	if c.AttemptOutcome() == AttemptBackendDown {
		c.Metadata[metadataWaitingForBackend] = true
	} else {
		delete(c.Metadata, metadataWaitingForBackend)
	}
	return c
}

// metadataWaitingForBackend marks an event waiting for its backend's
// breaker to close (WaitOf).
const metadataWaitingForBackend = "waiting_for_backend"

func (s *OutboxExecutor) execute(ctx context.Context, e OutboxEvent, workerID string, now time.Time) OutboxCompletion {
	c := OutboxCompletion{
		EventID: e.ID, JobID: e.JobID, Backend: e.Backend, Operation: e.Operation, FenceWorker: workerID, FenceClaim: e.ClaimCount,
		AttemptCount: e.AttemptCount, NextRetryAt: e.NextRetryAt, Metadata: SafeMetadata(e.Metadata),
		maxAttempts: e.MaxAttempts, workspaceID: e.WorkspaceID,
	}
	adapter, ok := s.byName[e.Backend]
	if !ok {
		return s.failed(c, now, true, ErrorCodeBackendNotConfigured,
			fmt.Sprintf("backend %s is not configured on this process", e.Backend))
	}
	switch e.Operation {
	case OperationCommitSession:
		committer, ok := adapter.(backendtype.SessionCommitter)
		if !ok {
			return s.skipped(c, now, ReasonAdapterMethodMissing)
		}
		res, err := s.callCommitter(ctx, committer, e)
		return s.applyCommitResult(c, e, res, err, now)
	case OperationApplyFeedback:
		return s.executeFeedback(ctx, c, e, adapter, now)
	case OperationEraseSubject:
		return s.executeErasure(ctx, c, e, adapter, now)
	case OperationIngestTurn:
		return s.executeIngestHeal(ctx, c, e, adapter, now)
	default:
		return s.skipped(c, now, ReasonUnsupportedOperation)
	}
}

func (s *OutboxExecutor) callCommitter(ctx context.Context, committer backendtype.SessionCommitter, e OutboxEvent) (backendtype.CommitResult, error) {
	req := backendtype.CommitRequest{
		EventID: e.ID, JobID: deref(e.JobID), GatewayID: e.GatewayID, WorkspaceID: e.WorkspaceID,
		UserID: e.UserID, AgentID: e.AgentID, SessionID: e.SessionID, Namespace: e.Namespace,
		Attempt: e.AttemptCount, Metadata: SafeMetadata(e.Metadata),
		Known: func(ctx context.Context) (map[string]bool, error) { return s.knownNativeIDs(ctx, e) },
	}
	return callAdapter(ctx, s.core, adapterCall[backendtype.CommitResult]{
		backend: e.Backend, operation: CallCommitSession, timeout: s.cfg.CommitTimeout, status: commitStatus,
		call: func(ctx context.Context) (backendtype.CommitResult, error) { return committer.CommitSession(ctx, req) },
	})
}

func commitStatus(r backendtype.CommitResult) backendtype.ResultStatus { return r.Status }

// callFailed completes an event whose backend call returned an error: it
// waits for a backend that says it is down, and is otherwise retried,
// coded by how the call failed.
func (s *OutboxExecutor) callFailed(c OutboxCompletion, e OutboxEvent, now time.Time, err error) OutboxCompletion {
	code := ErrorCodeAdapterException
	if timedOut(err) {
		code = ErrorCodeTimeout
	}
	var down backendOutage
	if errors.As(err, &down) && !down.BackendDownUntil().IsZero() {
		return s.waitForBackend(c, e, now, down.BackendDownUntil(), code, err.Error())
	}
	return s.failed(c, now, true, code, err.Error())
}

func (s *OutboxExecutor) applyCommitResult(c OutboxCompletion, e OutboxEvent, res backendtype.CommitResult, err error, now time.Time) OutboxCompletion {
	if err != nil {
		return s.callFailed(c, e, now, err)
	}
	result := BackendResultMetadata(res.Response)
	c.Metadata["backend_result"] = result
	// State is the backend's progress kept between attempts (a remote task
	// id): non-nil replaces it, empty drops it, nil keeps it.
	if res.State != nil {
		if len(res.State) == 0 {
			delete(c.Metadata, "backend_state")
		} else {
			c.Metadata["backend_state"] = SafeMetadata(res.State)
		}
	}
	if res.Status == backendtype.ResultSuccess || res.Status == backendtype.ResultSkipped || res.Status == "" {
		delete(c.Metadata, "backend_state")
	}
	switch res.Status {
	case backendtype.ResultFailed:
		msg := res.ErrorMessage
		if msg == "" {
			msg = "backend reported failure"
		}
		if !res.DownUntil.IsZero() && res.Retryable {
			return s.waitForBackend(c, e, now, res.DownUntil, res.ErrorCode, msg)
		}
		return s.failed(c, now, res.Retryable, res.ErrorCode, msg)
	case backendtype.ResultSkipped:
		reason, _ := result["reason"].(string)
		return s.skipped(c, now, reason)
	case backendtype.ResultPending:
		// Not finished remotely: look again later without spending an attempt.
		delay := res.RetryAfter
		if delay <= 0 {
			delay = time.Second
		}
		c.Status = OutboxPending
		c.Outcome = AttemptBackendPending
		c.AttemptCount = max(0, e.AttemptCount-1)
		c.NextRetryAt = now.Add(delay)
		return c
	}
	c.Status = OutboxSuccess
	c.CompletedAt = &now
	c.LastError, c.LastErrorCode = nil, nil
	c.Refs, c.SessionLabelled = s.producedRefs(e, res, result, now)
	c.Retire = retiredByCommit(e, res)
	return c
}

// retiredByCommit are the retirements of the memories a commit deleted,
// but those it also produced (a memory rewritten under the same name).
func retiredByCommit(e OutboxEvent, res backendtype.CommitResult) []RefRetirement {
	if len(res.Retired) == 0 {
		return nil
	}
	produced := map[string]bool{}
	for _, p := range res.Refs {
		produced["id:"+p.NativeID] = p.NativeID != ""
		produced["uri:"+p.NativeURI] = p.NativeURI != ""
	}
	var out []RefRetirement
	for _, r := range res.Retired {
		if (r.NativeID == "" && r.NativeURI == "") || produced["id:"+r.NativeID] || produced["uri:"+r.NativeURI] {
			continue
		}
		out = append(out, RefRetirement{
			WorkspaceID: e.WorkspaceID, UserID: e.UserID, Backend: e.Backend,
			NativeID: r.NativeID, NativeURI: r.NativeURI, Status: RefStatusDeleted,
		})
	}
	return out
}

func (s *OutboxExecutor) failed(c OutboxCompletion, now time.Time, retryable bool, code, msg string) OutboxCompletion {
	s.noteError(&c, code, msg)
	if retryable && c.AttemptCount < c.maxAttempts {
		c.Status = OutboxPending
		c.NextRetryAt = now.Add(s.cfg.RetryDelay(c.AttemptCount))
		return c
	}
	c.Status = OutboxDeadLetter
	c.CompletedAt = &now
	return c
}

// noteError records a failure on the event, redacted and bounded.
func (s *OutboxExecutor) noteError(c *OutboxCompletion, code, msg string) {
	c.LastError = optional(truncate(s.redactError(c.workspaceID, msg), maxErrorMessageLength))
	c.LastErrorCode = optional(code)
}

// backendOutage is an adapter error saying the backend is known to be down
// until a time (its circuit breaker is open).
type backendOutage interface{ BackendDownUntil() time.Time }

// waitForBackend puts an event back to wait for a backend that is down: it
// is due again when the backend's breaker next probes, and the attempt it
// was claimed with is given back — an outage, however long, spends no
// attempts (only failures before the breaker opened did). The error stays
// visible on the event.
func (s *OutboxExecutor) waitForBackend(c OutboxCompletion, e OutboxEvent, now, until time.Time, code, msg string) OutboxCompletion {
	s.noteError(&c, code, msg)
	c.Status = OutboxPending
	c.Outcome = AttemptBackendDown
	c.AttemptCount = max(0, e.AttemptCount-1)
	c.NextRetryAt = now
	if until.After(now) {
		c.NextRetryAt = until
	}
	return c
}

func (s *OutboxExecutor) skipped(c OutboxCompletion, now time.Time, reason string) OutboxCompletion {
	c.Status = OutboxSkipped
	c.CompletedAt = &now
	if reason != "" {
		c.Metadata["reason"] = reason
	}
	return c
}

// producedRefs turns what a commit produced into refs with stable ids: the
// stable key is the produced ref's stable_key / backend_ref_key /
// idempotency_key metadata, else "produced_ref_index:{i}" when it has no
// native id or uri. A result without refs yields one ref from its own native
// id/uri.
func (s *OutboxExecutor) producedRefs(e OutboxEvent, res backendtype.CommitResult, result Metadata, now time.Time) (refs []MemoryRef, sessionLabelled []string) {
	produced := res.Refs
	if len(produced) == 0 {
		refType := res.RefType
		if refType == "" {
			refType = s.refTypesOf(e.Backend).Commit
		}
		produced = []backendtype.ProducedRef{{RefType: refType, NativeID: res.NativeID, NativeURI: res.NativeURI}}
	}
	refs = make([]MemoryRef, 0, len(produced))
	for i, p := range produced {
		stableKey := producedStableKey(p, i)
		if p.NativeID == "" && p.NativeURI == "" && stableKey == "" {
			continue
		}
		refType := p.RefType
		if refType == "" {
			refType = s.refTypesOf(e.Backend).Commit
		}
		agentID, ns := e.AgentID, e.Namespace
		if p.Scope != nil {
			agentID, ns = p.Scope.AgentID, p.Scope.Namespace
		}
		id := RefID(e.GatewayID, e.Backend, refType, p.NativeID, p.NativeURI, stableKey)
		if p.Scope == nil {
			sessionLabelled = append(sessionLabelled, id)
		}
		md := Metadata{
			"schema_version":     SchemaVersionCommitRef,
			"job_id":             deref(e.JobID),
			"outbox_event_id":    e.ID,
			"operation":          string(e.Operation),
			"produced_ref_index": i,
			"backend_result":     result,
		}
		if stableKey != "" {
			md["stable_key"] = stableKey
		}
		if pm := SafeMetadata(p.Metadata); len(pm) > 0 {
			md["produced_ref"] = pm
		}
		refs = append(refs, MemoryRef{
			ID:            id,
			GatewayID:     e.GatewayID,
			ProvenanceID:  CommitProvenanceID(e.ID, refType, p.NativeID, p.NativeURI),
			WorkspaceID:   e.WorkspaceID,
			UserID:        e.UserID,
			AgentID:       agentID,
			SessionID:     e.SessionID,
			Namespace:     ns,
			Backend:       e.Backend,
			RefType:       refType,
			Status:        RefStatusSuccess,
			NativeID:      optional(p.NativeID),
			NativeURI:     optional(p.NativeURI),
			SourceType:    optional("commit_session"),
			SourceEventID: optional(e.ID),
			JobID:         e.JobID,
			OutboxEventID: optional(e.ID),
			Metadata:      md,
			CreatedAt:     now,
			UpdatedAt:     now,
		})
	}
	return refs, sessionLabelled
}

func producedStableKey(p backendtype.ProducedRef, index int) string {
	for _, key := range []string{"stable_key", "backend_ref_key", "idempotency_key"} {
		if v, ok := p.Metadata[key].(string); ok && v != "" {
			return v
		}
	}
	if p.NativeID == "" && p.NativeURI == "" {
		return fmt.Sprintf("produced_ref_index:%d", index)
	}
	return ""
}

// ProducedMetadata is what the backend said of a ref's memory when a commit
// produced it (ProducedRef.Metadata, as stored); nil for other refs.
func ProducedMetadata(r MemoryRef) Metadata {
	m, _ := r.Metadata["produced_ref"].(map[string]any)
	return m
}

// knownPageSize is how many refs one read of knownNativeIDs takes.
const knownPageSize = 100

// knownNativeIDs are the native ids of the session's refs in the event's
// backend (CommitRequest.Known).
func (s *OutboxExecutor) knownNativeIDs(ctx context.Context, e OutboxEvent) (map[string]bool, error) {
	known := map[string]bool{}
	f := RefFilter{WorkspaceID: e.WorkspaceID, UserID: e.UserID, SessionID: e.SessionID, Backend: e.Backend}
	p := PageRequest{First: knownPageSize}
	for {
		page, err := s.store.ListMemoryRefs(ctx, f, p)
		if err != nil {
			return nil, fmt.Errorf("error reading the session's refs: %w", err)
		}
		for _, r := range page.Items {
			if r.NativeID != nil {
				known[*r.NativeID] = true
			}
		}
		if !page.HasNextPage || len(page.Items) == 0 {
			return known, nil
		}
		last := page.Items[len(page.Items)-1]
		p.After = &Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
}
