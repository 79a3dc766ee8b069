package persistence

import (
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
)

func (r sessionRow) info() gateway.SessionInfo {
	return gateway.SessionInfo{WorkspaceID: r.WorkspaceID, SessionID: r.SessionID, UserID: r.UserID, CreatedAt: r.CreatedAt}
}

// applySessionFilter keeps the sessions the filter names that have a ref or
// a job inside the scope (and of the filter's agent) — the rule by which
// session() finds one (SessionExists) — so the list shows a session exactly
// when the caller may open it.
func applySessionFilter(db bun.IDB, q *bun.SelectQuery, f gateway.SessionFilter) *bun.SelectQuery {
	if f.Scope.Restricted && f.Scope.WorkspaceID != gateway.AllWorkspaces {
		q = q.Where("s.workspace_id = ?", f.Scope.WorkspaceID)
	}
	q = whereEq(q, "s.workspace_id", f.WorkspaceID)
	q = whereEq(q, "s.user_id", f.UserID)
	q = whereTimeRange(q, "s.created_at", f.CreatedAt)
	refs := applyScope(db.NewSelect().Model((*refRow)(nil)).ColumnExpr("1"), f.Scope, "r", "user_id", "agent_id").
		Where("r.workspace_id = s.workspace_id").Where("r.session_id = s.session_id")
	jobs := applyScope(db.NewSelect().Model((*jobRow)(nil)).ColumnExpr("1"), f.Scope, "j", "user_id", "agent_id").
		Where("j.workspace_id = s.workspace_id").Where("j.session_id = s.session_id")
	refs, jobs = whereEq(refs, "r.agent_id", f.AgentID), whereEq(jobs, "j.agent_id", f.AgentID)
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("EXISTS (?)", refs).WhereOr("EXISTS (?)", jobs)
	})
}

// ListSessions implements gateway.ReadStore. The keyset is (created_at,
// workspace_id, session_id): session ids are unique per workspace only.
func (s *Store) ListSessions(ctx context.Context, f gateway.SessionFilter, p gateway.PageRequest) (gateway.Page[gateway.SessionInfo], error) {
	var rows []sessionRow
	q := applySessionFilter(s.db, s.db.NewSelect().Model(&rows), f)
	cursor, size, order := p.After, p.First, "DESC"
	compare := "<"
	if p.Backward {
		cursor, size, order, compare = p.Before, p.Last, "ASC", ">"
	}
	if cursor != nil {
		ws, sessionID, err := gateway.SplitSessionCursorID("cursor", cursor.ID)
		if err != nil {
			return gateway.Page[gateway.SessionInfo]{}, err
		}
		q = q.Where("(s.created_at, s.workspace_id, s.session_id) "+compare+" (?, ?, ?)", cursor.CreatedAt, ws, sessionID)
	}
	q = q.OrderExpr("s.created_at " + order + ", s.workspace_id " + order + ", s.session_id " + order).Limit(size + 1)
	if err := q.Scan(ctx); err != nil {
		return gateway.Page[gateway.SessionInfo]{}, fmt.Errorf("error listing sessions: %w", err)
	}
	more := len(rows) > size
	if more {
		rows = rows[:size]
	}
	if p.Backward {
		slices.Reverse(rows)
	}
	page := gateway.Page[gateway.SessionInfo]{Items: make([]gateway.SessionInfo, len(rows))}
	for i, r := range rows {
		page.Items[i] = r.info()
	}
	if p.Backward {
		page.HasPreviousPage, page.HasNextPage = more, p.Before != nil
	} else {
		page.HasNextPage, page.HasPreviousPage = more, p.After != nil
	}
	return page, nil
}

// CountSessions implements gateway.ReadStore.
func (s *Store) CountSessions(ctx context.Context, f gateway.SessionFilter) (int, error) {
	return countList[sessionRow](ctx, s.db, func(q *bun.SelectQuery) *bun.SelectQuery { return applySessionFilter(s.db, q, f) })
}
