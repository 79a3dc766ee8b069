// Package worker drains the transactional outbox: it claims due events in
// batches sized to its free capacity, runs them against their backends with
// bounded concurrency per backend, keeps their leases alive while backend
// calls run, completes them in batches fenced by the lease, rescues leases of
// workers that died, and stops gracefully.
//
// Any number of workers, in any number of processes, may share one
// PostgreSQL database: claims skip rows other workers hold, a completion
// lands only while its lease is held, and an expired lease is rescued exactly
// once. Wake-ups (LISTEN/NOTIFY on PostgreSQL, an in-process signal on SQLite)
// are hints; a poll always runs as well.
package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// Defaults for Config.
const (
	ConcurrencyPerBackendDefault = 100
	ClaimBatchMaxDefault         = 1000
	CompletionBatchMaxDefault    = 2000
	CompletersDefault            = 2
	FetchCooldownDefault         = 2 * time.Millisecond
	LeaseDurationDefault         = 30 * time.Second
	PollIntervalDefault          = time.Second
	RescueBatchDefault           = 1000
	RescueIntervalDefault        = 10 * time.Second
	completionRetries            = 3
	// completionOverflow is how many results waiting make a completer write
	// them while another completion transaction is running; fewer wait for
	// it to end and go in the next one.
	completionOverflow = 256
)

// Store is the persistence the worker needs.
type Store interface {
	ClaimOutboxEvents(ctx context.Context, req gateway.ClaimRequest) (gateway.ClaimedBatch, error)
	ExtendOutboxLeases(ctx context.Context, workerID string, ids []string, until, now time.Time) ([]string, error)
	CompleteOutboxEvents(ctx context.Context, completions []gateway.OutboxCompletion, now time.Time) (gateway.CompletionResult, error)
	RescueExpiredLeases(ctx context.Context, now time.Time, limit int) (gateway.RescueResult, error)
	ReleaseOutboxEvents(ctx context.Context, workerID string, ids []string, now time.Time) (int, error)
}

// Executor runs one claimed event and says what to record.
type Executor interface {
	ExecuteOutboxEvent(ctx context.Context, e gateway.OutboxEvent, workerID string) gateway.OutboxCompletion
}

// Config tunes a Worker. Zero values take the defaults above; values that
// cannot work (negative ones) are refused by New.
type Config struct {
	// ID names the worker in leases (locked_by). Default: host-pid-random.
	ID string
	// Backends are the backends this worker claims events for.
	Backends []backendtype.Backend
	// ConcurrencyPerBackend bounds events of one backend in flight at once.
	ConcurrencyPerBackend int
	// BackendConcurrency overrides ConcurrencyPerBackend per backend.
	BackendConcurrency map[backendtype.Backend]int
	// ClaimBatchMax bounds one claim statement.
	ClaimBatchMax int
	// CompletionBatchMax bounds one completion transaction.
	CompletionBatchMax int
	// Completers is how many completion transactions may run at once. Lock
	// order (jobs, then events) keeps concurrent completions safe.
	Completers int
	// FetchCooldown is the least time between two claims: wake-ups within it
	// are merged into one claim.
	FetchCooldown time.Duration
	// LeaseDuration is how long a claim is held without renewal; leases are
	// renewed every third of it while backend calls run.
	LeaseDuration time.Duration
	// PollInterval is the fallback poll when no wake-up arrives.
	PollInterval time.Duration
	// RescueInterval is how often expired leases are swept.
	RescueInterval time.Duration
	// RescueBatch bounds one sweep.
	RescueBatch int
}

