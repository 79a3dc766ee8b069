package worker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/worker"
)

// clock is a settable test clock shared by the service and the worker.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// scripted is a backend whose commits the test scripts. It counts executions
// per event.
type scripted struct {
	name   backendtype.Backend
	commit func(ctx context.Context, req backendtype.CommitRequest) (backendtype.CommitResult, error)

	mu    sync.Mutex
	calls map[string]int
	total atomic.Int64
}

func newScripted(name backendtype.Backend, commit func(context.Context, backendtype.CommitRequest) (backendtype.CommitResult, error)) *scripted {
	return &scripted{name: name, commit: commit, calls: map[string]int{}}
}

func (s *scripted) Name() backendtype.Backend { return s.name }

func (s *scripted) CommitSession(ctx context.Context, req backendtype.CommitRequest) (backendtype.CommitResult, error) {
	s.mu.Lock()
	s.calls[req.EventID]++
	s.mu.Unlock()
	s.total.Add(1)
	if s.commit == nil {
		return backendtype.CommitResult{Status: backendtype.ResultSuccess, NativeID: "native-" + req.SessionID}, nil
	}
	return s.commit(ctx, req)
}

func (s *scripted) callsOf(eventID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[eventID]
}

type bundle struct {
	db    *persistence.DB
	store *persistence.Store
	svc   *gateway.Service
	exec  *gateway.OutboxExecutor
	clock *clock
}

func setup(t *testing.T, db *persistence.DB, maxAttempts int, backends ...backendtype.BackendAdapter) *bundle {
	t.Helper()
	c := newClock()
	opts := gateway.Options{
		Anonymous: &gateway.DevPrincipal,
		Store:     persistence.NewStore(db),
		Backends:  backends,
		Env:       lifecycle.NewEnv(nil, c.Now),
		Config: gateway.Config{
			MaxAttempts: maxAttempts,
			// Deterministic backoff: the base, no jitter.
			RetryDelay: gateway.RetryDelay,
		},
	}
	svc, err := gateway.NewService(opts)
	require.NoError(t, err)
	exec, err := gateway.NewOutboxExecutor(opts)
	require.NoError(t, err)
	return &bundle{db: db, store: persistence.NewStore(db), svc: svc, exec: exec, clock: c}
}

func (b *bundle) newWorker(t *testing.T, cfg worker.Config, hooks worker.Hooks) *worker.Worker {
	t.Helper()
	if cfg.Backends == nil {
		for _, a := range b.svc.Backends() {
			cfg.Backends = append(cfg.Backends, a.Name())
		}
	}
	w, err := worker.New(worker.Options{Store: b.store, Executor: b.exec, Env: lifecycle.NewEnv(nil, b.clock.Now), Config: cfg, Hooks: hooks})
	require.NoError(t, err)
	return w
}

func (b *bundle) commit(t *testing.T, session string) gateway.CommitJob {
	t.Helper()
	res, err := b.svc.CommitSession(context.Background(), gateway.CommitSessionInput{
		WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: session, Namespace: "team",
	})
	require.NoError(t, err)
	return res.Job
}

func (b *bundle) job(t *testing.T, id string) gateway.CommitJob {
	t.Helper()
	job, err := b.svc.Reader(context.Background()).CommitJob(context.Background(), id)
	require.NoError(t, err)
	return job
}

func (b *bundle) event(t *testing.T, job gateway.CommitJob, backend backendtype.Backend) gateway.OutboxEvent {
	t.Helper()
	e, err := b.svc.Reader(context.Background()).OutboxEvent(context.Background(), gateway.OutboxEventID(job.ID, backend, gateway.OperationCommitSession))
	require.NoError(t, err)
	return e
}

// claim leases due EverMemOS events to workerID at the given time, for a
// minute.
func (b *bundle) claim(t *testing.T, workerID string, at time.Time) []gateway.OutboxEvent {
	t.Helper()
	batch, err := b.store.ClaimOutboxEvents(context.Background(), gateway.ClaimRequest{
		WorkerID: workerID, Backend: backendtype.BackendEverMemOS, Limit: 10, Now: at, LeaseUntil: at.Add(time.Minute),
	})
	require.NoError(t, err)
	return batch.Events
}

