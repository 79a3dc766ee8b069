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
	"github.com/memory-gateway/memory-gateway/backendtype"
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

func turn(id string, role backendtype.Role, content string) backendtype.TurnWrite {
	return backendtype.TurnWrite{
		GatewayID: "gw_" + id, WorkspaceID: "acme", UserID: "alice", AgentID: "helper bot/1", SessionID: "s1",
		TurnID: id, Role: role, Content: content, OccurredAt: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC),
	}
}

func commitReq(state backendtype.Metadata) backendtype.CommitRequest {
	md := backendtype.Metadata{}
	if state != nil {
		md["backend_state"] = map[string]any(state)
	}
	return backendtype.CommitRequest{EventID: "outbox_1", JobID: "gwc_1", WorkspaceID: "acme", UserID: "alice", SessionID: "s1", Metadata: md}
}

func TestIngestWritesSessionMessages(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	ctx := context.Background()
	res, err := b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "I love green tea"))
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSuccess, res.Status)
	require.Equal(t, "s1", res.NativeID)
	require.Equal(t, "viking://user/alice/sessions/s1", res.NativeURI)
	_, err = b.IngestTurn(ctx, turn("t2", backendtype.RoleTool, "tool output"))
	require.NoError(t, err)

	msgs := fake.Messages("acme", "alice", "s1")
	require.Len(t, msgs, 2)
	require.Equal(t, openvikingtest.Message{Role: "user", Content: "I love green tea", TurnID: "t1", CreatedAt: "2026-05-01T09:00:00.000000+00:00"}, msgs[0],
		"a user message has no peer: one would file the user's own memories under the agent")
	require.Equal(t, "assistant", msgs[1].Role, "OpenViking has two speaker roles")
	require.Equal(t, openviking.EncodeID("helper bot/1", false), msgs[1].PeerID, "the agent is the assistant's peer, in OpenViking's charset")

	_, err = b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "I love green tea"))
	require.NoError(t, err)
	require.Len(t, fake.Messages("acme", "alice", "s1"), 3, "OpenViking does not deduplicate by turn_id: a resent turn is stored again")
}

// TestIDsAreMappedIntoOpenVikingsCharset: accounts, users and sessions the
// server would refuse (400) or read as paths reach it in its charset, one
// id each, and read back the same way.
func TestIDsAreMappedIntoOpenVikingsCharset(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"alice", "a b", "a@b@c", "_acme", ".", "..", "mg-x", "Zoë", "a/b", "a%20b"} {
		for _, account := range []bool{false, true} {
			enc := openviking.EncodeID(id, account)
			require.True(t, openviking.ValidID(enc, account), "%q → %q", id, enc)
			dec, err := openviking.DecodeID(enc)
			require.NoError(t, err)
			require.Equal(t, id, dec)
		}
	}
	require.Equal(t, "alice", openviking.EncodeID("alice", true), "ordinary ids stay as they are")
	require.NotEqual(t, openviking.EncodeID("_acme", true), "_acme", "an account may not start with _")
	require.Equal(t, "_acme", openviking.EncodeID("_acme", false), "a user may")

	b, fake, _ := setup(t)
	ctx := context.Background()
	w := turn("t1", backendtype.RoleUser, "I love green tea")
	w.WorkspaceID, w.UserID, w.SessionID = "acme corp", "alice@example.org", "chat/42 a"
	res, err := b.IngestTurn(ctx, w)
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSuccess, res.Status, "%s: %s", res.ErrorCode, res.ErrorMessage)
	account, session := openviking.EncodeID("acme corp", true), openviking.EncodeID("chat/42 a", false)
	require.Len(t, fake.Messages(account, "alice@example.org", session), 1, "the session id is one path segment, escaped once")
	require.Equal(t, "viking://user/alice@example.org/sessions/"+session, res.NativeURI)
	require.Equal(t, []string{session}, fake.Sessions(account, "alice@example.org"), "the id the server lists is the id the gateway sends")
}