// validate refuses settings that cannot work, naming the setting, instead
// of quietly replacing them with defaults.
func (c Config) validate() error {
	var errs []error
	negative := func(name string, bad bool, value any) {
		if bad {
			errs = append(errs, fmt.Errorf("worker: Config.%s must not be negative (0 takes the default), got %v", name, value))
		}
	}
	negative("ConcurrencyPerBackend", c.ConcurrencyPerBackend < 0, c.ConcurrencyPerBackend)
	negative("ClaimBatchMax", c.ClaimBatchMax < 0, c.ClaimBatchMax)
	negative("CompletionBatchMax", c.CompletionBatchMax < 0, c.CompletionBatchMax)
	negative("Completers", c.Completers < 0, c.Completers)
	negative("RescueBatch", c.RescueBatch < 0, c.RescueBatch)
	negative("FetchCooldown", c.FetchCooldown < 0, c.FetchCooldown)
	negative("LeaseDuration", c.LeaseDuration < 0, c.LeaseDuration)
	negative("PollInterval", c.PollInterval < 0, c.PollInterval)
	negative("RescueInterval", c.RescueInterval < 0, c.RescueInterval)
	for b, n := range c.BackendConcurrency {
		negative("BackendConcurrency["+string(b)+"]", n < 0, n)
	}
	if c.LeaseDuration > 0 && c.LeaseDuration < 3*time.Millisecond {
		errs = append(errs, fmt.Errorf("worker: Config.LeaseDuration must be at least 3ms (renewals run every third of it), got %s", c.LeaseDuration))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.ID == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		c.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if c.ConcurrencyPerBackend <= 0 {
		c.ConcurrencyPerBackend = ConcurrencyPerBackendDefault
	}
	if c.ClaimBatchMax <= 0 {
		c.ClaimBatchMax = ClaimBatchMaxDefault
	}
	if c.CompletionBatchMax <= 0 {
		c.CompletionBatchMax = CompletionBatchMaxDefault
	}
	if c.Completers <= 0 {
		c.Completers = CompletersDefault
	}
	if c.FetchCooldown <= 0 {
		c.FetchCooldown = FetchCooldownDefault
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = LeaseDurationDefault
	}
	if c.PollInterval <= 0 {
		c.PollInterval = PollIntervalDefault
	}
	if c.RescueInterval <= 0 {
		c.RescueInterval = RescueIntervalDefault
	}
	if c.RescueBatch <= 0 {
		c.RescueBatch = RescueBatchDefault
	}
	return c
}

func (c Config) concurrency(b backendtype.Backend) int {
	if n, ok := c.BackendConcurrency[b]; ok && n > 0 {
		return n
	}
	return c.ConcurrencyPerBackend
}

// Options are the collaborators of a Worker.
type Options struct {
	Store    Store
	Executor Executor
	// Publisher hands job states to this process's subscribers; may be nil.
	Publisher gateway.JobPublisher
	// Env is where the worker logs and its clock.
	Env    lifecycle.Env
	Config Config
	// Hooks observe the worker (tests, metrics); any may be nil.
	Hooks Hooks
}

// Hooks observe what the worker does (metrics, tracing, tests). Any may be
// nil; they run on the worker's goroutines and must not block.
type Hooks struct {
	// Claimed is called after a claim returned events.
	Claimed func(events []gateway.OutboxEvent)
	// Executing is called before an event is executed; the execution runs
	// in the returned context (a span, say), and done is called with its
	// outcome before the completion is queued.
	Executing func(ctx context.Context, e gateway.OutboxEvent) (_ context.Context, done func(gateway.OutboxCompletion))
	// Completed is called after a completion batch commits, with the batch
	// and what landed.
	Completed func(batch []gateway.OutboxCompletion, res gateway.CompletionResult)
	// Rescued is called after a sweep returned expired leases.
	Rescued func(res gateway.RescueResult)
}

// inflight is one event being worked on.
type inflight struct {
	event  gateway.OutboxEvent
	cancel context.CancelFunc
}

// Worker drains the outbox. Build it with New, then Start and Stop it.
type Worker struct {
	cfg       Config
	store     Store
	exec      Executor
	publisher gateway.JobPublisher
	logger    *slog.Logger
	now       func() time.Time
	hooks     Hooks

	wake chan struct{}

	mu       sync.Mutex
	inflight map[string]*inflight
	perBack  map[backendtype.Backend]int
	started  bool
	// released collects events whose execution was cut by a hard stop.
	released []string

	completions chan gateway.OutboxCompletion

	fetchCancel context.CancelFunc
	workCancel  context.CancelFunc
	loopsCancel context.CancelFunc
	fetchDone   chan struct{}
	loopsDone   sync.WaitGroup
	execs       sync.WaitGroup
	completers  sync.WaitGroup
	flushing    atomic.Int32 // completion transactions in progress
	// flushEnded is closed, and replaced, whenever a completion transaction
	// ends.
	flushMu    sync.Mutex
	flushEnded chan struct{}
}

var _ lifecycle.Component = (*Worker)(nil)

// New builds a Worker.
func New(opts Options) (*Worker, error) {
	if opts.Store == nil || opts.Executor == nil {
		return nil, errors.New("worker: a store and an executor are required")
	}
	if err := opts.Config.validate(); err != nil {
		return nil, err
	}
	cfg := opts.Config.withDefaults()
	if len(cfg.Backends) == 0 {
		return nil, errors.New("worker: no backends to work for")
	}
	w := &Worker{
		cfg:         cfg,
		store:       opts.Store,
		exec:        opts.Executor,
		publisher:   opts.Publisher,
		logger:      opts.Env.Logger(),
		now:         opts.Env.Clock(),
		hooks:       opts.Hooks,
		wake:        make(chan struct{}, 1),
		inflight:    map[string]*inflight{},
		perBack:     map[backendtype.Backend]int{},
		completions: make(chan gateway.OutboxCompletion, cfg.CompletionBatchMax),
		flushEnded:  make(chan struct{}),
	}
	return w, nil
}

// ID is the worker's lease owner name.
func (w *Worker) ID() string { return w.cfg.ID }

func (w *Worker) clock() time.Time { return w.now().UTC().Truncate(time.Microsecond) }

// NotifyOutbox wakes the fetch loop (gateway.OutboxNotifier). It never blocks.
func (w *Worker) NotifyOutbox(context.Context) {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Start launches the fetch loop, the completer, the lease extender and the
// rescuer. It returns at once.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return fmt.Errorf("worker: %w", lifecycle.ErrStarted)
	}
	w.started = true
	base := context.WithoutCancel(ctx)
	fetchCtx, fetchCancel := context.WithCancel(base)
	workCtx, workCancel := context.WithCancel(base)
	loopsCtx, loopsCancel := context.WithCancel(base)
	w.fetchCancel, w.workCancel, w.loopsCancel = fetchCancel, workCancel, loopsCancel
	w.fetchDone = make(chan struct{})

	for range w.cfg.Completers {
		w.completers.Go(func() { w.completeLoop(loopsCtx) })
	}
	w.loopsDone.Add(2)
	go func() { defer w.loopsDone.Done(); w.leaseLoop(loopsCtx) }()
	go func() { defer w.loopsDone.Done(); w.rescueLoop(loopsCtx) }()
	go w.fetchLoop(fetchCtx, workCtx)
	w.logger.InfoContext(ctx, "worker: started", slog.String("worker_id", w.cfg.ID), slog.Any("backends", w.cfg.Backends))
	return nil
}

