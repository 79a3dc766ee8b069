package persistence

import (
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/namespace"
)

// Every list is ordered newest first by (created_at, id) and paged with a
// keyset cursor on the same pair, which every list index covers.

func applyCursor(q *bun.SelectQuery, alias string, after *gateway.Cursor) *bun.SelectQuery {
	if after == nil {
		return q
	}
	return q.Where("("+alias+".created_at, "+alias+".id) < (?, ?)", after.CreatedAt, after.ID)
}

func listPage[T any, R record[T]](ctx context.Context, db bun.IDB, alias string, filter func(*bun.SelectQuery) *bun.SelectQuery, p gateway.PageRequest) (gateway.Page[T], error) {
	if p.Backward {
		return listPageBackward[T, R](ctx, db, alias, filter, p)
	}
	var rows []R
	q := filter(db.NewSelect().Model(&rows))
	q = applyCursor(q, alias, p.After).
		OrderExpr(alias + ".created_at DESC, " + alias + ".id DESC").
		Limit(p.First + 1)
	if err := q.Scan(ctx); err != nil {
		return gateway.Page[T]{}, fmt.Errorf("error listing: %w", err)
	}
	hasNext := len(rows) > p.First
	if hasNext {
		rows = rows[:p.First]
	}
	return gateway.Page[T]{Items: toDomain[T](rows), HasNextPage: hasNext, HasPreviousPage: p.After != nil}, nil
}

// listPageBackward reads the Last items before p.Before oldest first, one
// more to learn whether older ones exist, and returns them newest first.
func listPageBackward[T any, R record[T]](ctx context.Context, db bun.IDB, alias string, filter func(*bun.SelectQuery) *bun.SelectQuery, p gateway.PageRequest) (gateway.Page[T], error) {
	var rows []R
	q := filter(db.NewSelect().Model(&rows))
	if p.Before != nil {
		q = q.Where("("+alias+".created_at, "+alias+".id) > (?, ?)", p.Before.CreatedAt, p.Before.ID)
	}
	q = q.OrderExpr(alias + ".created_at ASC, " + alias + ".id ASC").Limit(p.Last + 1)
	if err := q.Scan(ctx); err != nil {
		return gateway.Page[T]{}, fmt.Errorf("error listing: %w", err)
	}
	hasPrevious := len(rows) > p.Last
	if hasPrevious {
		rows = rows[:p.Last]
	}
	slices.Reverse(rows)
	return gateway.Page[T]{Items: toDomain[T](rows), HasNextPage: p.Before != nil, HasPreviousPage: hasPrevious}, nil
}

// listGrouped returns one page of each parent's children in one query,
// using ROW_NUMBER() over a partition per parent (both dialects have window
// functions): the first items after p.After or, paging backward, the last
// items before p.Before, each page newest first.
func listGrouped[T any, R record[T]](ctx context.Context, db *DB, alias, groupColumn string, keys []string, keyOf func(T) string, filter func(*bun.SelectQuery) *bun.SelectQuery, p gateway.PageRequest) (map[string]gateway.Page[T], error) {
	out := make(map[string]gateway.Page[T], len(keys))
	for _, k := range keys {
		out[k] = gateway.EmptyPage[T](p)
	}
	if len(keys) == 0 {
		return out, nil
	}
	col := alias + "." + groupColumn
	order, size := "DESC", p.First
	if p.Backward {
		// Backward, each partition is numbered from the oldest item (or
		// from the one just newer than the cursor) and reversed below.
		order, size = "ASC", p.Last
	}
	// inList: a page of parents as a literal IN list was planned, on a
	// large table not yet analyzed, as a scan of every child.
	inner := db.NewSelect().Model((*R)(nil)).
		ColumnExpr(alias + ".*").
		ColumnExpr("ROW_NUMBER() OVER (PARTITION BY " + col + " ORDER BY " + alias + ".created_at " + order + ", " + alias + ".id " + order + ") AS rn").
		Where(db.sql.inList(col, keys))
	inner = filter(inner)
	if p.Backward {
		if p.Before != nil {
			inner = inner.Where("("+alias+".created_at, "+alias+".id) > (?, ?)", p.Before.CreatedAt, p.Before.ID)
		}
	} else {
		inner = applyCursor(inner, alias, p.After)
	}
	var rows []R
	err := db.NewSelect().
		TableExpr("(?) AS "+alias, inner).
		ColumnExpr(alias+".*").
		Where(alias+".rn <= ?", size+1).
		OrderExpr(col+", "+alias+".rn").
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("error listing by %s: %w", groupColumn, err)
	}
	for _, r := range rows {
		item := r.domain()
		key := keyOf(item)
		page := out[key]
		switch {
		case r.rowNumber() <= size:
			page.Items = append(page.Items, item)
		case p.Backward:
			page.HasPreviousPage = true
		default:
			page.HasNextPage = true
		}
		out[key] = page
	}
	if p.Backward {
		for _, page := range out {
			slices.Reverse(page.Items)
		}
	}
	return out, nil
}

