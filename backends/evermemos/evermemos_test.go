package evermemos_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/backendtest"
	"github.com/memory-gateway/memory-gateway/backends/evermemos"
	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
	"github.com/memory-gateway/memory-gateway/backends/everos/everostest"
	"github.com/memory-gateway/memory-gateway/backendtype"
)

func setup(t *testing.T) (*evermemos.Backend, *evermemostest.Server) {
	t.Helper()
	fake := evermemostest.New()
	t.Cleanup(fake.Close)
	b, err := evermemos.New(evermemos.Config{BaseURL: fake.URL, Timeout: 2 * time.Second})
	require.NoError(t, err)
	return b, fake
}

func turn(id string, role backendtype.Role, content string) backendtype.TurnWrite {
	return backendtype.TurnWrite{
		GatewayID: "gw_" + id, WorkspaceID: "acme", UserID: "alice", AgentID: "helper", SessionID: "s1",
		TurnID: id, Role: role, Content: content, OccurredAt: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC),
	}
}

func TestIngestFollowsTheSenderRules(t *testing.T) {
	t.Parallel()
	b, fake := setup(t)
	ctx := context.Background()
	res, err := b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "I moved to Lisbon"))
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSuccess, res.Status)
	require.Equal(t, "gw_t1", res.NativeID, "the message id is the turn's gateway id")
	require.Equal(t, "accumulated", res.Response["status"])
	res, err = b.IngestTurn(ctx, turn("t2", backendtype.RoleAssistant, "Lisbon is lovely"))
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSuccess, res.Status)

	msgs := fake.Messages()
	require.Len(t, msgs, 2)
	require.Equal(t, evermemostest.Message{UserID: "acme:alice", SessionID: "s1", Role: "user", Content: "I moved to Lisbon", MessageID: "gw_t1", SenderID: "acme:alice", Timestamp: 1777626000000}, msgs[0],
		"the user is named with its workspace, as owner and as sender")
	require.Equal(t, "gen_sdr_"+evermemostest.SoloGroupID("acme:alice")[len("gen_solo_"):], msgs[1].SenderID, "an assistant message gets the backend's sender")

	fake.Set(func(s *evermemostest.Server) { s.BoundaryEvery = 1 })
	res, err = b.IngestTurn(ctx, turn("t3", backendtype.RoleUser, "and I have a cat"))
	require.NoError(t, err)
	require.Equal(t, "extracted", res.Response["status"], "a boundary extracts inline")
}

// known is a CommitRequest.Known over the refs a test has recorded.
func known(ids ...[]backendtype.ProducedRef) func(context.Context) (map[string]bool, error) {
	return func(context.Context) (map[string]bool, error) {
		out := map[string]bool{}
		for _, list := range ids {
			for _, r := range list {
				out[r.NativeID] = true
			}
		}
		return out, nil
	}
}

