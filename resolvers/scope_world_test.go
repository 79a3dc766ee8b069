package resolvers_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/evermemos"
	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backends/openviking"
	"github.com/memory-gateway/memory-gateway/backends/openviking/openvikingtest"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/jobevents"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
)

// The scope world: two workspaces (A and B) that both have a user "alice",
// a second user "bob" in A, and keys bound to users, agents and namespace
// grants, in front of all three backends (the remote ones as fakes).

func grants(pairs ...any) []gateway.Grant {
	var out []gateway.Grant
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, gateway.Grant{Namespace: pairs[i].(string), Access: pairs[i+1].(gateway.Access)})
	}
	return out
}

var (
	// aliceAll reaches everything of alice in A: no agent, every namespace.
	aliceAll = gateway.Principal{Name: "alice-all", WorkspaceID: "A", UserID: "alice", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessWrite)}
	// aliceHelper and aliceOther are bound to one agent each.
	aliceHelper = gateway.Principal{Name: "alice-helper", WorkspaceID: "A", UserID: "alice", AgentID: "helper", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessWrite)}
	aliceOther  = gateway.Principal{Name: "alice-other", WorkspaceID: "A", UserID: "alice", AgentID: "other", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessWrite)}
	// aliceSupport writes support only; aliceMixed writes support and reads
	// billing; aliceBilling reads billing (and so not BILLING/exec).
	aliceSupport = gateway.Principal{Name: "alice-support", WorkspaceID: "A", UserID: "alice", Role: gateway.RoleAgent, Grants: grants("support", gateway.AccessWrite)}
	aliceMixed   = gateway.Principal{Name: "alice-mixed", WorkspaceID: "A", UserID: "alice", Role: gateway.RoleAgent, Grants: grants("support", gateway.AccessWrite, "billing", gateway.AccessRead)}
	aliceBilling = gateway.Principal{Name: "alice-billing", WorkspaceID: "A", UserID: "alice", Role: gateway.RoleAgent, Grants: grants("billing", gateway.AccessRead)}
	bobAll       = gateway.Principal{Name: "bob-all", WorkspaceID: "A", UserID: "bob", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessWrite)}
	aliceB       = gateway.Principal{Name: "alice-b", WorkspaceID: "B", UserID: "alice", Role: gateway.RoleAgent, Grants: grants("", gateway.AccessWrite)}
	adminB       = gateway.Principal{Name: "admin-b", WorkspaceID: "B", Role: gateway.RoleAdmin, Grants: grants("", gateway.AccessAdmin)}
	operator     = gateway.Principal{Name: "operator", WorkspaceID: gateway.AllWorkspaces, Role: gateway.RoleAdmin, Grants: grants("", gateway.AccessAdmin)}
)

// scopeSession is one session of the standard data set: who wrote it,
// where, and what.
type scopeSession struct {
	workspace, user, agent, session, namespace, text string
	writer                                           gateway.Principal
}

func (s scopeSession) key() string { return s.workspace + "/" + s.session }

// scopeSessions is the standard data set. Every text shares the words of
// scopeQuery, so a retrieval finds all of them where the key reaches them.
var scopeSessions = []scopeSession{
	{"A", "alice", "helper", "s-support", "support", "alice remembers the ticket about a broken kettle", aliceAll},
	{"A", "alice", "other", "s-legal", "legal", "alice remembers the contract renewal in march", aliceAll},
	{"A", "alice", "helper", "s-exec", "BILLING/exec", "alice remembers the executive bonus pool", aliceAll},
	{"A", "alice", "helper", "s-billing", "billing", "alice remembers the invoice total of the month", aliceAll},
	{"A", "bob", "helper", "s-bob", "support", "bob remembers the ticket about a noisy fan", bobAll},
	{"B", "alice", "helper", "s-support", "support", "alice remembers the ticket about a green kettle", aliceB},
}

const scopeQuery = "remembers ticket kettle contract renewal executive bonus invoice total"