// countGrouped counts each parent's children in one statement, under the
// same filter as listGrouped; every key is present, 0 when it has none.
func countGrouped[R any](ctx context.Context, db *DB, alias, groupColumn string, keys []string, filter func(*bun.SelectQuery) *bun.SelectQuery) (map[string]int, error) {
	out := make(map[string]int, len(keys))
	for _, k := range keys {
		out[k] = 0
	}
	if len(keys) == 0 {
		return out, nil
	}
	col := alias + "." + groupColumn
	var rows []struct {
		GroupKey string
		N        int
	}
	q := filter(db.NewSelect().Model((*R)(nil))).
		ColumnExpr(col + " AS group_key, count(*) AS n").
		Where(db.sql.inList(col, keys)).
		GroupExpr(col)
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("error counting by %s: %w", groupColumn, err)
	}
	for _, r := range rows {
		out[r.GroupKey] = r.N
	}
	return out, nil
}

// applyScope narrows a query to a caller's read scope: its workspace, its
// namespace prefixes, and its user and agent when set. userCol/agentCol
// may be "" for tables without them.
func applyScope(q *bun.SelectQuery, s gateway.ReadScope, alias, userCol, agentCol string) *bun.SelectQuery {
	if !s.Restricted {
		return q
	}
	if s.WorkspaceID != gateway.AllWorkspaces {
		q = q.Where(alias+".workspace_id = ?", s.WorkspaceID)
	}
	if s.UserID != "" && userCol != "" {
		q = q.Where(alias+"."+userCol+" = ?", s.UserID)
	}
	if s.AgentID != "" && agentCol != "" {
		q = q.Where(alias+"."+agentCol+" = ?", s.AgentID)
	}
	if s.Namespaces == nil {
		return q
	}
	if len(s.Namespaces) == 0 {
		return q.Where("1 = 0")
	}
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		for _, ns := range s.Namespaces {
			cond, args := namespace.Condition(alias+".namespace", ns)
			q = q.WhereOr(cond, args...)
		}
		return q
	})
}

func applyRefFilter(q *bun.SelectQuery, f gateway.RefFilter) *bun.SelectQuery {
	q = applyScope(q, f.Scope, "r", "user_id", "agent_id")
	q = whereEq(q, "r.workspace_id", f.WorkspaceID)
	q = whereEq(q, "r.user_id", f.UserID)
	q = whereEq(q, "r.agent_id", f.AgentID)
	q = whereEq(q, "r.session_id", f.SessionID)
	q = whereEq(q, "r.gateway_id", f.GatewayID)
	if f.JobID != "" {
		// A commit's refs have the job id as gateway id: the gateway index
		// serves the lookup.
		q = q.Where("r.gateway_id = ?", f.JobID).Where("r.job_id = ?", f.JobID)
	}
	q = whereEq(q, "r.outbox_event_id", f.OutboxEventID)
	q = whereEq(q, "r.backend", string(f.Backend))
	q = whereEq(q, "r.ref_type", string(f.RefType))
	q = whereEq(q, "r.status", string(f.Status))
	return whereNamespace(q, "r.namespace", f.Namespace)
}

func applyJobFilter(q *bun.SelectQuery, f gateway.JobFilter, d sqlDialect) *bun.SelectQuery {
	q = applyScope(q, f.Scope, "j", "user_id", "agent_id")
	// The job of applied feedback is stored as a commit, marked in its
	// metadata.
	feedbackRouting := "COALESCE(" + d.metadataText("j.metadata", "kind") + ", '') = ?"
	switch f.Kind {
	case gateway.JobKindErasure:
		q = q.Where("j.kind = ?", gateway.JobKindErasure)
	case gateway.JobKindFeedbackRouting:
		q = q.Where("j.kind = ?", gateway.JobKindCommit).Where(feedbackRouting, gateway.JobKindApplyFeedback)
	case gateway.JobKindCommit:
		q = q.Where("j.kind = ?", gateway.JobKindCommit).Where("NOT ("+feedbackRouting+")", gateway.JobKindApplyFeedback)
	default:
		if !f.AllKinds {
			// Commit job lists hold commits and feedback routing; an
			// erasure's job is reached through its request or jobs.
			q = q.Where("j.kind = ?", gateway.JobKindCommit)
		}
	}
	q = whereEq(q, "j.workspace_id", f.WorkspaceID)
	q = whereEq(q, "j.user_id", f.UserID)
	q = whereEq(q, "j.agent_id", f.AgentID)
	q = whereEq(q, "j.session_id", f.SessionID)
	q = whereEq(q, "j.status", string(f.Status))
	q = whereTimeRange(q, "j.created_at", f.CreatedAt)
	return whereNamespace(q, "j.namespace", f.Namespace)
}