// Stop stops claiming, lets in-flight events finish until ctx is done, then
// cancels what is left and hands it back to PENDING without spending the
// attempt, flushes completions and stops the background loops.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	if !w.started {
		w.mu.Unlock()
		return nil
	}
	w.started = false
	w.mu.Unlock()

	w.fetchCancel()
	<-w.fetchDone

	finished := make(chan struct{})
	go func() { w.execs.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		w.logger.Warn("worker: grace period over, cancelling in-flight events", slog.Int("in_flight", w.inflightCount()))
		w.workCancel()
		<-finished
	}
	w.workCancel()
	close(w.completions) // every execution has sent its result
	w.completers.Wait()

	w.mu.Lock()
	release := w.released
	w.released = nil
	w.mu.Unlock()
	var err error
	if len(release) > 0 {
		n, relErr := w.store.ReleaseOutboxEvents(context.WithoutCancel(ctx), w.cfg.ID, release, w.clock())
		err = relErr
		w.logger.Info("worker: released unfinished events", slog.Int("released", n))
	}
	w.loopsCancel()
	w.loopsDone.Wait()
	w.logger.Info("worker: stopped", slog.String("worker_id", w.cfg.ID))
	return err
}

func (w *Worker) inflightCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.inflight)
}

// fetchLoop claims whenever woken, polled, or after a full batch, at most
// once per cooldown.
func (w *Worker) fetchLoop(fetchCtx, workCtx context.Context) {
	defer close(w.fetchDone)
	poll := time.NewTicker(w.cfg.PollInterval)
	defer poll.Stop()
	again := true // claim once at start
	for {
		if !again {
			select {
			case <-fetchCtx.Done():
				return
			case <-w.wake:
			case <-poll.C:
			}
		}
		started := time.Now()
		full := w.fetch(fetchCtx, workCtx)
		again = full
		// Merge wake-ups arriving within the cooldown into the next claim.
		if wait := w.cfg.FetchCooldown - time.Since(started); wait > 0 {
			select {
			case <-fetchCtx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// fetch claims for every backend with free capacity and starts the events.
// It reports whether some claim came back full (more work is likely due).
func (w *Worker) fetch(fetchCtx, workCtx context.Context) (full bool) {
	for _, backend := range w.cfg.Backends {
		free := w.free(backend)
		if free <= 0 {
			continue
		}
		limit := min(free, w.cfg.ClaimBatchMax)
		events, err := w.claim(fetchCtx, w.cfg.ID, backend, limit, "")
		if err != nil {
			if fetchCtx.Err() == nil {
				w.logger.Error("worker: claim failed", slog.String("backend", string(backend)), slog.String("err", err.Error()))
			}
			continue
		}
		if len(events) == limit {
			full = true
		}
		for _, e := range events {
			w.run(workCtx, e)
		}
	}
	return full
}

// The one path of an event, shared by the background loops and Drain:
// claim → execute (leases renewed meanwhile) → fenced completion.

// claim leases up to limit due events of one backend (of one workspace, or
// of all when workspaceID is "") to owner.
func (w *Worker) claim(ctx context.Context, owner string, backend backendtype.Backend, limit int, workspaceID string) ([]gateway.OutboxEvent, error) {
	now := w.clock()
	batch, err := w.store.ClaimOutboxEvents(ctx, gateway.ClaimRequest{
		WorkerID: owner, Backend: backend, WorkspaceID: workspaceID, Limit: limit, Now: now, LeaseUntil: now.Add(w.cfg.LeaseDuration),
	})
	if err != nil {
		return nil, fmt.Errorf("error claiming: %w", err)
	}
	w.publish(batch.StartedJobs)
	if len(batch.Events) > 0 && w.hooks.Claimed != nil {
		w.hooks.Claimed(batch.Events)
	}
	return batch.Events, nil
}

// execute runs one claimed event, observed by the Executing hook.
func (w *Worker) execute(ctx context.Context, owner string, e gateway.OutboxEvent) gateway.OutboxCompletion {
	execCtx, executed := ctx, func(gateway.OutboxCompletion) {}
	if w.hooks.Executing != nil {
		execCtx, executed = w.hooks.Executing(ctx, e)
	}
	c := w.exec.ExecuteOutboxEvent(execCtx, e, owner)
	executed(c)
	return c
}

// complete writes a batch of completions, each landing only under the lease
// it ran with, and publishes the jobs they changed.
func (w *Worker) complete(ctx context.Context, batch []gateway.OutboxCompletion) (gateway.CompletionResult, error) {
	res, err := w.store.CompleteOutboxEvents(context.WithoutCancel(ctx), batch, w.clock())
	if err != nil {
		return res, fmt.Errorf("error completing: %w", err)
	}
	if len(res.Lost) > 0 {
		w.logger.Warn("worker: lease lost before completion, result discarded",
			slog.Int("events", len(res.Lost)), slog.String("worker_id", batch[0].FenceWorker))
	}
	w.publish(res.Jobs)
	if w.hooks.Completed != nil {
		w.hooks.Completed(batch, res)
	}
	return res, nil
}

func (w *Worker) free(b backendtype.Backend) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cfg.concurrency(b) - w.perBack[b]
}

// run executes one claimed event on its own goroutine and hands the result
// to the completer.
func (w *Worker) run(workCtx context.Context, e gateway.OutboxEvent) {
	ctx, cancel := context.WithCancel(workCtx)
	w.mu.Lock()
	w.inflight[e.ID] = &inflight{event: e, cancel: cancel}
	w.perBack[e.Backend]++
	w.mu.Unlock()
	w.execs.Go(func() {
		defer cancel()
		c := w.execute(ctx, w.cfg.ID, e)
		if workCtx.Err() != nil {
			// Cut by a hard stop: the result is not trustworthy, hand the
			// event back instead.
			w.mu.Lock()
			w.released = append(w.released, e.ID)
			w.mu.Unlock()
			w.done([]string{e.ID})
			return
		}
		w.completions <- c
	})
}

// done forgets finished events and frees their slots.
func (w *Worker) done(ids []string) {
	w.mu.Lock()
	for _, id := range ids {
		if in, ok := w.inflight[id]; ok {
			w.perBack[in.event.Backend]--
			delete(w.inflight, id)
		}
	}
	w.mu.Unlock()
	w.NotifyOutbox(context.Background()) // capacity freed: claim more
}

// completeLoop writes completions in batches: it takes everything waiting,
// writes it in one transaction, and repeats, so batches grow with load while
// a lone completion is written at once. Several loops share the channel;
// while one writes, another gathers what arrives and writes it when that
// transaction ends — or at once, when completionOverflow results are
// waiting. A second transaction for a few results split the batches and
// made the transactions contend: with 100 events in flight per process, one
// writer at a time drained more events per second with a third fewer
// statements and less CPU per event, in the worker and in PostgreSQL.
func (w *Worker) completeLoop(ctx context.Context) {
	for {
		first, ok := <-w.completions
		if !ok {
			return
		}
		// Sized for what is waiting already: a completion is large, and
		// growing the batch by appends copied it again and again.
		batch := make([]gateway.OutboxCompletion, 1, min(1+len(w.completions), w.cfg.CompletionBatchMax))
		batch[0] = first
		batch, open := w.gather(batch)
		w.flushing.Add(1)
		w.flush(ctx, batch)
		w.flushing.Add(-1)
		w.flushMu.Lock()
		close(w.flushEnded)
		w.flushEnded = make(chan struct{})
		w.flushMu.Unlock()
		if !open {
			return
		}
	}
}

// gather adds to batch what is waiting and, while another completion
// transaction runs, what arrives until it ends or completionOverflow
// results are in hand. It reports whether the channel is still open.
func (w *Worker) gather(batch []gateway.OutboxCompletion) ([]gateway.OutboxCompletion, bool) {
	limit := w.cfg.CompletionBatchMax
	for len(batch) < limit {
		select {
		case c, ok := <-w.completions:
			if !ok {
				return batch, false
			}
			batch = append(batch, c)
			continue
		default:
		}
		// Nothing more is waiting.
		w.flushMu.Lock()
		ended := w.flushEnded
		w.flushMu.Unlock()
		if w.flushing.Load() == 0 || len(batch) >= completionOverflow {
			return batch, true
		}
		select {
		case c, ok := <-w.completions:
			if !ok {
				return batch, false
			}
			batch = append(batch, c)
		case <-ended:
		}
	}
	return batch, true
}

func (w *Worker) flush(ctx context.Context, batch []gateway.OutboxCompletion) {
	ids := make([]string, len(batch))
	for i, c := range batch {
		ids[i] = c.EventID
	}
	defer w.done(ids)
	var err error
	for attempt := range completionRetries {
		if _, err = w.complete(ctx, batch); err == nil {
			return
		}
		w.logger.Error("worker: completion failed", slog.Int("attempt", attempt+1),
			slog.Int("events", len(batch)), slog.String("err", err.Error()))
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	// The leases will expire and the rescuer will return the events.
	w.logger.Error("worker: giving up on a completion batch; its events will be rescued",
		slog.Int("events", len(batch)), slog.String("err", err.Error()))
}

// leaseLoop renews the leases of in-flight events every third of the lease,
// and cancels the execution of any event whose lease was taken over.
func (w *Worker) leaseLoop(ctx context.Context) {
	w.renewEvery(ctx, w.cfg.ID, func() []string {
		w.mu.Lock()
		defer w.mu.Unlock()
		ids := make([]string, 0, len(w.inflight))
		for id := range w.inflight {
			ids = append(ids, id)
		}
		return ids
	}, func(id string) {
		// Completed meanwhile, or rescued by another worker: in the latter
		// case stop wasting the backend's time.
		w.mu.Lock()
		defer w.mu.Unlock()
		if in, ok := w.inflight[id]; ok {
			in.cancel()
		}
	})
}

// renewEvery renews, every third of the lease until ctx ends, the leases
// owner holds on the events running() lists, and calls lost for each whose
// lease is no longer held.
func (w *Worker) renewEvery(ctx context.Context, owner string, running func() []string, lost func(id string)) {
	ticker := time.NewTicker(w.cfg.LeaseDuration / 3)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		ids := running()
		if len(ids) == 0 {
			continue
		}
		now := w.clock()
		held, err := w.store.ExtendOutboxLeases(ctx, owner, ids, now.Add(w.cfg.LeaseDuration), now)
		if err != nil {
			if ctx.Err() == nil {
				w.logger.Error("worker: lease renewal failed", slog.String("err", err.Error()))
			}
			continue
		}
		stillHeld := make(map[string]struct{}, len(held))
		for _, id := range held {
			stillHeld[id] = struct{}{}
		}
		for _, id := range ids {
			if _, ok := stillHeld[id]; !ok {
				lost(id)
			}
		}
	}
}

// rescueLoop sweeps expired leases; every worker runs it, and the sweep's
// conditional update makes concurrent sweeps safe.
func (w *Worker) rescueLoop(ctx context.Context) {
	ticker := time.NewTicker(w.cfg.RescueInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if _, err := w.Rescue(ctx); err != nil && ctx.Err() == nil {
			w.logger.Error("worker: rescue failed", slog.String("err", err.Error()))
		}
	}
}

// Rescue runs one sweep of expired leases now.
func (w *Worker) Rescue(ctx context.Context) (gateway.RescueResult, error) {
	res, err := w.store.RescueExpiredLeases(ctx, w.clock(), w.cfg.RescueBatch)
	if err != nil {
		return res, err
	}
	if res.Rescued+res.DeadLettered > 0 {
		w.logger.Warn("worker: rescued expired leases",
			slog.Int("rescued", res.Rescued), slog.Int("dead_lettered", res.DeadLettered))
		w.publish(res.Jobs)
		w.NotifyOutbox(ctx)
		if w.hooks.Rescued != nil {
			w.hooks.Rescued(res)
		}
	}
	return res, nil
}

func (w *Worker) publish(jobs []gateway.CommitJob) {
	if w.publisher != nil && len(jobs) > 0 {
		w.publisher.PublishJobStates(context.Background(), jobs)
	}
}

// Drain processes up to limit due events right now (of one workspace, or of
// all when workspaceID is ""), on the calling goroutine's behalf, and
// returns how many were completed. It is what the processOutbox admin
// operation runs: the same claim → execute → fenced completion path as the
// background loops (and the same hooks), under its own lease owner.
func (w *Worker) Drain(ctx context.Context, limit int, workspaceID string) (int, error) {
	processed := 0
	drainID := w.cfg.ID + "-drain"
	for _, backend := range w.cfg.Backends {
		for processed < limit {
			events, err := w.claim(ctx, drainID, backend, min(limit-processed, w.cfg.concurrency(backend)), workspaceID)
			if err != nil {
				return processed, err
			}
			if len(events) == 0 {
				break
			}
			res, err := w.complete(ctx, w.executeHeld(ctx, drainID, events))
			if err != nil {
				return processed, err
			}
			processed += len(res.Applied)
		}
	}
	return processed, nil
}

// executeHeld runs a claimed batch to the end, renewing its leases the way
// the background loop does, so a drain slower than the lease is not rescued
// and run a second time meanwhile; an event whose lease is lost anyway is
// cancelled (its completion will be fenced off).
func (w *Worker) executeHeld(ctx context.Context, owner string, events []gateway.OutboxEvent) []gateway.OutboxCompletion {
	completions := make([]gateway.OutboxCompletion, len(events))
	cancels := make(map[string]context.CancelFunc, len(events))
	var mu sync.Mutex
	running := make(map[string]struct{}, len(events))
	for _, e := range events {
		running[e.ID] = struct{}{}
	}
	var wg sync.WaitGroup
	for i, e := range events {
		ectx, cancel := context.WithCancel(ctx)
		cancels[e.ID] = cancel
		wg.Go(func() {
			defer cancel()
			completions[i] = w.execute(ectx, owner, e)
			mu.Lock()
			delete(running, e.ID)
			mu.Unlock()
		})
	}
	renewCtx, stopRenewing := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		w.renewEvery(renewCtx, owner, func() []string {
			mu.Lock()
			defer mu.Unlock()
			ids := make([]string, 0, len(running))
			for id := range running {
				ids = append(ids, id)
			}
			return ids
		}, func(id string) { cancels[id]() })
	}()
	wg.Wait()
	stopRenewing()
	<-renewed
	return completions
}
