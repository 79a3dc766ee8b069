package gateway_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/maintenance"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// TestMemoryTTLExpiresThroughTheOutbox: memories past their TTL are deleted
// in their backends like accepted delete requests (refs DELETED, audited
// expire_memory); a memory its backend cannot delete (an EverMemOS raw
// message) is reported, never marked deleted; newer memories, other
// namespaces and other types stay. Two cleaners at once route each expiry
// once.
func TestMemoryTTLExpiresThroughTheOutbox(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		w := newErasureWorld(t, db, gateway.Config{})
		w.remember(t, "u1", "an old fact about tea")
		w.drain(t)
		w.advance(31 * 24 * time.Hour)
		w.remember(t, "u2", "a new fact about coffee")
		w.drain(t)

		store := persistence.NewStore(db)
		policy := gateway.RetentionPolicy{Default: gateway.RetentionRules{Memories: []gateway.MemoryTTL{
			{Namespace: "team", MemoryTypes: []backendtype.RefType{backendtype.RefTypeMessageMemory}, TTL: 30 * 24 * time.Hour},
		}}}
		var mu sync.Mutex
		expired := 0
		cleaners := make([]*maintenance.Service, 2)
		for i := range cleaners {
			var err error
			cleaners[i], err = maintenance.New(maintenance.Config{Policy: policy, BatchSize: 1}, store, w.svc,
				lifecycle.NewEnv(nil, func() time.Time { return time.Unix(0, w.now.Load()) }),
				maintenance.Hooks{Expired: func(n int) { mu.Lock(); expired += n; mu.Unlock() }})
			require.NoError(t, err)
		}
		var wg sync.WaitGroup
		for _, c := range cleaners {
			wg.Go(func() { require.NoError(t, c.RunOnce(ctx)) })
		}
		wg.Wait()
		// u1's old ingest refs: local and EverMemOS (message memories).
		require.Equal(t, 2, expired, "each expired memory routed once")
		require.Equal(t, 2, countWhere(t, db, "memory_feedback", "source_type = ?", gateway.SourceRetention))
		require.Equal(t, 2, countWhere(t, db, "audit_entries", "action = ?", gateway.AuditActionExpire))
		w.drain(t)

		require.Zero(t, countWhere(t, db, "local_memories", "user_id = ? AND committed_by IS NULL", "u1"), "the local turn is gone")
		require.Equal(t, 1, countWhere(t, db, "memory_refs", "user_id = ? AND backend = ? AND ref_type = ? AND status = ?",
			"u1", backendtype.BackendLocal, backendtype.RefTypeMessageMemory, gateway.RefStatusDeleted))
		require.Equal(t, 1, countWhere(t, db, "memory_feedback", "source_type = ? AND status = ?", gateway.SourceRetention, gateway.FeedbackUnsupported),
			"EverMemOS cannot delete a raw message: reported")
		require.Zero(t, countWhere(t, db, "memory_refs", "backend = ? AND status = ?", backendtype.BackendEverMemOS, gateway.RefStatusDeleted),
			"and never marked deleted")
		require.Zero(t, countWhere(t, db, "memory_refs", "user_id = ? AND status = ?", "u2", gateway.RefStatusDeleted), "newer memories stay")
		require.Positive(t, countWhere(t, db, "memory_refs", "user_id = ? AND ref_type <> ? AND status = ?", "u1", backendtype.RefTypeMessageMemory, gateway.RefStatusSuccess),
			"other types stay")

		// Nothing more to route.
		require.NoError(t, cleaners[0].RunOnce(ctx))
		require.Equal(t, 2, expired)
	})
}

// TestControlPlaneRetention: finished commit jobs with their events, audit
// entries and decided feedback past the window are deleted, per workspace
// over the default, in batches; what is younger, unfinished, or an erasure's
// stays.
func TestControlPlaneRetention(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		w := newErasureWorld(t, db, gateway.Config{})
		for _, u := range []string{"u1", "u2", "u3"} {
			w.remember(t, u, "fact of "+u)
		}
		w.drain(t)
		erasure := w.erase(t, "u3")
		w.drain(t)
		w.advance(10 * 24 * time.Hour)
		w.remember(t, "u4", "a recent fact")
		w.drain(t)
		jobsBefore := countWhere(t, db, "commit_jobs", "kind = ?", gateway.JobKindCommit)

		store := persistence.NewStore(db)
		deleted := map[string]int{}
		var mu sync.Mutex
		c, err := maintenance.New(maintenance.Config{
			Policy: gateway.RetentionPolicy{
				Default:    gateway.RetentionRules{ControlPlane: 7 * 24 * time.Hour},
				Workspaces: map[string]gateway.RetentionRules{"ws-other": {ControlPlane: time.Hour}},
			},
			BatchSize: 2,
		}, store, w.svc, lifecycle.NewEnv(nil, func() time.Time { return time.Unix(0, w.now.Load()) }),
			maintenance.Hooks{Deleted: func(table string, n int) { mu.Lock(); deleted[table] += n; mu.Unlock() }})
		require.NoError(t, err)
		require.NoError(t, c.RunOnce(ctx))

		require.Equal(t, 1, countWhere(t, db, "commit_jobs", "kind = ?", gateway.JobKindCommit), "only the recent commit stays")
		require.Equal(t, jobsBefore-1, deleted[maintenance.TableCommitJobs])
		require.Equal(t, 1, countWhere(t, db, "commit_jobs", "id = ?", erasure.Request.JobID), "the erasure's job is proof")
		require.Equal(t, 1, countWhere(t, db, "audit_entries", "action = ?", gateway.AuditActionErase))
		require.Zero(t, countWhere(t, db, "outbox_events", "job_id NOT IN (SELECT id FROM commit_jobs)"), "no event without its job")
		require.Positive(t, deleted[maintenance.TableOutboxEvents])
		require.Positive(t, deleted[maintenance.TableAuditEntries])
		require.Positive(t, countWhere(t, db, "audit_entries", "actor_user_id = ?", "u4"), "recent audit stays")
	})
}

