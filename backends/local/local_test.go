package local_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/dialect"

	"github.com/memory-gateway/memory-gateway/backends/backendtest"
	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

func write(t *testing.T, b *local.Backend, session, turn, namespace, user, content string) backendtype.WriteResult {
	t.Helper()
	gatewayID, _ := backendtest.TurnIDs("ws", session, turn)
	res, err := b.IngestTurn(context.Background(), backendtype.TurnWrite{
		GatewayID: gatewayID, WorkspaceID: "ws", UserID: user, AgentID: "a1",
		SessionID: session, TurnID: turn, Namespace: namespace, Role: backendtype.RoleUser,
		Content: content, ContentHash: backendtype.ContentHash(content),
	})
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSuccess, res.Status)
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

		req := backendtype.CommitRequest{JobID: "gwc_1", WorkspaceID: "ws", UserID: "u1", SessionID: "s1", Namespace: "team"}
		res, err := b.CommitSession(ctx, req)
		require.NoError(t, err)
		require.Equal(t, backendtype.ResultSuccess, res.Status)
		require.Len(t, res.Refs, 3)
		require.Equal(t, backendtype.RefTypeSessionArchive, res.Refs[0].RefType)
		require.Equal(t, []string{first.NativeID, second.NativeID}, []string{res.Refs[1].NativeID, res.Refs[2].NativeID})
		require.Equal(t, backendtype.RefTypeLongTermMemory, res.Refs[1].RefType)

		// A retry of the same job produces the same refs.
		retry, err := b.CommitSession(ctx, req)
		require.NoError(t, err)
		require.Equal(t, res.Refs, retry.Refs)

		// A later job only gets what was ingested since.
		write(t, b, "s1", "t3", "team", "u1", "I have a cat")
		later, err := b.CommitSession(ctx, backendtype.CommitRequest{JobID: "gwc_2", WorkspaceID: "ws", UserID: "u1", SessionID: "s1"})
		require.NoError(t, err)
		require.Len(t, later.Refs, 2)

		empty, err := b.CommitSession(ctx, backendtype.CommitRequest{JobID: "gwc_3", WorkspaceID: "ws", UserID: "u1", SessionID: "s-empty"})
		require.NoError(t, err)
		require.Equal(t, backendtype.ResultSkipped, empty.Status)
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

		search := func(q backendtype.RetrievalQuery) []string { return searchU1(t, b, q) }
		got := search(backendtype.RetrievalQuery{Query: "what is my favourite colour?"})
		require.NotEmpty(t, got)
		require.Equal(t, "My favourite colour is blue", got[0], "the turn matching both terms ranks first")
		require.NotContains(t, got, "My favourite colour is red", "another user's memory")

		require.Equal(t, []string{"Favourite food: dumplings"}, search(backendtype.RetrievalQuery{Query: "favourite", Namespace: "team/beta"}))
		require.Equal(t, []string{"My favourite colour is blue"}, search(backendtype.RetrievalQuery{Query: "favourite", SessionID: "s1"}))
		require.Len(t, search(backendtype.RetrievalQuery{Query: "colour", Limit: 1}), 1)
		require.Empty(t, search(backendtype.RetrievalQuery{Query: "the is of"}), "stop words only")
		require.Empty(t, search(backendtype.RetrievalQuery{Query: "then again"}), "words none of the memories holds (stop words on PostgreSQL)")
		// Query syntax is never passed through.
		require.Empty(t, search(backendtype.RetrievalQuery{Query: `" OR * NEAR( ) & | ! :*`}))
		require.NotEmpty(t, search(backendtype.RetrievalQuery{Query: `"blue" OR sky*`}))

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

		res, err := b.CommitSession(ctx, backendtype.CommitRequest{JobID: "gwc_bob", WorkspaceID: "ws", UserID: "u2", SessionID: "s1", Namespace: "team"})
		require.NoError(t, err)
		require.Len(t, res.Refs, 2, "bob's archive and bob's one turn")
		require.Equal(t, bob.NativeID, res.Refs[1].NativeID)
		require.Equal(t, &backendtype.SessionScope{AgentID: "a1", Namespace: "team/beta"}, res.Refs[1].Scope, "the memory lies where its turn was written")
		require.Nil(t, res.Refs[0].Scope, "the archive is the session's")

		for _, kind := range []backendtype.FeedbackType{backendtype.FeedbackCorrection, backendtype.FeedbackDeleteRequest} {
			req := feedback(kind, backendtype.RefTypeLongTermMemory, alice.NativeID, alice.NativeURI, "bob says alice lives in Faro")
			req.UserID = "u2"
			got := backendtest.Apply(t, b, req)
			require.NotEqual(t, "deleted", got.Response["status"], "%s in another user's name", kind)
			require.Equal(t, "alice lives in Lisbon", stored(t, db, alice.NativeID), "%s in another user's name", kind)
		}
		archive := feedback(backendtype.FeedbackDeleteRequest, backendtype.RefTypeSessionArchive, res.Refs[0].NativeID, "", "")
		archive.UserID = "u1"
		backendtest.Apply(t, b, archive)
		require.Equal(t, "bob lives in Porto", stored(t, db, bob.NativeID), "another user's archive is not deleted in alice's name")
	})
}

