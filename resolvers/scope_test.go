package resolvers_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/evermemos"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// worldRecords is everything the standard data set recorded, by the
// session ("ws/session") each record belongs to.
type worldRecords struct {
	bySession map[string][]string // ids of refs, jobs, events, audit entries, feedback
	kinds     map[string]string   // id → kind
	events    map[string]int      // session → events
	jobs      map[string][]string // session → job ids
}

const worldListQuery = `{
	memoryRefs(first: 100) { edges { node { id workspaceId sessionId } } }
	commitJobs(first: 100) { edges { node { id workspaceId sessionId } } }
	outboxEvents(first: 100) { edges { node { id workspaceId sessionId } } }
	auditLog(first: 100) { edges { node { id workspaceId sessionId } } }
	feedback(first: 100) { edges { node { id workspaceId memoryRefId } } }
	outboxSummary { totalEvents } }`

type placedPage struct {
	Edges []struct {
		Node struct{ ID, WorkspaceID, SessionID, MemoryRefID string }
	}
}

type worldLists struct {
	MemoryRefs, CommitJobs, OutboxEvents, AuditLog, Feedback placedPage
	OutboxSummary                                            struct{ TotalEvents int }
}

// records reads the world as the operator sees it (everything), after
// giving HELPFUL feedback on one ref of every session.
func (w *scopeWorld) records(t *testing.T) worldRecords {
	t.Helper()
	var all worldLists
	w.ok(t, operator, worldListQuery, nil, &all)
	rec := worldRecords{bySession: map[string][]string{}, kinds: map[string]string{}, events: map[string]int{}, jobs: map[string][]string{}}
	refSession := map[string]string{}
	add := func(kind string, page placedPage) {
		for _, e := range page.Edges {
			n := e.Node
			if n.SessionID == "" {
				continue
			}
			key := n.WorkspaceID + "/" + n.SessionID
			rec.bySession[key] = append(rec.bySession[key], n.ID)
			rec.kinds[n.ID] = kind
			switch kind {
			case "ref":
				refSession[n.ID] = key
			case "event":
				rec.events[key]++
			case "job":
				rec.jobs[key] = append(rec.jobs[key], n.ID)
			}
		}
	}
	add("ref", all.MemoryRefs)
	add("job", all.CommitJobs)
	add("event", all.OutboxEvents)
	add("audit", all.AuditLog)
	for _, e := range all.Feedback.Edges {
		key := refSession[e.Node.MemoryRefID]
		rec.bySession[key] = append(rec.bySession[key], e.Node.ID)
		rec.kinds[e.Node.ID] = "feedback"
	}
	return rec
}

// giveFeedback records HELPFUL feedback, as each session's writer, on the
// session's first ingest ref.
func (w *scopeWorld) giveFeedback(t *testing.T) {
	t.Helper()
	for _, s := range scopeSessions {
		var refs struct{ MemoryRefs idsPage }
		w.ok(t, s.writer, `query($ws: ID!, $s: ID!) { memoryRefs(filter: {workspaceId: $ws, sessionId: $s, backend: LOCAL, refType: MESSAGE_MEMORY}) { edges { node { id } } } }`,
			map[string]any{"ws": s.workspace, "s": s.session}, &refs)
		require.Len(t, refs.MemoryRefs.ids(), 1, s.key())
		var fb struct{ RecordMemoryFeedback struct{ Created bool } }
		w.ok(t, s.writer, feedbackMutation, feedbackIn(s.workspace, s.user, s.agent, s.namespace, refs.MemoryRefs.ids()[0], "HELPFUL", "fb-"+s.key()), &fb)
		require.True(t, fb.RecordMemoryFeedback.Created)
	}
}

const feedbackMutation = `mutation($in: RecordMemoryFeedbackInput!) { recordMemoryFeedback(input: $in) { created feedback { id status userId namespace } } }`

func feedbackIn(ws, user, agent, ns, ref, kind, sourceEvent string) map[string]any {
	in := map[string]any{"workspaceId": ws, "userId": user, "agentId": agent, "namespace": ns, "memoryRefId": ref, "feedbackType": kind}
	if sourceEvent != "" {
		in["sourceEventId"] = sourceEvent
	}
	if kind == "CORRECTION" {
		in["correction"] = "a corrected fact"
	}
	return map[string]any{"in": in}
}

var scopeKeys = []gateway.Principal{aliceAll, aliceHelper, aliceOther, aliceSupport, aliceMixed, aliceBilling, bobAll, aliceB}

