package app

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
	"github.com/memory-gateway/memory-gateway/backends/openviking/openvikingtest"
	"github.com/memory-gateway/memory-gateway/httpapi"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// metricSample is one line of a Prometheus text exposition.
type metricSample struct {
	name   string
	labels string
	value  float64
}

// getMetrics fetches /metrics from the API port as the operator, whom
// alone it serves there (dev mode serves anyone, whatever the key).
func getMetrics(t *testing.T, base string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+httpapi.MetricsPath, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+operatorKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

// scrapeMetrics reads /metrics: the declared families and every sample.
func scrapeMetrics(t *testing.T, base string) (families map[string]string, samples []metricSample) {
	t.Helper()
	resp := getMetrics(t, base)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	families = map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(rest, " ")
			families[name] = kind
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		series, value, _ := strings.Cut(line, " ")
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err, line)
		name, labels, _ := strings.Cut(series, "{")
		samples = append(samples, metricSample{name: name, labels: strings.TrimSuffix(labels, "}"), value: v})
	}
	require.NoError(t, sc.Err())
	return families, samples
}

// sum adds the samples of a series whose labels contain every given pair.
func sum(samples []metricSample, name string, labels ...string) float64 {
	var total float64
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(s.labels, l) {
				continue next
			}
		}
		total += s.value
	}
	return total
}

func waitJobStatus(t *testing.T, base, jobID, want string) {
	t.Helper()
	var job struct{ CommitJob struct{ Status string } }
	require.Eventually(t, func() bool {
		gql(t, base, `query($id: ID!) { commitJob(id: $id) { status } }`, map[string]any{"id": jobID}, &job)
		return job.CommitJob.Status == want
	}, 30*time.Second, 20*time.Millisecond)
}

func commitSessionJob(t *testing.T, base, session string) string {
	t.Helper()
	var commit struct {
		CommitSession struct{ Job struct{ ID string } }
	}
	gql(t, base, `mutation($s: ID!) { commitSession(input: {workspaceId: "acme", userId: "alice", agentId: "helper", sessionId: $s, namespace: "support"}) { job { id } } }`,
		map[string]any{"s": session}, &commit)
	return commit.CommitSession.Job.ID
}

