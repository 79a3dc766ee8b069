package everos_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
	"github.com/memory-gateway/memory-gateway/backends/everos"
	"github.com/memory-gateway/memory-gateway/backends/everos/everostest"
	"github.com/memory-gateway/memory-gateway/backendtype"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func setup(t *testing.T) (*everos.Backend, *everostest.Server, *clock) {
	t.Helper()
	fake := everostest.New()
	t.Cleanup(fake.Close)
	c := &clock{now: time.Date(2026, 8, 7, 12, 0, 0, 0, time.UTC)}
	b, err := everos.New(everos.Config{BaseURL: fake.URL, Timeout: 2 * time.Second, Now: c.Now})
	require.NoError(t, err)
	return b, fake, c
}

func turn(id string, role backendtype.Role, content string) backendtype.TurnWrite {
	return backendtype.TurnWrite{
		GatewayID: "gw_" + id, WorkspaceID: "Acme Corp", UserID: "alice", AgentID: "helper", SessionID: "s1",
		TurnID: id, Role: role, Content: content, OccurredAt: time.Date(2026, 8, 7, 9, 0, 0, 0, time.UTC),
	}
}

func commitReq(state backendtype.Metadata) backendtype.CommitRequest {
	md := backendtype.Metadata{}
	if state != nil {
		md["backend_state"] = map[string]any(state)
	}
	return backendtype.CommitRequest{EventID: "outbox_1", JobID: "gwc_1", WorkspaceID: "Acme Corp", UserID: "alice", SessionID: "s1", Metadata: md}
}

// TestIdsAreMappedIntoEverOSsCharsets: projects are lower case, senders keep
// their case, and a user never shares a sender id with an agent.
func TestIdsAreMappedIntoEverOSsCharsets(t *testing.T) {
	t.Parallel()
	require.Equal(t, "acme", everos.ScopeID("acme"))
	for _, refused := range []string{"Acme Corp", "ACME", "con", "default_project", "x.", ".."} {
		mapped := everos.ScopeID(refused)
		require.True(t, strings.HasPrefix(mapped, "mg-"), "%q → %q", refused, mapped)
		require.Equal(t, strings.ToLower(mapped), mapped)
	}
	require.Equal(t, "Alice", everos.UserSenderID("Alice"))
	require.NotEqual(t, everos.AgentSenderID("helper"), everos.UserSenderID("agent.helper"), "a user named like an agent")
	require.NotEqual(t, everos.AgentSenderID("a b"), everos.UserSenderID("agent.a b"))
	require.True(t, strings.HasPrefix(everos.AgentSenderID(strings.Repeat("x", 200)), "agent."))
	require.LessOrEqual(t, len(everos.AgentSenderID(strings.Repeat("x", 200))), 128)

	b, fake, _ := setup(t)
	ctx := context.Background()
	for _, w := range []backendtype.TurnWrite{turn("t1", backendtype.RoleUser, "I moved to Lisbon"), turn("t2", backendtype.RoleAssistant, "Lisbon is lovely")} {
		res, err := b.IngestTurn(ctx, w)
		require.NoError(t, err)
		require.Equal(t, backendtype.ResultSuccess, res.Status, "%s: %s", res.ErrorCode, res.ErrorMessage)
	}
	msgs := fake.Messages()
	require.Equal(t, everos.AppIDDefault, msgs[0].AppID)
	require.Equal(t, everos.ScopeID("Acme Corp"), msgs[0].ProjectID)
	require.Equal(t, "alice", msgs[0].SenderID)
	require.Equal(t, "agent.helper", msgs[1].SenderID)
	require.Equal(t, "assistant", msgs[1].Role)
}

// TestCommitWaitsForTheIndex: an episode becomes readable some reads after
// it was written; the commit flushes once and reads back, pending, until it
// is; past the window it reports nothing new.
func TestCommitWaitsForTheIndex(t *testing.T) {
	t.Parallel()
	b, fake, c := setup(t)
	ctx := context.Background()
	fake.Set(func(s *everostest.Server) { s.ReadsBeforeVisible = 3 })
	_, err := b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "my favourite colour is blue"))
	require.NoError(t, err)
	res, err := b.CommitSession(ctx, commitReq(nil))
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultPending, res.Status, "not readable yet")
	require.Equal(t, everos.ReadBackIntervalDefault, res.RetryAfter)
	for res.Status == backendtype.ResultPending {
		c.now = c.now.Add(time.Second)
		res, err = b.CommitSession(ctx, commitReq(res.State))
		require.NoError(t, err)
	}
	require.Equal(t, backendtype.ResultSuccess, res.Status)
	require.Len(t, res.Refs, 2, "the episode and the profile")
	require.Equal(t, 1, fake.Faults.Count(http.MethodPost, "/api/v2/memory/flush"), "flushed once")

	// Nothing new: reads back for the window, then skips.
	known := func(context.Context) (map[string]bool, error) {
		return map[string]bool{res.Refs[0].NativeID: true, res.Refs[1].NativeID: true}, nil
	}
	req := commitReq(nil)
	req.Known = known
	again, err := b.CommitSession(ctx, req)
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultPending, again.Status)
	c.now = c.now.Add(everos.ReadBackWindowDefault)
	req = commitReq(again.State)
	req.Known = known
	again, err = b.CommitSession(ctx, req)
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSkipped, again.Status)
	require.Equal(t, "no_new_memories", again.Response["reason"])
}

