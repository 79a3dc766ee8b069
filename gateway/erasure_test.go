package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
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
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/worker"
)

// erasureWorld is the three backends (local and both fakes), a service, and
// a worker driven by hand on a settable clock.
type erasureWorld struct {
	db     *persistence.DB
	svc    *gateway.Service
	worker *worker.Worker
	ov     *openvikingtest.Server
	em     *evermemostest.Server
	now    atomic.Int64 // unix nanos
}

func newErasureWorld(t testing.TB, db *persistence.DB, cfg gateway.Config) *erasureWorld {
	t.Helper()
	return newErasureWorldWith(t, db, cfg, nil)
}

func newErasureWorldWith(t testing.TB, db *persistence.DB, cfg gateway.Config, feedback *gateway.FeedbackPolicy) *erasureWorld {
	t.Helper()
	w := &erasureWorld{db: db, ov: openvikingtest.New(), em: evermemostest.New()}
	t.Cleanup(w.ov.Close)
	t.Cleanup(w.em.Close)
	w.now.Store(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, w.now.Load()).UTC() }
	ov, err := openviking.New(openviking.Config{BaseURL: w.ov.URL, APIKey: "root", Timeout: 2 * time.Second, PollInterval: time.Millisecond, Now: clock})
	require.NoError(t, err)
	em, err := evermemos.New(evermemos.Config{BaseURL: w.em.URL, Timeout: 2 * time.Second, Now: clock})
	require.NoError(t, err)
	if cfg.RetryDelay == nil {
		cfg.RetryDelay = func(int) time.Duration { return time.Second }
	}
	opts := gateway.Options{
		Anonymous: &gateway.DevPrincipal, Store: persistence.NewStore(db), Env: lifecycle.NewEnv(nil, clock), Config: cfg, FeedbackPolicy: feedback,
		Backends: []backendtype.BackendAdapter{local.New(db.DB, clock), ov, em},
	}
	exec, err := gateway.NewOutboxExecutor(opts)
	require.NoError(t, err)
	w.worker, err = worker.New(worker.Options{Store: persistence.NewStore(db), Executor: exec, Env: lifecycle.NewEnv(nil, clock),
		Config: worker.Config{Backends: []backendtype.Backend{backendtype.BackendLocal, backendtype.BackendOpenViking, backendtype.BackendEverMemOS}}})
	require.NoError(t, err)
	opts.Drainer, opts.Notifier = w.worker, w.worker
	w.svc, err = gateway.NewService(opts)
	require.NoError(t, err)
	return w
}

func (w *erasureWorld) advance(d time.Duration) { w.now.Add(int64(d)) }

// drain runs the outbox until nothing is due, moving the clock past every
// backoff and grace.
func (w *erasureWorld) drain(t testing.TB) {
	t.Helper()
	for range 20 {
		w.advance(time.Minute)
		n, err := w.worker.Drain(context.Background(), 10_000, "")
		require.NoError(t, err)
		if n == 0 {
			return
		}
	}
}

// remember writes a fact for user in their own session and commits it.
func (w *erasureWorld) remember(t *testing.T, user, fact string) {
	t.Helper()
	ctx := context.Background()
	_, err := w.svc.IngestConversationTurn(ctx, gateway.IngestTurnInput{
		WorkspaceID: "ws", UserID: user, AgentID: "a1", SessionID: "s-" + user, TurnID: fmt.Sprintf("t%d", w.now.Load()),
		Namespace: "team", Role: backendtype.RoleUser, Content: fact,
	})
	require.NoError(t, err)
	_, err = w.svc.CommitSession(ctx, gateway.CommitSessionInput{
		WorkspaceID: "ws", UserID: user, AgentID: "a1", SessionID: "s-" + user, Namespace: "team",
		IdempotencyKey: fmt.Sprintf("c%d", w.now.Load()),
	})
	require.NoError(t, err)
	w.advance(time.Millisecond)
}