// TestReservedSourceTypes: clients may not claim the source types the
// gateway sets itself — retention's in any form, mcp's outside the MCP edge
// — on feedback or turns; and feedback under retention's that was recorded
// before the reservation exempts no memory from its TTL.
func TestReservedSourceTypes(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		w := newErasureWorld(t, db, gateway.Config{})
		w.remember(t, "u1", "an old fact about tea")
		w.drain(t)
		var refID string
		require.NoError(t, db.NewSelect().Table("memory_refs").Column("id").
			Where("user_id = ? AND backend = ? AND ref_type = ?", "u1", backendtype.BackendLocal, backendtype.RefTypeMessageMemory).
			Scan(context.Background(), &refID))
		viaGraphQL := gateway.WithVia(context.Background(), gateway.ViaGraphQL)
		feedback := func(ctx context.Context, source string) error {
			_, err := w.svc.RecordMemoryFeedback(ctx, gateway.RecordFeedbackInput{
				WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Namespace: "team", MemoryRefID: refID,
				FeedbackType: backendtype.FeedbackHelpful, SourceType: source, SourceEventID: refID,
			})
			return err
		}
		for _, source := range []string{"retention", "Retention", "retention_policy", "mcp"} {
			err := feedback(viaGraphQL, source)
			var input *gateway.InputError
			require.ErrorAs(t, err, &input, source)
			require.Equal(t, "sourceType", input.Field)
			_, err = w.svc.IngestConversationTurn(viaGraphQL, gateway.IngestTurnInput{
				WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: "s-u1", TurnID: "t-" + source,
				Namespace: "team", Role: backendtype.RoleUser, Content: "x", SourceType: source,
			})
			require.ErrorAs(t, err, &input, source)
		}
		require.Zero(t, countWhere(t, db, "memory_feedback", "memory_ref_id = ?", refID), "nothing recorded")
		require.NoError(t, feedback(gateway.WithVia(context.Background(), gateway.ViaMCP), "mcp"), "the MCP edge's own")

		// A client's feedback under retention's source type, from before
		// the reservation, under the very id the policy once used.
		now := time.Unix(0, w.now.Load()).UTC()
		spoof := gateway.MemoryFeedback{
			ID: gateway.FeedbackID("ws", gateway.SourceRetention, refID), WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Namespace: "team",
			MemoryRefID: refID, FeedbackType: backendtype.FeedbackHelpful, Status: gateway.FeedbackAccepted,
			ReviewedBy: new(gateway.ReviewerAutoAccept), ReviewedAt: &now,
			SourceType: new(gateway.SourceRetention), SourceEventID: &refID, CreatedAt: now, UpdatedAt: now,
		}
		_, _, err := persistence.NewStore(db).SaveFeedback(context.Background(), spoof, gateway.FeedbackContent{}, pt.Audit(spoof.ID), nil)
		require.NoError(t, err)

		w.advance(31 * 24 * time.Hour)
		policy := gateway.RetentionPolicy{Default: gateway.RetentionRules{Memories: []gateway.MemoryTTL{
			{Namespace: "team", MemoryTypes: []backendtype.RefType{backendtype.RefTypeMessageMemory}, TTL: 30 * 24 * time.Hour},
		}}}
		cleaner, err := maintenance.New(maintenance.Config{Policy: policy, BatchSize: 10}, persistence.NewStore(db), w.svc,
			lifecycle.NewEnv(nil, func() time.Time { return time.Unix(0, w.now.Load()) }), maintenance.Hooks{})
		require.NoError(t, err)
		require.NoError(t, cleaner.RunOnce(context.Background()))
		w.drain(t)
		require.Equal(t, 1, countWhere(t, db, "memory_refs", "id = ? AND status = ?", refID, gateway.RefStatusDeleted),
			"the spoofed feedback exempted nothing: the memory expired")
	})
}
