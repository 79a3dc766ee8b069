package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
	"github.com/memory-gateway/memory-gateway/backends/everos/everostest"
	"github.com/memory-gateway/memory-gateway/backends/openviking/openvikingtest"
	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// gql posts an operation to a running server and decodes data into out; it
// fails the test on any GraphQL error.
func gql(t *testing.T, base, query string, vars map[string]any, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post(base+"/graphql", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var envelope struct {
		Data   json.RawMessage
		Errors []map[string]any
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&envelope))
	require.Empty(t, envelope.Errors)
	require.NoError(t, json.Unmarshal(envelope.Data, out))
}

const e2eIngest = `mutation($in: IngestConversationTurnInput!) { ingestConversationTurn(input: $in) { status refs { backend status refType nativeId nativeUri errorMessage } } }`

type e2eIngestResult struct {
	IngestConversationTurn struct {
		Status string
		Refs   []struct{ Backend, Status, RefType string }
	}
}

func e2eTurn(turn, content string) map[string]any {
	return map[string]any{"in": map[string]any{
		"workspaceId": "acme", "userId": "alice", "agentId": "helper", "sessionId": "s1", "turnId": turn,
		"namespace": "support", "role": "USER", "content": content,
	}}
}

func backendsOf(refs []struct{ Backend, Status, RefType string }) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.Backend+":"+r.Status)
	}
	sort.Strings(out)
	return out
}

// TestGatewayInFrontOfOpenVikingAndEverMemOS runs the gateway the way a user
// would, configured by URL in front of fakes of both APIs.
func TestGatewayInFrontOfOpenVikingAndEverMemOS(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ov, em := openvikingtest.New(), evermemostest.New()
			t.Cleanup(ov.Close)
			t.Cleanup(em.Close)
			ov.Set(func(s *openvikingtest.Server) { s.TaskPolls = 2 })
			base := startServerWith(t, map[string]string{
				"DATABASE_URL": pt.URL(t, d), "OPENVIKING_URL": ov.URL, "EVERMEMOS_URL": em.URL,
				"OPENVIKING_POLL_INTERVAL": "20ms", "WORKER_POLL_INTERVAL": "50ms",
			})

			var ing e2eIngestResult
			gql(t, base, e2eIngest, e2eTurn("t1", "my favourite colour is blue"), &ing)
			require.Equal(t, "SUCCESS", ing.IngestConversationTurn.Status)
			require.Equal(t, []string{"EVERMEMOS:SUCCESS", "LOCAL:SUCCESS", "OPENVIKING:SUCCESS"}, backendsOf(ing.IngestConversationTurn.Refs), "three refs")
			gql(t, base, e2eIngest, e2eTurn("t2", "I work nights at the bakery"), &ing)

			var commit struct {
				CommitSession struct{ Job struct{ ID string } }
			}
			gql(t, base, `mutation { commitSession(input: {workspaceId: "acme", userId: "alice", agentId: "helper", sessionId: "s1", namespace: "support"}) { job { id } } }`, nil, &commit)
			type jobState struct {
				CommitJob struct {
					Status           string
					CreatedRefsCount int
					Refs             struct {
						Edges []struct {
							Node struct{ Backend, RefType string }
						}
					}
				}
			}
			var job jobState
			require.Eventually(t, func() bool {
				gql(t, base, `query($id: ID!) { commitJob(id: $id) { status createdRefsCount refs(first: 50) { edges { node { backend refType } } } } }`,
					map[string]any{"id": commit.CommitSession.Job.ID}, &job)
				return job.CommitJob.Status == "SUCCESS"
			}, 30*time.Second, 20*time.Millisecond, "the commit finishes, OpenViking's task included")
			perBackend := map[string][]string{}
			for _, e := range job.CommitJob.Refs.Edges {
				perBackend[e.Node.Backend] = append(perBackend[e.Node.Backend], e.Node.RefType)
			}
			require.Len(t, perBackend["LOCAL"], 3, "archive + two memories")
			require.ElementsMatch(t, []string{"SESSION_ARCHIVE", "PREFERENCE", "PREFERENCE"}, perBackend["OPENVIKING"])
			require.ElementsMatch(t, []string{"EPISODIC_MEMORY", "PROFILE"}, perBackend["EVERMEMOS"])
			require.Equal(t, 8, job.CommitJob.CreatedRefsCount)

			var got struct {
				RetrieveContext struct {
					Items []struct {
						Text, SourceBackend string
						AlsoFoundIn         []string
						Score               float64
						Ref                 *struct{ ID string }
					}
					Backends []struct {
						Backend, Outcome string
						LatencyMs        int
					}
				}
			}
			gql(t, base, `{ retrieveContext(input: {workspaceId: "acme", userId: "alice", agentId: "helper", query: "what is my favourite colour"}) {
				items { text sourceBackend alsoFoundIn score ref { id } } backends { backend outcome latencyMs } } }`, nil, &got)
			sources := map[string]bool{}
			for _, it := range got.RetrieveContext.Items {
				sources[it.SourceBackend] = true
				for _, b := range it.AlsoFoundIn {
					sources[b] = true // the same text from two backends is one item
				}
				require.NotNil(t, it.Ref, "%s item %q is linked to its ref", it.SourceBackend, it.Text)
				require.LessOrEqual(t, it.Score, 1.0)
			}
			require.Equal(t, map[string]bool{"LOCAL": true, "OPENVIKING": true, "EVERMEMOS": true}, sources, "merged items from all three")
			for _, b := range got.RetrieveContext.Backends {
				require.Equal(t, "OK", b.Outcome, b.Backend)
			}

			var health struct {
				Backends []struct {
					Backend, BreakerState string
					Healthy               bool
				}
			}
			gql(t, base, `{ backends { backend healthy breakerState latencyMs } }`, nil, &health)
			require.Len(t, health.Backends, 3)
			for _, b := range health.Backends {
				require.True(t, b.Healthy, b.Backend)
				require.Equal(t, "CLOSED", b.BreakerState)
			}
		})
	}
}