// TestScopeMatrix runs every read — lists, counts, node(id:), sessions,
// nested connections and both subscriptions — as keys bound to different
// users, agents and namespace grants (case variants and READ/WRITE mixes
// included) and of two workspaces that share user ids, and checks each
// sees exactly the sessions it reaches: nothing of anyone else's, and all
// of its own.
func TestScopeMatrix(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newScopeWorld(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Every key watches its workspace's jobs from before anything
		// happens.
		streams := map[string]<-chan gateway.CommitJob{}
		for _, p := range scopeKeys {
			ch, err := w.h.svc.SubscribeCommitJobs(gateway.WithPrincipal(ctx, p), p.WorkspaceID, "")
			require.NoError(t, err)
			streams[p.Name] = ch
		}
		w.seed(t)
		w.giveFeedback(t)
		rec := w.records(t)

		for _, p := range scopeKeys {
			t.Run(p.Name, func(t *testing.T) {
				want := map[string]bool{}
				events := 0
				for _, s := range reach[p.Name] {
					for _, id := range rec.bySession[s] {
						want[id] = true
					}
					events += rec.events[s]
				}
				var lists worldLists
				w.ok(t, p, worldListQuery, nil, &lists)
				got := map[string]bool{}
				for _, page := range []placedPage{lists.MemoryRefs, lists.CommitJobs, lists.OutboxEvents, lists.AuditLog, lists.Feedback} {
					for _, e := range page.Edges {
						if rec.kinds[e.Node.ID] != "" {
							got[e.Node.ID] = true
						}
					}
				}
				require.Equal(t, sortedKeys(want), sortedKeys(got), "lists show exactly the key's sessions")
				require.Equal(t, events, lists.OutboxSummary.TotalEvents, "counts cover exactly what the key may see")

				for id, kind := range rec.kinds {
					var n struct{ Node *struct{ ID string } }
					w.ok(t, p, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id}, &n)
					require.Equal(t, want[id], n.Node != nil, "node(%s) of a %s", id, kind)
				}
				for _, s := range scopeSessions {
					data, errs := w.call(t, p, `query($ws: ID!, $s: ID!) { session(workspaceId: $ws, sessionId: $s) { refs(first: 100) { edges { node { id } } } jobs { edges { node { id } } } } }`,
						map[string]any{"ws": s.workspace, "s": s.session})
					if !slices.Contains(reach[p.Name], s.key()) {
						require.Len(t, errs, 1, "session %s", s.key())
						require.Equal(t, resolvers.CodeNotFound, errs[0].Extensions["code"])
						continue
					}
					require.Empty(t, errs)
					var session struct {
						Session struct{ Refs, Jobs idsPage }
					}
					require.NoError(t, json.Unmarshal(data, &session))
					for _, id := range append(session.Session.Refs.ids(), session.Session.Jobs.ids()...) {
						require.True(t, want[id], "session %s shows %s", s.key(), id)
					}
					for _, job := range rec.jobs[s.key()] {
						var j struct {
							CommitJob struct {
								Refs, OutboxEvents idsPage
							}
						}
						w.ok(t, p, `query($id: ID!) { commitJob(id: $id) { refs(first: 100) { edges { node { id } } } outboxEvents { edges { node { id } } } } }`, map[string]any{"id": job}, &j)
						require.NotEmpty(t, j.CommitJob.Refs.ids(), "a job's refs")
						for _, id := range append(j.CommitJob.Refs.ids(), j.CommitJob.OutboxEvents.ids()...) {
							require.True(t, want[id], "job %s shows %s", job, id)
						}
					}
				}

				// commitJobUpdated: another's job does not exist for the key.
				for s, jobs := range rec.jobs {
					for _, job := range jobs {
						_, err := w.h.svc.SubscribeCommitJob(gateway.WithPrincipal(ctx, p), job)
						if slices.Contains(reach[p.Name], s) {
							require.NoError(t, err)
						} else {
							require.ErrorIs(t, err, gateway.ErrNotFound, "subscribing to %s's job", s)
						}
					}
				}

				// Mutations on what the key does not reach: refused, and
				// nothing written.
				for _, s := range scopeSessions {
					if slices.Contains(reach[p.Name], s.key()) {
						continue
					}
					user, agent, ns := s.user, s.agent, s.namespace
					if p.UserID != "" {
						user = p.UserID
					}
					if p.AgentID != "" {
						agent = p.AgentID
					}
					if len(p.Grants) > 0 && p.Grants[0].Namespace != "" {
						ns = p.Grants[0].Namespace
					}
					if p.WorkspaceID != s.workspace || user != s.user {
						e := w.refused(t, p, ingestMutation, turnIn(s.workspace, user, agent, s.session, "intruder", ns, "a turn in someone else's session"))
						require.Equal(t, resolvers.CodeForbidden, e.Extensions["code"], "ingest into %s", s.key())
					}
					e := w.refused(t, p, commitMutation, commitIn(s.workspace, user, agent, s.session, ns))
					require.Equal(t, resolvers.CodeForbidden, e.Extensions["code"], "commit of %s", s.key())
					for _, id := range rec.bySession[s.key()] {
						var (
							query string
							vars  map[string]any
						)
						switch rec.kinds[id] {
						case "ref":
							query, vars = feedbackMutation, feedbackIn(s.workspace, user, agent, ns, id, "DELETE_REQUEST", "")
						case "feedback":
							query, vars = `mutation($id: ID!) { reviewMemoryFeedback(input: {id: $id, decision: REJECT}) { feedback { id } } }`, map[string]any{"id": id}
						case "event":
							query, vars = `mutation($id: ID!) { redriveOutboxEvent(id: $id) { id } }`, map[string]any{"id": id}
						default:
							continue
						}
						e := w.refused(t, p, query, vars)
						require.Equal(t, resolvers.CodeNotFound, e.Extensions["code"], "%s on %s of %s", rec.kinds[id], id, s.key())
					}
				}
			})
		}
		after := w.records(t)
		require.Equal(t, len(rec.kinds), len(after.kinds), "refused mutations wrote nothing")
		for s, ids := range rec.bySession {
			require.ElementsMatch(t, ids, after.bySession[s], "refused mutations wrote nothing in %s", s)
		}

		// commitJobsUpdated: each key's stream held only its own sessions'
		// jobs. A marker job the key may see, committed last, says the
		// stream has delivered everything published before it.
		for _, p := range scopeKeys {
			writer, user, agent, ns := aliceAll, "alice", p.AgentID, "support"
			switch p.Name {
			case bobAll.Name:
				writer, user = bobAll, "bob"
			case aliceB.Name:
				writer = aliceB
			case aliceBilling.Name:
				ns = "billing"
			}
			if agent == "" {
				agent = "helper"
			}
			var marker commitPayload
			w.ok(t, writer, commitMutation, commitIn(p.WorkspaceID, user, agent, "marker-"+p.Name, ns), &marker)
			seen := map[string]bool{}
			for job := range streams[p.Name] {
				if job.ID == marker.CommitSession.Job.ID {
					break
				}
				if !slices.Contains([]string{"s-support", "s-legal", "s-exec", "s-billing", "s-bob"}, job.SessionID) {
					continue // another key's marker
				}
				seen[job.WorkspaceID+"/"+job.SessionID] = true
			}
			require.Equal(t, reach[p.Name], sortedInOrder(seen, reach[p.Name]), "%s's job stream", p.Name)
		}
	})
}

