package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
	"github.com/memory-gateway/memory-gateway/backends/openviking/openvikingtest"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// TestCorrectionAsANewUser: "my favourite colour is blue" is ingested and
// committed into the local backend and both remote ones; a CORRECTION to
// green on each backend's memory is reviewed and accepted, routed to the
// backend that owns it, and from then on retrieval returns green and never
// blue, from every backend; the ref graph shows old ref → superseded → new
// ref, with the feedback between.
func TestCorrectionAsANewUser(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ov, em := openvikingtest.New(), evermemostest.New()
			t.Cleanup(ov.Close)
			t.Cleanup(em.Close)
			base := startServerWith(t, map[string]string{
				"DATABASE_URL": pt.URL(t, d), "OPENVIKING_URL": ov.URL, "EVERMEMOS_URL": em.URL,
				"OPENVIKING_POLL_INTERVAL": "20ms", "WORKER_POLL_INTERVAL": "50ms",
			})
			var ing e2eIngestResult
			gql(t, base, e2eIngest, e2eTurn("t1", "my favourite colour is blue"), &ing)
			require.Equal(t, "SUCCESS", ing.IngestConversationTurn.Status)
			waitJobStatus(t, base, commitSessionJob(t, base, "s1"), "SUCCESS")
			require.Contains(t, retrieveTexts(t, base), "my favourite colour is blue")

			// The memory each backend made of the turn.
			memoryTypes := map[string]string{"LOCAL": "LONG_TERM_MEMORY", "OPENVIKING": "PREFERENCE", "EVERMEMOS": "EPISODIC_MEMORY"}
			var refs struct {
				MemoryRefs struct {
					Edges []struct {
						Node struct{ ID, Backend, RefType, Status string }
					}
				}
			}
			gql(t, base, `{ memoryRefs(filter: {workspaceId: "acme", sessionId: "s1"}, first: 50) { edges { node { id backend refType status } } } }`, nil, &refs)
			old := map[string]string{}
			for _, e := range refs.MemoryRefs.Edges {
				if memoryTypes[e.Node.Backend] == e.Node.RefType {
					old[e.Node.Backend] = e.Node.ID
				}
			}
			require.Len(t, old, 3, "a memory ref per backend: %+v", refs.MemoryRefs.Edges)

			feedbackIDs, jobs := map[string]string{}, map[string]string{}
			for backend, refID := range old {
				var rec struct {
					RecordMemoryFeedback struct{ Feedback struct{ ID, Status string } }
				}
				gql(t, base, `mutation($in: RecordMemoryFeedbackInput!) { recordMemoryFeedback(input: $in) { feedback { id status } } }`,
					map[string]any{"in": map[string]any{
						"workspaceId": "acme", "userId": "alice", "agentId": "helper", "namespace": "support", "memoryRefId": refID,
						"feedbackType": "CORRECTION", "correction": "my favourite colour is green", "sourceEventId": "fix-" + backend,
					}}, &rec)
				require.Equal(t, "RECEIVED", rec.RecordMemoryFeedback.Feedback.Status, backend)
				var review struct {
					ReviewMemoryFeedback struct {
						Feedback struct {
							Status string
							Job    struct{ ID string }
						}
					}
				}
				gql(t, base, `mutation($id: ID!) { reviewMemoryFeedback(input: {id: $id, decision: ACCEPT, reason: "the user said so"}) { feedback { status job { id } } } }`,
					map[string]any{"id": rec.RecordMemoryFeedback.Feedback.ID}, &review)
				require.Equal(t, "ACCEPTED", review.ReviewMemoryFeedback.Feedback.Status, backend)
				require.NotEmpty(t, review.ReviewMemoryFeedback.Feedback.Job.ID, backend)
				feedbackIDs[backend] = rec.RecordMemoryFeedback.Feedback.ID
				jobs[backend] = review.ReviewMemoryFeedback.Feedback.Job.ID
			}
			// The routing job's subscription shows the progress and completes.
			require.Equal(t, "SUCCESS", lastJobState(t, base, jobs["LOCAL"]))
			for backend, id := range feedbackIDs {
				var fb struct {
					Node struct{ Status, ResultReason string }
				}
				require.Eventually(t, func() bool {
					gql(t, base, `query($id: ID!) { node(id: $id) { ... on MemoryFeedback { status resultReason } } }`, map[string]any{"id": id}, &fb)
					return fb.Node.Status != "ACCEPTED"
				}, 30*time.Second, 20*time.Millisecond, backend)
				require.Equal(t, "APPLIED", fb.Node.Status, "%s: %s", backend, fb.Node.ResultReason)
			}

			var got struct {
				RetrieveContext struct {
					Items []struct {
						Text, SourceBackend, MemoryType string
						AlsoFoundIn                     []string
					}
					Conflicts []struct {
						Kind     string
						Backends []string
					}
				}
			}
			gql(t, base, `{ retrieveContext(input: {workspaceId: "acme", userId: "alice", agentId: "helper", query: "favourite colour"}) {
				items { text sourceBackend memoryType alsoFoundIn } conflicts { kind backends } } }`, nil, &got)
			green := map[string]bool{}
			for _, it := range got.RetrieveContext.Items {
				if it.SourceBackend == "EVERMEMOS" && it.MemoryType == "PROFILE" {
					// EverMemOS's profile keeps the old fact in its own words:
					// no API edits a profile, and a reworded fact cannot be
					// recognised (README "Backends").
					continue
				}
				require.NotContains(t, it.Text, "blue", "%s still returns the old fact", it.SourceBackend)
				if strings.Contains(it.Text, "green") {
					green[it.SourceBackend] = true
					for _, b := range it.AlsoFoundIn {
						green[b] = true
					}
				}
			}
			require.Equal(t, map[string]bool{"LOCAL": true, "OPENVIKING": true, "EVERMEMOS": true}, green, "green from every backend")
			// EverMemOS's search indexes keep serving the episode deleted by
			// its MemCell (the delete reaches MongoDB only): left out, and
			// reported. Its profile keeps the old fact in its own words (no
			// API retracts it): returned, and reported as diverging from the
			// corrected backends.
			kinds := map[string]bool{}
			for _, c := range got.RetrieveContext.Conflicts {
				kinds[c.Kind] = true
				require.Contains(t, c.Backends, "EVERMEMOS", c.Kind)
			}
			require.True(t, kinds["superseded_memory"], "%v", kinds)
			require.True(t, kinds["divergent_content"], "%v", kinds)

			// The ref graph: old ref → SUPERSEDED → new ref, the feedback between.
			for backend, refID := range old {
				var graph struct {
					MemoryRef struct {
						Status       string
						SupersededBy struct {
							ID, Status string
							Supersedes []struct{ ID string }
						}
						Feedback struct {
							Edges []struct {
								Node struct {
									Status, ReviewReason string
									ReplacementRef       struct{ ID string }
									OutboxEvent          struct{ Operation, Status string }
									Job                  struct{ Status string }
								}
							}
						}
					}
				}
				gql(t, base, `query($id: ID!) { memoryRef(id: $id) { status
					supersededBy { id status supersedes { id } }
					feedback { edges { node { status reviewReason replacementRef { id } outboxEvent { operation status } job { status } } } } } }`,
					map[string]any{"id": refID}, &graph)
				r := graph.MemoryRef
				require.Equal(t, "SUPERSEDED", r.Status, backend)
				require.Equal(t, "SUCCESS", r.SupersededBy.Status, backend)
				require.Contains(t, r.SupersededBy.Supersedes, struct{ ID string }{refID}, backend)
				require.Len(t, r.Feedback.Edges, 1, backend)
				fb := r.Feedback.Edges[0].Node
				require.Equal(t, "APPLIED", fb.Status, backend)
				require.Equal(t, "the user said so", fb.ReviewReason)
				require.Equal(t, r.SupersededBy.ID, fb.ReplacementRef.ID, backend)
				require.Equal(t, struct{ Operation, Status string }{"APPLY_FEEDBACK", "SUCCESS"}, fb.OutboxEvent, backend)
				require.Equal(t, "SUCCESS", fb.Job.Status, backend)
			}
		})
	}
}