// whereTimeRange keeps the rows whose column lies in r: from inclusive, to
// exclusive.
func whereTimeRange(q *bun.SelectQuery, column string, r *gateway.TimeRange) *bun.SelectQuery {
	if r == nil {
		return q
	}
	if r.From != nil {
		q = q.Where(column+" >= ?", r.From.UTC())
	}
	if r.To != nil {
		q = q.Where(column+" < ?", r.To.UTC())
	}
	return q
}

func applyEventFilter(q *bun.SelectQuery, f gateway.EventFilter) *bun.SelectQuery {
	q = applyScope(q, f.Scope, "e", "user_id", "agent_id")
	q = whereEq(q, "e.workspace_id", f.WorkspaceID)
	q = whereEq(q, "e.session_id", f.SessionID)
	q = whereEq(q, "e.job_id", f.JobID)
	q = whereEq(q, "e.backend", string(f.Backend))
	q = whereEq(q, "e.operation", string(f.Operation))
	q = whereEq(q, "e.last_error_code", f.ErrorCode)
	return whereEq(q, "e.status", string(f.Status))
}

func applyAuditFilter(q *bun.SelectQuery, f gateway.AuditFilter) *bun.SelectQuery {
	q = applyScope(q, f.Scope, "a", "actor_user_id", "actor_agent_id")
	q = whereEq(q, "a.workspace_id", f.WorkspaceID)
	q = whereEq(q, "a.action", f.Action)
	q = whereEq(q, "a.target_type", f.TargetType)
	q = whereEq(q, "a.target_id", f.TargetID)
	q = whereEq(q, "a.session_id", f.SessionID)
	q = whereEq(q, "a.job_id", f.JobID)
	q = whereEq(q, "a.gateway_id", f.GatewayID)
	if f.Since != nil {
		q = q.Where("a.created_at >= ?", f.Since.UTC())
	}
	if f.Until != nil {
		q = q.Where("a.created_at < ?", f.Until.UTC())
	}
	return q
}

func applyFeedbackFilter(q *bun.SelectQuery, f gateway.FeedbackFilter) *bun.SelectQuery {
	q = applyScope(q, f.Scope, "f", "user_id", "agent_id")
	q = whereEq(q, "f.workspace_id", f.WorkspaceID)
	q = whereEq(q, "f.user_id", f.UserID)
	q = whereEq(q, "f.memory_ref_id", f.MemoryRefID)
	q = whereEq(q, "f.feedback_type", string(f.FeedbackType))
	switch {
	case f.Decided == nil:
	case *f.Decided:
		q = q.Where("f.status <> ?", gateway.FeedbackReceived)
	default:
		q = q.Where("f.status = ?", gateway.FeedbackReceived)
	}
	return whereEq(q, "f.status", string(f.Status))
}

func whereEq(q *bun.SelectQuery, column, value string) *bun.SelectQuery {
	if value == "" {
		return q
	}
	return q.Where(column+" = ?", value)
}

// ListMemoryRefs implements gateway.ReadStore.
func (s *Store) ListMemoryRefs(ctx context.Context, f gateway.RefFilter, p gateway.PageRequest) (gateway.Page[gateway.MemoryRef], error) {
	return listPage[gateway.MemoryRef, refRow](ctx, s.db, "r", func(q *bun.SelectQuery) *bun.SelectQuery { return applyRefFilter(q, f) }, p)
}

// ListCommitJobs implements gateway.ReadStore.
func (s *Store) ListCommitJobs(ctx context.Context, f gateway.JobFilter, p gateway.PageRequest) (gateway.Page[gateway.CommitJob], error) {
	return listPage[gateway.CommitJob, jobRow](ctx, s.db, "j", func(q *bun.SelectQuery) *bun.SelectQuery { return applyJobFilter(q, f, s.db.sql) }, p)
}