func TestCommitFollowsTheTaskToTheMemoryDiff(t *testing.T) {
	t.Parallel()
	b, fake, c := setup(t)
	ctx := context.Background()
	fake.Set(func(s *openvikingtest.Server) { s.TaskPolls = 2 })
	for i, text := range []string{"my favourite colour is blue", "I work nights"} {
		_, err := b.IngestTurn(ctx, turn([]string{"t1", "t2"}[i], backendtype.RoleUser, text))
		require.NoError(t, err)
	}
	_, err := b.IngestTurn(ctx, turn("t3", backendtype.RoleAssistant, "noted"))
	require.NoError(t, err)

	started, err := b.CommitSession(ctx, commitReq(nil))
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultPending, started.Status, "the commit runs in the background")
	require.Equal(t, openviking.PollIntervalDefault, started.RetryAfter)
	require.Equal(t, "task-0001", started.State["task_id"])

	state := started.State
	var delays []time.Duration
	for {
		c.now = c.now.Add(time.Minute)
		res, err := b.CommitSession(ctx, commitReq(state))
		require.NoError(t, err)
		if res.Status != backendtype.ResultPending {
			require.Equal(t, backendtype.ResultSuccess, res.Status)
			require.NotNil(t, res.State)
			require.Empty(t, res.State, "the task is forgotten once done")
			require.Len(t, res.Refs, 3, "the archive and one ref per added memory")
			require.Equal(t, backendtype.RefTypeSessionArchive, res.Refs[0].RefType)
			require.Equal(t, "viking://user/alice/sessions/s1/history/archive_001", res.Refs[0].NativeURI)
			for _, r := range res.Refs[1:] {
				require.Equal(t, backendtype.RefTypePreference, r.RefType)
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
	require.Equal(t, backendtype.ResultSkipped, again.Status, "nothing new to archive")
	require.Equal(t, "no_messages", again.Response["reason"])

	items, err := b.Retrieve(ctx, backendtype.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", Query: "favourite colour", Limit: 5})
	require.NoError(t, err)
	require.NotEmpty(t, items)
	require.Equal(t, "my favourite colour is blue", items[0].Text)
	require.LessOrEqual(t, items[0].Score, 1.0)
	require.Equal(t, backendtype.RefTypePreference, items[0].MemoryType)

	other, err := b.Retrieve(ctx, backendtype.RetrievalQuery{WorkspaceID: "acme", UserID: "bob", Query: "favourite colour", Limit: 5})
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
		require.Equal(t, backendtype.ResultSkipped, res.Status)
	})
	t.Run("412 is permanent", func(t *testing.T) {
		t.Parallel()
		b, fake, _ := setup(t)
		_, _ = b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "hello"))
		fake.Set(func(s *openvikingtest.Server) { s.Precondition = true })
		res, err := b.CommitSession(ctx, commitReq(nil))
		require.NoError(t, err)
		require.Equal(t, backendtype.ResultFailed, res.Status)
		require.False(t, res.Retryable)
		require.Equal(t, "FAILED_PRECONDITION", res.ErrorCode)
	})
	t.Run("a failed task is never committed again", func(t *testing.T) {
		t.Parallel()
		b, fake, _ := setup(t)
		_, _ = b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "hello"))
		fake.Set(func(s *openvikingtest.Server) { s.FailTasks = true })
		started, err := b.CommitSession(ctx, commitReq(nil))
		require.NoError(t, err)
		res, err := b.CommitSession(ctx, commitReq(started.State))
		require.NoError(t, err)
		require.Equal(t, backendtype.ResultFailed, res.Status)
		require.False(t, res.Retryable, "extraction failed for good: a new commit would find nothing to archive")
		require.Equal(t, "task_failed", res.ErrorCode)
		require.Contains(t, res.ErrorMessage, "archive_001", "the failure names the archive")
		require.Equal(t, started.State["task_id"], res.State["task_id"], "the task is kept: a re-drive looks again, never re-commits")
		again, err := b.CommitSession(ctx, commitReq(res.State))
		require.NoError(t, err)
		require.Equal(t, "task_failed", again.ErrorCode)
		require.Equal(t, 1, fake.Faults.Count(http.MethodPost, "/api/v1/sessions/s1/commit"), "committed once")
	})
	t.Run("a task past its deadline is read from its archive", func(t *testing.T) {
		t.Parallel()
		b, fake, c := setup(t)
		_, _ = b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "hello"))
		fake.Set(func(s *openvikingtest.Server) { s.TaskPolls = 1000 })
		started, err := b.CommitSession(ctx, commitReq(nil))
		require.NoError(t, err)
		c.now = c.now.Add(openviking.TaskDeadlineDefault + time.Minute)
		res, err := b.CommitSession(ctx, commitReq(started.State))
		require.NoError(t, err)
		require.Equal(t, openviking.ErrorCodeTaskDeadline, res.ErrorCode, "nothing in the archive yet")
		require.False(t, res.Retryable)
		require.NotEmpty(t, res.State["task_id"])

		fake.ExpireTasks() // the task finishes and its record expires
		res, err = b.CommitSession(ctx, commitReq(res.State))
		require.NoError(t, err)
		require.Equal(t, backendtype.ResultSuccess, res.Status, "the archive's diff is the outcome")
		require.Len(t, res.Refs, 2, "the archive and the memory")
		require.Equal(t, "recovered_from_archive", res.Response["reason"])
	})
	t.Run("a lost task is recovered from its archive", func(t *testing.T) {
		t.Parallel()
		b, fake, _ := setup(t)
		_, _ = b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "my favourite colour is blue"))
		started, err := b.CommitSession(ctx, commitReq(nil))
		require.NoError(t, err)
		fake.ExpireTasks()
		res, err := b.CommitSession(ctx, commitReq(started.State))
		require.NoError(t, err)
		require.Equal(t, backendtype.ResultSuccess, res.Status)
		require.Len(t, res.Refs, 2)
		require.Equal(t, backendtype.RefTypePreference, res.Refs[1].RefType)
		require.Equal(t, 1, fake.Faults.Count(http.MethodPost, "/api/v1/sessions/s1/commit"), "never committed again")
	})
	t.Run("a lost task without a diff is retried, never re-committed", func(t *testing.T) {
		t.Parallel()
		b, fake, _ := setup(t)
		res, err := b.CommitSession(ctx, commitReq(backendtype.Metadata{"task_id": "task-gone", "archive_uri": "viking://user/alice/sessions/s1/history/archive_009", "since_unix_ms": float64(time.Now().UnixMilli())}))
		require.NoError(t, err)
		require.Equal(t, openviking.ErrorCodeTaskLost, res.ErrorCode)
		require.True(t, res.Retryable)
		require.Equal(t, "task-gone", res.State["task_id"])
		require.Zero(t, fake.Faults.Count(http.MethodPost, "/api/v1/sessions/s1/commit"))
	})
	t.Run("a completed task without memory_diff_uri", func(t *testing.T) {
		t.Parallel()
		b, fake, _ := setup(t)
		_, _ = b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "my favourite colour is blue"))
		fake.Set(func(s *openvikingtest.Server) { s.OmitDiffURI = true })
		started, err := b.CommitSession(ctx, commitReq(nil))
		require.NoError(t, err)
		res, err := b.CommitSession(ctx, commitReq(started.State))
		require.NoError(t, err)
		require.Equal(t, backendtype.ResultSuccess, res.Status)
		require.Len(t, res.Refs, 2, "the diff is read from the archive")
	})
}