func (w *erasureWorld) erase(t testing.TB, user string) gateway.EraseSubjectResult {
	t.Helper()
	res, err := w.svc.EraseSubject(context.Background(), gateway.EraseSubjectInput{WorkspaceID: "ws", UserID: user, Reason: "the user asked"})
	require.NoError(t, err)
	return res
}

func (w *erasureWorld) request(t testing.TB, id string) (gateway.ErasureStatus, []gateway.ErasureBackendResult) {
	t.Helper()
	ctx := context.Background()
	req, err := w.svc.Reader(ctx).ErasureRequest(ctx, id)
	require.NoError(t, err)
	job, err := w.svc.Reader(ctx).CommitJob(ctx, req.JobID)
	require.NoError(t, err)
	events, err := w.svc.Reader(ctx).ListOutboxEvents(ctx, gateway.EventFilter{JobID: req.JobID}, gateway.PageRequest{First: 10})
	require.NoError(t, err)
	return gateway.ErasureStatusOf(job), gateway.ErasureBackendResults(events.Items)
}

// held counts what each backend still holds of a user.
func (w *erasureWorld) held(t testing.TB, user string) map[string]int {
	t.Helper()
	out := map[string]int{"local": countWhere(t, w.db, "local_memories", "user_id = ?", user)}
	out["openviking memories"] = len(w.ov.Memories("ws", user))
	out["openviking sessions"] = len(w.ov.Sessions("ws", user))
	episodes := 0
	for _, e := range w.em.Episodes() {
		// The user's own episodes and the group-level copies of its solo
		// group.
		if (e.UserID == "ws:"+user || e.GroupID == evermemostest.SoloGroupID("ws:"+user)) && !e.Deleted {
			episodes++
		}
	}
	out["evermemos episodes"] = episodes
	return out
}

// requireErasedAsFarAsPossible: the erasure is PARTIAL, and only because
// EverMemOS keeps what its API cannot delete (the profile, raw messages,
// MemCells), which it names; the other backends erased and verified. The
// refs of what remains in EverMemOS stay live; every other ref of the user
// is DELETED.
func requireErasedAsFarAsPossible(t *testing.T, w *erasureWorld, id, user string) []gateway.ErasureBackendResult {
	t.Helper()
	status, backends := w.request(t, id)
	require.Equal(t, gateway.ErasurePartial, status, "never COMPLETED while EverMemOS keeps what it cannot delete")
	for _, b := range backends {
		if b.Backend != backendtype.BackendEverMemOS {
			require.True(t, b.Verified, b.Backend)
			require.Zero(t, b.Residue, b.Backend)
			require.Contains(t, []backendtype.ErasureOutcome{backendtype.ErasureOutcomeErased, backendtype.ErasureOutcomeNothingToErase}, b.Outcome, b.Backend)
			continue
		}
		require.Equal(t, backendtype.ErasureOutcomePartial, b.Outcome)
		require.False(t, b.Verified)
		kinds := map[string]backendtype.ResidueKind{}
		for _, k := range b.ResidueByKind {
			kinds[k.Kind] = k
		}
		require.Zero(t, kinds["episode"].Count, "every episode went")
		require.True(t, kinds["raw_message"].Unerasable && kinds["raw_message"].Uncounted && kinds["raw_message"].Count > 0, "%+v", kinds)
		require.True(t, kinds["memcell"].Unerasable, "%+v", kinds)
		require.NotNil(t, b.Detail)
		require.Contains(t, *b.Detail, "raw_message")
	}
	require.Zero(t, w.held(t, user)["evermemos episodes"])
	require.Zero(t, countWhere(t, w.db, "memory_refs", "user_id = ? AND status <> ? AND NOT (backend = ? AND ref_type IN (?, ?))",
		user, gateway.RefStatusDeleted, backendtype.BackendEverMemOS, backendtype.RefTypeMessageMemory, backendtype.RefTypeProfile),
		"every ref of what was erased is DELETED")
	require.Positive(t, countWhere(t, w.db, "memory_refs", "user_id = ? AND status = ? AND backend = ?", user, gateway.RefStatusSuccess, backendtype.BackendEverMemOS),
		"the refs of what EverMemOS keeps stay live")
	return backends
}

