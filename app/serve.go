package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/policy"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// serve runs the API (and, unless disabled, the worker) until ctx is done,
// then shuts down gracefully. ready, if not nil, receives the bound address
// once the listener is open.
func serve(ctx context.Context, cfg config, logger *slog.Logger, ready chan<- string) error {
	a, err := buildApp(ctx, cfg, logger, role{api: true, worker: cfg.Worker})
	if err != nil {
		return err
	}
	if a.devMode {
		if !loopback(cfg.ListenAddr) {
			err := fmt.Errorf("refusing to serve on %s in dev mode: without API keys (API_KEYS_FILE or API_KEYS) the gateway only listens on a loopback address such as 127.0.0.1:8080", cfg.ListenAddr)
			return errors.Join(err, a.stop(ctx))
		}
		logger.WarnContext(ctx, "memory-gateway: DEV MODE — no API keys are configured, so every request acts with full access; listening on loopback only")
	}
	if err := a.start(ctx); err != nil {
		return err
	}
	logger.InfoContext(ctx, "memory-gateway: serving",
		slog.String("addr", a.api.Addr()), slog.Bool("dev_mode", a.devMode), slog.Int("api_keys", a.keyring.Len()),
		slog.Any("backends", a.backendNames()), slog.Bool("worker", cfg.Worker && a.worker != nil))
	if ready != nil {
		ready <- a.api.Addr()
	}
	select {
	case err = <-a.api.Failed():
		err = fmt.Errorf("error serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("memory-gateway: shutting down", slog.Duration("timeout", cfg.ShutdownTimeout))
	err = errors.Join(err, stopWithin(ctx, a, cfg.ShutdownTimeout))
	logger.Info("memory-gateway: stopped")
	return err
}

// runWorker runs only the outbox worker until ctx is done.
func runWorker(ctx context.Context, cfg config, logger *slog.Logger) error {
	a, err := buildApp(ctx, cfg, logger, role{worker: true})
	if err != nil {
		return err
	}
	if a.worker == nil {
		return errors.Join(errors.New("no backend is enabled: the worker has nothing to do"), a.stop(ctx))
	}
	if err := a.start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	logger.Info("memory-gateway: stopping worker", slog.Duration("timeout", cfg.ShutdownTimeout))
	return stopWithin(ctx, a, cfg.ShutdownTimeout)
}

// stopWithin stops the app, giving it timeout from now.
func stopWithin(ctx context.Context, a *app, timeout time.Duration) error {
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	return a.stop(shutdownCtx)
}

// migrateOnly applies the database migrations and exits.
func migrateOnly(ctx context.Context, cfg config, logger *slog.Logger) error {
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	return db.Close()
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

// reloader runs watch, which reloads something on SIGHUP and when its file
// changes, as a component.
type reloader struct {
	watch  func(ctx context.Context, hup <-chan os.Signal)
	runner lifecycle.Runner
}

// Start listens for SIGHUP before it returns, so a SIGHUP sent once the
// process is up reloads instead of ending the process.
func (r *reloader) Start(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	err := r.runner.Start(ctx, func(ctx context.Context) {
		defer signal.Stop(hup)
		r.watch(ctx, hup)
	})
	if err != nil {
		signal.Stop(hup)
	}
	return err
}

func (r *reloader) Stop(ctx context.Context) error { return r.runner.Stop(ctx) }

// keysReloader reloads the API keys; a revoked key's requests and
// subscriptions end.
func keysReloader(keyring *policy.Keyring, interval time.Duration, logger *slog.Logger) *reloader {
	return &reloader{watch: func(ctx context.Context, hup <-chan os.Signal) {
		keyring.Watch(ctx, interval, hup, func(res policy.ReloadResult, err error) {
			if err != nil {
				logger.WarnContext(ctx, "memory-gateway: API keys not reloaded, the keys in force stay", slog.String("err", err.Error()))
				return
			}
			logger.InfoContext(ctx, "memory-gateway: API keys reloaded",
				slog.Int("keys", res.Keys), slog.Int("added", res.Added), slog.Int("revoked", res.Revoked))
		})
	}}
}

// trustedDocumentsReloader reloads the trusted documents, like the keys.
func trustedDocumentsReloader(trusted *resolvers.TrustedDocuments, interval time.Duration, logger *slog.Logger) *reloader {
	return &reloader{watch: func(ctx context.Context, hup <-chan os.Signal) {
		trusted.Watch(ctx, interval, hup, func(documents int, err error) {
			if err != nil {
				logger.WarnContext(ctx, "memory-gateway: trusted documents not reloaded, the list in force stays", slog.String("err", err.Error()))
				return
			}
			logger.InfoContext(ctx, "memory-gateway: trusted documents reloaded", slog.Int("documents", documents))
		})
	}}
}