func TestCommitFlushesAndReadsBackWhatIsNew(t *testing.T) {
	t.Parallel()
	b, fake := setup(t)
	ctx := context.Background()
	req := backendtype.CommitRequest{JobID: "gwc_1", WorkspaceID: "acme", UserID: "alice", SessionID: "s1", Known: known()}

	empty, err := b.CommitSession(ctx, req)
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSkipped, empty.Status, "nothing extracted, nothing to reference")

	for i, text := range []string{"my favourite colour is blue", "I work nights"} {
		_, err := b.IngestTurn(ctx, turn([]string{"t1", "t2"}[i], backendtype.RoleUser, text))
		require.NoError(t, err)
	}
	res, err := b.CommitSession(ctx, req)
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSuccess, res.Status)
	require.Equal(t, "extracted", res.Response["status"])
	eps := fake.Episodes()
	require.Len(t, eps, 2, "a group-level episode and the owner's copy, of one MemCell")
	require.Empty(t, eps[0].UserID, "the group-level copy has no user")
	require.Equal(t, eps[0].ParentID, eps[1].ParentID)
	require.Equal(t, []backendtype.ProducedRef{
		{RefType: backendtype.RefTypeEpisodicMemory, NativeID: eps[1].ID, Metadata: backendtype.Metadata{"memcell_id": eps[1].ParentID}},
		{RefType: backendtype.RefTypeProfile, NativeID: res.Refs[1].NativeID, NativeURI: evermemos.ProfileURI("acme:alice")},
	}, res.Refs, "the owner's episode with its MemCell, and the profile")

	// A second commit of the session reports only what is new.
	_, err = b.IngestTurn(ctx, turn("t3", backendtype.RoleUser, "I adopted a cat"))
	require.NoError(t, err)
	req.Known = known(res.Refs)
	second, err := b.CommitSession(ctx, req)
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSuccess, second.Status)
	require.Len(t, second.Refs, 1, "the new episode only: the first and the profile have refs already")
	require.NotEqual(t, res.Refs[0].NativeID, second.Refs[0].NativeID)
	req.Known = known(res.Refs, second.Refs)
	third, err := b.CommitSession(ctx, req)
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSkipped, third.Status, "nothing new")

	items, err := b.Retrieve(ctx, backendtype.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", Query: "favourite colour blue", Limit: 5})
	require.NoError(t, err)
	require.Len(t, items, 2)
	require.Equal(t, backendtype.RefTypeEpisodicMemory, items[0].MemoryType)
	require.Greater(t, items[0].Score, 1.0, "keyword scores are unbounded")
	require.Contains(t, items[0].Text, "favourite colour is blue")
	require.Equal(t, backendtype.RefTypeProfile, items[1].MemoryType)
	require.Equal(t, "The user said: my favourite colour is blue", items[1].Text, "a profile hit is one fact's text")
}

func TestCommitReadsEveryPage(t *testing.T) {
	t.Parallel()
	b, fake := setup(t)
	ctx := context.Background()
	fake.Set(func(s *evermemostest.Server) { s.BoundaryEvery = 1 })
	for i := range 130 {
		_, err := b.IngestTurn(ctx, turn(fmt.Sprintf("t%d", i), backendtype.RoleUser, fmt.Sprintf("fact number %d", i)))
		require.NoError(t, err)
	}
	res, err := b.CommitSession(ctx, backendtype.CommitRequest{JobID: "gwc_1", WorkspaceID: "acme", UserID: "alice", SessionID: "s1"})
	require.NoError(t, err)
	require.Len(t, res.Refs, 131, "130 episodes over two pages, and the profile: nothing cut")
}

func TestIDsEverMemOSRefuses(t *testing.T) {
	t.Parallel()
	b, fake := setup(t)
	ctx := context.Background()
	w := turn("t1", backendtype.RoleUser, "hello")
	w.WorkspaceID = "gen_lab"
	res, err := b.IngestTurn(ctx, w)
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSuccess, res.Status, "a workspace starting gen_ is escaped, not refused")
	require.Equal(t, "%67en_lab:alice", fake.Messages()[0].UserID)

	w = turn("t2", backendtype.RoleUser, "hello")
	w.UserID = strings.Repeat("u", 128)
	res, err = b.IngestTurn(ctx, w)
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSuccess, res.Status)
	require.LessOrEqual(t, len(fake.Messages()[1].UserID), 100, "an id the indexes cannot hold is hashed")

	w = turn("t3", backendtype.RoleUser, "hello")
	w.SessionID = "-1"
	res, err = b.IngestTurn(ctx, w)
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultFailed, res.Status)
	require.Equal(t, evermemos.ErrorCodeIDRefused, res.ErrorCode)
	require.False(t, res.Retryable)
	require.Contains(t, res.ErrorMessage, `"-1" is reserved`)
	require.Len(t, fake.Messages(), 2, "nothing was sent")
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
			res, err := b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "green tea"))
			require.NoError(t, err)
			require.Equal(t, backendtype.ResultFailed, res.Status)
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
	_, err := b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "my favourite colour is blue"))
	require.NoError(t, err)
	_, err = b.CommitSession(ctx, backendtype.CommitRequest{JobID: "gwc_1", WorkspaceID: "acme", UserID: "alice", SessionID: "s1"})
	require.NoError(t, err)
	require.NotEmpty(t, fake.Episodes())

	items, err := b.Retrieve(ctx, backendtype.RetrievalQuery{WorkspaceID: "globex", UserID: "alice", Query: "favourite colour blue", Limit: 5})
	require.NoError(t, err)
	require.Empty(t, items, "alice of globex recalls nothing of alice of acme")
	res, err := b.CommitSession(ctx, backendtype.CommitRequest{JobID: "gwc_2", WorkspaceID: "globex", UserID: "alice", SessionID: "s1"})
	require.NoError(t, err)
	require.Empty(t, res.Refs, "nor does her commit of a session of the same name produce refs to them")
	items, err = b.Retrieve(ctx, backendtype.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", Query: "favourite colour blue", Limit: 5})
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

	// An EverOS 1.x server behind the URL answers /health "ok" and 404s
	// every /api/v1/memories call: unhealthy, and says why.
	everOS := everostest.New()
	t.Cleanup(everOS.Close)
	b, err := evermemos.New(evermemos.Config{BaseURL: everOS.URL, Timeout: 2 * time.Second})
	require.NoError(t, err)
	err = b.Health(context.Background())
	require.ErrorContains(t, err, "EVERMEMOS_API=everos")
	require.ErrorContains(t, err, "1.2.3")
	res, err := b.IngestTurn(context.Background(), turn("t1", backendtype.RoleUser, "hello"))
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultFailed, res.Status)
	require.False(t, res.Retryable, "a route that does not exist is a permanent failure")
}

