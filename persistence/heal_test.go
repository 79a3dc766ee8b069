package persistence_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// failedWrite is a FAILED ingest ref of backend in workspace ws and, when
// healing, its INGEST_TURN event (the ref names it).
func failedWrite(ws string, backend backendtype.Backend, healing bool) (gateway.MemoryRef, []gateway.OutboxEvent) {
	ref := pt.Ref(func(r *gateway.MemoryRef) {
		r.WorkspaceID, r.Backend, r.Status, r.ErrorMessage = ws, backend, gateway.RefStatusFailed, ptr("connection refused")
		r.ID = gateway.RefID(r.GatewayID, backend, r.RefType, "", "", "")
	})
	if !healing {
		return ref, nil
	}
	id := gateway.OutboxEventID(ref.GatewayID, backend, gateway.OperationIngestTurn)
	ref.OutboxEventID = &id
	return ref, []gateway.OutboxEvent{{
		ID: id, GatewayID: ref.GatewayID, WorkspaceID: ws, UserID: ref.UserID, AgentID: ref.AgentID,
		SessionID: ref.SessionID, Namespace: ref.Namespace, Backend: backend, Operation: gateway.OperationIngestTurn,
		Status: gateway.OutboxPending, MaxAttempts: 3, NextRetryAt: ref.CreatedAt, Metadata: gateway.Metadata{"ref_id": ref.ID},
		CreatedAt: ref.CreatedAt, UpdatedAt: ref.CreatedAt,
	}}
}

func TestStoreIngestHeals(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		ov := backendtype.BackendOpenViking

		// Concurrent ingests share transactions (group commit): every heal
		// lands with its refs.
		const writers = 8
		refs := make([]gateway.MemoryRef, writers)
		var wg sync.WaitGroup
		for i := range writers {
			ref, heals := failedWrite("heal-ws", ov, true)
			refs[i] = ref
			wg.Go(func() {
				require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID), heals...))
			})
		}
		wg.Wait()
		counts, err := store.IngestHealCounts(ctx, gateway.RefFilter{WorkspaceID: "heal-ws"})
		require.NoError(t, err)
		require.Equal(t, gateway.IngestHealCount{Backend: ov, Failed: writers, Healing: writers}, counts[ov])

		// The turn failing again keeps its event as it is.
		first := refs[0]
		stored, err := store.OutboxEventsByIDs(ctx, []string{*first.OutboxEventID})
		require.NoError(t, err)
		require.Len(t, stored, 1)
		require.Nil(t, stored[0].JobID)
		_, heals := failedWrite("heal-ws", ov, true)
		heals[0].ID, heals[0].GatewayID, heals[0].NextRetryAt = *first.OutboxEventID, first.GatewayID, first.CreatedAt.Add(time.Hour)
		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{first}, pt.Audit(first.ID), heals...))
		again, err := store.OutboxEventsByIDs(ctx, []string{*first.OutboxEventID})
		require.NoError(t, err)
		require.Equal(t, stored[0].NextRetryAt, again[0].NextRetryAt)

		// A failure nothing can heal, and another workspace's.
		unhealable, _ := failedWrite("heal-ws", ov, false)
		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{unhealable}, pt.Audit(unhealable.ID)))
		elsewhere, heals := failedWrite("heal-other", ov, true)
		require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{elsewhere}, pt.Audit(elsewhere.ID), heals...))

		// A heal is claimed and completed like any event (it has no job):
		// one writes its ref SUCCESS, one gives up.
		now := pt.BaseTime.Add(24 * time.Hour)
		batch, err := store.ClaimOutboxEvents(ctx, gateway.ClaimRequest{
			WorkerID: "w", Backend: ov, WorkspaceID: "heal-ws", Limit: 2, Now: now, LeaseUntil: now.Add(time.Minute),
		})
		require.NoError(t, err)
		require.Len(t, batch.Events, 2)
		require.Empty(t, batch.StartedJobs)
		byEvent := map[string]gateway.MemoryRef{}
		for _, r := range refs {
			byEvent[*r.OutboxEventID] = r
		}
		healed := byEvent[batch.Events[0].ID]
		healed.Status, healed.ErrorMessage, healed.NativeID, healed.UpdatedAt = gateway.RefStatusSuccess, nil, ptr("ov-1"), now
		res, err := store.CompleteOutboxEvents(ctx, []gateway.OutboxCompletion{
			{EventID: batch.Events[0].ID, Backend: ov, Operation: gateway.OperationIngestTurn, FenceWorker: "w", FenceClaim: batch.Events[0].ClaimCount,
				Status: gateway.OutboxSuccess, AttemptCount: 1, NextRetryAt: now, CompletedAt: &now, Metadata: gateway.Metadata{}, Refs: []gateway.MemoryRef{healed}},
			{EventID: batch.Events[1].ID, Backend: ov, Operation: gateway.OperationIngestTurn, FenceWorker: "w", FenceClaim: batch.Events[1].ClaimCount,
				Status: gateway.OutboxDeadLetter, AttemptCount: 1, NextRetryAt: now, CompletedAt: &now, Metadata: gateway.Metadata{},
				LastError: ptr("HTTP 400"), LastErrorCode: ptr("bad_request")},
		}, now)
		require.NoError(t, err)
		require.Len(t, res.Applied, 2)
		got, err := store.MemoryRefsByIDs(ctx, []string{healed.ID})
		require.NoError(t, err)
		require.Equal(t, gateway.RefStatusSuccess, got[0].Status)

		counts, err = store.IngestHealCounts(ctx, gateway.RefFilter{WorkspaceID: "heal-ws"})
		require.NoError(t, err)
		require.Equal(t, gateway.IngestHealCount{Backend: ov, Failed: writers, Healing: writers - 2, DeadLettered: 1, Unhealable: 1}, counts[ov])
		all, err := store.IngestHealCounts(ctx, gateway.RefFilter{})
		require.NoError(t, err)
		require.Equal(t, writers+1, all[ov].Failed, "every workspace's")
		scoped, err := store.IngestHealCounts(ctx, gateway.RefFilter{Scope: gateway.ReadScope{Restricted: true, WorkspaceID: "heal-other"}})
		require.NoError(t, err)
		require.Equal(t, gateway.IngestHealCount{Backend: ov, Failed: 1, Healing: 1}, scoped[ov], "only what the caller reaches")

		// Retention deletes finished heals (they have no job), not pending
		// ones; the dead letter's ref then counts as unhealable.
		_, events, err := store.DeleteFinishedJobs(ctx, gateway.WorkspaceSet{Only: "heal-ws"}, now.Add(time.Hour), 100)
		require.NoError(t, err)
		require.Equal(t, 2, events)
		counts, err = store.IngestHealCounts(ctx, gateway.RefFilter{WorkspaceID: "heal-ws"})
		require.NoError(t, err)
		require.Equal(t, gateway.IngestHealCount{Backend: ov, Failed: writers, Healing: writers - 2, Unhealable: 2}, counts[ov])
	})
}
