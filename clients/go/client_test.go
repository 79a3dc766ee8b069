package memorygateway_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mg "github.com/memory-gateway/memory-gateway/clients/go"
)

const (
	workspace = "client-go"
	agent     = "agent-1"
	namespace = "tests"
)

// testTimeout bounds each test's calls.
const testTimeout = time.Minute

func newClient(t *testing.T, url string, opts ...mg.Option) *mg.Client {
	t.Helper()
	c, err := mg.New(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func turn(user, session, turnID string, role mg.TurnRole, content string) mg.IngestConversationTurnInput {
	return mg.IngestConversationTurnInput{
		WorkspaceId: workspace, UserId: user, AgentId: agent, SessionId: session,
		TurnId: turnID, Namespace: namespace, Role: role, Content: content,
	}
}

// TestAgentOperations drives an agent's and a dashboard's operations in
// order against the live gateway: ingest one turn and a batch, recall,
// commit and follow the job to SUCCESS, the job's status, feedback, the
// refs graph and the session.
func TestAgentOperations(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newClient(t, gatewayURL)
	const user, session = "alice", "agent-ops"

	first, err := c.IngestTurn(ctx, turn(user, session, "t1", mg.TurnRoleUser, "I keep bees on the allotment"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != mg.OperationStatusSuccess || first.Replayed || len(first.Refs) == 0 {
		t.Fatalf("first ingest: %+v", first)
	}
	again, err := c.IngestTurn(ctx, turn(user, session, "t1", mg.TurnRoleUser, "I keep bees on the allotment"))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.GatewayId != first.GatewayId {
		t.Fatalf("the same turn again is a replay of the first: %+v", again)
	}

	results, err := c.IngestTurns(ctx, []mg.IngestConversationTurnInput{
		turn(user, session, "t2", mg.TurnRoleAssistant, "Bees like lavender"),
		turn(user, session, "t3", mg.TurnRoleUser, "bad\x00turn"),
		turn(user, session, "t4", mg.TurnRoleUser, "The hives face south"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 || results[0].Err() != nil || results[2].Err() != nil || results[0].Turn.TurnId != "t2" {
		t.Fatalf("batch results: %+v", results)
	}
	var turnErr *mg.Error
	if !errors.As(results[1].Err(), &turnErr) || turnErr.Code != mg.CodeBadUserInput || turnErr.Field != "input.turns[1].content" || turnErr.Retryable {
		t.Fatalf("the bad turn's own error names its field: %#v", results[1].Err())
	}

	recalled, err := c.RetrieveContext(ctx, mg.RetrieveContextInput{
		WorkspaceId: workspace, UserId: user, AgentId: agent, Namespace: mg.Ptr(namespace), Query: "bees allotment",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !containsText(recalled.Items, "I keep bees on the allotment") || len(recalled.Backends) == 0 {
		t.Fatalf("recall: %+v", recalled)
	}

	commit, err := c.CommitSession(ctx, mg.CommitSessionInput{
		WorkspaceId: workspace, UserId: user, AgentId: agent, SessionId: session, Namespace: namespace,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !commit.Created || commit.Job.SessionId != session {
		t.Fatalf("commit: %+v", commit)
	}
	var states []mg.CommitJobStatus
	done, err := c.FollowJob(ctx, commit.Job.Id, func(u mg.JobUpdate) { states = append(states, u.Status) })
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != mg.CommitJobStatusSuccess || done.ID != commit.Job.Id || done.Kind != mg.JobKindCommit || done.FinishedAt == nil {
		t.Fatalf("the commit's job ends SUCCESS: %+v (states %v)", done, states)
	}
	if states[len(states)-1] != mg.CommitJobStatusSuccess {
		t.Fatalf("the last state followed is the terminal one: %v", states)
	}
	waited, err := c.WaitForJob(ctx, commit.Job.Id)
	if err != nil || waited.Status != mg.CommitJobStatusSuccess {
		t.Fatalf("waiting for a finished job answers its end at once: %+v, %v", waited, err)
	}

	job, err := c.CommitJob(ctx, commit.Job.Id)
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != mg.CommitJobStatusSuccess || job.OutboxSummary.TotalEvents == 0 || job.OutboxSummary.SuccessEvents+job.OutboxSummary.SkippedEvents != job.OutboxSummary.TotalEvents {
		t.Fatalf("job status: %+v", job)
	}

	refID := first.Refs[0].Id
	feedback, err := c.RecordFeedback(ctx, mg.RecordMemoryFeedbackInput{
		WorkspaceId: workspace, UserId: user, AgentId: agent, Namespace: namespace,
		MemoryRefId: refID, FeedbackType: mg.FeedbackTypeHelpful, SourceEventId: mg.Ptr("fb-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !feedback.Created || feedback.Feedback.MemoryRefId != refID {
		t.Fatalf("feedback: %+v", feedback)
	}

	graph, err := c.MemoryRefGraph(ctx, refID)
	if err != nil {
		t.Fatal(err)
	}
	if graph.Id != refID || len(graph.Feedback.Edges) != 1 || graph.Feedback.Edges[0].Node.Id != feedback.Feedback.Id {
		t.Fatalf("the ref's graph holds its feedback: %+v", graph)
	}

	page, err := c.MemoryRefs(ctx, &mg.MemoryRefFilter{WorkspaceId: mg.Ptr(workspace), SessionId: mg.Ptr(session)}, mg.Ptr(100), nil)
	if err != nil {
		t.Fatal(err)
	}
	if page.TotalCount == nil || *page.TotalCount != len(page.Edges) || len(page.Edges) < 3 {
		t.Fatalf("the session's refs: total %v, %d edges", page.TotalCount, len(page.Edges))
	}

	sess, err := c.Session(ctx, workspace, session, mg.Ptr(100))
	if err != nil {
		t.Fatal(err)
	}
	if sess.SessionId != session || len(sess.Refs.Edges) != len(page.Edges) || len(sess.Jobs.Edges) != 1 || sess.Jobs.Edges[0].Node.Id != commit.Job.Id {
		t.Fatalf("session graph: %d refs, %d jobs", len(sess.Refs.Edges), len(sess.Jobs.Edges))
	}
}

func containsText(items []mg.ContextItem, text string) bool {
	for _, item := range items {
		if strings.Contains(item.Text, text) {
			return true
		}
	}
	return false
}

// TestEraseSubject erases a user and follows the erasure's job to its end.
func TestEraseSubject(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newClient(t, gatewayURL)
	const user = "bob"
	if _, err := c.IngestTurn(ctx, turn(user, "erase-me", "t1", mg.TurnRoleUser, "My locker code is in my notes")); err != nil {
		t.Fatal(err)
	}
	erasure, err := c.EraseSubject(ctx, mg.EraseSubjectInput{WorkspaceId: workspace, UserId: user, Reason: "the user asked", IdempotencyKey: mg.Ptr("erase-bob")})
	if err != nil {
		t.Fatal(err)
	}
	if !erasure.Created || erasure.Request.UserId != user {
		t.Fatalf("erasure: %+v", erasure)
	}
	done, err := c.WaitForJob(ctx, erasure.Request.Job.Id)
	if err != nil {
		t.Fatal(err)
	}
	if done.Kind != mg.JobKindErasure || done.Status != mg.CommitJobStatusSuccess {
		t.Fatalf("the erasure's job: %+v", done)
	}
	request, err := c.ErasureRequest(ctx, erasure.Request.Id)
	if err != nil {
		t.Fatal(err)
	}
	if request.Status != mg.ErasureStatusCompleted || len(request.Backends) == 0 {
		t.Fatalf("the erasure request: %+v", request)
	}
}

// TestBadInputIsATypedError: the gateway's error extensions arrive as an
// *Error naming the field, and it is not retried.
func TestBadInputIsATypedError(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	proxy := newFaultProxy(t, 0, nil)
	c := newClient(t, proxy.URL(), mg.WithRetry(mg.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond}))

	_, err := c.IngestTurn(ctx, turn("carol", "..", "t1", mg.TurnRoleUser, "hello"))
	var gwErr *mg.Error
	if !errors.As(err, &gwErr) {
		t.Fatalf("want an *Error, got %T %v", err, err)
	}
	if gwErr.Code != mg.CodeBadUserInput || gwErr.Field != "input.sessionId" || gwErr.Retryable || mg.IsRetryable(err) {
		t.Fatalf("the error: %#v", gwErr)
	}
	if got := proxy.graphqlRequests.Load(); got != 1 {
		t.Fatalf("a bad input is sent once, not retried: %d requests", got)
	}

	_, err = c.WaitForJob(ctx, "gwc_does_not_exist")
	if !errors.As(err, &gwErr) || gwErr.Code != mg.CodeNotFound {
		t.Fatalf("waiting for a job that does not exist: %v", err)
	}
}

// TestRetries: retryable errors (a RATE_LIMITED answer with retryAfterMs,
// a proxy's 503) are retried until the gateway answers; a non-retryable one
// is not; the attempts run out.
func TestRetries(t *testing.T) {
	t.Parallel()
	rateLimited := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"errors":[{"message":"slow down","extensions":{"code":"RATE_LIMITED","retryAfterMs":5}}],"data":null}`)
	}
	unavailable := func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "0")
		http.Error(w, "upstream restarting", http.StatusServiceUnavailable)
	}
	conflict := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"errors":[{"message":"erasing","extensions":{"code":"CONFLICT","reason":"erasure_in_progress"}}],"data":null}`)
	}
	tests := []struct {
		name         string
		faults       int
		fault        func(http.ResponseWriter)
		maxAttempts  int
		wantCode     string // "" for success
		wantRequests int64
	}{
		{"rate limited, then served", 2, rateLimited, 4, "", 3},
		{"503 from a proxy, then served", 3, unavailable, 4, "", 4},
		{"retryable until the attempts run out", 10, rateLimited, 3, mg.CodeRateLimited, 3},
		{"not retryable: sent once", 10, conflict, 4, mg.CodeConflict, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			proxy := newFaultProxy(t, tt.faults, tt.fault)
			c := newClient(t, proxy.URL(), mg.WithRetry(mg.RetryPolicy{MaxAttempts: tt.maxAttempts, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}))
			got, err := c.IngestTurn(ctx, turn("dave", fmt.Sprintf("retries-%d", i), "t1", mg.TurnRoleUser, "retried turn"))
			if tt.wantCode == "" {
				if err != nil || got.Status != mg.OperationStatusSuccess {
					t.Fatalf("want success after retries: %+v, %v", got, err)
				}
			} else {
				var gwErr *mg.Error
				if !errors.As(err, &gwErr) || gwErr.Code != tt.wantCode {
					t.Fatalf("want %s, got %v", tt.wantCode, err)
				}
				if gwErr.Code == mg.CodeRateLimited && gwErr.RetryAfterMs != 5 {
					t.Fatalf("retryAfterMs is carried: %#v", gwErr)
				}
				if gwErr.Code == mg.CodeConflict && gwErr.Reason != "erasure_in_progress" {
					t.Fatalf("the reason is carried: %#v", gwErr)
				}
			}
			if n := proxy.graphqlRequests.Load(); n != tt.wantRequests {
				t.Fatalf("requests: got %d, want %d", n, tt.wantRequests)
			}
		})
	}
}

// TestAPIKeyIsSent: the key goes as a bearer token, on requests and on a
// job's stream, and the gateway's 401 answer is UNAUTHENTICATED.
func TestAPIKeyIsSent(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"errors":[{"message":"unauthenticated","extensions":{"code":"UNAUTHENTICATED"}}]}`)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, mg.WithAPIKey("mgw_test_key"))
	_, err := c.CommitJob(ctx, "gwc_x")
	var gwErr *mg.Error
	if !errors.As(err, &gwErr) || gwErr.Code != mg.CodeUnauthenticated || gwErr.HTTPStatus != http.StatusUnauthorized {
		t.Fatalf("a refused key: %v", err)
	}
	_, err = c.WaitForJob(ctx, "gwc_x")
	if !errors.As(err, &gwErr) || gwErr.Code != mg.CodeUnauthenticated {
		t.Fatalf("a refused key on a job's stream: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "Bearer mgw_test_key" || seen[1] != "Bearer mgw_test_key" {
		t.Fatalf("Authorization headers: %q", seen)
	}
}

// TestWaitForJobResumesABrokenStream: a job's stream that ends before the
// job is opened again, and the wait still ends with the job's terminal state.
func TestWaitForJobResumesABrokenStream(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	const session = "broken-stream"
	direct := newClient(t, gatewayURL)
	if _, err := direct.IngestTurn(ctx, turn("erin", session, "t1", mg.TurnRoleUser, "streams break")); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, 0, nil)
	proxy.streamFaults.Store(2) // the first two streams end at once, with no state
	c := newClient(t, proxy.URL(), mg.WithRetry(mg.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond}))
	done, err := c.CommitAndWait(ctx, mg.CommitSessionInput{WorkspaceId: workspace, UserId: "erin", AgentId: agent, SessionId: session, Namespace: namespace})
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != mg.CommitJobStatusSuccess {
		t.Fatalf("the job: %+v", done)
	}
	if n := proxy.streamRequests.Load(); n != 3 {
		t.Fatalf("streams opened: got %d, want 3", n)
	}
}

// faultProxy stands between a client and the live gateway: it answers the
// first faults GraphQL requests with fault, ends the first streamFaults
// job streams at once, and forwards everything else.
type faultProxy struct {
	srv             *httptest.Server
	graphqlRequests atomic.Int64
	streamRequests  atomic.Int64
	faults          atomic.Int64
	streamFaults    atomic.Int64
}

func newFaultProxy(t *testing.T, faults int, fault func(http.ResponseWriter)) *faultProxy {
	t.Helper()
	target, err := url.Parse(gatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	forward.FlushInterval = -1 // streams pass at once
	p := &faultProxy{}
	p.faults.Store(int64(faults))
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
			p.streamRequests.Add(1)
			if p.streamFaults.Add(-1) >= 0 {
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, ":\n\nevent: complete\n\n")
				return
			}
			forward.ServeHTTP(w, r)
			return
		}
		p.graphqlRequests.Add(1)
		if fault != nil && p.faults.Add(-1) >= 0 {
			fault(w)
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *faultProxy) URL() string { return p.srv.URL }

// TestExampleAgentRuns runs the agent loop of examples/go (a module of its
// own, on this client by a replace directive) against the live gateway.
func TestExampleAgentRuns(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	cmd := exec.CommandContext(ctx, "go", "run", ".", "-url", gatewayURL, "-session", "example-run")
	cmd.Dir = filepath.Join("..", "..", "examples", "go")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the example failed: %v\n%s", err, out)
	}
	for _, want := range []string{"agent: You told me:", ": SUCCESS", "committed:"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("the example's output lacks %q:\n%s", want, out)
		}
	}
}
