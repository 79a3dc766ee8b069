package resolvers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// countedQuery runs an operation asking for its statement count, and
// returns the count (from extensions.statements) and the data.
func (h *harness) countedQuery(t *testing.T, query string, vars map[string]any) (int64, json.RawMessage) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(resolvers.StatementsHeader, "count")
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	var resp struct {
		Data       json.RawMessage
		Errors     []gqlError
		Extensions struct{ Statements *int64 }
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), rec.Body.String())
	require.Empty(t, resp.Errors)
	require.NotNil(t, resp.Extensions.Statements, "the count is reported when asked for")
	return *resp.Extensions.Statements, resp.Data
}

// seedGraph writes, in workspace "graph", one session "big" of refs whose
// feedback replaced them with a correction (replacement refs that supersede
// old ones); then, newer, jobs of one session each with two outbox events,
// three refs (with the job's event) and a feedback on the first ref.
func seedGraph(t *testing.T, store *persistence.Store, jobs int) {
	t.Helper()
	ctx := context.Background()
	const ws = "graph"
	fb := 0
	feedback := func(refID string, replacement *string) {
		fb++
		status := gateway.FeedbackReceived
		if replacement != nil {
			status = gateway.FeedbackApplied
		}
		f := gateway.MemoryFeedback{
			ID: fmt.Sprintf("fb_graph_%d", fb), WorkspaceID: ws, UserID: "user", AgentID: "agent", Namespace: "team",
			MemoryRefID: refID, FeedbackType: backendtype.FeedbackCorrection, Status: status, HasCorrection: true,
			ReplacementRefID: replacement, CreatedAt: pt.BaseTime, UpdatedAt: pt.BaseTime,
		}
		_, _, err := store.SaveFeedback(ctx, f, gateway.FeedbackContent{}, pt.Audit(refID), nil)
		require.NoError(t, err)
	}
	for range jobs {
		old := pt.Ref(func(r *gateway.MemoryRef) { r.WorkspaceID, r.SessionID = ws, "replaced" })
		replacement := pt.Ref(func(r *gateway.MemoryRef) { r.WorkspaceID, r.SessionID = ws, "replaced" })
		old.Status, old.SupersededByRefID = gateway.RefStatusSuperseded, &replacement.ID
		corrected := pt.Ref(func(r *gateway.MemoryRef) { r.WorkspaceID, r.SessionID = ws, "big" })
		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{old, replacement, corrected}, pt.Audit(corrected.ID)))
		feedback(corrected.ID, &replacement.ID)
	}
	for i := range jobs {
		session := fmt.Sprintf("s%03d", i)
		job := pt.Job(func(j *gateway.CommitJob) { j.WorkspaceID, j.SessionID = ws, session })
		_, err := store.ClaimSession(ctx, gateway.SessionClaim{WorkspaceID: ws, SessionID: session, UserID: job.UserID, AgentID: job.AgentID, Namespace: job.Namespace, At: job.CreatedAt})
		require.NoError(t, err)
		events := []gateway.OutboxEvent{pt.Event(job, backendtype.BackendLocal), pt.Event(job, backendtype.BackendOpenViking)}
		_, _, err = store.CreateCommitJob(ctx, job, events, pt.Audit(job.ID))
		require.NoError(t, err)
		var refs []gateway.MemoryRef
		for range 3 {
			refs = append(refs, pt.Ref(func(r *gateway.MemoryRef) {
				r.WorkspaceID, r.SessionID, r.JobID, r.OutboxEventID = ws, session, &job.ID, &events[0].ID
			}))
		}
		require.NoError(t, store.SaveIngest(ctx, refs, pt.Audit(job.ID)))
		feedback(refs[0].ID, nil)
	}
}