// TestDiffDeletesRetireRefs: memories extraction deleted are named, so the
// gateway retires their refs.
func TestDiffDeletesRetireRefs(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	refs := committed(t, b)
	fake.Set(func(s *openvikingtest.Server) { s.NextCommitDeletes = []string{refs[1].NativeURI} })
	_, err := b.IngestTurn(context.Background(), turn("t3", backendtype.RoleUser, "my favourite colour is red"))
	require.NoError(t, err)
	res := commitToEnd(t, b)
	require.Equal(t, []backendtype.ProducedRef{{NativeURI: refs[1].NativeURI}}, res.Retired)
}

func commitToEnd(t *testing.T, b *openviking.Backend) backendtype.CommitResult {
	t.Helper()
	res, err := b.CommitSession(context.Background(), commitReq(nil))
	require.NoError(t, err)
	for res.Status == backendtype.ResultPending {
		res, err = b.CommitSession(context.Background(), commitReq(res.State))
		require.NoError(t, err)
	}
	require.Equal(t, backendtype.ResultSuccess, res.Status, "%s: %s", res.ErrorCode, res.ErrorMessage)
	return res
}

// TestRetrievalTakesMemoryFilesOnly: directory records (levels 0 and 1)
// are left out; profile.md is a profile; a query of an agent reads through
// its view.
func TestRetrievalTakesMemoryFilesOnly(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	ctx := context.Background()
	fake.Set(func(s *openvikingtest.Server) { s.Category = "profile" })
	_, err := b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "my favourite colour is blue"))
	require.NoError(t, err)
	commitToEnd(t, b)
	items, err := b.Retrieve(ctx, backendtype.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", AgentID: "helper bot/1", Query: "favourite colour", Limit: 10})
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Equal(t, "viking://user/alice/memories/profile.md", items[0].NativeURI)
	require.Equal(t, backendtype.RefTypeProfile, items[0].MemoryType)

	// What another agent's peer holds stays out of this agent's view.
	fake.WriteFile("acme", "viking://user/alice/peers/"+openviking.EncodeID("other", false)+"/memories/events/2026/05/01/x.md", "favourite colour of the other agent's peer")
	items, err = b.Retrieve(ctx, backendtype.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", AgentID: "helper bot/1", Query: "favourite colour", Limit: 10})
	require.NoError(t, err)
	require.Len(t, items, 1, "the other agent's peer memories are not in this agent's view")
	items, err = b.Retrieve(ctx, backendtype.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", Query: "favourite colour", Limit: 10})
	require.NoError(t, err)
	require.Len(t, items, 2, "without an agent, the whole user")
}

// TestErasureDeletesTheChildrenOfTheUserRoot: the root itself is refused
// (403) to every caller but ROOT; its children go, after the user's
// running commits are cancelled, and verification lists the whole tree.
func TestErasureDeletesTheChildrenOfTheUserRoot(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	ctx := context.Background()
	fake.Set(func(s *openvikingtest.Server) { s.Category = "events" })
	committed(t, b)
	fake.SeedMemories("acme", "alice", 30)
	fake.WriteFile("acme", "viking://user/alice/settings/user_config.json", "{}")
	fake.WriteFile("acme", "viking://user/alice/notes.md", "written at the root")
	_, err := b.IngestTurn(ctx, turn("t9", backendtype.RoleUser, "still extracting"))
	require.NoError(t, err)
	fake.Set(func(s *openvikingtest.Server) { s.TaskPolls = 1000 })
	running, err := b.CommitSession(ctx, commitReq(nil))
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultPending, running.Status)

	req := backendtype.EraseRequest{EventID: "outbox_e", WorkspaceID: "acme", UserID: "alice"}
	before, err := b.SubjectResidue(ctx, req)
	require.NoError(t, err)
	require.Equal(t, backendtype.Residue{{Kind: "memory_file", Count: 32}, {Kind: "session", Count: 1}, {Kind: "file", Count: 6}}, before,
		"events six levels down are counted, directories are not, session files and files outside memories are")
	res, err := b.EraseSubject(ctx, req)
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSuccess, res.Status, "%s: %s", res.ErrorCode, res.ErrorMessage)
	require.Equal(t, "erased", res.Response["outcome"])
	after, err := b.SubjectResidue(ctx, req)
	require.NoError(t, err)
	require.True(t, after.Clear(), after.Describe())
	require.Empty(t, fake.Files("acme", "alice"), "nothing of the user is left, the cancelled task's archive included")
	require.Equal(t, 1, fake.Faults.Count(http.MethodPost, "/api/v1/tasks/"+running.State["task_id"].(string)+"/cancel"))
}

