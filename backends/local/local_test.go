package local_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

func write(t *testing.T, b *local.Backend, session, turn, namespace, user, content string) gateway.WriteResult {
	t.Helper()
	basis := gateway.IdempotencyBasis("ws", "", "", "", session, turn)
	res, err := b.IngestTurn(context.Background(), gateway.TurnWrite{
		GatewayID: gateway.GatewayID(basis), WorkspaceID: "ws", UserID: user, AgentID: "a1",
		SessionID: session, TurnID: turn, Namespace: namespace, Role: gateway.RoleUser,
		Content: content, ContentHash: gateway.ContentHash(content),
	})
	require.NoError(t, err)
	require.Equal(t, gateway.ResultSuccess, res.Status)
	return res
}

func TestLocalCommitProducesArchiveAndMemories(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		b := local.New(db.DB, nil)
		first := write(t, b, "s1", "t1", "team", "u1", "I live in Lisbon")
		second := write(t, b, "s1", "t2", "team", "u1", "I work as a baker")
		again := write(t, b, "s1", "t1", "team", "u1", "I live in Lisbon")
		require.Equal(t, first.NativeID, again.NativeID, "a replayed write lands on the same row")

		req := gateway.CommitRequest{JobID: "gwc_1", WorkspaceID: "ws", UserID: "u1", SessionID: "s1", Namespace: "team"}
		res, err := b.CommitSession(ctx, req)
		require.NoError(t, err)
		require.Equal(t, gateway.ResultSuccess, res.Status)
		require.Len(t, res.Refs, 3)
		require.Equal(t, gateway.RefTypeSessionArchive, res.Refs[0].RefType)
		require.Equal(t, []string{first.NativeID, second.NativeID}, []string{res.Refs[1].NativeID, res.Refs[2].NativeID})
		require.Equal(t, gateway.RefTypeLongTermMemory, res.Refs[1].RefType)

		// A retry of the same job produces the same refs.
		retry, err := b.CommitSession(ctx, req)
		require.NoError(t, err)
		require.Equal(t, res.Refs, retry.Refs)

		// A later job only gets what was ingested since.
		write(t, b, "s1", "t3", "team", "u1", "I have a cat")
		later, err := b.CommitSession(ctx, gateway.CommitRequest{JobID: "gwc_2", WorkspaceID: "ws", UserID: "u1", SessionID: "s1"})
		require.NoError(t, err)
		require.Len(t, later.Refs, 2)

		empty, err := b.CommitSession(ctx, gateway.CommitRequest{JobID: "gwc_3", WorkspaceID: "ws", UserID: "u1", SessionID: "s-empty"})
		require.NoError(t, err)
		require.Equal(t, gateway.ResultSkipped, empty.Status)
	})
}

func TestLocalRetrieve(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		b := local.New(db.DB, func() time.Time { return time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC) })
		write(t, b, "s1", "t1", "team/alpha", "u1", "My favourite colour is blue")
		write(t, b, "s1", "t2", "team/alpha", "u1", "The colour of the sky changes at dusk")
		write(t, b, "s2", "t1", "team/beta", "u1", "Favourite food: dumplings")
		write(t, b, "s3", "t1", "team/alpha", "u2", "My favourite colour is red")

		search := func(q gateway.RetrievalQuery) []string {
			q.WorkspaceID, q.UserID = "ws", "u1"
			items, err := b.Retrieve(ctx, q)
			require.NoError(t, err)
			var texts []string
			for _, it := range items {
				require.NotEmpty(t, it.NativeID)
				require.Equal(t, gateway.ContentHash(it.Text), it.ContentHash)
				texts = append(texts, it.Text)
			}
			return texts
		}
		got := search(gateway.RetrievalQuery{Query: "what is my favourite colour?"})
		require.NotEmpty(t, got)
		require.Equal(t, "My favourite colour is blue", got[0], "the turn matching both terms ranks first")
		require.NotContains(t, got, "My favourite colour is red", "another user's memory")

		require.Equal(t, []string{"Favourite food: dumplings"}, search(gateway.RetrievalQuery{Query: "favourite", Namespace: "team/beta"}))
		require.Equal(t, []string{"My favourite colour is blue"}, search(gateway.RetrievalQuery{Query: "favourite", SessionID: "s1"}))
		require.Len(t, search(gateway.RetrievalQuery{Query: "colour", Limit: 1}), 1)
		require.Empty(t, search(gateway.RetrievalQuery{Query: "the is of"}), "stop words only")
		// Query syntax is never passed through.
		require.Empty(t, search(gateway.RetrievalQuery{Query: `" OR * NEAR( ) & | ! :*`}))
		require.NotEmpty(t, search(gateway.RetrievalQuery{Query: `"blue" OR sky*`}))

		require.NoError(t, b.Health(ctx))
	})
}

// TestLocalTouchesOnlyTheUsersOwnTurns: a session holding turns of two users
// (the gateway no longer lets this happen, but data written before session
// ownership may) is committed per user: the commit takes only its user's
// turns, each long-term memory carries its own turn's agent and namespace,
// and a correction or delete in another user's name reaches nothing.
func TestLocalTouchesOnlyTheUsersOwnTurns(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		b := local.New(db.DB, nil)
		alice := write(t, b, "s1", "t1", "team/alpha", "u1", "alice lives in Lisbon")
		bob := write(t, b, "s1", "t2", "team/beta", "u2", "bob lives in Porto")

		res, err := b.CommitSession(ctx, gateway.CommitRequest{JobID: "gwc_bob", WorkspaceID: "ws", UserID: "u2", SessionID: "s1", Namespace: "team"})
		require.NoError(t, err)
		require.Len(t, res.Refs, 2, "bob's archive and bob's one turn")
		require.Equal(t, bob.NativeID, res.Refs[1].NativeID)
		require.Equal(t, &gateway.SessionScope{AgentID: "a1", Namespace: "team/beta"}, res.Refs[1].Scope, "the memory lies where its turn was written")
		require.Nil(t, res.Refs[0].Scope, "the archive is the session's")

		for _, kind := range []gateway.FeedbackType{gateway.FeedbackCorrection, gateway.FeedbackDeleteRequest} {
			req := feedback(kind, gateway.RefTypeLongTermMemory, alice.NativeID, alice.NativeURI, "bob says alice lives in Faro")
			req.UserID = "u2"
			got := apply(t, b, req)
			require.NotEqual(t, "deleted", got.Response["status"], "%s in another user's name", kind)
			require.Equal(t, "alice lives in Lisbon", stored(t, db, alice.NativeID), "%s in another user's name", kind)
		}
		archive := feedback(gateway.FeedbackDeleteRequest, gateway.RefTypeSessionArchive, res.Refs[0].NativeID, "", "")
		archive.UserID = "u1"
		apply(t, b, archive)
		require.Equal(t, "bob lives in Porto", stored(t, db, bob.NativeID), "another user's archive is not deleted in alice's name")
	})
}