// The dashboard's nested shapes, each with its page size as $n.
var graphShapes = []struct {
	name, query string
	// most is the statements the shape may cost: one per field that loads,
	// per level.
	most int64
}{
	{"jobs → session → refs → job and feedback", `query($n: Int) { commitJobs(filter: {workspaceId: "graph"}, first: $n) { edges { node {
		id status outboxSummary { totalEvents }
		session { id refs(first: 5) { edges { node { id job { id status } feedback(first: 3) { edges { node { id status } } } } } } }
	} } } }`, 5},
	{"refs → job → outboxEvents → refs", `query($n: Int) { memoryRefs(filter: {workspaceId: "graph", refType: MESSAGE_MEMORY}, first: $n) { edges { node {
		id job { id outboxEvents(first: 5) { edges { node { id status refs(first: 3) { edges { node { id } } } } } } }
	} } } }`, 4},
	{"jobs (an interface, read through fragments) → outboxEvents → refs", `query($n: Int) { jobs(filter: {workspaceId: "graph"}, first: $n) { edges { node {
		... on Job { id outboxSummary { totalEvents } outboxEvents(first: 3) { edges { node { id refs(first: 2) { edges { node { id } } } } } } }
		... on CommitJob { session { id } }
	} } } }`, 4},
	{"jobs with totals and status counts → outboxEvents (nested: one total per level, no status counts)", `query($n: Int) { jobs(filter: {workspaceId: "graph"}, first: $n) {
		totalCount statusCounts { status count }
		edges { node { ... on Job { id outboxEvents(first: 3) { totalCount statusCounts { count } edges { node { id } } } } } }
	} }`, 5},
	{"sessions → refs backward with totals", `query($n: Int) { sessions(filter: {workspaceId: "graph"}, first: $n) {
		edges { node { refs(last: 2) { totalCount edges { node { id } } } } }
	} }`, 3},
	{"sessions → refs → job", `query($n: Int) { sessions(filter: {workspaceId: "graph"}, first: $n) {
		totalCount edges { userId node { id refs(first: 3) { edges { node { id job { id status } } } } } }
	} }`, 4},
	{"session graph → feedback → replacementRef → supersedes", `query($n: Int) { session(workspaceId: "graph", sessionId: "big") {
		refs(first: $n) { edges { node { id feedback(first: 3) { edges { node { id replacementRef { id supersedes { id status } } } } } } } }
	} }`, 5},
}

// TestStatementsAreFixedByTheQueryShape: each nested shape costs the same
// number of statements on every run and at page sizes 10 and 100, with one
// processor and a goroutine burning it (so dataloader batches would split
// if batching depended on timing).
func TestStatementsAreFixedByTheQueryShape(t *testing.T) {
	// Not parallel: it sets GOMAXPROCS for its duration; parallel tests
	// resume after it.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			db := pt.Open(t, d)
			// The largest shapes exceed the default complexity limit.
			h := newHarness(t, db, withHandlerConfig(resolvers.HandlerConfig{ComplexityLimit: 10_000_000}))
			seedGraph(t, persistence.NewStore(db), 100)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			burned := make(chan struct{})
			go func() {
				defer close(burned)
				x := 0
				for ctx.Err() == nil {
					x++
				}
				_ = x
			}()
			defer func() { cancel(); <-burned }()

			for _, shape := range graphShapes {
				counts := map[int][]int64{}
				for run := range 5 {
					for _, n := range []int{10, 100} {
						count, data := h.countedQuery(t, shape.query, map[string]any{"n": n})
						counts[n] = append(counts[n], count)
						if run == 0 {
							require.Greater(t, bytes.Count(data, []byte(`"id"`)), n, "%s: the page is full", shape.name)
						}
					}
				}
				want := counts[10][0]
				for n, got := range counts {
					for i, c := range got {
						require.Equal(t, want, c, "%s: page size %d, run %d: %v", shape.name, n, i, counts)
					}
				}
				require.LessOrEqual(t, want, shape.most, "%s", shape.name)
				t.Logf("%s: %d statements", shape.name, want)
			}
		})
	}
}
