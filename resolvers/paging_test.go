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

// TestPagingArgumentsAreValidated: a root list pages forward (first, after)
// or backward (last, before); mixing the directions, a negative or oversized
// page and a bad cursor are refused with BAD_USER_INPUT naming the argument.
func TestPagingArgumentsAreValidated(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		tests := []struct {
			name, args, field string
		}{
			{"first and last", "first: 2, last: 2", "last"},
			{"after and before", `after: "x", before: "y"`, "before"},
			{"first with before", `first: 2, before: "y"`, "before"},
			{"last with after", `last: 2, after: "x"`, "after"},
			{"negative last", "last: -1", "last"},
			{"last over the maximum", "last: 1000", "last"},
			{"negative first", "first: -1", "first"},
			{"bad before cursor", `last: 2, before: "not-a-cursor"`, "before"},
			{"bad after cursor", `first: 2, after: "not-a-cursor"`, "after"},
		}
		for _, tt := range tests {
			for _, list := range []string{"jobs", "outboxEvents", "memoryRefs", "webhookDeliveries"} {
				e := h.onlyError(t, `{ `+list+`(`+tt.args+`) { pageInfo { hasNextPage } } }`, nil)
				require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"], "%s %s: %+v", list, tt.name, e)
				require.Equal(t, tt.field, e.Extensions["field"], "%s %s", list, tt.name)
			}
		}
	})
}

// TestListTotalsAndStatusCounts: a root list's totalCount and statusCounts
// count what the filter matches across every page, within the key's scope
// (another user's jobs count for no one else), statusCounts leaving out the
// filter's own status; backward pages hold the oldest items; a nested list
// has a total but no status counts.
func TestListTotalsAndStatusCounts(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		store := persistence.NewStore(db)
		ctx := context.Background()
		statuses := []gateway.JobStatus{gateway.JobAccepted, gateway.JobFailed, gateway.JobFailed, gateway.JobSuccess, gateway.JobFailed}
		var ids []string
		for i, status := range statuses {
			job := pt.Job(func(j *gateway.CommitJob) {
				j.Status, j.SessionID, j.UserID = status, fmt.Sprintf("s%d", i), "alice"
				if i == 4 {
					j.UserID = "bob"
				}
			})
			ids = append(ids, job.ID)
			_, _, err := store.CreateCommitJob(ctx, job, []gateway.OutboxEvent{pt.Event(job, backendtype.BackendLocal)}, pt.Audit(job.ID))
			require.NoError(t, err)
		}
		const query = `query($status: CommitJobStatus, $last: Int) { jobs(filter: {workspaceId: "ws", status: $status}, last: $last) {
			totalCount statusCounts { status count }
			edges { node { id outboxEvents(first: 1) { totalCount statusCounts { count } } } }
			pageInfo { hasNextPage hasPreviousPage }
		} }`
		type result struct {
			Jobs struct {
				TotalCount   *int
				StatusCounts []struct {
					Status string
					Count  int
				}
				Edges []struct {
					Node struct {
						ID           string
						OutboxEvents struct {
							TotalCount   *int
							StatusCounts []struct{ Count int }
						}
					}
				}
				PageInfo struct{ HasNextPage, HasPreviousPage bool }
			}
		}
		countsOf := func(r result) map[string]int {
			out := map[string]int{}
			for _, c := range r.Jobs.StatusCounts {
				out[c.Status] = c.Count
			}
			return out
		}
		read := func(p *gateway.Principal, vars map[string]any) result {
			_, resp := h.doAs(t, p, query, vars)
			require.Empty(t, resp.Errors)
			var r result
			require.NoError(t, json.Unmarshal(resp.Data, &r))
			return r
		}

		all := read(nil, map[string]any{"last": 2})
		require.Equal(t, 5, *all.Jobs.TotalCount)
		require.Equal(t, map[string]int{"ACCEPTED": 1, "RUNNING": 0, "SUCCESS": 1, "PARTIAL_SUCCESS": 0, "FAILED": 3}, countsOf(all))
		require.Len(t, all.Jobs.StatusCounts, 5, "every status, zeros included")
		require.Equal(t, []string{ids[1], ids[0]}, []string{all.Jobs.Edges[0].Node.ID, all.Jobs.Edges[1].Node.ID}, "last 2: the oldest, newest first")
		require.True(t, all.Jobs.PageInfo.HasPreviousPage)
		require.False(t, all.Jobs.PageInfo.HasNextPage)
		require.Equal(t, 1, *all.Jobs.Edges[0].Node.OutboxEvents.TotalCount, "a nested list counts its parent's items")
		require.Nil(t, all.Jobs.Edges[0].Node.OutboxEvents.StatusCounts, "a nested list has no status counts")

		_, resp := h.do(t, `query { jobs { ...Totals } } fragment Totals on JobConnection { totalCount statusCounts { count } }`, nil)
		require.Empty(t, resp.Errors)
		require.JSONEq(t, `{"jobs": {"totalCount": 5, "statusCounts": [{"count": 1}, {"count": 0}, {"count": 1}, {"count": 0}, {"count": 3}]}}`, string(resp.Data), "counts selected through a fragment")

		failed := read(nil, map[string]any{"status": "FAILED"})
		require.Equal(t, 3, *failed.Jobs.TotalCount)
		require.Equal(t, countsOf(all), countsOf(failed), "status counts leave out the filter's status")

		alice := gateway.Principal{Name: "alice", WorkspaceID: "ws", UserID: "alice", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessRead)}
		mine := read(&alice, nil)
		require.Equal(t, 4, *mine.Jobs.TotalCount, "bob's job is not counted for alice")
		require.Equal(t, 2, countsOf(mine)["FAILED"])
	})
}