func TestNamespaceRootDeleteIsRefused(t *testing.T) {
	t.Parallel()
	_, fake, _ := setup(t)
	for _, uri := range []string{"viking://user/alice/", "viking://user/alice", "viking://~"} {
		req, err := http.NewRequest(http.MethodDelete, fake.URL+"/api/v1/fs?recursive=true&uri="+uri, nil)
		require.NoError(t, err)
		req.Header.Set("X-OpenViking-Account", "acme")
		req.Header.Set("X-OpenViking-User", "alice")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode, uri)
	}
}

// TestConflictsAreRetryable: a busy lock is 409 CONFLICT with
// details.retryable, which is retried.
func TestConflictsAreRetryable(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	fake.ConflictNext(1)
	res, err := b.IngestTurn(context.Background(), turn("t1", backendtype.RoleUser, "hello"))
	require.NoError(t, err)
	require.Equal(t, "CONFLICT", res.ErrorCode)
	require.True(t, res.Retryable)
	fake.Faults.FailNext(1, http.StatusConflict, `{"status":"error","error":{"code":"ALREADY_EXISTS","message":"exists","details":{}}}`)
	res, err = b.IngestTurn(context.Background(), turn("t1", backendtype.RoleUser, "hello"))
	require.NoError(t, err)
	require.False(t, res.Retryable, "a conflict the server does not mark retryable is not")
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
			res, err := b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "I love green tea"))
			require.NoError(t, err)
			require.Equal(t, backendtype.ResultFailed, res.Status)
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
		res, err := b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "x"))
		require.NoError(t, err)
		require.Equal(t, "Bad Gateway", res.ErrorCode)
	}
	require.Equal(t, "open", b.BreakerState())
	res, err := b.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "x"))
	require.NoError(t, err)
	require.Equal(t, "circuit_open", res.ErrorCode)
	require.True(t, res.Retryable)
	require.Equal(t, 5, fake.Faults.Count(http.MethodPost, "/api/v1/sessions/s1/messages"), "the open breaker did not call the backend")
	require.Error(t, b.Health(ctx))

	// A permanent error is an answer: it does not trip the breaker.
	b2, fake2, _ := setup(t)
	fake2.Faults.FailNext(10, http.StatusBadRequest, `{"status":"error","error":{"code":"INVALID_ARGUMENT","message":"no"}}`)
	for range 10 {
		_, _ = b2.IngestTurn(ctx, turn("t1", backendtype.RoleUser, "x"))
	}
	require.Equal(t, "closed", b2.BreakerState())
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	require.NoError(t, b.Health(context.Background()))
	// /health stays ok while storage is down; /ready does not.
	fake.Faults.FailNextOn(http.MethodGet, "/ready", 1, http.StatusServiceUnavailable, `{"status":"not_ready","checks":{"vectordb":"error: down"}}`)
	require.Error(t, b.Health(context.Background()))
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
func committed(t *testing.T, b *openviking.Backend) []backendtype.ProducedRef {
	t.Helper()
	ctx := context.Background()
	for i, text := range []string{"my favourite colour is blue", "I work nights"} {
		_, err := b.IngestTurn(ctx, turn([]string{"t1", "t2"}[i], backendtype.RoleUser, text))
		require.NoError(t, err)
	}
	res, err := b.CommitSession(ctx, commitReq(nil))
	require.NoError(t, err)
	for res.Status == backendtype.ResultPending {
		res, err = b.CommitSession(ctx, commitReq(res.State))
		require.NoError(t, err)
	}
	require.Equal(t, backendtype.ResultSuccess, res.Status)
	require.Len(t, res.Refs, 3)
	return res.Refs
}

