package gateway_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/worker"
)

// drain runs every due outbox event of the service's backends now (by the
// given clock, if any).
func drain(t *testing.T, db *persistence.DB, svc *gateway.Service, now ...func() time.Time) int {
	t.Helper()
	var names []backendtype.Backend
	for _, b := range svc.Backends() {
		names = append(names, b.Name())
	}
	opts := worker.Options{Store: persistence.NewStore(db), Executor: executorOf(t, svc), Config: worker.Config{Backends: names}}
	if len(now) > 0 {
		opts.Env = lifecycle.NewEnv(nil, now[0])
	}
	w, err := worker.New(opts)
	require.NoError(t, err)
	n, err := w.Drain(context.Background(), 1000, "")
	require.NoError(t, err)
	return n
}

func feedbackByID(t *testing.T, svc *gateway.Service, id string) gateway.MemoryFeedback {
	t.Helper()
	fb, err := svc.Reader(context.Background()).Feedback(context.Background(), id)
	require.NoError(t, err)
	return fb
}

func refByID(t *testing.T, svc *gateway.Service, id string) gateway.MemoryRef {
	t.Helper()
	ref, err := svc.Reader(context.Background()).MemoryRef(context.Background(), id)
	require.NoError(t, err)
	return ref
}

func retrieveTexts(t *testing.T, svc *gateway.Service, query string) ([]string, gateway.RetrieveResult) {
	t.Helper()
	res, err := svc.RetrieveContext(context.Background(), gateway.RetrieveContextInput{WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Query: query})
	require.NoError(t, err)
	var texts []string
	for _, it := range res.Items {
		texts = append(texts, it.Text)
	}
	return texts, res
}

func correction(refID, sourceEvent, text string) gateway.RecordFeedbackInput {
	return gateway.RecordFeedbackInput{
		WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Namespace: "team/alpha", MemoryRefID: refID,
		FeedbackType: backendtype.FeedbackCorrection, Correction: text, SourceType: "app", SourceEventID: sourceEvent,
	}
}

