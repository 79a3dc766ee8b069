package resolvers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// nestedPage is one page of a nested connection as the API answers it.
type nestedPage struct {
	TotalCount *int
	Edges      []struct {
		Cursor string
		Node   struct{ ID string }
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
}

// seedNested writes, in workspace "ws", session "nested" with 7 refs (the
// last of them another user's) of which 4 share one gateway id, and a job
// of that session with an event per backend.
func seedNested(t *testing.T, store *persistence.Store) (refs []gateway.MemoryRef, job gateway.CommitJob) {
	t.Helper()
	ctx := context.Background()
	shared := pt.Ref()
	kinds := []struct {
		backend backendtype.Backend
		refType backendtype.RefType
	}{
		{backendtype.BackendLocal, backendtype.RefTypeMessageMemory},
		{backendtype.BackendOpenViking, backendtype.RefTypeSessionArchive},
		{backendtype.BackendEverMemOS, backendtype.RefTypeLongTermMemory},
		{backendtype.BackendEverMemOS, backendtype.RefTypeMessageMemory},
	}
	for i := range 7 {
		refs = append(refs, pt.Ref(func(r *gateway.MemoryRef) {
			r.SessionID = "nested"
			if i < len(kinds) {
				r.GatewayID, r.Backend, r.RefType = shared.GatewayID, kinds[i].backend, kinds[i].refType
				r.ID = gateway.RefID(r.GatewayID, r.Backend, r.RefType, "", "", "")
			}
			if i == 3 {
				r.CreatedAt = refs[2].CreatedAt // a tie, broken by the id
			}
			if i == 6 {
				r.UserID = "someone-else"
			}
		}))
	}
	require.NoError(t, store.SaveIngest(ctx, refs, pt.Audit("nested")))
	job = pt.Job(func(j *gateway.CommitJob) { j.SessionID = "nested" })
	var events []gateway.OutboxEvent
	for _, b := range []backendtype.Backend{backendtype.BackendLocal, backendtype.BackendOpenViking, backendtype.BackendEverMemOS} {
		events = append(events, pt.Event(job, b))
	}
	_, _, err := store.CreateCommitJob(ctx, job, events, pt.Audit(job.ID))
	require.NoError(t, err)
	return refs, job
}

// TestNestedConnectionsPageBothWaysAndCount: a session's refs, a job's
// events and a ref's siblings page forward (first, after) and backward
// (last, before) through the same items in the same order as the root list
// of the same items, with the root list's cursors; their totalCount counts
// every page within the key's scope (a ref is not its own sibling).
func TestNestedConnectionsPageBothWaysAndCount(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		store := persistence.NewStore(db)
		refs, job := seedNested(t, store)

		// read runs query with the paging arguments and returns the
		// connection at path.
		read := func(p *gateway.Principal, query string, vars map[string]any, path ...string) nestedPage {
			t.Helper()
			_, resp := h.doAs(t, p, query, vars)
			require.Empty(t, resp.Errors)
			var data map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(resp.Data, &data))
			raw := data[path[0]]
			for _, key := range path[1:] {
				var next map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(raw, &next))
				raw = next[key]
			}
			var page nestedPage
			require.NoError(t, json.Unmarshal(raw, &page))
			return page
		}
		// walk pages a connection to its end and returns its ids and cursors
		// in list order, checking its totalCount on every page.
		walk := func(p *gateway.Principal, query string, vars map[string]any, backward bool, total int, path ...string) (ids, cursors []string) {
			t.Helper()
			var cursor *string
			for pages := 0; ; pages++ {
				require.Less(t, pages, 20)
				v := map[string]any{"first": 2, "after": cursor}
				if backward {
					v = map[string]any{"last": 2, "before": cursor}
				}
				for k, x := range vars {
					v[k] = x
				}
				page := read(p, query, v, path...)
				require.NotNil(t, page.TotalCount, "totalCount on every page")
				require.Equal(t, total, *page.TotalCount)
				var gotIDs, gotCursors []string
				for _, e := range page.Edges {
					gotIDs, gotCursors = append(gotIDs, e.Node.ID), append(gotCursors, e.Cursor)
				}
				if backward {
					require.Equal(t, cursor != nil, page.PageInfo.HasNextPage)
					ids, cursors = append(gotIDs, ids...), append(gotCursors, cursors...)
					if !page.PageInfo.HasPreviousPage {
						return ids, cursors
					}
					cursor = page.PageInfo.StartCursor
					continue
				}
				require.Equal(t, cursor != nil, page.PageInfo.HasPreviousPage)
				ids, cursors = append(ids, gotIDs...), append(cursors, gotCursors...)
				if !page.PageInfo.HasNextPage {
					return ids, cursors
				}
				cursor = page.PageInfo.EndCursor
			}
		}
		const pageArgs = `$first: Int, $after: String, $last: Int, $before: String`
		const args = `first: $first, after: $after, last: $last, before: $before`
		const sel = ` { totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }`
		const conn = `(` + args + `)` + sel

		// A session's refs, against the root list of the session's refs.
		rootIDs, rootCursors := walk(nil, `query(`+pageArgs+`) { memoryRefs(filter: {sessionId: "nested"}, `+args+`)`+sel+` }`, nil, false, 7, "memoryRefs")
		require.Len(t, rootIDs, 7)
		sessionQuery := `query(` + pageArgs + `) { session(workspaceId: "ws", sessionId: "nested") { refs` + conn + ` } }`
		for _, backward := range []bool{false, true} {
			ids, cursors := walk(nil, sessionQuery, nil, backward, 7, "session", "refs")
			require.Equal(t, rootIDs, ids, "backward %v: the root list's items, in its order", backward)
			require.Equal(t, rootCursors, cursors, "backward %v: the root list's cursors", backward)
		}
		user := gateway.Principal{Name: "user", WorkspaceID: "ws", UserID: "user", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessRead)}
		mine, _ := walk(&user, sessionQuery, nil, true, 6, "session", "refs")
		require.Equal(t, rootIDs[1:], mine, "another user's ref is neither listed nor counted")

		// A job's events, against the root list of the job's events.
		rootEvents, _ := walk(nil, `query(`+pageArgs+`) { outboxEvents(filter: {jobId: "`+job.ID+`"}, `+args+`)`+sel+` }`, nil, false, 3, "outboxEvents")
		jobQuery := `query($id: ID!, ` + pageArgs + `) { commitJob(id: $id) { outboxEvents` + conn + ` } }`
		for _, backward := range []bool{false, true} {
			ids, _ := walk(nil, jobQuery, map[string]any{"id": job.ID}, backward, 3, "commitJob", "outboxEvents")
			require.Equal(t, rootEvents, ids, "backward %v", backward)
		}
		nodeQuery := `query($id: ID!, ` + pageArgs + `) { node(id: $id) { ... on Job { outboxEvents` + conn + ` } } }`
		ids, _ := walk(nil, nodeQuery, map[string]any{"id": job.ID}, true, 3, "node", "outboxEvents")
		require.Equal(t, rootEvents, ids, "through the Job interface")

		// A ref's siblings: the other refs of its gateway id.
		siblingQuery := `query($id: ID!, ` + pageArgs + `) { memoryRef(id: $id) { siblings` + conn + ` } }`
		for _, backward := range []bool{false, true} {
			ids, _ := walk(nil, siblingQuery, map[string]any{"id": refs[1].ID}, backward, 3, "memoryRef", "siblings")
			var want []string
			for _, id := range rootIDs {
				if id == refs[0].ID || id == refs[2].ID || id == refs[3].ID {
					want = append(want, id)
				}
			}
			require.Equal(t, want, ids, "backward %v: a ref is not its own sibling", backward)
		}

		// Several parents in one query: one page and one total each.
		var many struct {
			MemoryRefs struct {
				Edges []struct {
					Node struct {
						ID       string
						Siblings nestedPage
						Feedback nestedPage
					}
				}
			}
		}
		h.data(t, `{ memoryRefs(filter: {sessionId: "nested"}, first: 10) { edges { node { id
			siblings(last: 1) { totalCount edges { node { id } } }
			feedback(last: 5) { totalCount } } } } }`, nil, &many)
		require.Len(t, many.MemoryRefs.Edges, 7)
		for _, e := range many.MemoryRefs.Edges {
			shared := e.Node.ID == refs[0].ID || e.Node.ID == refs[1].ID || e.Node.ID == refs[2].ID || e.Node.ID == refs[3].ID
			want := map[bool]int{true: 3, false: 0}[shared]
			require.Equal(t, want, *e.Node.Siblings.TotalCount, e.Node.ID)
			require.Len(t, e.Node.Siblings.Edges, min(want, 1))
			require.Zero(t, *e.Node.Feedback.TotalCount)
		}
	})
}