func feedbackReq(kind backendtype.FeedbackType, ref backendtype.ProducedRef, correction string) backendtype.FeedbackRequest {
	return backendtype.FeedbackRequest{
		EventID: "outbox_fb_1", FeedbackID: "fb_1", FeedbackType: kind, WorkspaceID: "acme", UserID: "alice",
		AgentID: "helper", SessionID: "s1", RefType: ref.RefType, NativeID: ref.NativeID, NativeURI: ref.NativeURI,
		Correction: correction, Attempt: 1,
	}
}

// retrieved is what a retrieval of alice's favourite colour returns.
func retrieved(t *testing.T, b *openviking.Backend) []string {
	t.Helper()
	items, err := b.Retrieve(context.Background(), backendtype.RetrievalQuery{WorkspaceID: "acme", UserID: "alice", Query: "favourite colour", Limit: 10})
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
	req := feedbackReq(backendtype.FeedbackCorrection, memory, "my favourite colour is green")

	for attempt := 1; attempt <= 2; attempt++ { // the repeat is a retry after a lost lease
		res := backendtest.Apply(t, b, req)
		require.Equal(t, backendtype.ResultSuccess, res.Status, "attempt %d", attempt)
		require.Equal(t, memory.NativeURI, res.NativeURI, "rewritten in place: same file")
		require.Empty(t, res.NativeID)
		require.Equal(t, backendtype.RefTypePreference, res.RefType)
		require.Equal(t, "my favourite colour is green", abstracts(fake)[memory.NativeURI])
		require.Equal(t, "I work nights", abstracts(fake)[refs[2].NativeURI], "the other memory is untouched")
		require.Equal(t, []string{"my favourite colour is green"}, retrieved(t, b))
		require.Equal(t, attempt, fake.Faults.Count(http.MethodPost, writePath))
	}

	// Without a ref type the memory's category decides.
	req.RefType = ""
	require.Equal(t, backendtype.RefTypePreference, backendtest.Apply(t, b, req).RefType)
}

