// Package app is the gateway's commands, configuration and composition
// root: it parses the command line and the environment, builds every
// component in dependency order and runs serve, worker, migrate and the
// other commands.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/memory-gateway/memory-gateway/backends/evermemos"
	"github.com/memory-gateway/memory-gateway/backends/everos"
	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backends/openviking"
	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/httpapi"
	"github.com/memory-gateway/memory-gateway/jobevents"
	"github.com/memory-gateway/memory-gateway/maintenance"
	"github.com/memory-gateway/memory-gateway/mcpserver"
	"github.com/memory-gateway/memory-gateway/persistence"
	"github.com/memory-gateway/memory-gateway/policy"
	"github.com/memory-gateway/memory-gateway/resolvers"
	"github.com/memory-gateway/memory-gateway/telemetry"
	"github.com/memory-gateway/memory-gateway/webhook"
	"github.com/memory-gateway/memory-gateway/worker"
)

// Main runs the command named by the process's arguments until it ends or
// the process is interrupted, and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Getenv, os.Stderr)
}

// run is main without process globals, so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	command := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		command, args = args[0], args[1:]
	}
	if command == "healthcheck" {
		return runHealthcheck(ctx, args, getenv, stderr)
	}
	if command == "trusted-documents" {
		return runTrustedDocuments(args, os.Stdout, stderr)
	}
	if command == "mcp-stdio" {
		return runMCPStdio(ctx, args, getenv, stderr)
	}
	cfg, err := parseConfig(command, args, getenv, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "memory-gateway:", err)
		return 2
	}
	logger, err := newLogger(cfg.LogLevel, cfg.LogFormat, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "memory-gateway:", err)
		return 2
	}
	switch command {
	case "serve":
		err = serve(ctx, cfg, logger, nil)
	case "migrate":
		err = migrateOnly(ctx, cfg, logger)
	case "worker":
		err = runWorker(ctx, cfg, logger)
	}
	if err != nil {
		logger.Error("memory-gateway: exiting on error", slog.String("err", err.Error()))
		return 1
	}
	return 0
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid log level %q (want debug, info, warn or error)", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("invalid log format %q (want json or text)", format)
	}
}