// sortedInOrder returns the keys of seen ordered as in order, and any
// others after them.
func sortedInOrder(seen map[string]bool, order []string) []string {
	var out []string
	for _, k := range order {
		if seen[k] {
			out = append(out, k)
		}
	}
	var rest []string
	for k := range seen {
		if !slices.Contains(order, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestScopeRetrievalWithholdsWhatTheKeyDoesNotReach: remote backends know
// nothing of the gateway's namespaces or agents. A key that reaches all of
// a user's memories gets every backend's items for that user; a key bound
// to an agent, or granted only some of the user's namespaces, gets an
// item only when every ref of it lies inside its grants and agent — never
// a profile, never an item without refs — from every backend, and nothing
// in the answer shows what was left out (an operator metric counts it).
func TestScopeRetrievalWithholdsWhatTheKeyDoesNotReach(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newScopeWorld(t, db)
		w.seed(t)
		backends := []string{"LOCAL", "OPENVIKING", "EVERMEMOS"}
		for _, tc := range []struct {
			key                   gateway.Principal
			ws, user, agent, ns   string
			sessions              []string
			profile, limitedByKey bool
		}{
			{aliceAll, "A", "alice", "helper", "", []string{"A/s-support", "A/s-legal", "A/s-exec", "A/s-billing"}, true, false},
			{aliceHelper, "A", "alice", "helper", "", []string{"A/s-support", "A/s-exec", "A/s-billing"}, false, true},
			{aliceOther, "A", "alice", "other", "", []string{"A/s-legal"}, false, true},
			{aliceSupport, "A", "alice", "helper", "support", []string{"A/s-support"}, false, true},
			{aliceMixed, "A", "alice", "helper", "support", []string{"A/s-support"}, false, true},
			{aliceMixed, "A", "alice", "helper", "billing", []string{"A/s-billing"}, false, true},
			{aliceBilling, "A", "alice", "helper", "billing", []string{"A/s-billing"}, false, true},
			{bobAll, "A", "bob", "helper", "", []string{"A/s-bob"}, true, false},
			{aliceB, "B", "alice", "helper", "", []string{"B/s-support"}, true, false},
		} {
			t.Run(fmt.Sprintf("%s/%s", tc.key.Name, tc.ns), func(t *testing.T) {
				before := w.withheld.total()
				got := w.retrieve(t, tc.key, tc.ws, tc.user, tc.agent, tc.ns)
				wantSessions := slices.Clone(tc.sessions)
				if tc.profile {
					wantSessions = append(wantSessions, "profile")
				}
				sessions := got.sessionsOf(t)
				require.ElementsMatch(t, wantSessions, sortedKeys(sessions), "the sessions the items came from")
				// Every backend answered for every reached session.
				perBackend := got.perBackend()
				for _, s := range tc.sessions {
					text := sessionText(s)
					for _, b := range backends {
						require.Contains(t, perBackend[b], text, "%s returns %s", b, s)
					}
				}
				if tc.limitedByKey {
					// (A key that reaches everything may see its profile
					// reported as diverging from an episode it sums up.)
					require.Empty(t, got.RetrieveContext.Conflicts, "nothing withheld shows as a conflict")
					require.Greater(t, w.withheld.total(), before, "the operator metric counts what was withheld")
				} else {
					require.Equal(t, before, w.withheld.total(), "nothing is withheld from a key that reaches everything")
				}
			})
		}
	})
}

func sessionText(key string) string {
	for _, s := range scopeSessions {
		if s.key() == key {
			return s.text
		}
	}
	return ""
}

// perBackend lists the texts each backend returned (items merged across
// backends count for every backend that returned them).
func (r retrieved) perBackend() map[string][]string {
	out := map[string][]string{}
	for _, it := range r.RetrieveContext.Items {
		for _, b := range append([]string{it.SourceBackend}, it.AlsoFoundIn...) {
			out[b] = append(out[b], it.Text)
		}
	}
	return out
}

// TestScopeEverMemOSRecallIsPerWorkspace: EverMemOS has one tenant; alice
// of workspace B recalls nothing of alice of workspace A through it.
func TestScopeEverMemOSRecallIsPerWorkspace(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newScopeWorld(t, db)
		w.ingest(t, aliceAll, turnIn("A", "alice", "helper", "s1", "t1", "support", "alice remembers the ticket about a broken kettle"))
		w.ingest(t, aliceB, turnIn("B", "alice", "helper", "s1", "t1", "support", "alice remembers the invoice total"))
		w.commit(t, aliceAll, commitIn("A", "alice", "helper", "s1", "support"))
		w.commit(t, aliceB, commitIn("B", "alice", "helper", "s1", "support"))
		w.drain(t)

		got := w.retrieve(t, aliceB, "B", "alice", "helper", "")
		for _, texts := range got.perBackend() {
			for _, text := range texts {
				require.NotContains(t, text, "kettle", "alice of B recalls alice of A's memory")
			}
		}
		require.NotEmpty(t, got.perBackend()["EVERMEMOS"], "and her own")
	})
}

