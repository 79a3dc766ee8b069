package resolvers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestIngestOverGraphQL(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		var first ingestPayload
		h.data(t, ingestMutation, turnVars(), &first)
		got := first.IngestConversationTurn
		require.Equal(t, "SUCCESS", got.Status)
		require.Equal(t, gateway.GatewayID("turn:ws:s1:t1"), got.GatewayID)
		require.False(t, got.Replayed)
		require.Len(t, got.Refs, 1)
		require.Equal(t, "LOCAL", got.Refs[0].Backend)
		require.Equal(t, "MESSAGE_MEMORY", got.Refs[0].RefType)
		require.Equal(t, "SUCCESS", got.Refs[0].Status)

		var again ingestPayload
		h.data(t, ingestMutation, turnVars(), &again)
		require.True(t, again.IngestConversationTurn.Replayed)
		require.Equal(t, got.GatewayID, again.IngestConversationTurn.GatewayID)
		require.Equal(t, got.Refs[0].ID, again.IngestConversationTurn.Refs[0].ID)
		require.Equal(t, 1, count(t, db, "memory_refs"))

		// 50 concurrent identical ingests leave one set of refs.
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				var p ingestPayload
				h.data(t, ingestMutation, turnVars(func(in map[string]any) { in["turnId"] = "t-concurrent" }), &p)
			})
		}
		wg.Wait()
		require.Equal(t, 2, count(t, db, "memory_refs"))
		require.Equal(t, 2, count(t, db, "local_memories"))
	})
}

func TestBadInputIsCodedAndWritesNothing(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db, withServiceConfig(gateway.Config{MaxContentBytes: 100}))
		tests := []struct {
			name   string
			modify func(map[string]any)
			field  string
		}{
			{"empty content", func(in map[string]any) { in["content"] = "   " }, "input.content"},
			{"empty workspace", func(in map[string]any) { in["workspaceId"] = "" }, "input.workspaceId"},
			{"missing workspace", func(in map[string]any) { delete(in, "workspaceId") }, "in.workspaceId"},
			{"content over the limit", func(in map[string]any) { in["content"] = strings.Repeat("é", 51) }, "input.content"},
			{"unknown enum value", func(in map[string]any) { in["role"] = "BOSS" }, "in.role"},
			{"unknown enum in a list", func(in map[string]any) { in["policy"] = map[string]any{"backends": []string{"LOCAL", "NOPE"}} }, "in.policy.backends[1]"},
			{"metadata not an object", func(in map[string]any) { in["metadata"] = "text" }, "input.metadata"},
		}
		for _, tt := range tests {
			e := h.onlyError(t, ingestMutation, turnVars(tt.modify))
			require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"], "%s: %+v", tt.name, e)
			require.Equal(t, tt.field, e.Extensions["field"], tt.name)
			require.Contains(t, e.Message, tt.field, tt.name)
		}
		for _, table := range []string{"memory_refs", "audit_entries", "local_memories"} {
			require.Zero(t, count(t, db, table), table)
		}
	})
}

func TestCommitSessionOverGraphQL(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		const commit = `mutation($in: CommitSessionInput!) { commitSession(input: $in) {
			created job { id status createdRefsCount outboxSummary { totalEvents pendingEvents }
			outboxEvents { edges { node { id backend operation status attemptCount maxAttempts job { id } } } } } } }`
		vars := map[string]any{"in": map[string]any{"workspaceId": "ws", "userId": "u1", "agentId": "a1", "sessionId": "s1", "namespace": "team", "idempotencyKey": "k1"}}
		var out struct {
			CommitSession struct {
				Created bool
				Job     struct {
					ID, Status    string
					OutboxSummary struct{ TotalEvents, PendingEvents int }
					OutboxEvents  struct {
						Edges []struct {
							Node struct {
								ID, Backend, Operation, Status string
								Job                            struct{ ID string }
							}
						}
					}
				}
			}
		}
		h.data(t, commit, vars, &out)
		job := out.CommitSession.Job
		require.True(t, out.CommitSession.Created)
		require.Equal(t, "ACCEPTED", job.Status)
		require.Equal(t, 1, job.OutboxSummary.TotalEvents)
		require.Len(t, job.OutboxEvents.Edges, 1)
		require.Equal(t, "COMMIT_SESSION", job.OutboxEvents.Edges[0].Node.Operation)
		require.Equal(t, job.ID, job.OutboxEvents.Edges[0].Node.Job.ID)

		h.data(t, commit, vars, &out)
		require.False(t, out.CommitSession.Created)
		require.Equal(t, job.ID, out.CommitSession.Job.ID)
		require.Equal(t, 1, count(t, db, "commit_jobs"))
	})
}