// retrieveTexts asks for "favourite colour" and returns the items' texts.
func retrieveTexts(t *testing.T, base string) []string {
	t.Helper()
	var got struct {
		RetrieveContext struct{ Items []struct{ Text string } }
	}
	gql(t, base, `{ retrieveContext(input: {workspaceId: "acme", userId: "alice", agentId: "helper", query: "favourite colour"}) { items { text } } }`, nil, &got)
	var texts []string
	for _, it := range got.RetrieveContext.Items {
		texts = append(texts, it.Text)
	}
	return texts
}

// lastJobState follows commitJobUpdated(id) over a websocket until the
// server completes the subscription, and returns the last status it sent.
func lastJobState(t *testing.T, base, jobID string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	defer func() { _ = conn.CloseNow() }()
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": map[string]any{}}))
	var msg struct {
		Type    string
		Payload struct {
			Data struct{ CommitJobUpdated struct{ Status string } }
		}
	}
	require.NoError(t, wsjson.Read(ctx, conn, &msg))
	require.Equal(t, "connection_ack", msg.Type)
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": `subscription($id: ID!) { commitJobUpdated(id: $id) { status } }`, "variables": map[string]any{"id": jobID}}}))
	last := ""
	for {
		require.NoError(t, wsjson.Read(ctx, conn, &msg))
		switch msg.Type {
		case "next":
			last = msg.Payload.Data.CommitJobUpdated.Status
		case "complete":
			return last
		case "error":
			t.Fatalf("subscription error: %+v", msg)
		}
	}
}
