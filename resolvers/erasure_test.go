package resolvers_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

const eraseMutation = `mutation($in: EraseSubjectInput!) { eraseSubject(input: $in) {
	created request { id userId agentId namespace reason status requestedBy createdAt finishedAt
		job { id status outboxSummary { totalEvents pendingEvents } request { id } }
		backends { backend outcome verified residue detail } } } }`

type erasePayload struct {
	EraseSubject struct {
		Created bool
		Request struct {
			ID, UserID, Reason, Status, RequestedBy string
			AgentID, Namespace, FinishedAt          *string
			Job                                     struct {
				ID, Status    string
				OutboxSummary struct{ TotalEvents, PendingEvents int }
				Request       struct{ ID string }
			}
			Backends []struct {
				Backend, Outcome string
				Verified         bool
				Residue          int
			}
		}
	}
}

// TestEraseSubjectOverGraphQL: who may erase (an admin of the scope, the
// user's own key), what the payload shows, the erasure job through node and
// owner, and the coded refusal of an ingest while it runs.
func TestEraseSubjectOverGraphQL(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		h := newHarness(t, db, withServiceConfig(gateway.Config{ErasureGrace: time.Hour}))
		adminA := gateway.Principal{Name: "admin-a", WorkspaceID: "A", Role: gateway.RoleAdmin, Grants: grants("", gateway.AccessAdmin)}
		in := func(user string) map[string]any {
			return map[string]any{"in": map[string]any{"workspaceId": "A", "userId": user, "reason": "right to erasure, ticket 42"}}
		}

		// Another user's key may not; bob's own may erase bob.
		_, resp := h.doAs(t, &aliceAll, eraseMutation, in("bob"))
		require.Equal(t, "FORBIDDEN", resp.Errors[0].Extensions["code"])
		_, resp = h.doAs(t, &adminB, eraseMutation, in("bob"))
		require.Equal(t, "FORBIDDEN", resp.Errors[0].Extensions["code"], "an admin of another workspace")
		_, resp = h.doAs(t, &bobAll, eraseMutation, in("bob"))
		require.Empty(t, resp.Errors)

		_, resp = h.doAs(t, &adminA, eraseMutation, in("alice"))
		require.Empty(t, resp.Errors)
		var out erasePayload
		require.NoError(t, json.Unmarshal(resp.Data, &out))
		r := out.EraseSubject.Request
		require.True(t, out.EraseSubject.Created)
		require.Regexp(t, `^era_[0-9a-f]{24}$`, r.ID)
		require.Equal(t, "ACCEPTED", r.Status)
		require.Equal(t, "admin-a", r.RequestedBy)
		require.Nil(t, r.AgentID)
		require.Nil(t, r.FinishedAt)
		require.Equal(t, r.ID, r.Job.Request.ID)
		require.Equal(t, 1, r.Job.OutboxSummary.PendingEvents)
		require.Len(t, r.Backends, 1)
		require.Equal(t, "LOCAL", r.Backends[0].Backend)
		require.Equal(t, "PENDING", r.Backends[0].Outcome)

		// The job is a Job, not a CommitJob.
		var node struct {
			Node struct {
				Typename string `json:"__typename"`
				ID       string
			}
		}
		h.data(t, `query($id: ID!) { node(id: $id) { __typename id } }`, map[string]any{"id": r.Job.ID}, &node)
		require.Equal(t, "ErasureJob", node.Node.Typename)
		e := h.onlyError(t, `query($id: ID!) { commitJob(id: $id) { id } }`, map[string]any{"id": r.Job.ID})
		require.Equal(t, "NOT_FOUND", e.Extensions["code"])
		var listed struct {
			ErasureRequests struct {
				Edges []struct{ Node struct{ ID, Status string } }
			}
		}
		h.data(t, `{ erasureRequests(filter: {workspaceId: "A", userId: "alice"}) { edges { node { id status } } } }`, nil, &listed)
		require.Len(t, listed.ErasureRequests.Edges, 1)

		// While it runs, an ingest of alice is a coded CONFLICT.
		_, resp = h.doAs(t, &aliceAll, `mutation { ingestConversationTurn(input: {workspaceId: "A", userId: "alice", agentId: "helper",
			sessionId: "s1", turnId: "t1", namespace: "support", role: USER, content: "hello"}) { status } }`, nil)
		require.Equal(t, "CONFLICT", resp.Errors[0].Extensions["code"])
		require.Equal(t, "erasure_in_progress", resp.Errors[0].Extensions["reason"])
	})
}
