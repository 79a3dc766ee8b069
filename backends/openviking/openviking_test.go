package openviking_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/backendtest"
	"github.com/memory-gateway/memory-gateway/backends/openviking"
	"github.com/memory-gateway/memory-gateway/backends/openviking/openvikingtest"
	"github.com/memory-gateway/memory-gateway/gateway"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func setup(t *testing.T) (*openviking.Backend, *openvikingtest.Server, *clock) {
	t.Helper()
	fake := openvikingtest.New()
	t.Cleanup(fake.Close)
	c := &clock{now: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	b, err := openviking.New(openviking.Config{BaseURL: fake.URL, APIKey: "root-key", Timeout: 2 * time.Second, Now: c.Now})
	require.NoError(t, err)
	return b, fake, c
}

func turn(id string, role gateway.Role, content string) gateway.TurnWrite {
	return gateway.TurnWrite{
		GatewayID: "gw_" + id, WorkspaceID: "acme", UserID: "alice", AgentID: "helper bot/1", SessionID: "s1",
		TurnID: id, Role: role, Content: content, OccurredAt: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC),
	}
}

func commitReq(state gateway.Metadata) gateway.CommitRequest {
	md := gateway.Metadata{}
	if state != nil {
		md["backend_state"] = map[string]any(state)
	}
	return gateway.CommitRequest{EventID: "outbox_1", JobID: "gwc_1", WorkspaceID: "acme", UserID: "alice", SessionID: "s1", Metadata: md}
}

func TestIngestWritesSessionMessages(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	ctx := context.Background()
	res, err := b.IngestTurn(ctx, turn("t1", gateway.RoleUser, "I love green tea"))
	require.NoError(t, err)
	require.Equal(t, gateway.ResultSuccess, res.Status)
	require.Equal(t, "s1", res.NativeID)
	require.Equal(t, "viking://user/alice/sessions/s1", res.NativeURI)
	_, err = b.IngestTurn(ctx, turn("t2", gateway.RoleTool, "tool output"))
	require.NoError(t, err)

	msgs := fake.Messages("acme", "alice", "s1")
	require.Len(t, msgs, 2)
	require.Equal(t, openvikingtest.Message{Role: "user", Content: "I love green tea", TurnID: "t1", PeerID: "helper_bot_1", CreatedAt: "2026-05-01T09:00:00Z"}, msgs[0])
	require.Equal(t, "assistant", msgs[1].Role, "OpenViking has two speaker roles")
}

