package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// buildTimeout bounds go build of the server.
const buildTimeout = 5 * time.Minute

// env is what every scenario shares: the bench database, the server binary
// and the server processes started so far.
type env struct {
	cfg      config
	stderr   io.Writer
	tmpDir   string
	binary   string
	benchURL string
	// root is the repository's root directory.
	root string
	// db is a connection to the bench database (public schema).
	db      *bun.DB
	machine Machine

	mu      sync.Mutex
	servers []*gatewayServer
	// keep leaves tmpDir (server logs, pgbench logs) in place.
	keep bool
}

// setup builds the server, re-creates the bench database and describes the
// machine.
func setup(ctx context.Context, cfg config, stderr io.Writer) (*env, error) {
	e := &env{cfg: cfg, stderr: stderr}
	tmp, err := os.MkdirTemp("", "memory-gateway-bench-")
	if err != nil {
		return nil, fmt.Errorf("error creating a temp directory: %w", err)
	}
	e.tmpDir = tmp
	ok := false
	defer func() {
		if !ok {
			e.close()
		}
	}()
	root, err := repoRoot(ctx)
	if err != nil {
		return nil, err
	}
	e.root = root
	e.binary = filepath.Join(tmp, "memory-gateway")
	e.logf("building the server in %s", root)
	if err := buildServer(ctx, root, e.binary); err != nil {
		return nil, err
	}
	e.logf("re-creating database %s", cfg.database)
	if e.benchURL, err = recreateDatabase(ctx, cfg.adminURL, cfg.database); err != nil {
		return nil, err
	}
	if e.db, err = openDB(ctx, e.benchURL); err != nil {
		return nil, err
	}
	e.machine = describeMachine(ctx, e.db, cfg.pgbench)
	ok = true
	return e, nil
}

// close stops every server and removes the temp directory unless a
// scenario failed.
func (e *env) close() {
	e.stopServers()
	if e.db != nil {
		_ = e.db.Close()
	}
	if e.keep {
		e.logf("server and pgbench logs kept in %s", e.tmpDir)
		return
	}
	_ = os.RemoveAll(e.tmpDir)
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// repoRoot is the directory of the main module's go.mod.
func repoRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("error running go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("error finding the repository root: %w", err)
		}
		if _, err := os.Stat(filepath.Join(wd, "go.mod")); err != nil {
			return "", errors.New("run the bench from the repository root (no go.mod found)")
		}
		return wd, nil
	}
	return filepath.Dir(gomod), nil
}

func buildServer(ctx context.Context, root, output string) error {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", output, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("error building the server (go build -o %s .): %w\n%s", output, err, out)
	}
	return nil
}