// ListOutboxEvents implements gateway.ReadStore.
func (s *Store) ListOutboxEvents(ctx context.Context, f gateway.EventFilter, p gateway.PageRequest) (gateway.Page[gateway.OutboxEvent], error) {
	return listPage[gateway.OutboxEvent, eventRow](ctx, s.db, "e", func(q *bun.SelectQuery) *bun.SelectQuery { return applyEventFilter(q, f) }, p)
}

// ListAuditEntries implements gateway.ReadStore.
func (s *Store) ListAuditEntries(ctx context.Context, f gateway.AuditFilter, p gateway.PageRequest) (gateway.Page[gateway.AuditEntry], error) {
	return listPage[gateway.AuditEntry, auditRow](ctx, s.db, "a", func(q *bun.SelectQuery) *bun.SelectQuery { return applyAuditFilter(q, f) }, p)
}

// ListFeedback implements gateway.ReadStore.
func (s *Store) ListFeedback(ctx context.Context, f gateway.FeedbackFilter, p gateway.PageRequest) (gateway.Page[gateway.MemoryFeedback], error) {
	return listPage[gateway.MemoryFeedback, feedbackRow](ctx, s.db, "f", func(q *bun.SelectQuery) *bun.SelectQuery { return applyFeedbackFilter(q, f) }, p)
}

// refGrouping is how refs group by a parent: the column holding the key,
// the key of a ref, and the filter.
func refGrouping(by gateway.RefGroup, f gateway.RefFilter) (string, func(gateway.MemoryRef) string, func(*bun.SelectQuery) *bun.SelectQuery, error) {
	filter := func(q *bun.SelectQuery) *bun.SelectQuery { return applyRefFilter(q, f) }
	switch by {
	case gateway.RefsByGateway:
		return "gateway_id", func(r gateway.MemoryRef) string { return r.GatewayID }, filter, nil
	case gateway.RefsByJob:
		// Grouped on gateway_id (a commit's refs carry the job id there),
		// which is indexed; job_id must match too.
		f.JobID = ""
		return "gateway_id", func(r gateway.MemoryRef) string { return r.GatewayID }, func(q *bun.SelectQuery) *bun.SelectQuery {
			return applyRefFilter(q, f).Where("r.job_id = r.gateway_id")
		}, nil
	case gateway.RefsByOutboxEvent:
		return "outbox_event_id", func(r gateway.MemoryRef) string { return derefString(r.OutboxEventID) }, filter, nil
	case gateway.RefsBySession:
		return "session_id", func(r gateway.MemoryRef) string { return r.SessionID }, filter, nil
	case gateway.RefsBySupersededBy:
		return "superseded_by_ref_id", func(r gateway.MemoryRef) string { return derefString(r.SupersededByRefID) }, filter, nil
	}
	return "", nil, nil, fmt.Errorf("unknown ref grouping %q", by)
}

// ListMemoryRefsGrouped implements gateway.ReadStore.
func (s *Store) ListMemoryRefsGrouped(ctx context.Context, by gateway.RefGroup, keys []string, f gateway.RefFilter, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryRef], error) {
	column, keyOf, filter, err := refGrouping(by, f)
	if err != nil {
		return nil, err
	}
	return listGrouped[gateway.MemoryRef, refRow](ctx, s.db, "r", column, keys, keyOf, filter, p)
}

// CountMemoryRefsGrouped implements gateway.ReadStore.
func (s *Store) CountMemoryRefsGrouped(ctx context.Context, by gateway.RefGroup, keys []string, f gateway.RefFilter) (map[string]int, error) {
	column, _, filter, err := refGrouping(by, f)
	if err != nil {
		return nil, err
	}
	return countGrouped[refRow](ctx, s.db, "r", column, keys, filter)
}

// ListCommitJobsGrouped implements gateway.ReadStore.
func (s *Store) ListCommitJobsGrouped(ctx context.Context, by gateway.JobGroup, keys []string, f gateway.JobFilter, p gateway.PageRequest) (map[string]gateway.Page[gateway.CommitJob], error) {
	if by != gateway.JobsBySession {
		return nil, fmt.Errorf("unknown job grouping %q", by)
	}
	return listGrouped[gateway.CommitJob, jobRow](ctx, s.db, "j", "session_id", keys,
		func(j gateway.CommitJob) string { return j.SessionID },
		func(q *bun.SelectQuery) *bun.SelectQuery { return applyJobFilter(q, f, s.db.sql) }, p)
}

// CountCommitJobsGrouped implements gateway.ReadStore.
func (s *Store) CountCommitJobsGrouped(ctx context.Context, by gateway.JobGroup, keys []string, f gateway.JobFilter) (map[string]int, error) {
	if by != gateway.JobsBySession {
		return nil, fmt.Errorf("unknown job grouping %q", by)
	}
	return countGrouped[jobRow](ctx, s.db, "j", "session_id", keys,
		func(q *bun.SelectQuery) *bun.SelectQuery { return applyJobFilter(q, f, s.db.sql) })
}