// TestSlowAndDeadBackends: OpenViking hangs, EverMemOS is down. Ingest still
// answers within the backend timeout with PARTIAL_SUCCESS, the worker
// schedules retries, retrieval answers with the local items.
func TestSlowAndDeadBackends(t *testing.T) {
	t.Parallel()
	ov, em := openvikingtest.New(), evermemostest.New()
	t.Cleanup(ov.Close)
	ov.Faults.SetLatency(10 * time.Second)
	em.Close()
	base := startServerWith(t, map[string]string{
		"DATABASE_URL": pt.URL(t, pt.SQLite), "OPENVIKING_URL": ov.URL, "EVERMEMOS_URL": em.URL,
		"OPENVIKING_TIMEOUT": "300ms", "RETRIEVE_TIMEOUT": "300ms", "WORKER_POLL_INTERVAL": "50ms",
		"COMMIT_TIMEOUT": "300ms", "SHUTDOWN_TIMEOUT": "1s",
	})

	started := time.Now()
	var ing e2eIngestResult
	gql(t, base, e2eIngest, e2eTurn("t1", "my favourite colour is blue"), &ing)
	require.Less(t, time.Since(started), 5*time.Second, "bounded by the backend timeout")
	require.Equal(t, "PARTIAL_SUCCESS", ing.IngestConversationTurn.Status)
	require.Equal(t, []string{"EVERMEMOS:FAILED", "LOCAL:SUCCESS", "OPENVIKING:FAILED"}, backendsOf(ing.IngestConversationTurn.Refs))

	var commit struct {
		CommitSession struct{ Job struct{ ID string } }
	}
	gql(t, base, `mutation { commitSession(input: {workspaceId: "acme", userId: "alice", agentId: "helper", sessionId: "s1", namespace: "support"}) { job { id } } }`, nil, &commit)
	type eventsState struct {
		CommitJob struct {
			Status       string
			OutboxEvents struct {
				Edges []struct {
					Node struct {
						Backend, Status string
						AttemptCount    int
						LastErrorCode   *string
					}
				}
			}
		}
	}
	var job eventsState
	require.Eventually(t, func() bool {
		gql(t, base, `query($id: ID!) { commitJob(id: $id) { status outboxEvents { edges { node { backend status attemptCount lastErrorCode } } } } }`,
			map[string]any{"id": commit.CommitSession.Job.ID}, &job)
		failed := 0
		for _, e := range job.CommitJob.OutboxEvents.Edges {
			if e.Node.Backend != "LOCAL" && e.Node.AttemptCount >= 1 && e.Node.Status == "PENDING" && e.Node.LastErrorCode != nil {
				failed++
			}
		}
		return failed == 2
	}, 30*time.Second, 20*time.Millisecond, "both remote events failed once and wait for a retry")
	require.Equal(t, "RUNNING", job.CommitJob.Status)

	var got struct {
		RetrieveContext struct {
			Items    []struct{ Text, SourceBackend string }
			Backends []struct{ Backend, Outcome string }
		}
	}
	started = time.Now()
	gql(t, base, `{ retrieveContext(input: {workspaceId: "acme", userId: "alice", agentId: "helper", query: "favourite colour"}) { items { text sourceBackend } backends { backend outcome } } }`, nil, &got)
	require.Less(t, time.Since(started), 5*time.Second)
	require.NotEmpty(t, got.RetrieveContext.Items)
	require.Equal(t, "LOCAL", got.RetrieveContext.Items[0].SourceBackend)
	outcomes := map[string]string{}
	for _, b := range got.RetrieveContext.Backends {
		outcomes[b.Backend] = b.Outcome
	}
	require.Equal(t, map[string]string{"LOCAL": "OK", "OPENVIKING": "TIMEOUT", "EVERMEMOS": "ERROR"}, outcomes)
}