// Feedback specifics of EverMemOS (the contract is in contract_test.go).

const (
	addPath    = "/api/v1/memories"
	flushPath  = "/api/v1/memories/flush"
	deletePath = "/api/v1/memories/delete"
)

// committed ingests and commits a session with one user turn and returns
// the refs the commit produced: the episode, then the profile.
func committed(t *testing.T, b *evermemos.Backend) []backendtype.ProducedRef {
	t.Helper()
	ctx := context.Background()
	_, err := b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "my favourite colour is blue"))
	require.NoError(t, err)
	res, err := b.CommitSession(ctx, backendtype.CommitRequest{JobID: "gwc_1", WorkspaceID: "acme", UserID: "alice", SessionID: "s1"})
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSuccess, res.Status)
	require.Len(t, res.Refs, 2)
	require.Equal(t, backendtype.RefTypeEpisodicMemory, res.Refs[0].RefType)
	return res.Refs
}

func feedbackReq(kind backendtype.FeedbackType, ref backendtype.ProducedRef, correction string) backendtype.FeedbackRequest {
	return backendtype.FeedbackRequest{
		EventID: "outbox_fb_1", FeedbackID: "fb_1", FeedbackType: kind, WorkspaceID: "acme", UserID: "alice",
		AgentID: "helper", SessionID: "s1", RefType: ref.RefType, NativeID: ref.NativeID, NativeURI: ref.NativeURI,
		Produced: ref.Metadata, Correction: correction, Attempt: 1,
	}
}