func TestWorkerCommitsThroughLocalBackend(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		b := setup(t, db, 0, local.New(db.DB, nil))
		_, err := b.svc.IngestConversationTurn(ctx, gateway.IngestTurnInput{
			WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: "s1", TurnID: "t1",
			Namespace: "team", Role: backendtype.RoleUser, Content: "I like tea",
		})
		require.NoError(t, err)
		job := b.commit(t, "s1")

		done := make(chan gateway.CompletionResult, 10)
		w := b.newWorker(t, worker.Config{}, worker.Hooks{Completed: func(_ []gateway.OutboxCompletion, r gateway.CompletionResult) { done <- r }})
		require.NoError(t, w.Start(ctx))
		t.Cleanup(func() { require.NoError(t, w.Stop(ctx)) })
		select {
		case res := <-done:
			require.Len(t, res.Jobs, 1)
			require.Equal(t, job.ID, res.Jobs[0].ID)
			require.Equal(t, gateway.JobSuccess, res.Jobs[0].Status, "the completion reports the job as written")
		case <-time.After(10 * time.Second):
			t.Fatal("the worker did not complete the commit")
		}
		got := b.job(t, job.ID)
		require.Equal(t, gateway.JobSuccess, got.Status)
		require.Equal(t, 2, got.CreatedRefsCount, "session archive + one memory")
		require.NotNil(t, got.StartedAt)
		require.NotNil(t, got.FinishedAt)
		e := b.event(t, job, backendtype.BackendLocal)
		require.Equal(t, gateway.OutboxSuccess, e.Status)
		require.Equal(t, 1, e.AttemptCount)
		require.Nil(t, e.LockedBy)
		refs, err := b.store.ListMemoryRefs(ctx, gateway.RefFilter{JobID: job.ID}, gateway.PageRequest{First: 10})
		require.NoError(t, err)
		require.Len(t, refs.Items, 2)
		for _, r := range refs.Items {
			require.Equal(t, e.ID, *r.OutboxEventID)
			require.Equal(t, job.ID, r.GatewayID)
		}
	})
}

func TestWorkerRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		var failures atomic.Int64
		flaky := newScripted(backendtype.BackendEverMemOS, func(context.Context, backendtype.CommitRequest) (backendtype.CommitResult, error) {
			if failures.Add(1) <= 2 {
				return backendtype.CommitResult{}, errors.New("503 service unavailable")
			}
			return backendtype.CommitResult{Status: backendtype.ResultSuccess, Refs: []backendtype.ProducedRef{{RefType: backendtype.RefTypeProfile, NativeID: "p1"}}}, nil
		})
		b := setup(t, db, 5, flaky)
		job := b.commit(t, "s1")
		w := b.newWorker(t, worker.Config{}, worker.Hooks{})

		for attempt := 1; attempt <= 2; attempt++ {
			n, err := w.Drain(ctx, 10, "")
			require.NoError(t, err)
			require.Equal(t, 1, n)
			e := b.event(t, job, flaky.name)
			require.Equal(t, gateway.OutboxPending, e.Status)
			require.Equal(t, attempt, e.AttemptCount)
			require.Equal(t, b.clock.Now().Add(gateway.RetryDelay(attempt)), e.NextRetryAt, "backoff 2^attempts s")
			require.Equal(t, "503 service unavailable", *e.LastError)
			require.Equal(t, gateway.JobRunning, b.job(t, job.ID).Status)

			// Not due yet: nothing to do.
			n, err = w.Drain(ctx, 10, "")
			require.NoError(t, err)
			require.Zero(t, n)
			b.clock.Advance(gateway.RetryDelay(attempt))
		}
		n, err := w.Drain(ctx, 10, "")
		require.NoError(t, err)
		require.Equal(t, 1, n)
		e := b.event(t, job, flaky.name)
		require.Equal(t, gateway.OutboxSuccess, e.Status)
		require.Equal(t, 3, e.AttemptCount)
		require.Nil(t, e.LastError)
		got := b.job(t, job.ID)
		require.Equal(t, gateway.JobSuccess, got.Status)
		require.Equal(t, 1, got.CreatedRefsCount)
	})
}

