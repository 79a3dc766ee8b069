package telemetry

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// TrendIntervalDefault is how often the backend trends sample the metrics.
const TrendIntervalDefault = 10 * time.Second

// TrendSamplesDefault is how many samples the trends keep: ten minutes at
// the default interval.
const TrendSamplesDefault = 61

// trendSource is the metric the trends read: its sample count is the calls,
// its buckets their latency.
const trendSource = Namespace + "_backend_call_duration_seconds"

// TrendsConfig configures Trends.
type TrendsConfig struct {
	// Interval is the time between samples (default TrendIntervalDefault).
	Interval time.Duration
	// Samples bounds the ring of samples (default TrendSamplesDefault, at
	// least 2): the window spans Samples-1 intervals.
	Samples int
	// Replica names the process in the answer (default host-pid).
	Replica string
}

// Trends keeps a rolling window of the backend-call latency histogram
// (memory_gateway_backend_call_duration_seconds, the series /metrics
// serves): every Interval it snapshots the histogram, summed per backend
// and kind of call over operations and outcomes, into a bounded ring, and
// answers each backend's call rate and latency quantiles between
// consecutive snapshots. It reads a registry holding only that histogram,
// so sampling runs no other collector (the outbox depth queries). Each
// process keeps its own window.
type Trends struct {
	gatherer prometheus.Gatherer
	cfg      TrendsConfig
	env      lifecycle.Env
	runner   lifecycle.Runner

	mu      sync.Mutex
	samples *ring[trendSample]
}

var _ gateway.MetricsWindow = (*Trends)(nil)

// Trends builds the rolling window of t's backend-call metrics; it samples
// once started (see Start).
func (t *Telemetry) Trends(cfg TrendsConfig, env lifecycle.Env) *Trends {
	reg := prometheus.NewRegistry()
	reg.MustRegister(t.backendDuration)
	return newTrends(reg, cfg, env)
}

func newTrends(g prometheus.Gatherer, cfg TrendsConfig, env lifecycle.Env) *Trends {
	if cfg.Interval <= 0 {
		cfg.Interval = TrendIntervalDefault
	}
	if cfg.Samples < 2 {
		cfg.Samples = TrendSamplesDefault
	}
	if cfg.Replica == "" {
		host, _ := os.Hostname()
		cfg.Replica = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return &Trends{gatherer: g, cfg: cfg, env: env, samples: newRing[trendSample](cfg.Samples)}
}

// Start takes a first sample and samples every Interval until Stop.
func (tr *Trends) Start(ctx context.Context) error {
	tr.sample()
	return tr.runner.Start(ctx, func(ctx context.Context) {
		tick := time.NewTicker(tr.cfg.Interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				tr.sample()
			}
		}
	})
}

// Stop ends the sampling.
func (tr *Trends) Stop(ctx context.Context) error { return tr.runner.Stop(ctx) }

func (tr *Trends) sample() {
	if err := tr.Sample(); err != nil {
		tr.env.Logger().Warn("telemetry: backend trends: sampling the metrics failed", "err", err)
	}
}

// Sample snapshots the histogram now, dropping the oldest snapshot once
// the ring is full.
func (tr *Trends) Sample() error {
	mfs, err := tr.gatherer.Gather()
	if err != nil {
		return fmt.Errorf("error gathering %s: %w", trendSource, err)
	}
	s := trendSample{at: tr.env.Now(), series: map[trendKey]histogram{}}
	for _, mf := range mfs {
		if mf.GetName() != trendSource {
			continue
		}
		for _, m := range mf.GetMetric() {
			var backend, operation string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "backend":
					backend = l.GetValue()
				case "operation":
					operation = l.GetValue()
				}
			}
			kind, ok := gateway.KindOfCall(operation)
			h := m.GetHistogram()
			if !ok || h == nil {
				continue
			}
			var bounds []float64
			var cumulative []uint64
			for _, b := range h.GetBucket() {
				if !math.IsInf(b.GetUpperBound(), 1) {
					bounds, cumulative = append(bounds, b.GetUpperBound()), append(cumulative, b.GetCumulativeCount())
				}
			}
			key := trendKey{backend: backendtype.Backend(backend), kind: kind}
			s.series[key] = s.series[key].plus(histogram{count: h.GetSampleCount(), bounds: bounds, cumulative: cumulative})
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.samples.push(s)
	return nil
}

// BackendMetrics implements gateway.MetricsWindow.
func (tr *Trends) BackendMetrics() gateway.BackendMetrics {
	tr.mu.Lock()
	samples := tr.samples.items()
	tr.mu.Unlock()
	return gateway.BackendMetrics{
		Replica:  tr.cfg.Replica,
		Source:   trendSource,
		Interval: tr.cfg.Interval,
		Window:   time.Duration(tr.cfg.Samples-1) * tr.cfg.Interval,
		Backends: trendsOf(samples),
	}
}