// TestMetricsAndLogsAfterAShortRun drives the gateway the way an operator's
// first hour would (ingest, a bad request, commit, retrieval, a live
// subscription), then scrapes /metrics: every family is there with sane
// values, labels carry no ids, and the access log names principal, operation
// and outcome.
func TestMetricsAndLogsAfterAShortRun(t *testing.T) {
	t.Parallel()
	ov, em := openvikingtest.New(), evermemostest.New()
	t.Cleanup(ov.Close)
	t.Cleanup(em.Close)
	logs := newLockedLog()
	base := startServerLogging(t, map[string]string{
		"DATABASE_URL": pt.URL(t, pt.SQLite), "OPENVIKING_URL": ov.URL, "EVERMEMOS_URL": em.URL,
		"OPENVIKING_POLL_INTERVAL": "20ms", "WORKER_POLL_INTERVAL": "50ms",
	}, logs)

	var ing e2eIngestResult
	gql(t, base, e2eIngest, e2eTurn("t1", "my favourite colour is blue"), &ing)
	require.Equal(t, "SUCCESS", ing.IngestConversationTurn.Status)
	_, out := call(t, base, "", e2eIngest, e2eTurn("t9", "   "))
	require.Equal(t, "BAD_USER_INPUT", errorCode(out))
	status, out := call(t, base, "", `{ nope`, nil)
	require.Equal(t, http.StatusOK, status, "a document that does not parse is answered 200 under application/json (GraphQL over HTTP)")
	require.NotEmpty(t, errorCode(out))

	waitJobStatus(t, base, commitSessionJob(t, base, "s1"), "SUCCESS")
	var retrieved struct{ RetrieveContext struct{ TraceID *string } }
	gql(t, base, `{ retrieveContext(input: {workspaceId: "acme", userId: "alice", agentId: "helper", query: "favourite colour"}) { traceId } }`, nil, &retrieved)

	// A live subscription, proven registered by the change it receives.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	defer func() { _ = conn.CloseNow() }()
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": map[string]any{}}))
	var msg struct{ Type string }
	require.NoError(t, wsjson.Read(ctx, conn, &msg))
	require.Equal(t, "connection_ack", msg.Type)
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": `subscription { commitJobsUpdated(workspaceId: "acme") { id status } }`}}))
	// Registered once the hub counts it; a commit then reaches it.
	require.Eventually(t, func() bool {
		_, samples := scrapeMetrics(t, base)
		return sum(samples, "memory_gateway_subscriptions_active") >= 1
	}, 30*time.Second, 10*time.Millisecond)
	two := e2eTurn("t2", "I work nights at the bakery")
	two["in"].(map[string]any)["sessionId"] = "s2"
	gql(t, base, e2eIngest, two, &ing)
	commitSessionJob(t, base, "s2")
	var next struct{ Type string }
	require.NoError(t, wsjson.Read(ctx, conn, &next))
	require.Equal(t, "next", next.Type)

	families, samples := scrapeMetrics(t, base)
	for name, kind := range map[string]string{
		"memory_gateway_graphql_operations_total":           "counter",
		"memory_gateway_graphql_operation_duration_seconds": "histogram",
		"memory_gateway_backend_calls_total":                "counter",
		"memory_gateway_backend_call_duration_seconds":      "histogram",
		"memory_gateway_outbox_events":                      "gauge",
		"memory_gateway_worker_claimed_events_total":        "counter",
		"memory_gateway_worker_completed_events_total":      "counter",
		"memory_gateway_worker_lost_leases_total":           "counter",
		"memory_gateway_worker_rescued_events_total":        "counter",
		"memory_gateway_jobs_duration_seconds":              "histogram",
		"memory_gateway_subscriptions_active":               "gauge",
		"memory_gateway_db_queries_total":                   "counter",
		"go_sql_open_connections":                           "gauge",
		"go_sql_wait_count_total":                           "counter",
		"go_goroutines":                                     "gauge",
		"process_resident_memory_bytes":                     "gauge",
	} {
		require.Equal(t, kind, families[name], name)
	}
	ok := `outcome="ok"`
	require.GreaterOrEqual(t, sum(samples, "memory_gateway_graphql_operations_total", `type="mutation"`, `field="ingestConversationTurn"`, ok), 2.0)
	require.Equal(t, 1.0, sum(samples, "memory_gateway_graphql_operations_total", `field="ingestConversationTurn"`, `outcome="BAD_USER_INPUT"`))
	require.Equal(t, 1.0, sum(samples, "memory_gateway_graphql_operations_total", `type="unknown"`, `outcome="GRAPHQL_PARSE_FAILED"`), "rejected before execution, still counted")
	require.GreaterOrEqual(t, sum(samples, "memory_gateway_graphql_operation_duration_seconds_count", `field="retrieveContext"`, ok), 1.0)
	require.GreaterOrEqual(t, sum(samples, "memory_gateway_graphql_operations_total", `type="subscription"`, `field="commitJobsUpdated"`), 1.0)
	for _, backend := range []string{"local", "openviking", "evermemos"} {
		b := `backend="` + backend + `"`
		require.GreaterOrEqual(t, sum(samples, "memory_gateway_backend_calls_total", b, `operation="ingest_turn"`, ok), 2.0, backend)
		require.GreaterOrEqual(t, sum(samples, "memory_gateway_backend_calls_total", b, `operation="commit_session"`, ok), 1.0, backend)
		require.GreaterOrEqual(t, sum(samples, "memory_gateway_backend_calls_total", b, `operation="retrieve"`, ok), 1.0, backend)
		require.GreaterOrEqual(t, sum(samples, "memory_gateway_worker_claimed_events_total", b), 1.0, backend)
		require.GreaterOrEqual(t, sum(samples, "memory_gateway_worker_completed_events_total", b, `result="success"`), 1.0, backend)
		require.Greater(t, sum(samples, "memory_gateway_backend_call_duration_seconds_sum", b), 0.0, backend)
	}
	require.GreaterOrEqual(t, sum(samples, "memory_gateway_jobs_duration_seconds_count", `status="success"`), 1.0)
	require.GreaterOrEqual(t, sum(samples, "memory_gateway_subscriptions_active"), 1.0)
	require.Greater(t, sum(samples, "memory_gateway_db_queries_total"), 10.0)
	require.Greater(t, sum(samples, "go_sql_max_open_connections"), 0.0)
	for _, s := range samples {
		require.NotContains(t, s.labels, "acme", "no workspace in labels: %s", s.name)
		require.NotContains(t, s.labels, "gwc_", "no ids in labels: %s", s.name)
	}

	var sawIngest bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if !strings.Contains(line, `"msg":"http: request"`) || !strings.Contains(line, `"operation":"ingestConversationTurn"`) {
			continue
		}
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &entry))
		require.NotEmpty(t, entry["request_id"])
		require.Equal(t, "dev", entry["principal"])
		require.Equal(t, "mutation", entry["operation_type"])
		require.Contains(t, []any{"ok", "BAD_USER_INPUT"}, entry["outcome"])
		sawIngest = true
	}
	require.True(t, sawIngest, "the access log names the operation")
	require.NotContains(t, logs.String(), "favourite colour", "no content in the logs")
}

