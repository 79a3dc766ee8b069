package persistence_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// walkGrouped pages one key of a grouped list to its end, forward with
// first or backward with last, and returns the ids in list order.
func walkGrouped[T any](t *testing.T, key string, size int, backward bool, list func(gateway.PageRequest) (map[string]gateway.Page[T], error), cursorOf func(T) gateway.Cursor) []string {
	t.Helper()
	var ids []string
	var cursor *gateway.Cursor
	for pages := 0; ; pages++ {
		require.Less(t, pages, 20)
		p := gateway.PageRequest{First: size, After: cursor}
		if backward {
			p = gateway.PageRequest{Backward: true, Last: size, Before: cursor}
		}
		pages, err := list(p)
		require.NoError(t, err)
		page, ok := pages[key]
		require.True(t, ok, "every key has a page")
		require.LessOrEqual(t, len(page.Items), size)
		var got []string
		for _, it := range page.Items {
			got = append(got, cursorOf(it).ID)
		}
		if backward {
			require.Equal(t, cursor != nil, page.HasNextPage, "a page before a cursor has one after it")
			ids = append(got, ids...)
			if !page.HasPreviousPage {
				return ids
			}
			c := cursorOf(page.Items[0])
			cursor = &c
			continue
		}
		require.Equal(t, cursor != nil, page.HasPreviousPage, "a page after a cursor has one before it")
		ids = append(ids, got...)
		if !page.HasNextPage {
			return ids
		}
		c := cursorOf(page.Items[len(page.Items)-1])
		cursor = &c
	}
}

