package resolvers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// LoaderWaitDefault is how long a dataloader collects keys before it fetches.
// Each nested level of a query pays it at most once, so it is kept short.
const LoaderWaitDefault = 2 * time.Millisecond

// loaders batch the parent → child edges of the graph: a page of N jobs with
// their refs and outbox summaries costs one query per edge, not N. They are
// built per operation, so nothing is cached across requests.
type loaders struct {
	jobs      *idLoader[gateway.CommitJob]
	refs      *idLoader[gateway.MemoryRef]
	events    *idLoader[gateway.OutboxEvent]
	summaries *idLoader[gateway.OutboxSummary]
	feedback  *idLoader[gateway.MemoryFeedback]
	erasures  *idLoader[gateway.ErasureRequest]
	// reviewTexts reads content: feedback texts and memory texts from the
	// backends, only for feedback the caller may decide.
	reviewTexts *idLoader[gateway.FeedbackReviewTexts]
	// attempts are the kept attempts of events, by event id.
	attempts *idLoader[[]gateway.OutboxAttempt]
	// webhookEndpoints answers only the caller's workspace's endpoints.
	webhookEndpoints *idLoader[gateway.WebhookEndpoint]

	refsByJob      *pagedLoader[gateway.MemoryRef]
	refsByGateway  *pagedLoader[gateway.MemoryRef]
	refsByEvent    *pagedLoader[gateway.MemoryRef]
	refsBySession  *pagedLoader[gateway.MemoryRef]
	jobsBySession  *pagedLoader[gateway.CommitJob]
	eventsByJob    *pagedLoader[gateway.OutboxEvent]
	auditByJob     *pagedLoader[gateway.AuditEntry]
	auditBySession *pagedLoader[gateway.AuditEntry]
	feedbackByRef  *pagedLoader[gateway.MemoryFeedback]
	refsReplacedBy *pagedLoader[gateway.MemoryRef]

	// snapshots are jobs a mutation read together with their events: within
	// the operation, their summaries and events are answered from the
	// snapshot, so they agree with the job's status.
	snapshotsMu sync.Mutex
	snapshots   map[string]gateway.JobSnapshot
}

// useSnapshot makes the operation answer a job's summary and events from s.
func (l *loaders) useSnapshot(s gateway.JobSnapshot) {
	l.snapshotsMu.Lock()
	defer l.snapshotsMu.Unlock()
	if l.snapshots == nil {
		l.snapshots = map[string]gateway.JobSnapshot{}
	}
	l.snapshots[s.Job.ID] = s
}

func (l *loaders) snapshot(jobID string) (gateway.JobSnapshot, bool) {
	l.snapshotsMu.Lock()
	defer l.snapshotsMu.Unlock()
	s, ok := l.snapshots[jobID]
	return s, ok
}

type loadersKey struct{}

// lazyLoaders are a response's loaders, built when a resolver first needs
// one: most mutations (an ingest) never do, and building the whole set was a
// fifth of an ingest's allocations. Built once for the response, so every
// resolver shares them and batching is what it was.
type lazyLoaders struct {
	once  sync.Once
	build func() *loaders
	l     *loaders
}

func (z *lazyLoaders) get() *loaders {
	z.once.Do(func() { z.l = z.build() })
	return z.l
}

func withLoaders(ctx context.Context, build func() *loaders) context.Context {
	return context.WithValue(ctx, loadersKey{}, &lazyLoaders{build: build})
}

func loadersFrom(ctx context.Context) *loaders {
	l, ok := lookupLoaders(ctx)
	if !ok {
		panic("resolvers: no dataloaders in context (is the operation middleware installed?)")
	}
	return l
}

// lookupLoaders returns the response's loaders, building them if need be,
// or reports that the context has none.
func lookupLoaders(ctx context.Context) (*loaders, bool) {
	z, _ := ctx.Value(loadersKey{}).(*lazyLoaders)
	if z == nil {
		return nil, false
	}
	return z.get(), true
}

func byID[T gateway.Node](fetch func(context.Context, []string) ([]T, error)) func(context.Context, []string) (map[string]T, error) {
	return func(ctx context.Context, ids []string) (map[string]T, error) {
		items, err := fetch(ctx, ids)
		if err != nil {
			return nil, err
		}
		out := make(map[string]T, len(items))
		for _, it := range items {
			out[it.NodeID()] = it
		}
		return out, nil
	}
}