func TestCommitFollowsTheTaskToTheMemoryDiff(t *testing.T) {
	t.Parallel()
	b, fake, c := setup(t)
	ctx := context.Background()
	fake.Set(func(s *openvikingtest.Server) { s.TaskPolls = 2 })
	for i, text := range []string{"my favourite colour is blue", "I work nights"} {
		_, err := b.IngestTurn(ctx, turn([]string{"t1", "t2"}[i], gateway.RoleUser, text))
		require.NoError(t, err)
	}
	_, err := b.IngestTurn(ctx, turn("t3", gateway.RoleAssistant, "noted"))
	require.NoError(t, err)

	started, err := b.CommitSession(ctx, commitReq(nil))
	require.NoError(t, err)
	require.Equal(t, gateway.ResultPending, started.Status, "the commit runs in the background")
	require.Equal(t, openviking.PollIntervalDefault, started.RetryAfter)
	require.Equal(t, "task-0001", started.State["task_id"])

	state := started.State
	var delays []time.Duration
	for {
		c.now = c.now.Add(time.Minute)
		res, err := b.CommitSession(ctx, commitReq(state))
		require.NoError(t, err)
		if res.Status != gateway.ResultPending {
			require.Equal(t, gateway.ResultSuccess, res.Status)
			require.NotNil(t, res.State)
			require.Empty(t, res.State, "the task is forgotten once done")
			require.Len(t, res.Refs, 3, "the archive and one ref per added memory")
			require.Equal(t, gateway.RefTypeSessionArchive, res.Refs[0].RefType)
			require.Equal(t, "viking://user/alice/sessions/s1/history/archive_001", res.Refs[0].NativeURI)
			for _, r := range res.Refs[1:] {
				require.Equal(t, gateway.RefTypePreference, r.RefType)
				require.True(t, strings.HasPrefix(r.NativeURI, "viking://user/alice/memories/preferences/"))
			}
			break
		}
		delays = append(delays, res.RetryAfter)
		state = res.State
	}
	require.Equal(t, []time.Duration{4 * time.Second, 8 * time.Second}, delays, "polls back off")

	again, err := b.CommitSession(ctx, commitReq(nil))
	require.NoError(t, err)
	require.Equal(t, gateway.ResultSkipped, again.Status, "nothing new to archive")
	require.Equal(t, "no_messages", again.Response["reason"])

	items, err := b.Retrieve(ctx, gateway.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", Query: "favourite colour", Limit: 5})
	require.NoError(t, err)
	require.NotEmpty(t, items)
	require.Equal(t, "my favourite colour is blue", items[0].Text)
	require.LessOrEqual(t, items[0].Score, 1.0)
	require.Equal(t, gateway.RefTypePreference, items[0].MemoryType)

	other, err := b.Retrieve(ctx, gateway.RetrievalQuery{WorkspaceID: "acme", UserID: "bob", Query: "favourite colour", Limit: 5})
	require.NoError(t, err)
	require.Empty(t, other, "identity headers scope the search to the user")
}

func TestCommitFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("unknown session is skipped", func(t *testing.T) {
		t.Parallel()
		b, _, _ := setup(t)
		res, err := b.CommitSession(ctx, commitReq(nil))
		require.NoError(t, err)
		require.Equal(t, gateway.ResultSkipped, res.Status)
	})
	t.Run("412 is permanent", func(t *testing.T) {
		t.Parallel()
		b, fake, _ := setup(t)
		_, _ = b.IngestTurn(ctx, turn("t1", gateway.RoleUser, "hello"))
		fake.Set(func(s *openvikingtest.Server) { s.Precondition = true })
		res, err := b.CommitSession(ctx, commitReq(nil))
		require.NoError(t, err)
		require.Equal(t, gateway.ResultFailed, res.Status)
		require.False(t, res.Retryable)
		require.Equal(t, "FAILED_PRECONDITION", res.ErrorCode)
	})
	t.Run("a failed task is a failed attempt that starts over", func(t *testing.T) {
		t.Parallel()
		b, fake, _ := setup(t)
		_, _ = b.IngestTurn(ctx, turn("t1", gateway.RoleUser, "hello"))
		fake.Set(func(s *openvikingtest.Server) { s.FailTasks = true })
		started, err := b.CommitSession(ctx, commitReq(nil))
		require.NoError(t, err)
		res, err := b.CommitSession(ctx, commitReq(started.State))
		require.NoError(t, err)
		require.Equal(t, gateway.ResultFailed, res.Status)
		require.True(t, res.Retryable)
		require.Equal(t, "task_failed", res.ErrorCode)
		require.Empty(t, res.State)
	})
	t.Run("a task past its deadline fails the attempt", func(t *testing.T) {
		t.Parallel()
		b, fake, c := setup(t)
		_, _ = b.IngestTurn(ctx, turn("t1", gateway.RoleUser, "hello"))
		fake.Set(func(s *openvikingtest.Server) { s.TaskPolls = 1000 })
		started, err := b.CommitSession(ctx, commitReq(nil))
		require.NoError(t, err)
		c.now = c.now.Add(openviking.TaskDeadlineDefault + time.Minute)
		res, err := b.CommitSession(ctx, commitReq(started.State))
		require.NoError(t, err)
		require.Equal(t, "task_deadline", res.ErrorCode)
		require.True(t, res.Retryable)
	})
	t.Run("a lost task starts over", func(t *testing.T) {
		t.Parallel()
		b, _, _ := setup(t)
		res, err := b.CommitSession(ctx, commitReq(gateway.Metadata{"task_id": "task-gone", "since_unix_ms": float64(time.Now().UnixMilli())}))
		require.NoError(t, err)
		require.Equal(t, "task_lost", res.ErrorCode)
		require.Empty(t, res.State)
	})
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name      string
		arrange   func(*openvikingtest.Server)
		code      string
		retryable bool
	}{
		{"server error", func(s *openvikingtest.Server) {
			s.Faults.FailNext(1, http.StatusServiceUnavailable, `{"status":"error","error":{"code":"UNAVAILABLE","message":"warming up"}}`)
		}, "UNAVAILABLE", true},
		{"throttled", func(s *openvikingtest.Server) {
			s.Faults.FailNext(1, http.StatusTooManyRequests, `{"status":"error","error":{"code":"RESOURCE_EXHAUSTED","message":"slow down"}}`)
		}, "RESOURCE_EXHAUSTED", true},
		{"validation", func(s *openvikingtest.Server) {
			s.Faults.FailNext(1, http.StatusBadRequest, `{"status":"error","error":{"code":"INVALID_ARGUMENT","message":"content 'I love green tea' is invalid"}}`)
		}, "INVALID_ARGUMENT", false},
		{"garbage", func(s *openvikingtest.Server) { s.Faults.SetGarbage(true) }, "bad_response", true},
		{"too slow", func(s *openvikingtest.Server) { s.Faults.SetLatency(5 * time.Second) }, "timeout", true},
		{"down", func(s *openvikingtest.Server) { s.Close() }, "unreachable", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, fake, _ := setup(t)
			tt.arrange(fake)
			res, err := b.IngestTurn(ctx, turn("t1", gateway.RoleUser, "I love green tea"))
			require.NoError(t, err)
			require.Equal(t, gateway.ResultFailed, res.Status)
			require.Equal(t, tt.code, res.ErrorCode)
			require.Equal(t, tt.retryable, res.Retryable)
			require.NotContains(t, res.ErrorMessage, "green tea", "a backend echoing content never reaches the control plane")
		})
	}
}

