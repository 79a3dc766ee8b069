// Command river drains jobs through River (github.com/riverqueue/river) on
// PostgreSQL and prints what it measured as JSON, for the drain scenario of
// the gateway's bench suite to set beside the outbox. It is a module of its
// own, so River never enters the gateway's dependencies.
//
// Modes:
//
//	noop  jobs that do nothing: River's own ceiling;
//	work  jobs that do what one outbox event does, written the way River's
//	      documentation teaches: in one transaction per job, upsert the
//	      event's ref, re-aggregate its job's row, and complete the River job
//	      (river.JobCompleteTx).
//
// Usage: go run . -database-url postgres://… -mode noop -jobs 50000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

const (
	schema     = "river_bench"
	insertStep = 10_000
	// drainPoll is how often the drain's progress is read.
	drainPoll = 20 * time.Millisecond
)

// NoopArgs is a job that does nothing.
type NoopArgs struct{}

// Kind implements river.JobArgs.
func (NoopArgs) Kind() string { return "noop" }

type noopWorker struct{ river.WorkerDefaults[NoopArgs] }

func (noopWorker) Work(context.Context, *river.Job[NoopArgs]) error { return nil }

// EventArgs is a job that records one event's outcome.
type EventArgs struct {
	JobID   string `json:"job_id"`
	EventID string `json:"event_id"`
}

// Kind implements river.JobArgs.
func (EventArgs) Kind() string { return "event" }

type eventWorker struct {
	river.WorkerDefaults[EventArgs]
	pool *pgxpool.Pool
}

// Work upserts the event's ref, re-aggregates its job and completes the
// River job, all in one transaction.
func (w eventWorker) Work(ctx context.Context, job *river.Job[EventArgs]) error {
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `INSERT INTO bench_refs (id, job_id, native_id, status, metadata, created_at, updated_at)
		VALUES ($1, $2, $3, 'success', '{"noop": true}', now(), now())
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at`,
		"ref-"+job.Args.EventID, job.Args.JobID, "noop-"+job.Args.EventID); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE bench_jobs SET status = 'success', refs = (SELECT count(*) FROM bench_refs WHERE job_id = $1),
		finished_at = now(), updated_at = now(), version = version + 1 WHERE id = $1`, job.Args.JobID); err != nil {
		return err
	}
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

type result struct {
	Mode           string  `json:"mode"`
	Jobs           int     `json:"jobs"`
	ElapsedSeconds float64 `json:"elapsedSeconds"`
	PerSecond      float64 `json:"perSecond"`
	// CPUMicrosPerJob is this process's CPU time (user + system) per job
	// while draining.
	CPUMicrosPerJob float64 `json:"cpuMicrosPerJob"`
	MaxWorkers      int     `json:"maxWorkers"`
	River           string  `json:"river"`
}

func main() {
	url := flag.String("database-url", "postgres://postgres@127.0.0.1:5432/memory_gateway_bench?sslmode=disable", "PostgreSQL URL")
	mode := flag.String("mode", "noop", "noop or work")
	jobs := flag.Int("jobs", 50_000, "jobs to drain")
	workers := flag.Int("workers", 1000, "River MaxWorkers of the default queue")
	flag.Parse()
	res, err := run(context.Background(), *url, *mode, *jobs, *workers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "river bench:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

func run(ctx context.Context, url, mode string, n, maxWorkers int) (result, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return result{}, err
	}
	cfg.MaxConns = 40
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return result{}, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		return result{}, err
	}
	driver := riverpgxv5.New(pool)
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema, Logger: quiet()})
	if err != nil {
		return result{}, err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return result{}, fmt.Errorf("migrating River: %w", err)
	}
	workers := river.NewWorkers()
	switch mode {
	case "noop":
		river.AddWorker(workers, noopWorker{})
	case "work":
		if _, err := pool.Exec(ctx, `CREATE TABLE bench_jobs (id text PRIMARY KEY, status text NOT NULL, refs int NOT NULL DEFAULT 0,
			finished_at timestamptz, updated_at timestamptz NOT NULL, version bigint NOT NULL DEFAULT 1);
			CREATE TABLE bench_refs (id text PRIMARY KEY, job_id text NOT NULL, native_id text, status text NOT NULL,
			metadata jsonb NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
			CREATE INDEX ON bench_refs (job_id)`); err != nil {
			return result{}, err
		}
		if _, err := pool.Exec(ctx, `INSERT INTO bench_jobs (id, status, updated_at) SELECT 'job-' || g, 'accepted', now() FROM generate_series(1, $1) g`, n); err != nil {
			return result{}, err
		}
		river.AddWorker(workers, eventWorker{pool: pool})
	default:
		return result{}, fmt.Errorf("unknown mode %q (want noop or work)", mode)
	}
	client, err := river.NewClient(driver, &river.Config{
		Schema:            schema,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}},
		Workers:           workers,
		FetchCooldown:     river.FetchCooldownMin,
		FetchPollInterval: 10 * time.Millisecond,
		Logger:            quiet(),
	})
	if err != nil {
		return result{}, err
	}
	for start := 0; start < n; start += insertStep {
		params := make([]river.InsertManyParams, 0, insertStep)
		for i := start; i < min(n, start+insertStep); i++ {
			var args river.JobArgs = NoopArgs{}
			if mode == "work" {
				args = EventArgs{JobID: fmt.Sprintf("job-%d", i+1), EventID: fmt.Sprintf("event-%d", i+1)}
			}
			params = append(params, river.InsertManyParams{Args: args})
		}
		if _, err := client.InsertManyFast(ctx, params); err != nil {
			return result{}, fmt.Errorf("inserting jobs: %w", err)
		}
	}
	cpuBefore := cpuTime()
	started := time.Now()
	if err := client.Start(ctx); err != nil {
		return result{}, err
	}
	// Polled, not subscribed: River's event channel drops events when it
	// is full, which a fast drain fills.
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var finished, failed int
		if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'completed'), count(*) FILTER (WHERE state IN ('discarded', 'retryable'))
			FROM river_job`).Scan(&finished, &failed); err != nil {
			return result{}, err
		}
		if failed > 0 {
			return result{}, fmt.Errorf("%d jobs failed", failed)
		}
		if finished >= n {
			break
		}
		if time.Now().After(deadline) {
			return result{}, errors.New("River did not drain the jobs within 10 minutes")
		}
		time.Sleep(drainPoll)
	}
	elapsed := time.Since(started)
	cpu := cpuTime() - cpuBefore
	stopCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	_ = client.Stop(stopCtx)
	if mode == "work" {
		var refs int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM bench_refs").Scan(&refs); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return result{}, err
		}
		if refs != n {
			return result{}, fmt.Errorf("%d refs written for %d jobs", refs, n)
		}
	}
	return result{
		Mode: mode, Jobs: n, ElapsedSeconds: elapsed.Seconds(), PerSecond: float64(n) / elapsed.Seconds(),
		CPUMicrosPerJob: float64(cpu.Microseconds()) / float64(n), MaxWorkers: maxWorkers, River: "v0.51.2",
	}, nil
}

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
