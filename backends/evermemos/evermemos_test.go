package evermemos_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/evermemos"
	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
	"github.com/memory-gateway/memory-gateway/gateway"
)

func setup(t *testing.T) (*evermemos.Backend, *evermemostest.Server) {
	t.Helper()
	fake := evermemostest.New()
	t.Cleanup(fake.Close)
	b, err := evermemos.New(evermemos.Config{BaseURL: fake.URL, Timeout: 2 * time.Second})
	require.NoError(t, err)
	return b, fake
}

func turn(id string, role gateway.Role, content string) gateway.TurnWrite {
	return gateway.TurnWrite{
		GatewayID: "gw_" + id, WorkspaceID: "acme", UserID: "alice", AgentID: "helper", SessionID: "s1",
		TurnID: id, Role: role, Content: content, OccurredAt: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC),
	}
}

func TestIngestFollowsTheSenderRules(t *testing.T) {
	t.Parallel()
	b, fake := setup(t)
	ctx := context.Background()
	res, err := b.IngestTurn(ctx, turn("t1", gateway.RoleUser, "I moved to Lisbon"))
	require.NoError(t, err)
	require.Equal(t, gateway.ResultSuccess, res.Status)
	require.Equal(t, "gw_t1", res.NativeID, "the message id is the turn's gateway id")
	require.Equal(t, "accumulated", res.Response["status"])
	res, err = b.IngestTurn(ctx, turn("t2", gateway.RoleAssistant, "Lisbon is lovely"))
	require.NoError(t, err)
	require.Equal(t, gateway.ResultSuccess, res.Status)

	msgs := fake.Messages()
	require.Len(t, msgs, 2)
	require.Equal(t, evermemostest.Message{UserID: "acme:alice", SessionID: "s1", Role: "user", Content: "I moved to Lisbon", MessageID: "gw_t1", SenderID: "acme:alice", Timestamp: 1777626000000}, msgs[0],
		"the user is named with its workspace, as owner and as sender")
	require.Empty(t, msgs[1].SenderID, "an assistant message gets the backend's sender")

	fake.Set(func(s *evermemostest.Server) { s.BoundaryEvery = 1 })
	res, err = b.IngestTurn(ctx, turn("t3", gateway.RoleUser, "and I have a cat"))
	require.NoError(t, err)
	require.Equal(t, "extracted", res.Response["status"], "a boundary extracts inline")
}

