package resolvers

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/graph/model"
)

func encodeCursor(createdAt time.Time, id string) string { return gateway.EncodeCursor(createdAt, id) }

func decodeCursor(s string) (*gateway.Cursor, error) { return gateway.DecodeCursor(s) }

// pagingRequest validates the Relay arguments of a list, root or nested,
// which pages in either direction.
func pagingRequest(first *int, after *string, last *int, before *string) (gateway.PageRequest, error) {
	hasAfter, hasBefore := after != nil && *after != "", before != nil && *before != ""
	if err := gateway.CheckPagingDirection(first != nil, hasAfter, last != nil, hasBefore); err != nil {
		return gateway.PageRequest{}, err
	}
	var afterCursor, beforeCursor *gateway.Cursor
	var err error
	if hasAfter {
		if afterCursor, err = gateway.DecodeCursorOf("after", *after); err != nil {
			return gateway.PageRequest{}, err
		}
	}
	if hasBefore {
		if beforeCursor, err = gateway.DecodeCursorOf("before", *before); err != nil {
			return gateway.PageRequest{}, err
		}
	}
	return gateway.NewPagingRequest(first, afterCursor, last, beforeCursor)
}

// paging holds a connection field's Relay arguments.
type paging struct {
	first  *int
	after  *string
	last   *int
	before *string
}

// request validates the arguments as a root list's are validated.
func (a paging) request() (gateway.PageRequest, error) {
	return pagingRequest(a.first, a.after, a.last, a.before)
}

// nestedPage loads one page of a parent's children and, when the
// connection's selection asks for it, their total.
func nestedPage[T any](ctx context.Context, l *pagedLoader[T], key string, args paging) (gateway.Page[T], *int, error) {
	p, err := args.request()
	if err != nil {
		return gateway.Page[T]{}, nil, err
	}
	return loadPage(ctx, l, key, p)
}

// loadPage loads a page and, when selected, the total; both loads start
// before either is awaited, so they share the level's batching wait.
func loadPage[T any](ctx context.Context, l *pagedLoader[T], key string, p gateway.PageRequest) (gateway.Page[T], *int, error) {
	var total func() (int, error)
	if countsWanted(ctx).Total {
		total = l.totals.loadThunk(ctx, key)
	}
	page, err := l.load(ctx, key, p)
	if err != nil || total == nil {
		return page, nil, err
	}
	n, err := total()
	if err != nil {
		return gateway.Page[T]{}, nil, err
	}
	return page, &n, nil
}

// sessionPagingRequest is pagingRequest for the sessions list, whose
// cursors name a workspace and a session.
func sessionPagingRequest(first *int, after *string, last *int, before *string) (gateway.PageRequest, error) {
	p, err := pagingRequest(first, after, last, before)
	if err != nil {
		return p, err
	}
	for field, c := range map[string]*gateway.Cursor{"after": p.After, "before": p.Before} {
		if c == nil {
			continue
		}
		if _, _, err := gateway.SplitSessionCursorID(field, c.ID); err != nil {
			return gateway.PageRequest{}, err
		}
	}
	return p, nil
}

func sessionCursor(s gateway.SessionInfo) string {
	return encodeCursor(s.CreatedAt, gateway.SessionCursorID(s.WorkspaceID, s.SessionID))
}

func pageInfo[T any](page gateway.Page[T], cursorOf func(T) string) *model.PageInfo {
	info := &model.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: page.HasPreviousPage}
	if n := len(page.Items); n > 0 {
		start, end := cursorOf(page.Items[0]), cursorOf(page.Items[n-1])
		info.StartCursor, info.EndCursor = &start, &end
	}
	return info
}

func refCursor(r gateway.MemoryRef) string           { return encodeCursor(r.CreatedAt, r.ID) }
func jobCursor(j gateway.CommitJob) string           { return encodeCursor(j.CreatedAt, j.ID) }
func eventCursor(e gateway.OutboxEvent) string       { return encodeCursor(e.CreatedAt, e.ID) }
func auditCursor(a gateway.AuditEntry) string        { return encodeCursor(a.CreatedAt, a.ID) }
func feedbackCursor(f gateway.MemoryFeedback) string { return encodeCursor(f.CreatedAt, f.ID) }

// edges builds the edges and page info of a connection.
func edges[T, E any](page gateway.Page[T], cursorOf func(T) string, edge func(string, *T) E) ([]E, *model.PageInfo) {
	out := make([]E, len(page.Items))
	for i := range page.Items {
		out[i] = edge(cursorOf(page.Items[i]), &page.Items[i])
	}
	return out, pageInfo(page, cursorOf)
}