func newLoaders(svc *gateway.Service, r gateway.Reader, wait time.Duration) *loaders {
	opt := dataloadgen.WithWait(wait)
	return &loaders{
		webhookEndpoints: newIDLoader(byID(svc.WebhookEndpointsByIDs), opt),
		jobs:             newIDLoader(byID(r.CommitJobsByIDs), opt),
		refs:             newIDLoader(byID(r.MemoryRefsByIDs), opt),
		events:           newIDLoader(byID(r.OutboxEventsByIDs), opt),
		feedback:         newIDLoader(byID(r.FeedbackByIDs), opt),
		erasures:         newIDLoader(byID(r.ErasureRequestsByIDs), opt),
		reviewTexts:      newIDLoader(byID(svc.FeedbackReviewTexts), opt),
		summaries:        newIDLoader(r.OutboxSummaries, opt),
		attempts:         newIDLoader(r.OutboxAttempts, opt),
		refsByJob: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryRef], error) {
			return r.ListMemoryRefsGrouped(ctx, gateway.RefsByJob, keys, gateway.RefFilter{}, p)
		}, func(ctx context.Context, keys []string) (map[string]int, error) {
			return r.CountMemoryRefsGrouped(ctx, gateway.RefsByJob, keys, gateway.RefFilter{})
		}),
		refsByGateway: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryRef], error) {
			return r.ListMemoryRefsGrouped(ctx, gateway.RefsByGateway, keys, gateway.RefFilter{}, p)
		}, func(ctx context.Context, keys []string) (map[string]int, error) {
			return r.CountMemoryRefsGrouped(ctx, gateway.RefsByGateway, keys, gateway.RefFilter{})
		}),
		refsByEvent: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryRef], error) {
			return r.ListMemoryRefsGrouped(ctx, gateway.RefsByOutboxEvent, keys, gateway.RefFilter{}, p)
		}, func(ctx context.Context, keys []string) (map[string]int, error) {
			return r.CountMemoryRefsGrouped(ctx, gateway.RefsByOutboxEvent, keys, gateway.RefFilter{})
		}),
		refsBySession: newPagedLoader(wait, bySession(func(ctx context.Context, ws string, sessions []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryRef], error) {
			return r.ListMemoryRefsGrouped(ctx, gateway.RefsBySession, sessions, gateway.RefFilter{WorkspaceID: ws}, p)
		}), countBySession(func(ctx context.Context, ws string, sessions []string) (map[string]int, error) {
			return r.CountMemoryRefsGrouped(ctx, gateway.RefsBySession, sessions, gateway.RefFilter{WorkspaceID: ws})
		})),
		jobsBySession: newPagedLoader(wait, bySession(func(ctx context.Context, ws string, sessions []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.CommitJob], error) {
			return r.ListCommitJobsGrouped(ctx, gateway.JobsBySession, sessions, gateway.JobFilter{WorkspaceID: ws}, p)
		}), countBySession(func(ctx context.Context, ws string, sessions []string) (map[string]int, error) {
			return r.CountCommitJobsGrouped(ctx, gateway.JobsBySession, sessions, gateway.JobFilter{WorkspaceID: ws})
		})),
		eventsByJob: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.OutboxEvent], error) {
			return r.ListOutboxEventsGrouped(ctx, gateway.EventsByJob, keys, gateway.EventFilter{}, p)
		}, func(ctx context.Context, keys []string) (map[string]int, error) {
			return r.CountOutboxEventsGrouped(ctx, gateway.EventsByJob, keys, gateway.EventFilter{})
		}),
		auditByJob: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.AuditEntry], error) {
			return r.ListAuditEntriesGrouped(ctx, gateway.AuditByJob, keys, gateway.AuditFilter{}, p)
		}, func(ctx context.Context, keys []string) (map[string]int, error) {
			return r.CountAuditEntriesGrouped(ctx, gateway.AuditByJob, keys, gateway.AuditFilter{})
		}),
		auditBySession: newPagedLoader(wait, bySession(func(ctx context.Context, ws string, sessions []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.AuditEntry], error) {
			return r.ListAuditEntriesGrouped(ctx, gateway.AuditBySession, sessions, gateway.AuditFilter{WorkspaceID: ws}, p)
		}), countBySession(func(ctx context.Context, ws string, sessions []string) (map[string]int, error) {
			return r.CountAuditEntriesGrouped(ctx, gateway.AuditBySession, sessions, gateway.AuditFilter{WorkspaceID: ws})
		})),
		feedbackByRef: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryFeedback], error) {
			return r.ListFeedbackGrouped(ctx, gateway.FeedbackByRef, keys, gateway.FeedbackFilter{}, p)
		}, func(ctx context.Context, keys []string) (map[string]int, error) {
			return r.CountFeedbackGrouped(ctx, gateway.FeedbackByRef, keys, gateway.FeedbackFilter{})
		}),
		refsReplacedBy: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryRef], error) {
			return r.ListMemoryRefsGrouped(ctx, gateway.RefsBySupersededBy, keys, gateway.RefFilter{}, p)
		}, func(ctx context.Context, keys []string) (map[string]int, error) {
			return r.CountMemoryRefsGrouped(ctx, gateway.RefsBySupersededBy, keys, gateway.RefFilter{})
		}),
	}
}

