package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/worker"
)

// Drain scenario settings.
const (
	drainSchema    = "drain"
	queueSchema    = "drain_queue"
	drainWorkspace = "bench"
	drainSeedChunk = 5000
	drainTimeout   = 10 * time.Minute
	queueLoops     = 2 // like the worker's two completion transactions in flight
)

// noopBackend commits at once and produces one ref per event, as in
// worker/bench_test.go: the drain measures the outbox machinery only.
type noopBackend struct{}

func (noopBackend) Name() backendtype.Backend { return backendtype.BackendEverMemOS }

func (noopBackend) CommitSession(_ context.Context, req backendtype.CommitRequest) (backendtype.CommitResult, error) {
	return backendtype.CommitResult{Status: backendtype.ResultSuccess, NativeID: "noop-" + req.EventID}, nil
}

// terminalCounter hears the worker's job states and signals when n jobs
// (one event each) are terminal.
type terminalCounter struct {
	n    int
	mu   sync.Mutex
	seen map[string]struct{}
	done chan struct{}
}

func newTerminalCounter(n int) *terminalCounter {
	return &terminalCounter{n: n, seen: make(map[string]struct{}, n), done: make(chan struct{})}
}

// PublishJobStates implements gateway.JobPublisher.
func (t *terminalCounter) PublishJobStates(_ context.Context, jobs []gateway.CommitJob) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, j := range jobs {
		if !j.Status.Terminal() {
			continue
		}
		if _, dup := t.seen[j.ID]; dup {
			continue
		}
		t.seen[j.ID] = struct{}{}
		if len(t.seen) == t.n {
			close(t.done)
		}
	}
}

// drainRun is one timed drain.
type drainRun struct {
	Events         int     `json:"events"`
	ElapsedSeconds float64 `json:"elapsedSeconds"`
	PerSecond      float64 `json:"perSecond"`
	// CPUMicrosPerEvent is the draining process's Go CPU time (user and
	// system) per event; 0 when not measured.
	CPUMicrosPerEvent float64 `json:"cpuMicrosPerEvent,omitempty"`
}

// riverRun is what bench/river measured.
type riverRun struct {
	Mode            string  `json:"mode"`
	Jobs            int     `json:"jobs"`
	ElapsedSeconds  float64 `json:"elapsedSeconds"`
	PerSecond       float64 `json:"perSecond"`
	CPUMicrosPerJob float64 `json:"cpuMicrosPerJob"`
	MaxWorkers      int     `json:"maxWorkers"`
	River           string  `json:"river"`
}

// drainRiver runs River in its own module (bench/river), so River never
// enters the gateway's dependencies; the go command fetches it from the
// module proxy the first time.
func (e *env) drainRiver(ctx context.Context, mode string, n int) (riverRun, error) {
	cmd := exec.CommandContext(ctx, "go", "run", ".", "-database-url", e.benchURL, "-mode", mode, "-jobs", strconv.Itoa(n))
	cmd.Dir = filepath.Join(e.root, "bench", "river")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return riverRun{}, fmt.Errorf("bench/river -mode %s: %w: %s", mode, err, stderr.String())
	}
	var r riverRun
	if err := json.Unmarshal(out, &r); err != nil {
		return riverRun{}, fmt.Errorf("bench/river printed %q: %w", out, err)
	}
	return r, nil
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runDrain(ctx context.Context, e *env) (*ScenarioResult, error) {
	res := &ScenarioResult{Title: "outbox drain of a no-op backend vs a plain SKIP LOCKED job queue"}
	n, conc := e.cfg.drainEvents, e.cfg.drainConcurrency
	e.logf("drain: %d events through the outbox worker", n)
	gw, err := e.drainOutbox(ctx, n, conc)
	if err != nil {
		return res, err
	}
	e.logf("drain: %d jobs through a plain SKIP LOCKED queue", n)
	q, err := e.drainQueue(ctx, n, conc)
	if err != nil {
		return res, err
	}
	e.logf("drain: %d River no-op jobs, then %d River jobs doing an event's work", n, n)
	riverNoop, err := e.drainRiver(ctx, "noop", n)
	if err != nil {
		return res, err
	}
	riverWork, err := e.drainRiver(ctx, "work", n)
	if err != nil {
		return res, err
	}
	res.Rows = []Row{
		figure("events/s drained", unitPerSecond, gw.PerSecond, q.PerSecond, "plain SKIP LOCKED queue jobs/s"),
		figure("events/s drained", unitPerSecond, gw.PerSecond, riverNoop.PerSecond, "River no-op jobs/s"),
		figure("events/s drained", unitPerSecond, gw.PerSecond, riverWork.PerSecond, "River jobs/s doing an event's work"),
		figure("Go CPU per drained event", unitMicros, gw.CPUMicrosPerEvent, riverNoop.CPUMicrosPerJob, "River's Go CPU per no-op job").ratioAtMost(1),
	}
	res.Notes = []string{
		fmt.Sprintf("River %s (bench/river, its own module; MaxWorkers %d, FetchCooldown 1 ms, FetchPollInterval 10 ms), run in this run on the same database: no-op jobs %s/s (%.1f µs Go CPU per job); jobs doing what one outbox event does, in one transaction per job as River's docs teach (upsert the ref, re-aggregate the job's row, river.JobCompleteTx) %s/s (%.1f µs per job).",
			riverNoop.River, riverNoop.MaxWorkers, thousands(riverNoop.PerSecond), riverNoop.CPUMicrosPerJob, thousands(riverWork.PerSecond), riverWork.CPUMicrosPerJob),
		fmt.Sprintf("Outbox: %d commit jobs with one pending event each, bulk-inserted; an in-process worker (WORKER_CONCURRENCY %d, claim batch %d, completion batch %d) with a no-op backend drains them: claim, lease, fenced completion, one ref upsert and the job's re-aggregation per event. Clock: Start to the last job terminal.", n, conc, conc, 2*conc),
		fmt.Sprintf("Queue baseline: %d rows in a one-table queue (fetch index on state, scheduled_at, id); %d loops each claim up to %d rows with UPDATE … WHERE id = ANY(ARRAY(SELECT … FOR UPDATE SKIP LOCKED LIMIT n)) RETURNING and complete them with one batched UPDATE: two writes per job, the database's ceiling for such a queue.", n, queueLoops, conc/queueLoops),
	}
	res.Raw = map[string]any{"outbox": gw, "queue": q, "riverNoop": riverNoop, "riverWork": riverWork}
	return res, nil
}

