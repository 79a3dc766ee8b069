// Package jobevents fans commit job changes out to the subscribers of one
// process.
//
// Changes arrive two ways. A component of this process that changed a job
// (the commit, the worker, a re-drive) hands over the exact states it wrote,
// so local subscribers see every state in order. Changes made by other
// processes arrive as job ids (PostgreSQL NOTIFY carries ids only); the hub
// reads those jobs once, whatever the number of subscribers. Every state
// carries the job's version, so duplicates and stale reads are dropped by
// the subscriber.
//
// A slow subscriber never blocks the hub or other subscribers: past a bound,
// its queue keeps only the newest state per job.
package jobevents

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// Hub limits.
const (
	// QueueMax bounds the states waiting for one subscriber before they are
	// coalesced to the newest per job.
	QueueMax = 256
	// resyncListLimit bounds the jobs re-read for one workspace subscription
	// after a resync.
	resyncListLimit = 100
	// retryDelay is the pause before re-reading after a failed read.
	retryDelay = 200 * time.Millisecond
)

// Loader reads job state.
type Loader interface {
	CommitJobsByIDs(ctx context.Context, ids []string) ([]gateway.CommitJob, error)
	ListCommitJobs(ctx context.Context, f gateway.JobFilter, p gateway.PageRequest) (gateway.Page[gateway.CommitJob], error)
}

// Filter selects the jobs a subscription watches.
type Filter = gateway.JobWatchFilter

func matches(f Filter, j gateway.CommitJob) bool {
	if f.JobID != "" {
		return j.ID == f.JobID
	}
	return j.WorkspaceID == f.WorkspaceID && (f.SessionID == "" || j.SessionID == f.SessionID)
}

// Subscription receives job states (gateway.JobWatch).
type Subscription struct {
	hub    *Hub
	filter Filter
	ready  chan struct{}

	mu    sync.Mutex
	queue []gateway.CommitJob
}

// Ready is signalled (coalesced) when states are waiting.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Drain returns the waiting states in arrival order.
func (s *Subscription) Drain() []gateway.CommitJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.queue
	s.queue = nil
	return out
}

// Close stops the subscription.
func (s *Subscription) Close() { s.hub.unsubscribe(s) }

func (s *Subscription) offer(j gateway.CommitJob) {
	s.mu.Lock()
	s.queue = append(s.queue, j)
	if len(s.queue) > QueueMax {
		s.queue = newestPerJob(s.queue)
	}
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// newestPerJob keeps, in order of last arrival, one state per job: the one
// with the highest version.
func newestPerJob(queue []gateway.CommitJob) []gateway.CommitJob {
	best := map[string]int{}
	for i, j := range queue {
		if k, ok := best[j.ID]; !ok || j.Version >= queue[k].Version {
			best[j.ID] = i
		}
	}
	out := make([]gateway.CommitJob, 0, len(best))
	for i, j := range queue {
		if best[j.ID] == i {
			out = append(out, j)
		}
	}
	return out
}

// Hub is the per-process fan-out. Build it with New and Start it.
type Hub struct {
	loader Loader
	logger *slog.Logger

	mu        sync.Mutex
	jobSubs   map[string]map[*Subscription]struct{} // by watched job id
	scopeSubs map[*Subscription]struct{}            // by workspace/session
	states    []gateway.CommitJob                   // exact states to deliver
	changed   map[string]struct{}                   // ids to read, then deliver
	held      map[string]int                        // jobs being created here: holds per id
	deferred  []gateway.CommitJob                   // states of held jobs, in arrival order
	resync    bool
	kick      chan struct{}
	runner    lifecycle.Runner
}

var (
	_ gateway.JobPublisher = (*Hub)(nil)
	_ gateway.JobWatcher   = (*Hub)(nil)
	_ gateway.JobHolder    = (*Hub)(nil)
	_ lifecycle.Component  = (*Hub)(nil)
)

// New returns a Hub reading job state through loader.
func New(loader Loader, env lifecycle.Env) *Hub {
	return &Hub{
		loader:    loader,
		logger:    env.Logger(),
		jobSubs:   map[string]map[*Subscription]struct{}{},
		scopeSubs: map[*Subscription]struct{}{},
		changed:   map[string]struct{}{},
		held:      map[string]int{},
		kick:      make(chan struct{}, 1),
	}
}

// Start runs the dispatcher until Stop (lifecycle.Component).
func (h *Hub) Start(ctx context.Context) error { return h.runner.Start(ctx, h.run) }

// Stop ends the dispatcher.
func (h *Hub) Stop(ctx context.Context) error { return h.runner.Stop(ctx) }

// WatchJobs implements gateway.JobWatcher.
func (h *Hub) WatchJobs(f gateway.JobWatchFilter) gateway.JobWatch { return h.Subscribe(f) }

// Subscribe starts watching jobs matching f. Subscribe before reading the
// current state, so no change falls between the two.
func (h *Hub) Subscribe(f Filter) *Subscription {
	s := &Subscription{hub: h, filter: f, ready: make(chan struct{}, 1)}
	h.mu.Lock()
	if f.JobID != "" {
		if h.jobSubs[f.JobID] == nil {
			h.jobSubs[f.JobID] = map[*Subscription]struct{}{}
		}
		h.jobSubs[f.JobID][s] = struct{}{}
	} else {
		h.scopeSubs[s] = struct{}{}
	}
	h.mu.Unlock()
	return s
}

func (h *Hub) unsubscribe(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.filter.JobID == "" {
		delete(h.scopeSubs, s)
		return
	}
	delete(h.jobSubs[s.filter.JobID], s)
	if len(h.jobSubs[s.filter.JobID]) == 0 {
		delete(h.jobSubs, s.filter.JobID)
	}
}

// Subscribers counts live subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(h.scopeSubs)
	for _, subs := range h.jobSubs {
		n += len(subs)
	}
	return n
}