func TestGraphConnectedBothWays(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		var ing ingestPayload
		h.data(t, ingestMutation, turnVars(), &ing)
		refID := ing.IngestConversationTurn.Refs[0].ID

		var fb struct {
			RecordMemoryFeedback struct {
				Feedback struct {
					ID, Status string
					Ref        struct{ ID string }
				}
			}
		}
		h.data(t, `mutation($in: RecordMemoryFeedbackInput!) { recordMemoryFeedback(input: $in) { feedback { id status ref { id } } } }`,
			map[string]any{"in": map[string]any{"workspaceId": "ws", "userId": "u1", "agentId": "a1", "namespace": "team",
				"memoryRefId": refID, "feedbackType": "HELPFUL", "sourceEventId": "e1"}}, &fb)
		require.Equal(t, "ACCEPTED", fb.RecordMemoryFeedback.Feedback.Status, "HELPFUL is accepted by the default policy")
		require.Equal(t, refID, fb.RecordMemoryFeedback.Feedback.Ref.ID)

		var out struct {
			Session struct {
				ID   string
				Refs struct {
					Edges []struct {
						Node struct {
							ID       string
							Session  struct{ ID string }
							Feedback struct {
								Edges []struct{ Node struct{ ID string } }
							}
						}
					}
				}
				AuditEntries struct {
					Edges []struct {
						Node struct {
							Action  string
							Session struct{ ID string }
						}
					}
				}
			}
		}
		h.data(t, `{ session(workspaceId: "ws", sessionId: "s1") { id
			refs { edges { node { id session { id } feedback { edges { node { id } } } } } }
			auditEntries { edges { node { action session { id } } } } } }`, nil, &out)
		require.Len(t, out.Session.Refs.Edges, 1)
		require.Equal(t, out.Session.ID, out.Session.Refs.Edges[0].Node.Session.ID)
		require.Len(t, out.Session.Refs.Edges[0].Node.Feedback.Edges, 1)
		require.Len(t, out.Session.AuditEntries.Edges, 2) // ingest + feedback

		// node(id:) resolves every type by its global id.
		for _, id := range []string{refID, fb.RecordMemoryFeedback.Feedback.ID, out.Session.ID} {
			var n struct{ Node struct{ ID string } }
			h.data(t, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id}, &n)
			require.Equal(t, id, n.Node.ID)
		}
		var missing struct{ Node *struct{ ID string } }
		h.data(t, `{ node(id: "ref_doesnotexist") { id } }`, nil, &missing)
		require.Nil(t, missing.Node)

		e := h.onlyError(t, `{ commitJob(id: "gwc_nope") { id } }`, nil)
		require.Equal(t, resolvers.CodeNotFound, e.Extensions["code"])
		e = h.onlyError(t, `{ session(workspaceId: "ws", sessionId: "nope") { id } }`, nil)
		require.Equal(t, resolvers.CodeNotFound, e.Extensions["code"])
	})
}

func TestConnectionsPageWithCursors(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		for i := range 5 {
			var p ingestPayload
			h.data(t, ingestMutation, turnVars(func(in map[string]any) { in["turnId"] = fmt.Sprintf("t%d", i) }), &p)
		}
		type page struct {
			MemoryRefs struct {
				Edges []struct {
					Cursor string
					Node   struct{ ID string }
				}
				PageInfo struct {
					HasNextPage, HasPreviousPage bool
					EndCursor                    *string
				}
			}
		}
		const q = `query($after: String) { memoryRefs(filter: {workspaceId: "ws"}, first: 2, after: $after) {
			edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`
		seen := map[string]bool{}
		var after any
		for range 3 {
			var p page
			h.data(t, q, map[string]any{"after": after}, &p)
			for _, e := range p.MemoryRefs.Edges {
				require.False(t, seen[e.Node.ID])
				seen[e.Node.ID] = true
			}
			if !p.MemoryRefs.PageInfo.HasNextPage {
				break
			}
			after = *p.MemoryRefs.PageInfo.EndCursor
		}
		require.Len(t, seen, 5)

		e := h.onlyError(t, `{ memoryRefs(after: "not-a-cursor") { edges { cursor } } }`, nil)
		require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"])
		require.Equal(t, "after", e.Extensions["field"])
		e = h.onlyError(t, `{ memoryRefs(first: 1000) { edges { cursor } } }`, nil)
		require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"])
		require.Equal(t, "first", e.Extensions["field"])
	})
}