func countWhere(t testing.TB, db *persistence.DB, table, cond string, args ...any) int {
	t.Helper()
	n, err := db.NewSelect().Table(table).Where(cond, args...).Count(context.Background())
	require.NoError(t, err)
	return n
}

func nonzero(m map[string]int) bool {
	for _, n := range m {
		if n > 0 {
			return true
		}
	}
	return false
}

// TestErasureLeavesOthersUntouched: erasing u1 deletes u1's memories in
// every backend, verified, and leaves u2's alone; while it runs, u1's
// retrieval returns nothing and u1's ingests are refused; afterwards they
// are accepted again, and the control plane keeps ids and statuses only.
func TestErasureLeavesOthersUntouched(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		w := newErasureWorld(t, db, gateway.Config{})
		for _, user := range []string{"u1", "u2"} {
			w.remember(t, user, "my favourite colour is blue, says "+user)
		}
		w.drain(t)
		refs, err := w.svc.Reader(ctx).ListMemoryRefs(ctx, gateway.RefFilter{WorkspaceID: "ws", UserID: "u1"}, gateway.PageRequest{First: 100})
		require.NoError(t, err)
		_, err = w.svc.RecordMemoryFeedback(ctx, gateway.RecordFeedbackInput{
			WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Namespace: "team", MemoryRefID: refs.Items[0].ID,
			FeedbackType: backendtype.FeedbackHelpful, Comment: "spot on", SourceEventID: "fb1",
		})
		require.NoError(t, err)
		require.True(t, nonzero(w.held(t, "u1")))
		u2Before := w.held(t, "u2")

		res := w.erase(t, "u1")
		require.True(t, res.Created)
		require.Equal(t, gateway.JobKindErasure, res.Job.Kind)
		again := w.erase(t, "u1")
		require.False(t, again.Created, "a request for a running erasure's subject answers with it")
		require.Equal(t, res.Request.ID, again.Request.ID)

		// While it runs: nothing is returned, nothing is written.
		ret, err := w.svc.RetrieveContext(ctx, gateway.RetrieveContextInput{WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Query: "favourite colour"})
		require.NoError(t, err)
		require.Empty(t, ret.Items)
		_, err = w.svc.IngestConversationTurn(ctx, gateway.IngestTurnInput{
			WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: "s-u1", TurnID: "during", Namespace: "team", Role: backendtype.RoleUser, Content: "x",
		})
		var conflict *gateway.ConflictError
		require.ErrorAs(t, err, &conflict)
		require.Equal(t, gateway.ReasonErasureInProgress, conflict.Reason)
		require.Zero(t, countWhere(t, db, "feedback_content", "comment <> ''"), "the subject's feedback texts went at acceptance")

		w.drain(t)
		backends := requireErasedAsFarAsPossible(t, w, res.Request.ID, "u1")
		outcomes := map[backendtype.Backend]backendtype.ErasureOutcome{}
		for _, b := range backends {
			outcomes[b.Backend] = b.Outcome
		}
		require.Equal(t, map[backendtype.Backend]backendtype.ErasureOutcome{
			backendtype.BackendLocal: backendtype.ErasureOutcomeErased, backendtype.BackendOpenViking: backendtype.ErasureOutcomeErased,
			backendtype.BackendEverMemOS: backendtype.ErasureOutcomePartial,
		}, outcomes)
		for _, b := range backends {
			if b.Backend == backendtype.BackendEverMemOS {
				require.Contains(t, b.ResidueByKind, backendtype.ResidueKind{Kind: "profile", Count: 1, Unerasable: true}, "the profile, which no API deletes, is named")
			}
		}
		require.False(t, nonzero(w.held(t, "u1")), "%v", w.held(t, "u1"))
		require.NotEmpty(t, w.em.Profile("ws:u1"), "EverMemOS keeps the profile: reported above, never hidden")
		require.Equal(t, u2Before, w.held(t, "u2"), "the other user is untouched")
		require.Zero(t, countWhere(t, db, "memory_refs", "user_id = ? AND status = ?", "u2", gateway.RefStatusDeleted))
		require.Equal(t, 1, countWhere(t, db, "audit_entries", "action = ?", gateway.AuditActionErase))

		// Afterwards, u1 may write again, and a later erasure is a new one.
		_, err = w.svc.IngestConversationTurn(ctx, gateway.IngestTurnInput{
			WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: "s-u1", TurnID: "after", Namespace: "team", Role: backendtype.RoleUser, Content: "new start",
		})
		require.NoError(t, err)
		w.advance(time.Second)
		require.True(t, w.erase(t, "u1").Created)
	})
}

