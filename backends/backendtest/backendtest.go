// Package backendtest checks that a backend adapter keeps the contract
// backendtype's adapter interfaces document, with the same checks for every
// adapter — in the spirit of River's driver test suite. An
// adapter's own tests call Exercise with a constructor; what an adapter
// cannot do (a capability it lacks) is left out and named in the log.
package backendtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Fixture is one adapter under test and the means to misbehave it.
type Fixture struct {
	Adapter backendtype.BackendAdapter
	// FailNext makes the backend's next n requests fail as an outage does
	// (transient: unreachable or 5xx) or as a refusal does (a 4xx). Nil
	// when the backend cannot be made to fail (the failure checks are then
	// left out, and the log says so).
	FailNext func(n int, transient bool)
	// ConflictNext makes the backend's next n writes answer a conflict it
	// marks retryable (OpenViking's 409 with details.retryable). Nil when
	// the backend has none.
	ConflictNext func(n int)
	// IgnoreDeletes makes the backend answer deletes as done while keeping
	// everything (a backend that lies). Nil when it cannot be made to.
	IgnoreDeletes func()
	// SeedMemories stores n memories of a user directly, as many as no
	// single listing page holds. Nil when the backend cannot be seeded.
	SeedMemories func(workspace, user string, n int)
	// SearchKeepsDeleted says the backend's search keeps serving a memory
	// deleted one by one (EverMemOS deletes by id in MongoDB only, its
	// search indexes keep the copy): the gateway screens those out by their
	// refs, so the checks look for deleted memories by listing (export)
	// instead of by search.
	SearchKeepsDeleted bool
}

// maxPendingRounds bounds how often a pending commit or feedback is asked
// again, as the worker would.
const maxPendingRounds = 20

// Exercise runs every contract check against adapters newFixture builds,
// one fixture per check. Each check uses its own user and session.
func Exercise(t *testing.T, newFixture func(t *testing.T) Fixture) {
	t.Helper()
	checks := []struct {
		name string
		run  func(t *testing.T, f Fixture, s scope)
	}{
		{"IngestIsIdempotentOnTheGatewayID", ingestIsIdempotent},
		{"CommitIsIdempotentOnTheEventID", commitIsIdempotent},
		{"RetrievalFindsWhatWasWrittenForThatUserOnly", retrievalIsScoped},
		{"CorrectionReplacesTheMemoryOnce", correctionReplaces},
		{"DeleteRemovesTheMemoryOnce", deleteRemoves},
		{"EmptyCorrectionIsAPermanentFailure", emptyCorrectionFails},
		{"RatingsAreSkippedWithAReason", ratingsAreSkipped},
		{"ACancelledContextIsHonoured", cancelledContextIsHonoured},
		{"OutagesAreRetryableRefusalsPermanent", failuresAreClassified},
		{"BatchIngestStoresEveryTurnInOrder", batchIngestStoresEveryTurn},
		{"ATakenBackTurnIsGone", takenBackTurnIsGone},
		{"WholeUserErasureLeavesOnlyWhatTheAPICannotDelete", wholeUserErasure},
		{"NarrowedErasureKeepsTheRest", narrowedErasure},
		{"VerificationCatchesABackendThatIgnoresDeletes", verificationCatchesLies},
		{"ExportListsEveryMemoryWithItsText", exportListsEveryMemory},
		{"RetryableConflictsAreRetried", conflictsAreRetryable},
		{"AMemoryIsReadBackWithItsText", memoriesAreReadBack},
	}
	for i, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newFixture(t), newScope(i))
		})
	}
}

// scope is the identities one check writes under.
type scope struct {
	workspace, user, agent, session, namespace string
	// word is a term only this check's content holds.
	word string
}

func newScope(i int) scope {
	return scope{
		workspace: "contract", user: fmt.Sprintf("user%d", i), agent: "agent", session: fmt.Sprintf("session%d", i),
		namespace: "team", word: fmt.Sprintf("zephyrine%c", 'a'+rune(i)),
	}
}