// reach lists, per key, the sessions of the standard data set it may see.
var reach = map[string][]string{
	aliceAll.Name:     {"A/s-support", "A/s-legal", "A/s-exec", "A/s-billing"},
	aliceHelper.Name:  {"A/s-support", "A/s-exec", "A/s-billing"},
	aliceOther.Name:   {"A/s-legal"},
	aliceSupport.Name: {"A/s-support"},
	aliceMixed.Name:   {"A/s-support", "A/s-billing"},
	aliceBilling.Name: {"A/s-billing"},
	bobAll.Name:       {"A/s-bob"},
	aliceB.Name:       {"B/s-support"},
}

// manualClock is the world's clock: draining advances it past every retry
// delay, so asynchronous commits finish without waiting.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// withheldCounter observes backend calls and counts withheld items.
type withheldCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (w *withheldCounter) StartCall(ctx context.Context, _ backendtype.Backend, _ string) (context.Context, func(string)) {
	return ctx, func(string) {}
}

func (w *withheldCounter) ItemsWithheld(backend backendtype.Backend, reason string, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts[string(backend)+"/"+reason] += n
}

func (w *withheldCounter) total() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.counts {
		n += c
	}
	return n
}

type scopeWorld struct {
	h        *harness
	clock    *manualClock
	ov       *openvikingtest.Server
	em       *evermemostest.Server
	withheld *withheldCounter
	hub      *jobevents.Hub
}

// newScopeWorld builds the gateway in front of the local backend and fakes
// of OpenViking (extracting "events") and EverMemOS, with every feedback
// type auto-accepted in workspace A.
func newScopeWorld(t *testing.T, db *persistence.DB) *scopeWorld {
	t.Helper()
	w := &scopeWorld{
		clock:    &manualClock{now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)},
		ov:       openvikingtest.New(),
		em:       evermemostest.New(),
		withheld: &withheldCounter{counts: map[string]int{}},
	}
	t.Cleanup(w.ov.Close)
	t.Cleanup(w.em.Close)
	w.ov.Set(func(s *openvikingtest.Server) { s.Category = "events" })
	ov, err := openviking.New(openviking.Config{BaseURL: w.ov.URL, Timeout: 5 * time.Second, PollInterval: time.Second, Now: w.clock.Now})
	require.NoError(t, err)
	em, err := evermemos.New(evermemos.Config{BaseURL: w.em.URL, Timeout: 5 * time.Second, Now: w.clock.Now})
	require.NoError(t, err)
	w.hub = jobevents.New(persistence.NewStore(db), lifecycle.Env{})
	require.NoError(t, w.hub.Start(context.Background()))
	t.Cleanup(func() { _ = w.hub.Stop(context.Background()) })
	w.h = newHarness(t, db, strict(),
		withBackends(local.New(db.DB, w.clock.Now), ov, em),
		withClock(w.clock.Now), withObserver(w.withheld), withHub(w.hub),
		withFeedbackPolicy(gateway.FeedbackPolicy{
			Default: gateway.DefaultFeedbackPolicy.Default,
			Workspaces: map[string][]backendtype.FeedbackType{"A": {
				backendtype.FeedbackHelpful, backendtype.FeedbackNotHelpful, backendtype.FeedbackCorrection, backendtype.FeedbackDeleteRequest,
			}},
		}))
	return w
}

// call runs an operation as p and returns its data and errors.
func (w *scopeWorld) call(t *testing.T, p gateway.Principal, query string, vars map[string]any) (json.RawMessage, []gqlError) {
	t.Helper()
	_, resp := w.h.doAs(t, &p, query, vars)
	return resp.Data, resp.Errors
}

// ok runs an operation that must succeed and decodes its data.
func (w *scopeWorld) ok(t *testing.T, p gateway.Principal, query string, vars map[string]any, out any) {
	t.Helper()
	w.h.dataAs(t, p, query, vars, out)
}

// refused runs an operation that must fail and returns its one error.
func (w *scopeWorld) refused(t *testing.T, p gateway.Principal, query string, vars map[string]any) gqlError {
	t.Helper()
	return w.h.errorAs(t, &p, query, vars)
}

func turnIn(ws, user, agent, session, turn, ns, text string) map[string]any {
	return map[string]any{"in": map[string]any{
		"workspaceId": ws, "userId": user, "agentId": agent, "sessionId": session, "turnId": turn,
		"namespace": ns, "role": "USER", "content": text,
	}}
}