// A dashboard page of jobs with their refs and outbox summaries costs the
// same number of SQL statements for 5 jobs as for 50.
func TestDashboardQueryCostsConstantStatements(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		// A wide batching window: the test measures batching, not timing.
		h := newHarness(t, db, withHandlerConfig(resolvers.HandlerConfig{LoaderWait: 200 * time.Millisecond}))
		store := persistence.NewStore(db)
		ctx := context.Background()
		seed := func(workspace string, jobs int) {
			for range jobs {
				job := pt.Job(func(j *gateway.CommitJob) { j.WorkspaceID = workspace })
				events := []gateway.OutboxEvent{pt.Event(job, backendtype.BackendLocal), pt.Event(job, backendtype.BackendOpenViking)}
				_, _, err := store.CreateCommitJob(ctx, job, events, pt.Audit(job.ID))
				require.NoError(t, err)
				var refs []gateway.MemoryRef
				for range 3 {
					refs = append(refs, pt.Ref(func(r *gateway.MemoryRef) {
						r.WorkspaceID, r.JobID, r.GatewayID = workspace, &job.ID, job.ID
						r.ID = gateway.RefID(job.ID, backendtype.BackendLocal, backendtype.RefTypeLongTermMemory, r.ProvenanceID, "", "")
					}))
				}
				require.NoError(t, store.SaveIngest(ctx, refs, pt.Audit(job.ID)))
			}
		}
		seed("small", 5)
		seed("large", 50)
		const q = `query($ws: ID!) { commitJobs(filter: {workspaceId: $ws}, first: 50) { edges { node {
			id status outboxSummary { totalEvents pendingEvents successEvents deadLetterEvents }
			refs(first: 10) { edges { node { id backend status job { id } } } }
		} } } }`
		type result struct {
			CommitJobs struct {
				Edges []struct {
					Node struct {
						OutboxSummary struct{ TotalEvents int }
						Refs          struct {
							Edges []struct{ Node struct{ ID string } }
						}
					}
				}
			}
		}
		run := func(ws string) (int64, result) {
			var out result
			h.queries.Reset()
			h.data(t, q, map[string]any{"ws": ws}, &out)
			return h.queries.Count(), out
		}
		small, smallOut := run("small")
		large, largeOut := run("large")
		require.Len(t, smallOut.CommitJobs.Edges, 5)
		require.Len(t, largeOut.CommitJobs.Edges, 50)
		for _, e := range largeOut.CommitJobs.Edges {
			require.Equal(t, 2, e.Node.OutboxSummary.TotalEvents)
			require.Len(t, e.Node.Refs.Edges, 3)
		}
		require.Equal(t, small, large, "statements must not grow with the page")
		require.LessOrEqual(t, large, int64(4), "jobs + refs + summaries + jobs of refs")
	})
}

func TestComplexityLimit(t *testing.T) {
	t.Parallel()
	db := pt.Open(t, pt.SQLite)
	h := newHarness(t, db)
	e := h.onlyError(t, `{ commitJobs(first: 100) { edges { node { refs(first: 100) { edges { node {
		siblings(first: 100) { edges { node { id } } } } } } } } } }`, nil)
	require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", e.Extensions["code"])
}

// TestConnectionsAreCostedByTheirPage: a page of 100 of any connection
// costs a hundred nodes (here over a limit of 200), while a page of one
// passes the limit; a page size given in a variable counts the same.
func TestConnectionsAreCostedByTheirPage(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db, withHandlerConfig(resolvers.HandlerConfig{ComplexityLimit: 200}))
		for _, tc := range []struct{ name, query string }{
			{"jobs", `query($n: Int) { jobs(first: $n) { edges { node { id status } } } }`},
			{"erasureRequests", `query($n: Int) { erasureRequests(first: $n) { edges { node { id status } } } }`},
			{"webhookDeliveries", `query($n: Int) { webhookDeliveries(first: $n) { edges { node { id status } } } }`},
			{"ErasureJob.outboxEvents", `query($n: Int) { node(id: "gwc_x") { ... on ErasureJob { outboxEvents(first: $n) { edges { node { id status } } } } } }`},
			{"Job.outboxEvents", `query($n: Int) { node(id: "gwc_x") { ... on Job { outboxEvents(first: $n) { edges { node { id status } } } } } }`},
			{"commitJobs", `query($n: Int) { commitJobs(first: $n) { edges { node { id status } } } }`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, resp := h.do(t, tc.query, map[string]any{"n": 100})
				require.Len(t, resp.Errors, 1)
				require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", resp.Errors[0].Extensions["code"], "a page of 100")
				_, resp = h.do(t, tc.query, map[string]any{"n": 1})
				for _, e := range resp.Errors {
					require.NotEqual(t, "COMPLEXITY_LIMIT_EXCEEDED", e.Extensions["code"], "a page of one")
				}
			})
		}
	})
}