// TestRetrievalFallsBackToKeyword: a server without an embedding provider
// refuses hybrid search (422 PROVIDER_NOT_CONFIGURED); retrieval asks by
// keyword.
func TestRetrievalFallsBackToKeyword(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	ctx := context.Background()
	fake.Set(func(s *everostest.Server) { s.NoEmbedding = true; s.BoundaryEvery = 1 })
	_, err := b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "my favourite colour is blue"))
	require.NoError(t, err)
	items, err := b.Retrieve(ctx, backendtype.RetrievalQuery{WorkspaceID: "Acme Corp", UserID: "alice", Query: "favourite colour", Limit: 5})
	require.NoError(t, err)
	require.NotEmpty(t, items)
	require.Equal(t, 2, fake.Faults.Count(http.MethodPost, "/api/v2/memory/search"), "hybrid, then keyword")
}

// TestErrorsAreClassified: the EverOS envelope's code is kept; a capability
// the server lacks is permanent though it is a 503.
func TestErrorsAreClassified(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status    int
		body      string
		code      string
		retryable bool
	}{
		{http.StatusServiceUnavailable, `{"request_id":"r","error":{"code":"EXTERNAL_SERVICE_UNAVAILABLE","message":"llm timed out"}}`, "EXTERNAL_SERVICE_UNAVAILABLE", true},
		{http.StatusServiceUnavailable, `{"request_id":"r","error":{"code":"CAPABILITY_UNAVAILABLE","message":"no parser"}}`, "CAPABILITY_UNAVAILABLE", false},
		{http.StatusUnprocessableEntity, `{"request_id":"r","error":{"code":"INVALID_INPUT","message":"Field required: messages"}}`, "INVALID_INPUT", false},
	} {
		b, fake, _ := setup(t)
		fake.Faults.FailNext(1, tc.status, tc.body)
		res, err := b.IngestTurn(context.Background(), turn("t1", backendtype.RoleUser, "hello"))
		require.NoError(t, err)
		require.Equal(t, tc.code, res.ErrorCode)
		require.Equal(t, tc.retryable, res.Retryable, tc.code)
	}
}

// TestHealthNamesTheWrongAPI: an EverOS older than 1.2 (no /api/v2), an
// EverCore server, and a cascade that cannot index are each unhealthy, and
// say why.
func TestHealthNamesTheWrongAPI(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	ctx := context.Background()
	require.NoError(t, b.Health(ctx))
	fake.Set(func(s *everostest.Server) { s.Version = "1.1.4" })
	require.ErrorContains(t, b.Health(ctx), "EverOS 1.1.4 serves the /api/v1 routes only")
	fake.Set(func(s *everostest.Server) { s.Version = "1.10.0" })
	require.NoError(t, b.Health(ctx), "versions compare by number")

	evercore := evermemostest.New()
	t.Cleanup(evercore.Close)
	b2, err := everos.New(everos.Config{BaseURL: evercore.URL, Timeout: 2 * time.Second})
	require.NoError(t, err)
	require.ErrorContains(t, b2.Health(ctx), "EVERMEMOS_API=evercore")

	fake.Faults.FailNextOn(http.MethodGet, "/health", 1, http.StatusOK,
		`{"status":"ok","version":"1.2.3","capabilities":{},"cascade":{"healthy":false,"reasons":["drain stuck"]}}`)
	require.ErrorContains(t, b.Health(ctx), "drain stuck")
}

// TestNothingCanBeDeleted: feedback that would change a memory and erasure
// say they cannot, and change nothing; there is no delete route to call.
func TestNothingCanBeDeleted(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	ctx := context.Background()
	fake.Set(func(s *everostest.Server) { s.BoundaryEvery = 1 })
	_, err := b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "my favourite colour is blue"))
	require.NoError(t, err)
	for _, kind := range []backendtype.FeedbackType{backendtype.FeedbackDeleteRequest, backendtype.FeedbackCorrection} {
		res, err := b.ApplyFeedback(ctx, backendtype.FeedbackRequest{FeedbackType: kind, WorkspaceID: "Acme Corp", UserID: "alice", NativeID: "x", Correction: "green"})
		require.NoError(t, err)
		require.Equal(t, backendtype.ResultSkipped, res.Status)
		require.Equal(t, backendtype.StatusUnsupported, res.Response["status"])
		require.Equal(t, everos.ReasonNoDeleteAPI, res.Response["reason"])
	}
	req := backendtype.EraseRequest{WorkspaceID: "Acme Corp", UserID: "alice", Held: map[backendtype.RefType]int{backendtype.RefTypeMessageMemory: 1}}
	res, err := b.EraseSubject(ctx, req)
	require.NoError(t, err)
	require.Equal(t, string(backendtype.ErasureOutcomeUnsupported), res.Response["outcome"])
	residue, err := b.SubjectResidue(ctx, req)
	require.NoError(t, err)
	require.Len(t, residue.Unerasable(), 3, "episode, profile and raw messages: %s", residue.Describe())
	require.Len(t, fake.Episodes(), 1, "nothing deleted")

	resp, err := http.Post(fake.URL+"/api/v2/memory/delete", "application/json", strings.NewReader(`{"user_id":"alice"}`))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "EverOS has no memory delete route")
}
