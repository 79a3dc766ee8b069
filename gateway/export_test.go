package gateway_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backends/local/localtest"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// seedSubject writes n turns of u1 straight into the local backend's table
// and their refs into the control plane, in batches.
func seedSubject(t testing.TB, db *persistence.DB, store *persistence.Store, n int, text string) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	_, err := store.ClaimSession(ctx, gateway.SessionClaim{WorkspaceID: "ws", SessionID: "big", UserID: "u1", AgentID: "a1", Namespace: "team", At: now})
	require.NoError(t, err)
	const batch = 1000
	for start := 0; start < n; start += batch {
		rows := make([]localtest.Row, 0, batch)
		refs := make([]gateway.MemoryRef, 0, batch)
		for i := start; i < min(n, start+batch); i++ {
			turn := fmt.Sprintf("t%06d", i)
			content := fmt.Sprintf("%s %d", text, i)
			gw := gateway.GatewayID("turn:ws:big:" + turn)
			id := fmt.Sprintf("lm_%06d", i)
			at := now.Add(time.Duration(i) * time.Millisecond)
			rows = append(rows, localtest.Row{ID: id, GatewayID: gw, WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: "big", Namespace: "team",
				TurnID: turn, Role: "user", Content: content, ContentHash: backendtype.ContentHash(content), State: "active", CreatedAt: at, UpdatedAt: at})
			refs = append(refs, gateway.MemoryRef{
				ID: gateway.RefID(gw, backendtype.BackendLocal, backendtype.RefTypeMessageMemory, "", "", ""), GatewayID: gw, ProvenanceID: "prov_" + id,
				WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: "big", TurnID: &turn, Namespace: "team",
				Backend: backendtype.BackendLocal, RefType: backendtype.RefTypeMessageMemory, Status: gateway.RefStatusSuccess, NativeID: &id,
				CreatedAt: at, UpdatedAt: at,
			})
		}
		_, err := db.NewInsert().Model(&rows).Exec(ctx)
		require.NoError(t, err)
		require.NoError(t, store.SaveIngest(ctx, refs, pt.Audit(fmt.Sprintf("seed%d", start))))
	}
}

// TestExportStreamsWithBoundedMemory: exporting a subject with 10,000 refs
// and 10,000 memories of 2 KB (about 20 MB of text) keeps the live heap
// within a few pages, whatever the subject's size. The heap is the
// process's: the test and its stores run one at a time, never beside
// parallel tests, whose allocations would count.
func TestExportStreamsWithBoundedMemory(t *testing.T) {
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) { exportStreamsWithBoundedMemory(t, pt.Open(t, d)) })
	}
}

func exportStreamsWithBoundedMemory(t *testing.T, db *persistence.DB) {
	store := persistence.NewStore(db)
	text := strings.Repeat("the quick brown fox remembers ", 68) // ~2 KB
	const n = 10_000
	seedSubject(t, db, store, n, text)
	svc, err := gateway.NewService(gateway.Options{Anonymous: &gateway.DevPrincipal, Store: store, Backends: []backendtype.BackendAdapter{local.New(db.DB, nil)}})
	require.NoError(t, err)

	liveHeap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := liveHeap()
	var peak uint64
	refs, memories, bytes := 0, 0, 0
	err = svc.ExportSubject(context.Background(), gateway.ExportInput{WorkspaceID: "ws", UserID: "u1"}, func(l gateway.ExportLine) error {
		switch l.Type {
		case "ref":
			refs++
		case "memory":
			memories++
			bytes += len(l.Memory.Text)
		}
		if (refs+memories)%2500 == 0 {
			peak = max(peak, liveHeap())
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, n, refs)
	require.Equal(t, n, memories)
	require.Greater(t, bytes, 19<<20)
	growth := int64(peak) - int64(base)
	t.Logf("exported %d refs and %d memories (%d MB of text); live heap grew by %.1f MB at most", refs, memories, bytes>>20, float64(growth)/(1<<20))
	require.Less(t, growth, int64(8<<20), "the export is not held in memory")
}
