package gateway_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

func countRefs(t *testing.T, db *persistence.DB) int {
	t.Helper()
	n, err := db.NewSelect().Table("memory_refs").Count(context.Background())
	require.NoError(t, err)
	return n
}

func countRows(t *testing.T, db *persistence.DB, table string) int {
	t.Helper()
	n, err := db.NewSelect().Table(table).Count(context.Background())
	require.NoError(t, err)
	return n
}

func TestIngestLocalEndToEnd(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		svc := newService(t, db, gateway.Config{}, localBackend(db))

		in := turnInput(func(in *gateway.IngestTurnInput) {
			in.Namespace = " /team/alpha/ "
			in.Content = "  my favourite colour is blue \n"
		})
		res, err := svc.IngestConversationTurn(ctx, in)
		require.NoError(t, err)
		require.Equal(t, gateway.OperationSuccess, res.Status)
		require.Equal(t, "gw_c7342a814868b1d815016923", res.GatewayID)
		require.Equal(t, "prov_3312b33d9b52516ce29b0a78", res.ProvenanceID)
		require.False(t, res.Replayed)
		require.Len(t, res.Refs, 1)
		ref := res.Refs[0]
		require.Equal(t, "ref_29a3651752c01508e4d59107", ref.ID)
		require.Equal(t, backendtype.BackendLocal, ref.Backend)
		require.Equal(t, "team/alpha", ref.Namespace, "namespace trimmed of spaces and slashes")
		require.Equal(t, "073289725804ba057c7bf25e2068d021aabfbc860a838a686b1a93bfc33584da", *ref.ContentHash, "hash of the trimmed content")
		require.NotNil(t, ref.NativeID)

		// A replay: same ids, nothing written.
		auditBefore := countRows(t, db, "audit_entries")
		again, err := svc.IngestConversationTurn(ctx, in)
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, res.GatewayID, again.GatewayID)
		require.Equal(t, ref.ID, again.Refs[0].ID)
		require.Equal(t, ref.CreatedAt, again.Refs[0].CreatedAt)
		require.Equal(t, 1, countRefs(t, db))
		require.Equal(t, auditBefore, countRows(t, db, "audit_entries"))
		require.Equal(t, 1, countRows(t, db, "local_memories"))

		// Retrieval finds it through the local backend, linked to its ref.
		got, err := svc.RetrieveContext(ctx, gateway.RetrieveContextInput{
			WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Query: "What is my favourite colour?",
		})
		require.NoError(t, err)
		require.Len(t, got.Items, 1)
		require.Equal(t, "my favourite colour is blue", got.Items[0].Text)
		require.Equal(t, ref.ID, *got.Items[0].RefID)
		require.Equal(t, gateway.RetrievalOK, got.Backends[0].Outcome)

		// Another user of the workspace does not see it.
		other, err := svc.RetrieveContext(ctx, gateway.RetrieveContextInput{
			WorkspaceID: "ws", UserID: "u2", AgentID: "a1", Query: "favourite colour",
		})
		require.NoError(t, err)
		require.Empty(t, other.Items)
	})
}