// TestCorrectionOnTheLocalBackend walks the whole lifecycle on both stores:
// a rejected correction changes nothing; an accepted one is routed through
// the outbox, rewrites the memory in place, supersedes the old ref with a
// replacement, and retrieval returns the new fact and never the old one.
func TestCorrectionOnTheLocalBackend(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		svc := newService(t, db, gateway.Config{}, localBackend(db))
		_, err := svc.IngestConversationTurn(ctx, turnInput())
		require.NoError(t, err)
		_, err = svc.CommitSession(ctx, gateway.CommitSessionInput{WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: "s1", Namespace: "team/alpha"})
		require.NoError(t, err)
		require.Equal(t, 1, drain(t, db, svc))

		texts, res := retrieveTexts(t, svc, "favourite colour")
		require.Equal(t, []string{"my favourite colour is blue"}, texts)
		oldRef := refByID(t, svc, *res.Items[0].RefID)
		refsBefore := countRefs(t, db)

		// Rejected: nothing is routed, nothing changes.
		red, err := svc.RecordMemoryFeedback(ctx, correction(oldRef.ID, "fb-red", "my favourite colour is red"))
		require.NoError(t, err)
		require.Equal(t, gateway.FeedbackReceived, red.Feedback.Status, "corrections wait for review by default")
		rejected, err := svc.ReviewMemoryFeedback(ctx, gateway.ReviewFeedbackInput{ID: red.Feedback.ID, Decision: gateway.DecisionReject, Reason: "not what the user said"})
		require.NoError(t, err)
		require.Equal(t, gateway.FeedbackRejected, rejected.Status)
		require.Equal(t, "not what the user said", *rejected.ReviewReason)
		require.Equal(t, "dev", *rejected.ReviewedBy)
		require.Nil(t, rejected.JobID)
		_, err = svc.ReviewMemoryFeedback(ctx, gateway.ReviewFeedbackInput{ID: red.Feedback.ID, Decision: gateway.DecisionReject})
		require.NoError(t, err, "the same decision again is a no-op")
		_, err = svc.ReviewMemoryFeedback(ctx, gateway.ReviewFeedbackInput{ID: red.Feedback.ID, Decision: gateway.DecisionAccept})
		require.ErrorIs(t, err, gateway.ErrConflict, "a decided review does not flip")
		require.Equal(t, 0, drain(t, db, svc))
		texts, _ = retrieveTexts(t, svc, "favourite colour")
		require.Equal(t, []string{"my favourite colour is blue"}, texts)
		require.Equal(t, refsBefore, countRefs(t, db))

		// Accepted: routed, applied, superseded.
		green, err := svc.RecordMemoryFeedback(ctx, correction(oldRef.ID, "fb-green", "my favourite colour is green"))
		require.NoError(t, err)
		accepted, err := svc.ReviewMemoryFeedback(ctx, gateway.ReviewFeedbackInput{ID: green.Feedback.ID, Decision: gateway.DecisionAccept})
		require.NoError(t, err)
		require.Equal(t, gateway.FeedbackAccepted, accepted.Status)
		require.NotNil(t, accepted.JobID)
		require.NotNil(t, accepted.OutboxEventID)
		job, err := svc.Reader(ctx).CommitJob(ctx, *accepted.JobID)
		require.NoError(t, err)
		require.Equal(t, gateway.JobAccepted, job.Status)
		require.Equal(t, gateway.JobKindApplyFeedback, job.Metadata["kind"])

		require.Equal(t, 1, drain(t, db, svc))
		applied := feedbackByID(t, svc, green.Feedback.ID)
		require.Equal(t, gateway.FeedbackApplied, applied.Status)
		require.NotNil(t, applied.AppliedAt)
		require.NotNil(t, applied.ReplacementRefID)
		replacement := refByID(t, svc, *applied.ReplacementRefID)
		require.Equal(t, gateway.RefStatusSuccess, replacement.Status)
		require.Equal(t, oldRef.NativeID, replacement.NativeID, "rewritten in place")
		require.Equal(t, oldRef.ID, replacement.Metadata["replaces_ref_id"])
		superseded := refByID(t, svc, oldRef.ID)
		require.Equal(t, gateway.RefStatusSuperseded, superseded.Status)
		require.Equal(t, replacement.ID, *superseded.SupersededByRefID)
		require.NotNil(t, superseded.SupersededAt)
		job, err = svc.Reader(ctx).CommitJob(ctx, *accepted.JobID)
		require.NoError(t, err)
		require.Equal(t, gateway.JobSuccess, job.Status)
		require.Equal(t, 1, job.CreatedRefsCount)
		// Every other live ref of the same memory (the ingest ref of the
		// turn) is superseded too.
		page, err := svc.Reader(ctx).ListMemoryRefs(ctx, gateway.RefFilter{WorkspaceID: "ws", Backend: backendtype.BackendLocal}, gateway.PageRequest{First: 50})
		require.NoError(t, err)
		for _, r := range page.Items {
			if r.NativeID != nil && *r.NativeID == *oldRef.NativeID && r.ID != replacement.ID {
				require.Equal(t, gateway.RefStatusSuperseded, r.Status, r.ID)
			}
		}

		texts, res = retrieveTexts(t, svc, "favourite colour")
		require.Equal(t, []string{"my favourite colour is green"}, texts)
		require.Equal(t, replacement.ID, *res.Items[0].RefID)
		require.Empty(t, res.Conflicts)
		texts, _ = retrieveTexts(t, svc, "blue")
		require.Empty(t, texts, "the old text is gone")

		// The audit log says what happened, never the text.
		audit, err := svc.Reader(ctx).ListAuditEntries(ctx, gateway.AuditFilter{WorkspaceID: "ws", TargetID: green.Feedback.ID}, gateway.PageRequest{First: 10})
		require.NoError(t, err)
		actions := map[string]gateway.Metadata{}
		for _, a := range audit.Items {
			actions[a.Action] = a.Metadata
		}
		require.Contains(t, actions, gateway.AuditActionFeedbackReview)
		require.Equal(t, "applied", actions[gateway.AuditActionFeedbackApply]["status"])
		require.Equal(t, replacement.ID, actions[gateway.AuditActionFeedbackApply]["replacement_ref_id"])
		for _, a := range audit.Items {
			require.NotContains(t, strings.ToLower(strings.Join(flatten(a.Metadata), " ")), "green")
		}

		// Replays and stale targets.
		again, err := svc.RecordMemoryFeedback(ctx, correction(oldRef.ID, "fb-green", "my favourite colour is green"))
		require.NoError(t, err)
		require.False(t, again.Created, "the same source event is recorded once")
		require.Equal(t, gateway.FeedbackApplied, again.Feedback.Status)
		require.Equal(t, 0, drain(t, db, svc), "and routed once")
		_, err = svc.RecordMemoryFeedback(ctx, correction(oldRef.ID, "fb-purple", "my favourite colour is purple"))
		require.ErrorIs(t, err, gateway.ErrConflict, "a superseded ref is not corrected again: its replacement is")
		_, err = svc.RecordMemoryFeedback(ctx, correction(replacement.ID, "fb-purple", "my favourite colour is purple"))
		require.NoError(t, err)
	})
}