// TestScopeSessionBelongsToItsFirstWriter: a second user of the workspace
// can neither write to nor commit the first user's session; so never gets
// refs to her turns, and cannot "correct" them as their owner.
func TestScopeSessionBelongsToItsFirstWriter(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newScopeWorld(t, db)
		w.ingest(t, aliceAll, turnIn("A", "alice", "helper", "s1", "t1", "support", "alice remembers the ticket about a broken kettle"))

		e := w.refused(t, bobAll, ingestMutation, turnIn("A", "bob", "helper", "s1", "t2", "support", "bob writes into alice's session"))
		require.Equal(t, resolvers.CodeForbidden, e.Extensions["code"], "writing to another user's session")
		e = w.refused(t, bobAll, commitMutation, commitIn("A", "bob", "helper", "s1", "support"))
		require.Equal(t, resolvers.CodeForbidden, e.Extensions["code"], "committing another user's session")
		w.drain(t)

		var bobs struct{ MemoryRefs idsPage }
		w.ok(t, bobAll, `{ memoryRefs(filter: {sessionId: "s1"}) { edges { node { id } } } }`, nil, &bobs)
		require.Empty(t, bobs.MemoryRefs.ids(), "bob holds no ref to alice's turns")
		got := w.retrieve(t, aliceAll, "A", "alice", "helper", "")
		require.Contains(t, got.perBackend()["LOCAL"], "alice remembers the ticket about a broken kettle", "alice's memory is intact")

		// Her own commit runs, and its refs are hers.
		c := w.commit(t, aliceAll, commitIn("A", "alice", "helper", "s1", "support"))
		require.True(t, c.CommitSession.Created)
		require.Equal(t, "alice", c.CommitSession.Job.UserID)
	})
}

