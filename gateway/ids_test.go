package gateway_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// Expected values were computed independently with Python's hashlib from the
// formulas in DESIGN §4.
func TestIdentifierFormulas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"basis from idempotency key", gateway.IdempotencyBasis("ws", "key-1", "slack", "ev-9", "s1", "t1"), "idempotency_key:ws:key-1"},
		{"basis from source event", gateway.IdempotencyBasis("ws", "", "slack", "ev-9", "s1", "t1"), "source_event_id:ws:slack:ev-9"},
		{"basis from turn", gateway.IdempotencyBasis("ws", "", "", "", "s1", "t1"), "turn:ws:s1:t1"},
		{"gateway id (key)", gateway.GatewayID("idempotency_key:ws:key-1"), "gw_14d0d90e443fd67a25199680"},
		{"gateway id (source event)", gateway.GatewayID("source_event_id:ws:slack:ev-9"), "gw_6cc4088a0c75743f8332ed52"},
		{"gateway id (turn)", gateway.GatewayID("turn:ws:s1:t1"), "gw_c7342a814868b1d815016923"},
		{"provenance id", gateway.ProvenanceID("gw_c7342a814868b1d815016923", "turn:ws:s1:t1"), "prov_3312b33d9b52516ce29b0a78"},
		{"ref id without native key", gateway.RefID("gw_c7342a814868b1d815016923", backendtype.BackendLocal, backendtype.RefTypeMessageMemory, "", "", ""), "ref_29a3651752c01508e4d59107"},
		{"ref id with native id", gateway.RefID("gw_c7342a814868b1d815016923", backendtype.BackendOpenViking, backendtype.RefTypeProfile, "n1", "", ""), "ref_4f33b406fbd9a7c051763b57"},
		{"ref id with stable key", gateway.RefID("gw_c7342a814868b1d815016923", backendtype.BackendEverMemOS, backendtype.RefTypeLongTermMemory, "", "", "produced_ref_index:0"), "ref_7de1c9a9cdb544d76b7f95b8"},
		{"commit id defaults to the session", gateway.CommitJobID("ws", "s1", "", ""), "gwc_5932aa065100528be9dbbbc8"},
		{"commit id from idempotency key", gateway.CommitJobID("ws", "s1", "k1", "r1"), "gwc_0cd846279077d2dc904cac7c"},
		{"commit id from request id", gateway.CommitJobID("ws", "s1", "", "r1"), "gwc_5fadac988ad5272633668ffe"},
		{"outbox event id", gateway.OutboxEventID("gwc_5932aa065100528be9dbbbc8", backendtype.BackendLocal, gateway.OperationCommitSession), "outbox_a7b498ebb761b1a15d475142"},
		{"content hash is full hex", backendtype.ContentHash("my favourite colour is blue"), "073289725804ba057c7bf25e2068d021aabfbc860a838a686b1a93bfc33584da"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.got, tt.name)
	}
}

func TestSessionNodeIDRoundTrip(t *testing.T) {
	t.Parallel()
	for _, pair := range [][2]string{{"ws", "s1"}, {"a.b/c", "x y.z"}, {"ünï", "😀"}} {
		id := gateway.SessionNodeID(pair[0], pair[1])
		ws, sess, ok := gateway.ParseSessionNodeID(id)
		require.True(t, ok, id)
		require.Equal(t, pair[0], ws)
		require.Equal(t, pair[1], sess)
	}
	for _, bad := range []string{"", "ses_", "ses_abc", "ses_.", "ref_x", "ses_!!.!!"} {
		_, _, ok := gateway.ParseSessionNodeID(bad)
		require.False(t, ok, bad)
	}
}

func TestAggregateRefStatus(t *testing.T) {
	t.Parallel()
	const (
		S = gateway.RefStatusSuccess
		F = gateway.RefStatusFailed
		K = gateway.RefStatusSkipped
		P = gateway.RefStatusPending
	)
	tests := []struct {
		statuses []gateway.RefStatus
		want     gateway.OperationStatus
	}{
		{nil, gateway.OperationSkipped},
		{[]gateway.RefStatus{S}, gateway.OperationSuccess},
		{[]gateway.RefStatus{S, S}, gateway.OperationSuccess},
		{[]gateway.RefStatus{S, F}, gateway.OperationPartialSuccess},
		{[]gateway.RefStatus{S, K}, gateway.OperationPartialSuccess},
		{[]gateway.RefStatus{F}, gateway.OperationFailed},
		{[]gateway.RefStatus{F, F}, gateway.OperationFailed},
		{[]gateway.RefStatus{F, K}, gateway.OperationPartialSuccess},
		{[]gateway.RefStatus{F, P}, gateway.OperationPartialSuccess},
		{[]gateway.RefStatus{K, K}, gateway.OperationSkipped},
		{[]gateway.RefStatus{P}, gateway.OperationPending},
		{[]gateway.RefStatus{S, P}, gateway.OperationPending},
		{[]gateway.RefStatus{K, P}, gateway.OperationPending},
	}
	for _, tt := range tests {
		refs := make([]gateway.MemoryRef, len(tt.statuses))
		for i, s := range tt.statuses {
			refs[i].Status = s
		}
		require.Equal(t, tt.want, gateway.AggregateRefStatus(refs), "%v", tt.statuses)
	}
}

func TestSafeMetadata(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"channel":      "slack",
		"content":      "secret turn text",
		"transcript":   []any{"a", "b"},
		"count":        3,
		"tags":         []any{"x", 1, map[string]any{"content": "nested"}, true},
		"nested":       map[string]any{"messages": []any{"m"}, "keep": "yes", "raw_request": map[string]any{"a": 1}},
		"only_blocked": map[string]any{"conversation": "c"},
		"fn":           func() {},
	}
	got := gateway.SafeMetadata(in)
	require.Equal(t, gateway.Metadata{
		"channel": "slack",
		"count":   3,
		"tags":    []any{"x", 1, true},
		"nested":  gateway.Metadata{"keep": "yes"},
	}, got)
}

func TestBackendResultMetadata(t *testing.T) {
	t.Parallel()
	got := gateway.BackendResultMetadata(map[string]any{
		"status":   "ok",
		"id":       "n1",
		"uri":      "viking://x",
		"content":  "echoed content",
		"abstract": "a summary of content",
		"metadata": map[string]any{"backend_request_id": "req-1", "text": "content again"},
		"error":    map[string]any{"message": "objects are not scalars"},
	})
	require.Equal(t, gateway.Metadata{"status": "ok", "id": "n1", "uri": "viking://x", "backend_request_id": "req-1"}, got)
}
