package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/jobevents"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/statements"
)

func TestPrincipalAccess(t *testing.T) {
	t.Parallel()
	agent := gateway.Principal{WorkspaceID: "A", UserID: "u1", Role: gateway.RoleAgent, Grants: []gateway.Grant{
		{Namespace: "team", Access: gateway.AccessAdmin}, {Namespace: "shared/docs", Access: gateway.AccessRead},
	}}
	tests := []struct {
		ws, ns string
		want   gateway.Access
	}{
		{"A", "team", gateway.AccessWrite}, // an agent is capped at WRITE
		{"A", "team/alpha/deep", gateway.AccessWrite},
		{"A", "teamster", gateway.AccessNone},
		{"A", "shared/docs", gateway.AccessRead},
		{"A", "shared", gateway.AccessNone},
		{"B", "team", gateway.AccessNone},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, agent.AccessTo(tt.ws, tt.ns), "%s/%s", tt.ws, tt.ns)
	}
	require.True(t, agent.May(gateway.AccessWrite, gateway.Scope{WorkspaceID: "A", UserID: "u1", Namespace: "team/x"}))
	require.False(t, agent.May(gateway.AccessWrite, gateway.Scope{WorkspaceID: "A", UserID: "u2", Namespace: "team/x"}), "bound to its user")

	scope := agent.ReadScope()
	require.True(t, scope.Allows("A", "team/x", "u1", "any"))
	require.True(t, scope.Allows("A", "shared/docs", "u1", "any"))
	require.False(t, scope.Allows("A", "shared/other", "u1", "any"))
	require.False(t, scope.Allows("A", "team/x", "u2", "any"))
	require.False(t, scope.Allows("B", "team/x", "u1", "any"))
	require.False(t, scope.Allows("A", "", "u1", "any"), "records without a namespace need a whole-workspace grant")

	dash := gateway.Principal{WorkspaceID: "A", Role: gateway.RoleDashboard, Grants: []gateway.Grant{{Access: gateway.AccessAdmin}}}
	require.Equal(t, gateway.AccessRead, dash.AccessTo("A", "anything"), "a dashboard only reads")
	require.True(t, dash.ReadScope().Allows("A", "", "", ""))
	require.False(t, gateway.ReadScope{}.Restricted, "the zero scope is the gateway's own")
}

func TestSubscriptionsRespectGrants(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		hub := jobevents.New(persistence.NewStore(db), lifecycle.Env{})
		require.NoError(t, hub.Start(ctx))
		t.Cleanup(func() { _ = hub.Stop(context.Background()) })
		svc, err := gateway.NewService(gateway.Options{
			Store: persistence.NewStore(db), Backends: []backendtype.BackendAdapter{localBackend(db)}, Publisher: hub, Watcher: hub,
		})
		require.NoError(t, err)
		root := gateway.WithPrincipal(ctx, gateway.DevPrincipal)
		dash := gateway.WithPrincipal(ctx, gateway.Principal{Name: "dash", WorkspaceID: "A", Role: gateway.RoleDashboard,
			Grants: []gateway.Grant{{Namespace: "alpha", Access: gateway.AccessRead}}})
		commit := func(ws, ns, session string) gateway.CommitJob {
			res, err := svc.CommitSession(root, gateway.CommitSessionInput{WorkspaceID: ws, UserID: "u", AgentID: "a", SessionID: session, Namespace: ns})
			require.NoError(t, err)
			return res.Job
		}
		other, beta := commit("B", "alpha", "s1"), commit("A", "beta", "s2")
		for _, id := range []string{other.ID, beta.ID} {
			_, err := svc.SubscribeCommitJob(dash, id)
			require.ErrorIs(t, err, gateway.ErrNotFound)
		}
		_, err = svc.SubscribeCommitJobs(dash, "B", "")
		require.ErrorIs(t, err, gateway.ErrNotFound)
		_, err = svc.SubscribeCommitJob(ctx, beta.ID)
		require.ErrorIs(t, err, gateway.ErrUnauthenticated)

		subCtx, cancel := context.WithCancel(dash)
		defer cancel()
		stream, err := svc.SubscribeCommitJobs(subCtx, "A", "")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return hub.Subscribers() == 1 }, 5*time.Second, time.Millisecond)
		commit("A", "beta", "s3")
		mine := commit("A", "alpha", "s4")
		select {
		case j := <-stream:
			require.Equal(t, mine.ID, j.ID, "the beta job was not delivered")
		case <-time.After(10 * time.Second):
			t.Fatal("no job delivered")
		}
	})
}

// TestRefusedWriteCostsTheSameWhateverItNames: bob writing into alice's
// session is refused at the same cost (statements) whether the turn id he
// names is one of hers or not, so the refusal confirms nothing of her
// conversation.
func TestRefusedWriteCostsTheSameWhateverItNames(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		db.AddQueryHook(&persistence.QueryCounter{})
		svc := newService(t, db, gateway.Config{}, local.New(db.DB, time.Now))
		write := []gateway.Grant{{Namespace: "", Access: gateway.AccessWrite}}
		as := func(user string) context.Context {
			return gateway.WithPrincipal(context.Background(), gateway.Principal{Name: user, WorkspaceID: "ws", UserID: user, Role: gateway.RoleAgent, Grants: write})
		}
		turn := func(user, turnID string) gateway.IngestTurnInput {
			return gateway.IngestTurnInput{WorkspaceID: "ws", UserID: user, AgentID: "a", SessionID: "alice-s", TurnID: turnID,
				Namespace: "n", Role: backendtype.RoleUser, Content: "I was diagnosed with diabetes"}
		}
		_, err := svc.IngestConversationTurn(as("alice"), turn("alice", "t-diagnosis"))
		require.NoError(t, err)

		cost := map[string]int64{}
		for _, turnID := range []string{"t-diagnosis", "t-unknown"} {
			ctx, counted := statements.WithCounter(as("bob"))
			_, err := svc.IngestConversationTurn(ctx, turn("bob", turnID))
			require.ErrorIs(t, err, gateway.ErrOutOfScope, turnID)
			cost[turnID] = counted.Load()
		}
		require.Positive(t, cost["t-unknown"])
		require.Equal(t, cost["t-unknown"], cost["t-diagnosis"], "a refusal costs the same whether alice's session holds the turn or not")
	})
}