func TestWorkerDeadLettersAndRedrives(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		var healthy atomic.Bool
		broken := newScripted(backendtype.BackendOpenViking, func(context.Context, backendtype.CommitRequest) (backendtype.CommitResult, error) {
			if healthy.Load() {
				return backendtype.CommitResult{Status: backendtype.ResultSuccess, NativeURI: "viking://archive"}, nil
			}
			return backendtype.CommitResult{Status: backendtype.ResultFailed, Retryable: true, ErrorCode: "UNAVAILABLE", ErrorMessage: "backend down"}, nil
		})
		fine := newScripted(backendtype.BackendEverMemOS, nil)
		b := setup(t, db, 3, fine, broken)
		job := b.commit(t, "s1")
		w := b.newWorker(t, worker.Config{}, worker.Hooks{})

		for range 3 {
			_, err := w.Drain(ctx, 10, "")
			require.NoError(t, err)
			b.clock.Advance(time.Minute)
		}
		dead := b.event(t, job, broken.name)
		require.Equal(t, gateway.OutboxDeadLetter, dead.Status)
		require.Equal(t, 3, dead.AttemptCount)
		require.Equal(t, "UNAVAILABLE", *dead.LastErrorCode)
		require.Equal(t, 3, broken.callsOf(dead.ID))
		got := b.job(t, job.ID)
		require.Equal(t, gateway.JobPartialSuccess, got.Status, "one backend succeeded, one dead-lettered")
		require.Contains(t, *got.ErrorMessage, "openviking: backend down")
		require.NotNil(t, got.FinishedAt)

		// Re-drive: back to PENDING with fresh attempts; the job runs again.
		healthy.Store(true)
		redriven, err := b.svc.RedriveOutboxEvent(ctx, dead.ID)
		require.NoError(t, err)
		require.Equal(t, gateway.OutboxPending, redriven.Status)
		require.Zero(t, redriven.AttemptCount)
		require.Equal(t, gateway.JobRunning, b.job(t, job.ID).Status)
		require.Nil(t, b.job(t, job.ID).FinishedAt)
		_, err = b.svc.RedriveOutboxEvent(ctx, dead.ID)
		require.ErrorIs(t, err, gateway.ErrConflict, "only dead letters can be re-driven")

		_, err = w.Drain(ctx, 10, "")
		require.NoError(t, err)
		got = b.job(t, job.ID)
		require.Equal(t, gateway.JobSuccess, got.Status)
		require.Nil(t, got.ErrorMessage)
		require.Equal(t, 2, got.CreatedRefsCount)
	})
}

// A failed job names each dead letter's backend and error, in backend order
// on both stores, whatever order the events were written in.
func TestFailedJobNamesEveryDeadLetter(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		failing := func(name backendtype.Backend, message string) *scripted {
			return newScripted(name, func(context.Context, backendtype.CommitRequest) (backendtype.CommitResult, error) {
				return backendtype.CommitResult{Status: backendtype.ResultFailed, ErrorCode: "REJECTED", ErrorMessage: message}, nil
			})
		}
		// OpenViking's event is written first.
		b := setup(t, db, 3, failing(backendtype.BackendOpenViking, "quota exceeded"), failing(backendtype.BackendEverMemOS, "bad request"))
		job := b.commit(t, "s1")
		_, err := b.newWorker(t, worker.Config{}, worker.Hooks{}).Drain(context.Background(), 10, "")
		require.NoError(t, err)
		got := b.job(t, job.ID)
		require.Equal(t, gateway.JobFailed, got.Status)
		require.NotNil(t, got.ErrorMessage)
		require.Equal(t, "evermemos: bad request; openviking: quota exceeded", *got.ErrorMessage)
	})
}