// TestPseudonymousBackendIDs: with PSEUDONYMOUS_BACKEND_IDS the remote
// backends are told keyed hashes of workspace and user or agent ids; no raw
// user or agent id reaches them.
func TestPseudonymousBackendIDs(t *testing.T) {
	t.Parallel()
	ov, em := openvikingtest.New(), evermemostest.New()
	t.Cleanup(ov.Close)
	t.Cleanup(em.Close)
	const key = "backend-id-key-0123456789abcdef"
	base := startServerWith(t, map[string]string{
		"DATABASE_URL": pt.URL(t, pt.SQLite), "OPENVIKING_URL": ov.URL, "EVERMEMOS_URL": em.URL,
		"PSEUDONYMOUS_BACKEND_IDS": "true", "BACKEND_ID_KEY": key,
	})
	var ing e2eIngestResult
	gql(t, base, e2eIngest, e2eTurn("t1", "my favourite colour is blue"), &ing)
	require.Equal(t, "SUCCESS", ing.IngestConversationTurn.Status)
	answer := e2eTurn("t2", "noted")
	answer["in"].(map[string]any)["role"] = "ASSISTANT"
	gql(t, base, e2eIngest, answer, &ing)
	require.Equal(t, "SUCCESS", ing.IngestConversationTurn.Status)

	ids := remote.NewIdentities([]byte(key))
	user := ids.Of("acme", "alice")
	require.Empty(t, ov.Messages("acme", "alice", "s1"), "OpenViking never hears of alice")
	msgs := ov.Messages("acme", user.User(), "s1")
	require.Len(t, msgs, 2)
	require.Empty(t, msgs[0].PeerID, "a user message has no peer")
	require.Equal(t, ids.Agent("acme", "helper"), msgs[1].PeerID, "the agent is the assistant's peer")
	require.NotContains(t, msgs[1].PeerID, "helper")
	stored := em.Messages()
	require.Len(t, stored, 2)
	require.Equal(t, user.ScopedUserID(), stored[0].UserID)
	require.Equal(t, user.ScopedUserID(), stored[0].SenderID)
	require.NotContains(t, stored[0].UserID, "alice")

	_, err := parseConfig("serve", nil, func(k string) string {
		return map[string]string{"PSEUDONYMOUS_BACKEND_IDS": "true"}[k]
	}, io.Discard)
	require.ErrorContains(t, err, "BACKEND_ID_KEY", "no key, no pseudonyms")
}