// retrieved returns the texts of the episodes and of the profile a retrieval
// of alice's favourite colour finds.
func retrieved(t *testing.T, b *evermemos.Backend) (episodes []string, profile string) {
	t.Helper()
	items, err := b.Retrieve(context.Background(), backendtype.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", Query: "favourite colour", Limit: 10})
	require.NoError(t, err)
	for _, it := range items {
		if it.MemoryType == backendtype.RefTypeProfile {
			profile += it.Text + "\n"
			continue
		}
		episodes = append(episodes, it.Text)
	}
	return episodes, profile
}

// liveEpisodes are the texts of the fake's episodes not deleted, one per
// MemCell (the group-level copies left out).
func liveEpisodes(fake *evermemostest.Server) []string {
	var out []string
	for _, e := range fake.Episodes() {
		if !e.Deleted && e.UserID != "" {
			out = append(out, e.Episode)
		}
	}
	return out
}

func TestFeedbackDeleteRemovesTheEpisodesMemCell(t *testing.T) {
	t.Parallel()
	b, fake := setup(t)
	refs := committed(t, b)
	req := feedbackReq(backendtype.FeedbackDeleteRequest, refs[0], "")

	for attempt := 1; attempt <= 2; attempt++ { // deleting again is a no-op success
		res := backendtest.Apply(t, b, req)
		require.Equal(t, backendtype.ResultSuccess, res.Status, "attempt %d", attempt)
		require.Equal(t, refs[0].NativeID, res.Response["memory_id"])
		for _, e := range fake.Episodes() {
			require.True(t, e.Deleted, "the MemCell's episodes, the group-level copy included, are deleted")
		}
		require.Equal(t, attempt, fake.Faults.Count(http.MethodPost, deletePath))
	}
	// The delete reaches MongoDB only: search still serves the index copy,
	// which the gateway screens out by the retired ref.
	episodes, _ := retrieved(t, b)
	require.NotEmpty(t, episodes)

	// A ref recorded before the MemCell id was kept: its MemCell is read back.
	b2, fake2 := setup(t)
	refs = committed(t, b2)
	req = feedbackReq(backendtype.FeedbackDeleteRequest, refs[0], "")
	req.Produced = nil
	require.Equal(t, backendtype.ResultSuccess, backendtest.Apply(t, b2, req).Status)
	require.Empty(t, liveEpisodes(fake2))
}

func TestFeedbackCorrectionReplacesTheEpisode(t *testing.T) {
	t.Parallel()
	b, fake := setup(t)
	refs := committed(t, b)
	req := feedbackReq(backendtype.FeedbackCorrection, refs[0], "my favourite colour is green")

	res := backendtest.Apply(t, b, req)
	require.Equal(t, backendtype.ResultSuccess, res.Status)
	require.Equal(t, evermemos.CorrectionMessageID("fb_1"), res.NativeID, "the replacement is the corrected message")
	require.Equal(t, backendtype.RefTypeMessageMemory, res.RefType)
	require.Empty(t, res.NativeURI)
	require.Empty(t, res.State)

	msgs := fake.Messages()
	require.Equal(t, evermemostest.Message{
		UserID: "acme:alice", SessionID: "s1", Role: "user", Content: "my favourite colour is green",
		MessageID: "correction_fb_1", SenderID: "acme:alice", Timestamp: msgs[len(msgs)-1].Timestamp,
	}, msgs[len(msgs)-1], "sent by the user, in the memory's session")
	require.Equal(t, []string{"my favourite colour is green"}, liveEpisodes(fake), "the old episode is deleted, the flush extracted the new one")
	require.Equal(t, backendtype.ContentHash("my favourite colour is blue"), res.ReplacedContentHash,
		"the old text's hash: the gateway screens the index copy search keeps serving, and the profile's old fact")
	_, profile := retrieved(t, b)
	// The profile is derived in the background and no API retracts a fact
	// from it: it keeps the old fact (feedback on the profile is UNSUPPORTED).
	require.Contains(t, profile, "blue")

	// A retry after a lost lease (no state kept) repeats the steps: the same
	// replacement. EverMemOS does not deduplicate messages, so the corrected
	// fact may be extracted twice; the old one never comes back.
	again := backendtest.Apply(t, b, req)
	require.Equal(t, backendtype.ResultSuccess, again.Status)
	require.Equal(t, res.NativeID, again.NativeID)
	for _, text := range liveEpisodes(fake) {
		require.Equal(t, "my favourite colour is green", text)
	}
}

func TestFeedbackCorrectionResumesAfterAFailedStep(t *testing.T) {
	t.Parallel()
	unavailable := `{"code":"SYSTEM_ERROR","message":"Internal server error"}`
	tests := []struct {
		name      string
		path      string
		status    int
		retryable bool
		code      string
		// state is what the failed attempt leaves for the next one.
		state backendtype.Metadata
		// deletes is how many delete calls both attempts make.
		deletes int
	}{
		{"delete fails", deletePath, http.StatusServiceUnavailable, true, "SYSTEM_ERROR", backendtype.Metadata{}, 2},
		{"add fails", addPath, http.StatusServiceUnavailable, true, "SYSTEM_ERROR", backendtype.Metadata{"deleted": true}, 1},
		{"flush fails", flushPath, http.StatusInternalServerError, true, "SYSTEM_ERROR", backendtype.Metadata{"deleted": true, "added": true}, 1},
		{"add refused", addPath, http.StatusUnprocessableEntity, false, "HTTP_ERROR", backendtype.Metadata{"deleted": true}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, fake := setup(t)
			refs := committed(t, b)
			req := feedbackReq(backendtype.FeedbackCorrection, refs[0], "my favourite colour is green")
			body := unavailable
			if tt.status == http.StatusUnprocessableEntity {
				body = `{"code":"HTTP_ERROR","message":"content 'my favourite colour is green' is invalid"}`
			}
			fake.Faults.FailNextOn(http.MethodPost, tt.path, 1, tt.status, body)

			res := backendtest.Apply(t, b, req)
			require.Equal(t, backendtype.ResultFailed, res.Status)
			require.Equal(t, tt.retryable, res.Retryable)
			require.Equal(t, tt.code, res.ErrorCode)
			state := maps.Clone(res.State)
			if tt.state["deleted"] == true {
				require.Equal(t, backendtype.ContentHash("my favourite colour is blue"), state["replaced_hash"], "the old text's hash, read before the delete")
				delete(state, "replaced_hash")
			}
			require.Equal(t, tt.state, state)
			require.NotContains(t, res.ErrorMessage, "green", "a backend echoing the correction never reaches the control plane")

			// The worker retries (a dead letter can be re-driven), with the state kept.
			req.State, req.Attempt = res.State, 2
			retry := backendtest.Apply(t, b, req)
			require.Equal(t, backendtype.ResultSuccess, retry.Status)
			require.Equal(t, backendtype.ContentHash("my favourite colour is blue"), retry.ReplacedContentHash, "kept across attempts")
			require.Equal(t, tt.deletes, fake.Faults.Count(http.MethodPost, deletePath), "a delete that succeeded is not repeated")
			corrections := 0
			for _, m := range fake.Messages() {
				if m.MessageID == evermemos.CorrectionMessageID("fb_1") {
					corrections++
				}
			}
			require.Equal(t, 1, corrections, "the corrected message is added once")
			require.Equal(t, []string{"my favourite colour is green"}, liveEpisodes(fake))
		})
	}
}