func TestInternalErrorsAreMasked(t *testing.T) {
	t.Parallel()
	db := pt.Open(t, pt.SQLite)
	h := newHarness(t, db)
	require.NoError(t, db.Close())
	status, resp := h.do(t, `{ memoryRefs { edges { cursor } } }`, nil)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, resp.Errors, 1)
	require.Equal(t, "internal error", resp.Errors[0].Message)
	require.Equal(t, resolvers.CodeInternal, resp.Errors[0].Extensions["code"])
	require.Contains(t, h.logs.String(), "database is closed", "the detail is logged")
}

func TestPanicsAreRecovered(t *testing.T) {
	t.Parallel()
	err := resolvers.RecoverFunc(discardLogger())(context.Background(), "boom")
	presented := resolvers.ErrorPresenter(discardLogger())(context.Background(), err)
	require.Equal(t, "internal error", presented.Message)
	require.Equal(t, resolvers.CodeInternal, presented.Extensions["code"])
}

func count(t *testing.T, db *persistence.DB, table string) int {
	t.Helper()
	n, err := db.NewSelect().Table(table).Count(context.Background())
	require.NoError(t, err)
	return n
}

func TestAdminOutboxOperations(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db)
		var ing ingestPayload
		h.data(t, ingestMutation, turnVars(), &ing)
		var commit struct {
			CommitSession struct{ Job struct{ ID string } }
		}
		h.data(t, `mutation { commitSession(input: {workspaceId: "ws", userId: "u1", agentId: "a1", sessionId: "s1", namespace: "team"}) { job { id } } }`, nil, &commit)

		var drained struct {
			ProcessOutbox struct {
				ProcessedCount int
				Summary        struct{ TotalEvents, SuccessEvents, PendingEvents int }
			}
		}
		h.data(t, `mutation { processOutbox(limit: 10) { processedCount summary { totalEvents successEvents pendingEvents } } }`, nil, &drained)
		require.Equal(t, 1, drained.ProcessOutbox.ProcessedCount)
		require.Equal(t, 1, drained.ProcessOutbox.Summary.SuccessEvents)
		require.Zero(t, drained.ProcessOutbox.Summary.PendingEvents)

		var job struct {
			CommitJob struct {
				Status           string
				CreatedRefsCount int
				Refs             struct {
					Edges []struct {
						Node struct{ RefType, Backend string }
					}
				}
				OutboxEvents struct {
					Edges []struct{ Node struct{ ID, Status string } }
				}
			}
		}
		h.data(t, `query($id: ID!) { commitJob(id: $id) { status createdRefsCount refs { edges { node { refType backend } } } outboxEvents { edges { node { id status } } } } }`,
			map[string]any{"id": commit.CommitSession.Job.ID}, &job)
		require.Equal(t, "SUCCESS", job.CommitJob.Status)
		require.Equal(t, 2, job.CommitJob.CreatedRefsCount)
		require.Len(t, job.CommitJob.Refs.Edges, 2)
		eventID := job.CommitJob.OutboxEvents.Edges[0].Node.ID

		var events struct {
			OutboxEvents struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		h.data(t, `{ outboxEvents(filter: {status: SUCCESS, backend: LOCAL}) { edges { node { id } } } }`, nil, &events)
		require.Len(t, events.OutboxEvents.Edges, 1)
		h.data(t, `{ outboxEvents(filter: {status: DEAD_LETTER}) { edges { node { id } } } }`, nil, &events)
		require.Empty(t, events.OutboxEvents.Edges)

		e := h.onlyError(t, `mutation($id: ID!) { redriveOutboxEvent(id: $id) { id } }`, map[string]any{"id": eventID})
		require.Equal(t, resolvers.CodeConflict, e.Extensions["code"])
		e = h.onlyError(t, `mutation { redriveOutboxEvent(id: "outbox_nope") { id } }`, nil)
		require.Equal(t, resolvers.CodeNotFound, e.Extensions["code"])
		var none struct{ RedriveOutboxEvents struct{ RedrivenCount int } }
		h.data(t, `mutation { redriveOutboxEvents(filter: {workspaceId: "ws"}) { redrivenCount } }`, nil, &none)
		require.Zero(t, none.RedriveOutboxEvents.RedrivenCount)
		e = h.onlyError(t, `mutation { processOutbox(limit: 0) { processedCount } }`, nil)
		require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"])
		require.Equal(t, "limit", e.Extensions["field"])
	})
}
