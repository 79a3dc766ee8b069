package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// seedRemoteRefs records refs of u1 for memories a remote fake holds.
func seedRemoteRefs(t testing.TB, store *persistence.Store, backend backendtype.Backend, refType backendtype.RefType, ids, uris []string) {
	t.Helper()
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	refs := make([]gateway.MemoryRef, 0, max(len(ids), len(uris)))
	for i := range max(len(ids), len(uris)) {
		var id, uri *string
		if i < len(ids) {
			id = &ids[i]
		}
		if i < len(uris) {
			uri = &uris[i]
		}
		gw := fmt.Sprintf("gwc_seed_%s_%06d", backend, i)
		refs = append(refs, gateway.MemoryRef{
			ID: gateway.RefID(gw, backend, refType, deref(id), deref(uri), ""), GatewayID: gw, ProvenanceID: "prov_" + gw,
			WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: "big", Namespace: "team", Backend: backend, RefType: refType,
			Status: gateway.RefStatusSuccess, NativeID: id, NativeURI: uri, JobID: &gw, CreatedAt: at, UpdatedAt: at,
		})
	}
	for start := 0; start < len(refs); start += 1000 {
		require.NoError(t, store.SaveIngest(context.Background(), refs[start:min(len(refs), start+1000)], pt.Audit("seed-"+string(backend)+fmt.Sprint(start))))
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// seedThreeBackends gives u1 n refs split over the three backends, with the
// memories they name.
func seedThreeBackends(b *testing.B, w *erasureWorld, n int) {
	store := persistence.NewStore(w.db)
	third := n / 3
	seedSubject(b, w.db, store, n-2*third, "a local memory")
	seedRemoteRefs(b, store, backendtype.BackendOpenViking, backendtype.RefTypePreference, nil, w.ov.SeedMemories("ws", "u1", third))
	seedRemoteRefs(b, store, backendtype.BackendEverMemOS, backendtype.RefTypeEpisodicMemory, w.em.SeedEpisodes("ws:u1", third), nil)
}

// BenchmarkEraseSubject: erasing a subject with 10,000 refs across the three
// backends (fakes) with one erasure, against deleting the same memories one
// DELETE_REQUEST at a time. Reported: wall time and SQL statements per
// subject.
func BenchmarkEraseSubject(b *testing.B) {
	const n = 10_000
	for _, d := range pt.Dialects() {
		for _, how := range []string{"erasure", "delete-requests"} {
			b.Run(string(d)+"/"+how, func(b *testing.B) {
				var total time.Duration
				var statements int64
				for range b.N {
					b.StopTimer()
					db := pt.Open(b, d)
					counter := &persistence.QueryCounter{}
					db.AddQueryHook(counter)
					policy := gateway.FeedbackPolicy{Default: []backendtype.FeedbackType{backendtype.FeedbackDeleteRequest}}
					w := newErasureWorldWith(b, db, gateway.Config{}, &policy)
					seedThreeBackends(b, w, n)
					counter.Reset()
					started := time.Now()
					b.StartTimer()
					if how == "erasure" {
						w.erase(b, "u1")
						w.drain(b)
					} else {
						deleteOneByOne(b, w)
					}
					b.StopTimer()
					total += time.Since(started)
					statements += counter.Count()
					require.Zero(b, countWhere(b, db, "memory_refs", "user_id = ? AND status <> ?", "u1", gateway.RefStatusDeleted), "everything deleted")
				}
				b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/subject")
				b.ReportMetric(float64(statements)/float64(b.N), "statements/subject")
			})
		}
	}
}

// deleteOneByOne records an (auto-accepted) delete request on every ref of
// u1, then drains the outbox.
func deleteOneByOne(b *testing.B, w *erasureWorld) {
	ctx := context.Background()
	var after *string
	for {
		page, err := w.svc.Reader(ctx).ListMemoryRefs(ctx, gateway.RefFilter{WorkspaceID: "ws", UserID: "u1"}, gateway.PageRequest{First: 100, After: cursorOf(after)})
		require.NoError(b, err)
		for _, r := range page.Items {
			_, err := w.svc.RecordMemoryFeedback(ctx, gateway.RecordFeedbackInput{
				WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Namespace: "team", MemoryRefID: r.ID,
				FeedbackType: backendtype.FeedbackDeleteRequest, SourceEventID: "del-" + r.ID,
			})
			require.NoError(b, err)
		}
		if !page.HasNextPage {
			break
		}
		last := page.Items[len(page.Items)-1]
		key := last.CreatedAt.Format(time.RFC3339Nano) + "|" + last.ID
		after = &key
	}
	w.drain(b)
}

func cursorOf(key *string) *gateway.Cursor {
	if key == nil {
		return nil
	}
	at, id, _ := strings.Cut(*key, "|")
	t, _ := time.Parse(time.RFC3339Nano, at)
	return &gateway.Cursor{CreatedAt: t, ID: id}
}