// TestScopeAgentBoundKeysCommitAndChangeOnlyTheirOwn: agents of one user may
// share a session, but a commit takes all of it: only a key not bound to an
// agent, or bound to the agent that wrote every turn, may commit it; what a
// commit of a shared session produces in the remote backends belongs to no
// single agent; corrections and deletes by an agent-bound key reach only
// that agent's memories. Checked on all three backends.
func TestScopeAgentBoundKeysCommitAndChangeOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newScopeWorld(t, db)
		w.ingest(t, aliceHelper, turnIn("A", "alice", "helper", "shared", "t1", "support", "alice remembers the ticket about a broken kettle"))
		w.ingest(t, aliceOther, turnIn("A", "alice", "other", "shared", "t2", "support", "alice remembers the contract renewal in march"))
		w.ingest(t, aliceHelper, turnIn("A", "alice", "helper", "own", "t1", "support", "alice remembers the invoice total of the month"))

		for _, p := range []gateway.Principal{aliceOther, aliceHelper} {
			e := w.refused(t, p, commitMutation, commitIn("A", "alice", p.AgentID, "shared", "support"))
			require.Equal(t, resolvers.CodeForbidden, e.Extensions["code"], "%s commits a session another agent wrote in", p.Name)
		}
		c := w.commit(t, aliceHelper, commitIn("A", "alice", "helper", "own", "support"))
		require.True(t, c.CommitSession.Created, "an agent commits a session it alone wrote")
		c = w.commit(t, aliceAll, commitIn("A", "alice", "helper", "shared", "support"))
		require.True(t, c.CommitSession.Created, "the user's own key commits the shared session")
		w.drain(t)

		// The shared session's remote memories belong to neither agent.
		var refs struct {
			MemoryRefs struct {
				Edges []struct {
					Node struct{ Backend, AgentID, RefType string }
				}
			}
		}
		w.ok(t, aliceAll, `query($j: ID!) { memoryRefs(filter: {gatewayId: $j}, first: 100) { edges { node { backend agentId refType } } } }`,
			map[string]any{"j": c.CommitSession.Job.ID}, &refs)
		require.NotEmpty(t, refs.MemoryRefs.Edges)
		for _, e := range refs.MemoryRefs.Edges {
			switch {
			case e.Node.Backend != "LOCAL" || e.Node.RefType == "SESSION_ARCHIVE":
				require.Empty(t, e.Node.AgentID, "%s %s of a shared session", e.Node.Backend, e.Node.RefType)
			default:
				require.NotEmpty(t, e.Node.AgentID, "a local memory is one turn: its agent's")
			}
		}

		// Each agent recalls only what it reaches, from every backend.
		other := w.retrieve(t, aliceOther, "A", "alice", "other", "")
		require.Equal(t, map[string][]string{"LOCAL": {"alice remembers the contract renewal in march"}}, other.perBackend(),
			"the other agent gets its own turn, and nothing of the shared session's derived memories")
		helper := w.retrieve(t, aliceHelper, "A", "alice", "helper", "")
		for _, b := range []string{"LOCAL", "OPENVIKING", "EVERMEMOS"} {
			require.Contains(t, helper.perBackend()[b], "alice remembers the invoice total of the month", b)
			require.NotContains(t, helper.perBackend()[b], "alice remembers the contract renewal in march", b)
		}

		// The other agent cannot delete the helper's memories: it does not
		// see them.
		var helperRefs struct{ MemoryRefs idsPage }
		w.ok(t, aliceHelper, `{ memoryRefs(filter: {sessionId: "own"}, first: 100) { edges { node { id } } } }`, nil, &helperRefs)
		require.NotEmpty(t, helperRefs.MemoryRefs.ids())
		for _, ref := range helperRefs.MemoryRefs.ids() {
			e := w.refused(t, aliceOther, feedbackMutation, feedbackIn("A", "alice", "other", "support", ref, "DELETE_REQUEST", ""))
			require.Equal(t, resolvers.CodeNotFound, e.Extensions["code"])
		}
	})
}

