package resolvers_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// tenant is one place data was seeded: a workspace, a namespace, a user and
// a session, with the ids of everything recorded there.
type tenant struct {
	workspace, namespace, user, session string
	refs, jobs, events, feedback, audit []string
	sessionNode                         string
}

var (
	dashA  = gateway.Principal{Name: "dash-a", WorkspaceID: "A", Role: gateway.RoleDashboard, Grants: []gateway.Grant{{Namespace: "team/alpha", Access: gateway.AccessRead}}}
	agentA = gateway.Principal{Name: "agent-a", WorkspaceID: "A", UserID: "u1", Role: gateway.RoleAgent, Grants: []gateway.Grant{{Namespace: "team/alpha", Access: gateway.AccessWrite}}}
	adminA = gateway.Principal{Name: "admin-a", WorkspaceID: "A", Role: gateway.RoleAdmin, Grants: []gateway.Grant{{Namespace: "", Access: gateway.AccessAdmin}}}
	root   = gateway.DevPrincipal
)

func (h *harness) dataAs(t *testing.T, p gateway.Principal, query string, vars map[string]any, out any) {
	t.Helper()
	_, resp := h.doAs(t, &p, query, vars)
	require.Empty(t, resp.Errors, "errors: %+v", resp.Errors)
	require.NoError(t, json.Unmarshal(resp.Data, out))
}

func (h *harness) errorAs(t *testing.T, p *gateway.Principal, query string, vars map[string]any) gqlError {
	t.Helper()
	_, resp := h.doAs(t, p, query, vars)
	require.Len(t, resp.Errors, 1, "data: %s", resp.Data)
	return resp.Errors[0]
}

type idsPage struct {
	Edges []struct{ Node struct{ ID string } }
}

func (p idsPage) ids() []string {
	out := []string{}
	for _, e := range p.Edges {
		out = append(out, e.Node.ID)
	}
	return out
}

// seed records a turn, a processed commit and feedback in a tenant.
func seed(t *testing.T, h *harness, tn *tenant) {
	t.Helper()
	var ing ingestPayload
	h.dataAs(t, root, ingestMutation, map[string]any{"in": map[string]any{
		"workspaceId": tn.workspace, "userId": tn.user, "agentId": "a1", "sessionId": tn.session, "turnId": "t1",
		"namespace": tn.namespace, "role": "USER", "content": "the secret plan of " + tn.workspace + " " + tn.namespace,
	}}, &ing)
	var commit struct {
		CommitSession struct{ Job struct{ ID string } }
	}
	h.dataAs(t, root, `mutation($in: CommitSessionInput!) { commitSession(input: $in) { job { id } } }`, map[string]any{"in": map[string]any{
		"workspaceId": tn.workspace, "userId": tn.user, "agentId": "a1", "sessionId": tn.session, "namespace": tn.namespace,
	}}, &commit)
	var drained struct{ ProcessOutbox struct{ ProcessedCount int } }
	h.dataAs(t, root, `mutation { processOutbox(limit: 100) { processedCount } }`, nil, &drained)
	var fb struct {
		RecordMemoryFeedback struct{ Feedback struct{ ID string } }
	}
	h.dataAs(t, root, `mutation($in: RecordMemoryFeedbackInput!) { recordMemoryFeedback(input: $in) { feedback { id } } }`, map[string]any{"in": map[string]any{
		"workspaceId": tn.workspace, "userId": tn.user, "agentId": "a1", "namespace": tn.namespace,
		"memoryRefId": ing.IngestConversationTurn.Refs[0].ID, "feedbackType": "HELPFUL",
	}}, &fb)
	tn.feedback = []string{fb.RecordMemoryFeedback.Feedback.ID}
	tn.jobs = []string{commit.CommitSession.Job.ID}

	var all struct {
		MemoryRefs   idsPage
		OutboxEvents idsPage
		AuditLog     idsPage
		Session      struct{ ID string }
	}
	h.dataAs(t, root, `query($ws: ID!, $s: ID!) {
		memoryRefs(filter: {workspaceId: $ws, sessionId: $s}, first: 100) { edges { node { id } } }
		outboxEvents(filter: {workspaceId: $ws, sessionId: $s}) { edges { node { id } } }
		auditLog(filter: {workspaceId: $ws, sessionId: $s}) { edges { node { id } } }
		session(workspaceId: $ws, sessionId: $s) { id } }`, map[string]any{"ws": tn.workspace, "s": tn.session}, &all)
	tn.refs, tn.events, tn.audit, tn.sessionNode = all.MemoryRefs.ids(), all.OutboxEvents.ids(), all.AuditLog.ids(), all.Session.ID
	require.NotEmpty(t, tn.refs)
	require.NotEmpty(t, tn.events)
	require.NotEmpty(t, tn.audit)
}