func commitIn(ws, user, agent, session, ns string) map[string]any {
	return map[string]any{"in": map[string]any{
		"workspaceId": ws, "userId": user, "agentId": agent, "sessionId": session, "namespace": ns,
	}}
}

const commitMutation = `mutation($in: CommitSessionInput!) { commitSession(input: $in) { created job { id status userId agentId namespace } } }`

type commitPayload struct {
	CommitSession struct {
		Created bool
		Job     struct{ ID, Status, UserID, AgentID, Namespace string }
	}
}

// ingest writes one turn as p; it must succeed.
func (w *scopeWorld) ingest(t *testing.T, p gateway.Principal, vars map[string]any) ingestPayload {
	t.Helper()
	var ing ingestPayload
	w.ok(t, p, ingestMutation, vars, &ing)
	return ing
}

// commit commits a session as p; it must succeed.
func (w *scopeWorld) commit(t *testing.T, p gateway.Principal, vars map[string]any) commitPayload {
	t.Helper()
	var c commitPayload
	w.ok(t, p, commitMutation, vars, &c)
	return c
}

// drain runs the outbox dry as the operator, moving the clock past every
// retry delay and OpenViking poll in between.
func (w *scopeWorld) drain(t *testing.T) {
	t.Helper()
	for range 30 {
		w.clock.Advance(time.Minute)
		var out struct {
			ProcessOutbox struct {
				ProcessedCount int
				Summary        struct{ PendingEvents, ProcessingEvents int }
			}
		}
		w.ok(t, operator, `mutation { processOutbox(limit: 1000) { processedCount summary { pendingEvents processingEvents } } }`, nil, &out)
		if s := out.ProcessOutbox.Summary; s.PendingEvents+s.ProcessingEvents == 0 {
			return
		}
	}
	t.Fatal("the outbox did not drain")
}

// seed writes the standard data set, commits every session and drains.
func (w *scopeWorld) seed(t *testing.T) {
	t.Helper()
	for _, s := range scopeSessions {
		ing := w.ingest(t, s.writer, turnIn(s.workspace, s.user, s.agent, s.session, "t1", s.namespace, s.text))
		require.Equal(t, "SUCCESS", ing.IngestConversationTurn.Status, "%s: %v", s.key(), ing.IngestConversationTurn.Errors)
		w.commit(t, s.writer, commitIn(s.workspace, s.user, s.agent, s.session, s.namespace))
	}
	w.drain(t)
}

type retrieved struct {
	RetrieveContext struct {
		Items []struct {
			Text, SourceBackend string
			AlsoFoundIn         []string
			MemoryType          *string
			Ref                 *struct{ ID string }
		}
		Backends []struct {
			Backend, Outcome string
			Error            *string
		}
		Conflicts []struct{ Kind string }
	}
}

const retrieveQuery = `query($in: RetrieveContextInput!) { retrieveContext(input: $in) {
	items { text sourceBackend alsoFoundIn memoryType ref { id } } backends { backend outcome error } conflicts { kind } } }`

func (w *scopeWorld) retrieve(t *testing.T, p gateway.Principal, ws, user, agent, ns string) retrieved {
	t.Helper()
	in := map[string]any{"workspaceId": ws, "userId": user, "agentId": agent, "query": scopeQuery, "limit": 100}
	if ns != "" {
		in["namespace"] = ns
	}
	var out retrieved
	w.ok(t, p, retrieveQuery, map[string]any{"in": in}, &out)
	for _, b := range out.RetrieveContext.Backends {
		require.Equal(t, "OK", b.Outcome, "%s: %v", b.Backend, b.Error)
	}
	return out
}

// sessionsOf says which sessions of the standard data set a retrieval's
// items came from (a profile, which sums up a user, counts as "profile").
func (r retrieved) sessionsOf(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, it := range r.RetrieveContext.Items {
		if it.MemoryType != nil && *it.MemoryType == "PROFILE" {
			out["profile"] = true
			continue
		}
		found := false
		for _, s := range scopeSessions {
			if strings.Contains(it.Text, s.text) {
				out[s.key()] = true
				found = true
			}
		}
		require.True(t, found, "an item from nowhere: %q", it.Text)
	}
	return out
}