// drainOutbox seeds n events in a fresh schema and times the worker.
func (e *env) drainOutbox(ctx context.Context, n, conc int) (drainRun, error) {
	url, err := e.freshSchema(ctx, drainSchema)
	if err != nil {
		return drainRun{}, err
	}
	db, err := persistence.Open(ctx, url)
	if err != nil {
		return drainRun{}, err
	}
	defer func() { _ = db.Close() }()
	if err := db.Migrate(ctx, slog.New(slog.DiscardHandler)); err != nil {
		return drainRun{}, err
	}
	if err := seedOutbox(ctx, db, n, backendtype.BackendEverMemOS, time.Now().UTC().Add(-time.Minute)); err != nil {
		return drainRun{}, err
	}
	if err := e.checkpoint(ctx); err != nil {
		return drainRun{}, err
	}
	store := persistence.NewStore(db)
	exec, err := gateway.NewOutboxExecutor(gateway.Options{Store: store, Backends: []backendtype.BackendAdapter{noopBackend{}}})
	if err != nil {
		return drainRun{}, fmt.Errorf("error building the executor: %w", err)
	}
	counter := newTerminalCounter(n)
	w, err := worker.New(worker.Options{
		Store: store, Executor: exec, Publisher: counter,
		Config: worker.Config{
			Backends: []backendtype.Backend{backendtype.BackendEverMemOS}, ConcurrencyPerBackend: conc,
			ClaimBatchMax: conc, CompletionBatchMax: 2 * conc,
		},
	})
	if err != nil {
		return drainRun{}, fmt.Errorf("error building the worker: %w", err)
	}
	cpuBefore := selfCPU()
	started := time.Now()
	if err := w.Start(ctx); err != nil {
		return drainRun{}, fmt.Errorf("error starting the worker: %w", err)
	}
	var waitErr error
	select {
	case <-counter.done:
	case <-ctx.Done():
		waitErr = ctx.Err()
	case <-time.After(drainTimeout):
		waitErr = fmt.Errorf("drain not finished after %s", drainTimeout)
	}
	elapsed := time.Since(started)
	cpu := selfCPU() - cpuBefore
	if err := w.Stop(context.WithoutCancel(ctx)); err != nil && waitErr == nil {
		waitErr = fmt.Errorf("error stopping the worker: %w", err)
	}
	if waitErr != nil {
		return drainRun{}, waitErr
	}
	var succeeded int
	if err := db.NewRaw("SELECT count(*) FROM outbox_events WHERE status = 'success'").Scan(ctx, &succeeded); err != nil {
		return drainRun{}, fmt.Errorf("error verifying the drain: %w", err)
	}
	if succeeded != n {
		return drainRun{}, fmt.Errorf("drain finished with %d of %d events succeeded", succeeded, n)
	}
	return drainRun{Events: n, ElapsedSeconds: elapsed.Seconds(), PerSecond: float64(n) / elapsed.Seconds(),
		CPUMicrosPerEvent: float64(cpu.Microseconds()) / float64(n)}, nil
}

