package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

func newRecorded(t *testing.T) (*Telemetry, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return New(Options{TracerProvider: tp}), rec
}

func attr(span sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range span.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func TestStartCallCountsTimesAndTraces(t *testing.T) {
	t.Parallel()
	tel, rec := newRecorded(t)
	parent, root := tel.Tracer().Start(context.Background(), "request")
	for _, outcome := range []string{gateway.OutcomeOK, gateway.OutcomeOK, gateway.OutcomeTimeout} {
		ctx, end := tel.StartCall(parent, backendtype.BackendOpenViking, gateway.CallIngestTurn)
		require.Equal(t, root.SpanContext().TraceID().String(), TraceID(ctx), "the call span joins the request's trace")
		end(outcome)
	}
	root.End()

	require.Equal(t, 2.0, testutil.ToFloat64(tel.backendCalls.WithLabelValues("openviking", "ingest_turn", "ok")))
	require.Equal(t, 1.0, testutil.ToFloat64(tel.backendCalls.WithLabelValues("openviking", "ingest_turn", "timeout")))
	require.Equal(t, 2, testutil.CollectAndCount(tel.backendDuration), "one histogram per label set")

	spans := rec.Ended()
	require.Len(t, spans, 4)
	last := spans[2]
	require.Equal(t, "backend ingest_turn", last.Name())
	require.Equal(t, "openviking", attr(last, "memory_gateway.backend").AsString())
	require.Equal(t, "timeout", attr(last, "memory_gateway.backend.outcome").AsString())
	require.Equal(t, codes.Error, last.Status().Code)
	require.Equal(t, root.SpanContext().SpanID(), last.Parent().SpanID())
}

func TestWorkerHooks(t *testing.T) {
	t.Parallel()
	tel, rec := newRecorded(t)
	hooks := tel.WorkerHooks()
	msg := "boom"
	events := []gateway.OutboxEvent{
		{ID: "e1", Backend: backendtype.BackendLocal, Operation: gateway.OperationCommitSession, AttemptCount: 1},
		{ID: "e2", Backend: backendtype.BackendEverMemOS, Operation: gateway.OperationCommitSession, AttemptCount: 3},
	}
	hooks.Claimed(events)
	ctx, done := hooks.Executing(context.Background(), events[1])
	require.NotEmpty(t, TraceID(ctx), "the event runs inside its span")
	done(gateway.OutboxCompletion{EventID: "e2", Backend: backendtype.BackendEverMemOS, Status: gateway.OutboxPending, LastError: &msg})

	created := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	hooks.Completed([]gateway.OutboxCompletion{
		{EventID: "e1", Backend: backendtype.BackendLocal, Status: gateway.OutboxSuccess},
		{EventID: "e2", Backend: backendtype.BackendEverMemOS, Status: gateway.OutboxPending, LastError: &msg},
		{EventID: "e3", Backend: backendtype.BackendOpenViking, Status: gateway.OutboxPending},
		{EventID: "e4", Backend: backendtype.BackendOpenViking, Status: gateway.OutboxDeadLetter, LastError: &msg},
		{EventID: "e5", Backend: backendtype.BackendLocal, Status: gateway.OutboxSkipped},
		{EventID: "e6", Backend: backendtype.BackendLocal, Status: gateway.OutboxSuccess},
	}, gateway.CompletionResult{Lost: []string{"e6"}, Jobs: []gateway.CommitJob{
		{ID: "j1", Status: gateway.JobSuccess, CreatedAt: created, UpdatedAt: created.Add(1500 * time.Millisecond)},
		{ID: "j2", Status: gateway.JobRunning, CreatedAt: created, UpdatedAt: created.Add(time.Second)},
	}})
	hooks.Rescued(gateway.RescueResult{Rescued: 2, DeadLettered: 1, Jobs: []gateway.CommitJob{
		{ID: "j3", Status: gateway.JobFailed, CreatedAt: created, UpdatedAt: created.Add(time.Minute)},
	}})

	for _, c := range []struct {
		backend, result string
		want            float64
	}{
		{"local", "success", 1}, {"evermemos", "retry", 1}, {"openviking", "waiting", 1},
		{"openviking", "dead_letter", 1}, {"local", "skipped", 1},
	} {
		require.Equal(t, c.want, testutil.ToFloat64(tel.completed.WithLabelValues(c.backend, c.result)), c)
	}
	require.Equal(t, 1.0, testutil.ToFloat64(tel.claimed.WithLabelValues("local")))
	require.Equal(t, 1.0, testutil.ToFloat64(tel.lost), "a lost lease is counted, not its result")
	require.Equal(t, 2.0, testutil.ToFloat64(tel.rescued.WithLabelValues("retry")))
	require.Equal(t, 1.0, testutil.ToFloat64(tel.rescued.WithLabelValues("dead_letter")))
	require.Equal(t, 2, testutil.CollectAndCount(tel.jobDuration), "terminal jobs only: success and failed")

	spans := rec.Ended()
	require.Len(t, spans, 1)
	require.Equal(t, "outbox commit_session", spans[0].Name())
	require.Equal(t, "retry", attr(spans[0], "memory_gateway.outbox.result").AsString())
	require.Equal(t, int64(3), attr(spans[0], "memory_gateway.outbox.attempt").AsInt64())
}

type depthFunc func(context.Context) (map[backendtype.Backend]gateway.OutboxSummary, error)

func (f depthFunc) OutboxDepth(ctx context.Context) (map[backendtype.Backend]gateway.OutboxSummary, error) {
	return f(ctx)
}

func scrape(t *testing.T, tel *Telemetry) string {
	t.Helper()
	srv := httptest.NewServer(tel.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

func TestOutboxDepthAndSubscriptions(t *testing.T) {
	t.Parallel()
	tel := New(Options{})
	var failing bool
	reads := 0
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	env := lifecycle.NewEnv(nil, func() time.Time { return now })
	tel.ObserveOutbox(depthFunc(func(context.Context) (map[backendtype.Backend]gateway.OutboxSummary, error) {
		reads++
		if failing {
			return nil, errors.New("database unreachable")
		}
		return map[backendtype.Backend]gateway.OutboxSummary{
			backendtype.BackendEverMemOS: {PendingEvents: 7, ProcessingEvents: 2, DeadLetterEvents: 1},
		}, nil
	}), []backendtype.Backend{backendtype.BackendLocal, backendtype.BackendEverMemOS}, env)
	tel.ObserveSubscriptions(func() int { return 42 })

	body := scrape(t, tel)
	require.Contains(t, body, `memory_gateway_outbox_events{backend="evermemos",status="pending"} 7`)
	require.Contains(t, body, `memory_gateway_outbox_events{backend="evermemos",status="processing"} 2`)
	require.Contains(t, body, `memory_gateway_outbox_events{backend="evermemos",status="dead_letter"} 1`)
	for _, status := range []string{"pending", "processing", "dead_letter"} {
		require.Contains(t, body, `memory_gateway_outbox_events{backend="local",status="`+status+`"} 0`,
			"a configured backend that owes nothing is 0, not absent")
	}
	require.NotContains(t, body, `backend="openviking"`, "only configured backends")
	require.Contains(t, body, "memory_gateway_subscriptions_active 42")

	// Scrapes within DatabaseGaugeMaxAge of a read share it; one after it
	// reads again.
	failing = true
	now = now.Add(DatabaseGaugeMaxAge - time.Millisecond)
	body = scrape(t, tel)
	require.Equal(t, 1, reads, "a scrape within the max age reads nothing")
	require.Contains(t, body, `memory_gateway_outbox_events{backend="evermemos",status="pending"} 7`)
	now = now.Add(time.Millisecond)
	body = scrape(t, tel)
	require.Equal(t, 2, reads)
	require.NotContains(t, body, "memory_gateway_outbox_events{")
	require.Contains(t, body, "memory_gateway_subscriptions_active 42", "a failing collector does not hide the others")

	// A failed read is not kept: the next scrape reads again.
	failing = false
	body = scrape(t, tel)
	require.Equal(t, 3, reads)
	require.Contains(t, body, `memory_gateway_outbox_events{backend="evermemos",status="pending"} 7`)
}

// healFunc adapts a function to HealReader.
type healFunc func(context.Context, gateway.RefFilter) (map[backendtype.Backend]gateway.IngestHealCount, error)

func (f healFunc) IngestHealCounts(ctx context.Context, r gateway.RefFilter) (map[backendtype.Backend]gateway.IngestHealCount, error) {
	return f(ctx, r)
}

func TestFailedIngestWrites(t *testing.T) {
	t.Parallel()
	tel := New(Options{})
	tel.ObserveIngestHeals(healFunc(func(context.Context, gateway.RefFilter) (map[backendtype.Backend]gateway.IngestHealCount, error) {
		return map[backendtype.Backend]gateway.IngestHealCount{
			backendtype.BackendOpenViking: {Healing: 3, DeadLettered: 1, Unhealable: 2},
		}, nil
	}), []backendtype.Backend{backendtype.BackendLocal, backendtype.BackendOpenViking}, lifecycle.Env{})

	body := scrape(t, tel)
	require.Contains(t, body, `memory_gateway_ingest_writes_failed{backend="openviking",heal="healing"} 3`)
	require.Contains(t, body, `memory_gateway_ingest_writes_failed{backend="openviking",heal="dead_letter"} 1`)
	require.Contains(t, body, `memory_gateway_ingest_writes_failed{backend="openviking",heal="unhealable"} 2`)
	for _, heal := range []string{"healing", "dead_letter", "unhealable"} {
		require.Contains(t, body, `memory_gateway_ingest_writes_failed{backend="local",heal="`+heal+`"} 0`,
			"a configured backend with no failed write is 0, not absent")
	}
}

func TestTracesURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want, err string }{
		{in: "http://127.0.0.1:4318", want: "http://127.0.0.1:4318/v1/traces"},
		{in: "http://collector:4318/", want: "http://collector:4318/v1/traces"},
		{in: "https://collector.example/otlp/v1/traces", want: "https://collector.example/otlp/v1/traces"},
		{in: "collector:4318", err: "invalid OTLP endpoint"},
		{in: "://", err: "invalid OTLP endpoint"},
	} {
		got, err := tracesURL(c.in)
		if c.err != "" {
			require.ErrorContains(t, err, c.err, c.in)
			continue
		}
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got)
	}
}