func TestIngestBackendOutcomes(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		ok := &fakeBackend{name: backendtype.BackendLocal}
		failing := &fakeBackend{name: backendtype.BackendOpenViking, ingestFn: func(context.Context, backendtype.TurnWrite) (backendtype.WriteResult, error) {
			return backendtype.WriteResult{}, errors.New("connection refused")
		}, types: &backendtype.RefTypes{Ingest: backendtype.RefTypeSessionArchive, Commit: backendtype.RefTypeSessionArchive}}
		bare := bareBackend{name: backendtype.BackendEverMemOS}
		svc := newService(t, db, gateway.Config{}, ok, failing, bare)

		res, err := svc.IngestConversationTurn(ctx, turnInput())
		require.NoError(t, err)
		require.Equal(t, gateway.OperationPartialSuccess, res.Status)
		byBackend := map[backendtype.Backend]gateway.MemoryRef{}
		for _, r := range res.Refs {
			byBackend[r.Backend] = r
		}
		require.Equal(t, gateway.RefStatusSuccess, byBackend[backendtype.BackendLocal].Status)
		require.Equal(t, gateway.RefStatusFailed, byBackend[backendtype.BackendOpenViking].Status)
		require.Equal(t, "connection refused", *byBackend[backendtype.BackendOpenViking].ErrorMessage)
		require.Equal(t, gateway.RefStatusSkipped, byBackend[backendtype.BackendEverMemOS].Status)
		require.Equal(t, gateway.ReasonAdapterMethodMissing, byBackend[backendtype.BackendEverMemOS].Metadata["reason"])
		require.Equal(t, backendtype.RefTypeSessionArchive, byBackend[backendtype.BackendOpenViking].RefType, "the type the backend declares")
		require.Equal(t, backendtype.RefTypeMessageMemory, byBackend[backendtype.BackendLocal].RefType, "the default")
		require.Equal(t, []string{"openviking: connection refused"}, res.Errors)
		// The backend response is reduced to the allow-list: the echoed
		// content is gone, the id stays.
		resp := byBackend[backendtype.BackendLocal].Metadata["backend_response"].(gateway.Metadata)
		require.Equal(t, "native-t1", resp["id"])
		require.NotContains(t, resp, "content")

		// Re-ingest: only the failed backend is called again.
		failing.ingestFn = nil
		again, err := svc.IngestConversationTurn(ctx, turnInput())
		require.NoError(t, err)
		require.Equal(t, int64(1), ok.calls.Load(), "a successful write is never sent twice")
		require.Equal(t, int64(2), failing.calls.Load())
		require.Equal(t, gateway.OperationPartialSuccess, again.Status) // evermemos is still skipped
		require.Equal(t, 3, countRefs(t, db))
	})
}

func TestIngestPolicyTimeoutAndPanic(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		slow := &fakeBackend{name: backendtype.BackendOpenViking, ingestFn: func(ctx context.Context, _ backendtype.TurnWrite) (backendtype.WriteResult, error) {
			<-ctx.Done()
			return backendtype.WriteResult{}, ctx.Err()
		}}
		panicking := &fakeBackend{name: backendtype.BackendEverMemOS, ingestFn: func(context.Context, backendtype.TurnWrite) (backendtype.WriteResult, error) {
			panic("adapter bug")
		}}
		ok := &fakeBackend{name: backendtype.BackendLocal}
		svc := newService(t, db, gateway.Config{BackendTimeout: 50 * time.Millisecond}, ok, slow, panicking)

		res, err := svc.IngestConversationTurn(ctx, turnInput(func(in *gateway.IngestTurnInput) {
			in.Policy = &gateway.TurnPolicy{Backends: []backendtype.Backend{backendtype.BackendOpenViking, backendtype.BackendEverMemOS}}
		}))
		require.NoError(t, err)
		require.Equal(t, gateway.OperationPartialSuccess, res.Status) // failed + skipped
		for _, r := range res.Refs {
			switch r.Backend {
			case backendtype.BackendLocal:
				require.Equal(t, gateway.RefStatusSkipped, r.Status)
				require.Equal(t, gateway.ReasonPolicyDisabled, r.Metadata["reason"])
			case backendtype.BackendOpenViking:
				require.Equal(t, gateway.RefStatusFailed, r.Status)
				require.Contains(t, *r.ErrorMessage, "timed out")
			case backendtype.BackendEverMemOS:
				require.Equal(t, gateway.RefStatusFailed, r.Status)
				require.Contains(t, *r.ErrorMessage, "panicked")
			}
		}
		require.Zero(t, ok.calls.Load(), "a policy-disabled backend is not called")
	})
}

func TestIngestConflictingContent(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		svc := newService(t, db, gateway.Config{}, localBackend(db))
		_, err := svc.IngestConversationTurn(ctx, turnInput(func(in *gateway.IngestTurnInput) { in.IdempotencyKey = "k" }))
		require.NoError(t, err)
		_, err = svc.IngestConversationTurn(ctx, turnInput(func(in *gateway.IngestTurnInput) {
			in.IdempotencyKey = "k"
			in.TurnID = "t2"
			in.Content = "something else"
		}))
		var conflict *gateway.ConflictError
		require.ErrorAs(t, err, &conflict)
		require.Equal(t, "idempotencyKey", conflict.Field)
		require.Equal(t, 1, countRows(t, db, "local_memories"))
	})
}

func TestIngestConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		// Two services on one database: duplicates race both inside one
		// process (shared execution) and across "processes" (the store's
		// upsert).
		svcA := newService(t, db, gateway.Config{}, localBackend(db))
		svcB := newService(t, db, gateway.Config{}, localBackend(db))
		var wg sync.WaitGroup
		results := make([]gateway.IngestResult, 50)
		errs := make([]error, 50)
		for i := range 50 {
			svc := svcA
			if i%2 == 1 {
				svc = svcB
			}
			wg.Go(func() { results[i], errs[i] = svc.IngestConversationTurn(ctx, turnInput()) })
		}
		wg.Wait()
		require.NoError(t, errors.Join(errs...))
		for _, r := range results {
			require.Equal(t, results[0].GatewayID, r.GatewayID)
			require.Equal(t, gateway.OperationSuccess, r.Status)
			require.Equal(t, results[0].Refs[0].ID, r.Refs[0].ID)
		}
		require.Equal(t, 1, countRefs(t, db))
		require.Equal(t, 1, countRows(t, db, "local_memories"))
		require.Equal(t, 1, countRows(t, db, "audit_entries"))
	})
}

func TestIngestValidation(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		svc := newService(t, db, gateway.Config{MaxContentBytes: 64}, localBackend(db))
		tests := []struct {
			name   string
			modify func(*gateway.IngestTurnInput)
			field  string
		}{
			{"missing workspace", func(in *gateway.IngestTurnInput) { in.WorkspaceID = "" }, "workspaceId"},
			{"missing user", func(in *gateway.IngestTurnInput) { in.UserID = "" }, "userId"},
			{"missing agent", func(in *gateway.IngestTurnInput) { in.AgentID = "" }, "agentId"},
			{"missing session", func(in *gateway.IngestTurnInput) { in.SessionID = "" }, "sessionId"},
			{"missing turn", func(in *gateway.IngestTurnInput) { in.TurnID = "" }, "turnId"},
			{"blank content", func(in *gateway.IngestTurnInput) { in.Content = " \n\t " }, "content"},
			{"slash-only namespace", func(in *gateway.IngestTurnInput) { in.Namespace = " // " }, "namespace"},
			{"namespace with empty segment", func(in *gateway.IngestTurnInput) { in.Namespace = "a//b" }, "namespace"},
			{"content over the limit", func(in *gateway.IngestTurnInput) { in.Content = strings.Repeat("x", 65) }, "content"},
			{"unknown role", func(in *gateway.IngestTurnInput) { in.Role = "boss" }, "role"},
			{"unknown backend in policy", func(in *gateway.IngestTurnInput) {
				in.Policy = &gateway.TurnPolicy{Backends: []backendtype.Backend{"mystery"}}
			}, "policy.backends[0]"},
			{"id with surrounding space", func(in *gateway.IngestTurnInput) { in.SessionID = " s1" }, "sessionId"},
			{"id with control character", func(in *gateway.IngestTurnInput) { in.TurnID = "t\x00" }, "turnId"},
			{"trace id too long", func(in *gateway.IngestTurnInput) { in.Trace.TraceID = strings.Repeat("a", 129) }, "trace.traceId"},
			{"invalid UTF-8", func(in *gateway.IngestTurnInput) { in.Content = "bad \xff byte" }, "content"},
		}
		for _, tt := range tests {
			_, err := svc.IngestConversationTurn(ctx, turnInput(tt.modify))
			var inputErr *gateway.InputError
			require.ErrorAs(t, err, &inputErr, tt.name)
			require.Equal(t, tt.field, inputErr.Field, tt.name)
		}
		require.Zero(t, countRefs(t, db), "nothing written")
		require.Zero(t, countRows(t, db, "audit_entries"))
		require.Zero(t, countRows(t, db, "local_memories"))
	})
}

