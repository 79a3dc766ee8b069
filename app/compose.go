package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/memory-gateway/memory-gateway/backends/evermemos"
	"github.com/memory-gateway/memory-gateway/backends/everos"
	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backends/openviking"
	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/httpapi"
	"github.com/memory-gateway/memory-gateway/jobevents"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/maintenance"
	"github.com/memory-gateway/memory-gateway/mcpserver"
	"github.com/memory-gateway/memory-gateway/persistence"
	"github.com/memory-gateway/memory-gateway/policy"
	"github.com/memory-gateway/memory-gateway/resolvers"
	"github.com/memory-gateway/memory-gateway/telemetry"
	"github.com/memory-gateway/memory-gateway/webhook"
	"github.com/memory-gateway/memory-gateway/worker"
)

// extraBackends, when set, adds backends to the app. Tests of whole
// processes use it to plug in instrumented backends; it is nil otherwise.
var extraBackends func(db *persistence.DB) []backendtype.BackendAdapter

// role is what a process runs beyond what every process runs (the job hub,
// the notification listener, retention, the metrics listener).
type role struct {
	// api: the API listener, and the reloaders of keys and trusted
	// documents.
	api bool
	// worker: the outbox worker and the webhook sender.
	worker bool
}

// app is everything a process wires together. Its components start in
// the order buildApp adds them and stop in reverse.
type app struct {
	components lifecycle.Group

	db        *persistence.DB
	service   *gateway.Service
	worker    *worker.Worker
	telemetry *telemetry.Telemetry
	// handler is the API; api serves it when the role has one.
	handler http.Handler
	api     *httpapi.Server
	// metrics, when METRICS_ADDR is set, serves metrics and probes without
	// a key (the API port serves metrics to the operator only).
	metrics *httpapi.Server
	// closeStreams ends every open subscription stream.
	closeStreams context.CancelFunc
	// devMode: no API keys, every caller is the dev principal.
	devMode bool
	keyring *policy.Keyring
}

// start starts the components in order; when one fails, what started is
// stopped again, and whatever buildApp opened is released.
func (a *app) start(ctx context.Context) error { return a.components.Start(ctx) }

// stop stops the components in reverse and releases what buildApp opened,
// giving each (in-flight outbox events, open requests) until ctx is done.
func (a *app) stop(ctx context.Context) error { return a.components.Stop(ctx) }

// metricsAddr is the metrics listener's address once started, or "".
func (a *app) metricsAddr() string {
	if a.metrics == nil {
		return ""
	}
	return a.metrics.Addr()
}

// policies are what the configuration's files and settings say, read and
// checked before anything is opened.
type policies struct {
	keyring   *policy.Keyring
	redactor  *policy.Redactor
	userKeys  map[string]string
	feedback  *gateway.FeedbackPolicy
	retention gateway.RetentionPolicy
	guard     *webhook.Guard
	schedule  []time.Duration
	trusted   *resolvers.TrustedDocuments
}

func loadPolicies(ctx context.Context, cfg config, logger *slog.Logger) (policies, error) {
	var p policies
	var err error
	if p.keyring, err = policy.LoadKeyring(cfg.APIKeysFile, cfg.APIKeys); err != nil {
		return p, err
	}
	if p.redactor, err = policy.LoadRedactor(cfg.RedactionFile); err != nil {
		return p, err
	}
	if p.userKeys, err = readUserKeys(cfg.OpenVikingKeys); err != nil {
		return p, err
	}
	// The gateway's own secrets are masked wherever they would be stored or
	// returned (a backend that echoes its request echoes its key).
	secrets := []string{cfg.OpenVikingKey, cfg.EverMemOSKey, cfg.BackendIDKey}
	for _, k := range p.userKeys {
		secrets = append(secrets, k)
	}
	if err := p.redactor.ProtectSecrets(secrets...); err != nil {
		return p, err
	}
	if p.feedback, err = policy.LoadFeedbackPolicy(cfg.FeedbackPolicy, cfg.FeedbackPolicyFile); err != nil {
		return p, err
	}
	if p.retention, err = loadRetentionPolicy(cfg); err != nil {
		return p, err
	}
	if p.guard, err = webhook.ParseAllowList(cfg.WebhookAllowHosts); err != nil {
		return p, err
	}
	if p.schedule, err = webhook.ParseSchedule(cfg.WebhookSchedule); err != nil {
		return p, err
	}
	if cfg.TrustedDocsFile != "" {
		if p.trusted, err = resolvers.LoadTrustedDocuments(cfg.TrustedDocsFile, resolvers.TrustedScope(cfg.TrustedDocsFor)); err != nil {
			return p, err
		}
		logger.InfoContext(ctx, "memory-gateway: trusted documents loaded", slog.Int("documents", p.trusted.Len()), slog.String("for", cfg.TrustedDocsFor))
	}
	return p, nil
}