func TestSetupTracingWithoutEndpointStillPropagates(t *testing.T) {
	tp, shutdown, err := SetupTracing(context.Background(), TracingConfig{})
	require.NoError(t, err)
	defer func() { require.NoError(t, shutdown(context.Background())) }()
	tel := New(Options{TracerProvider: tp})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	var seen string
	h := tel.HTTPHandler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = TraceID(r.Context()) }))
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader("{}"))
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.Equal(t, traceID, seen, "the caller's trace id reaches the request even with tracing off")
}

func TestItemsWithheldAreCounted(t *testing.T) {
	t.Parallel()
	tel := New(Options{})
	tel.ItemsWithheld(backendtype.BackendOpenViking, gateway.WithheldOutOfScope, 3)
	tel.ItemsWithheld(backendtype.BackendOpenViking, gateway.WithheldOutOfScope, 1)
	tel.ItemsWithheld(backendtype.BackendEverMemOS, gateway.WithheldUserLevel, 1)
	body := scrape(t, tel)
	require.Contains(t, body, `memory_gateway_retrieval_withheld_items_total{backend="openviking",reason="out_of_scope"} 4`)
	require.Contains(t, body, `memory_gateway_retrieval_withheld_items_total{backend="evermemos",reason="user_level"} 1`)
}
