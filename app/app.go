// Package app is the gateway's commands, configuration and composition
// root: it parses the command line and the environment, builds every
// component in dependency order and runs serve, worker, migrate and the
// other commands.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
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