func flatten(m gateway.Metadata) []string {
	var out []string
	for k, v := range m {
		out = append(out, k)
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// TestDeleteRequestAutoAccepted: a workspace policy accepts delete requests
// at once; the memory is removed and its refs marked DELETED.
func TestDeleteRequestAutoAccepted(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		policy := gateway.FeedbackPolicy{Workspaces: map[string][]backendtype.FeedbackType{"ws": {backendtype.FeedbackDeleteRequest}}}
		svc, err := serviceWithExecutor(gateway.Options{
			Anonymous: &gateway.DevPrincipal, Store: persistence.NewStore(db), Backends: []backendtype.BackendAdapter{localBackend(db)},
			FeedbackPolicy: &policy,
		})
		require.NoError(t, err)
		ing, err := svc.IngestConversationTurn(ctx, turnInput())
		require.NoError(t, err)
		res, err := svc.RecordMemoryFeedback(ctx, gateway.RecordFeedbackInput{
			WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Namespace: "team/alpha", MemoryRefID: ing.Refs[0].ID,
			FeedbackType: backendtype.FeedbackDeleteRequest, SourceEventID: "del-1",
		})
		require.NoError(t, err)
		require.Equal(t, gateway.FeedbackAccepted, res.Feedback.Status)
		require.Equal(t, gateway.ReviewerAutoAccept, *res.Feedback.ReviewedBy)
		require.Equal(t, 1, drain(t, db, svc))
		fb := feedbackByID(t, svc, res.Feedback.ID)
		require.Equal(t, gateway.FeedbackApplied, fb.Status)
		require.Nil(t, fb.ReplacementRefID)
		require.Equal(t, gateway.RefStatusDeleted, refByID(t, svc, ing.Refs[0].ID).Status)
		texts, _ := retrieveTexts(t, svc, "favourite colour")
		require.Empty(t, texts)

		// HELPFUL is reviewed in this workspace (its list replaces the default).
		helpful, err := svc.RecordMemoryFeedback(ctx, gateway.RecordFeedbackInput{
			WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Namespace: "team/alpha", MemoryRefID: ing.Refs[0].ID,
			FeedbackType: backendtype.FeedbackHelpful, SourceEventID: "h-1",
		})
		require.NoError(t, err)
		require.Equal(t, gateway.FeedbackReceived, helpful.Feedback.Status)
	})
}

// applier is a backend whose feedback answers are scripted.
type applier struct {
	name  backendtype.Backend
	apply func(n int64, req backendtype.FeedbackRequest) (backendtype.CommitResult, error)
	calls atomic.Int64
	items []backendtype.RetrievedItem
}

func (a *applier) Name() backendtype.Backend { return a.name }

func (a *applier) IngestTurn(_ context.Context, w backendtype.TurnWrite) (backendtype.WriteResult, error) {
	return backendtype.WriteResult{Status: backendtype.ResultSuccess, NativeID: "mem-" + w.TurnID}, nil
}

func (a *applier) Retrieve(context.Context, backendtype.RetrievalQuery) ([]backendtype.RetrievedItem, error) {
	return a.items, nil
}

func (a *applier) ApplyFeedback(_ context.Context, req backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
	return a.apply(a.calls.Add(1), req)
}

// withoutApply hides ApplyFeedback.
type withoutApply struct{ *applier }

