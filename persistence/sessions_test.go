package persistence_test

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/namespace"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

func claim(user, agent, ns string) gateway.SessionClaim {
	return gateway.SessionClaim{WorkspaceID: "ws", SessionID: "s1", UserID: user, AgentID: agent, Namespace: ns, At: pt.BaseTime}
}

func TestStoreClaimSession(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		facts, err := store.SessionFacts(ctx, "ws", "s1")
		require.NoError(t, err)
		require.Equal(t, gateway.SessionFacts{}, facts, "nobody owns a session nobody wrote to")

		for _, c := range []gateway.SessionClaim{claim("alice", "helper", "support"), claim("alice", "helper", "support"), claim("alice", "other", "legal")} {
			owner, err := store.ClaimSession(ctx, c)
			require.NoError(t, err)
			require.Equal(t, "alice", owner)
		}
		owner, err := store.ClaimSession(ctx, claim("bob", "helper", "bobs"))
		require.NoError(t, err)
		require.Equal(t, "alice", owner, "the first writer owns the session")
		owner, err = store.ClaimSession(ctx, gateway.SessionClaim{WorkspaceID: "other-ws", SessionID: "s1", UserID: "bob", At: pt.BaseTime})
		require.NoError(t, err)
		require.Equal(t, "bob", owner, "session ids are unique per workspace, not across them")

		facts, err = store.SessionFacts(ctx, "ws", "s1")
		require.NoError(t, err)
		require.Equal(t, gateway.SessionFacts{Owner: "alice", Scopes: []backendtype.SessionScope{
			{AgentID: "helper", Namespace: "support"}, {AgentID: "other", Namespace: "legal"},
		}}, facts, "only the owner's turns are scopes of the session")

		_, err = store.ClaimSession(ctx, gateway.SessionClaim{WorkspaceID: "ws", SessionID: "s2", UserID: "alice", AgentID: "helper", Namespace: "support/tier1", At: pt.BaseTime})
		require.NoError(t, err)
		namespaces, err := store.UserNamespaces(ctx, "ws", "alice")
		require.NoError(t, err)
		require.Equal(t, []string{"legal", "support", "support/tier1"}, namespaces)
		namespaces, err = store.UserNamespaces(ctx, "ws", "bob")
		require.NoError(t, err)
		require.Empty(t, namespaces)
	})
}

// TestStoreClaimSessionRace: users claiming a new session at once, from
// two connection pools, agree on exactly one owner.
func TestStoreClaimSessionRace(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		stores := []*persistence.Store{persistence.NewStore(db), persistence.NewStore(pt.Reopen(t, db))}
		for round := range 5 {
			session := fmt.Sprintf("race-%d", round)
			owners := make([]string, 8)
			var wg sync.WaitGroup
			for i := range owners {
				wg.Go(func() {
					owner, err := stores[i%2].ClaimSession(ctx, gateway.SessionClaim{
						WorkspaceID: "ws", SessionID: session, UserID: fmt.Sprintf("user-%d", i), AgentID: "a", Namespace: "ns", At: pt.BaseTime,
					})
					require.NoError(t, err)
					owners[i] = owner
				})
			}
			wg.Wait()
			for _, o := range owners {
				require.Equal(t, owners[0], o, "every claimant sees the one owner")
			}
			facts, err := stores[0].SessionFacts(ctx, "ws", session)
			require.NoError(t, err)
			require.Equal(t, []backendtype.SessionScope{{AgentID: "a", Namespace: "ns"}}, facts.Scopes)
		}
	})
}

// TestStoreSessionOwnershipOfExistingData: the migration that introduced
// ownership gives every existing session to the user of its first turn (or
// of its first job, when it has no turns), with its owner's turns' scopes.
func TestStoreSessionOwnershipOfExistingData(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := persistence.Open(ctx, pt.URL(t, d))
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			require.NoError(t, db.MigrateThrough(ctx, "20261125000008"))
			store := persistence.NewStore(db)
			turn := func(session, user, agent, ns string) {
				ref := pt.Ref(func(r *gateway.MemoryRef) {
					r.SessionID, r.UserID, r.AgentID, r.Namespace = session, user, agent, ns
				})
				require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
			}
			turn("s1", "alice", "helper", "support") // the first turn: alice owns s1
			turn("s1", "bob", "helper", "bobs")      // a second user's turn, written before ownership existed
			turn("s1", "alice", "other", "legal")
			turn("s2", "bob", "helper", "support")
			// A job row as the schema of then held it (no kind column yet).
			job := pt.Job(func(j *gateway.CommitJob) { j.SessionID, j.UserID = "s3", "carol" })
			_, err = db.ExecContext(ctx, "INSERT INTO commit_jobs (id, workspace_id, user_id, agent_id, session_id, namespace, status, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, '{}', ?, ?)",
				job.ID, job.WorkspaceID, job.UserID, job.AgentID, job.SessionID, job.Namespace, job.Status, job.CreatedAt, job.UpdatedAt)
			require.NoError(t, err)

			require.NoError(t, db.Migrate(ctx, slog.New(slog.DiscardHandler)))
			for session, want := range map[string]gateway.SessionFacts{
				"s1": {Owner: "alice", Scopes: []backendtype.SessionScope{{AgentID: "helper", Namespace: "support"}, {AgentID: "other", Namespace: "legal"}}},
				"s2": {Owner: "bob", Scopes: []backendtype.SessionScope{{AgentID: "helper", Namespace: "support"}}},
				"s3": {Owner: "carol", Scopes: []backendtype.SessionScope{}},
			} {
				facts, err := store.SessionFacts(ctx, "ws", session)
				require.NoError(t, err)
				require.Equal(t, want, facts, session)
			}
		})
	}
}

// TestStoreNamespaceRuleMatchesGo: the SQL form of the namespace rule — in
// filters and in read scopes — selects exactly what namespace.Covers says,
// case by case, on both stores.
func TestStoreNamespaceRuleMatchesGo(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		namespaces := []string{
			"billing", "billing/exec", "BILLING/exec", "Billing", "billings", "billing-old/x", "bill",
			"team_a", "teamXa", "team%", "team-anything", "équipe/paris", "ÉQUIPE/paris", `back\slash/x`,
		}
		byNamespace := map[string]string{}
		for _, ns := range namespaces {
			ref := pt.Ref(func(r *gateway.MemoryRef) { r.Namespace = ns })
			require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
			byNamespace[ref.ID] = ns
		}
		listed := func(f gateway.RefFilter) []string {
			page, err := store.ListMemoryRefs(ctx, f, gateway.PageRequest{First: 100})
			require.NoError(t, err)
			var out []string
			for _, r := range page.Items {
				out = append(out, r.Namespace)
			}
			sort.Strings(out)
			return out
		}
		for _, prefix := range append(namespaces, "team", "équipe", `back\slash`, "bi") {
			var want []string
			for _, ns := range namespaces {
				if namespace.Covers(prefix, ns) {
					want = append(want, ns)
				}
			}
			sort.Strings(want)
			require.Equal(t, want, listed(gateway.RefFilter{Namespace: prefix}), "filter %q", prefix)
			scope := gateway.ReadScope{Restricted: true, WorkspaceID: "ws", Namespaces: []string{prefix}}
			require.Equal(t, want, listed(gateway.RefFilter{Scope: scope}), "grant %q", prefix)
		}
	})
}