// TurnIDs are a gateway id and a provenance id for a turn of a test,
// stable and unique per (workspace, session, turn) and shaped like the
// gateway's; to an adapter they are opaque.
func TurnIDs(workspace, session, turn string) (gatewayID, provenanceID string) {
	sum := sha256.Sum256([]byte("turn:" + workspace + ":" + session + ":" + turn))
	h := hex.EncodeToString(sum[:])
	return "gw_" + h[:24], "prov_" + h[24:48]
}

func (s scope) turn(id, content string) backendtype.TurnWrite {
	gw, prov := TurnIDs(s.workspace, s.session, id)
	return backendtype.TurnWrite{
		GatewayID: gw, ProvenanceID: prov, WorkspaceID: s.workspace, UserID: s.user,
		AgentID: s.agent, SessionID: s.session, TurnID: id, Namespace: s.namespace, Role: backendtype.RoleUser,
		Content: content, ContentHash: backendtype.ContentHash(content), OccurredAt: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC),
	}
}

func (s scope) commitRequest(eventID string) backendtype.CommitRequest {
	return backendtype.CommitRequest{
		EventID: eventID, JobID: "gwc_" + s.session, GatewayID: "gwc_" + s.session, WorkspaceID: s.workspace,
		UserID: s.user, AgentID: s.agent, SessionID: s.session, Namespace: s.namespace, Attempt: 1, Metadata: backendtype.Metadata{},
	}
}

func (s scope) query(text string) backendtype.RetrievalQuery {
	return backendtype.RetrievalQuery{WorkspaceID: s.workspace, UserID: s.user, AgentID: s.agent, Namespace: s.namespace, Query: text, Limit: 10}
}

func capability[T any](t *testing.T, f Fixture, what string) T {
	t.Helper()
	c, ok := f.Adapter.(T)
	if !ok {
		t.Logf("%s has no %s: this check does not apply", f.Adapter.Name(), what)
	}
	return c
}

func has[T any](f Fixture) bool {
	_, ok := f.Adapter.(T)
	return ok
}

// ingest writes a turn and requires it to succeed.
func ingest(t *testing.T, f Fixture, w backendtype.TurnWrite) backendtype.WriteResult {
	t.Helper()
	res, err := f.Adapter.(backendtype.TurnIngester).IngestTurn(context.Background(), w)
	require.NoError(t, err)
	require.Equal(t, backendtype.ResultSuccess, res.Status, "%s: %s", res.ErrorCode, res.ErrorMessage)
	return res
}

// commit runs a commit to its end the way the worker does: a pending answer
// is asked again with the state it returned.
func commit(t *testing.T, f Fixture, req backendtype.CommitRequest) backendtype.CommitResult {
	t.Helper()
	committer := f.Adapter.(backendtype.SessionCommitter)
	for range maxPendingRounds {
		res, err := committer.CommitSession(context.Background(), req)
		require.NoError(t, err)
		if res.Status != backendtype.ResultPending {
			return res
		}
		req.Metadata = backendtype.Metadata{"backend_state": map[string]any(res.State)}
		req.Attempt++
	}
	t.Fatalf("the commit was still pending after %d rounds", maxPendingRounds)
	return backendtype.CommitResult{}
}

// apply runs feedback to its end the way the worker does.
func apply(t *testing.T, f Fixture, req backendtype.FeedbackRequest) backendtype.CommitResult {
	t.Helper()
	applier := f.Adapter.(backendtype.FeedbackApplier)
	for range maxPendingRounds {
		res, err := applier.ApplyFeedback(context.Background(), req)
		require.NoError(t, err)
		if res.Status != backendtype.ResultPending {
			return res
		}
		req.State = res.State
		req.Attempt++
	}
	t.Fatalf("the feedback was still pending after %d rounds", maxPendingRounds)
	return backendtype.CommitResult{}
}

