package gateway

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/memory-gateway/memory-gateway/backendtype"
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
	Backend backendtype.Backend
	// Healthy is true when the probe answered well (or the backend has no
	// probe and no breaker complaint).
	Healthy      bool
	LatencyMs    *int
	Error        *string
	BreakerState BreakerState
	Capabilities []string
	CheckedAt    time.Time
}

// HealthCacheTTL is how long one round of health probes answers every
// caller. Probes cost the backends a request each: however many callers,
// keys and aliases ask, each backend is probed at most once per TTL by this
// process, and callers that arrive while a round is under way wait for it.
const HealthCacheTTL = 5 * time.Second

// Defaults of the health rate of one key (RATE_LIMIT_HEALTH): a burst of
// one operation's worth of aliases (MAX_QUERY_ALIASES' default), then one a
// second, well above a console refreshing every few seconds.
const (
	HealthRateDefault  = 1.0
	HealthBurstDefault = 30
)

// healthRoundKey names the one round of probes in flight.
const healthRoundKey = "health"

// healthCache holds the last round of probes, made at (the service clock).
type healthCache struct {
	flight   singleflight.Group
	mu       sync.Mutex
	statuses []BackendStatus
	at       time.Time
}

// fresh returns the last round while it is younger than HealthCacheTTL.
func (c *healthCache) fresh(now time.Time) ([]BackendStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.statuses == nil || now.Sub(c.at) >= HealthCacheTTL {
		return nil, false
	}
	return c.statuses, true
}

func (c *healthCache) keep(statuses []BackendStatus, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statuses, c.at = statuses, at
}

// BackendStatuses reports every configured backend's health: to an ADMIN
// key of a whole workspace or the operator (the health of shared backends
// is the deployment's business), one token of the key's health rate per
// call, from the last round of probes while it is younger than
// HealthCacheTTL.
func (s *Service) BackendStatuses(ctx context.Context) ([]BackendStatus, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	if p.AccessTo(p.WorkspaceID, "") < AccessAdmin || p.UserID != "" || p.AgentID != "" {
		return nil, fmt.Errorf("%w: backend health is for ADMIN keys of a whole workspace and the operator", ErrForbidden)
	}
	if err := s.admit(ctx, p, LimitHealth); err != nil {
		return nil, err
	}
	if statuses, ok := s.health.fresh(s.now()); ok {
		return slices.Clone(statuses), nil
	}
	round := s.health.flight.DoChan(healthRoundKey, func() (any, error) {
		// A round may have ended between the look above and this one.
		if statuses, ok := s.health.fresh(s.now()); ok {
			return statuses, nil
		}
		// Not the caller's cancellation: the round is every waiting
		// caller's, and each probe is bounded by HealthTimeout.
		statuses := s.probeBackends(context.WithoutCancel(ctx))
		s.health.keep(statuses, s.now())
		return statuses, nil
	})
	select {
	case r := <-round:
		return slices.Clone(r.Val.([]BackendStatus)), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for backend health: %w", context.Cause(ctx))
	}
}

// probeBackends probes every configured backend concurrently.
func (s *Service) probeBackends(ctx context.Context) []BackendStatus {
	out := make([]BackendStatus, len(s.backends))
	var wg sync.WaitGroup
	for i, adapter := range s.backends {
		out[i] = BackendStatus{Backend: adapter.Name(), Healthy: true, BreakerState: BreakerClosed, Capabilities: capabilities(adapter)}
		if b, ok := adapter.(BreakerStater); ok {
			out[i].BreakerState = BreakerState(b.BreakerState())
		}
		checker, ok := adapter.(backendtype.HealthChecker)
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

func capabilities(a backendtype.BackendAdapter) []string {
	var caps []string
	if _, ok := a.(backendtype.TurnIngester); ok {
		caps = append(caps, "ingest_turn")
	}
	if _, ok := a.(backendtype.SessionCommitter); ok {
		caps = append(caps, "commit_session")
	}
	if _, ok := a.(backendtype.Retriever); ok {
		caps = append(caps, "retrieve")
	}
	if _, ok := a.(backendtype.FeedbackApplier); ok {
		caps = append(caps, "apply_feedback")
	}
	if _, ok := a.(backendtype.HealthChecker); ok {
		caps = append(caps, "health")
	}
	return caps
}