// Feedback specifics of the local backend (the contract is in contract_test.go).

func feedback(kind backendtype.FeedbackType, refType backendtype.RefType, nativeID, nativeURI, correction string) backendtype.FeedbackRequest {
	return backendtype.FeedbackRequest{
		EventID: "outbox_fb_1", FeedbackID: "fb_1", FeedbackType: kind, WorkspaceID: "ws", UserID: "u1",
		AgentID: "a1", SessionID: "s1", Namespace: "team", RefType: refType, NativeID: nativeID,
		NativeURI: nativeURI, Correction: correction, Attempt: 1,
	}
}

// texts searches u1's memories in ws for query.
func texts(t *testing.T, b *local.Backend, query string) []string {
	t.Helper()
	return searchU1(t, b, backendtype.RetrievalQuery{Query: query})
}

// searchU1 runs q as u1 of ws and returns the texts found, best first.
func searchU1(t *testing.T, b *local.Backend, q backendtype.RetrievalQuery) []string {
	t.Helper()
	q.WorkspaceID, q.UserID = "ws", "u1"
	items, err := b.Retrieve(context.Background(), q)
	require.NoError(t, err)
	var out []string
	for _, it := range items {
		require.NotEmpty(t, it.NativeID)
		require.Equal(t, backendtype.ContentHash(it.Text), it.ContentHash, "the hash follows the text")
		out = append(out, it.Text)
	}
	return out
}

// stored reads a memory's content straight from its table ("" when gone).
func stored(t *testing.T, db *persistence.DB, id string) string {
	t.Helper()
	var contents []string
	require.NoError(t, db.DB.NewSelect().Table("local_memories").Column("content").Where("id = ?", id).Scan(context.Background(), &contents))
	if len(contents) == 0 {
		return ""
	}
	return contents[0]
}