// retrieve returns the texts the backend finds for q.
func retrieve(t *testing.T, f Fixture, q backendtype.RetrievalQuery) []backendtype.RetrievedItem {
	t.Helper()
	items, err := f.Adapter.(backendtype.Retriever).Retrieve(context.Background(), q)
	require.NoError(t, err)
	for _, it := range items {
		require.NotEmpty(t, it.Text, "an item has text")
		require.True(t, it.NativeID != "" || it.NativeURI != "", "an item names its memory: %+v", it)
		require.GreaterOrEqual(t, it.Score, 0.0, "scores are not negative")
	}
	return items
}

func texts(items []backendtype.RetrievedItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Text
	}
	return out
}

func containing(items []backendtype.RetrievedItem, word string) []backendtype.RetrievedItem {
	var out []backendtype.RetrievedItem
	for _, it := range items {
		if strings.Contains(strings.ToLower(it.Text), strings.ToLower(word)) {
			out = append(out, it)
		}
	}
	return out
}

// remembered writes a fact in the scope's session, commits it when the
// backend commits, and returns the retrieved memory that holds it: what a
// feedback check acts on.
func remembered(t *testing.T, f Fixture, s scope, fact string) backendtype.RetrievedItem {
	t.Helper()
	ingest(t, f, s.turn("t1", fact))
	if has[backendtype.SessionCommitter](f) {
		res := commit(t, f, s.commitRequest("outbox_"+s.session))
		require.Equal(t, backendtype.ResultSuccess, res.Status, "%s: %s", res.ErrorCode, res.ErrorMessage)
	}
	found := containing(retrieve(t, f, s.query(s.word)), s.word)
	require.NotEmpty(t, found, "the fact is found after it was written")
	// Prefer a memory over the raw session when a backend returns both.
	slices.SortStableFunc(found, func(a, b backendtype.RetrievedItem) int {
		return boolRank(a.MemoryType == backendtype.RefTypeSessionArchive) - boolRank(b.MemoryType == backendtype.RefTypeSessionArchive)
	})
	return found[0]
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s scope) feedback(kind backendtype.FeedbackType, it backendtype.RetrievedItem, correction string) backendtype.FeedbackRequest {
	return backendtype.FeedbackRequest{
		EventID: "outbox_fb_" + s.session, FeedbackID: "fb_" + s.session, FeedbackType: kind, WorkspaceID: s.workspace,
		UserID: s.user, AgentID: s.agent, SessionID: s.session, Namespace: s.namespace, RefType: it.MemoryType,
		NativeID: it.NativeID, NativeURI: it.NativeURI, Correction: correction, Attempt: 1,
	}
}

// The checks.

func ingestIsIdempotent(t *testing.T, f Fixture, s scope) {
	if capability[backendtype.TurnIngester](t, f, "ingest") == nil {
		return
	}
	w := s.turn("t1", "my favourite wind is the "+s.word)
	first := ingest(t, f, w)
	again := ingest(t, f, w)
	require.Equal(t, first.NativeID, again.NativeID, "the same turn is the same memory")
	require.Equal(t, first.NativeURI, again.NativeURI)
	require.False(t, again.Created, "a repeated write creates nothing")
	if has[backendtype.Retriever](f) && !has[backendtype.SessionCommitter](f) {
		require.Len(t, containing(retrieve(t, f, s.query(s.word)), s.word), 1, "stored once")
	}
}