func openDatabase(ctx context.Context, cfg config, logger *slog.Logger) (*persistence.DB, error) {
	db, err := persistence.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	logger.InfoContext(ctx, "memory-gateway: database opened", slog.String("url", db.URL))
	if err := db.Migrate(ctx, logger); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

func migrateOnly(ctx context.Context, cfg config, logger *slog.Logger) error {
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	return db.Close()
}

// extraBackends, when set, adds backends to the app. Tests of whole
// processes use it to plug in instrumented backends; it is nil otherwise.
var extraBackends func(db *persistence.DB) []gateway.BackendAdapter

// app is everything serve and worker wire together.
type app struct {
	db       *persistence.DB
	service  *gateway.Service
	worker   *worker.Worker
	hub      *jobevents.Hub
	listener *persistence.Listener
	handler  http.Handler
	// telemetry holds the metrics registry; stopTracing flushes spans.
	telemetry   *telemetry.Telemetry
	stopTracing func(context.Context) error
	// metricsAddr, when set, gets its own /metrics listener, open to
	// whoever reaches it (the API port serves metrics to the operator only).
	metricsAddr   string
	metricsServer *http.Server
	// metricsBound is the address the metrics listener got.
	metricsBound string
	// closeStreams ends every open subscription stream.
	closeStreams context.CancelFunc
	// devMode: no API keys, every caller is the dev principal.
	devMode bool
	keyring *policy.Keyring
	// maintenance applies the retention policy, on every process.
	maintenance *maintenance.Service
	// webhooks sends webhook deliveries, wherever the worker runs.
	webhooks *webhook.Dispatcher
	// trusted is the trusted-documents list, when one is configured.
	trusted *resolvers.TrustedDocuments
}

// anonymous is the principal of requests without a key: everything in dev
// mode (no keys), nothing otherwise.
func anonymous(k *policy.Keyring) *gateway.Principal {
	if k.Empty() {
		return &gateway.DevPrincipal
	}
	return nil
}

// loopback reports whether a listen address only accepts local connections.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func buildApp(ctx context.Context, cfg config, logger *slog.Logger) (*app, error) {
	keyring, err := policy.LoadKeyring(cfg.APIKeysFile, cfg.APIKeys)
	if err != nil {
		return nil, err
	}
	redactor, err := policy.LoadRedactor(cfg.RedactionFile)
	if err != nil {
		return nil, err
	}
	userKeys, err := readUserKeys(cfg.OpenVikingKeys)
	if err != nil {
		return nil, err
	}
	// The gateway's own secrets are masked wherever they would be stored or
	// returned (a backend that echoes its request echoes its key).
	secrets := []string{cfg.OpenVikingKey, cfg.EverMemOSKey, cfg.BackendIDKey}
	for _, k := range userKeys {
		secrets = append(secrets, k)
	}
	if err := redactor.ProtectSecrets(secrets...); err != nil {
		return nil, err
	}
	feedbackPolicy, err := policy.LoadFeedbackPolicy(cfg.FeedbackPolicy, cfg.FeedbackPolicyFile)
	if err != nil {
		return nil, err
	}
	retention, err := loadRetentionPolicy(cfg)
	if err != nil {
		return nil, err
	}
	guard, err := webhook.ParseAllowList(cfg.WebhookAllowHosts)
	if err != nil {
		return nil, err
	}
	schedule, err := webhook.ParseSchedule(cfg.WebhookSchedule)
	if err != nil {
		return nil, err
	}
	var trusted *resolvers.TrustedDocuments
	if cfg.TrustedDocsFile != "" {
		if trusted, err = resolvers.LoadTrustedDocuments(cfg.TrustedDocsFile, resolvers.TrustedScope(cfg.TrustedDocsFor)); err != nil {
			return nil, err
		}
		logger.InfoContext(ctx, "memory-gateway: trusted documents loaded", slog.Int("documents", trusted.Len()), slog.String("for", cfg.TrustedDocsFor))
	}
	tracerProvider, stopTracing, err := telemetry.SetupTracing(ctx, telemetry.TracingConfig{
		Endpoint: cfg.OTLPEndpoint, ServiceName: cfg.ServiceName, SampleRatio: cfg.TraceSampleRatio,
	})
	if err != nil {
		return nil, err
	}
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return nil, errors.Join(err, stopTracing(ctx))
	}
	store := persistence.NewStore(db)
	tel := telemetry.New(telemetry.Options{TracerProvider: tracerProvider})
	statements := &persistence.QueryCounter{}
	db.AddQueryHook(statements)
	tel.ObserveDatabase(db.DB.DB, "memory_gateway", statements.Count)
	var backends []gateway.BackendAdapter
	if cfg.LocalBackend {
		backends = append(backends, local.New(db.DB, nil))
	}
	remotes, err := remoteBackends(cfg, userKeys)
	if err != nil {
		_ = errors.Join(db.Close(), stopTracing(ctx))
		return nil, err
	}
	backends = append(backends, remotes...)
	if extraBackends != nil {
		backends = append(backends, extraBackends(db)...)
	}
	backendNames := make([]gateway.Backend, len(backends))
	for i, b := range backends {
		backendNames[i] = b.Name()
	}
	tel.ObserveOutbox(store, backendNames, logger)
	// The hub hears this process's job changes directly, as exact states;
	// on PostgreSQL it also hears other processes' changes through the
	// listener below.
	hub := jobevents.New(store, logger)
	opts := gateway.Options{
		Store:    store,
		Backends: backends,
		Config: gateway.Config{
			BackendTimeout: cfg.BackendTimeout,
			BackendTimeouts: map[gateway.Backend]time.Duration{
				gateway.BackendOpenViking: cfg.OpenVikingTimeout,
				gateway.BackendEverMemOS:  cfg.EverMemOSTimeout,
			},
			RetrieveTimeout: cfg.RetrieveTimeout,
			MaxContentBytes: cfg.MaxContentBytes,
			MaxAttempts:     cfg.MaxAttempts,
			CommitTimeout:   cfg.CommitTimeout,

			MaxSubscriptionsPerPrincipal: cfg.MaxSubsPrincipal,
		},
		Logger:    logger,
		Publisher: hub,
		Watcher:   hub,
		Redactor:  redactor,
		Limiter: policy.NewLimiter(map[string]policy.Rate{
			gateway.LimitIngest:   {PerSecond: cfg.IngestRate, Burst: cfg.IngestBurst},
			gateway.LimitRetrieve: {PerSecond: cfg.RetrieveRate, Burst: cfg.RetrieveBurst},
			gateway.LimitHealth:   {PerSecond: cfg.HealthRate, Burst: cfg.HealthBurst},
		}),
		Anonymous:      anonymous(keyring),
		Observer:       tel,
		FeedbackPolicy: feedbackPolicy,
		Webhooks:       store,
		URLGuard:       guard,
	}
	// Built in dependency order: the executor, the worker that runs it, and
	// the service, which wakes the worker and drains through it.
	var outboxWorker *worker.Worker
	if len(backends) > 0 {
		exec, err := gateway.NewOutboxExecutor(opts)
		if err != nil {
			_ = errors.Join(db.Close(), stopTracing(ctx))
			return nil, err
		}
		outboxWorker, err = worker.New(worker.Options{
			Store:     store,
			Executor:  exec,
			Publisher: hub,
			Logger:    logger,
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
			_ = errors.Join(db.Close(), stopTracing(ctx))
			return nil, err
		}
		opts.Notifier, opts.Drainer = outboxWorker, outboxWorker
	}
	if trusted != nil {
		opts.DocumentsOnly = trusted.Restricts
	}
	svc, err := gateway.NewService(opts)
	if err != nil {
		_ = errors.Join(db.Close(), stopTracing(ctx))
		return nil, err
	}
	// Subscribers, not executions: a change stream executed once serves many.
	tel.ObserveSubscriptions(svc.LiveSubscriptions)
	a := &app{db: db, service: svc, worker: outboxWorker, hub: hub, telemetry: tel, stopTracing: stopTracing, metricsAddr: cfg.MetricsAddr, devMode: keyring.Empty(), keyring: keyring, trusted: trusted}
	a.webhooks, err = webhook.New(store, guard, webhook.Config{Schedule: schedule, Timeout: cfg.WebhookTimeout, PollInterval: cfg.WebhookPoll, WorkspaceConcurrency: cfg.WebhookPerWorkspace}, logger, nil, tel.WebhookHooks())
	if err != nil {
		_ = errors.Join(db.Close(), stopTracing(ctx))
		return nil, err
	}
	a.maintenance, err = maintenance.New(maintenance.Config{Policy: retention, Interval: cfg.MaintenanceInterval, BatchSize: cfg.MaintenanceBatch}, store, svc, logger, nil, tel.MaintenanceHooks())
	if err != nil {
		_ = errors.Join(db.Close(), stopTracing(ctx))
		return nil, err
	}
	if db.Notifies() {
		handlers := persistence.ListenerHandlers{Jobs: func(ids []string) { hub.PublishJobChanges(ctx, ids) }, Reconnected: hub.Resync}
		if a.worker != nil {
			handlers.Outbox = func() { a.worker.NotifyOutbox(ctx) }
		}
		a.listener = persistence.NewListener(db, handlers, logger)
	}

	explore := cfg.DevMode == "true" || (cfg.DevMode == "" && a.devMode)
	origins := splitList(cfg.CORSOrigins)
	gql := resolvers.NewHandler(&resolvers.Resolver{Service: svc, Logger: logger}, resolvers.HandlerConfig{
		Introspection:   explore,
		ComplexityLimit: cfg.ComplexityLimit,
		MaxDepth:        cfg.MaxDepth,
		MaxAliases:      cfg.MaxAliases,
		WebsocketInit:   keyring.WebsocketInit,

		MaxSubscriptionsPerConnection: cfg.MaxSubsConnection,
		WebsocketInitTimeout:          cfg.WebsocketInit,
		MaxMessageBytes:               cfg.MaxBodyBytes,
		WebsocketOrigins:              originHosts(origins),
		Extensions:                    []graphql.HandlerExtension{tel.GraphQL()},
		TrustedDocuments:              trusted,
	})
	agents, err := mcpserver.New(mcpserver.Options{
		Service: svc, Logger: logger, Version: version(), DevMode: a.devMode, Backends: a.agentBackends(),
		ObserveTool: tel.MCPToolObserver(),
	})
	if err != nil {
		_ = errors.Join(db.Close(), stopTracing(ctx))
		return nil, err
	}
	streams, closeStreams := context.WithCancel(context.WithoutCancel(ctx))
	a.closeStreams = closeStreams
	a.handler = httpapi.Handler(httpapi.Options{
		Logger:    logger,
		Telemetry: tel,
		Keyring:   keyring,
		GraphQL:   gql,
		MCP: agents.Handler(mcpserver.HandlerConfig{
			MaxBodyBytes: cfg.MaxBodyBytes, Authenticated: !a.devMode,
		}),
		Exporter:     svc,
		Database:     db,
		Streams:      streams,
		Origins:      origins,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Explore:      explore,
		Metrics:      cfg.Metrics,
		Pprof:        cfg.Pprof,
	})
	return a, nil
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

func (a *app) backendNames() []gateway.Backend {
	var names []gateway.Backend
	for _, b := range a.service.Backends() {
		names = append(names, b.Name())
	}
	return names
}

// remoteBackends builds the adapters whose URL is configured.
func remoteBackends(cfg config, userKeys map[string]string) ([]gateway.BackendAdapter, error) {
	var out []gateway.BackendAdapter
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
func everMemOSBackend(cfg config, ids remote.Identities) (gateway.BackendAdapter, error) {
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

// start launches the background components; runWorker says whether the
// outbox worker runs in this process.
func (a *app) start(ctx context.Context, runWorker bool) error {
	if err := a.hub.Start(ctx); err != nil {
		return err
	}
	if a.listener != nil {
		if err := a.listener.Start(ctx); err != nil {
			return err
		}
	}
	if runWorker && a.worker != nil {
		if err := a.worker.Start(ctx); err != nil {
			return err
		}
	}
	if runWorker {
		if err := a.webhooks.Start(ctx); err != nil {
			return err
		}
	}
	if err := a.maintenance.Start(ctx); err != nil {
		return err
	}
	if a.metricsAddr != "" {
		ln, err := net.Listen("tcp", a.metricsAddr)
		if err != nil {
			return fmt.Errorf("error listening for metrics on %s: %w", a.metricsAddr, err)
		}
		a.metricsBound = ln.Addr().String()
		a.metricsServer = &http.Server{Handler: httpapi.OperationsHandler(a.telemetry.Handler(), a.db), ReadHeaderTimeout: ReadHeaderTimeoutDefault}
		go func() { _ = a.metricsServer.Serve(ln) }()
	}
	return nil
}

// stop stops the background components, giving in-flight outbox events until
// ctx is done to finish.
func (a *app) stop(ctx context.Context) error {
	var err error
	if a.metricsServer != nil {
		_ = a.metricsServer.Shutdown(ctx)
	}
	if a.worker != nil {
		err = a.worker.Stop(ctx)
	}
	err = errors.Join(err, a.webhooks.Stop(ctx), a.maintenance.Stop(ctx))
	if a.listener != nil {
		a.listener.Stop()
	}
	a.hub.Stop()
	return errors.Join(err, a.db.Close(), a.stopTracing(ctx))
}

// serve runs the API (and, unless disabled, the worker) until ctx is done,
// then shuts down gracefully. ready, if not nil, receives the bound address
// once the listener is open.
func serve(ctx context.Context, cfg config, logger *slog.Logger, ready chan<- string) (err error) {
	a, err := buildApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if a.devMode {
		if !loopback(cfg.ListenAddr) {
			_ = errors.Join(a.db.Close(), a.stopTracing(ctx))
			return fmt.Errorf("refusing to serve on %s in dev mode: without API keys (API_KEYS_FILE or API_KEYS) the gateway only listens on a loopback address such as 127.0.0.1:8080", cfg.ListenAddr)
		}
		logger.WarnContext(ctx, "memory-gateway: DEV MODE — no API keys are configured, so every request acts with full access; listening on loopback only")
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		_ = errors.Join(a.db.Close(), a.stopTracing(ctx))
		return fmt.Errorf("error listening on %s: %w", cfg.ListenAddr, err)
	}
	if err := a.start(ctx, cfg.Worker); err != nil {
		_ = ln.Close()
		return errors.Join(err, a.stop(ctx))
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	logger.InfoContext(ctx, "memory-gateway: serving",
		slog.String("addr", ln.Addr().String()), slog.Bool("dev_mode", a.devMode), slog.Int("api_keys", a.keyring.Len()),
		slog.Any("backends", a.backendNames()), slog.Bool("worker", cfg.Worker && a.worker != nil))
	if ready != nil {
		ready <- ln.Addr().String()
	}

	go a.watchKeys(ctx, cfg.KeysReload, logger)
	if a.trusted != nil {
		go a.watchTrustedDocuments(ctx, cfg.KeysReload, logger)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
		err = fmt.Errorf("error serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("memory-gateway: shutting down", slog.Duration("timeout", cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	// Streams (subscriptions) are not idle connections: close them so
	// Shutdown does not wait for them.
	srv.RegisterOnShutdown(a.closeStreams)
	if shutdownErr := srv.Shutdown(shutdownCtx); shutdownErr != nil {
		_ = srv.Close()
	}
	err = errors.Join(err, a.stop(shutdownCtx))
	logger.Info("memory-gateway: stopped")
	return err
}

// watchKeys reloads the API keys on SIGHUP and when the keys file changes,
// until ctx is done. A revoked key's requests and subscriptions end.
func (a *app) watchKeys(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	a.keyring.Watch(ctx, interval, hup, func(res policy.ReloadResult, err error) {
		if err != nil {
			logger.WarnContext(ctx, "memory-gateway: API keys not reloaded, the keys in force stay", slog.String("err", err.Error()))
			return
		}
		logger.InfoContext(ctx, "memory-gateway: API keys reloaded",
			slog.Int("keys", res.Keys), slog.Int("added", res.Added), slog.Int("revoked", res.Revoked))
	})
}

// watchTrustedDocuments reloads the trusted documents on SIGHUP and when
// their file changes, like the keys, until ctx is done.
func (a *app) watchTrustedDocuments(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	a.trusted.Watch(ctx, interval, hup, func(documents int, err error) {
		if err != nil {
			logger.WarnContext(ctx, "memory-gateway: trusted documents not reloaded, the list in force stays", slog.String("err", err.Error()))
			return
		}
		logger.InfoContext(ctx, "memory-gateway: trusted documents reloaded", slog.Int("documents", documents))
	})
}

// runWorker runs only the outbox worker until ctx is done.
func runWorker(ctx context.Context, cfg config, logger *slog.Logger) error {
	a, err := buildApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if a.worker == nil {
		_ = errors.Join(a.db.Close(), a.stopTracing(ctx))
		return errors.New("no backend is enabled: the worker has nothing to do")
	}
	if err := a.start(ctx, true); err != nil {
		return errors.Join(err, a.stop(ctx))
	}
	<-ctx.Done()
	logger.Info("memory-gateway: stopping worker", slog.Duration("timeout", cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	return a.stop(shutdownCtx)
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
