package persistence_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// TestStoreListSessions: the sessions list holds the sessions with a ref or
// a job in the scope, newest first, filtered by owner, agent and time, paged
// both ways and counted under the same rule; jobs filter by time too.
func TestStoreListSessions(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		type session struct{ id, user, agent, namespace string }
		sessions := []session{
			{"s0", "alice", "helper", "support"},
			{"s1", "alice", "other", "billing"},
			{"s2", "bob", "helper", "support"},
			{"s3", "alice", "helper", "support"},
			{"s4", "alice", "helper", "support"}, // claimed, nothing written yet
		}
		for i, s := range sessions {
			at := pt.BaseTime.Add(time.Duration(i) * time.Hour)
			_, err := store.ClaimSession(ctx, gateway.SessionClaim{WorkspaceID: "ws", SessionID: s.id, UserID: s.user, AgentID: s.agent, Namespace: s.namespace, At: at})
			require.NoError(t, err)
			if s.id == "s4" {
				continue
			}
			ref := pt.Ref(func(r *gateway.MemoryRef) {
				r.SessionID, r.UserID, r.AgentID, r.Namespace, r.CreatedAt = s.id, s.user, s.agent, s.namespace, at
			})
			require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
		}
		ids := func(page gateway.Page[gateway.SessionInfo]) []string {
			var out []string
			for _, s := range page.Items {
				out = append(out, s.SessionID)
			}
			return out
		}
		list := func(f gateway.SessionFilter, p gateway.PageRequest) gateway.Page[gateway.SessionInfo] {
			page, err := store.ListSessions(ctx, f, p)
			require.NoError(t, err)
			n, err := store.CountSessions(ctx, f)
			require.NoError(t, err)
			if !page.HasNextPage && !page.HasPreviousPage {
				require.Equal(t, len(page.Items), n, "the count matches the list")
			}
			return page
		}
		all := list(gateway.SessionFilter{WorkspaceID: "ws"}, gateway.PageRequest{First: 10})
		require.Equal(t, []string{"s3", "s2", "s1", "s0"}, ids(all), "newest first; a session with nothing in it is not listed")
		require.Equal(t, "alice", all.Items[0].UserID)
		require.Equal(t, pt.BaseTime.Add(3*time.Hour), all.Items[0].CreatedAt.UTC())

		tests := []struct {
			name   string
			filter gateway.SessionFilter
			want   []string
		}{
			{"owner", gateway.SessionFilter{UserID: "bob"}, []string{"s2"}},
			{"agent", gateway.SessionFilter{AgentID: "other"}, []string{"s1"}},
			{"time range", gateway.SessionFilter{CreatedAt: &gateway.TimeRange{From: ptr(pt.BaseTime.Add(time.Hour)), To: ptr(pt.BaseTime.Add(3 * time.Hour))}}, []string{"s2", "s1"}},
			{"key of alice", gateway.SessionFilter{Scope: gateway.ReadScope{Restricted: true, WorkspaceID: "ws", UserID: "alice"}}, []string{"s3", "s1", "s0"}},
			{"key of alice's helper on support", gateway.SessionFilter{Scope: gateway.ReadScope{Restricted: true, WorkspaceID: "ws", UserID: "alice", AgentID: "helper", Namespaces: []string{"support"}}}, []string{"s3", "s0"}},
			{"key of another workspace", gateway.SessionFilter{Scope: gateway.ReadScope{Restricted: true, WorkspaceID: "other"}}, nil},
		}
		for _, tt := range tests {
			require.Equal(t, tt.want, ids(list(tt.filter, gateway.PageRequest{First: 10})), tt.name)
		}

		// Paging both ways gives the same order.
		var forward []string
		var after *gateway.Cursor
		for {
			page := list(gateway.SessionFilter{}, gateway.PageRequest{First: 3, After: after})
			forward = append(forward, ids(page)...)
			if !page.HasNextPage {
				break
			}
			last := page.Items[len(page.Items)-1]
			after = &gateway.Cursor{CreatedAt: last.CreatedAt, ID: gateway.SessionCursorID(last.WorkspaceID, last.SessionID)}
		}
		require.Equal(t, ids(all), forward)
		oldest := list(gateway.SessionFilter{}, gateway.PageRequest{Backward: true, Last: 3})
		require.Equal(t, []string{"s2", "s1", "s0"}, ids(oldest))
		require.True(t, oldest.HasPreviousPage)
		first := oldest.Items[0]
		newer := list(gateway.SessionFilter{}, gateway.PageRequest{Backward: true, Last: 3, Before: &gateway.Cursor{CreatedAt: first.CreatedAt, ID: gateway.SessionCursorID(first.WorkspaceID, first.SessionID)}})
		require.Equal(t, []string{"s3"}, ids(newer))
		require.False(t, newer.HasPreviousPage)
		require.True(t, newer.HasNextPage)
	})
}

// TestStoreJobsByTime: jobs filter by the time they were accepted, from
// inclusive, to exclusive.
func TestStoreJobsByTime(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		var times []time.Time
		for i := range 4 {
			job := pt.Job(func(j *gateway.CommitJob) {
				j.SessionID = fmt.Sprintf("timed-%d", i)
				j.CreatedAt = pt.BaseTime.Add(time.Duration(i) * time.Hour)
			})
			times = append(times, job.CreatedAt)
			_, _, err := store.CreateCommitJob(ctx, job, nil, pt.Audit(job.ID))
			require.NoError(t, err)
		}
		f := gateway.JobFilter{CreatedAt: &gateway.TimeRange{From: &times[1], To: &times[3]}}
		page, err := store.ListCommitJobs(ctx, f, gateway.PageRequest{First: 10})
		require.NoError(t, err)
		require.Len(t, page.Items, 2)
		require.Equal(t, times[2], page.Items[0].CreatedAt.UTC())
		require.Equal(t, times[1], page.Items[1].CreatedAt.UTC())
		n, err := store.CountCommitJobs(ctx, gateway.JobFilter{CreatedAt: &gateway.TimeRange{From: &times[2]}})
		require.NoError(t, err)
		require.Equal(t, 2, n)
	})
}