func commitIsIdempotent(t *testing.T, f Fixture, s scope) {
	if capability[backendtype.SessionCommitter](t, f, "commit") == nil || !has[backendtype.TurnIngester](f) {
		return
	}
	ingest(t, f, s.turn("t1", "I sail with the "+s.word+" every spring"))
	first := commit(t, f, s.commitRequest("outbox_"+s.session))
	require.Equal(t, backendtype.ResultSuccess, first.Status, "%s: %s", first.ErrorCode, first.ErrorMessage)
	require.True(t, len(first.Refs) > 0 || first.NativeID != "" || first.NativeURI != "", "a commit names what it produced")
	var before []string
	if has[backendtype.Retriever](f) {
		before = texts(containing(retrieve(t, f, s.query(s.word)), s.word))
		require.NotEmpty(t, before, "what was committed is found")
	}

	// The same event again (a retry after a lost lease): nothing new.
	again := commit(t, f, s.commitRequest("outbox_"+s.session))
	require.Contains(t, []backendtype.ResultStatus{backendtype.ResultSuccess, backendtype.ResultSkipped}, again.Status,
		"%s: %s", again.ErrorCode, again.ErrorMessage)
	if has[backendtype.Retriever](f) {
		require.ElementsMatch(t, before, texts(containing(retrieve(t, f, s.query(s.word)), s.word)), "no memory twice")
	}
}

func retrievalIsScoped(t *testing.T, f Fixture, s scope) {
	if capability[backendtype.Retriever](t, f, "retrieval") == nil || !has[backendtype.TurnIngester](f) {
		return
	}
	remembered(t, f, s, "the "+s.word+" blows from the west")
	other := s
	other.user += "other"
	require.Empty(t, containing(retrieve(t, f, other.query(s.word)), s.word), "another user finds nothing of it")
	limited := s.query(s.word)
	limited.Limit = 1
	require.LessOrEqual(t, len(retrieve(t, f, limited)), 1, "the limit is honoured")
}

func correctionReplaces(t *testing.T, f Fixture, s scope) {
	if capability[backendtype.FeedbackApplier](t, f, "feedback") == nil || !has[backendtype.Retriever](f) {
		return
	}
	it := remembered(t, f, s, "my boat is called "+s.word)
	corrected := "my boat, the " + s.word + ", is now called Aurora"
	req := s.feedback(backendtype.FeedbackCorrection, it, corrected)
	for attempt := range 2 { // the second is a retry with the same event id
		res := apply(t, f, req)
		if unsupported(t, f, s, res, it) {
			return
		}
		require.Equal(t, backendtype.ResultSuccess, res.Status, "attempt %d: %s: %s", attempt, res.ErrorCode, res.ErrorMessage)
		require.True(t, res.NativeID != "" || res.NativeURI != "", "the corrected memory is named")
	}
	if f.SearchKeepsDeleted {
		requireNotListed(t, f, s, it)
		return
	}
	found := texts(containing(retrieve(t, f, s.query(s.word)), s.word))
	require.Contains(t, found, corrected, "the correction is found")
	require.NotContains(t, found, "my boat is called "+s.word, "the replaced text is not")
}

// unsupported reports whether the backend answered that it cannot change
// the memory at all (UNSUPPORTED): then nothing changed, and it said why.
func unsupported(t *testing.T, f Fixture, s scope, res backendtype.CommitResult, it backendtype.RetrievedItem) bool {
	t.Helper()
	if res.Status != backendtype.ResultSkipped || res.Response["status"] != backendtype.StatusUnsupported {
		return false
	}
	reason, _ := res.Response["reason"].(string)
	require.NotEmpty(t, reason, "an unsupported operation says why")
	require.Contains(t, texts(retrieve(t, f, s.query(s.word))), it.Text, "nothing changed")
	return true
}

// requireNotListed: the memory is gone from what the backend lists.
func requireNotListed(t *testing.T, f Fixture, s scope, it backendtype.RetrievedItem) {
	t.Helper()
	if !has[backendtype.SubjectExporter](f) {
		return
	}
	for _, m := range export(t, f, s) {
		require.False(t, m.NativeID == it.NativeID && m.NativeURI == it.NativeURI, "the deleted memory is not listed: %+v", m)
	}
}