func TestCommitSession(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		svc := newService(t, db, gateway.Config{}, localBackend(db), &fakeBackend{name: backendtype.BackendOpenViking})
		in := gateway.CommitSessionInput{WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: "s1", Namespace: "/team/", IdempotencyKey: "k1"}
		res, err := svc.CommitSession(ctx, in)
		require.NoError(t, err)
		require.True(t, res.Created)
		require.Equal(t, gateway.CommitJobID("ws", "s1", "k1", ""), res.Job.ID)
		require.Equal(t, gateway.JobAccepted, res.Job.Status)
		require.Equal(t, "team", res.Job.Namespace)

		reader := svc.Reader(ctx)
		events, err := reader.ListOutboxEvents(ctx, gateway.EventFilter{JobID: res.Job.ID}, gateway.PageRequest{First: 10})
		require.NoError(t, err)
		require.Len(t, events.Items, 2, "one event per backend")
		for _, e := range events.Items {
			require.Equal(t, gateway.OutboxEventID(res.Job.ID, e.Backend, gateway.OperationCommitSession), e.ID)
			require.Equal(t, gateway.OutboxPending, e.Status)
			require.Equal(t, gateway.MaxAttemptsDefault, e.MaxAttempts)
		}

		again, err := svc.CommitSession(ctx, in)
		require.NoError(t, err)
		require.False(t, again.Created)
		require.Equal(t, res.Job.ID, again.Job.ID)
		require.Equal(t, 2, countRows(t, db, "outbox_events"))
		require.Equal(t, 1, countRows(t, db, "commit_jobs"))
		require.Equal(t, 1, countRows(t, db, "audit_entries"))

		_, err = svc.CommitSession(ctx, gateway.CommitSessionInput{WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: "s1"})
		var inputErr *gateway.InputError
		require.ErrorAs(t, err, &inputErr)
		require.Equal(t, "namespace", inputErr.Field)
	})
}

func TestRecordMemoryFeedback(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		svc := newService(t, db, gateway.Config{}, localBackend(db))
		ing, err := svc.IngestConversationTurn(ctx, turnInput())
		require.NoError(t, err)
		refID := ing.Refs[0].ID
		in := gateway.RecordFeedbackInput{
			WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Namespace: "team", MemoryRefID: refID,
			FeedbackType: backendtype.FeedbackCorrection, Correction: "my favourite colour is green",
			Comment: "I changed my mind", SourceType: "app", SourceEventID: "fb-1",
		}
		res, err := svc.RecordMemoryFeedback(ctx, in)
		require.NoError(t, err)
		require.True(t, res.Created)
		require.Equal(t, gateway.FeedbackReceived, res.Feedback.Status)
		require.True(t, res.Feedback.HasCorrection)

		again, err := svc.RecordMemoryFeedback(ctx, in)
		require.NoError(t, err)
		require.False(t, again.Created)
		require.Equal(t, res.Feedback.ID, again.Feedback.ID)
		require.Equal(t, 1, countRows(t, db, "memory_feedback"))

		tests := []struct {
			name   string
			modify func(*gateway.RecordFeedbackInput)
			check  func(error)
		}{
			{"unknown ref", func(in *gateway.RecordFeedbackInput) { in.MemoryRefID = "ref_nope"; in.SourceEventID = "x1" }, func(err error) {
				var nf *gateway.NotFoundError
				require.ErrorAs(t, err, &nf)
				require.Equal(t, "memoryRefId", nf.Field)
			}},
			{"ref of another workspace", func(in *gateway.RecordFeedbackInput) { in.WorkspaceID = "other"; in.SourceEventID = "x2" }, func(err error) {
				require.ErrorIs(t, err, gateway.ErrNotFound)
			}},
			{"correction without text", func(in *gateway.RecordFeedbackInput) { in.Correction = " "; in.SourceEventID = "x3" }, func(err error) {
				var ie *gateway.InputError
				require.ErrorAs(t, err, &ie)
				require.Equal(t, "correction", ie.Field)
			}},
			{"same source event, other feedback", func(in *gateway.RecordFeedbackInput) {
				in.FeedbackType = backendtype.FeedbackHelpful
				in.Correction = ""
			}, func(err error) { require.ErrorIs(t, err, gateway.ErrConflict) }},
		}
		for _, tt := range tests {
			modified := in
			tt.modify(&modified)
			_, err := svc.RecordMemoryFeedback(ctx, modified)
			require.Error(t, err, tt.name)
			tt.check(err)
		}
		require.Equal(t, 1, countRows(t, db, "memory_feedback"))
	})
}