func (w withoutApply) ApplyFeedback() {}

// TestFeedbackRoutingFailuresAndSkips: a backend failing then succeeding
// retries like any outbox event; one that keeps failing dead-letters it and
// fails the feedback, and a re-drive brings it back; a backend that cannot
// apply feedback skips it with a reason; retrieval drops a memory a
// correction superseded if the backend still returns it, and says so.
func TestFeedbackRoutingFailuresAndSkips(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		remote := &applier{name: backendtype.BackendEverMemOS}
		policy := gateway.FeedbackPolicy{Default: []backendtype.FeedbackType{backendtype.FeedbackCorrection}}
		// One clock for the service and the worker; a retry is due a minute
		// after a failure, and each round below moves the clock past it.
		var ticks atomic.Int64
		start := time.Now().UTC().Truncate(time.Second)
		now := func() time.Time { return start.Add(time.Duration(ticks.Load()) * time.Minute) }
		svc, err := serviceWithExecutor(gateway.Options{
			Anonymous: &gateway.DevPrincipal, Store: persistence.NewStore(db), Backends: []backendtype.BackendAdapter{remote},
			FeedbackPolicy: &policy, Env: lifecycle.NewEnv(nil, now),
			Config: gateway.Config{MaxAttempts: 3, RetryDelay: func(int) time.Duration { return time.Minute }},
		})
		require.NoError(t, err)
		round := func() {
			drain(t, db, svc, now)
			ticks.Add(2)
		}
		ingest := func(turn string) string {
			res, err := svc.IngestConversationTurn(ctx, turnInput(func(in *gateway.IngestTurnInput) { in.TurnID = turn }))
			require.NoError(t, err)
			return res.Refs[0].ID
		}

		// Fails twice, then succeeds with a new memory.
		remote.apply = func(n int64, req backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
			if n <= 2 {
				return backendtype.CommitResult{Status: backendtype.ResultFailed, Retryable: true, ErrorCode: "unavailable", ErrorMessage: "try later"}, nil
			}
			require.Equal(t, "mem-t1", req.NativeID)
			require.Equal(t, "my favourite colour is green", req.Correction)
			return backendtype.CommitResult{Status: backendtype.ResultSuccess, NativeID: "mem-corrected", RefType: backendtype.RefTypeMessageMemory}, nil
		}
		rec, err := svc.RecordMemoryFeedback(ctx, correction(ingest("t1"), "c1", "my favourite colour is green"))
		require.NoError(t, err)
		require.Equal(t, gateway.FeedbackAccepted, rec.Feedback.Status)
		round()
		event, err := svc.Reader(ctx).OutboxEvent(ctx, *rec.Feedback.OutboxEventID)
		require.NoError(t, err)
		require.Equal(t, gateway.OutboxPending, event.Status)
		require.Equal(t, 1, event.AttemptCount)
		require.Equal(t, "unavailable", *event.LastErrorCode)
		require.Equal(t, gateway.FeedbackAccepted, feedbackByID(t, svc, rec.Feedback.ID).Status, "still accepted while retrying")
		round()
		round()
		fb := feedbackByID(t, svc, rec.Feedback.ID)
		require.Equal(t, gateway.FeedbackApplied, fb.Status)
		require.Equal(t, int64(3), remote.calls.Load())
		replacement := refByID(t, svc, *fb.ReplacementRefID)
		require.Equal(t, "mem-corrected", *replacement.NativeID)

		// The backend still returns the old memory: left out, reported.
		// So does a derived memory still listing the old fact.
		remote.items = []backendtype.RetrievedItem{
			{Text: "my favourite colour is blue", Score: 1, NativeID: "mem-t1"},
			{Text: "my favourite colour is green", Score: 0.9, NativeID: "mem-corrected"},
			{Text: "name: Ada\nexplicit_info: [\"my favourite colour is blue\", \"I work nights\"]", Score: 0.8, NativeID: "profile-1"},
			{Text: "I work nights. My favourite colour is blue? No.", Score: 0.7, NativeID: "episode-2"},
		}
		texts, res := retrieveTexts(t, svc, "favourite colour")
		require.Equal(t, []string{"my favourite colour is green", "I work nights. My favourite colour is blue? No."}, texts,
			"statements are compared exactly: a different sentence is not the retired fact")
		require.Equal(t, replacement.ID, *res.Items[0].RefID)
		require.Len(t, res.Conflicts, 2)
		require.Equal(t, gateway.ConflictSuperseded, res.Conflicts[0].Kind)
		require.Equal(t, []string{"mem-t1"}, res.Conflicts[0].NativeIDs)
		require.Equal(t, gateway.ConflictStale, res.Conflicts[1].Kind)
		require.Equal(t, []string{"profile-1"}, res.Conflicts[1].NativeIDs)

		// Always failing: dead letter, FAILED; a re-drive brings it back.
		remote.calls.Store(0)
		remote.apply = func(n int64, _ backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
			if n <= 3 {
				return backendtype.CommitResult{}, errors.New("connection refused")
			}
			return backendtype.CommitResult{Status: backendtype.ResultSuccess}, nil
		}
		rec, err = svc.RecordMemoryFeedback(ctx, correction(ingest("t2"), "c2", "I live in Lyon"))
		require.NoError(t, err)
		for range 3 {
			round()
		}
		fb = feedbackByID(t, svc, rec.Feedback.ID)
		require.Equal(t, gateway.FeedbackFailed, fb.Status)
		require.Equal(t, gateway.ErrorCodeAdapterException, *fb.ResultReason)
		job, err := svc.Reader(ctx).CommitJob(ctx, *fb.JobID)
		require.NoError(t, err)
		require.Equal(t, gateway.JobFailed, job.Status)
		_, err = svc.RedriveOutboxEvent(ctx, *fb.OutboxEventID)
		require.NoError(t, err)
		require.Equal(t, gateway.FeedbackAccepted, feedbackByID(t, svc, rec.Feedback.ID).Status)
		round()
		require.Equal(t, gateway.FeedbackApplied, feedbackByID(t, svc, rec.Feedback.ID).Status)

		// Skipped by the backend, with its reason.
		remote.apply = func(int64, backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
			return backendtype.CommitResult{Status: backendtype.ResultSkipped, Response: map[string]any{"reason": "profile_not_editable"}}, nil
		}
		rec, err = svc.RecordMemoryFeedback(ctx, correction(ingest("t3"), "c3", "I am 40"))
		require.NoError(t, err)
		round()
		fb = feedbackByID(t, svc, rec.Feedback.ID)
		require.Equal(t, gateway.FeedbackSkipped, fb.Status)
		require.Equal(t, "profile_not_editable", *fb.ResultReason)
		require.Equal(t, gateway.RefStatusSuccess, refByID(t, svc, rec.Feedback.MemoryRefID).Status, "a skipped correction retires nothing")
	})
}