func deleteRemoves(t *testing.T, f Fixture, s scope) {
	if capability[backendtype.FeedbackApplier](t, f, "feedback") == nil || !has[backendtype.Retriever](f) {
		return
	}
	it := remembered(t, f, s, "my dog is called "+s.word)
	req := s.feedback(backendtype.FeedbackDeleteRequest, it, "")
	for attempt := range 2 { // deleting what is gone succeeds
		res := apply(t, f, req)
		if unsupported(t, f, s, res, it) {
			return
		}
		require.Equal(t, backendtype.ResultSuccess, res.Status, "attempt %d: %s: %s", attempt, res.ErrorCode, res.ErrorMessage)
	}
	requireNotListed(t, f, s, it)
	if f.SearchKeepsDeleted {
		return
	}
	for _, got := range retrieve(t, f, s.query(s.word)) {
		require.False(t, got.NativeID == it.NativeID && got.NativeURI == it.NativeURI, "the deleted memory is not found: %+v", got)
	}
}

func emptyCorrectionFails(t *testing.T, f Fixture, s scope) {
	if capability[backendtype.FeedbackApplier](t, f, "feedback") == nil || !has[backendtype.Retriever](f) {
		return
	}
	it := remembered(t, f, s, "my cat is called "+s.word)
	before := texts(retrieve(t, f, s.query(s.word)))
	res := apply(t, f, s.feedback(backendtype.FeedbackCorrection, it, ""))
	require.Equal(t, backendtype.ResultFailed, res.Status)
	require.Equal(t, backendtype.ErrorCodeEmptyCorrection, res.ErrorCode)
	require.False(t, res.Retryable, "trying again cannot help")
	require.ElementsMatch(t, before, texts(retrieve(t, f, s.query(s.word))), "nothing changed")
}

func ratingsAreSkipped(t *testing.T, f Fixture, s scope) {
	if capability[backendtype.FeedbackApplier](t, f, "feedback") == nil || !has[backendtype.Retriever](f) {
		return
	}
	it := remembered(t, f, s, "my horse is called "+s.word)
	for _, kind := range []backendtype.FeedbackType{backendtype.FeedbackHelpful, backendtype.FeedbackNotHelpful} {
		res := apply(t, f, s.feedback(kind, it, ""))
		require.Equal(t, backendtype.ResultSkipped, res.Status, kind)
		reason, _ := res.Response["reason"].(string)
		require.NotEmpty(t, reason, "a skip says why")
	}
}

func cancelledContextIsHonoured(t *testing.T, f Fixture, s scope) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ingester, ok := f.Adapter.(backendtype.TurnIngester); ok {
		res, err := ingester.IngestTurn(ctx, s.turn("t1", "never "+s.word))
		require.True(t, err != nil || res.Status != backendtype.ResultSuccess, "a cancelled ingest does not report success")
	}
	if committer, ok := f.Adapter.(backendtype.SessionCommitter); ok {
		res, err := committer.CommitSession(ctx, s.commitRequest("outbox_"+s.session))
		require.True(t, err != nil || res.Status == backendtype.ResultFailed, "a cancelled commit fails: %+v", res)
		if err == nil {
			require.True(t, res.Retryable, "and may be tried again")
		}
	}
	if retriever, ok := f.Adapter.(backendtype.Retriever); ok {
		_, err := retriever.Retrieve(ctx, s.query(s.word))
		require.Error(t, err, "a cancelled retrieval fails")
	}
}