func TestLocalFeedbackCorrectsInPlace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// commit the session first: the ref is then the commit's long-term memory.
		commit  bool
		refType backendtype.RefType
		want    backendtype.RefType
	}{
		{"ingest ref", false, backendtype.RefTypeMessageMemory, backendtype.RefTypeMessageMemory},
		{"committed memory", true, backendtype.RefTypeLongTermMemory, backendtype.RefTypeLongTermMemory},
		{"ref type inferred from the row", true, "", backendtype.RefTypeLongTermMemory},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
				b := local.New(db.DB, nil)
				turn := write(t, b, "s1", "t1", "team", "u1", "My favourite colour is blue")
				write(t, b, "s1", "t2", "team", "u1", "I work as a baker")
				if tt.commit {
					res, err := b.CommitSession(context.Background(), backendtype.CommitRequest{JobID: "gwc_1", WorkspaceID: "ws", UserID: "u1", SessionID: "s1"})
					require.NoError(t, err)
					require.Equal(t, backendtype.ResultSuccess, res.Status)
				}
				req := feedback(backendtype.FeedbackCorrection, tt.refType, turn.NativeID, turn.NativeURI, "My favourite colour is green")

				for attempt := range 2 { // the repeat is a retry after a lost lease
					res := backendtest.Apply(t, b, req)
					require.Equal(t, backendtype.ResultSuccess, res.Status, "attempt %d", attempt)
					require.Equal(t, turn.NativeID, res.NativeID, "rewritten in place: same id")
					require.Equal(t, turn.NativeURI, res.NativeURI)
					require.Equal(t, tt.want, res.RefType)
					require.Equal(t, "corrected", res.Response["status"])

					require.Equal(t, "My favourite colour is green", stored(t, db, turn.NativeID))
					require.Equal(t, []string{"My favourite colour is green"}, texts(t, b, "what is my favourite colour?"))
					require.Equal(t, []string{"My favourite colour is green"}, texts(t, b, "green"), "the new text is indexed")
					require.Empty(t, texts(t, b, "blue"), "the old text is no longer indexed")
					require.Equal(t, []string{"I work as a baker"}, texts(t, b, "baker"), "other memories are untouched")
				}
			})
		})
	}
}

func TestLocalFeedbackDeletesMemory(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		b := local.New(db.DB, nil)
		turn := write(t, b, "s1", "t1", "team", "u1", "My favourite colour is blue")
		write(t, b, "s1", "t2", "team", "u1", "My favourite food is bread")
		req := feedback(backendtype.FeedbackDeleteRequest, backendtype.RefTypeMessageMemory, turn.NativeID, turn.NativeURI, "")

		res := backendtest.Apply(t, b, req)
		require.Equal(t, backendtype.ResultSuccess, res.Status)
		require.Equal(t, "deleted", res.Response["status"])
		require.Empty(t, stored(t, db, turn.NativeID))
		require.Empty(t, texts(t, b, "blue"))
		require.Equal(t, []string{"My favourite food is bread"}, texts(t, b, "favourite"))

		again := backendtest.Apply(t, b, req)
		require.Equal(t, backendtype.ResultSuccess, again.Status, "deleting what is gone succeeds")
		require.Equal(t, "already_deleted", again.Response["status"])

		correct := backendtest.Apply(t, b, feedback(backendtype.FeedbackCorrection, backendtype.RefTypeMessageMemory, turn.NativeID, turn.NativeURI, "My favourite colour is green"))
		require.Equal(t, backendtype.ResultSkipped, correct.Status, "a deleted memory is not resurrected")
		require.Equal(t, local.ReasonMemoryNotFound, correct.Response["reason"])
		require.Empty(t, texts(t, b, "green"))
	})
}

func TestLocalFeedbackOnSessionArchive(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		b := local.New(db.DB, nil)
		write(t, b, "s1", "t1", "team", "u1", "My favourite colour is blue")
		write(t, b, "s1", "t2", "team", "u1", "I work as a baker")
		res, err := b.CommitSession(ctx, backendtype.CommitRequest{JobID: "gwc_1", WorkspaceID: "ws", UserID: "u1", SessionID: "s1"})
		require.NoError(t, err)
		archive := res.Refs[0]
		require.Equal(t, backendtype.RefTypeSessionArchive, archive.RefType)
		later := write(t, b, "s1", "t3", "team", "u1", "I have a baker's oven at home")

		correct := backendtest.Apply(t, b, feedback(backendtype.FeedbackCorrection, archive.RefType, archive.NativeID, archive.NativeURI, "something else"))
		require.Equal(t, backendtype.ResultSkipped, correct.Status)
		require.Equal(t, local.ReasonSessionArchiveNotCorrectable, correct.Response["reason"])
		require.Len(t, texts(t, b, "baker"), 2, "nothing changed")

		del := feedback(backendtype.FeedbackDeleteRequest, archive.RefType, archive.NativeID, archive.NativeURI, "")
		require.Equal(t, backendtype.ResultSuccess, backendtest.Apply(t, b, del).Status)
		require.Empty(t, texts(t, b, "colour"), "the archived turns are forgotten")
		require.Empty(t, stored(t, db, res.Refs[1].NativeID))
		require.Equal(t, []string{"I have a baker's oven at home"}, texts(t, b, "baker"), "a turn of a later commit stays")
		require.NotEmpty(t, stored(t, db, later.NativeID))

		again := backendtest.Apply(t, b, del)
		require.Equal(t, backendtype.ResultSuccess, again.Status)
		require.Equal(t, "already_deleted", again.Response["status"])
	})
}