// ListOutboxEventsGrouped implements gateway.ReadStore.
func (s *Store) ListOutboxEventsGrouped(ctx context.Context, by gateway.EventGroup, keys []string, f gateway.EventFilter, p gateway.PageRequest) (map[string]gateway.Page[gateway.OutboxEvent], error) {
	if by != gateway.EventsByJob {
		return nil, fmt.Errorf("unknown event grouping %q", by)
	}
	return listGrouped[gateway.OutboxEvent, eventRow](ctx, s.db, "e", "job_id", keys,
		func(e gateway.OutboxEvent) string { return derefString(e.JobID) },
		func(q *bun.SelectQuery) *bun.SelectQuery { return applyEventFilter(q, f) }, p)
}

// CountOutboxEventsGrouped implements gateway.ReadStore.
func (s *Store) CountOutboxEventsGrouped(ctx context.Context, by gateway.EventGroup, keys []string, f gateway.EventFilter) (map[string]int, error) {
	if by != gateway.EventsByJob {
		return nil, fmt.Errorf("unknown event grouping %q", by)
	}
	return countGrouped[eventRow](ctx, s.db, "e", "job_id", keys,
		func(q *bun.SelectQuery) *bun.SelectQuery { return applyEventFilter(q, f) })
}

// auditGrouping is how audit entries group by a parent.
func auditGrouping(by gateway.AuditGroup) (string, func(gateway.AuditEntry) string, error) {
	switch by {
	case gateway.AuditByJob:
		return "job_id", func(a gateway.AuditEntry) string { return derefString(a.JobID) }, nil
	case gateway.AuditBySession:
		return "session_id", func(a gateway.AuditEntry) string { return derefString(a.SessionID) }, nil
	case gateway.AuditByTarget:
		return "target_id", func(a gateway.AuditEntry) string { return a.TargetID }, nil
	}
	return "", nil, fmt.Errorf("unknown audit grouping %q", by)
}

// ListAuditEntriesGrouped implements gateway.ReadStore.
func (s *Store) ListAuditEntriesGrouped(ctx context.Context, by gateway.AuditGroup, keys []string, f gateway.AuditFilter, p gateway.PageRequest) (map[string]gateway.Page[gateway.AuditEntry], error) {
	column, keyOf, err := auditGrouping(by)
	if err != nil {
		return nil, err
	}
	return listGrouped[gateway.AuditEntry, auditRow](ctx, s.db, "a", column, keys, keyOf,
		func(q *bun.SelectQuery) *bun.SelectQuery { return applyAuditFilter(q, f) }, p)
}

// CountAuditEntriesGrouped implements gateway.ReadStore.
func (s *Store) CountAuditEntriesGrouped(ctx context.Context, by gateway.AuditGroup, keys []string, f gateway.AuditFilter) (map[string]int, error) {
	column, _, err := auditGrouping(by)
	if err != nil {
		return nil, err
	}
	return countGrouped[auditRow](ctx, s.db, "a", column, keys,
		func(q *bun.SelectQuery) *bun.SelectQuery { return applyAuditFilter(q, f) })
}

// ListFeedbackGrouped implements gateway.ReadStore.
func (s *Store) ListFeedbackGrouped(ctx context.Context, by gateway.FeedbackGroup, keys []string, f gateway.FeedbackFilter, p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryFeedback], error) {
	if by != gateway.FeedbackByRef {
		return nil, fmt.Errorf("unknown feedback grouping %q", by)
	}
	return listGrouped[gateway.MemoryFeedback, feedbackRow](ctx, s.db, "f", "memory_ref_id", keys,
		func(f gateway.MemoryFeedback) string { return f.MemoryRefID },
		func(q *bun.SelectQuery) *bun.SelectQuery { return applyFeedbackFilter(q, f) }, p)
}

// CountFeedbackGrouped implements gateway.ReadStore.
func (s *Store) CountFeedbackGrouped(ctx context.Context, by gateway.FeedbackGroup, keys []string, f gateway.FeedbackFilter) (map[string]int, error) {
	if by != gateway.FeedbackByRef {
		return nil, fmt.Errorf("unknown feedback grouping %q", by)
	}
	return countGrouped[feedbackRow](ctx, s.db, "f", "memory_ref_id", keys,
		func(q *bun.SelectQuery) *bun.SelectQuery { return applyFeedbackFilter(q, f) })
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