// TestBatchIngestGroupsPerSession: a batch's turns of one session reach
// OpenViking in one messages/batch call and EverMemOS in one add, in order,
// and the local backend in order; each turn still gets its own refs.
func TestBatchIngestGroupsPerSession(t *testing.T) {
	t.Parallel()
	ov, em := openvikingtest.New(), evermemostest.New()
	t.Cleanup(ov.Close)
	t.Cleanup(em.Close)
	// The first call of each remote backend is held until every turn has
	// reached the local backend (so each has joined its session's queues):
	// the turns behind it then go in one call.
	releaseOV, releaseEM := ov.Faults.Hold(), em.Faults.Hold()
	t.Cleanup(releaseOV)
	t.Cleanup(releaseEM)
	dbURL := pt.URL(t, pt.SQLite)
	base := startServerWith(t, map[string]string{"DATABASE_URL": dbURL, "OPENVIKING_URL": ov.URL, "EVERMEMOS_URL": em.URL})
	var turns []any
	for i := range 6 {
		turns = append(turns, map[string]any{"workspaceId": "acme", "userId": "alice", "agentId": "helper", "sessionId": "s1",
			"turnId": fmt.Sprintf("t%d", i), "namespace": "support", "role": "USER", "content": fmt.Sprintf("turn number %d", i)})
	}
	var out struct {
		IngestConversationTurns struct {
			Results []struct {
				Turn *struct {
					Status string
					Refs   []struct{ Backend string }
				}
				Error *struct{ Code, Message string }
			}
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		gql(t, base, `mutation($in: IngestConversationTurnsInput!) { ingestConversationTurns(input: $in) { results { turn { status refs { backend } } error { code message } } } }`,
			map[string]any{"in": map[string]any{"turns": turns}}, &out)
	}()
	waitLocalTurns(t, dbURL, "s1", 6)
	releaseOV()
	releaseEM()
	<-done
	require.Len(t, out.IngestConversationTurns.Results, 6)
	for i, r := range out.IngestConversationTurns.Results {
		require.Nil(t, r.Error, "turn %d", i)
		require.Equal(t, "SUCCESS", r.Turn.Status, "turn %d", i)
		require.Len(t, r.Turn.Refs, 3, "turn %d: a ref per backend", i)
	}
	msgs := ov.Messages("acme", "alice", "s1")
	require.Len(t, msgs, 6)
	for i, m := range msgs {
		require.Equal(t, fmt.Sprintf("turn number %d", i), m.Content, "OpenViking keeps the order")
	}
	require.LessOrEqual(t, ov.Faults.Count(http.MethodPost, "/api/v1/sessions/s1/messages/batch")+ov.Faults.Count(http.MethodPost, "/api/v1/sessions/s1/messages"), 2,
		"the turns queued behind the first call share one batch")
	require.GreaterOrEqual(t, ov.Faults.Count(http.MethodPost, "/api/v1/sessions/s1/messages/batch"), 1)
	var emContents []string
	for _, m := range em.Messages() {
		emContents = append(emContents, m.Content)
	}
	require.Len(t, emContents, 6)
	for i, c := range emContents {
		require.Equal(t, fmt.Sprintf("turn number %d", i), c, "EverMemOS keeps the order")
	}
	require.LessOrEqual(t, em.Faults.Count(http.MethodPost, "/api/v1/memories"), 2)
}

// waitLocalTurns waits until the local backend holds n turns of a session.
func waitLocalTurns(t *testing.T, dbURL, session string, n int) {
	t.Helper()
	db, err := persistence.Open(context.Background(), dbURL)
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	require.Eventually(t, func() bool {
		var count int
		err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM local_memories WHERE session_id = ?", session).Scan(&count)
		return err == nil && count >= n
	}, 30*time.Second, 5*time.Millisecond, "the local backend never held %d turns", n)
}

// TestBatchIngestWhenABackendFails: a batch call a backend refuses fails
// those turns at that backend only (the others record their writes), and
// the same batch again retries exactly them; a backend that hangs past its
// timeout fails its turns without holding the batch.
func TestBatchIngestWhenABackendFails(t *testing.T) {
	t.Parallel()
	ov, em := openvikingtest.New(), evermemostest.New()
	t.Cleanup(ov.Close)
	t.Cleanup(em.Close)
	ov.Faults.SetLatency(50 * time.Millisecond) // the turns after the first queue into one batch
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "OPENVIKING_URL": ov.URL, "EVERMEMOS_URL": em.URL,
		"EVERMEMOS_TIMEOUT": "300ms"})
	var turns []any
	for i := range 5 {
		turns = append(turns, map[string]any{"workspaceId": "acme", "userId": "alice", "agentId": "helper", "sessionId": "s1",
			"turnId": fmt.Sprintf("t%d", i), "namespace": "support", "role": "USER", "content": fmt.Sprintf("turn number %d", i)})
	}
	const batch = `mutation($in: IngestConversationTurnsInput!) { ingestConversationTurns(input: $in) { results { turn { status replayed refs { backend status } } } } }`
	type result struct {
		IngestConversationTurns struct {
			Results []struct {
				Turn struct {
					Status   string
					Replayed bool
					Refs     []struct{ Backend, Status string }
				}
			}
		}
	}
	statusAt := func(r result, i int, backend string) string {
		for _, ref := range r.IngestConversationTurns.Results[i].Turn.Refs {
			if ref.Backend == backend {
				return ref.Status
			}
		}
		return ""
	}

	// OpenViking refuses its batch; EverMemOS hangs past its timeout.
	ov.Faults.FailNextOn(http.MethodPost, "/api/v1/sessions/s1/messages/batch", 1, http.StatusServiceUnavailable, `{"status":"error"}`)
	em.Faults.SetLatency(2 * time.Second)
	started := time.Now()
	var first result
	gql(t, base, batch, map[string]any{"in": map[string]any{"turns": turns}}, &first)
	require.Less(t, time.Since(started), 10*time.Second, "a hanging backend does not hold the batch")
	failedAtOV := 0
	for i := range turns {
		require.Equal(t, "SUCCESS", statusAt(first, i, "LOCAL"), "turn %d", i)
		require.Equal(t, "FAILED", statusAt(first, i, "EVERMEMOS"), "turn %d: past its timeout", i)
		require.Equal(t, "PARTIAL_SUCCESS", first.IngestConversationTurns.Results[i].Turn.Status, "turn %d", i)
		if statusAt(first, i, "OPENVIKING") == "FAILED" {
			failedAtOV++
		}
	}
	require.Positive(t, failedAtOV, "the refused batch failed its turns at OpenViking")
	require.Less(t, len(ov.Messages("acme", "alice", "s1")), 5)

	// Both backends answer now: the same batch again completes every turn.
	em.Faults.SetLatency(0)
	var again result
	gql(t, base, batch, map[string]any{"in": map[string]any{"turns": turns}}, &again)
	for i := range turns {
		require.Equal(t, "SUCCESS", again.IngestConversationTurns.Results[i].Turn.Status, "turn %d", i)
	}
	require.Len(t, ov.Messages("acme", "alice", "s1"), 5, "OpenViking holds each turn once")
}