func TestCircuitBreakerFailsFast(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	ctx := context.Background()
	fake.Faults.FailNext(100, http.StatusBadGateway, `{}`)
	for range 5 {
		res, err := b.IngestTurn(ctx, turn("t1", gateway.RoleUser, "x"))
		require.NoError(t, err)
		require.Equal(t, "Bad Gateway", res.ErrorCode)
	}
	require.Equal(t, "open", b.BreakerState())
	res, err := b.IngestTurn(ctx, turn("t1", gateway.RoleUser, "x"))
	require.NoError(t, err)
	require.Equal(t, "circuit_open", res.ErrorCode)
	require.True(t, res.Retryable)
	require.Equal(t, 5, fake.Faults.Count(http.MethodPost, "/api/v1/sessions/s1/messages"), "the open breaker did not call the backend")
	require.Error(t, b.Health(ctx))

	// A permanent error is an answer: it does not trip the breaker.
	b2, fake2, _ := setup(t)
	fake2.Faults.FailNext(10, http.StatusBadRequest, `{"status":"error","error":{"code":"INVALID_ARGUMENT","message":"no"}}`)
	for range 10 {
		_, _ = b2.IngestTurn(ctx, turn("t1", gateway.RoleUser, "x"))
	}
	require.Equal(t, "closed", b2.BreakerState())
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	require.NoError(t, b.Health(context.Background()))
	fake.Close()
	require.Error(t, b.Health(context.Background()))
}

// Feedback specifics of OpenViking (the contract is in contract_test.go).

const (
	writePath  = "/api/v1/content/write"
	deletePath = "/api/v1/fs"
)

// committed ingests and commits a session of two user turns and returns the
// refs the commit produced: the archive, then one per memory.
func committed(t *testing.T, b *openviking.Backend) []gateway.ProducedRef {
	t.Helper()
	ctx := context.Background()
	for i, text := range []string{"my favourite colour is blue", "I work nights"} {
		_, err := b.IngestTurn(ctx, turn([]string{"t1", "t2"}[i], gateway.RoleUser, text))
		require.NoError(t, err)
	}
	res, err := b.CommitSession(ctx, commitReq(nil))
	require.NoError(t, err)
	for res.Status == gateway.ResultPending {
		res, err = b.CommitSession(ctx, commitReq(res.State))
		require.NoError(t, err)
	}
	require.Equal(t, gateway.ResultSuccess, res.Status)
	require.Len(t, res.Refs, 3)
	return res.Refs
}

func feedbackReq(kind gateway.FeedbackType, ref gateway.ProducedRef, correction string) gateway.FeedbackRequest {
	return gateway.FeedbackRequest{
		EventID: "outbox_fb_1", FeedbackID: "fb_1", FeedbackType: kind, WorkspaceID: "acme", UserID: "alice",
		AgentID: "helper", SessionID: "s1", RefType: ref.RefType, NativeID: ref.NativeID, NativeURI: ref.NativeURI,
		Correction: correction, Attempt: 1,
	}
}

