package gateway_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// TestChangesFireTheirWebhookEvents: which change fires which webhook event,
// with what key and data — decided by the domain, whatever store records
// the change.
func TestChangesFireTheirWebhookEvents(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	finished := at.Add(-time.Second)
	jobID, code := "gwc_1", "lease_expired"
	type fired struct {
		typ  gateway.WebhookEventType
		key  string
		data map[string]any
	}
	for _, tc := range []struct {
		name    string
		changes gateway.Changes
		want    []fired
	}{
		{name: "nothing", changes: gateway.Changes{At: at}},
		{
			name: "a job still running",
			changes: gateway.Changes{At: at, Jobs: []gateway.CommitJob{
				{ID: "gwc_1", WorkspaceID: "ws", Status: gateway.JobRunning},
				{ID: "gwc_2", WorkspaceID: "ws", Status: gateway.JobSuccess}, // terminal, but no finish time
			}},
		},
		{
			name: "a commit finished",
			changes: gateway.Changes{At: at, Jobs: []gateway.CommitJob{
				{ID: "gwc_1", WorkspaceID: "ws", SessionID: "s1", Kind: gateway.JobKindCommit, Status: gateway.JobPartialSuccess, CreatedRefsCount: 3, FinishedAt: &finished},
			}},
			want: []fired{{gateway.WebhookJobFinished, "job_finished:gwc_1:" + finished.Format(time.RFC3339Nano),
				map[string]any{"jobId": "gwc_1", "kind": "COMMIT", "status": "PARTIAL_SUCCESS", "createdRefsCount": 3, "sessionId": "s1"}}},
		},
		{
			name: "an erasure finished",
			changes: gateway.Changes{At: at, Jobs: []gateway.CommitJob{
				{ID: "gwe_1", WorkspaceID: "ws", Kind: gateway.JobKindErasure, Status: gateway.JobSuccess, FinishedAt: &finished,
					Metadata: gateway.Metadata{"erasure_id": "era_1"}},
			}},
			want: []fired{
				{gateway.WebhookJobFinished, "job_finished:gwe_1:" + finished.Format(time.RFC3339Nano),
					map[string]any{"jobId": "gwe_1", "kind": "ERASURE", "status": "SUCCESS", "createdRefsCount": 0}},
				{gateway.WebhookErasureFinished, "erasure_finished:era_1:" + finished.Format(time.RFC3339Nano),
					map[string]any{"erasureRequestId": "era_1", "jobId": "gwe_1", "status": "COMPLETED"}},
			},
		},
		{
			name: "refs retired",
			changes: gateway.Changes{At: at, RetiredRefs: []gateway.MemoryRef{
				{ID: "ref_1", WorkspaceID: "ws", Backend: backendtype.BackendLocal, RefType: backendtype.RefTypeLongTermMemory, Status: gateway.RefStatusSuperseded, SupersededByRefID: new("ref_2")},
				{ID: "ref_3", WorkspaceID: "ws", Backend: backendtype.BackendLocal, RefType: backendtype.RefTypeLongTermMemory, Status: gateway.RefStatusDeleted},
				{ID: "ref_4", WorkspaceID: "ws", Backend: backendtype.BackendLocal, RefType: backendtype.RefTypeLongTermMemory, Status: gateway.RefStatusSuccess},
			}},
			want: []fired{
				{gateway.WebhookMemorySuperseded, "memory_superseded:ref_1",
					map[string]any{"memoryRefId": "ref_1", "backend": "LOCAL", "refType": "LONG_TERM_MEMORY", "status": "SUPERSEDED", "supersededByRefId": "ref_2"}},
				{gateway.WebhookMemoryDeleted, "memory_deleted:ref_3",
					map[string]any{"memoryRefId": "ref_3", "backend": "LOCAL", "refType": "LONG_TERM_MEMORY", "status": "DELETED"}},
			},
		},
		{
			name: "an outbox event dead-lettered",
			changes: gateway.Changes{At: at, DeadLettered: []gateway.OutboxEvent{
				{ID: "obx_1", WorkspaceID: "ws", JobID: &jobID, Backend: backendtype.BackendEverMemOS, Operation: gateway.OperationCommitSession,
					AttemptCount: 5, ClaimCount: 6, LastErrorCode: &code},
			}},
			want: []fired{{gateway.WebhookOutboxDeadLettered, "outbox_dead_letter:obx_1:6",
				map[string]any{"outboxEventId": "obx_1", "backend": "EVERMEMOS", "operation": "COMMIT_SESSION", "attemptCount": 5, "jobId": "gwc_1", "errorCode": "lease_expired"}}},
		},
		{
			name: "feedback recorded",
			changes: gateway.Changes{At: at, Feedback: []gateway.MemoryFeedback{
				{ID: "fb_1", WorkspaceID: "ws", MemoryRefID: "ref_1", FeedbackType: backendtype.FeedbackCorrection, Status: gateway.FeedbackReceived, SourceType: new("chat"), CreatedAt: finished},
			}},
			want: []fired{{gateway.WebhookFeedbackReceived, "feedback_received:fb_1",
				map[string]any{"feedbackId": "fb_1", "memoryRefId": "ref_1", "feedbackType": "CORRECTION", "status": "RECEIVED", "sourceType": "chat"}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Data is compared as the payload carries it: as JSON.
			asJSON := func(data map[string]any) map[string]any {
				b, err := json.Marshal(data)
				require.NoError(t, err)
				var out map[string]any
				require.NoError(t, json.Unmarshal(b, &out))
				return out
			}
			var want, got []fired
			for _, f := range tc.want {
				want = append(want, fired{f.typ, f.key, asJSON(f.data)})
			}
			for _, ev := range tc.changes.WebhookEvents() {
				require.Equal(t, "ws", ev.WorkspaceID)
				require.False(t, ev.At.IsZero())
				got = append(got, fired{ev.Type, ev.Key, asJSON(ev.Data)})
			}
			require.Equal(t, want, got)
		})
	}
}