func TestCommitFlushesAndReadsBackMemories(t *testing.T) {
	t.Parallel()
	b, fake := setup(t)
	ctx := context.Background()
	req := gateway.CommitRequest{JobID: "gwc_1", WorkspaceID: "acme", UserID: "alice", SessionID: "s1"}

	empty, err := b.CommitSession(ctx, req)
	require.NoError(t, err)
	require.Equal(t, gateway.ResultSkipped, empty.Status, "nothing extracted, nothing to reference")

	for i, text := range []string{"my favourite colour is blue", "I work nights"} {
		_, err := b.IngestTurn(ctx, turn([]string{"t1", "t2"}[i], gateway.RoleUser, text))
		require.NoError(t, err)
	}
	res, err := b.CommitSession(ctx, req)
	require.NoError(t, err)
	require.Equal(t, gateway.ResultSuccess, res.Status)
	require.Equal(t, "extracted", res.Response["status"])
	require.Equal(t, []gateway.ProducedRef{
		{RefType: gateway.RefTypeEpisodicMemory, NativeID: fake.Episodes()[0].ID},
		{RefType: gateway.RefTypeProfile, NativeID: "prof_acme:alice"},
	}, res.Refs)

	items, err := b.Retrieve(ctx, gateway.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", Query: "favourite colour blue", Limit: 5})
	require.NoError(t, err)
	require.Len(t, items, 2)
	require.Equal(t, gateway.RefTypeEpisodicMemory, items[0].MemoryType)
	require.Greater(t, items[0].Score, 1.0, "keyword scores are unbounded")
	require.Contains(t, items[0].Text, "favourite colour is blue")
	require.Equal(t, gateway.RefTypeProfile, items[1].MemoryType)
	require.Contains(t, items[1].Text, "explicit_info")

	require.NoError(t, b.DeleteMemory(ctx, fake.Episodes()[0].ID))
	require.True(t, fake.Episodes()[0].Deleted)
	items, err = b.Retrieve(ctx, gateway.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", Query: "favourite colour blue", Limit: 5})
	require.NoError(t, err)
	require.Len(t, items, 1, "the deleted episode is gone")
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name      string
		arrange   func(*evermemostest.Server)
		code      string
		retryable bool
	}{
		{"validation", func(s *evermemostest.Server) {
			s.Faults.FailNext(1, http.StatusUnprocessableEntity, `{"code":"HTTP_ERROR","message":"content 'tea' invalid","request_id":"r","path":"/api/v1/memories"}`)
		}, "HTTP_ERROR", false},
		{"system error", func(s *evermemostest.Server) {
			s.Faults.FailNext(1, http.StatusInternalServerError, `{"code":"SYSTEM_ERROR","message":"Internal server error"}`)
		}, "SYSTEM_ERROR", true},
		{"garbage", func(s *evermemostest.Server) { s.Faults.SetGarbage(true) }, "bad_response", true},
		{"down", func(s *evermemostest.Server) { s.Close() }, "unreachable", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, fake := setup(t)
			tt.arrange(fake)
			res, err := b.IngestTurn(ctx, turn("t1", gateway.RoleUser, "green tea"))
			require.NoError(t, err)
			require.Equal(t, gateway.ResultFailed, res.Status)
			require.Equal(t, tt.code, res.ErrorCode)
			require.Equal(t, tt.retryable, res.Retryable)
			require.NotContains(t, res.ErrorMessage, "tea")
		})
	}
}

func TestRealValidationFromTheFake(t *testing.T) {
	t.Parallel()
	_, fake := setup(t)
	// A search without a user is refused by the API; the adapter never
	// sends one (its user id always names the workspace), so check the fake
	// itself refuses what the API refuses.
	resp, err := http.Post(fake.URL+"/api/v1/memories/search", "application/json",
		strings.NewReader(`{"query": "x", "top_k": 5, "filters": {}}`))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
}

// TestSameUserIDInTwoWorkspaces: EverMemOS has one tenant, so the adapter
// names every user with its workspace: alice of globex neither recalls nor
// commits alice of acme's memories.
func TestSameUserIDInTwoWorkspaces(t *testing.T) {
	t.Parallel()
	b, fake := setup(t)
	ctx := context.Background()
	_, err := b.IngestTurn(ctx, turn("t1", gateway.RoleUser, "my favourite colour is blue"))
	require.NoError(t, err)
	_, err = b.CommitSession(ctx, gateway.CommitRequest{JobID: "gwc_1", WorkspaceID: "acme", UserID: "alice", SessionID: "s1"})
	require.NoError(t, err)
	require.NotEmpty(t, fake.Episodes())

	items, err := b.Retrieve(ctx, gateway.RetrievalQuery{WorkspaceID: "globex", UserID: "alice", Query: "favourite colour blue", Limit: 5})
	require.NoError(t, err)
	require.Empty(t, items, "alice of globex recalls nothing of alice of acme")
	res, err := b.CommitSession(ctx, gateway.CommitRequest{JobID: "gwc_2", WorkspaceID: "globex", UserID: "alice", SessionID: "s1"})
	require.NoError(t, err)
	require.Empty(t, res.Refs, "nor does her commit of a session of the same name produce refs to them")
	items, err = b.Retrieve(ctx, gateway.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", Query: "favourite colour blue", Limit: 5})
	require.NoError(t, err)
	require.NotEmpty(t, items)
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b, fake := setup(t)
	require.NoError(t, b.Health(context.Background()))
	fake.Close()
	require.Error(t, b.Health(context.Background()))
	require.Equal(t, "closed", b.BreakerState())
}