// TestFeedbackSkippedWithoutCapability: a backend without ApplyFeedback.
func TestFeedbackSkippedWithoutCapability(t *testing.T) {
	t.Parallel()
	db := pt.Open(t, pt.SQLite)
	ctx := context.Background()
	policy := gateway.FeedbackPolicy{Default: []backendtype.FeedbackType{backendtype.FeedbackDeleteRequest}}
	svc, err := serviceWithExecutor(gateway.Options{
		Anonymous: &gateway.DevPrincipal, Store: persistence.NewStore(db),
		Backends: []backendtype.BackendAdapter{withoutApply{&applier{name: backendtype.BackendOpenViking}}}, FeedbackPolicy: &policy,
	})
	require.NoError(t, err)
	ing, err := svc.IngestConversationTurn(ctx, turnInput())
	require.NoError(t, err)
	rec, err := svc.RecordMemoryFeedback(ctx, gateway.RecordFeedbackInput{
		WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Namespace: "team/alpha", MemoryRefID: ing.Refs[0].ID,
		FeedbackType: backendtype.FeedbackDeleteRequest, SourceEventID: "d1",
	})
	require.NoError(t, err)
	drain(t, db, svc)
	fb := feedbackByID(t, svc, rec.Feedback.ID)
	require.Equal(t, gateway.FeedbackSkipped, fb.Status)
	require.Equal(t, gateway.ReasonAdapterMethodMissing, *fb.ResultReason)
}