func TestFeedbackSkips(t *testing.T) {
	t.Parallel()
	b, fake := setup(t)
	refs := committed(t, b)
	ingestRef := backendtype.ProducedRef{RefType: backendtype.RefTypeMessageMemory, NativeID: "gw_t1"}
	backendtest.RequireAnswers(t, b, []backendtest.Answer{
		{Name: "correction of an ingest ref", Request: feedbackReq(backendtype.FeedbackCorrection, ingestRef, "green"), Status: backendtype.ResultSkipped, Reason: evermemos.ReasonRawMessageNotEditable, Unsupported: true},
		{Name: "delete of an ingest ref", Request: feedbackReq(backendtype.FeedbackDeleteRequest, ingestRef, ""), Status: backendtype.ResultSkipped, Reason: evermemos.ReasonRawMessageNotEditable, Unsupported: true},
		{Name: "correction of the profile", Request: feedbackReq(backendtype.FeedbackCorrection, refs[1], "green"), Status: backendtype.ResultSkipped, Reason: evermemos.ReasonProfileNotEditable, Unsupported: true},
		{Name: "delete of the profile", Request: feedbackReq(backendtype.FeedbackDeleteRequest, refs[1], ""), Status: backendtype.ResultSkipped, Reason: evermemos.ReasonProfileNotEditable, Unsupported: true},
		{Name: "a ref without id", Request: feedbackReq(backendtype.FeedbackDeleteRequest, backendtype.ProducedRef{RefType: backendtype.RefTypeEpisodicMemory}, ""), Status: backendtype.ResultSkipped, Reason: evermemos.ReasonNoMemoryID},
	})
	require.Zero(t, fake.Faults.Count(http.MethodPost, deletePath), "nothing was deleted")
	require.Len(t, fake.Messages(), 1, "nothing was added")
	require.True(t, strings.HasPrefix(liveEpisodes(fake)[0], "my favourite colour is blue"))
}
