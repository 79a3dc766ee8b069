package telemetry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

func TestRingKeepsTheLastValuesOldestFirst(t *testing.T) {
	t.Parallel()
	r := newRing[int](3)
	require.Empty(t, r.items())
	r.push(1)
	r.push(2)
	require.Equal(t, []int{1, 2}, r.items())
	for _, v := range []int{3, 4, 5} {
		r.push(v)
	}
	require.Equal(t, []int{3, 4, 5}, r.items(), "bounded: the oldest are dropped")
	r.push(6)
	require.Equal(t, []int{4, 5, 6}, r.items())
}

// TestHistogramQuantile: the estimate PromQL's histogram_quantile makes,
// linear within the bucket the rank falls in.
func TestHistogramQuantile(t *testing.T) {
	t.Parallel()
	h := histogram{count: 50, bounds: []float64{1, 2, 4}, cumulative: []uint64{10, 30, 40}}
	for _, tc := range []struct {
		name string
		q    float64
		want float64
	}{
		{"in the first bucket, from 0", 0.1, 0.5},
		{"the median, in the second bucket", 0.5, 1.75},
		{"in the third bucket", 0.7, 3},
		{"beyond the finite buckets: the highest bound", 0.95, 4},
		{"at a bucket's top", 0.2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := h.quantile(tc.q)
			require.True(t, ok)
			require.InDelta(t, tc.want, got, 1e-9)
		})
	}
	_, ok := histogram{bounds: []float64{1}, cumulative: []uint64{0}}.quantile(0.5)
	require.False(t, ok, "no observations, no quantile")
	skip := histogram{count: 4, bounds: []float64{1, 2, 4}, cumulative: []uint64{0, 0, 4}}
	got, _ := skip.quantile(0.5)
	require.InDelta(t, 3, got, 1e-9, "empty buckets are passed over")

	later := histogram{count: 60, bounds: h.bounds, cumulative: []uint64{10, 35, 50}}
	d, ok := later.since(h)
	require.True(t, ok)
	require.Equal(t, histogram{count: 10, bounds: h.bounds, cumulative: []uint64{0, 5, 10}}, d)
	_, ok = h.since(later)
	require.False(t, ok, "a count that went down is a reset, not a difference")
}

// TestTrendsFromTheRegistry: the trends read the backend-call histogram the
// registry serves: per backend and kind of call (other calls left out),
// the rate between samples and latency quantiles within the buckets the
// calls fell in; an interval without calls has a rate of 0 and no
// quantiles; the ring bounds the window.
func TestTrendsFromTheRegistry(t *testing.T) {
	t.Parallel()
	tel := New(Options{})
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	tr := tel.Trends(TrendsConfig{Interval: 10 * time.Second, Samples: 3, Replica: "r1"}, lifecycle.NewEnv(nil, func() time.Time { return now }))
	observe := func(backend backendtype.Backend, op string, seconds float64, n int) {
		for range n {
			tel.backendDuration.WithLabelValues(string(backend), op, gateway.OutcomeOK).Observe(seconds)
		}
	}
	observe(backendtype.BackendLocal, gateway.CallIngestTurn, 0.003, 1) // before the first sample: not in any point
	require.NoError(t, tr.Sample())
	require.Empty(t, tr.BackendMetrics().Backends[0].Points, "one sample has no interval yet")

	observe(backendtype.BackendLocal, gateway.CallIngestTurn, 0.003, 15)
	observe(backendtype.BackendLocal, gateway.CallCommitSession, 0.003, 5)
	observe(backendtype.BackendLocal, gateway.CallRetrieve, 0.2, 5)
	observe(backendtype.BackendLocal, gateway.CallHealth, 0.001, 50)
	now = now.Add(10 * time.Second)
	require.NoError(t, tr.Sample())

	m := tr.BackendMetrics()
	require.Equal(t, "r1", m.Replica)
	require.Equal(t, "memory_gateway_backend_call_duration_seconds", m.Source)
	require.Equal(t, 20*time.Second, m.Window)
	require.Len(t, m.Backends, 2, "writes and retrievals; health probes are neither")
	retrieve, write := m.Backends[0], m.Backends[1]
	require.Equal(t, gateway.BackendCallRetrieve, retrieve.Kind)
	require.Equal(t, gateway.BackendCallWrite, write.Kind)
	require.Len(t, write.Points, 1)
	require.Equal(t, now, write.Points[0].At)
	require.InDelta(t, 2.0, write.Points[0].CallsPerSecond, 1e-9, "20 writes in 10 s")
	require.InDelta(t, 0.5, retrieve.Points[0].CallsPerSecond, 1e-9)
	require.Greater(t, *write.Points[0].P50Ms, 2.5)
	require.LessOrEqual(t, *write.Points[0].P95Ms, 5.0, "within the bucket of 3 ms")
	require.Greater(t, *retrieve.Points[0].P95Ms, 100.0)
	require.LessOrEqual(t, *retrieve.Points[0].P95Ms, 250.0)

	now = now.Add(10 * time.Second)
	require.NoError(t, tr.Sample())
	quiet := tr.BackendMetrics().Backends[1].Points[1]
	require.Zero(t, quiet.CallsPerSecond)
	require.Nil(t, quiet.P95Ms, "no calls, no latency")

	now = now.Add(10 * time.Second)
	require.NoError(t, tr.Sample())
	require.Len(t, tr.BackendMetrics().Backends[1].Points, 2, "three samples kept: two intervals")
}

// TestTrendsSampleUntilStopped: started, the trends take a sample at once
// and then every interval until stopped.
func TestTrendsSampleUntilStopped(t *testing.T) {
	t.Parallel()
	tel := New(Options{})
	tel.backendDuration.WithLabelValues(string(backendtype.BackendLocal), gateway.CallRetrieve, gateway.OutcomeOK).Observe(0.01)
	tr := tel.Trends(TrendsConfig{Interval: time.Millisecond, Samples: 5}, lifecycle.NewEnv(nil, nil))
	require.NoError(t, tr.Start(context.Background()))
	require.Eventually(t, func() bool {
		b := tr.BackendMetrics().Backends
		return len(b) == 1 && len(b[0].Points) >= 2
	}, 5*time.Second, time.Millisecond)
	require.NoError(t, tr.Stop(context.Background()))
	require.NoError(t, tr.Stop(context.Background()), "stopping twice does nothing")
	require.NotEmpty(t, tr.BackendMetrics().Replica, "named after the host and process by default")
}