// TestReviewNeedsAdminOrTheMemorysUser: who may decide.
func TestReviewNeedsAdminOrTheMemorysUser(t *testing.T) {
	t.Parallel()
	db := pt.Open(t, pt.SQLite)
	ctx := context.Background()
	svc := newService(t, db, gateway.Config{}, localBackend(db))
	ing, err := svc.IngestConversationTurn(ctx, turnInput())
	require.NoError(t, err)
	as := func(p gateway.Principal) context.Context { return gateway.WithPrincipal(ctx, p) }
	write := []gateway.Grant{{Namespace: "team", Access: gateway.AccessWrite}}
	owner := gateway.Principal{Name: "u1-app", WorkspaceID: "ws", UserID: "u1", Role: gateway.RoleAgent, Grants: write}
	rec, err := svc.RecordMemoryFeedback(as(owner), correction(ing.Refs[0].ID, "c1", "my favourite colour is green"))
	require.NoError(t, err)

	for _, c := range []struct {
		name string
		p    gateway.Principal
		want error
	}{
		{"an agent key of the workspace", gateway.Principal{Name: "agent", WorkspaceID: "ws", Role: gateway.RoleAgent, Grants: write}, gateway.ErrForbidden},
		{"a reader", gateway.Principal{Name: "dash", WorkspaceID: "ws", Role: gateway.RoleDashboard, Grants: []gateway.Grant{{Namespace: "", Access: gateway.AccessRead}}}, gateway.ErrForbidden},
		{"another user", gateway.Principal{Name: "u2-app", WorkspaceID: "ws", UserID: "u2", Role: gateway.RoleAgent, Grants: write}, gateway.ErrNotFound},
		{"another workspace's admin", gateway.Principal{Name: "other", WorkspaceID: "other", Role: gateway.RoleAdmin, Grants: []gateway.Grant{{Namespace: "", Access: gateway.AccessAdmin}}}, gateway.ErrNotFound},
	} {
		_, err := svc.ReviewMemoryFeedback(as(c.p), gateway.ReviewFeedbackInput{ID: rec.Feedback.ID, Decision: gateway.DecisionAccept})
		require.ErrorIs(t, err, c.want, c.name)
	}
	fb, err := svc.ReviewMemoryFeedback(as(owner), gateway.ReviewFeedbackInput{ID: rec.Feedback.ID, Decision: gateway.DecisionAccept})
	require.NoError(t, err, "the memory's own user")
	require.Equal(t, gateway.FeedbackAccepted, fb.Status)
	require.Equal(t, "u1-app", *fb.ReviewedBy)

	// Validation names the field.
	_, err = svc.ReviewMemoryFeedback(ctx, gateway.ReviewFeedbackInput{ID: rec.Feedback.ID, Decision: "maybe"})
	var ie *gateway.InputError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "decision", ie.Field)
	_, err = svc.ReviewMemoryFeedback(ctx, gateway.ReviewFeedbackInput{ID: rec.Feedback.ID, Decision: gateway.DecisionAccept, Reason: strings.Repeat("x", 2000)})
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "reason", ie.Field)
}