func failuresAreClassified(t *testing.T, f Fixture, s scope) {
	if f.FailNext == nil {
		t.Logf("%s cannot be made to fail here: this check does not apply", f.Adapter.Name())
		return
	}
	if !has[backendtype.TurnIngester](f) {
		return
	}
	ingester := f.Adapter.(backendtype.TurnIngester)
	w := s.turn("t1", "the "+s.word+" fails")
	for _, transient := range []bool{true, false} {
		f.FailNext(1, transient)
		res, err := ingester.IngestTurn(context.Background(), w)
		requireClassified(t, "ingest", transient, res.Status, res.Retryable, res.ErrorCode, err)
	}
	ingest(t, f, w)
	if has[backendtype.SessionCommitter](f) {
		for _, transient := range []bool{true, false} {
			f.FailNext(1, transient)
			res, err := f.Adapter.(backendtype.SessionCommitter).CommitSession(context.Background(), s.commitRequest("outbox_"+s.session))
			requireClassified(t, "commit", transient, res.Status, res.Retryable, res.ErrorCode, err)
		}
	}
	if has[backendtype.FeedbackApplier](f) && has[backendtype.Retriever](f) {
		it := remembered(t, f, s, "my bird is called "+s.word)
		before := texts(retrieve(t, f, s.query(s.word)))
		for _, kind := range []backendtype.FeedbackType{backendtype.FeedbackCorrection, backendtype.FeedbackDeleteRequest} {
			for _, transient := range []bool{true, false} {
				f.FailNext(1, transient)
				res, err := f.Adapter.(backendtype.FeedbackApplier).ApplyFeedback(context.Background(), s.feedback(kind, it, "my bird, the "+s.word+", is a crow"))
				if err == nil && res.Status == backendtype.ResultSkipped && res.Response["status"] == backendtype.StatusUnsupported {
					f.FailNext(0, transient) // nothing was asked of the backend
					continue
				}
				requireClassified(t, string(kind), transient, res.Status, res.Retryable, res.ErrorCode, err)
				require.NotContains(t, res.ErrorMessage, "crow", "an error never carries the correction")
			}
		}
		require.ElementsMatch(t, before, texts(retrieve(t, f, s.query(s.word))), "failed attempts changed nothing")
	}
	if checker, ok := f.Adapter.(backendtype.HealthChecker); ok {
		require.NoError(t, checker.Health(context.Background()), "healthy once the fault passed")
		f.FailNext(1, true)
		require.Error(t, checker.Health(context.Background()), "an outage is unhealthy")
	}
}

// requireClassified: an outage is a retryable failure (or an error, which
// the gateway retries); a refusal is a permanent failure. Both are coded.
func requireClassified(t *testing.T, what string, transient bool, status backendtype.ResultStatus, retryable bool, code string, err error) {
	t.Helper()
	if err != nil {
		require.True(t, transient, "%s: an error return is retried, so only an outage may be one: %v", what, err)
		return
	}
	require.Equal(t, backendtype.ResultFailed, status, what)
	require.Equal(t, transient, retryable, "%s, transient %v: %s", what, transient, code)
	require.NotEmpty(t, code, "%s: a failure is coded", what)
}

// Answer is what an adapter must answer to one feedback request it cannot
// (or need not) apply: a skip with its reason, or a permanent failure with
// its code. For an adapter's own cases, beside the contract.
type Answer struct {
	Name      string
	Request   backendtype.FeedbackRequest
	Status    backendtype.ResultStatus
	Reason    string
	ErrorCode string
	// Unsupported: the skip says the backend's API cannot do it at all.
	Unsupported bool
}

// RequireAnswers applies each case and checks its answer; none of them is
// retryable.
func RequireAnswers(t *testing.T, applier backendtype.FeedbackApplier, cases []Answer) {
	t.Helper()
	for _, c := range cases {
		res := Apply(t, applier, c.Request)
		require.Equal(t, c.Status, res.Status, c.Name)
		if c.Reason != "" {
			require.Equal(t, c.Reason, res.Response["reason"], c.Name)
		}
		require.Equal(t, c.ErrorCode, res.ErrorCode, c.Name)
		require.False(t, res.Retryable, c.Name)
		require.Equal(t, c.Unsupported, res.Response["status"] == backendtype.StatusUnsupported, c.Name)
	}
}

// Apply applies feedback once and requires no error return.
func Apply(t *testing.T, applier backendtype.FeedbackApplier, req backendtype.FeedbackRequest) backendtype.CommitResult {
	t.Helper()
	res, err := applier.ApplyFeedback(context.Background(), req)
	require.NoError(t, err)
	return res
}