// otlpCollector is an OTLP/HTTP trace receiver.
type otlpCollector struct {
	mu    sync.Mutex
	spans map[string][]span
}

type span struct {
	name, traceID, backend string
}

func (c *otlpCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := span{name: s.Name, traceID: hexID(s.TraceId)}
				for _, kv := range s.Attributes {
					if kv.Key == "memory_gateway.backend" {
						sp.backend = kv.Value.GetStringValue()
					}
				}
				c.spans[sp.traceID] = append(c.spans[sp.traceID], sp)
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, len(b)*2)
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}

// traceparentRecorder forwards to a backend fake and keeps the traceparent
// headers it saw.
func traceparentRecorder(t *testing.T, target string) (string, func() []string) {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(u)
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("traceparent"))
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// TestTraceOfOneIngest: with an OTLP endpoint configured, one ingest sent
// with a W3C traceparent is one trace holding a span per backend; the trace
// context reaches both remote backends; retrieval returns the trace id.
// Not parallel: the tracer provider is process-wide.
func TestTraceOfOneIngest(t *testing.T) {
	collector := &otlpCollector{spans: map[string][]span{}}
	otlp := httptest.NewServer(collector)
	t.Cleanup(otlp.Close)
	ov, em := openvikingtest.New(), evermemostest.New()
	t.Cleanup(ov.Close)
	t.Cleanup(em.Close)
	ovURL, ovSeen := traceparentRecorder(t, ov.URL)
	emURL, emSeen := traceparentRecorder(t, em.URL)

	cfg := testConfig(t, map[string]string{
		"DATABASE_URL": pt.URL(t, pt.SQLite), "OPENVIKING_URL": ovURL, "EVERMEMOS_URL": emURL,
		"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL, "WORKER": "false",
	}, "--listen", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- serve(ctx, cfg, discardLogger(), ready) }()
	base := "http://" + <-ready

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	body, _ := json.Marshal(map[string]any{"query": e2eIngest, "variables": e2eTurn("t1", "my favourite colour is blue")})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	var retrieved struct{ RetrieveContext struct{ TraceID string } }
	gql(t, base, `{ retrieveContext(input: {workspaceId: "acme", userId: "alice", agentId: "helper", query: "favourite colour"}) { traceId } }`, nil, &retrieved)
	require.Len(t, retrieved.RetrieveContext.TraceID, 32, "a fresh trace id when the caller sent none")
	require.NotEqual(t, traceID, retrieved.RetrieveContext.TraceID)

	cancel() // shutting down flushes the exporter
	require.NoError(t, <-done)

	collector.mu.Lock()
	ingest := collector.spans[traceID]
	retrieval := collector.spans[retrieved.RetrieveContext.TraceID]
	collector.mu.Unlock()
	backends := map[string]string{}
	var names []string
	for _, s := range ingest {
		names = append(names, s.name)
		if s.backend != "" {
			backends[s.backend] = s.name
		}
	}
	require.Equal(t, map[string]string{"local": "backend ingest_turn", "openviking": "backend ingest_turn", "evermemos": "backend ingest_turn"}, backends,
		"one span per backend in the caller's trace; spans: %v", names)
	require.Contains(t, names, "graphql mutation ingestConversationTurn")
	require.Contains(t, names, "POST /graphql")
	retrievedBackends := map[string]bool{}
	for _, s := range retrieval {
		if s.name == "backend retrieve" {
			retrievedBackends[s.backend] = true
		}
	}
	require.Len(t, retrievedBackends, 3, "retrieval fans out in its own trace")

	for name, seen := range map[string][]string{"openviking": ovSeen(), "evermemos": emSeen()} {
		require.NotEmpty(t, seen, name)
		require.Contains(t, seen[0], traceID, "%s receives the caller's trace context", name)
	}
}

