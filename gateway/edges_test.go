package gateway_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// TestTextTheStoresCannotHoldIsRefused: a NUL byte or invalid UTF-8 in any
// text — content, metadata keys and values, ids, namespace, feedback text —
// is BAD_USER_INPUT naming the field, the same on both stores, and nothing
// is written anywhere (the local backend included).
func TestTextTheStoresCannotHoldIsRefused(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		svc := newService(t, db, gateway.Config{}, localBackend(db))
		for _, tc := range []struct {
			field  string
			modify func(*gateway.IngestTurnInput)
		}{
			{"content", func(in *gateway.IngestTurnInput) { in.Content = "hello\x00world" }},
			{"content", func(in *gateway.IngestTurnInput) { in.Content = "bad \xff\xfe bytes" }},
			{"metadata.note", func(in *gateway.IngestTurnInput) { in.Metadata = map[string]any{"note": "a\x00b"} }},
			{"metadata.list[1]", func(in *gateway.IngestTurnInput) { in.Metadata = map[string]any{"list": []any{"ok", "\xc3\x28"}} }},
			{"metadata", func(in *gateway.IngestTurnInput) { in.Metadata = map[string]any{"k\x00": "v"} }},
			{"sessionId", func(in *gateway.IngestTurnInput) { in.SessionID = "s\x001" }},
			{"sessionId", func(in *gateway.IngestTurnInput) { in.SessionID = ".." }},
			{"turnId", func(in *gateway.IngestTurnInput) { in.TurnID = "." }},
			{"namespace", func(in *gateway.IngestTurnInput) { in.Namespace = "team/\x00" }},
			{"namespace", func(in *gateway.IngestTurnInput) { in.Namespace = "team/../billing" }},
			{"namespace", func(in *gateway.IngestTurnInput) { in.Namespace = "team/./alpha" }},
			{"namespace", func(in *gateway.IngestTurnInput) { in.Namespace = "team//alpha" }},
		} {
			_, err := svc.IngestConversationTurn(ctx, turnInput(tc.modify))
			var inputErr *gateway.InputError
			require.ErrorAs(t, err, &inputErr, tc.field)
			require.Equal(t, tc.field, inputErr.Field)
		}
		require.Zero(t, countRows(t, db, "local_memories"), "the local backend stored nothing")
		require.Zero(t, countRefs(t, db))
		require.Zero(t, countRows(t, db, "audit_entries"))

		ing, err := svc.IngestConversationTurn(ctx, turnInput(func(in *gateway.IngestTurnInput) { in.Namespace = "/team/alpha/" }))
		require.NoError(t, err, "leading and trailing slashes are trimmed, as ever")
		for field, in := range map[string]gateway.RecordFeedbackInput{
			"comment":    {Comment: "x\x00y", FeedbackType: backendtype.FeedbackHelpful},
			"correction": {Correction: "x\xffy", FeedbackType: backendtype.FeedbackCorrection},
		} {
			in.WorkspaceID, in.UserID, in.AgentID, in.Namespace, in.MemoryRefID = "ws", "u1", "a1", "team/alpha", ing.Refs[0].ID
			_, err := svc.RecordMemoryFeedback(ctx, in)
			var inputErr *gateway.InputError
			require.ErrorAs(t, err, &inputErr, field)
			require.Equal(t, field, inputErr.Field)
		}
		require.Zero(t, countRows(t, db, "memory_feedback"))
		_, err = svc.RetrieveContext(ctx, gateway.RetrieveContextInput{WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Query: "colour\x00"})
		var inputErr *gateway.InputError
		require.ErrorAs(t, err, &inputErr)
		require.Equal(t, "query", inputErr.Field)
	})
}

// failingSave is a store whose ingest records cannot be saved.
type failingSave struct{ *persistence.Store }

func (failingSave) SaveIngest(context.Context, []gateway.MemoryRef, gateway.AuditEntry, ...gateway.OutboxEvent) error {
	return errors.New("injected: the control-plane transaction failed")
}

// TestNoOrphanWhenTheControlPlaneFails: when the control-plane transaction
// fails after the local backend stored a turn, the turn is taken back: the
// backend never holds a memory the gateway has no ref of. A turn that was
// already there (a replay) is left alone.
func TestNoOrphanWhenTheControlPlaneFails(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		failing, err := gateway.NewService(gateway.Options{
			Anonymous: &gateway.DevPrincipal, Store: failingSave{persistence.NewStore(db)}, Backends: []backendtype.BackendAdapter{localBackend(db)},
		})
		require.NoError(t, err)
		_, err = failing.IngestConversationTurn(ctx, turnInput())
		require.ErrorContains(t, err, "injected")
		require.Zero(t, countRows(t, db, "local_memories"), "no orphan")
		require.Zero(t, countRefs(t, db))

		ok := newService(t, db, gateway.Config{}, localBackend(db))
		_, err = ok.IngestConversationTurn(ctx, turnInput(func(in *gateway.IngestTurnInput) { in.TurnID = "t2" }))
		require.NoError(t, err)
		_, err = failing.IngestConversationTurn(ctx, turnInput(func(in *gateway.IngestTurnInput) {
			in.TurnID, in.Policy = "t2", &gateway.TurnPolicy{Backends: []backendtype.Backend{backendtype.BackendLocal}}
		}))
		require.NoError(t, err, "a replay is answered from the stored refs: nothing to save, nothing to fail")
		require.Equal(t, 1, countRows(t, db, "local_memories"), "a turn that was there stays")
	})
}