// TestStoreGroupedPagingAndCounts: a nested list (one page per parent in
// one statement) pages forward and backward through the same items in the
// same order as the root list filtered on the parent, and its grouped count
// matches, within the scope, 0 for a parent without children.
func TestStoreGroupedPagingAndCounts(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		var refs []gateway.MemoryRef
		for i := range 9 {
			refs = append(refs, pt.Ref(func(r *gateway.MemoryRef) {
				r.SessionID = fmt.Sprintf("g%d", i%2)
				if i == 6 {
					r.CreatedAt = refs[4].CreatedAt // a tie, broken by the id
				}
				if i == 8 {
					r.UserID = "someone-else"
				}
			}))
		}
		require.NoError(t, store.SaveIngest(ctx, refs, pt.Audit("x")))
		refCursor := func(r gateway.MemoryRef) gateway.Cursor { return gateway.Cursor{CreatedAt: r.CreatedAt, ID: r.ID} }
		keys := []string{"g0", "g1", "none"}
		for _, session := range []string{"g0", "g1"} {
			root, err := store.ListMemoryRefs(ctx, gateway.RefFilter{WorkspaceID: "ws", SessionID: session}, gateway.PageRequest{First: 100})
			require.NoError(t, err)
			var want []string
			for _, r := range root.Items {
				want = append(want, r.ID)
			}
			list := func(p gateway.PageRequest) (map[string]gateway.Page[gateway.MemoryRef], error) {
				return store.ListMemoryRefsGrouped(ctx, gateway.RefsBySession, keys, gateway.RefFilter{WorkspaceID: "ws"}, p)
			}
			for _, size := range []int{1, 2, 3} {
				require.Equal(t, want, walkGrouped(t, session, size, false, list, refCursor), "%s forward by %d", session, size)
				require.Equal(t, want, walkGrouped(t, session, size, true, list, refCursor), "%s backward by %d", session, size)
			}
		}
		oldest, err := store.ListMemoryRefsGrouped(ctx, gateway.RefsBySession, keys, gateway.RefFilter{WorkspaceID: "ws"}, gateway.PageRequest{Backward: true, Last: 2})
		require.NoError(t, err)
		require.Len(t, oldest["g1"].Items, 2)
		require.True(t, oldest["g1"].Items[0].CreatedAt.After(oldest["g1"].Items[1].CreatedAt), "a backward page is newest first")
		require.Equal(t, refs[1].ID, oldest["g1"].Items[1].ID, "last without before ends at the oldest")
		require.Empty(t, oldest["none"].Items)
		require.False(t, oldest["none"].HasNextPage || oldest["none"].HasPreviousPage)

		counts, err := store.CountMemoryRefsGrouped(ctx, gateway.RefsBySession, keys, gateway.RefFilter{WorkspaceID: "ws"})
		require.NoError(t, err)
		require.Equal(t, map[string]int{"g0": 5, "g1": 4, "none": 0}, counts)
		userScope := gateway.ReadScope{Restricted: true, WorkspaceID: "ws", UserID: "user"}
		counts, err = store.CountMemoryRefsGrouped(ctx, gateway.RefsBySession, keys, gateway.RefFilter{Scope: userScope})
		require.NoError(t, err)
		require.Equal(t, map[string]int{"g0": 4, "g1": 4, "none": 0}, counts, "another user's ref is not counted")
		counts, err = store.CountMemoryRefsGrouped(ctx, gateway.RefsByGateway, []string{refs[0].GatewayID}, gateway.RefFilter{})
		require.NoError(t, err)
		require.Equal(t, 1, counts[refs[0].GatewayID])

		// A job's events, by job: paged both ways and counted.
		job := pt.Job()
		other := pt.Job()
		var events []gateway.OutboxEvent
		for i, b := range []backendtype.Backend{backendtype.BackendLocal, backendtype.BackendOpenViking, backendtype.BackendEverMemOS} {
			events = append(events, pt.Event(job, b, func(e *gateway.OutboxEvent) { e.CreatedAt = job.CreatedAt.Add(time.Duration(i) * time.Millisecond) }))
		}
		_, _, err = store.CreateCommitJob(ctx, job, events, pt.Audit(job.ID))
		require.NoError(t, err)
		_, _, err = store.CreateCommitJob(ctx, other, []gateway.OutboxEvent{pt.Event(other, backendtype.BackendLocal)}, pt.Audit(other.ID))
		require.NoError(t, err)
		eventCursor := func(e gateway.OutboxEvent) gateway.Cursor { return gateway.Cursor{CreatedAt: e.CreatedAt, ID: e.ID} }
		listEvents := func(p gateway.PageRequest) (map[string]gateway.Page[gateway.OutboxEvent], error) {
			return store.ListOutboxEventsGrouped(ctx, gateway.EventsByJob, []string{job.ID, other.ID}, gateway.EventFilter{}, p)
		}
		wantEvents := []string{events[2].ID, events[1].ID, events[0].ID}
		require.Equal(t, wantEvents, walkGrouped(t, job.ID, 2, false, listEvents, eventCursor))
		require.Equal(t, wantEvents, walkGrouped(t, job.ID, 2, true, listEvents, eventCursor))
		eventCounts, err := store.CountOutboxEventsGrouped(ctx, gateway.EventsByJob, []string{job.ID, other.ID, "no-job"}, gateway.EventFilter{})
		require.NoError(t, err)
		require.Equal(t, map[string]int{job.ID: 3, other.ID: 1, "no-job": 0}, eventCounts)

		jobCounts, err := store.CountCommitJobsGrouped(ctx, gateway.JobsBySession, []string{job.SessionID}, gateway.JobFilter{WorkspaceID: job.WorkspaceID})
		require.NoError(t, err)
		require.Equal(t, 2, jobCounts[job.SessionID], "both fixtures' jobs share their session")
		auditCounts, err := store.CountAuditEntriesGrouped(ctx, gateway.AuditByTarget, []string{job.ID, "x"}, gateway.AuditFilter{})
		require.NoError(t, err)
		require.Equal(t, map[string]int{job.ID: 1, "x": 1}, auditCounts)
		feedbackCounts, err := store.CountFeedbackGrouped(ctx, gateway.FeedbackByRef, []string{refs[0].ID}, gateway.FeedbackFilter{})
		require.NoError(t, err)
		require.Equal(t, map[string]int{refs[0].ID: 0}, feedbackCounts)

		_, err = store.CountMemoryRefsGrouped(ctx, gateway.RefGroup("nope"), keys, gateway.RefFilter{})
		require.Error(t, err)
	})
}