func refConnection(page gateway.Page[gateway.MemoryRef]) *model.MemoryRefConnection {
	e, info := edges(page, refCursor, func(c string, n *gateway.MemoryRef) model.MemoryRefEdge {
		return model.MemoryRefEdge{Cursor: c, Node: n}
	})
	return &model.MemoryRefConnection{Edges: e, PageInfo: info}
}

func jobConnection(page gateway.Page[gateway.CommitJob]) *model.CommitJobConnection {
	e, info := edges(page, jobCursor, func(c string, n *gateway.CommitJob) model.CommitJobEdge {
		return model.CommitJobEdge{Cursor: c, Node: n}
	})
	return &model.CommitJobConnection{Edges: e, PageInfo: info}
}

// anyJobConnection is a page of jobs of every kind, each as its own type.
func anyJobConnection(page gateway.Page[gateway.CommitJob]) *model.JobConnection {
	e, info := edges(page, jobCursor, func(c string, n *gateway.CommitJob) model.JobEdge {
		return model.JobEdge{Cursor: c, Node: gateway.AsJob(*n)}
	})
	return &model.JobConnection{Edges: e, PageInfo: info}
}

func eventConnection(page gateway.Page[gateway.OutboxEvent]) *model.OutboxEventConnection {
	e, info := edges(page, eventCursor, func(c string, n *gateway.OutboxEvent) model.OutboxEventEdge {
		return model.OutboxEventEdge{Cursor: c, Node: n}
	})
	return &model.OutboxEventConnection{Edges: e, PageInfo: info}
}

func auditConnection(page gateway.Page[gateway.AuditEntry]) *model.AuditEntryConnection {
	e, info := edges(page, auditCursor, func(c string, n *gateway.AuditEntry) model.AuditEntryEdge {
		return model.AuditEntryEdge{Cursor: c, Node: n}
	})
	return &model.AuditEntryConnection{Edges: e, PageInfo: info}
}

func feedbackConnection(page gateway.Page[gateway.MemoryFeedback]) *model.MemoryFeedbackConnection {
	e, info := edges(page, feedbackCursor, func(c string, n *gateway.MemoryFeedback) model.MemoryFeedbackEdge {
		return model.MemoryFeedbackEdge{Cursor: c, Node: n}
	})
	return &model.MemoryFeedbackConnection{Edges: e, PageInfo: info}
}

// countsWanted reads which counts a root list's selection asks for, so a
// count costs its statement only when selected (fragments included: with no
// type named, every fragment's fields are collected).
func countsWanted(ctx context.Context) gateway.CountRequest {
	var want gateway.CountRequest
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		switch f.Name {
		case "totalCount":
			want.Total = true
		case "statusCounts":
			want.ByStatus = true
		}
	}
	return want
}

// The statuses in the order statusCounts lists them: the way through a
// job's, an event's or a delivery's life, then its ends.
var (
	jobStatusOrder      = []gateway.JobStatus{gateway.JobAccepted, gateway.JobRunning, gateway.JobSuccess, gateway.JobPartialSuccess, gateway.JobFailed}
	outboxStatusOrder   = []gateway.OutboxStatus{gateway.OutboxPending, gateway.OutboxProcessing, gateway.OutboxSuccess, gateway.OutboxSkipped, gateway.OutboxDeadLetter}
	deliveryStatusOrder = []gateway.WebhookDeliveryStatus{gateway.WebhookPending, gateway.WebhookSuccess, gateway.WebhookDeadLetter}
)

// statusCounts lists every status with its count, zeros included; nil when
// the counts were not asked for.
func statusCounts[S ~string, C any](counts map[S]int, order []S, count func(S, int) C) []C {
	if counts == nil {
		return nil
	}
	out := make([]C, len(order))
	for i, s := range order {
		out[i] = count(s, counts[s])
	}
	return out
}

func jobStatusCounts(counts map[gateway.JobStatus]int) []model.CommitJobStatusCount {
	return statusCounts(counts, jobStatusOrder, func(s gateway.JobStatus, n int) model.CommitJobStatusCount {
		return model.CommitJobStatusCount{Status: s, Count: n}
	})
}

func outboxStatusCounts(counts map[gateway.OutboxStatus]int) []model.OutboxEventStatusCount {
	return statusCounts(counts, outboxStatusOrder, func(s gateway.OutboxStatus, n int) model.OutboxEventStatusCount {
		return model.OutboxEventStatusCount{Status: s, Count: n}
	})
}

func deliveryStatusCounts(counts map[gateway.WebhookDeliveryStatus]int) []model.WebhookDeliveryStatusCount {
	return statusCounts(counts, deliveryStatusOrder, func(s gateway.WebhookDeliveryStatus, n int) model.WebhookDeliveryStatusCount {
		return model.WebhookDeliveryStatusCount{Status: s, Count: n}
	})
}
