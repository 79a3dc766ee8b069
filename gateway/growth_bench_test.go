package gateway_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// BenchmarkControlPlaneGrowth measures what the control plane costs on
// PostgreSQL per row of each table, indexes and TOAST included, after a
// realistic mix: 2,000 turns through the three backends, one commit per 10
// turns, feedback on every tenth ref. Reported as B/row per table.
func BenchmarkControlPlaneGrowth(b *testing.B) {
	pt.PostgresURL(b) // skips without PostgreSQL: the sizes are PostgreSQL's
	for range b.N {
		db := pt.Open(b, pt.Postgres)
		w := newErasureWorld(b, db, gateway.Config{})
		ctx := context.Background()
		for s := range 200 {
			user := fmt.Sprintf("u%d", s%20)
			session := fmt.Sprintf("s%d", s)
			for turn := range 10 {
				_, err := w.svc.IngestConversationTurn(ctx, gateway.IngestTurnInput{
					WorkspaceID: "ws", UserID: user, AgentID: "a1", SessionID: session, TurnID: fmt.Sprintf("t%d", turn),
					Namespace: "team/support", Role: backendtype.RoleUser, Content: fmt.Sprintf("turn %d of session %d: I prefer green tea in the morning", turn, s),
				})
				require.NoError(b, err)
			}
			_, err := w.svc.CommitSession(ctx, gateway.CommitSessionInput{WorkspaceID: "ws", UserID: user, AgentID: "a1", SessionID: session, Namespace: "team/support"})
			require.NoError(b, err)
		}
		w.drain(b)
		refs, err := w.svc.Reader(ctx).ListMemoryRefs(ctx, gateway.RefFilter{WorkspaceID: "ws"}, gateway.PageRequest{First: 100})
		require.NoError(b, err)
		for i, r := range refs.Items {
			if i%10 == 0 {
				_, err := w.svc.RecordMemoryFeedback(ctx, gateway.RecordFeedbackInput{WorkspaceID: "ws", UserID: r.UserID, AgentID: "a1", Namespace: "team/support",
					MemoryRefID: r.ID, FeedbackType: backendtype.FeedbackHelpful, Comment: "useful", SourceEventID: "fb-" + r.ID})
				require.NoError(b, err)
			}
		}
		_, err = db.ExecContext(ctx, "VACUUM ANALYZE")
		require.NoError(b, err)
		for _, table := range []string{"memory_refs", "audit_entries", "outbox_events", "commit_jobs", "memory_feedback", "sessions", "session_scopes", "local_memories"} {
			var rows, bytes int64
			require.NoError(b, db.NewRaw("SELECT count(*) FROM "+table).Scan(ctx, &rows))
			require.NoError(b, db.NewRaw("SELECT pg_total_relation_size(?)", table).Scan(ctx, &bytes))
			if rows > 0 {
				b.ReportMetric(float64(bytes)/float64(rows), table+"-B/row")
			}
		}
	}
}
