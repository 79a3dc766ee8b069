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
	jobs      *dataloadgen.Loader[string, gateway.CommitJob]
	refs      *dataloadgen.Loader[string, gateway.MemoryRef]
	events    *dataloadgen.Loader[string, gateway.OutboxEvent]
	summaries *dataloadgen.Loader[string, gateway.OutboxSummary]
	feedback  *dataloadgen.Loader[string, gateway.MemoryFeedback]
	// webhookEndpoints answers only the caller's workspace's endpoints.
	webhookEndpoints *dataloadgen.Loader[string, gateway.WebhookEndpoint]

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

func withLoaders(ctx context.Context, l *loaders) context.Context {
	return context.WithValue(ctx, loadersKey{}, l)
}

func loadersFrom(ctx context.Context) *loaders {
	l, _ := ctx.Value(loadersKey{}).(*loaders)
	if l == nil {
		panic("resolvers: no dataloaders in context (is the operation middleware installed?)")
	}
	return l
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
		webhookEndpoints: dataloadgen.NewMappedLoader(byID(svc.WebhookEndpointsByIDs), opt),
		jobs:             dataloadgen.NewMappedLoader(byID(r.CommitJobsByIDs), opt),
		refs:             dataloadgen.NewMappedLoader(byID(r.MemoryRefsByIDs), opt),
		events:           dataloadgen.NewMappedLoader(byID(r.OutboxEventsByIDs), opt),
		feedback:         dataloadgen.NewMappedLoader(byID(r.FeedbackByIDs), opt),
		summaries: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []string) (map[string]gateway.OutboxSummary, error) {
			return r.OutboxSummaries(ctx, ids)
		}, opt),
		refsByJob: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryRef], error) {
			return r.ListMemoryRefsGrouped(ctx, gateway.RefsByJob, keys, gateway.RefFilter{}, p)
		}),
		refsByGateway: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryRef], error) {
			return r.ListMemoryRefsGrouped(ctx, gateway.RefsByGateway, keys, gateway.RefFilter{}, p)
		}),
		refsByEvent: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryRef], error) {
			return r.ListMemoryRefsGrouped(ctx, gateway.RefsByOutboxEvent, keys, gateway.RefFilter{}, p)
		}),
		refsBySession: newPagedLoader(wait, bySession(func(ctx context.Context, ws string, sessions []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryRef], error) {
			return r.ListMemoryRefsGrouped(ctx, gateway.RefsBySession, sessions, gateway.RefFilter{WorkspaceID: ws}, p)
		})),
		jobsBySession: newPagedLoader(wait, bySession(func(ctx context.Context, ws string, sessions []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.CommitJob], error) {
			return r.ListCommitJobsGrouped(ctx, gateway.JobsBySession, sessions, gateway.JobFilter{WorkspaceID: ws}, p)
		})),
		eventsByJob: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.OutboxEvent], error) {
			return r.ListOutboxEventsGrouped(ctx, gateway.EventsByJob, keys, gateway.EventFilter{}, p)
		}),
		auditByJob: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.AuditEntry], error) {
			return r.ListAuditEntriesGrouped(ctx, gateway.AuditByJob, keys, gateway.AuditFilter{}, p)
		}),
		auditBySession: newPagedLoader(wait, bySession(func(ctx context.Context, ws string, sessions []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.AuditEntry], error) {
			return r.ListAuditEntriesGrouped(ctx, gateway.AuditBySession, sessions, gateway.AuditFilter{WorkspaceID: ws}, p)
		})),
		feedbackByRef: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryFeedback], error) {
			return r.ListFeedbackGrouped(ctx, gateway.FeedbackByRef, keys, gateway.FeedbackFilter{}, p)
		}),
		refsReplacedBy: newPagedLoader(wait, func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryRef], error) {
			return r.ListMemoryRefsGrouped(ctx, gateway.RefsBySupersededBy, keys, gateway.RefFilter{}, p)
		}),
	}
}

type pageFetch[T any] func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[T], error)

// bySession adapts a per-workspace grouped fetch to keys that are session
// node ids, which carry their workspace.
func bySession[T any](fetch func(ctx context.Context, workspaceID string, sessionIDs []string, p gateway.PageRequest) (map[string]gateway.Page[T], error)) pageFetch[T] {
	return func(ctx context.Context, keys []string, p gateway.PageRequest) (map[string]gateway.Page[T], error) {
		perWorkspace := map[string][]string{}
		for _, key := range keys {
			ws, sess, ok := gateway.ParseSessionNodeID(key)
			if !ok {
				return nil, fmt.Errorf("malformed session id %q", key)
			}
			perWorkspace[ws] = append(perWorkspace[ws], sess)
		}
		out := make(map[string]gateway.Page[T], len(keys))
		for ws, sessions := range perWorkspace {
			pages, err := fetch(ctx, ws, sessions, p)
			if err != nil {
				return nil, err
			}
			for sess, page := range pages {
				out[gateway.SessionNodeID(ws, sess)] = page
			}
		}
		return out, nil
	}
}

// pagedLoader batches "first page of children" lookups. Parents asking for
// the same page shape share one batch; different shapes get their own.
type pagedLoader[T any] struct {
	wait   time.Duration
	fetch  pageFetch[T]
	mu     sync.Mutex
	byPage map[pageShape]*dataloadgen.Loader[string, gateway.Page[T]]
}

type pageShape struct {
	first   int
	afterTS int64
	afterID string
}

func newPagedLoader[T any](wait time.Duration, fetch pageFetch[T]) *pagedLoader[T] {
	return &pagedLoader[T]{wait: wait, fetch: fetch, byPage: map[pageShape]*dataloadgen.Loader[string, gateway.Page[T]]{}}
}

func (l *pagedLoader[T]) load(ctx context.Context, key string, p gateway.PageRequest) (gateway.Page[T], error) {
	shape := pageShape{first: p.First}
	if p.After != nil {
		shape.afterTS, shape.afterID = p.After.CreatedAt.UnixNano(), p.After.ID
	}
	l.mu.Lock()
	loader := l.byPage[shape]
	if loader == nil {
		loader = dataloadgen.NewMappedLoader(func(ctx context.Context, keys []string) (map[string]gateway.Page[T], error) {
			return l.fetch(ctx, keys, p)
		}, dataloadgen.WithWait(l.wait))
		l.byPage[shape] = loader
	}
	l.mu.Unlock()
	return loader.Load(ctx, key)
}