// watched reports whether anyone may care about job id (h.mu held).
func (h *Hub) watched(id string) bool {
	return len(h.scopeSubs) > 0 || len(h.jobSubs[id]) > 0
}

// PublishJobStates queues exact, committed job states (gateway.JobPublisher).
// It never blocks.
func (h *Hub) PublishJobStates(_ context.Context, jobs []gateway.CommitJob) {
	h.mu.Lock()
	h.queue(jobs)
	h.mu.Unlock()
	h.poke()
}

// queue adds states to deliver, deferring those of held jobs (h.mu held).
func (h *Hub) queue(jobs []gateway.CommitJob) {
	for _, j := range jobs {
		switch {
		case h.held[j.ID] > 0:
			h.deferred = append(h.deferred, j)
		case h.watched(j.ID):
			h.states = append(h.states, j)
		}
	}
}

// HoldJobs implements gateway.JobHolder. A job's first state is published
// after the transaction that creates it commits, and the worker may claim
// the job in between: its RUNNING would reach subscribers first, and the
// ACCEPTED after it would be dropped as stale. So until release, every
// state of a held job (handed over here or read after a notification)
// waits; release delivers the creator's states first, then those.
func (h *Hub) HoldJobs(ids []string) (release func(ctx context.Context, created []gateway.CommitJob)) {
	h.mu.Lock()
	for _, id := range ids {
		h.held[id]++
	}
	h.mu.Unlock()
	var once sync.Once
	return func(_ context.Context, created []gateway.CommitJob) {
		once.Do(func() { h.release(ids, created) })
	}
}

func (h *Hub) release(ids []string, created []gateway.CommitJob) {
	h.mu.Lock()
	for _, id := range ids {
		if h.held[id]--; h.held[id] <= 0 {
			delete(h.held, id)
		}
	}
	h.queue(created)
	waiting := h.deferred
	h.deferred = nil
	h.queue(waiting)
	h.mu.Unlock()
	h.poke()
}

// PublishJobChanges queues ids of jobs changed elsewhere; their state is read
// before delivery. It never blocks.
func (h *Hub) PublishJobChanges(_ context.Context, jobIDs []string) {
	h.mu.Lock()
	for _, id := range jobIDs {
		if h.watched(id) {
			h.changed[id] = struct{}{}
		}
	}
	h.mu.Unlock()
	h.poke()
}

// Resync makes every subscription re-read the state it watches: after a
// notification connection was lost, changes may have been missed.
func (h *Hub) Resync() {
	h.mu.Lock()
	h.resync = true
	h.mu.Unlock()
	h.poke()
}

func (h *Hub) poke() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

func (h *Hub) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		}
		h.dispatch(ctx)
	}
}

// afterRead orders states read from the store behind the exact states
// handed over while they were read (a read may already show the state that
// follows one of those), and defers those of held jobs (h.mu held).
func (h *Hub) afterRead(jobs, read []gateway.CommitJob) []gateway.CommitJob {
	jobs = append(jobs, h.states...)
	h.states = nil
	for _, j := range read {
		if h.held[j.ID] > 0 {
			h.deferred = append(h.deferred, j)
			continue
		}
		jobs = append(jobs, j)
	}
	return jobs
}

func (h *Hub) dispatch(ctx context.Context) {
	h.mu.Lock()
	jobs := h.states
	h.states = nil
	ids := make([]string, 0, len(h.changed))
	for id := range h.changed {
		ids = append(ids, id)
	}
	h.changed = map[string]struct{}{}
	var scopes []Filter
	if h.resync {
		h.resync = false
		for id := range h.jobSubs {
			ids = append(ids, id)
		}
		for s := range h.scopeSubs {
			scopes = append(scopes, s.filter)
		}
	}
	h.mu.Unlock()

	var read []gateway.CommitJob
	if len(ids) > 0 {
		loaded, err := h.loader.CommitJobsByIDs(ctx, ids)
		if err != nil {
			h.logger.Error("jobevents: error reading changed jobs", slog.String("err", err.Error()))
			h.PublishJobChanges(ctx, ids)
			time.AfterFunc(retryDelay, h.poke)
		} else {
			read = append(read, loaded...)
		}
	}
	for _, f := range scopes {
		page, err := h.loader.ListCommitJobs(ctx, gateway.JobFilter{WorkspaceID: f.WorkspaceID, SessionID: f.SessionID}, gateway.PageRequest{First: resyncListLimit})
		if err != nil {
			h.logger.Error("jobevents: error re-reading jobs", slog.String("err", err.Error()))
			continue
		}
		read = append(read, page.Items...)
	}
	if len(read) > 0 {
		h.mu.Lock()
		jobs = h.afterRead(jobs, read)
		h.mu.Unlock()
	}
	var targets []*Subscription
	for _, j := range jobs {
		targets = targets[:0]
		h.mu.Lock()
		for s := range h.jobSubs[j.ID] {
			targets = append(targets, s)
		}
		for s := range h.scopeSubs {
			if matches(s.filter, j) {
				targets = append(targets, s)
			}
		}
		h.mu.Unlock()
		for _, s := range targets {
			s.offer(j)
		}
	}
}