// TestScopeCommitJobsAnswerOnlyTheirUser: commit job ids come from the
// workspace, the session and the basis; another user's commit of the
// session is refused and reveals nothing, and the owner's own commit then
// runs as hers.
func TestScopeCommitJobsAnswerOnlyTheirUser(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newScopeWorld(t, db)
		w.ingest(t, aliceAll, turnIn("A", "alice", "helper", "s1", "t1", "support", "alice remembers the ticket about a broken kettle"))
		in := commitIn("A", "bob", "helper", "s1", "support")
		in["in"].(map[string]any)["idempotencyKey"] = "nightly"
		data, errs := w.call(t, bobAll, commitMutation, in)
		require.Len(t, errs, 1)
		require.Equal(t, resolvers.CodeForbidden, errs[0].Extensions["code"])
		require.Equal(t, "null", string(data), "no job, no status, no summary")
		require.Equal(t, gateway.ErrOutOfScope.Error(), errs[0].Message)

		in = commitIn("A", "alice", "helper", "s1", "support")
		in["in"].(map[string]any)["idempotencyKey"] = "nightly"
		var c commitPayload
		w.ok(t, aliceAll, commitMutation, in, &c)
		require.True(t, c.CommitSession.Created, "alice's commit is hers, and runs")
		require.Equal(t, "alice", c.CommitSession.Job.UserID)
		w.drain(t)
		var job struct{ CommitJob struct{ Status string } }
		w.ok(t, aliceAll, `query($id: ID!) { commitJob(id: $id) { status } }`, map[string]any{"id": c.CommitSession.Job.ID}, &job)
		require.Equal(t, "SUCCESS", job.CommitJob.Status)

		// The same job asked for again by a key of hers that does not
		// reach it (another agent) is refused, not answered.
		e := w.refused(t, aliceOther, commitMutation, commitIn("A", "alice", "other", "s1", "support"))
		require.Equal(t, resolvers.CodeForbidden, e.Extensions["code"])
	})
}

// TestScopeIdsAnswerOnlyTheirUser: turn ids, idempotency keys and feedback
// source events are unique per workspace and answered only to the user who
// used them first; another user gets one generic refusal, the same whether
// or not the text matches, with no ids or statuses.
func TestScopeIdsAnswerOnlyTheirUser(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newScopeWorld(t, db)
		const secret = "alice remembers her locker code is 4512"
		ing := w.ingest(t, aliceAll, turnIn("A", "alice", "helper", "s1", "t1", "support", secret))
		keyed := turnIn("A", "alice", "helper", "s2", "t1", "support", secret)
		keyed["in"].(map[string]any)["idempotencyKey"] = "import-7"
		w.ok(t, aliceAll, ingestMutation, keyed, &ing)
		aliceRef := ing.IngestConversationTurn.Refs[0].ID
		var fb struct{ RecordMemoryFeedback struct{ Created bool } }
		w.ok(t, aliceAll, feedbackMutation, feedbackIn("A", "alice", "helper", "support", aliceRef, "HELPFUL", "event-1"), &fb)
		bobIng := w.ingest(t, bobAll, turnIn("A", "bob", "helper", "s9", "t1", "support", "bob remembers the ticket"))
		bobRef := bobIng.IngestConversationTurn.Refs[0].ID

		withKey := func(vars map[string]any) map[string]any {
			vars["in"].(map[string]any)["idempotencyKey"] = "import-7"
			return vars
		}
		var messages []string
		for name, attempt := range map[string]struct {
			query string
			vars  map[string]any
		}{
			"her turn, same text":            {ingestMutation, turnIn("A", "bob", "helper", "s1", "t1", "support", secret)},
			"her turn, other text":           {ingestMutation, turnIn("A", "bob", "helper", "s1", "t1", "support", "a guess")},
			"her idempotency key, same text": {ingestMutation, withKey(turnIn("A", "bob", "helper", "s9", "t2", "support", secret))},
			"her idempotency key, a guess":   {ingestMutation, withKey(turnIn("A", "bob", "helper", "s9", "t3", "support", "a guess"))},
			"her feedback source event":      {feedbackMutation, feedbackIn("A", "bob", "helper", "support", bobRef, "HELPFUL", "event-1")},
		} {
			data, errs := w.call(t, bobAll, attempt.query, attempt.vars)
			require.Len(t, errs, 1, "%s: %s", name, data)
			require.Equal(t, "null", string(data), name)
			require.Equal(t, resolvers.CodeForbidden, errs[0].Extensions["code"], name)
			messages = append(messages, errs[0].Message)
		}
		for _, m := range messages {
			require.Equal(t, gateway.ErrOutOfScope.Error(), m, "one message for every collision")
			for _, leak := range []string{"alice", "gw_", "ref_", "fb_", "REPLAYED", "SUCCESS"} {
				require.NotContains(t, m, leak)
			}
		}
		// Nothing was written for bob.
		var refs struct{ MemoryRefs idsPage }
		w.ok(t, bobAll, `{ memoryRefs(first: 100) { edges { node { id } } } }`, nil, &refs)
		require.Len(t, refs.MemoryRefs.ids(), 3, "bob's one turn, on three backends")
	})
}