// idLoader batches lookups by id. What a look-ahead loaded (prefetch) is
// answered from its cache, missing ids included, without a statement.
type idLoader[T any] struct {
	fetch  func(ctx context.Context, ids []string) (map[string]T, error)
	loader *dataloadgen.Loader[string, T]

	// What prefetch loaded: values, and ids found missing.
	mu      sync.Mutex
	values  map[string]T
	missing map[string]bool
}

func newIDLoader[T any](fetch func(ctx context.Context, ids []string) (map[string]T, error), opts ...dataloadgen.Option) *idLoader[T] {
	return &idLoader[T]{fetch: fetch, loader: dataloadgen.NewMappedLoader(fetch, opts...), values: map[string]T{}, missing: map[string]bool{}}
}

// Load returns the item with id, batched with the other loads of its level.
func (l *idLoader[T]) Load(ctx context.Context, id string) (T, error) {
	l.mu.Lock()
	gone := l.missing[id]
	l.mu.Unlock()
	if gone {
		var zero T
		return zero, dataloadgen.ErrNotFound
	}
	return l.loader.Load(ctx, id)
}

// loadThunk starts a batched load of id and returns the wait for it, so a
// resolver can start two loads of one level before waiting for either.
func (l *idLoader[T]) loadThunk(ctx context.Context, id string) func() (T, error) {
	l.mu.Lock()
	gone := l.missing[id]
	l.mu.Unlock()
	if gone {
		return func() (T, error) {
			var zero T
			return zero, dataloadgen.ErrNotFound
		}
	}
	return l.loader.LoadThunk(ctx, id)
}

// prefetch returns the items with ids, fetching in one statement those no
// earlier prefetch of the request loaded, and keeps the answers (absent ids
// too) for the resolvers' loads.
func (l *idLoader[T]) prefetch(ctx context.Context, ids []string) (map[string]T, error) {
	ids = distinct(ids)
	l.mu.Lock()
	var unknown []string
	for _, id := range ids {
		if _, ok := l.values[id]; !ok && !l.missing[id] {
			unknown = append(unknown, id)
		}
	}
	l.mu.Unlock()
	if len(unknown) > 0 {
		found, err := l.fetch(ctx, unknown)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		for _, id := range unknown {
			if v, ok := found[id]; ok {
				l.values[id] = v
				l.loader.Prime(id, v)
			} else {
				l.missing[id] = true
			}
		}
		l.mu.Unlock()
	}
	out := make(map[string]T, len(ids))
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if v, ok := l.values[id]; ok {
			out[id] = v
		}
	}
	return out, nil
}

func distinct(keys []string) []string {
	seen := make(map[string]struct{}, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		if _, ok := seen[k]; !ok && k != "" {
			seen[k] = struct{}{}
			out = append(out, k)
		}
	}
	return out
}

type pageFetch[T any] func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[T], error)

// countFetch counts each key's children; every key is in the answer.
type countFetch func(ctx context.Context, keys []string) (map[string]int, error)

// bySession adapts a per-workspace grouped fetch to keys that are session
// node ids, which carry their workspace.
func bySession[T any](fetch func(ctx context.Context, workspaceID string, sessionIDs []string, p gateway.PageRequest) (map[string]gateway.Page[T], error)) pageFetch[T] {
	return func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[T], error) {
		return perWorkspace(ctx, keys, func(ctx context.Context, ws string, sessions []string) (map[string]gateway.Page[T], error) {
			return fetch(ctx, ws, sessions, p)
		})
	}
}

// countBySession is bySession for a grouped count.
func countBySession(fetch func(ctx context.Context, workspaceID string, sessionIDs []string) (map[string]int, error)) countFetch {
	return func(ctx context.Context, keys []string) (map[string]int, error) {
		return perWorkspace(ctx, keys, fetch)
	}
}