func TestLocalFeedbackSkipsAndRefusals(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		b := local.New(db.DB, nil)
		turn := write(t, b, "s1", "t1", "team", "u1", "My favourite colour is blue")
		otherWorkspace := func(req backendtype.FeedbackRequest) backendtype.FeedbackRequest {
			req.WorkspaceID = "elsewhere"
			return req
		}
		backendtest.RequireAnswers(t, b, []backendtest.Answer{
			{Name: "a ref without native id", Request: feedback(backendtype.FeedbackDeleteRequest, backendtype.RefTypeMessageMemory, "", "", ""), Status: backendtype.ResultSkipped, Reason: local.ReasonNoMemoryID},
			{Name: "a foreign native id", Request: feedback(backendtype.FeedbackCorrection, backendtype.RefTypeMessageMemory, "ov-session", "", "x"), Status: backendtype.ResultSkipped, Reason: local.ReasonNoMemoryID},
			{Name: "a correction in another workspace finds nothing", Request: otherWorkspace(feedback(backendtype.FeedbackCorrection, backendtype.RefTypeMessageMemory, turn.NativeID, turn.NativeURI, "green")), Status: backendtype.ResultSkipped, Reason: local.ReasonMemoryNotFound},
			{Name: "a delete in another workspace deletes nothing", Request: otherWorkspace(feedback(backendtype.FeedbackDeleteRequest, backendtype.RefTypeMessageMemory, turn.NativeID, turn.NativeURI, "")), Status: backendtype.ResultSuccess},
		})
		require.Equal(t, "My favourite colour is blue", stored(t, db, turn.NativeID), "none of them touched the memory")
	})
}