func (tn *tenant) allIDs() []string {
	var out []string
	for _, ids := range [][]string{tn.refs, tn.jobs, tn.events, tn.feedback, tn.audit, {tn.sessionNode}} {
		out = append(out, ids...)
	}
	return out
}

// TestCrossTenantMatrix runs every query and mutation as principals of
// workspace A limited to namespace team/alpha against data of workspace B
// and of the sibling namespace team/beta (which reuse the same user and
// session names), and checks they see nothing of it: not the records, not
// their existence, not their counts.
func TestCrossTenantMatrix(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db, strict())
		own := &tenant{workspace: "A", namespace: "team/alpha", user: "u1", session: "s1"}
		sibling := &tenant{workspace: "A", namespace: "team/beta", user: "u2", session: "s2"}
		other := &tenant{workspace: "B", namespace: "team/alpha", user: "u1", session: "s1"}
		for _, tn := range []*tenant{own, sibling, other} {
			seed(t, h, tn)
		}
		foreign := append(sibling.allIDs(), other.allIDs()...)
		mine := map[string]bool{}
		for _, id := range own.allIDs() {
			mine[id] = true
		}

		for _, p := range []gateway.Principal{dashA, agentA} {
			t.Run(p.Name, func(t *testing.T) {
				var lists struct {
					MemoryRefs, CommitJobs, OutboxEvents, AuditLog, Feedback idsPage
					OutboxSummary                                            struct{ TotalEvents int }
				}
				for _, filter := range []string{"", `workspaceId: "B"`, `sessionId: "s2"`} {
					args := ""
					if filter != "" {
						args = "filter: {" + filter + "}, "
					}
					h.dataAs(t, p, fmt.Sprintf(`{
						memoryRefs(%[1]sfirst: 100) { edges { node { id } } }
						commitJobs(%[1]sfirst: 100) { edges { node { id } } }
						outboxEvents(%[1]sfirst: 100) { edges { node { id } } }
						auditLog(first: 100) { edges { node { id } } }
						feedback(first: 100) { edges { node { id } } }
						outboxSummary { totalEvents } }`, args), nil, &lists)
					for _, page := range []idsPage{lists.MemoryRefs, lists.CommitJobs, lists.OutboxEvents, lists.AuditLog, lists.Feedback} {
						for _, id := range page.ids() {
							require.True(t, mine[id], "%s sees %s through filter %q", p.Name, id, filter)
						}
					}
					require.Equal(t, len(own.events), lists.OutboxSummary.TotalEvents, "counts cover only what the key may see")
				}

				for _, id := range foreign {
					var n struct{ Node *struct{ ID string } }
					h.dataAs(t, p, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id}, &n)
					require.Nil(t, n.Node, "node(%s) as %s", id, p.Name)
				}
				for _, q := range []struct{ query, id string }{
					{`query($id: ID!) { memoryRef(id: $id) { id } }`, sibling.refs[0]},
					{`query($id: ID!) { memoryRef(id: $id) { id } }`, other.refs[0]},
					{`query($id: ID!) { commitJob(id: $id) { id } }`, sibling.jobs[0]},
					{`query($id: ID!) { commitJob(id: $id) { id } }`, other.jobs[0]},
				} {
					e := h.errorAs(t, &p, q.query, map[string]any{"id": q.id})
					require.Equal(t, resolvers.CodeNotFound, e.Extensions["code"], "%s %s", q.query, q.id)
				}
				for _, s := range []map[string]any{{"ws": "A", "s": "s2"}, {"ws": "B", "s": "s1"}} {
					e := h.errorAs(t, &p, `query($ws: ID!, $s: ID!) { session(workspaceId: $ws, sessionId: $s) { id } }`, s)
					require.Equal(t, resolvers.CodeNotFound, e.Extensions["code"])
				}
				var mineSession struct {
					Session struct{ Refs idsPage }
				}
				h.dataAs(t, p, `{ session(workspaceId: "A", sessionId: "s1") { refs(first: 100) { edges { node { id } } } } }`, nil, &mineSession)
				require.ElementsMatch(t, own.refs, mineSession.Session.Refs.ids())

				retrieve := `query($in: RetrieveContextInput!) { retrieveContext(input: $in) { items { text } } }`
				in := func(ws, ns string) map[string]any {
					m := map[string]any{"workspaceId": ws, "userId": "u1", "agentId": "a1", "query": "secret plan"}
					if ns != "" {
						m["namespace"] = ns
					}
					return map[string]any{"in": m}
				}
				require.Equal(t, resolvers.CodeForbidden, h.errorAs(t, &p, retrieve, in("B", "team/alpha")).Extensions["code"])
				require.Equal(t, resolvers.CodeForbidden, h.errorAs(t, &p, retrieve, in("A", "team/beta")).Extensions["code"])
				e := h.errorAs(t, &p, retrieve, in("A", ""))
				require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"])
				require.Equal(t, "input.namespace", e.Extensions["field"])
				var got struct {
					RetrieveContext struct{ Items []struct{ Text string } }
				}
				h.dataAs(t, p, retrieve, in("A", "team/alpha"), &got)
				require.Len(t, got.RetrieveContext.Items, 1)
				require.Equal(t, "the secret plan of A team/alpha", got.RetrieveContext.Items[0].Text)

				for _, q := range []string{
					`mutation { processOutbox { processedCount } }`,
					`mutation { redriveOutboxEvents(filter: {}) { redrivenCount } }`,
				} {
					require.Equal(t, resolvers.CodeForbidden, h.errorAs(t, &p, q, nil).Extensions["code"], q)
				}
				require.Equal(t, resolvers.CodeNotFound,
					h.errorAs(t, &p, `mutation($id: ID!) { redriveOutboxEvent(id: $id) { id } }`, map[string]any{"id": other.events[0]}).Extensions["code"])
			})
		}

		// Writes outside the agent's grant, user or workspace are refused.
		write := func(ws, ns, user string) map[string]any {
			return map[string]any{"in": map[string]any{
				"workspaceId": ws, "userId": user, "agentId": "a1", "sessionId": "s9", "turnId": "t9",
				"namespace": ns, "role": "USER", "content": "hello",
			}}
		}
		for _, vars := range []map[string]any{write("B", "team/alpha", "u1"), write("A", "team/beta", "u1"), write("A", "team/alpha", "u2"), write("A", "team", "u1")} {
			require.Equal(t, resolvers.CodeForbidden, h.errorAs(t, &agentA, ingestMutation, vars).Extensions["code"], "%v", vars)
		}
		require.Equal(t, resolvers.CodeForbidden, h.errorAs(t, &dashA, ingestMutation, write("A", "team/alpha", "u1")).Extensions["code"], "a dashboard key only reads")
		var ok ingestPayload
		h.dataAs(t, agentA, ingestMutation, write("A", "team/alpha/sub", "u1"), &ok)
		require.Equal(t, "SUCCESS", ok.IngestConversationTurn.Status, "below the grant is inside it")
		require.Equal(t, resolvers.CodeForbidden, h.errorAs(t, &agentA,
			`mutation { commitSession(input: {workspaceId: "B", userId: "u1", agentId: "a1", sessionId: "s1", namespace: "team/alpha"}) { job { id } } }`, nil).Extensions["code"])
		for _, ref := range []string{sibling.refs[0], other.refs[0]} {
			e := h.errorAs(t, &agentA, `mutation($in: RecordMemoryFeedbackInput!) { recordMemoryFeedback(input: $in) { feedback { id } } }`,
				map[string]any{"in": map[string]any{"workspaceId": "A", "userId": "u1", "agentId": "a1", "namespace": "team/alpha", "memoryRefId": ref, "feedbackType": "NOT_HELPFUL"}})
			require.Equal(t, resolvers.CodeNotFound, e.Extensions["code"])
			require.Equal(t, "input.memoryRefId", e.Extensions["field"])
		}

		// Feedback of another workspace or namespace cannot be reviewed, nor
		// seen to exist; a dashboard key cannot review its own workspace's.
		review := `mutation($id: ID!) { reviewMemoryFeedback(input: {id: $id, decision: REJECT}) { feedback { status } } }`
		for _, p := range []gateway.Principal{agentA, dashA, adminA} {
			for _, id := range []string{sibling.feedback[0], other.feedback[0]} {
				if p.Name == adminA.Name && id == sibling.feedback[0] {
					continue
				}
				e := h.errorAs(t, &p, review, map[string]any{"id": id})
				require.Equal(t, resolvers.CodeNotFound, e.Extensions["code"], "%s reviewing %s", p.Name, id)
				require.Equal(t, "input.id", e.Extensions["field"])
			}
		}
		require.Equal(t, resolvers.CodeForbidden, h.errorAs(t, &dashA, review, map[string]any{"id": own.feedback[0]}).Extensions["code"])

		// A workspace admin sees its whole workspace and nothing else.
		var summary struct {
			ProcessOutbox struct{ Summary struct{ TotalEvents int } }
		}
		h.dataAs(t, adminA, `mutation { processOutbox { summary { totalEvents } } }`, nil, &summary)
		require.Equal(t, len(own.events)+len(sibling.events), summary.ProcessOutbox.Summary.TotalEvents)
		require.Equal(t, resolvers.CodeNotFound,
			h.errorAs(t, &adminA, `mutation($id: ID!) { redriveOutboxEvent(id: $id) { id } }`, map[string]any{"id": other.events[0]}).Extensions["code"])

		// No principal at all.
		require.Equal(t, resolvers.CodeUnauthenticated, h.errorAs(t, nil, `{ memoryRefs { edges { cursor } } }`, nil).Extensions["code"])
		require.Equal(t, resolvers.CodeUnauthenticated, h.errorAs(t, nil, ingestMutation, write("A", "team/alpha", "u1")).Extensions["code"])
	})
}