func TestWorkerFailureKinds(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		permanent := newScripted(backendtype.BackendOpenViking, func(context.Context, backendtype.CommitRequest) (backendtype.CommitResult, error) {
			return backendtype.CommitResult{Status: backendtype.ResultFailed, Retryable: false, ErrorCode: "FAILED_PRECONDITION", ErrorMessage: "412"}, nil
		})
		panicking := newScripted(backendtype.BackendEverMemOS, func(context.Context, backendtype.CommitRequest) (backendtype.CommitResult, error) {
			panic("adapter bug")
		})
		b := setup(t, db, 5, permanent, panicking)
		job := b.commit(t, "s1")
		w := b.newWorker(t, worker.Config{}, worker.Hooks{})
		_, err := w.Drain(ctx, 10, "")
		require.NoError(t, err)

		e := b.event(t, job, permanent.name)
		require.Equal(t, gateway.OutboxDeadLetter, e.Status, "a permanent failure is not retried")
		require.Equal(t, 1, e.AttemptCount)
		p := b.event(t, job, panicking.name)
		require.Equal(t, gateway.OutboxPending, p.Status, "a panic is a retryable failure")
		require.Equal(t, gateway.ErrorCodeAdapterException, *p.LastErrorCode)
		require.Equal(t, gateway.JobRunning, b.job(t, job.ID).Status)

		// Both dead: the job failed.
		for range 5 {
			b.clock.Advance(time.Minute)
			_, err := w.Drain(ctx, 10, "")
			require.NoError(t, err)
		}
		require.Equal(t, gateway.OutboxDeadLetter, b.event(t, job, panicking.name).Status)
		require.Equal(t, gateway.JobFailed, b.job(t, job.ID).Status)

		// Re-drive everything matching a filter.
		events, err := b.svc.RedriveOutboxEvents(ctx, gateway.EventFilter{WorkspaceID: "ws"})
		require.NoError(t, err)
		require.Len(t, events, 2)
	})
}

func TestRescueAndFencing(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		backend := newScripted(backendtype.BackendEverMemOS, nil)
		b := setup(t, db, 2, backend)
		job := b.commit(t, "s1")
		now := b.clock.Now()

		// A worker claims, then dies (never completes).
		batch, err := b.store.ClaimOutboxEvents(ctx, gateway.ClaimRequest{
			WorkerID: "ghost", Backend: backend.name, Limit: 10, Now: now, LeaseUntil: now.Add(time.Minute),
		})
		require.NoError(t, err)
		require.Len(t, batch.Events, 1)
		require.Len(t, batch.StartedJobs, 1)
		require.Equal(t, gateway.JobRunning, batch.StartedJobs[0].Status)
		require.Equal(t, int64(2), batch.StartedJobs[0].Version)
		claimed := batch.Events[0]
		require.Equal(t, 1, claimed.AttemptCount)
		ghostResult := b.exec.ExecuteOutboxEvent(ctx, claimed, "ghost")

		// Before the lease expires nothing is rescued.
		res, err := b.store.RescueExpiredLeases(ctx, now.Add(30*time.Second), 100)
		require.NoError(t, err)
		require.Zero(t, res.Rescued)

		res, err = b.store.RescueExpiredLeases(ctx, now.Add(2*time.Minute), 100)
		require.NoError(t, err)
		require.Equal(t, 1, res.Rescued)
		rescued := b.event(t, job, backend.name)
		require.Equal(t, gateway.OutboxPending, rescued.Status)
		require.Equal(t, 1, rescued.AttemptCount, "the rescued attempt counts")
		require.Equal(t, gateway.ErrorCodeLeaseExpired, *rescued.LastErrorCode)

		// A live worker picks it up and completes it.
		b.clock.Advance(2 * time.Minute)
		w := b.newWorker(t, worker.Config{ID: "alive"}, worker.Hooks{})
		n, err := w.Drain(ctx, 10, "")
		require.NoError(t, err)
		require.Equal(t, 1, n)
		done := b.event(t, job, backend.name)
		require.Equal(t, gateway.OutboxSuccess, done.Status)
		require.Equal(t, 2, done.AttemptCount)

		// The ghost wakes up late: its completion is fenced off.
		ghostResult.Status = gateway.OutboxDeadLetter
		out, err := b.store.CompleteOutboxEvents(ctx, []gateway.OutboxCompletion{ghostResult}, b.clock.Now())
		require.NoError(t, err)
		require.Equal(t, []string{claimed.ID}, out.Lost)
		require.Empty(t, out.Applied)
		require.Equal(t, gateway.OutboxSuccess, b.event(t, job, backend.name).Status)
		require.Equal(t, gateway.JobSuccess, b.job(t, job.ID).Status)

		// Out of attempts, an expired lease is dead-lettered.
		job2 := b.commit(t, "s2")
		for i := range 2 {
			t2 := b.clock.Now().Add(time.Duration(i) * time.Hour)
			_, err := b.store.ClaimOutboxEvents(ctx, gateway.ClaimRequest{WorkerID: "ghost", Backend: backend.name, Limit: 10, Now: t2, LeaseUntil: t2.Add(time.Minute)})
			require.NoError(t, err)
			_, err = b.store.RescueExpiredLeases(ctx, t2.Add(2*time.Minute), 100)
			require.NoError(t, err)
		}
		require.Equal(t, gateway.OutboxDeadLetter, b.event(t, job2, backend.name).Status)
		require.Equal(t, gateway.JobFailed, b.job(t, job2.ID).Status)
	})
}