// TestErasureKeepsTryingAndReportsWhatStayed: a backend that refuses the
// delete dead-letters its event: the request is PARTIAL and says which
// backend kept what; re-driving it once the backend accepts completes the
// erasure. A backend that answers "deleted" but keeps the data is caught by
// verification and never reported COMPLETED.
func TestErasureKeepsTryingAndReportsWhatStayed(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		w := newErasureWorld(t, db, gateway.Config{MaxAttempts: 3})
		w.remember(t, "u1", "my boat is called Aurora")
		w.drain(t)

		w.ov.Faults.FailNext(100, http.StatusForbidden, `{"status":"error","error":{"code":"PERMISSION_DENIED","message":"read only"}}`)
		res := w.erase(t, "u1")
		w.drain(t)
		status, backends := w.request(t, res.Request.ID)
		require.Equal(t, gateway.ErasurePartial, status)
		for _, b := range backends {
			switch b.Backend {
			case backendtype.BackendOpenViking:
				require.Equal(t, backendtype.ErasureOutcomeFailed, b.Outcome)
				require.False(t, b.Verified)
				require.NotNil(t, b.Detail)
			case backendtype.BackendEverMemOS:
				require.Equal(t, backendtype.ErasureOutcomePartial, b.Outcome)
			default:
				require.True(t, b.Verified, b.Backend)
			}
		}
		require.NotZero(t, w.held(t, "u1")["openviking memories"], "OpenViking kept it, and says so")

		w.ov.Faults.FailNext(0, 0, "")
		_, err := w.svc.RedriveOutboxEvents(ctx, gateway.EventFilter{JobID: res.Request.JobID, Backend: backendtype.BackendOpenViking})
		require.NoError(t, err)
		w.drain(t)
		requireErasedAsFarAsPossible(t, w, res.Request.ID, "u1")
		require.False(t, nonzero(w.held(t, "u1")))

		// A backend that lies.
		w.remember(t, "u3", "my horse is called Comet")
		w.drain(t)
		w.em.Set(func(s *evermemostest.Server) { s.IgnoreDeletes = true })
		lied := w.erase(t, "u3")
		w.drain(t)
		status, backends = w.request(t, lied.Request.ID)
		require.Equal(t, gateway.ErasurePartial, status, "never COMPLETED while data remains")
		for _, b := range backends {
			if b.Backend == backendtype.BackendEverMemOS {
				require.Equal(t, backendtype.ErasureOutcomeFailed, b.Outcome)
				require.False(t, b.Verified)
				require.Positive(t, b.Residue)
			}
		}
	})
}

// TestErasureOutlivesAnOutage: a backend that is unreachable does not spend
// the erasure's attempts (the breaker holds its events); the erasure stays
// RUNNING, hiding the subject, and completes once the backend is back.
func TestErasureOutlivesAnOutage(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newErasureWorld(t, db, gateway.Config{}) // default attempts: the breaker opens before they run out
		w.remember(t, "u1", "my dog is called Rex")
		w.drain(t)
		w.ov.Faults.FailNext(1000, http.StatusServiceUnavailable, `{"status":"error","error":{"code":"UNAVAILABLE","message":"down"}}`)
		res := w.erase(t, "u1")
		for range 5 {
			w.drain(t)
		}
		status, _ := w.request(t, res.Request.ID)
		require.Equal(t, gateway.ErasureRunning, status, "an outage is waited out, not dead-lettered")
		w.ov.Faults.FailNext(0, 0, "")
		for range 3 {
			w.drain(t)
		}
		requireErasedAsFarAsPossible(t, w, res.Request.ID, "u1")
		require.False(t, nonzero(w.held(t, "u1")))
	})
}

