// Package telemetry is the gateway's operability layer: Prometheus metrics,
// OpenTelemetry spans and the per-request facts the access log reports. It
// observes the domain through the hooks the domain and the worker declare
// (gateway.CallObserver, worker.Hooks) and the GraphQL server through a
// handler extension; nothing it records carries content, ids or keys.
package telemetry

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// Namespace prefixes every metric of the gateway.
const Namespace = "memory_gateway"

// instrumentationName names the tracer.
const instrumentationName = "github.com/memory-gateway/memory-gateway"

// Latency buckets: backend calls and GraphQL operations range from well under
// a millisecond (local reads) to the seconds an extraction backend takes.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// jobBuckets span a commit job's life: instant on the local backend, minutes
// when a remote backend extracts asynchronously.
var jobBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// Options configure Telemetry.
type Options struct {
	// TracerProvider makes the spans; nil means the global provider (a no-op
	// unless tracing is configured).
	TracerProvider trace.TracerProvider
}

// Telemetry owns the metric registry and the tracer.
type Telemetry struct {
	registry *prometheus.Registry
	provider trace.TracerProvider
	tracer   trace.Tracer

	operations        *prometheus.CounterVec
	operationDuration *prometheus.HistogramVec
	backendCalls      *prometheus.CounterVec
	withheld          *prometheus.CounterVec
	backendDuration   *prometheus.HistogramVec
	claimed           *prometheus.CounterVec
	completed         *prometheus.CounterVec
	lost              prometheus.Counter
	rescued           *prometheus.CounterVec
	jobDuration       *prometheus.HistogramVec
	healed            *prometheus.CounterVec
}

// New builds Telemetry with the Go runtime and process collectors
// registered.
func New(opts Options) *Telemetry {
	tp := opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &Telemetry{
		registry: prometheus.NewRegistry(),
		provider: tp,
		tracer:   tp.Tracer(instrumentationName),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "graphql", Name: "operations_total",
			Help: "GraphQL operations by type, root field and outcome (ok or the error code).",
		}, []string{"type", "field", "outcome"}),
		operationDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "graphql", Name: "operation_duration_seconds",
			Help:    "GraphQL operation latency (to the first response of a subscription).",
			Buckets: latencyBuckets,
		}, []string{"type", "field", "outcome"}),
		backendCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "backend", Name: "calls_total",
			Help: "Backend calls by backend, operation and outcome (ok, error, timeout, pending, skipped).",
		}, []string{"backend", "operation", "outcome"}),
		backendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "backend", Name: "call_duration_seconds",
			Help:    "Backend call latency by backend, operation and outcome.",
			Buckets: latencyBuckets,
		}, []string{"backend", "operation", "outcome"}),
		withheld: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "retrieval", Name: "withheld_items_total",
			Help: "Retrieved items left out because the caller's key does not reach them, by backend and reason (user_level, no_ref, out_of_scope).",
		}, []string{"backend", "reason"}),
		claimed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "worker", Name: "claimed_events_total",
			Help: "Outbox events claimed by this process's worker, by backend.",
		}, []string{"backend"}),
		completed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "worker", Name: "completed_events_total",
			Help: "Outbox event attempts whose result was written, by backend and result (success, skipped, retry, waiting, dead_letter).",
		}, []string{"backend", "result"}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "worker", Name: "lost_leases_total",
			Help: "Results discarded because the event's lease had been rescued by then.",
		}),
		rescued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "worker", Name: "rescued_events_total",
			Help: "Events whose lease expired, by result (retry or dead_letter).",
		}, []string{"result"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "jobs", Name: "duration_seconds",
			Help:    "Commit job time from acceptance to its terminal status, by status.",
			Buckets: jobBuckets,
		}, []string{"status"}),
		healed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "ingest_writes", Name: "healed_total",
			Help: "Failed ingest writes this process's worker wrote again successfully (INGEST_TURN events), by backend.",
		}, []string{"backend"}),
	}
	t.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		t.operations, t.operationDuration, t.backendCalls, t.backendDuration, t.withheld,
		t.claimed, t.completed, t.lost, t.rescued, t.jobDuration, t.healed,
	)
	// Series that exist from the start read 0 rather than missing, so a rate
	// over them is defined before the first rescue.
	t.rescued.WithLabelValues(resultRetry)
	t.rescued.WithLabelValues(resultDeadLetter)
	return t
}

// Registry is where further collectors go.
func (t *Telemetry) Registry() *prometheus.Registry { return t.registry }

// Tracer makes the gateway's spans.
func (t *Telemetry) Tracer() trace.Tracer { return t.tracer }

// Handler serves /metrics in the Prometheus exposition format.
func (t *Telemetry) Handler() http.Handler {
	// One failing collector (the outbox depth query, say) must not hide the
	// rest of the scrape.
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{Registry: t.registry, ErrorHandling: promhttp.ContinueOnError})
}

// HTTPHandler starts a server span per request, continuing the caller's W3C
// trace context (traceparent) when it sends one.
func (t *Telemetry) HTTPHandler(next http.Handler) http.Handler {
	return otelhttp.NewHandler(next, "http",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(otel.GetTextMapPropagator()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
}

var (
	_ gateway.CallObserver     = (*Telemetry)(nil)
	_ gateway.WithheldObserver = (*Telemetry)(nil)
)

// StartCall implements gateway.CallObserver: a client span per backend call
// (its HTTP requests are children of it) and the call's count and latency.
func (t *Telemetry) StartCall(ctx context.Context, backend backendtype.Backend, operation string) (context.Context, func(string)) {
	started := time.Now()
	ctx, span := t.tracer.Start(ctx, "backend "+operation,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("memory_gateway.backend", string(backend)),
			attribute.String("memory_gateway.backend.operation", operation)))
	return ctx, func(outcome string) {
		elapsed := time.Since(started).Seconds()
		t.backendCalls.WithLabelValues(string(backend), operation, outcome).Inc()
		t.backendDuration.WithLabelValues(string(backend), operation, outcome).Observe(elapsed)
		span.SetAttributes(attribute.String("memory_gateway.backend.outcome", outcome))
		if outcome == gateway.OutcomeError || outcome == gateway.OutcomeTimeout {
			span.SetStatus(codes.Error, outcome)
		}
		span.End()
	}
}

// ItemsWithheld implements gateway.WithheldObserver.
func (t *Telemetry) ItemsWithheld(backend backendtype.Backend, reason string, n int) {
	t.withheld.WithLabelValues(string(backend), reason).Add(float64(n))
}

// TraceID is the id of the trace ctx belongs to, or "" outside a sampled or
// propagated trace.
func (t *Telemetry) TraceID(ctx context.Context) string { return TraceID(ctx) }

// TraceID is the id of the trace ctx belongs to, or "" outside a sampled or
// propagated trace.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}