// TestGatewayInFrontOfEverOS: with EVERMEMOS_API=everos the EVERMEMOS
// backend speaks EverOS 1.x (/api/v2/memory): a turn is added, a commit
// flushes and reads its episode back once indexed, retrieval finds it. An
// EverOS behind a URL configured for the EverCore API is unhealthy, and
// says what to set.
func TestGatewayInFrontOfEverOS(t *testing.T) {
	t.Parallel()
	eo := everostest.New()
	t.Cleanup(eo.Close)
	eo.Set(func(s *everostest.Server) { s.ReadsBeforeVisible = 2 })
	base := startServerWith(t, map[string]string{
		"DATABASE_URL": pt.URL(t, pt.SQLite), "EVERMEMOS_URL": eo.URL, "EVERMEMOS_API": "everos", "LOCAL_BACKEND": "false",
		"WORKER_POLL_INTERVAL": "50ms",
	})
	var ing e2eIngestResult
	gql(t, base, e2eIngest, e2eTurn("t1", "my favourite colour is blue"), &ing)
	require.Equal(t, []string{"EVERMEMOS:SUCCESS"}, backendsOf(ing.IngestConversationTurn.Refs))
	require.Equal(t, []everostest.Message{{AppID: "memory-gateway", ProjectID: "acme", SessionID: "s1", SenderID: "alice", Role: "user",
		Content: "my favourite colour is blue", Timestamp: eo.Messages()[0].Timestamp}}, eo.Messages())

	var commit struct {
		CommitSession struct{ Job struct{ ID string } }
	}
	gql(t, base, `mutation { commitSession(input: {workspaceId: "acme", userId: "alice", agentId: "helper", sessionId: "s1", namespace: "support"}) { job { id } } }`, nil, &commit)
	waitJobStatus(t, base, commit.CommitSession.Job.ID, "SUCCESS")

	var got struct {
		RetrieveContext struct {
			Items []struct {
				Text, SourceBackend, MemoryType string
				Ref                             *struct{ ID string }
			}
		}
	}
	gql(t, base, `{ retrieveContext(input: {workspaceId: "acme", userId: "alice", agentId: "helper", query: "favourite colour"}) {
		items { text sourceBackend memoryType ref { id } } } }`, nil, &got)
	require.NotEmpty(t, got.RetrieveContext.Items)
	for _, it := range got.RetrieveContext.Items {
		require.Equal(t, "EVERMEMOS", it.SourceBackend)
		require.NotNil(t, it.Ref, "%s %q is linked to its ref", it.MemoryType, it.Text)
	}

	var status struct {
		Backends []struct {
			Backend string
			Healthy bool
			Error   *string
		}
	}
	gql(t, base, `{ backends { backend healthy error } }`, nil, &status)
	require.Len(t, status.Backends, 1)
	require.True(t, status.Backends[0].Healthy, "%v", status.Backends[0].Error)

	wrong := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "EVERMEMOS_URL": eo.URL, "LOCAL_BACKEND": "false"})
	gql(t, wrong, `{ backends { backend healthy error } }`, nil, &status)
	require.False(t, status.Backends[0].Healthy, "EverOS answers /health ok, but not the API this backend speaks")
	require.Contains(t, *status.Backends[0].Error, "EVERMEMOS_API=everos")

	_, err := parseConfig("serve", nil, func(k string) string { return map[string]string{"EVERMEMOS_API": "evermemos2"}[k] }, io.Discard)
	require.ErrorContains(t, err, "EVERMEMOS_API")
}