// TestIngestRacingAnErasure: ingests of the subject racing its erasure
// never leave data behind once the erasure is COMPLETED: each either landed
// before acceptance (and is erased) or was refused.
func TestIngestRacingAnErasure(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		w := newErasureWorld(t, db, gateway.Config{})
		for round := range 10 {
			user := fmt.Sprintf("racer%d", round)
			var wg sync.WaitGroup
			var refused atomic.Int64
			for i := range 8 {
				wg.Go(func() {
					_, err := w.svc.IngestConversationTurn(ctx, gateway.IngestTurnInput{
						WorkspaceID: "ws", UserID: user, AgentID: "a1", SessionID: "s-" + user, TurnID: fmt.Sprintf("t%d", i),
						Namespace: "team", Role: backendtype.RoleUser, Content: fmt.Sprintf("fact %d of %s", i, user),
					})
					var conflict *gateway.ConflictError
					if errors.As(err, &conflict) && conflict.Reason == gateway.ReasonErasureInProgress {
						refused.Add(1)
						return
					}
					require.NoError(t, err)
				})
			}
			res := w.erase(t, user)
			// The ingests under way end within their bound: the grace.
			wg.Wait()
			w.drain(t)
			status, _ := w.request(t, res.Request.ID)
			require.Contains(t, []gateway.ErasureStatus{gateway.ErasureCompleted, gateway.ErasurePartial}, status, "round %d", round)
			require.False(t, nonzero(w.held(t, user)), "round %d (%d refused): %v", round, refused.Load(), w.held(t, user))
			require.Zero(t, countWhere(t, db, "memory_refs", "user_id = ? AND status <> ? AND NOT (backend = ? AND ref_type IN (?, ?))",
				user, gateway.RefStatusDeleted, backendtype.BackendEverMemOS, backendtype.RefTypeMessageMemory, backendtype.RefTypeProfile), "round %d", round)
		}
	})
}

func exportLines(t *testing.T, w *erasureWorld, in gateway.ExportInput) []gateway.ExportLine {
	t.Helper()
	var lines []gateway.ExportLine
	require.NoError(t, w.svc.ExportSubject(context.Background(), in, func(l gateway.ExportLine) error {
		lines = append(lines, l)
		return nil
	}))
	return lines
}

// TestExportHoldsTheSubjectOnly: an export has a header, the subject's
// refs, what each backend holds of the subject with its content, and an end
// line; nothing of another user; a narrower scope keeps what its refs name.
func TestExportHoldsTheSubjectOnly(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newErasureWorld(t, db, gateway.Config{})
		w.remember(t, "u1", "my favourite colour is blue")
		w.remember(t, "u2", "my favourite colour is red")
		w.drain(t)

		lines := exportLines(t, w, gateway.ExportInput{WorkspaceID: "ws", UserID: "u1"})
		require.Equal(t, "header", lines[0].Type)
		require.Equal(t, gateway.ExportFormatVersion, lines[0].Header.FormatVersion)
		last := lines[len(lines)-1]
		require.Equal(t, "end", last.Type)
		require.True(t, last.End.Complete)
		memories := map[backendtype.Backend][]string{}
		refs := 0
		for _, l := range lines {
			switch l.Type {
			case "ref":
				require.Equal(t, "u1", l.Ref.UserID)
				refs++
			case "memory":
				require.NotContains(t, l.Memory.Text, "red", "nothing of u2")
				memories[l.Memory.Backend] = append(memories[l.Memory.Backend], l.Memory.Text)
			case "backend":
				require.Empty(t, l.Backend.Error)
			}
		}
		require.Equal(t, last.End.Refs, refs)
		require.Positive(t, refs)
		require.Contains(t, memories[backendtype.BackendLocal], "my favourite colour is blue")
		require.NotEmpty(t, memories[backendtype.BackendOpenViking])
		require.NotEmpty(t, memories[backendtype.BackendEverMemOS])
		require.Equal(t, 1, countWhere(t, db, "audit_entries", "action = ?", gateway.AuditActionExport))

		narrow := exportLines(t, w, gateway.ExportInput{WorkspaceID: "ws", UserID: "u1", Namespace: "elsewhere"})
		for _, l := range narrow {
			require.NotEqual(t, "memory", l.Type, "nothing of u1 lies under elsewhere")
			require.NotEqual(t, "ref", l.Type)
		}
	})
}