// retrieved is what a retrieval of alice's favourite colour returns.
func retrieved(t *testing.T, b *openviking.Backend) []string {
	t.Helper()
	items, err := b.Retrieve(context.Background(), gateway.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", Query: "favourite colour", Limit: 10})
	require.NoError(t, err)
	var texts []string
	for _, it := range items {
		texts = append(texts, it.Text)
	}
	return texts
}

func abstracts(fake *openvikingtest.Server) map[string]string {
	out := map[string]string{}
	for _, m := range fake.Memories("acme", "alice") {
		out[m.URI] = m.Abstract
	}
	return out
}

func TestFeedbackCorrectionRewritesTheMemoryFile(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	refs := committed(t, b)
	memory := refs[1]
	req := feedbackReq(gateway.FeedbackCorrection, memory, "my favourite colour is green")

	for attempt := 1; attempt <= 2; attempt++ { // the repeat is a retry after a lost lease
		res := backendtest.Apply(t, b, req)
		require.Equal(t, gateway.ResultSuccess, res.Status, "attempt %d", attempt)
		require.Equal(t, memory.NativeURI, res.NativeURI, "rewritten in place: same file")
		require.Empty(t, res.NativeID)
		require.Equal(t, gateway.RefTypePreference, res.RefType)
		require.Equal(t, "my favourite colour is green", abstracts(fake)[memory.NativeURI])
		require.Equal(t, "I work nights", abstracts(fake)[refs[2].NativeURI], "the other memory is untouched")
		require.Equal(t, []string{"my favourite colour is green"}, retrieved(t, b))
		require.Equal(t, attempt, fake.Faults.Count(http.MethodPost, writePath))
	}

	// Without a ref type the memory's category decides.
	req.RefType = ""
	require.Equal(t, gateway.RefTypePreference, backendtest.Apply(t, b, req).RefType)
}

func TestFeedbackDeleteRemovesTheMemoryFile(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	refs := committed(t, b)
	req := feedbackReq(gateway.FeedbackDeleteRequest, refs[1], "")

	res := backendtest.Apply(t, b, req)
	require.Equal(t, gateway.ResultSuccess, res.Status)
	require.Equal(t, "deleted", res.Response["status"])
	require.NotContains(t, abstracts(fake), refs[1].NativeURI)
	require.Contains(t, abstracts(fake), refs[2].NativeURI)
	require.Empty(t, retrieved(t, b))

	again := backendtest.Apply(t, b, req)
	require.Equal(t, gateway.ResultSuccess, again.Status, "a file already gone counts as deleted")
	require.Equal(t, "already_deleted", again.Response["status"])
	require.Equal(t, 2, fake.Faults.Count(http.MethodDelete, deletePath))

	correct := backendtest.Apply(t, b, feedbackReq(gateway.FeedbackCorrection, refs[1], "my favourite colour is green"))
	require.Equal(t, gateway.ResultSkipped, correct.Status, "a deleted memory is not resurrected")
	require.Equal(t, openviking.ReasonMemoryNotFound, correct.Response["reason"])
	require.Empty(t, retrieved(t, b))
}

func TestFeedbackSkips(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	refs := committed(t, b)
	ingest, err := b.IngestTurn(context.Background(), turn("t3", gateway.RoleUser, "my favourite colour is blue"))
	require.NoError(t, err)
	ingestRef := gateway.ProducedRef{RefType: gateway.RefTypeSessionArchive, NativeID: ingest.NativeID, NativeURI: ingest.NativeURI}
	backendtest.RequireAnswers(t, b, []backendtest.Answer{
		{Name: "correction of an ingest ref", Request: feedbackReq(gateway.FeedbackCorrection, ingestRef, "green"), Status: gateway.ResultSkipped, Reason: openviking.ReasonNoMemoryURI},
		{Name: "delete of an ingest ref", Request: feedbackReq(gateway.FeedbackDeleteRequest, ingestRef, ""), Status: gateway.ResultSkipped, Reason: openviking.ReasonNoMemoryURI},
		{Name: "correction of the archive", Request: feedbackReq(gateway.FeedbackCorrection, refs[0], "green"), Status: gateway.ResultSkipped, Reason: openviking.ReasonNoMemoryURI},
		{Name: "delete of the archive", Request: feedbackReq(gateway.FeedbackDeleteRequest, refs[0], ""), Status: gateway.ResultSkipped, Reason: openviking.ReasonNoMemoryURI},
		{Name: "a ref without uri", Request: feedbackReq(gateway.FeedbackDeleteRequest, gateway.ProducedRef{RefType: gateway.RefTypePreference}, ""), Status: gateway.ResultSkipped, Reason: openviking.ReasonNoMemoryURI},
		{Name: "the memories directory", Request: feedbackReq(gateway.FeedbackDeleteRequest, gateway.ProducedRef{NativeURI: "viking://user/alice/memories/"}, ""), Status: gateway.ResultSkipped, Reason: openviking.ReasonNoMemoryURI},
	})
	require.Zero(t, fake.Faults.Count(http.MethodPost, writePath)+fake.Faults.Count(http.MethodDelete, deletePath), "nothing was sent")
	require.Len(t, fake.Messages("acme", "alice", "s1"), 3, "the session is untouched")
	require.True(t, strings.HasSuffix(refs[1].NativeURI, ".md"))
	require.Equal(t, "my favourite colour is blue", abstracts(fake)[refs[1].NativeURI])
}
