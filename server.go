// Command memory-gateway is a GraphQL control plane for AI-agent memory.
//
// Usage:
//
//	memory-gateway [serve] [flags]   serve the API (the default)
//	memory-gateway migrate [flags]   apply database migrations and exit
//
// Every flag has an environment variable; see the README for the table.
package main

import (
	"context"
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

	"github.com/99designs/gqlgen/graphql/playground"

	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stderr))
}

// run is main without process globals, so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	command := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		command, args = args[0], args[1:]
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

// app is everything serve wires together.
type app struct {
	db      *persistence.DB
	service *gateway.Service
	handler http.Handler
}

func buildApp(ctx context.Context, cfg config, logger *slog.Logger) (*app, error) {
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	var backends []gateway.BackendAdapter
	if cfg.LocalBackend {
		backends = append(backends, local.New(db.DB, nil))
	}
	svc, err := gateway.NewService(gateway.Options{
		Store:    persistence.NewStore(db),
		Backends: backends,
		Config: gateway.Config{
			BackendTimeout:  cfg.BackendTimeout,
			RetrieveTimeout: cfg.RetrieveTimeout,
			MaxContentBytes: cfg.MaxContentBytes,
		},
		Logger: logger,
	})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	gql := resolvers.NewHandler(&resolvers.Resolver{Service: svc, Logger: logger}, resolvers.HandlerConfig{
		Introspection:   cfg.DevMode,
		ComplexityLimit: cfg.ComplexityLimit,
	})

	mux := http.NewServeMux()
	mux.Handle("/graphql", limitBody(cfg.MaxBodyBytes, gql))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", readyHandler(db))
	if cfg.DevMode {
		mux.Handle("GET /{$}", playground.Handler("Memory Gateway", "/graphql"))
	}
	return &app{db: db, service: svc, handler: withRequestLog(logger, withRecover(logger, mux))}, nil
}

// serve runs the API until ctx is done, then shuts down gracefully. ready,
// if not nil, receives the bound address once the listener is open.
func serve(ctx context.Context, cfg config, logger *slog.Logger, ready chan<- string) error {
	a, err := buildApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() { _ = a.db.Close() }()

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("error listening on %s: %w", cfg.ListenAddr, err)
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.InfoContext(ctx, "memory-gateway: serving",
		slog.String("addr", ln.Addr().String()), slog.Bool("dev_mode", cfg.DevMode),
		slog.Bool("local_backend", cfg.LocalBackend))
	if ready != nil {
		ready <- ln.Addr().String()
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("error serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("memory-gateway: shutting down", slog.Duration("timeout", cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("error shutting down: %w", err)
	}
	logger.Info("memory-gateway: stopped")
	return nil
}

func readyHandler(db *persistence.DB) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "database unreachable"})
			return
		}
		pending, err := db.PendingMigrations(ctx)
		if err != nil || pending > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "migrations pending"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	}
}