// deadLetterAndRedrive lets the ghost's lease expire on the event's last
// attempt and re-drives the dead letter; it returns the time it did so.
func deadLetterAndRedrive(t *testing.T, b *bundle) time.Time {
	t.Helper()
	later := b.clock.Now().Add(2 * time.Minute)
	res, err := b.store.RescueExpiredLeases(context.Background(), later, 10)
	require.NoError(t, err)
	require.Equal(t, 1, res.DeadLettered)
	redriven, _, err := b.store.RedriveOutboxEvents(context.Background(), gateway.EventFilter{}, nil, later)
	require.NoError(t, err)
	require.Len(t, redriven, 1)
	return later
}

// A worker that claims an event again while its first execution still runs
// (the first lease expired and was rescued) can complete both in one batch:
// only the result of the current claim lands, with its refs.
func TestStaleAndFreshResultInOneBatch(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		b := setup(t, db, 3, newScripted(backendtype.BackendEverMemOS, nil))
		job := b.commit(t, "s1")
		claimAt := func(at time.Time) gateway.OutboxEvent {
			claimed := b.claim(t, "w", at)
			require.Len(t, claimed, 1)
			return claimed[0]
		}
		first := claimAt(b.clock.Now())
		stale := b.exec.ExecuteOutboxEvent(ctx, first, "w")
		require.NotEmpty(t, stale.Refs)
		staleRef := stale.Refs[0]
		staleNative := "stale"
		staleRef.ID, staleRef.NativeID = "ref_from_the_stale_result", &staleNative
		stale.Refs = append(stale.Refs, staleRef)

		later := b.clock.Now().Add(2 * time.Minute)
		res, err := b.store.RescueExpiredLeases(ctx, later, 10)
		require.NoError(t, err)
		require.Equal(t, 1, res.Rescued)
		second := claimAt(later)
		require.Equal(t, first.ClaimCount+1, second.ClaimCount)
		fresh := b.exec.ExecuteOutboxEvent(ctx, second, "w")

		out, err := b.store.CompleteOutboxEvents(ctx, []gateway.OutboxCompletion{stale, fresh}, later)
		require.NoError(t, err)
		require.Equal(t, []string{first.ID}, out.Applied)
		require.Equal(t, []string{first.ID}, out.Lost)
		refs, err := b.svc.Reader(ctx).MemoryRefsByIDs(ctx, []string{staleRef.ID})
		require.NoError(t, err)
		require.Empty(t, refs, "the stale result's refs are not written")
		require.Equal(t, gateway.OutboxSuccess, b.event(t, job, backendtype.BackendEverMemOS).Status)
		require.Equal(t, 2, b.event(t, job, backendtype.BackendEverMemOS).AttemptCount)
	})
}