// httpAnswer is a response as its caller sees it, less what differs between
// any two responses: the date and the request id.
type httpAnswer struct {
	Status int
	Header http.Header
	Body   string
}

// answerOf sends a request with an Authorization header (none when empty)
// and returns its answer; a redirect is an answer too, not followed.
func answerOf(t *testing.T, method, url, authorization string) httpAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	header := resp.Header.Clone()
	header.Del("Date")
	header.Del(httpapi.RequestIDHeader)
	return httpAnswer{Status: resp.StatusCode, Header: header, Body: string(body)}
}

// unknownPath is a path no route serves.
const unknownPath = "/no-such-path"

// TestPprofIsOperatorOnly: profiles are off by default and, when on, served
// to the operator key only — they are process-wide. Every other caller
// (anonymous, an unknown key, a workspace's admin key, …) gets exactly the
// answer of a path that does not exist: no 401, no WWW-Authenticate, no
// redirect to the subtree, nothing that says profiles are there. The
// command line (which holds secrets passed as flags) is served to nobody.
func TestPprofIsOperatorOnly(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			off := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, d), "API_KEYS_FILE": keysFile(t)})
			on := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, d), "PPROF": "true", "API_KEYS_FILE": keysFile(t)})
			dev := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, d), "PPROF": "true"})
			operator := "Bearer " + operatorKey

			for _, tc := range []struct {
				name, base, method, path, authorization string
				// served is the status the caller gets; 0: the unknown path's answer.
				served int
			}{
				{"off by default, even to the operator", off, http.MethodGet, "/debug/pprof/", operator, 0},
				{"anonymous", on, http.MethodGet, "/debug/pprof/", "", 0},
				{"anonymous, the subtree without its slash", on, http.MethodGet, "/debug/pprof", "", 0},
				{"anonymous, a profile", on, http.MethodGet, "/debug/pprof/goroutine?debug=1", "", 0},
				{"anonymous, another method", on, http.MethodPost, "/debug/pprof/symbol", "", 0},
				{"anonymous, HEAD", on, http.MethodHead, "/debug/pprof/", "", 0},
				{"an unknown key", on, http.MethodGet, "/debug/pprof/", "Bearer mgw_nobody_0123456789", 0},
				{"the operator's key under another scheme", on, http.MethodGet, "/debug/pprof/", "Basic " + operatorKey, 0},
				{"a dashboard key", on, http.MethodGet, "/debug/pprof/", "Bearer " + dashKeyA, 0},
				{"an agent key", on, http.MethodGet, "/debug/pprof/", "Bearer " + agentKeyA, 0},
				{"a workspace's admin key", on, http.MethodGet, "/debug/pprof/", "Bearer " + adminKeyB, 0},
				{"a workspace's admin key, without the slash", on, http.MethodGet, "/debug/pprof", "Bearer " + adminKeyB, 0},
				{"the command line, even to the operator", on, http.MethodGet, "/debug/pprof/cmdline", operator, 0},
				{"the command line, in dev mode", dev, http.MethodGet, "/debug/pprof/cmdline", "", 0},
				{"the operator", on, http.MethodGet, "/debug/pprof/", operator, http.StatusOK},
				{"the operator, a profile", on, http.MethodGet, "/debug/pprof/goroutine?debug=1", operator, http.StatusOK},
				{"dev mode (loopback only)", dev, http.MethodGet, "/debug/pprof/", "", http.StatusOK},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					got := answerOf(t, tc.method, tc.base+tc.path, tc.authorization)
					if tc.served != 0 {
						require.Equal(t, tc.served, got.Status, got.Body)
						return
					}
					unknown := answerOf(t, tc.method, tc.base+unknownPath, tc.authorization)
					require.Equal(t, http.StatusNotFound, unknown.Status)
					require.Empty(t, got.Header.Values("WWW-Authenticate"))
					require.Equal(t, unknown, got, "the answer of a path that does not exist")
				})
			}

			t.Run("the operator follows the subtree without its slash", func(t *testing.T) {
				t.Parallel()
				got := answerOf(t, http.MethodGet, on+"/debug/pprof", operator)
				require.Equal(t, "/debug/pprof/", got.Header.Get("Location"))
			})
		})
	}
}