// TestSessionsList: sessions lists what the key may open with session(),
// newest first, with its owner, total and the session's own graph; a time
// range that ends before it begins is refused naming the field.
func TestSessionsList(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		for i, user := range []string{"alice", "bob", "alice"} {
			var ignored any
			h.data(t, ingestMutation, turnVars(func(in map[string]any) {
				in["userId"], in["sessionId"], in["turnId"] = user, fmt.Sprintf("listed-%d", i), fmt.Sprintf("t-%d", i)
			}), &ignored)
		}
		const query = `query($filter: SessionFilter) { sessions(filter: $filter, first: 10) {
			totalCount edges { userId startedAt node { id sessionId refs(first: 5) { edges { node { id } } } } }
		} }`
		type result struct {
			Sessions struct {
				TotalCount *int
				Edges      []struct {
					UserID string
					Node   struct {
						SessionID string
						Refs      struct {
							Edges []struct{ Node struct{ ID string } }
						}
					}
				}
			}
		}
		read := func(p *gateway.Principal, filter map[string]any) result {
			_, resp := h.doAs(t, p, query, map[string]any{"filter": filter})
			require.Empty(t, resp.Errors)
			var r result
			require.NoError(t, json.Unmarshal(resp.Data, &r))
			return r
		}
		all := read(nil, map[string]any{"workspaceId": "ws"})
		require.Equal(t, 3, *all.Sessions.TotalCount)
		require.Equal(t, "listed-2", all.Sessions.Edges[0].Node.SessionID, "newest first")
		require.Equal(t, "alice", all.Sessions.Edges[0].UserID)
		require.NotEmpty(t, all.Sessions.Edges[0].Node.Refs.Edges)

		bobs := read(nil, map[string]any{"userId": "bob"})
		require.Equal(t, 1, *bobs.Sessions.TotalCount)

		alice := gateway.Principal{Name: "alice", WorkspaceID: "ws", UserID: "alice", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessRead)}
		mine := read(&alice, nil)
		require.Equal(t, 2, *mine.Sessions.TotalCount, "bob's session is neither listed nor counted for alice")
		for _, e := range mine.Sessions.Edges {
			require.Equal(t, "alice", e.UserID)
		}
		other := gateway.Principal{Name: "elsewhere", WorkspaceID: "other", Role: gateway.RoleDashboard, Grants: grants("", gateway.AccessRead)}
		require.Zero(t, *read(&other, map[string]any{"workspaceId": "ws"}).Sessions.TotalCount)

		for _, list := range []string{"sessions", "jobs"} {
			e := h.onlyError(t, `{ `+list+`(filter: {createdAt: {from: "2026-12-07T10:00:00Z", to: "2026-12-07T09:00:00Z"}}) { totalCount } }`, nil)
			require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"], "%s: %+v", list, e)
			require.Equal(t, "filter.createdAt.to", e.Extensions["field"], list)
		}
		e := h.onlyError(t, `{ sessions(last: 2, before: "YzF8MjAyNi0xMi0wN1QxMDowMDowMFp8eA") { totalCount } }`, nil)
		require.Equal(t, "before", e.Extensions["field"], "a cursor that names no session: %+v", e)
	})
}
