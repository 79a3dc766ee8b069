package gateway

import (
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// AttemptsKeptPerEvent is how many runs of one event are kept: the
// completion that records a run deletes the runs before the last ones, so
// an event retried through a long outage keeps a bounded history.
const AttemptsKeptPerEvent = 25

// AttemptOutcome is how one run of an outbox event ended.
type AttemptOutcome string

// Attempt outcomes.
const (
	// AttemptSucceeded: the backend did the work.
	AttemptSucceeded AttemptOutcome = "success"
	// AttemptSkipped: nothing to do (the backend cannot do it, or it was
	// done already).
	AttemptSkipped AttemptOutcome = "skipped"
	// AttemptFailed: it failed and will be retried (the attempt is spent).
	AttemptFailed AttemptOutcome = "failed"
	// AttemptDeadLettered: it failed for good (out of attempts, or not
	// worth retrying).
	AttemptDeadLettered AttemptOutcome = "dead_letter"
	// AttemptBackendDown: the backend is known to be down (its circuit
	// breaker is open); the event waits without spending the attempt.
	AttemptBackendDown AttemptOutcome = "backend_down"
	// AttemptBackendPending: the backend is still working on it; the
	// event looks again later without spending the attempt.
	AttemptBackendPending AttemptOutcome = "backend_pending"
	// AttemptLeaseExpired: the worker's lease expired before it finished
	// (it died or stalled); the event was rescued.
	AttemptLeaseExpired AttemptOutcome = "lease_expired"
)

// OutboxAttempt is one run of an outbox event: one claim and what came of
// it. Its error is the event's own error text of that run (redacted and
// bounded, never content).
type OutboxAttempt struct {
	EventID string
	// Number counts the event's runs (its claim count): 1, 2, … and never
	// reused, not even after a re-drive.
	Number int
	// Attempt is the event's attempt count after the run: a run given back
	// (backend down, backend still working) does not raise it, and a
	// re-drive starts it again.
	Attempt      int
	WorkspaceID  string
	Backend      backendtype.Backend
	WorkerID     string
	Outcome      AttemptOutcome
	ErrorCode    *string
	ErrorMessage *string
	StartedAt    time.Time
	FinishedAt   time.Time
}

// AttemptOutcome is how the run a completion records ended.
func (c OutboxCompletion) AttemptOutcome() AttemptOutcome {
	if c.Outcome != "" {
		return c.Outcome
	}
	switch c.Status {
	case OutboxSuccess:
		return AttemptSucceeded
	case OutboxSkipped:
		return AttemptSkipped
	case OutboxDeadLetter:
		return AttemptDeadLettered
	}
	if c.LastError != nil || c.LastErrorCode != nil {
		return AttemptFailed
	}
	return AttemptBackendPending
}

// OutboxWaitReason says why an event that is not finished has not run yet.
type OutboxWaitReason string

// Wait reasons.
const (
	// WaitQueued: due now, waiting for a worker to claim it.
	WaitQueued OutboxWaitReason = "queued"
	// WaitRetryDue: an attempt failed; the next one is due at Until.
	WaitRetryDue OutboxWaitReason = "retry_due"
	// WaitBreakerOpen: its backend's circuit breaker is open; it runs
	// again when the breaker next probes (Until, when known).
	WaitBreakerOpen OutboxWaitReason = "breaker_open"
	// WaitBackendPending: the backend is still working on it; it is looked
	// at again at Until.
	WaitBackendPending OutboxWaitReason = "backend_pending"
	// WaitLeaseHeld: a worker (WorkerID) is running it under a lease
	// until Until.
	WaitLeaseHeld OutboxWaitReason = "lease_held"
	// WaitLeaseExpired: the lease of the worker that ran it expired at
	// Until; the next rescue sweep hands it back.
	WaitLeaseExpired OutboxWaitReason = "lease_expired"
)

// OutboxWait is why an event waits, computed from its stored state and the
// breaker state of its backend in this process.
type OutboxWait struct {
	Reason   OutboxWaitReason
	Backend  backendtype.Backend
	Until    *time.Time
	WorkerID *string
}

// WaitOf says why e waits at now, or nil when it is finished. breakerOpen
// is whether its backend's breaker is open in this process (false when
// unknown).
func WaitOf(e OutboxEvent, now time.Time, breakerOpen bool) *OutboxWait {
	w := &OutboxWait{Backend: e.Backend}
	switch e.Status {
	case OutboxProcessing:
		w.WorkerID, w.Until = e.LockedBy, e.LeaseExpiresAt
		w.Reason = WaitLeaseHeld
		if e.LeaseExpiresAt != nil && e.LeaseExpiresAt.Before(now) {
			w.Reason = WaitLeaseExpired
		}
		return w
	case OutboxPending:
	default:
		return nil
	}
	due := e.NextRetryAt
	waiting := due.After(now)
	if waiting {
		w.Until = &due
	}
	switch {
	case breakerOpen || (waiting && (e.Metadata[metadataWaitingForBackend] == true || deref(e.LastErrorCode) == ErrorCodeCircuitOpen)):
		w.Reason = WaitBreakerOpen
	case !waiting:
		w.Reason = WaitQueued
	case e.LastError == nil && e.LastErrorCode == nil:
		w.Reason = WaitBackendPending
	default:
		w.Reason = WaitRetryDue
	}
	return w
}

// ErrorCodeCircuitOpen is the code of a call a backend's open circuit
// breaker refused without sending it.
const ErrorCodeCircuitOpen = "circuit_open"

// EventWait says why e waits now, with its backend's breaker state as this
// process sees it.
func (s *Service) EventWait(e OutboxEvent) *OutboxWait {
	open := false
	for _, adapter := range s.backends {
		if adapter.Name() != e.Backend {
			continue
		}
		if b, ok := adapter.(BreakerStater); ok {
			open = BreakerState(b.BreakerState()) == BreakerOpen
		}
	}
	return WaitOf(e, s.clock(), open)
}
