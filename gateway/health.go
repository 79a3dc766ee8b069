package gateway

import (
	"context"
	"sync"
	"time"
)

// HealthTimeout bounds one health probe.
const HealthTimeout = 3 * time.Second

// BreakerState is the state of a backend's circuit breaker.
type BreakerState string

// Breaker states.
const (
	BreakerClosed   BreakerState = "closed"
	BreakerHalfOpen BreakerState = "half_open"
	BreakerOpen     BreakerState = "open"
)

// BreakerStater is implemented by backends behind a circuit breaker.
type BreakerStater interface {
	// BreakerState is "closed", "open" or "half_open".
	BreakerState() string
}

// BackendStatus is one backend's health as the gateway sees it.
type BackendStatus struct {
	Backend Backend
	// Healthy is true when the probe answered well (or the backend has no
	// probe and no breaker complaint).
	Healthy      bool
	LatencyMs    *int
	Error        *string
	BreakerState BreakerState
	Capabilities []string
	CheckedAt    time.Time
}

// BackendStatuses probes every configured backend concurrently.
func (s *Service) BackendStatuses(ctx context.Context) []BackendStatus {
	out := make([]BackendStatus, len(s.backends))
	var wg sync.WaitGroup
	for i, adapter := range s.backends {
		out[i] = BackendStatus{Backend: adapter.Name(), Healthy: true, BreakerState: BreakerClosed, Capabilities: capabilities(adapter)}
		if b, ok := adapter.(BreakerStater); ok {
			out[i].BreakerState = BreakerState(b.BreakerState())
		}
		checker, ok := adapter.(HealthChecker)
		if !ok {
			out[i].CheckedAt = s.clock()
			continue
		}
		wg.Go(func() {
			started := time.Now()
			_, err := callAdapter(ctx, s.core, adapterCall[struct{}]{
				backend: adapter.Name(), operation: CallHealth, timeout: HealthTimeout,
				call: func(ctx context.Context) (struct{}, error) { return struct{}{}, checker.Health(ctx) },
			})
			latency := int(time.Since(started).Milliseconds())
			out[i].LatencyMs = &latency
			out[i].CheckedAt = s.clock()
			if err != nil {
				out[i].Healthy = false
				// No workspace: the default policy (and the gateway's own
				// secrets, which a backend may echo) applies.
				out[i].Error = optional(truncate(s.redactError("", err.Error()), maxErrorMessageLength))
			}
			if b, ok := adapter.(BreakerStater); ok {
				out[i].BreakerState = BreakerState(b.BreakerState())
			}
		})
	}
	wg.Wait()
	return out
}

func capabilities(a BackendAdapter) []string {
	var caps []string
	if _, ok := a.(TurnIngester); ok {
		caps = append(caps, "ingest_turn")
	}
	if _, ok := a.(SessionCommitter); ok {
		caps = append(caps, "commit_session")
	}
	if _, ok := a.(Retriever); ok {
		caps = append(caps, "retrieve")
	}
	if _, ok := a.(FeedbackApplier); ok {
		caps = append(caps, "apply_feedback")
	}
	if _, ok := a.(HealthChecker); ok {
		caps = append(caps, "health")
	}
	return caps
}
