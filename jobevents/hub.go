// Package jobevents fans commit job changes out to subscribers of one
// process. Changes arrive as job ids (from PostgreSQL LISTEN, or published
// in-process on SQLite); the hub reads the current state of those jobs once,
// whatever the number of subscribers, and hands each subscriber the latest
// state of every job it watches. A slow subscriber never blocks the hub or
// other subscribers: its pending updates coalesce to the newest state per job.
package jobevents

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// retryDelay is the pause before re-reading after a failed read.
const retryDelay = 200 * time.Millisecond

// resyncListLimit bounds the jobs re-read for one workspace subscription
// after a resync.
const resyncListLimit = 100

// Loader reads job state.
type Loader interface {
	CommitJobsByIDs(ctx context.Context, ids []string) ([]gateway.CommitJob, error)
	ListCommitJobs(ctx context.Context, f gateway.JobFilter, p gateway.PageRequest) (gateway.Page[gateway.CommitJob], error)
}

// Filter selects the jobs a subscription watches: one job by id, or every
// job of a workspace (optionally of one session).
type Filter = gateway.JobWatchFilter

func matches(f Filter, j gateway.CommitJob) bool {
	if f.JobID != "" {
		return j.ID == f.JobID
	}
	return j.WorkspaceID == f.WorkspaceID && (f.SessionID == "" || j.SessionID == f.SessionID)
}

// Subscription receives job states. Ready signals that Drain has something.
type Subscription struct {
	hub    *Hub
	filter Filter
	ready  chan struct{}

	mu      sync.Mutex
	pending map[string]gateway.CommitJob
	order   []string
}

// Ready is signalled (coalesced) when new states are waiting.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Drain returns the waiting states, oldest job first, newest state per job.
func (s *Subscription) Drain() []gateway.CommitJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]gateway.CommitJob, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.pending[id])
	}
	s.pending, s.order = map[string]gateway.CommitJob{}, s.order[:0]
	return out
}

// Close stops the subscription.
func (s *Subscription) Close() { s.hub.unsubscribe(s) }

func (s *Subscription) offer(j gateway.CommitJob) {
	s.mu.Lock()
	prev, seen := s.pending[j.ID]
	if !seen {
		s.order = append(s.order, j.ID)
	}
	if !seen || !j.UpdatedAt.Before(prev.UpdatedAt) {
		s.pending[j.ID] = j
	}
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Hub is the per-process fan-out. Build it with New and Start it.
type Hub struct {
	loader Loader
	logger *slog.Logger

	mu        sync.Mutex
	jobSubs   map[string]map[*Subscription]struct{} // by watched job id
	scopeSubs map[*Subscription]struct{}            // by workspace/session
	pending   map[string]struct{}
	resync    bool
	kick      chan struct{}
	done      chan struct{}
	cancel    context.CancelFunc
}

// New returns a Hub reading job state through loader.
func New(loader Loader, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		loader:    loader,
		logger:    logger,
		jobSubs:   map[string]map[*Subscription]struct{}{},
		scopeSubs: map[*Subscription]struct{}{},
		pending:   map[string]struct{}{},
		kick:      make(chan struct{}, 1),
	}
}

// Start runs the dispatcher until Stop.
func (h *Hub) Start(ctx context.Context) error {
	ctx, h.cancel = context.WithCancel(context.WithoutCancel(ctx))
	h.done = make(chan struct{})
	go h.run(ctx)
	return nil
}

// Stop ends the dispatcher.
func (h *Hub) Stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
	}
}

// WatchJobs implements gateway.JobWatcher.
func (h *Hub) WatchJobs(f gateway.JobWatchFilter) gateway.JobWatch { return h.Subscribe(f) }

// Subscribe starts watching jobs matching f. Subscribe before reading the
// current state, so no change falls between the two.
func (h *Hub) Subscribe(f Filter) *Subscription {
	s := &Subscription{hub: h, filter: f, ready: make(chan struct{}, 1), pending: map[string]gateway.CommitJob{}}
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

// PublishJobChanges queues job ids whose state changed (gateway.JobPublisher).
// It never blocks.
func (h *Hub) PublishJobChanges(_ context.Context, jobIDs []string) {
	h.mu.Lock()
	for _, id := range jobIDs {
		if len(h.scopeSubs) > 0 || len(h.jobSubs[id]) > 0 {
			h.pending[id] = struct{}{}
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
	defer close(h.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		}
		h.dispatch(ctx)
	}
}

func (h *Hub) dispatch(ctx context.Context) {
	h.mu.Lock()
	ids := make([]string, 0, len(h.pending))
	for id := range h.pending {
		ids = append(ids, id)
	}
	h.pending = map[string]struct{}{}
	resync := h.resync
	h.resync = false
	var scopes []Filter
	if resync {
		for id := range h.jobSubs {
			ids = append(ids, id)
		}
		for s := range h.scopeSubs {
			scopes = append(scopes, s.filter)
		}
	}
	h.mu.Unlock()

	var jobs []gateway.CommitJob
	if len(ids) > 0 {
		loaded, err := h.loader.CommitJobsByIDs(ctx, ids)
		if err != nil {
			h.logger.Error("jobevents: error loading changed jobs", slog.String("err", err.Error()))
			h.requeue(ids)
			time.AfterFunc(retryDelay, h.poke)
			return
		}
		jobs = loaded
	}
	for _, f := range scopes {
		page, err := h.loader.ListCommitJobs(ctx, gateway.JobFilter{WorkspaceID: f.WorkspaceID, SessionID: f.SessionID}, gateway.PageRequest{First: resyncListLimit})
		if err != nil {
			h.logger.Error("jobevents: error re-reading jobs", slog.String("err", err.Error()))
			continue
		}
		jobs = append(jobs, page.Items...)
	}
	if len(jobs) == 0 {
		return
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

func (h *Hub) requeue(ids []string) {
	h.mu.Lock()
	for _, id := range ids {
		h.pending[id] = struct{}{}
	}
	h.mu.Unlock()
}