// TestScopeFeedbackIsDecidedByTheRefsScope: feedback checks the memory's
// own namespace, user and agent, never the input's claim: a key with WRITE
// on support and READ on billing cannot delete a billing memory by naming
// support, even with delete requests auto-accepted.
func TestScopeFeedbackIsDecidedByTheRefsScope(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newScopeWorld(t, db)
		ing := w.ingest(t, aliceAll, turnIn("A", "alice", "helper", "s1", "t1", "billing", "alice remembers the invoice total of the month"))
		ref := ing.IngestConversationTurn.Refs[0].ID
		for _, ns := range []string{"support", "billing"} {
			e := w.refused(t, aliceMixed, feedbackMutation, feedbackIn("A", "alice", "helper", ns, ref, "DELETE_REQUEST", ""))
			require.Equal(t, resolvers.CodeForbidden, e.Extensions["code"], "a READ grant does not delete, whatever namespace the input names")
		}
		e := w.refused(t, aliceAll, feedbackMutation, feedbackIn("A", "alice", "helper", "support", ref, "HELPFUL", ""))
		require.Equal(t, resolvers.CodeBadUserInput, e.Extensions["code"], "the input may not file feedback under another namespace")
		require.Equal(t, "input.namespace", e.Extensions["field"])
		w.drain(t)
		got := w.retrieve(t, aliceMixed, "A", "alice", "helper", "billing")
		require.Contains(t, got.perBackend()["LOCAL"], "alice remembers the invoice total of the month", "the memory is still there")

		var fb struct {
			RecordMemoryFeedback struct {
				Feedback struct{ UserID, Namespace string }
			}
		}
		w.ok(t, aliceAll, feedbackMutation, feedbackIn("A", "alice", "helper", "billing", ref, "HELPFUL", ""), &fb)
		require.Equal(t, "billing", fb.RecordMemoryFeedback.Feedback.Namespace, "feedback is filed where the memory lies")
	})
}

// TestScopeNamespacePrefixesAreCaseSensitive: a grant on "billing" reaches
// "billing" and "billing/…", never "BILLING/…", in lists, counts and
// retrieval, on both stores.
func TestScopeNamespacePrefixesAreCaseSensitive(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newScopeWorld(t, db)
		w.ingest(t, aliceAll, turnIn("A", "alice", "helper", "s1", "t1", "BILLING/exec", "alice remembers the executive bonus pool"))
		w.ingest(t, aliceAll, turnIn("A", "alice", "helper", "s2", "t1", "billing/retail", "alice remembers the invoice total of the month"))
		var lists struct {
			MemoryRefs struct {
				Edges []struct{ Node struct{ Namespace string } }
			}
			OutboxSummary struct{ TotalEvents int }
		}
		w.ok(t, aliceBilling, `{ memoryRefs(first: 100) { edges { node { namespace } } } outboxSummary { totalEvents } }`, nil, &lists)
		require.Len(t, lists.MemoryRefs.Edges, 3)
		for _, e := range lists.MemoryRefs.Edges {
			require.Equal(t, "billing/retail", e.Node.Namespace)
		}
		w.ok(t, aliceBilling, `{ memoryRefs(filter: {namespace: "billing"}, first: 100) { edges { node { namespace } } } outboxSummary { totalEvents } }`, nil, &lists)
		require.Len(t, lists.MemoryRefs.Edges, 3, "a namespace filter is case-sensitive too")
		w.ok(t, aliceAll, `{ memoryRefs(filter: {namespace: "billing"}, first: 100) { edges { node { namespace } } } }`, nil, &lists)
		require.Len(t, lists.MemoryRefs.Edges, 3, "even for a key that reaches both")
		got := w.retrieve(t, aliceBilling, "A", "alice", "helper", "billing")
		require.Equal(t, map[string][]string{"LOCAL": {"alice remembers the invoice total of the month"}}, got.perBackend())
		e := w.refused(t, aliceBilling, retrieveQuery, map[string]any{"in": map[string]any{
			"workspaceId": "A", "userId": "alice", "agentId": "helper", "namespace": "BILLING", "query": scopeQuery,
		}})
		require.Equal(t, resolvers.CodeForbidden, e.Extensions["code"])
	})
}