// startApp builds and starts what serve runs, with its API on a loopback
// test server: it returns the API's base URL and that of the metrics
// listener (empty without METRICS_ADDR).
func startApp(t *testing.T, env map[string]string) (api, metrics string) {
	t.Helper()
	ctx := context.Background()
	a, err := buildApp(ctx, testConfig(t, env), discardLogger(), role{})
	require.NoError(t, err)
	require.NoError(t, a.start(ctx))
	srv := httptest.NewServer(a.handler)
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, a.stop(context.Background()))
	})
	if a.metricsAddr() != "" {
		metrics = "http://" + a.metricsAddr()
	}
	return srv.URL, metrics
}

// TestMetricsOnTheAPIPortAreTheOperators: /metrics, whose figures cover
// every workspace, is served on the API port to the operator key only;
// everyone else gets exactly the answer of a path that does not exist. A
// scraper reads METRICS_ADDR, its own listener, without a key. METRICS=false
// takes them off the API port for everyone; dev mode (loopback only) serves
// them to anyone.
func TestMetricsOnTheAPIPortAreTheOperators(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			api, scrape := startApp(t, map[string]string{"DATABASE_URL": pt.URL(t, d), "API_KEYS_FILE": keysFile(t), "METRICS_ADDR": "127.0.0.1:0"})
			off, _ := startApp(t, map[string]string{"DATABASE_URL": pt.URL(t, d), "API_KEYS_FILE": keysFile(t), "METRICS": "false"})
			dev, _ := startApp(t, map[string]string{"DATABASE_URL": pt.URL(t, d)})
			operator := "Bearer " + operatorKey

			for _, tc := range []struct {
				name, base, method, authorization string
				// served is the status the caller gets; 0: the unknown path's answer.
				served int
			}{
				{"anonymous", api, http.MethodGet, "", 0},
				{"anonymous, HEAD", api, http.MethodHead, "", 0},
				{"anonymous, another method", api, http.MethodPost, "", 0},
				{"an unknown key", api, http.MethodGet, "Bearer mgw_nobody_0123456789", 0},
				{"the operator's key under another scheme", api, http.MethodGet, "Basic " + operatorKey, 0},
				{"a dashboard key", api, http.MethodGet, "Bearer " + dashKeyA, 0},
				{"an agent key", api, http.MethodGet, "Bearer " + agentKeyA, 0},
				{"a workspace's admin key", api, http.MethodGet, "Bearer " + adminKeyB, 0},
				{"METRICS=false, even the operator", off, http.MethodGet, operator, 0},
				{"the operator", api, http.MethodGet, operator, http.StatusOK},
				{"the operator, another method", api, http.MethodPost, operator, http.StatusMethodNotAllowed},
				{"the metrics address, without a key", scrape, http.MethodGet, "", http.StatusOK},
				{"dev mode (loopback only)", dev, http.MethodGet, "", http.StatusOK},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					got := answerOf(t, tc.method, tc.base+httpapi.MetricsPath, tc.authorization)
					if tc.served != 0 {
						require.Equal(t, tc.served, got.Status, got.Body)
						if tc.served == http.StatusOK {
							require.Contains(t, got.Body, "# TYPE memory_gateway_")
						}
						return
					}
					unknown := answerOf(t, tc.method, tc.base+unknownPath, tc.authorization)
					require.Equal(t, http.StatusNotFound, unknown.Status)
					require.Empty(t, got.Header.Values("WWW-Authenticate"))
					require.Equal(t, unknown, got, "the answer of a path that does not exist")
				})
			}
		})
	}
}