// TestNestedConnectionTotalsOnlyWhenSelected: a nested list's totalCount
// costs one statement for a whole page of parents, and nothing when it is
// not selected.
func TestNestedConnectionTotalsOnlyWhenSelected(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		store := persistence.NewStore(db)
		seedNested(t, store)
		for i := range 3 {
			job := pt.Job(func(j *gateway.CommitJob) { j.SessionID = fmt.Sprintf("counted-%d", i) })
			_, _, err := store.CreateCommitJob(context.Background(), job, []gateway.OutboxEvent{pt.Event(job, backendtype.BackendLocal)}, pt.Audit(job.ID))
			require.NoError(t, err)
		}
		const without = `{ commitJobs(first: 10) { edges { node { id outboxEvents(last: 1) { edges { node { id } } } } } } }`
		const with = `{ commitJobs(first: 10) { edges { node { id outboxEvents(last: 1) { totalCount edges { node { id } } } } } } }`
		base, _ := h.countedQuery(t, without, nil)
		counted, data := h.countedQuery(t, with, nil)
		require.Equal(t, base+1, counted, "one count statement for every job's events")
		var out struct {
			CommitJobs struct {
				Edges []struct {
					Node struct{ OutboxEvents nestedPage }
				}
			}
		}
		require.NoError(t, json.Unmarshal(data, &out))
		require.Len(t, out.CommitJobs.Edges, 4)
		totals := map[int]int{}
		for _, e := range out.CommitJobs.Edges {
			totals[*e.Node.OutboxEvents.TotalCount]++
		}
		require.Equal(t, map[int]int{1: 3, 3: 1}, totals)
	})
}