// TestErasureIdempotencyKeyIsBoundToItsSubject: a key names an erasure only
// with its subject. Bob reusing the key of Alice's erasure, or an admin
// reusing one for a second person, is CONFLICT naming the field and nothing
// of the other request; the same request again answers itself.
func TestErasureIdempotencyKeyIsBoundToItsSubject(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newErasureWorld(t, db, gateway.Config{})
		ctx := context.Background()
		write := []gateway.Grant{{Namespace: "", Access: gateway.AccessWrite}}
		as := func(user string) context.Context {
			return gateway.WithPrincipal(ctx, gateway.Principal{Name: user + "-app", WorkspaceID: "ws", UserID: user, Role: gateway.RoleAgent, Grants: write})
		}
		admin := gateway.WithPrincipal(ctx, gateway.Principal{Name: "ws-admin", WorkspaceID: "ws", Role: gateway.RoleAdmin,
			Grants: []gateway.Grant{{Namespace: "", Access: gateway.AccessAdmin}}})
		erase := func(ctx context.Context, user, key string) (gateway.EraseSubjectResult, error) {
			return w.svc.EraseSubject(ctx, gateway.EraseSubjectInput{WorkspaceID: "ws", UserID: user, Reason: user + "'s private reason", IdempotencyKey: key})
		}

		alice, err := erase(as("alice"), "alice", "erase-2026")
		require.NoError(t, err)
		require.True(t, alice.Created)
		again, err := erase(as("alice"), "alice", "erase-2026")
		require.NoError(t, err)
		require.False(t, again.Created, "the same request again answers itself")
		require.Equal(t, alice.Request.ID, again.Request.ID)

		for _, tc := range []struct {
			name string
			ctx  context.Context
			user string
		}{{"another user", as("bob"), "bob"}, {"an admin, for a second person", admin, "carol"}} {
			_, err := erase(tc.ctx, tc.user, "erase-2026")
			var conflict *gateway.ConflictError
			require.ErrorAs(t, err, &conflict, tc.name)
			require.Equal(t, "idempotencyKey", conflict.Field)
			require.NotContains(t, err.Error(), "alice", "nothing of the other request")
			require.NotContains(t, err.Error(), alice.Request.ID)
			require.Zero(t, countWhere(t, w.db, "erasure_requests", "user_id = ?", tc.user), "%s: nothing half-written", tc.name)
		}
		bob, err := erase(as("bob"), "bob", "erase-bob")
		require.NoError(t, err, "a key of its own erases bob")
		require.True(t, bob.Created)
		require.Equal(t, "bob", bob.Request.UserID)
	})
}