func TestFeedbackDeleteRemovesTheMemoryFile(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	refs := committed(t, b)
	req := feedbackReq(backendtype.FeedbackDeleteRequest, refs[1], "")

	res := backendtest.Apply(t, b, req)
	require.Equal(t, backendtype.ResultSuccess, res.Status)
	require.Equal(t, "deleted", res.Response["status"])
	require.NotContains(t, abstracts(fake), refs[1].NativeURI)
	require.Contains(t, abstracts(fake), refs[2].NativeURI)
	require.Empty(t, retrieved(t, b))

	again := backendtest.Apply(t, b, req)
	require.Equal(t, backendtype.ResultSuccess, again.Status, "a file already gone counts as deleted (the server answers 200)")
	require.Equal(t, 2, fake.Faults.Count(http.MethodDelete, deletePath))

	correct := backendtest.Apply(t, b, feedbackReq(backendtype.FeedbackCorrection, refs[1], "my favourite colour is green"))
	require.Equal(t, backendtype.ResultSkipped, correct.Status, "a deleted memory is not resurrected")
	require.Equal(t, openviking.ReasonMemoryNotFound, correct.Response["reason"])
	require.Empty(t, retrieved(t, b))
}

func TestFeedbackSkips(t *testing.T) {
	t.Parallel()
	b, fake, _ := setup(t)
	refs := committed(t, b)
	ingest, err := b.IngestTurn(context.Background(), turn("t3", backendtype.RoleUser, "my favourite colour is blue"))
	require.NoError(t, err)
	ingestRef := backendtype.ProducedRef{RefType: backendtype.RefTypeSessionArchive, NativeID: ingest.NativeID, NativeURI: ingest.NativeURI}
	backendtest.RequireAnswers(t, b, []backendtest.Answer{
		{Name: "correction of an ingest ref", Request: feedbackReq(backendtype.FeedbackCorrection, ingestRef, "green"), Status: backendtype.ResultSkipped, Reason: openviking.ReasonNoMemoryURI},
		{Name: "delete of an ingest ref", Request: feedbackReq(backendtype.FeedbackDeleteRequest, ingestRef, ""), Status: backendtype.ResultSkipped, Reason: openviking.ReasonNoMemoryURI},
		{Name: "correction of the archive", Request: feedbackReq(backendtype.FeedbackCorrection, refs[0], "green"), Status: backendtype.ResultSkipped, Reason: openviking.ReasonNoMemoryURI},
		{Name: "delete of the archive", Request: feedbackReq(backendtype.FeedbackDeleteRequest, refs[0], ""), Status: backendtype.ResultSkipped, Reason: openviking.ReasonNoMemoryURI},
		{Name: "a ref without uri", Request: feedbackReq(backendtype.FeedbackDeleteRequest, backendtype.ProducedRef{RefType: backendtype.RefTypePreference}, ""), Status: backendtype.ResultSkipped, Reason: openviking.ReasonNoMemoryURI},
		{Name: "the memories directory", Request: feedbackReq(backendtype.FeedbackDeleteRequest, backendtype.ProducedRef{NativeURI: "viking://user/alice/memories/"}, ""), Status: backendtype.ResultSkipped, Reason: openviking.ReasonNoMemoryURI},
	})
	require.Zero(t, fake.Faults.Count(http.MethodPost, writePath)+fake.Faults.Count(http.MethodDelete, deletePath), "nothing was sent")
	require.Len(t, fake.Messages("acme", "alice", "s1"), 3, "the session is untouched")
	require.True(t, strings.HasSuffix(refs[1].NativeURI, ".md"))
	require.Equal(t, "my favourite colour is blue", abstracts(fake)[refs[1].NativeURI])
}
