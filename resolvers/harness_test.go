package resolvers_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/jobevents"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
	"github.com/memory-gateway/memory-gateway/resolvers"
	"github.com/memory-gateway/memory-gateway/worker"
)

// harness is a GraphQL server in process, on a real store with the local
// backend, and a counter of the SQL statements it runs.
type harness struct {
	db      *persistence.DB
	svc     *gateway.Service
	handler http.Handler
	queries *persistence.QueryCounter
	logs    *bytes.Buffer
}

type harnessOption func(*harnessConfig)

type harnessConfig struct {
	service  gateway.Config
	handler  resolvers.HandlerConfig
	backends []backendtype.BackendAdapter
	strict   bool // no anonymous principal: every request names its caller
	redactor gateway.Redactor
	limiter  gateway.RateLimiter
	now      func() time.Time
	feedback *gateway.FeedbackPolicy
	observer gateway.CallObserver
	hub      *jobevents.Hub
	wrap     func(gateway.Store) gateway.Store
	metrics  gateway.MetricsWindow
}

// withMetrics gives the service a window of backend-call metrics.
func withMetrics(m gateway.MetricsWindow) harnessOption {
	return func(h *harnessConfig) { h.metrics = m }
}

// withStore wraps the harness's store (to inject failures).
func withStore(wrap func(gateway.Store) gateway.Store) harnessOption {
	return func(h *harnessConfig) { h.wrap = wrap }
}

// withClock gives the service and the worker one clock.
func withClock(now func() time.Time) harnessOption { return func(h *harnessConfig) { h.now = now } }

func withFeedbackPolicy(p gateway.FeedbackPolicy) harnessOption {
	return func(h *harnessConfig) { h.feedback = &p }
}

func withObserver(o gateway.CallObserver) harnessOption {
	return func(h *harnessConfig) { h.observer = o }
}

// withHub publishes job changes to hub and serves subscriptions from it.
func withHub(hub *jobevents.Hub) harnessOption { return func(h *harnessConfig) { h.hub = hub } }

// strict makes requests without a principal unauthenticated.
func strict() harnessOption { return func(h *harnessConfig) { h.strict = true } }

func withRedactor(r gateway.Redactor) harnessOption { return func(h *harnessConfig) { h.redactor = r } }

func withLimiter(l gateway.RateLimiter) harnessOption {
	return func(h *harnessConfig) { h.limiter = l }
}

func withBackends(b ...backendtype.BackendAdapter) harnessOption {
	return func(h *harnessConfig) { h.backends = b }
}

func withServiceConfig(c gateway.Config) harnessOption {
	return func(h *harnessConfig) { h.service = c }
}

func withHandlerConfig(c resolvers.HandlerConfig) harnessOption {
	return func(h *harnessConfig) { h.handler = c }
}

func newHarness(t *testing.T, db *persistence.DB, opts ...harnessOption) *harness {
	t.Helper()
	cfg := harnessConfig{handler: resolvers.HandlerConfig{Introspection: true}}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.backends == nil {
		cfg.backends = []backendtype.BackendAdapter{local.New(db.DB, nil)}
	}
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, nil))
	anonymous := &gateway.DevPrincipal
	if cfg.strict {
		anonymous = nil
	}
	var store gateway.Store = persistence.NewStore(db)
	if cfg.wrap != nil {
		store = cfg.wrap(store)
	}
	svcOpts := gateway.Options{
		Anonymous: anonymous, Redactor: cfg.redactor, Limiter: cfg.limiter,
		Store: store, Backends: cfg.backends, Config: cfg.service, Env: lifecycle.NewEnv(logger, cfg.now),
		FeedbackPolicy: cfg.feedback, Observer: cfg.observer, Metrics: cfg.metrics,
	}
	var publisher gateway.JobPublisher
	if cfg.hub != nil {
		svcOpts.Publisher, svcOpts.Watcher, publisher = cfg.hub, cfg.hub, cfg.hub
	}
	// A worker that is never started: processOutbox drains through it.
	exec, err := gateway.NewOutboxExecutor(svcOpts)
	require.NoError(t, err)
	var names []backendtype.Backend
	for _, b := range cfg.backends {
		names = append(names, b.Name())
	}
	w, err := worker.New(worker.Options{Store: persistence.NewStore(db), Executor: exec, Publisher: publisher, Env: lifecycle.NewEnv(nil, cfg.now), Config: worker.Config{Backends: names}})
	require.NoError(t, err)
	svcOpts.Notifier, svcOpts.Drainer = w, w
	svc, err := gateway.NewService(svcOpts)
	require.NoError(t, err)
	counter := &persistence.QueryCounter{}
	db.AddQueryHook(counter)
	return &harness{
		db:      db,
		svc:     svc,
		handler: resolvers.NewHandler(&resolvers.Resolver{Service: svc, Env: lifecycle.NewEnv(logger, nil)}, cfg.handler),
		queries: counter,
		logs:    logs,
	}
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// do posts an operation and returns the HTTP status and decoded body.
func (h *harness) do(t *testing.T, query string, vars map[string]any) (int, gqlResponse) {
	t.Helper()
	return h.doAs(t, nil, query, vars)
}

// doAs posts an operation as a principal (nil: none).
func (h *harness) doAs(t *testing.T, p *gateway.Principal, query string, vars map[string]any) (int, gqlResponse) {
	t.Helper()
	return h.doRawAs(t, p, map[string]any{"query": query, "variables": vars})
}

// doRawAs posts a request body as a principal (nil: none).
func (h *harness) doRawAs(t *testing.T, p *gateway.Principal, request map[string]any) (int, gqlResponse) {
	t.Helper()
	body, err := json.Marshal(request)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	if p != nil {
		req = req.WithContext(gateway.WithPrincipal(req.Context(), *p))
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	var resp gqlResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), rec.Body.String())
	return rec.Code, resp
}

// data posts an operation that must succeed and decodes its data into out.
func (h *harness) data(t *testing.T, query string, vars map[string]any, out any) {
	t.Helper()
	status, resp := h.do(t, query, vars)
	require.Empty(t, resp.Errors, "errors: %+v", resp.Errors)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, json.Unmarshal(resp.Data, out))
}

// onlyError posts an operation that must fail with exactly one error.
func (h *harness) onlyError(t *testing.T, query string, vars map[string]any) gqlError {
	t.Helper()
	_, resp := h.do(t, query, vars)
	require.Len(t, resp.Errors, 1, "data: %s", resp.Data)
	return resp.Errors[0]
}

const ingestMutation = `mutation Ingest($in: IngestConversationTurnInput!) {
  ingestConversationTurn(input: $in) {
    status gatewayId provenanceId turnId replayed errors
    refs { id gatewayId backend refType status nativeId nativeUri contentHash createdAt }
  }
}`

type ingestPayload struct {
	IngestConversationTurn struct {
		Status       string
		GatewayID    string
		ProvenanceID string
		TurnID       string
		Replayed     bool
		Errors       []string
		Refs         []struct {
			ID, GatewayID, Backend, RefType, Status string
			NativeID, NativeURI, ContentHash        *string
			CreatedAt                               time.Time
		}
	}
}

func turnVars(modify ...func(map[string]any)) map[string]any {
	in := map[string]any{
		"workspaceId": "ws", "userId": "u1", "agentId": "a1", "sessionId": "s1", "turnId": "t1",
		"namespace": "team/alpha", "role": "USER", "content": "my favourite colour is blue",
	}
	for _, m := range modify {
		m(in)
	}
	return map[string]any{"in": in}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