// A completion lands only under the lease it was executed under: whichever
// way the event left that lease, a late result is reported lost and changes
// nothing.
func TestStaleCompletionsAreFenced(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		maxAttempts int
		// leave takes the event out of the ghost's lease.
		leave func(t *testing.T, b *bundle, claimed gateway.OutboxEvent, result gateway.OutboxCompletion)
	}{
		{"completed already", 2, func(t *testing.T, b *bundle, _ gateway.OutboxEvent, result gateway.OutboxCompletion) {
			out, err := b.store.CompleteOutboxEvents(context.Background(), []gateway.OutboxCompletion{result}, b.clock.Now())
			require.NoError(t, err)
			require.Len(t, out.Applied, 1)
		}},
		{"rescued", 2, func(t *testing.T, b *bundle, _ gateway.OutboxEvent, _ gateway.OutboxCompletion) {
			res, err := b.store.RescueExpiredLeases(context.Background(), b.clock.Now().Add(2*time.Minute), 10)
			require.NoError(t, err)
			require.Equal(t, 1, res.Rescued)
		}},
		{"rescued and claimed by another worker", 2, func(t *testing.T, b *bundle, _ gateway.OutboxEvent, _ gateway.OutboxCompletion) {
			later := b.clock.Now().Add(2 * time.Minute)
			_, err := b.store.RescueExpiredLeases(context.Background(), later, 10)
			require.NoError(t, err)
			require.Len(t, b.claim(t, "other", later), 1)
		}},
		{"released", 2, func(t *testing.T, b *bundle, claimed gateway.OutboxEvent, _ gateway.OutboxCompletion) {
			n, err := b.store.ReleaseOutboxEvents(context.Background(), "ghost", []string{claimed.ID}, b.clock.Now())
			require.NoError(t, err)
			require.Equal(t, 1, n)
		}},
		{"released and claimed by another worker", 2, func(t *testing.T, b *bundle, claimed gateway.OutboxEvent, _ gateway.OutboxCompletion) {
			_, err := b.store.ReleaseOutboxEvents(context.Background(), "ghost", []string{claimed.ID}, b.clock.Now())
			require.NoError(t, err)
			require.Len(t, b.claim(t, "other", b.clock.Now()), 1)
		}},
		{"dead-lettered, re-driven and claimed by another worker", 1, func(t *testing.T, b *bundle, _ gateway.OutboxEvent, _ gateway.OutboxCompletion) {
			later := deadLetterAndRedrive(t, b)
			require.Len(t, b.claim(t, "other", later), 1)
		}},
		// The re-drive starts the attempts again, so the same worker's new
		// claim has the old attempt number: only the claim count tells the
		// two leases apart.
		{"dead-lettered, re-driven and claimed by the same worker", 1, func(t *testing.T, b *bundle, _ gateway.OutboxEvent, _ gateway.OutboxCompletion) {
			later := deadLetterAndRedrive(t, b)
			again := b.claim(t, "ghost", later)
			require.Len(t, again, 1)
			require.Equal(t, 1, again[0].AttemptCount)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
				b := setup(t, db, tc.maxAttempts, newScripted(backendtype.BackendEverMemOS, nil))
				job := b.commit(t, "s1")
				claimed := b.claim(t, "ghost", b.clock.Now())
				require.Len(t, claimed, 1)
				result := b.exec.ExecuteOutboxEvent(context.Background(), claimed[0], "ghost")
				require.Equal(t, gateway.OutboxSuccess, result.Status)

				tc.leave(t, b, claimed[0], result)
				before := b.event(t, job, backendtype.BackendEverMemOS)
				jobBefore := b.job(t, job.ID)

				out, err := b.store.CompleteOutboxEvents(context.Background(), []gateway.OutboxCompletion{result}, b.clock.Now())
				require.NoError(t, err)
				require.Equal(t, []string{claimed[0].ID}, out.Lost)
				require.Empty(t, out.Applied)
				require.Equal(t, before, b.event(t, job, backendtype.BackendEverMemOS), "a stale result changes nothing")
				require.Equal(t, jobBefore.Status, b.job(t, job.ID).Status)
			})
		})
	}
}