func TestRetrieveMergesBackends(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		a := &fakeBackend{name: backendtype.BackendOpenViking, items: []backendtype.RetrievedItem{
			{Text: "likes green tea", Score: 0.9, NativeURI: "viking://1"},
			{Text: "lives in Paris", Score: 0.45, NativeURI: "viking://2"},
		}}
		b := &fakeBackend{name: backendtype.BackendEverMemOS, items: []backendtype.RetrievedItem{
			{Text: "Lives in   Paris", Score: 12, NativeID: "e1"}, // same text, other backend
			{Text: "works as a chef", Score: 3, NativeID: "e2"},
		}}
		slow := &fakeBackend{name: backendtype.BackendLocal, delay: time.Hour, items: []backendtype.RetrievedItem{{Text: "never"}}}
		svc := newService(t, db, gateway.Config{RetrieveTimeout: 100 * time.Millisecond}, a, b, slow)

		started := time.Now()
		res, err := svc.RetrieveContext(ctx, gateway.RetrieveContextInput{WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Query: "q"})
		require.NoError(t, err)
		require.Less(t, time.Since(started), 10*time.Second, "a hung backend is cut at its timeout")

		texts := []string{}
		for _, it := range res.Items {
			texts = append(texts, it.Text)
		}
		// "lives in Paris" was found by two backends: fused first.
		require.Equal(t, []string{"lives in Paris", "likes green tea", "works as a chef"}, texts)
		require.Equal(t, []backendtype.Backend{backendtype.BackendEverMemOS}, res.Items[0].AlsoFoundIn)
		require.InDelta(t, 1.0, res.Items[0].Score, 1e-9, "the best normalised score of the duplicates")
		require.InDelta(t, 0.25, res.Items[2].Score, 1e-9, "3/12: normalised by the backend's best")
		outcomes := map[backendtype.Backend]gateway.RetrievalOutcome{}
		for _, o := range res.Backends {
			outcomes[o.Backend] = o.Outcome
		}
		require.Equal(t, gateway.RetrievalOK, outcomes[backendtype.BackendOpenViking])
		require.Equal(t, gateway.RetrievalTimeout, outcomes[backendtype.BackendLocal])

		limited, err := svc.RetrieveContext(ctx, gateway.RetrieveContextInput{
			WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Query: "q", Limit: 1,
			Backends: []backendtype.Backend{backendtype.BackendEverMemOS},
		})
		require.NoError(t, err)
		require.Len(t, limited.Items, 1)
		require.Equal(t, "Lives in   Paris", limited.Items[0].Text)
		for _, o := range limited.Backends {
			if o.Backend != backendtype.BackendEverMemOS {
				require.Equal(t, gateway.RetrievalSkipped, o.Outcome)
			}
		}
	})
}

// TestRetrieveMergesLocalTextLikeAnyOther: the local backend's copy of a
// text another backend also returns is one item, found in both.
func TestRetrieveMergesLocalTextLikeAnyOther(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		ov := &fakeBackend{name: backendtype.BackendOpenViking, items: []backendtype.RetrievedItem{
			{Text: "my favourite  colour is blue", Score: 0.8, NativeURI: "viking://1"},
		}}
		svc := newService(t, db, gateway.Config{}, localBackend(db), ov)
		_, err := svc.IngestConversationTurn(ctx, turnInput(func(in *gateway.IngestTurnInput) { in.Content = "My favourite colour is Blue" }))
		require.NoError(t, err)
		res, err := svc.RetrieveContext(ctx, gateway.RetrieveContextInput{WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Namespace: "team/alpha", Query: "favourite colour"})
		require.NoError(t, err)
		require.Len(t, res.Items, 1, "one memory, not one per backend")
		found := append([]backendtype.Backend{res.Items[0].SourceBackend}, res.Items[0].AlsoFoundIn...)
		require.ElementsMatch(t, []backendtype.Backend{backendtype.BackendLocal, backendtype.BackendOpenViking}, found)
	})
}

// TestConfigRefusesWhatCannotWork: a negative setting is an error naming
// it, not a silent default.
func TestConfigRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]gateway.Config{
		"MaxAttempts":                  {MaxAttempts: -1},
		"BackendTimeout":               {BackendTimeout: -time.Second},
		"RetrieveTimeout":              {RetrieveTimeout: -time.Second},
		"CommitTimeout":                {CommitTimeout: -time.Second},
		"MaxContentBytes":              {MaxContentBytes: -1},
		"MaxMetadataBytes":             {MaxMetadataBytes: -1},
		"MaxSubscriptionsPerPrincipal": {MaxSubscriptionsPerPrincipal: -1},
		"BackendTimeouts[openviking]":  {BackendTimeouts: map[backendtype.Backend]time.Duration{backendtype.BackendOpenViking: -1}},
	} {
		_, err := gateway.NewService(gateway.Options{Store: struct{ gateway.Store }{}, Config: cfg})
		require.ErrorContains(t, err, "Config."+name, name)
	}
	_, err := gateway.NewService(gateway.Options{Store: struct{ gateway.Store }{}, Config: gateway.Config{}})
	require.NoError(t, err, "zero values take the defaults")
}