// TestLocalRetrieveIsExactAmongOtherUsers: the full-text index finds a
// user's best matches however many better ones other users hold (in the
// same workspace, under the same user id elsewhere, or under an id that
// reads alike once workspace and user are joined), and the namespace,
// session and limit still narrow them.
func TestLocalRetrieveIsExactAmongOtherUsers(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		b := local.New(db.DB, nil)
		others := []struct{ workspace, user string }{{"ws", "u2"}, {"ws", "u10"}, {"elsewhere", "u1"}, {"w", "su1"}}
		for _, o := range others {
			turns := make([]backendtype.TurnWrite, 60)
			for i := range turns {
				content := fmt.Sprintf("blue blue colour colour blue sky %d", i)
				session, turn := fmt.Sprintf("o%d", i/20), fmt.Sprintf("t%d", i)
				gatewayID, _ := backendtest.TurnIDs(o.workspace+"/"+o.user, session, turn)
				turns[i] = backendtype.TurnWrite{
					GatewayID: gatewayID, WorkspaceID: o.workspace, UserID: o.user, AgentID: "a1", SessionID: session, TurnID: turn,
					Namespace: "team/alpha", Role: backendtype.RoleUser, Content: content, ContentHash: backendtype.ContentHash(content),
				}
			}
			_, err := b.IngestTurns(ctx, turns)
			require.NoError(t, err)
		}
		write(t, b, "s1", "t1", "team/alpha", "u1", "My favourite colour is blue")
		write(t, b, "s1", "t2", "team/alpha", "u1", "The sky was grey, a rather dull colour, all through a long and windy afternoon")
		write(t, b, "s2", "t1", "team/beta", "u1", "A blue bicycle")
		write(t, b, "s2", "t2", "team/beta", "u1", "Nothing to do with the question")

		search := func(q backendtype.RetrievalQuery) []string { return searchU1(t, b, q) }
		tests := []struct {
			name string
			q    backendtype.RetrievalQuery
			want []string
		}{
			{"every match, best first", backendtype.RetrievalQuery{Query: "blue colour"},
				[]string{"My favourite colour is blue", "A blue bicycle", "The sky was grey, a rather dull colour, all through a long and windy afternoon"}},
			{"the best within the limit", backendtype.RetrievalQuery{Query: "blue colour", Limit: 1}, []string{"My favourite colour is blue"}},
			{"under a namespace", backendtype.RetrievalQuery{Query: "blue colour", Namespace: "team/beta"}, []string{"A blue bicycle"}},
			{"in a session", backendtype.RetrievalQuery{Query: "favourite colour", SessionID: "s1"},
				[]string{"My favourite colour is blue", "The sky was grey, a rather dull colour, all through a long and windy afternoon"}},
			{"a word only others hold", backendtype.RetrievalQuery{Query: "bicycles"}, []string{"A blue bicycle"}},
		}
		for _, tt := range tests {
			require.Equal(t, tt.want, search(tt.q), tt.name)
		}
		require.Empty(t, search(backendtype.RetrievalQuery{Query: "42"}), "another user's numbered turn")
	})
}

// TestLocalRetrieveFindsWordsBesidePunctuation: a word is found whatever
// separates it from the next (punctuation, typographic quotes and dashes,
// line breaks, CJK punctuation), in any case, and a user without memories
// finds nothing.
func TestLocalRetrieveFindsWordsBesidePunctuation(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		b := local.New(db.DB, nil)
		write(t, b, "s1", "t1", "team", "u1", "She re-read “Dune”—twice…\tlater (finally) the e-mail:\r\nCafé «Porto»; price=12€, user@example.org")
		write(t, b, "s1", "t2", "team", "u1", "東京。大阪、京都，札幌")
		for _, word := range []string{"dune", "twice", "later", "finally", "email", "mail", "café", "CAFÉ", "porto", "price", "12", "read", "东京", "東京", "大阪", "京都", "札幌"} {
			got := texts(t, b, word)
			if word == "东京" || word == "email" {
				require.Empty(t, got, "%q is another word", word)
				continue
			}
			require.Len(t, got, 1, "%q: %q", word, got)
		}
		items, err := b.Retrieve(context.Background(), backendtype.RetrievalQuery{WorkspaceID: "ws", UserID: "nobody", Query: "dune"})
		require.NoError(t, err)
		require.Empty(t, items, "a user without memories")
	})
}

// TestLocalMergeIndex: merging the full-text index (SQLite: many writes,
// many segments) runs until one part is left, then finds nothing to do, and
// searches answer as before; PostgreSQL has nothing to merge.
func TestLocalMergeIndex(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		b := local.New(db.DB, nil)
		for i := range 40 {
			write(t, b, fmt.Sprintf("s%d", i), "t1", "team", "u1", fmt.Sprintf("Turn %d: my favourite colour is blue", i))
		}
		before := texts(t, b, "favourite colour")
		require.Len(t, before, 10)

		merged, err := b.MergeIndex(ctx, 1000)
		require.NoError(t, err)
		if db.DB.Dialect().Name() == dialect.SQLite {
			require.Positive(t, merged, "forty writes leave parts to merge")
			require.Less(t, merged, 1000, "merging ends")
		} else {
			require.Zero(t, merged)
		}
		again, err := b.MergeIndex(ctx, 1000)
		require.NoError(t, err)
		require.Zero(t, again, "nothing left to merge")
		require.Equal(t, before, texts(t, b, "favourite colour"))
	})
}