func TestTwoWorkersRaceOverManyEvents(t *testing.T) {
	t.Parallel()
	const jobs = 500 // two backends each: 1,000 events
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		a := newScripted(backendtype.BackendEverMemOS, nil)
		c := newScripted(backendtype.BackendOpenViking, nil)
		b := setup(t, db, 0, a, c)
		for i := range jobs {
			b.commit(t, fmt.Sprintf("s%d", i))
		}

		// Two independent clients: each worker has its own connection pool.
		second := pt.Reopen(t, db)
		storeB := persistence.NewStore(second)
		var completed atomic.Int64
		allDone := make(chan struct{})
		hooks := worker.Hooks{Completed: func(_ []gateway.OutboxCompletion, r gateway.CompletionResult) {
			if completed.Add(int64(len(r.Applied))) == 2*jobs {
				close(allDone)
			}
		}}
		cfg := worker.Config{ConcurrencyPerBackend: 50, ClaimBatchMax: 20, PollInterval: 50 * time.Millisecond}
		cfg.ID = "worker-a"
		w1 := b.newWorker(t, cfg, hooks)
		cfg.ID = "worker-b"
		w2, err := worker.New(worker.Options{Store: storeB, Executor: b.exec, Env: lifecycle.NewEnv(nil, b.clock.Now), Config: withBackends(cfg, b), Hooks: hooks})
		require.NoError(t, err)
		require.NoError(t, w1.Start(ctx))
		require.NoError(t, w2.Start(ctx))
		select {
		case <-allDone:
		case <-time.After(60 * time.Second):
			t.Fatalf("only %d of %d events completed", completed.Load(), 2*jobs)
		}
		require.NoError(t, w1.Stop(ctx))
		require.NoError(t, w2.Stop(ctx))

		require.Equal(t, int64(2*jobs), a.total.Load()+c.total.Load(), "no event executed twice")
		for _, s := range []*scripted{a, c} {
			s.mu.Lock()
			require.Len(t, s.calls, jobs)
			for id, n := range s.calls {
				require.Equal(t, 1, n, id)
			}
			s.mu.Unlock()
		}
		sum, err := b.store.OutboxSummary(ctx, gateway.EventFilter{})
		require.NoError(t, err)
		require.Equal(t, gateway.OutboxSummary{TotalEvents: 2 * jobs, SuccessEvents: 2 * jobs}, sum)
		page, err := b.store.ListCommitJobs(ctx, gateway.JobFilter{Status: gateway.JobSuccess}, gateway.PageRequest{First: 100})
		require.NoError(t, err)
		require.Len(t, page.Items, 100)
		require.True(t, page.HasNextPage)
	})
}

func withBackends(cfg worker.Config, b *bundle) worker.Config {
	for _, a := range b.svc.Backends() {
		cfg.Backends = append(cfg.Backends, a.Name())
	}
	return cfg
}

func TestStopReleasesUnfinishedEvents(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		started := make(chan struct{}, 10)
		blocking := newScripted(backendtype.BackendEverMemOS, func(ctx context.Context, _ backendtype.CommitRequest) (backendtype.CommitResult, error) {
			started <- struct{}{}
			<-ctx.Done()
			return backendtype.CommitResult{}, ctx.Err()
		})
		b := setup(t, db, 0, blocking)
		job := b.commit(t, "s1")
		w := b.newWorker(t, worker.Config{}, worker.Hooks{})
		require.NoError(t, w.Start(ctx))
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("never claimed")
		}
		require.Equal(t, gateway.OutboxProcessing, b.event(t, job, blocking.name).Status)

		stopCtx, cancel := context.WithCancel(ctx)
		cancel() // no grace: cut what is in flight
		require.NoError(t, w.Stop(stopCtx))
		e := b.event(t, job, blocking.name)
		require.Equal(t, gateway.OutboxPending, e.Status, "handed back")
		require.Zero(t, e.AttemptCount, "without spending the attempt")
		require.Nil(t, e.LockedBy)
	})
}

// heldBackend is an EverMemOS whose commits signal started, then run until
// release is closed (or their context ends).
func heldBackend() (_ *scripted, started chan struct{}, release chan struct{}) {
	started, release = make(chan struct{}, 1), make(chan struct{})
	return newScripted(backendtype.BackendEverMemOS, func(ctx context.Context, _ backendtype.CommitRequest) (backendtype.CommitResult, error) {
		started <- struct{}{}
		select {
		case <-release:
			return backendtype.CommitResult{Status: backendtype.ResultSuccess, NativeID: "n"}, nil
		case <-ctx.Done():
			return backendtype.CommitResult{}, ctx.Err()
		}
	}), started, release
}