// buildApp builds what a process of the given role runs, in dependency
// order: policies → tracing → database → backends → executor → worker →
// service → background components → the HTTP edge. Nothing runs until
// start; when building fails, what was opened is released.
func buildApp(ctx context.Context, cfg config, logger *slog.Logger, r role) (_ *app, err error) {
	p, err := loadPolicies(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	a := &app{devMode: p.keyring.Empty(), keyring: p.keyring}
	// Every component logs to the one logger and reads the system clock.
	env := lifecycle.NewEnv(logger, nil)
	defer func() {
		if err != nil {
			_ = a.components.Stop(ctx)
		}
	}()
	tracerProvider, stopTracing, err := telemetry.SetupTracing(ctx, telemetry.TracingConfig{
		Endpoint: cfg.OTLPEndpoint, ServiceName: cfg.ServiceName, SampleRatio: cfg.TraceSampleRatio,
	})
	if err != nil {
		return nil, err
	}
	a.components.Adopt("tracing", stopTracing)
	if a.db, err = openDatabase(ctx, cfg, logger); err != nil {
		return nil, err
	}
	a.components.Adopt("database", func(context.Context) error { return a.db.Close() })
	db := a.db
	store := persistence.NewStore(db)
	tel := telemetry.New(telemetry.Options{TracerProvider: tracerProvider})
	a.telemetry = tel
	statements := &persistence.QueryCounter{}
	db.AddQueryHook(statements)
	tel.ObserveDatabase(db.DB.DB, "memory_gateway", statements.Count)
	var backends []backendtype.BackendAdapter
	if cfg.LocalBackend {
		lb := local.New(db.DB, nil)
		backends = append(backends, lb)
		a.components.Add("local index merger", local.NewIndexMerger(lb, 0, env))
	}
	remotes, err := remoteBackends(cfg, p.userKeys)
	if err != nil {
		return nil, err
	}
	backends = append(backends, remotes...)
	if extraBackends != nil {
		backends = append(backends, extraBackends(db)...)
	}
	backendNames := make([]backendtype.Backend, len(backends))
	for i, b := range backends {
		backendNames[i] = b.Name()
	}
	tel.ObserveOutbox(store, backendNames, env)
	tel.ObserveIngestHeals(store, backendNames, env)
	// The hub hears this process's job changes directly, as exact states;
	// on PostgreSQL it also hears other processes' changes through the
	// listener below.
	hub := jobevents.New(store, env)
	opts := gateway.Options{
		Store:    store,
		Backends: backends,
		Config: gateway.Config{
			BackendTimeout: cfg.BackendTimeout,
			BackendTimeouts: map[backendtype.Backend]time.Duration{
				backendtype.BackendOpenViking: cfg.OpenVikingTimeout,
				backendtype.BackendEverMemOS:  cfg.EverMemOSTimeout,
			},
			RetrieveTimeout: cfg.RetrieveTimeout,
			MaxContentBytes: cfg.MaxContentBytes,
			MaxAttempts:     cfg.MaxAttempts,
			CommitTimeout:   cfg.CommitTimeout,

			MaxSubscriptionsPerPrincipal: cfg.MaxSubsPrincipal,
		},
		Env:            env,
		Publisher:      hub,
		Watcher:        hub,
		Redactor:       p.redactor,
		Anonymous:      anonymous(p.keyring),
		Observer:       tel,
		FeedbackPolicy: p.feedback,
		Webhooks:       store,
		URLGuard:       p.guard,
	}
	rates := map[string]policy.Rate{
		gateway.LimitIngest:   {PerSecond: cfg.IngestRate, Burst: cfg.IngestBurst},
		gateway.LimitRetrieve: {PerSecond: cfg.RetrieveRate, Burst: cfg.RetrieveBurst},
		gateway.LimitHealth:   {PerSecond: cfg.HealthRate, Burst: cfg.HealthBurst},
	}
	var slots *gateway.SharedSubscriptions
	if deploymentLimits(cfg, db) {
		// Counted in the database, so that the limits hold for every
		// process sharing it, not for each.
		opts.Limiter = policy.NewSharedLimiter(policy.SharedLimiterOptions{Rates: rates, Store: store, Logger: logger})
		slots = gateway.NewSharedSubscriptions(store, gateway.SharedSubscriptionsConfig{Lease: cfg.SubscriptionLease}, env)
		opts.Subscriptions = slots
	} else {
		opts.Limiter = policy.NewLimiter(rates)
	}
	// Only a process that serves the API answers backendMetrics.
	var trends *telemetry.Trends
	if r.api {
		trends = tel.Trends(telemetry.TrendsConfig{Interval: cfg.MetricsTrendEvery}, env)
		opts.Metrics = trends
	}
	// Built in dependency order: the executor, the worker that runs it, and
	// the service, which wakes the worker and drains through it.
	if len(backends) > 0 {
		exec, err := gateway.NewOutboxExecutor(opts)
		if err != nil {
			return nil, err
		}
		a.worker, err = worker.New(worker.Options{
			Store:     store,
			Executor:  exec,
			Publisher: hub,
			Env:       env,
			Hooks:     tel.WorkerHooks(),
			Config: worker.Config{
				Backends:              backendNames,
				ConcurrencyPerBackend: cfg.WorkerConcurrency,
				LeaseDuration:         cfg.WorkerLease,
				PollInterval:          cfg.WorkerPoll,
				RescueInterval:        cfg.WorkerRescue,
			},
		})
		if err != nil {
			return nil, err
		}
		opts.Notifier, opts.Drainer = a.worker, a.worker
	}
	if p.trusted != nil {
		opts.DocumentsOnly = p.trusted.Restricts
	}
	if a.service, err = gateway.NewService(opts); err != nil {
		return nil, err
	}
	// Subscribers, not executions: a change stream executed once serves many.
	tel.ObserveSubscriptions(a.service.LiveSubscriptions)

	// The background components, in the order they start.
	a.components.Add("job hub", hub)
	if slots != nil {
		a.components.Add("subscription slots", slots)
	}
	if trends != nil {
		a.components.Add("backend metrics trends", trends)
	}
	if db.Notifies() {
		handlers := persistence.ListenerHandlers{Jobs: func(ids []string) { hub.PublishJobChanges(ctx, ids) }, Reconnected: hub.Resync}
		if a.worker != nil {
			handlers.Outbox = func() { a.worker.NotifyOutbox(ctx) }
		}
		a.components.Add("notification listener", persistence.NewListener(db, handlers, env))
	}
	retention, err := maintenance.New(maintenance.Config{Policy: p.retention, Interval: cfg.MaintenanceInterval, BatchSize: cfg.MaintenanceBatch}, store, a.service, env, tel.MaintenanceHooks())
	if err != nil {
		return nil, err
	}
	a.components.Add("retention", retention)
	if r.worker {
		webhooks, err := webhook.New(store, p.guard, webhook.Config{Schedule: p.schedule, Timeout: cfg.WebhookTimeout, PollInterval: cfg.WebhookPoll, WorkspaceConcurrency: cfg.WebhookPerWorkspace}, env, tel.WebhookHooks())
		if err != nil {
			return nil, err
		}
		a.components.Add("webhook sender", webhooks)
		if a.worker != nil {
			a.components.Add("outbox worker", a.worker)
		}
	}
	if cfg.MetricsAddr != "" {
		a.metrics = httpapi.NewServer(httpapi.ServerConfig{Addr: cfg.MetricsAddr, ReadHeaderTimeout: cfg.ReadHeaderTimeout},
			httpapi.OperationsHandler(tel.Handler(), db), logger)
		a.components.Add("metrics listener", a.metrics)
	}

	if err := a.buildEdge(ctx, cfg, logger, p); err != nil {
		return nil, err
	}
	if r.api {
		a.components.Add("API keys reloader", keysReloader(p.keyring, cfg.KeysReload, logger))
		if p.trusted != nil {
			a.components.Add("trusted documents reloader", trustedDocumentsReloader(p.trusted, cfg.KeysReload, logger))
		}
		a.api = httpapi.NewServer(httpapi.ServerConfig{
			Addr:              cfg.ListenAddr,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			ReadTimeout:       cfg.ReadTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			OnShutdown:        a.closeStreams,
		}, a.handler, logger)
		a.components.Add("API listener", a.api)
	}
	return a, nil
}

// buildEdge builds the GraphQL and MCP handlers and the API's routes.
func (a *app) buildEdge(ctx context.Context, cfg config, logger *slog.Logger, p policies) error {
	explore := cfg.DevMode == "true" || (cfg.DevMode == "" && a.devMode)
	origins := splitList(cfg.CORSOrigins)
	gql := resolvers.NewHandler(&resolvers.Resolver{Service: a.service, Env: lifecycle.NewEnv(logger, nil)}, resolvers.HandlerConfig{
		Introspection:   explore,
		ComplexityLimit: cfg.ComplexityLimit,
		MaxDepth:        cfg.MaxDepth,
		MaxAliases:      cfg.MaxAliases,
		WebsocketInit:   p.keyring.WebsocketInit,

		MaxSubscriptionsPerConnection: cfg.MaxSubsConnection,
		WebsocketInitTimeout:          cfg.WebsocketInit,
		MaxMessageBytes:               cfg.MaxBodyBytes,
		WebsocketOrigins:              originHosts(origins),
		Extensions:                    []graphql.HandlerExtension{a.telemetry.GraphQL()},
		TrustedDocuments:              p.trusted,
	})
	agents, err := mcpserver.New(mcpserver.Options{
		Service: a.service, Env: lifecycle.NewEnv(logger, nil), Version: version(), DevMode: a.devMode, Backends: a.agentBackends(),
		ObserveTool: a.telemetry.MCPToolObserver(),
	})
	if err != nil {
		return err
	}
	streams, closeStreams := context.WithCancel(context.WithoutCancel(ctx))
	a.closeStreams = closeStreams
	a.components.Adopt("streams", func(context.Context) error { closeStreams(); return nil })
	a.handler = httpapi.Handler(httpapi.Options{
		Logger:    logger,
		Telemetry: a.telemetry,
		Keyring:   p.keyring,
		GraphQL:   gql,
		MCP: agents.Handler(mcpserver.HandlerConfig{
			MaxBodyBytes: cfg.MaxBodyBytes, Authenticated: !a.devMode,
		}),
		Exporter:     a.service,
		Database:     a.db,
		Streams:      streams,
		Origins:      origins,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Explore:      explore,
		Metrics:      cfg.Metrics,
		Pprof:        cfg.Pprof,
	})
	return nil
}

// anonymous is the principal of requests without a key: everything in dev
// mode (no keys), nothing otherwise.
func anonymous(k *policy.Keyring) *gateway.Principal {
	if k.Empty() {
		return &gateway.DevPrincipal
	}
	return nil
}

// agentBackends are the configured backends as MCP agents are told about
// them: their names and how they match a query.
func (a *app) agentBackends() []mcpserver.Backend {
	var out []mcpserver.Backend
	for _, b := range a.service.Backends() {
		out = append(out, mcpserver.Backend{Name: b.Name(), Matching: gateway.MatchingOf(b)})
	}
	return out
}

func (a *app) backendNames() []backendtype.Backend {
	var names []backendtype.Backend
	for _, b := range a.service.Backends() {
		names = append(names, b.Name())
	}
	return names
}

// deploymentLimits reports whether limits are counted in the database
// (LIMITS_SCOPE): by default on PostgreSQL, which several processes share,
// and not on SQLite, which one process owns.
func deploymentLimits(cfg config, db *persistence.DB) bool {
	switch cfg.LimitsScope {
	case limitsScopeDeployment:
		return true
	case limitsScopeProcess:
		return false
	default:
		return db.SQLitePath == ""
	}
}

func openDatabase(ctx context.Context, cfg config, logger *slog.Logger) (*persistence.DB, error) {
	db, err := persistence.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	db.UsePreparedStatements(cfg.PreparedStatements)
	logger.InfoContext(ctx, "memory-gateway: database opened", slog.String("url", db.URL))
	if err := db.Migrate(ctx, logger); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// remoteBackends builds the adapters whose URL is configured.
func remoteBackends(cfg config, userKeys map[string]string) ([]backendtype.BackendAdapter, error) {
	var out []backendtype.BackendAdapter
	var ids remote.Identities
	if cfg.PseudonymousIDs {
		ids = remote.NewIdentities([]byte(cfg.BackendIDKey))
	}
	if cfg.OpenVikingURL != "" {
		ov, err := openviking.New(openviking.Config{
			BaseURL: cfg.OpenVikingURL, APIKey: cfg.OpenVikingKey, UserKeys: userKeys, Timeout: cfg.OpenVikingTimeout,
			PollInterval: cfg.OpenVikingPoll, Identities: ids,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, ov)
	}
	if cfg.EverMemOSURL != "" {
		em, err := everMemOSBackend(cfg, ids)
		if err != nil {
			return nil, err
		}
		out = append(out, em)
	}
	return out, nil
}

// everMemOSBackend is the EVERMEMOS backend of the API EVERMEMOS_API names.
func everMemOSBackend(cfg config, ids remote.Identities) (backendtype.BackendAdapter, error) {
	if cfg.EverMemOSAPI == everMemOSAPIEverOS {
		return everos.New(everos.Config{
			BaseURL: cfg.EverMemOSURL, APIKey: cfg.EverMemOSKey, AppID: cfg.EverMemOSAppID, Timeout: cfg.EverMemOSTimeout, Identities: ids,
		})
	}
	return evermemos.New(evermemos.Config{BaseURL: cfg.EverMemOSURL, APIKey: cfg.EverMemOSKey, Timeout: cfg.EverMemOSTimeout, Identities: ids})
}

// readUserKeys reads the OpenViking per-user key file: {"workspace/user": "key"}.
func readUserKeys(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("error reading OPENVIKING_USER_KEYS_FILE: %w", err)
	}
	var keys map[string]string
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, fmt.Errorf("OPENVIKING_USER_KEYS_FILE must be a JSON object of \"workspace/user\": \"key\": %w", err)
	}
	return keys, nil
}

// loadRetentionPolicy reads RETENTION_POLICY, else RETENTION_POLICY_FILE;
// neither keeps everything forever.
func loadRetentionPolicy(cfg config) (gateway.RetentionPolicy, error) {
	raw := []byte(cfg.RetentionPolicy)
	if cfg.RetentionPolicy == "" && cfg.RetentionPolicyFile != "" {
		var err error
		if raw, err = os.ReadFile(cfg.RetentionPolicyFile); err != nil {
			return gateway.RetentionPolicy{}, fmt.Errorf("error reading RETENTION_POLICY_FILE: %w", err)
		}
	}
	return policy.ParseRetentionPolicy(raw)
}
