package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/everos"
	"github.com/memory-gateway/memory-gateway/backends/everos/everostest"
	"github.com/memory-gateway/memory-gateway/backends/openviking"
	"github.com/memory-gateway/memory-gateway/backends/openviking/openvikingtest"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/worker"
)

// oneBackendWorld is a service and a hand-driven worker in front of a
// single backend, on a settable clock.
type oneBackendWorld struct {
	erasureWorld
}

func newOneBackendWorld(t *testing.T, db *persistence.DB, backend func(clock func() time.Time) backendtype.BackendAdapter, policy *gateway.FeedbackPolicy) *oneBackendWorld {
	t.Helper()
	w := &oneBackendWorld{erasureWorld{db: db}}
	w.now.Store(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, w.now.Load()).UTC() }
	adapter := backend(clock)
	opts := gateway.Options{
		Anonymous: &gateway.DevPrincipal, Store: persistence.NewStore(db), Env: lifecycle.NewEnv(nil, clock), FeedbackPolicy: policy,
		Config:   gateway.Config{RetryDelay: func(int) time.Duration { return time.Second }},
		Backends: []backendtype.BackendAdapter{adapter},
	}
	exec, err := gateway.NewOutboxExecutor(opts)
	require.NoError(t, err)
	w.worker, err = worker.New(worker.Options{Store: persistence.NewStore(db), Executor: exec, Env: lifecycle.NewEnv(nil, clock),
		Config: worker.Config{Backends: []backendtype.Backend{adapter.Name()}}})
	require.NoError(t, err)
	opts.Drainer, opts.Notifier = w.worker, w.worker
	w.svc, err = gateway.NewService(opts)
	require.NoError(t, err)
	return w
}

// TestEverOSEndsUnsupportedNeverSilent: EverOS 1.x has no delete API. A
// delete request ends UNSUPPORTED with its reason, and an erasure ends
// PARTIAL — never COMPLETED, even with EverOS the only backend — with what
// remains named kind by kind, and the refs of what remains left live.
func TestEverOSEndsUnsupportedNeverSilent(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		fake := everostest.New()
		t.Cleanup(fake.Close)
		policy := &gateway.FeedbackPolicy{Default: []backendtype.FeedbackType{backendtype.FeedbackDeleteRequest}}
		w := newOneBackendWorld(t, db, func(clock func() time.Time) backendtype.BackendAdapter {
			b, err := everos.New(everos.Config{BaseURL: fake.URL, Timeout: 2 * time.Second, ReadBackInterval: time.Millisecond, Now: clock})
			require.NoError(t, err)
			return b
		}, policy)
		w.remember(t, "u1", "my favourite colour is blue")
		w.drain(t)
		refs, err := w.svc.Reader(ctx).ListMemoryRefs(ctx, gateway.RefFilter{WorkspaceID: "ws", UserID: "u1", RefType: backendtype.RefTypeEpisodicMemory}, gateway.PageRequest{First: 10})
		require.NoError(t, err)
		require.Len(t, refs.Items, 1, "the commit read its episode back")

		fb, err := w.svc.RecordMemoryFeedback(ctx, gateway.RecordFeedbackInput{
			WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Namespace: "team", MemoryRefID: refs.Items[0].ID,
			FeedbackType: backendtype.FeedbackDeleteRequest, SourceEventID: "forget-1",
		})
		require.NoError(t, err)
		w.drain(t)
		got, err := w.svc.Reader(ctx).Feedback(ctx, fb.Feedback.ID)
		require.NoError(t, err)
		require.Equal(t, gateway.FeedbackUnsupported, got.Status)
		require.Equal(t, everos.ReasonNoDeleteAPI, *got.ResultReason)
		ref, err := w.svc.Reader(ctx).MemoryRef(ctx, refs.Items[0].ID)
		require.NoError(t, err)
		require.Equal(t, gateway.RefStatusSuccess, ref.Status, "the memory is still there, and its ref says so")

		res := w.erase(t, "u1")
		w.drain(t)
		status, backends := w.request(t, res.Request.ID)
		require.Equal(t, gateway.ErasurePartial, status, "never COMPLETED: EverOS deleted nothing")
		require.Len(t, backends, 1)
		b := backends[0]
		require.Equal(t, backendtype.ErasureOutcomeUnsupported, b.Outcome)
		require.False(t, b.Verified)
		kinds := map[string]backendtype.ResidueKind{}
		for _, k := range b.ResidueByKind {
			kinds[k.Kind] = k
		}
		require.Equal(t, backendtype.ResidueKind{Kind: "episode", Count: 1, Unerasable: true}, kinds["episode"])
		require.Equal(t, backendtype.ResidueKind{Kind: "raw_message", Count: 1, Uncounted: true, Unerasable: true}, kinds["raw_message"])
		require.Contains(t, *b.Detail, "no delete API")
		require.Zero(t, countWhere(t, db, "memory_refs", "user_id = ? AND status = ?", "u1", gateway.RefStatusDeleted), "nothing was deleted, so no ref says so")
		require.Equal(t, 1, countWhere(t, db, "outbox_events", "last_error_code = ?", gateway.ErrorCodeErasureIncomplete),
			"dead-lettered at once with its code: re-drive it once the files are removed by hand")
	})
}

// TestOpenVikingDiffDeletesRetireRefs: a memory OpenViking's extraction
// deleted (the memory diff's deletes) has its refs retired, so retrieval
// never links to it and dashboards show it gone.
func TestOpenVikingDiffDeletesRetireRefs(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		fake := openvikingtest.New()
		t.Cleanup(fake.Close)
		w := newOneBackendWorld(t, db, func(clock func() time.Time) backendtype.BackendAdapter {
			b, err := openviking.New(openviking.Config{BaseURL: fake.URL, Timeout: 2 * time.Second, PollInterval: time.Millisecond, Now: clock})
			require.NoError(t, err)
			return b
		}, nil)
		w.remember(t, "u1", "my favourite colour is blue")
		w.drain(t)
		refs, err := w.svc.Reader(ctx).ListMemoryRefs(ctx, gateway.RefFilter{WorkspaceID: "ws", UserID: "u1", RefType: backendtype.RefTypePreference}, gateway.PageRequest{First: 10})
		require.NoError(t, err)
		require.Len(t, refs.Items, 1)
		old := refs.Items[0]

		fake.Set(func(s *openvikingtest.Server) { s.NextCommitDeletes = []string{*old.NativeURI} })
		w.remember(t, "u1", "my favourite colour is green")
		w.drain(t)
		retired, err := w.svc.Reader(ctx).MemoryRef(ctx, old.ID)
		require.NoError(t, err)
		require.Equal(t, gateway.RefStatusDeleted, retired.Status, "the memory extraction deleted is DELETED")
		require.Equal(t, 1, countWhere(t, db, "memory_refs", "user_id = ? AND ref_type = ? AND status = ?", "u1", backendtype.RefTypePreference, gateway.RefStatusSuccess),
			"the new memory is live")
	})
}
