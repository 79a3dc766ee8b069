package worker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/worker"
)

// noopBackend commits instantly and produces one ref per event, so a drain
// measures the outbox machinery: claims, lease bookkeeping, fenced
// completion, ref writes and job aggregation.
type noopBackend struct{}

func (noopBackend) Name() backendtype.Backend { return backendtype.BackendEverMemOS }

func (noopBackend) CommitSession(_ context.Context, req backendtype.CommitRequest) (backendtype.CommitResult, error) {
	return backendtype.CommitResult{Status: backendtype.ResultSuccess, NativeID: "noop-" + req.EventID}, nil
}

// seedEvents inserts, in bulk, history finished commit jobs (a database that
// has been in use), then n commit jobs with one pending event each.
func seedEvents(b *testing.B, db *persistence.DB, n, history int) {
	b.Helper()
	seedRange(b, db, -history, 0, true)
	seedRange(b, db, 0, n, false)
}

// seedRange inserts the jobs numbered from..to-1, one event each.
func seedRange(b *testing.B, db *persistence.DB, from, to int, finished bool) {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Add(-time.Minute)
	const chunk = 5000
	for start := from; start < to; start += chunk {
		var jobs []gateway.CommitJob
		var events []gateway.OutboxEvent
		for i := start; i < min(to, start+chunk); i++ {
			job := gateway.CommitJob{
				ID: gateway.CommitJobID("bench", fmt.Sprintf("s%d", i), "", ""), WorkspaceID: "bench", UserID: "u", AgentID: "a",
				SessionID: fmt.Sprintf("s%d", i), Namespace: "n", Status: gateway.JobAccepted, Version: 1,
				Metadata: gateway.Metadata{}, CreatedAt: now, UpdatedAt: now,
			}
			e := pt.Event(job, backendtype.BackendEverMemOS)
			e.NextRetryAt, e.CreatedAt, e.UpdatedAt = now, now, now
			if finished {
				job.Status, job.FinishedAt = gateway.JobSuccess, &now
				e.Status, e.AttemptCount, e.CompletedAt = gateway.OutboxSuccess, 1, &now
			}
			jobs = append(jobs, job)
			events = append(events, e)
		}
		if err := persistence.SeedCommitJobs(ctx, db, jobs, events); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOutboxDrain pre-inserts N events (BENCH_EVENTS, default 20,000),
// after BENCH_HISTORY finished ones (default none), for a no-op backend and
// reports how many the worker drains per second, ref writes and job
// aggregation included. Run it against PostgreSQL:
//
//	TEST_DATABASE_URL=postgres://… go test -run '^$' -bench OutboxDrain -benchtime 1x ./worker
func BenchmarkOutboxDrain(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	history := 0
	if v, err := strconv.Atoi(os.Getenv("BENCH_HISTORY")); err == nil && v > 0 {
		history = v
	}
	completers := 0 // the worker's default
	if v, err := strconv.Atoi(os.Getenv("BENCH_COMPLETERS")); err == nil && v > 0 {
		completers = v
	}
	concurrency := 4000
	if v, err := strconv.Atoi(os.Getenv("BENCH_CONCURRENCY")); err == nil && v > 0 {
		concurrency = v
	}
	for _, d := range pt.Dialects() {
		b.Run(string(d), func(b *testing.B) {
			var total, goCPU, pgCPU time.Duration
			for b.Loop() {
				b.StopTimer()
				db := pt.Open(b, d)
				seedEvents(b, db, n, history)
				exec, err := gateway.NewOutboxExecutor(gateway.Options{Store: persistence.NewStore(db), Backends: []backendtype.BackendAdapter{noopBackend{}}})
				if err != nil {
					b.Fatal(err)
				}
				var done atomic.Int64
				finished := make(chan struct{})
				w, err := worker.New(worker.Options{
					Store: persistence.NewStore(db), Executor: exec,
					Config: worker.Config{
						Backends: []backendtype.Backend{backendtype.BackendEverMemOS}, ConcurrencyPerBackend: concurrency,
						ClaimBatchMax: concurrency, CompletionBatchMax: 2 * concurrency, Completers: completers,
					},
					Hooks: worker.Hooks{Completed: func(_ []gateway.OutboxCompletion, r gateway.CompletionResult) {
						if done.Add(int64(len(r.Applied))) == int64(n) {
							close(finished)
						}
					}},
				})
				if err != nil {
					b.Fatal(err)
				}
				hook := &timingHook{}
				if os.Getenv("BENCH_SQL_TIMING") != "" {
					db.AddQueryHook(hook)
				}
				cpuBefore := sampleCPU()
				stopProfile := startProfile(b, profilePath(os.Getenv("BENCH_PROFILE"), d))
				b.StartTimer()
				started := time.Now()
				if err := w.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				<-finished
				total += time.Since(started)
				b.StopTimer()
				stopProfile()
				cpuAfter := sampleCPU()
				goCPU += cpuAfter.self - cpuBefore.self
				pgCPU += cpuAfter.postgresSince(cpuBefore)
				if os.Getenv("BENCH_SQL_TIMING") != "" {
					hook.print()
				}
				if err := w.Stop(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "events/s")
			if os.Getenv("BENCH_CPU") != "" {
				events := float64(n) * float64(b.N)
				b.ReportMetric(float64(goCPU.Microseconds())/events, "go-cpu-us/event")
				if d == pt.Postgres {
					b.ReportMetric(float64(pgCPU.Microseconds())/events, "pg-cpu-us/event")
				}
			}
		})
	}
}

// profilePath puts the store's name before the extension of the profile a
// run asked for (BENCH_PROFILE=drain.prof → drain.postgres.prof), so each
// store's drain keeps its own.
func profilePath(path string, d pt.Dialect) string {
	if path == "" {
		return ""
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "." + string(d) + ext
}

// startProfile writes a CPU profile of the drain alone to path, if one is
// given; stop ends it.
func startProfile(b *testing.B, path string) (stop func()) {
	b.Helper()
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}