// seedOutbox inserts n jobs with one pending event each for backend, due at
// dueAt, as worker/bench_test.go does.
func seedOutbox(ctx context.Context, db *persistence.DB, n int, backend backendtype.Backend, dueAt time.Time) error {
	now := time.Now().UTC().Add(-time.Minute)
	for start := 0; start < n; start += drainSeedChunk {
		var jobs []gateway.CommitJob
		var events []gateway.OutboxEvent
		for i := start; i < min(n, start+drainSeedChunk); i++ {
			session := fmt.Sprintf("s%d", i)
			job := gateway.CommitJob{
				ID: gateway.CommitJobID(drainWorkspace, session, "", ""), WorkspaceID: drainWorkspace, UserID: "u", AgentID: "a",
				SessionID: session, Namespace: "n", Status: gateway.JobAccepted, Version: 1,
				Metadata: gateway.Metadata{}, CreatedAt: now, UpdatedAt: now,
			}
			jobs = append(jobs, job)
			ev := pt.Event(job, backend)
			ev.NextRetryAt, ev.CreatedAt, ev.UpdatedAt = dueAt, now, now
			events = append(events, ev)
		}
		if err := persistence.SeedCommitJobs(ctx, db, jobs, events); err != nil {
			return fmt.Errorf("error seeding the outbox: %w", err)
		}
	}
	return nil
}

// Queue baseline statements.
const (
	queueCreate = `CREATE TABLE jobs (
	id           bigserial PRIMARY KEY,
	state        text NOT NULL DEFAULT 'available',
	attempt      integer NOT NULL DEFAULT 0,
	attempted_by text,
	attempted_at timestamptz,
	scheduled_at timestamptz NOT NULL DEFAULT now(),
	finalized_at timestamptz,
	args         jsonb NOT NULL DEFAULT '{}',
	created_at   timestamptz NOT NULL DEFAULT now()
)`
	queueIndex = `CREATE INDEX jobs_fetch_idx ON jobs (state, scheduled_at, id)`
	queueSeed  = `INSERT INTO jobs (args) SELECT jsonb_build_object('n', g) FROM generate_series(1, ?) AS g`
	queueClaim = `UPDATE jobs SET state = 'running', attempt = attempt + 1, attempted_at = now(), attempted_by = ?
WHERE id = ANY(ARRAY(SELECT id FROM jobs WHERE state = 'available' AND scheduled_at <= now()
	ORDER BY scheduled_at, id LIMIT ? FOR UPDATE SKIP LOCKED))
RETURNING id`
	queueComplete = `UPDATE jobs SET state = 'completed', finalized_at = now() WHERE id = ANY(?)`
)

// drainQueue times a minimal SKIP LOCKED queue drain of n jobs.
func (e *env) drainQueue(ctx context.Context, n, conc int) (drainRun, error) {
	url, err := e.freshSchema(ctx, queueSchema)
	if err != nil {
		return drainRun{}, err
	}
	db, err := openDB(ctx, url)
	if err != nil {
		return drainRun{}, err
	}
	defer func() { _ = db.Close() }()
	for _, q := range []string{queueCreate, queueIndex} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return drainRun{}, fmt.Errorf("error creating the queue: %w", err)
		}
	}
	if _, err := db.ExecContext(ctx, queueSeed, n); err != nil {
		return drainRun{}, fmt.Errorf("error seeding the queue: %w", err)
	}
	if _, err := db.ExecContext(ctx, "VACUUM ANALYZE jobs"); err != nil {
		return drainRun{}, fmt.Errorf("error vacuuming the queue: %w", err)
	}
	if err := e.checkpoint(ctx); err != nil {
		return drainRun{}, err
	}
	batch := max(1, conc/queueLoops)
	var done atomic.Int64
	errs := make(chan error, queueLoops)
	started := time.Now()
	var wg sync.WaitGroup
	for loop := range queueLoops {
		wg.Go(func() { errs <- queueLoop(ctx, db, fmt.Sprintf("loop-%d", loop), batch, &done) })
	}
	wg.Wait()
	elapsed := time.Since(started)
	close(errs)
	for err := range errs {
		if err != nil {
			return drainRun{}, err
		}
	}
	if got := done.Load(); got != int64(n) {
		return drainRun{}, fmt.Errorf("queue drain completed %d of %d jobs", got, n)
	}
	return drainRun{Events: n, ElapsedSeconds: elapsed.Seconds(), PerSecond: float64(n) / elapsed.Seconds()}, nil
}

// queueLoop claims and completes batches until a claim comes back empty.
func queueLoop(ctx context.Context, db *bun.DB, worker string, batch int, done *atomic.Int64) error {
	for ctx.Err() == nil {
		var ids []int64
		if err := db.NewRaw(queueClaim, worker, batch).Scan(ctx, &ids); err != nil {
			return fmt.Errorf("error claiming queue jobs: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := db.NewRaw(queueComplete, pgdialect.Array(ids)).Exec(ctx); err != nil {
			return fmt.Errorf("error completing queue jobs: %w", err)
		}
		done.Add(int64(len(ids)))
	}
	return ctx.Err()
}