// TestScopeProcessOutboxDrainsOnlyTheCallersWorkspace: a workspace admin's
// processOutbox processes and counts its own workspace's events; another
// workspace's wait for their own worker (or the operator).
func TestScopeProcessOutboxDrainsOnlyTheCallersWorkspace(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newScopeWorld(t, db)
		w.ingest(t, aliceAll, turnIn("A", "alice", "helper", "s1", "t1", "support", "alice remembers the ticket"))
		w.ingest(t, aliceB, turnIn("B", "alice", "helper", "s1", "t1", "support", "alice remembers the invoice"))
		w.commit(t, aliceAll, commitIn("A", "alice", "helper", "s1", "support"))
		w.commit(t, aliceB, commitIn("B", "alice", "helper", "s1", "support"))

		var out struct {
			ProcessOutbox struct {
				ProcessedCount int
				Summary        struct{ TotalEvents, PendingEvents int }
			}
		}
		w.ok(t, adminB, `mutation { processOutbox(limit: 100) { processedCount summary { totalEvents pendingEvents } } }`, nil, &out)
		// OpenViking's commit is asynchronous: its first attempt goes back
		// to PENDING, and counts as processed.
		require.Equal(t, 3, out.ProcessOutbox.ProcessedCount, "B's three events, none of A's")
		require.Equal(t, 3, out.ProcessOutbox.Summary.TotalEvents)
		e := w.refused(t, adminB, `mutation { processOutbox(workspaceId: "A") { processedCount } }`, nil)
		require.Equal(t, resolvers.CodeNotFound, e.Extensions["code"], "another workspace does not exist for B's admin")

		var a struct {
			OutboxSummary struct{ PendingEvents int }
		}
		w.ok(t, adminA, `{ outboxSummary { pendingEvents } }`, nil, &a)
		require.Equal(t, 3, a.OutboxSummary.PendingEvents, "A's events were not touched")
		w.ok(t, operator, `mutation { processOutbox(limit: 100, workspaceId: "A") { processedCount summary { totalEvents } } }`, nil, &out)
		require.Equal(t, 3, out.ProcessOutbox.ProcessedCount, "the operator drains the workspace it names")
		require.Equal(t, 3, out.ProcessOutbox.Summary.TotalEvents)
	})
}

// TestScopePersistedQueriesArePerPrincipal: an automatic persisted query
// is found only by the key that registered it. Any other key — another
// user's of the same workspace, another key of the same user, a key of
// another workspace, a key of the same name there — sending the bare hash
// gets PersistedQueryNotFound: a hash that ran would confirm someone sent
// that exact document, literals included, and run it.
func TestScopePersistedQueriesArePerPrincipal(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newScopeWorld(t, db)
		query := `{ memoryRefs(filter: {sessionId: "board-meeting-2026"}) { edges { cursor } } }`
		hash := sha256Hex(query)
		ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
		send := func(p gateway.Principal, withQuery bool) gqlResponse {
			body := map[string]any{"extensions": ext}
			if withQuery {
				body["query"] = query
			}
			_, resp := w.h.doRawAs(t, &p, body)
			return resp
		}
		require.Empty(t, send(aliceAll, true).Errors, "registered by alice-all")
		require.Empty(t, send(aliceAll, false).Errors, "found by the key that registered it")
		namesake := aliceB
		namesake.Name = aliceAll.Name
		for _, tc := range []struct {
			name string
			p    gateway.Principal
		}{
			{"another user of the workspace", bobAll},
			{"another key of the same user", aliceSupport},
			{"a key of another workspace", aliceB},
			{"a key of the same name in another workspace", namesake},
		} {
			resp := send(tc.p, false)
			require.Len(t, resp.Errors, 1, tc.name)
			require.Equal(t, "PersistedQueryNotFound", resp.Errors[0].Message, tc.name)
			require.Equal(t, resolvers.CodePersistedQueryNotFound, resp.Errors[0].Extensions["code"], tc.name)
		}
	})
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestScopeRetrievalOfMemoriesWrittenElsewhere: what a backend holds for a
// user that never came through the gateway has no ref saying where it
// belongs: a key of some namespaces gets none of it, a key of the whole
// workspace gets it.
func TestScopeRetrievalOfMemoriesWrittenElsewhere(t *testing.T) {
	t.Parallel()
	db := pt.Open(t, pt.SQLite)
	w := newScopeWorld(t, db)
	direct, err := evermemos.New(evermemos.Config{BaseURL: w.em.URL, Timeout: 5 * time.Second})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = direct.IngestTurn(ctx, backendtype.TurnWrite{
		GatewayID: "imported-1", WorkspaceID: "A", UserID: "carol", SessionID: "imported", TurnID: "t1",
		Role: backendtype.RoleUser, Content: "carol remembers the contract renewal in march", OccurredAt: w.clock.Now(),
	})
	require.NoError(t, err)
	_, err = direct.CommitSession(ctx, backendtype.CommitRequest{WorkspaceID: "A", UserID: "carol", SessionID: "imported"})
	require.NoError(t, err)

	supportDesk := gateway.Principal{Name: "support-desk", WorkspaceID: "A", Role: gateway.RoleDashboard, Grants: grants("support", gateway.AccessRead)}
	wholeWorkspace := gateway.Principal{Name: "dashboard", WorkspaceID: "A", Role: gateway.RoleDashboard, Grants: grants("", gateway.AccessRead)}
	got := w.retrieve(t, supportDesk, "A", "carol", "helper", "support")
	require.Empty(t, got.RetrieveContext.Items)
	got = w.retrieve(t, wholeWorkspace, "A", "carol", "helper", "")
	require.Contains(t, got.perBackend()["EVERMEMOS"], "carol remembers the contract renewal in march")
}