// TestFeedbackRoutingSurvivesAWorkerThatDies: the worker that claimed the
// routing event dies; the rescue sweep takes its expired lease and, on the
// last attempt, dead-letters the event and fails the feedback; a re-drive
// brings the feedback back to ACCEPTED and a live worker applies it.
func TestFeedbackRoutingSurvivesAWorkerThatDies(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		policy := gateway.FeedbackPolicy{Default: []backendtype.FeedbackType{backendtype.FeedbackCorrection}}
		svc, err := serviceWithExecutor(gateway.Options{
			Anonymous: &gateway.DevPrincipal, Store: store, Backends: []backendtype.BackendAdapter{localBackend(db)},
			FeedbackPolicy: &policy, Config: gateway.Config{MaxAttempts: 1},
		})
		require.NoError(t, err)
		ing, err := svc.IngestConversationTurn(ctx, turnInput())
		require.NoError(t, err)
		rec, err := svc.RecordMemoryFeedback(ctx, correction(ing.Refs[0].ID, "c1", "my favourite colour is green"))
		require.NoError(t, err)

		now := time.Now().UTC()
		batch, err := store.ClaimOutboxEvents(ctx, gateway.ClaimRequest{
			WorkerID: "doomed", Backend: backendtype.BackendLocal, Limit: 10, Now: now, LeaseUntil: now.Add(time.Second),
		})
		require.NoError(t, err)
		require.Len(t, batch.Events, 1)
		require.Equal(t, *rec.Feedback.OutboxEventID, batch.Events[0].ID)
		// The worker dies here: no completion ever comes.
		res, err := store.RescueExpiredLeases(ctx, now.Add(time.Minute), 100)
		require.NoError(t, err)
		require.Equal(t, 1, res.DeadLettered)
		fb := feedbackByID(t, svc, rec.Feedback.ID)
		require.Equal(t, gateway.FeedbackFailed, fb.Status)
		require.Equal(t, gateway.ErrorCodeLeaseExpired, *fb.ResultReason)
		require.Equal(t, gateway.RefStatusSuccess, refByID(t, svc, ing.Refs[0].ID).Status, "nothing applied")

		_, err = svc.RedriveOutboxEvent(ctx, *fb.OutboxEventID)
		require.NoError(t, err)
		fb = feedbackByID(t, svc, rec.Feedback.ID)
		require.Equal(t, gateway.FeedbackAccepted, fb.Status)
		require.Nil(t, fb.ResultReason)
		require.Equal(t, 1, drain(t, db, svc))
		require.Equal(t, gateway.FeedbackApplied, feedbackByID(t, svc, rec.Feedback.ID).Status)
		texts, _ := retrieveTexts(t, svc, "favourite colour")
		require.Equal(t, []string{"my favourite colour is green"}, texts)
	})
}

// TestConcurrentReviewsDecideOnce: reviewers racing on one piece of
// feedback: exactly one decision lands, at most one route is written, and
// every other reviewer gets a no-op (same decision) or a CONFLICT.
func TestConcurrentReviewsDecideOnce(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		svc := newService(t, db, gateway.Config{}, localBackend(db))
		ing, err := svc.IngestConversationTurn(ctx, turnInput())
		require.NoError(t, err)
		rec, err := svc.RecordMemoryFeedback(ctx, correction(ing.Refs[0].ID, "c1", "my favourite colour is green"))
		require.NoError(t, err)

		const reviewers = 8
		type answer struct {
			decision gateway.FeedbackDecision
			fb       gateway.MemoryFeedback
			err      error
		}
		answers := make(chan answer, reviewers)
		var wg sync.WaitGroup
		for i := range reviewers {
			decision := gateway.DecisionAccept
			if i%2 == 1 {
				decision = gateway.DecisionReject
			}
			wg.Go(func() {
				fb, err := svc.ReviewMemoryFeedback(ctx, gateway.ReviewFeedbackInput{ID: rec.Feedback.ID, Decision: decision})
				answers <- answer{decision, fb, err}
			})
		}
		wg.Wait()
		close(answers)
		final := feedbackByID(t, svc, rec.Feedback.ID)
		require.Contains(t, []gateway.FeedbackStatus{gateway.FeedbackAccepted, gateway.FeedbackRejected}, final.Status)
		for a := range answers {
			wins := (a.decision == gateway.DecisionAccept) == (final.Status == gateway.FeedbackAccepted)
			if wins {
				require.NoError(t, a.err)
				require.Equal(t, final.Status, a.fb.Status)
			} else {
				require.ErrorIs(t, a.err, gateway.ErrConflict)
			}
		}
		events, err := svc.Reader(ctx).ListOutboxEvents(ctx, gateway.EventFilter{WorkspaceID: "ws", Operation: gateway.OperationApplyFeedback}, gateway.PageRequest{First: 10})
		require.NoError(t, err)
		if final.Status == gateway.FeedbackAccepted {
			require.Len(t, events.Items, 1, "one route")
		} else {
			require.Empty(t, events.Items)
		}
		audit, err := svc.Reader(ctx).ListAuditEntries(ctx, gateway.AuditFilter{WorkspaceID: "ws", Action: gateway.AuditActionFeedbackReview}, gateway.PageRequest{First: 10})
		require.NoError(t, err)
		require.Len(t, audit.Items, 1, "one decision audited")
	})
}