// perWorkspace splits session node ids by workspace, fetches each
// workspace's sessions, and answers by session node id.
func perWorkspace[V any](ctx context.Context, keys []string, fetch func(ctx context.Context, workspaceID string, sessionIDs []string) (map[string]V, error)) (map[string]V, error) {
	byWorkspace := map[string][]string{}
	for _, key := range keys {
		ws, sess, ok := gateway.ParseSessionNodeID(key)
		if !ok {
			return nil, fmt.Errorf("malformed session id %q", key)
		}
		byWorkspace[ws] = append(byWorkspace[ws], sess)
	}
	out := make(map[string]V, len(keys))
	for ws, sessions := range byWorkspace {
		found, err := fetch(ctx, ws, sessions)
		if err != nil {
			return nil, err
		}
		for sess, v := range found {
			out[gateway.SessionNodeID(ws, sess)] = v
		}
	}
	return out, nil
}

// pagedLoader batches "one page of children" lookups, and the children's
// totals. Parents asking for the same page shape share one batch;
// different shapes get their own.
type pagedLoader[T any] struct {
	wait   time.Duration
	fetch  pageFetch[T]
	mu     sync.Mutex
	byPage map[pageShape]*dataloadgen.Loader[string, gateway.Page[T]]
	// primed are the pages prefetch loaded, per shape.
	primed map[pageShape]map[string]gateway.Page[T]
	// totals count each parent's children, whatever the page.
	totals *idLoader[int]
}

// pageShape is what a page request asks, as a comparable key.
type pageShape struct {
	backward bool
	size     int
	cursorTS int64
	cursorID string
}

func newPagedLoader[T any](wait time.Duration, fetch pageFetch[T], count countFetch) *pagedLoader[T] {
	return &pagedLoader[T]{wait: wait, fetch: fetch, byPage: map[pageShape]*dataloadgen.Loader[string, gateway.Page[T]]{},
		primed: map[pageShape]map[string]gateway.Page[T]{}, totals: newIDLoader(count, dataloadgen.WithWait(wait))}
}

func (l *pagedLoader[T]) load(ctx context.Context, key string, p gateway.PageRequest) (gateway.Page[T], error) {
	l.mu.Lock()
	loader := l.shapeLocked(p)
	l.mu.Unlock()
	return loader.Load(ctx, key)
}

func shapeOf(p gateway.PageRequest) pageShape {
	shape, cursor := pageShape{size: p.First}, p.After
	if p.Backward {
		shape, cursor = pageShape{backward: true, size: p.Last}, p.Before
	}
	if cursor != nil {
		shape.cursorTS, shape.cursorID = cursor.CreatedAt.UnixNano(), cursor.ID
	}
	return shape
}

// shapeLocked returns the loader of one page shape; l.mu is held.
func (l *pagedLoader[T]) shapeLocked(p gateway.PageRequest) *dataloadgen.Loader[string, gateway.Page[T]] {
	shape := shapeOf(p)
	loader := l.byPage[shape]
	if loader == nil {
		loader = dataloadgen.NewMappedLoader(func(ctx context.Context, keys []string) (map[string]gateway.Page[T], error) {
			return l.fetch(ctx, keys, p)
		}, dataloadgen.WithWait(l.wait))
		l.byPage[shape] = loader
	}
	return loader
}

// prefetchTotals counts the children of every key not counted yet, in one
// statement, for the resolvers' loads.
func (l *pagedLoader[T]) prefetchTotals(ctx context.Context, keys []string) error {
	_, err := l.totals.prefetch(ctx, keys)
	return err
}

// prefetch returns the page of every key, fetching in one statement those no
// earlier prefetch of the request loaded, and keeps them (empty pages too)
// for the resolvers' loads.
func (l *pagedLoader[T]) prefetch(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[T], error) {
	keys = distinct(keys)
	shape := shapeOf(p)
	l.mu.Lock()
	primed := l.primed[shape]
	if primed == nil {
		primed = map[string]gateway.Page[T]{}
		l.primed[shape] = primed
	}
	var unknown []string
	for _, k := range keys {
		if _, ok := primed[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	l.mu.Unlock()
	if len(unknown) > 0 {
		pages, err := l.fetch(ctx, unknown, p)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		loader := l.shapeLocked(p)
		for _, k := range unknown {
			page, ok := pages[k]
			if !ok {
				page = gateway.EmptyPage[T](p)
			}
			primed[k] = page
			loader.Prime(k, page)
		}
		l.mu.Unlock()
	}
	out := make(map[string]gateway.Page[T], len(keys))
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		out[k] = primed[k]
	}
	return out, nil
}