// TestNestedPagingArgumentsAreValidated: every nested connection refuses
// mixed directions, bad sizes and bad cursors as the root lists do, with
// BAD_USER_INPUT naming the argument.
func TestNestedPagingArgumentsAreValidated(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		refs, job := seedNested(t, persistence.NewStore(db))
		parents := map[string]string{
			"Session.refs":           `session(workspaceId: "ws", sessionId: "nested") { refs(%s) { totalCount } }`,
			"Session.jobs":           `session(workspaceId: "ws", sessionId: "nested") { jobs(%s) { totalCount } }`,
			"Session.auditEntries":   `session(workspaceId: "ws", sessionId: "nested") { auditEntries(%s) { totalCount } }`,
			"CommitJob.outboxEvents": `commitJob(id: "` + job.ID + `") { outboxEvents(%s) { totalCount } }`,
			"CommitJob.refs":         `commitJob(id: "` + job.ID + `") { refs(%s) { totalCount } }`,
			"CommitJob.auditEntries": `commitJob(id: "` + job.ID + `") { auditEntries(%s) { totalCount } }`,
			"MemoryRef.siblings":     `memoryRef(id: "` + refs[0].ID + `") { siblings(%s) { totalCount } }`,
			"MemoryRef.feedback":     `memoryRef(id: "` + refs[0].ID + `") { feedback(%s) { totalCount } }`,
			"OutboxEvent.refs":       `outboxEvents(first: 1) { edges { node { refs(%s) { totalCount } } } }`,
		}
		tests := []struct{ name, args, field string }{
			{"first and last", "first: 2, last: 2", "last"},
			{"after and before", `after: "x", before: "y"`, "before"},
			{"first with before", `first: 2, before: "y"`, "before"},
			{"last with after", `last: 2, after: "x"`, "after"},
			{"negative last", "last: -1", "last"},
			{"last over the maximum", "last: 1000", "last"},
			{"bad before cursor", `last: 2, before: "not-a-cursor"`, "before"},
		}
		for name, parent := range parents {
			for _, tt := range tests {
				e := h.onlyError(t, `{ `+fmt.Sprintf(parent, tt.args)+` }`, nil)
				require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"], "%s %s: %+v", name, tt.name, e)
				require.Equal(t, tt.field, e.Extensions["field"], "%s %s", name, tt.name)
			}
		}
	})
}