func TestLeaseIsRenewedWhileTheBackendRuns(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		slow, started, release := heldBackend()
		b := setup(t, db, 0, slow)
		job := b.commit(t, "s1")
		done := make(chan struct{}, 1)
		// Real time here: the lease must really run out without renewal.
		w, err := worker.New(worker.Options{
			Store: b.store, Executor: b.exec, Config: withBackends(worker.Config{LeaseDuration: 300 * time.Millisecond}, b),
			Hooks: worker.Hooks{Completed: func([]gateway.OutboxCompletion, gateway.CompletionResult) { done <- struct{}{} }},
		})
		require.NoError(t, err)
		require.NoError(t, w.Start(ctx))
		t.Cleanup(func() { _ = w.Stop(ctx) })
		<-started
		first := *b.event(t, job, slow.name).LeaseExpiresAt
		// Leases are renewed every third of the lease: wait for a renewal.
		require.Eventually(t, func() bool {
			e := b.event(t, job, slow.name)
			return e.LeaseExpiresAt != nil && e.LeaseExpiresAt.After(first)
		}, 10*time.Second, 20*time.Millisecond)
		close(release)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("not completed")
		}
		require.Equal(t, gateway.OutboxSuccess, b.event(t, job, slow.name).Status)
		require.Equal(t, 1, slow.callsOf(b.event(t, job, slow.name).ID))
	})
}

// TestDrainRenewsLeases: processOutbox's drain holds its leases like the
// background worker: a backend call slower than the lease is not rescued
// (and so not run a second time) while it runs.
func TestDrainRenewsLeases(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		slow, started, release := heldBackend()
		b := setup(t, db, 0, slow)
		job := b.commit(t, "s1")
		// The lease is short in real time (renewals every 10 ms) and the
		// simulated clock jumps past it while the call runs.
		w := b.newWorker(t, withBackends(worker.Config{LeaseDuration: 30 * time.Millisecond}, b), worker.Hooks{})
		drained := make(chan int, 1)
		go func() {
			n, err := w.Drain(ctx, 10, "")
			assert.NoError(t, err)
			drained <- n
		}()
		<-started
		first := *b.event(t, job, slow.name).LeaseExpiresAt
		b.clock.Advance(time.Hour)
		require.Eventually(t, func() bool {
			e := b.event(t, job, slow.name)
			return e.LeaseExpiresAt != nil && !e.LeaseExpiresAt.Before(first.Add(time.Hour))
		}, 10*time.Second, 5*time.Millisecond, "the drain renewed its lease")
		res, err := w.Rescue(ctx)
		require.NoError(t, err)
		require.Zero(t, res.Rescued, "a renewed lease is not rescued")

		close(release)
		require.Equal(t, 1, <-drained)
		e := b.event(t, job, slow.name)
		require.Equal(t, gateway.OutboxSuccess, e.Status)
		require.Equal(t, 1, slow.callsOf(e.ID), "run once")
	})
}

// TestConfigRefusesWhatCannotWork: a negative setting is an error naming
// it, not a silent default.
func TestConfigRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]worker.Config{
		"ConcurrencyPerBackend":          {ConcurrencyPerBackend: -1},
		"BackendConcurrency[local]":      {BackendConcurrency: map[backendtype.Backend]int{backendtype.BackendLocal: -1}},
		"ClaimBatchMax":                  {ClaimBatchMax: -1},
		"CompletionBatchMax":             {CompletionBatchMax: -1},
		"Completers":                     {Completers: -1},
		"RescueBatch":                    {RescueBatch: -1},
		"FetchCooldown":                  {FetchCooldown: -time.Second},
		"LeaseDuration":                  {LeaseDuration: -time.Second},
		"LeaseDuration must be at least": {LeaseDuration: time.Millisecond},
		"PollInterval":                   {PollInterval: -time.Second},
		"RescueInterval":                 {RescueInterval: -time.Second},
	} {
		cfg.Backends = []backendtype.Backend{backendtype.BackendLocal}
		_, err := worker.New(worker.Options{Store: struct{ worker.Store }{}, Executor: struct{ worker.Executor }{}, Config: cfg})
		require.ErrorContains(t, err, "Config."+name, name)
	}
	_, err := worker.New(worker.Options{Store: struct{ worker.Store }{}, Executor: struct{ worker.Executor }{}, Config: worker.Config{Backends: []backendtype.Backend{backendtype.BackendLocal}}})
	require.NoError(t, err, "zero values take the defaults")
}