// TestNarrowErasureOfSharedSessions: OpenViking deletes a conversation
// whole, so a narrowed erasure of sessions that also hold other scopes'
// turns is refused to a key that may not write them all (an admin of one
// namespace, an agent's own key); an admin of the workspace may, and then
// the refs of every scope in the deleted sessions are DELETED, never left
// SUCCESS, while the local backend, which deletes turn by turn, keeps the
// other scopes' turns.
func TestNarrowErasureOfSharedSessions(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newErasureWorld(t, db, gateway.Config{})
		ctx := context.Background()
		ingest := func(session, agent, ns, text string) {
			t.Helper()
			_, err := w.svc.IngestConversationTurn(ctx, gateway.IngestTurnInput{
				WorkspaceID: "ws", UserID: "u1", AgentID: agent, SessionID: session, TurnID: fmt.Sprintf("t%d", w.now.Load()),
				Namespace: ns, Role: backendtype.RoleUser, Content: text,
			})
			require.NoError(t, err)
			w.advance(time.Millisecond)
		}
		ingest("shared", "a1", "support", "my order number is late")
		ingest("shared", "a2", "sales", "I want the premium plan")
		ingest("alone", "a1", "support", "the printer is broken")

		principal := func(name, agent string, grants ...gateway.Grant) context.Context {
			return gateway.WithPrincipal(ctx, gateway.Principal{Name: name, WorkspaceID: "ws", UserID: map[bool]string{true: "u1"}[agent != ""],
				AgentID: agent, Role: map[bool]gateway.PrincipalRole{true: gateway.RoleAgent, false: gateway.RoleAdmin}[agent != ""], Grants: grants})
		}
		supportAdmin := principal("support-admin", "", gateway.Grant{Namespace: "support", Access: gateway.AccessAdmin})
		agentKey := principal("u1-a1", "a1", gateway.Grant{Namespace: "", Access: gateway.AccessWrite})
		wsAdmin := principal("ws-admin", "", gateway.Grant{Namespace: "", Access: gateway.AccessAdmin})
		erase := func(ctx context.Context, agent, ns string) (gateway.EraseSubjectResult, error) {
			return w.svc.EraseSubject(ctx, gateway.EraseSubjectInput{WorkspaceID: "ws", UserID: "u1", AgentID: agent, Namespace: ns, Reason: "asked"})
		}

		for name, try := range map[string]func() error{
			"an admin of support only": func() error { _, err := erase(supportAdmin, "", "support"); return err },
			"the agent's own key":      func() error { _, err := erase(agentKey, "a1", ""); return err },
		} {
			err := try()
			require.ErrorIs(t, err, gateway.ErrForbidden, name)
			require.Zero(t, countWhere(t, w.db, "erasure_requests", "user_id = ?", "u1"), "%s: nothing accepted", name)
		}
		require.Len(t, w.ov.Sessions("ws", "u1"), 2, "both sessions still there")

		res, err := erase(wsAdmin, "a1", "")
		require.NoError(t, err, "a workspace admin may write every scope of the sessions")
		// Until it is done, no other scope writes into the sessions it will
		// delete whole: the requester was allowed only what they held.
		_, err = w.svc.IngestConversationTurn(ctx, gateway.IngestTurnInput{
			WorkspaceID: "ws", UserID: "u1", AgentID: "a2", SessionID: "alone", TurnID: "t-late", Namespace: "sales", Role: backendtype.RoleUser, Content: "late",
		})
		var conflict *gateway.ConflictError
		require.ErrorAs(t, err, &conflict, "a turn of a2 into a1's session while a1's erasure runs")
		require.Equal(t, "sessionId", conflict.Field)
		ingest("a2-own", "a2", "sales", "a session of a2's own is fine")
		w.drain(t)
		status, _ := w.request(t, res.Request.ID)
		require.Contains(t, []gateway.ErasureStatus{gateway.ErasureCompleted, gateway.ErasurePartial}, status)
		require.Equal(t, []string{"a2-own"}, w.ov.Sessions("ws", "u1"), "OpenViking deleted both of a1's sessions whole, and only those")
		require.Zero(t, countWhere(t, w.db, "memory_refs", "backend = ? AND session_id = ? AND status = ?",
			backendtype.BackendOpenViking, "shared", gateway.RefStatusSuccess), "no ref of the deleted session is left SUCCESS, a2's included")
		require.Equal(t, 2, countWhere(t, w.db, "local_memories", "user_id = ? AND agent_id = ?", "u1", "a2"), "local deletes turn by turn: a2's turns stay")
		require.Equal(t, 2, countWhere(t, w.db, "memory_refs", "backend = ? AND agent_id = ? AND status = ?",
			backendtype.BackendLocal, "a2", gateway.RefStatusSuccess), "and so do their refs")
	})
}
