package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// BackendCallKind groups backend calls for their trends: what writes
// memory and what reads it back.
type BackendCallKind string

// Backend call kinds.
const (
	// BackendCallWrite: ingest writes, session commits and routed feedback.
	BackendCallWrite BackendCallKind = "write"
	// BackendCallRetrieve: retrievals.
	BackendCallRetrieve BackendCallKind = "retrieve"
)

// KindOfCall is the kind of a backend call operation (a Call* name); ok is
// false for calls of neither kind (health probes, erasures, exports, …).
func KindOfCall(operation string) (kind BackendCallKind, ok bool) {
	switch operation {
	case CallIngestTurn, CallCommitSession, CallApplyFeedback:
		return BackendCallWrite, true
	case CallRetrieve:
		return BackendCallRetrieve, true
	}
	return "", false
}

// BackendMetrics is a rolling window of one process's own backend-call
// metrics: per backend and kind of call, its rate and latency quantiles
// between consecutive samples of the process's metric registry.
type BackendMetrics struct {
	// Replica names the process (host and pid): each replica samples only
	// the calls it made itself.
	Replica string
	// Source names the metric the points are computed from.
	Source string
	// Interval is the time between samples; Window the time the kept
	// samples span at most.
	Interval time.Duration
	Window   time.Duration
	// Backends has a series per backend and kind of call seen in the
	// window, ordered by backend then kind.
	Backends []BackendTrend
}

// IntervalSeconds is Interval in seconds.
func (m BackendMetrics) IntervalSeconds() float64 { return m.Interval.Seconds() }

// WindowSeconds is Window in seconds.
func (m BackendMetrics) WindowSeconds() float64 { return m.Window.Seconds() }

// BackendTrend is one backend's calls of one kind over the window.
type BackendTrend struct {
	Backend backendtype.Backend
	Kind    BackendCallKind
	// Points are oldest first, one per interval between two samples.
	Points []BackendTrendPoint
}

// BackendTrendPoint is what happened between two samples.
type BackendTrendPoint struct {
	// At is when the interval ended (the later sample).
	At time.Time
	// CallsPerSecond is the calls finished in the interval over its length.
	CallsPerSecond float64
	// P50Ms and P95Ms estimate latency quantiles of those calls from the
	// histogram's buckets; nil when no call finished in the interval.
	P50Ms *float64
	P95Ms *float64
}

// MetricsWindow keeps the process's backend-call metrics over a rolling
// window (telemetry samples its registry).
type MetricsWindow interface {
	BackendMetrics() BackendMetrics
}

// BackendMetrics is the rolling window of this process's backend-call
// metrics, for ADMIN keys of a whole workspace and the operator (as backend
// health is); empty when the process keeps none.
func (s *Service) BackendMetrics(ctx context.Context) (BackendMetrics, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return BackendMetrics{}, err
	}
	if p.AccessTo(p.WorkspaceID, "") < AccessAdmin || p.UserID != "" || p.AgentID != "" {
		return BackendMetrics{}, fmt.Errorf("%w: backend metrics are for ADMIN keys of a whole workspace and the operator", ErrForbidden)
	}
	if s.metrics == nil {
		return BackendMetrics{Backends: []BackendTrend{}}, nil
	}
	return s.metrics.BackendMetrics(), nil
}