// trendKey is one series of the trends.
type trendKey struct {
	backend backendtype.Backend
	kind    gateway.BackendCallKind
}

// trendSample is the histogram of every series at one moment.
type trendSample struct {
	at     time.Time
	series map[trendKey]histogram
}

// histogram is a cumulative histogram: count observations in all,
// cumulative[i] of them at most bounds[i] (the finite bounds, ascending).
type histogram struct {
	count      uint64
	bounds     []float64
	cumulative []uint64
}

// plus sums two histograms of the same buckets (a zero histogram takes
// the other's buckets).
func (h histogram) plus(o histogram) histogram {
	if h.bounds == nil {
		return histogram{count: o.count, bounds: o.bounds, cumulative: slices.Clone(o.cumulative)}
	}
	out := histogram{count: h.count + o.count, bounds: h.bounds, cumulative: slices.Clone(h.cumulative)}
	for i := range min(len(out.cumulative), len(o.cumulative)) {
		out.cumulative[i] += o.cumulative[i]
	}
	return out
}

// since is what h observed after earlier; ok is false when a count went
// down (a reset), which has no meaningful difference.
func (h histogram) since(earlier histogram) (histogram, bool) {
	if earlier.bounds == nil {
		return h, true
	}
	if h.count < earlier.count || len(h.cumulative) != len(earlier.cumulative) {
		return histogram{}, false
	}
	out := histogram{count: h.count - earlier.count, bounds: h.bounds, cumulative: make([]uint64, len(h.cumulative))}
	for i := range h.cumulative {
		if h.cumulative[i] < earlier.cumulative[i] {
			return histogram{}, false
		}
		out.cumulative[i] = h.cumulative[i] - earlier.cumulative[i]
	}
	return out, true
}

// quantile estimates the q-quantile (0 ≤ q ≤ 1) of h's observations as
// PromQL's histogram_quantile does: linearly within the bucket the rank
// falls in (the first bucket's lower bound being 0), and the highest finite
// bound when it falls beyond them. ok is false without observations.
func (h histogram) quantile(q float64) (float64, bool) {
	if h.count == 0 || len(h.bounds) == 0 {
		return 0, false
	}
	rank := q * float64(h.count)
	lower, below := 0.0, uint64(0)
	for i, upper := range h.bounds {
		if float64(h.cumulative[i]) >= rank && h.cumulative[i] > below {
			inBucket := float64(h.cumulative[i] - below)
			return lower + (upper-lower)*(rank-float64(below))/inBucket, true
		}
		lower, below = upper, h.cumulative[i]
	}
	return h.bounds[len(h.bounds)-1], true
}

// trendsOf turns consecutive samples into a series per backend and kind,
// a point per interval; a series missing from a sample had no calls yet.
func trendsOf(samples []trendSample) []gateway.BackendTrend {
	keys := map[trendKey]bool{}
	for _, s := range samples {
		for k := range s.series {
			keys[k] = true
		}
	}
	out := make([]gateway.BackendTrend, 0, len(keys))
	for k := range keys {
		trend := gateway.BackendTrend{Backend: k.backend, Kind: k.kind, Points: []gateway.BackendTrendPoint{}}
		for i := 1; i < len(samples); i++ {
			prev, cur := samples[i-1], samples[i]
			seconds := cur.at.Sub(prev.at).Seconds()
			delta, ok := cur.series[k].since(prev.series[k])
			if !ok || seconds <= 0 {
				continue
			}
			point := gateway.BackendTrendPoint{At: cur.at, CallsPerSecond: float64(delta.count) / seconds}
			if p50, ok := delta.quantile(0.5); ok {
				ms := p50 * 1000
				point.P50Ms = &ms
			}
			if p95, ok := delta.quantile(0.95); ok {
				ms := p95 * 1000
				point.P95Ms = &ms
			}
			trend.Points = append(trend.Points, point)
		}
		out = append(out, trend)
	}
	slices.SortFunc(out, func(a, b gateway.BackendTrend) int {
		return cmp.Or(cmp.Compare(a.Backend, b.Backend), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}

// ring keeps the last n values pushed.
type ring[T any] struct {
	buf  []T
	next int
	full bool
}

func newRing[T any](n int) *ring[T] { return &ring[T]{buf: make([]T, n)} }

func (r *ring[T]) push(v T) {
	r.buf[r.next] = v
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
}

// items returns the kept values, oldest first.
func (r *ring[T]) items() []T {
	if !r.full {
		return slices.Clone(r.buf[:r.next])
	}
	return append(slices.Clone(r.buf[r.next:]), r.buf[:r.next]...)
}
