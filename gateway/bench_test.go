package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// BenchmarkRetrieveFanout queries three backends that answer after 20, 80
// and 150 ms and reports the gateway's latency as a multiple of the slowest
// backend (the ideal is 1.0):
//
//	go test -run '^$' -bench RetrieveFanout ./gateway
func BenchmarkRetrieveFanout(b *testing.B) {
	db := pt.Open(b, pt.SQLite)
	items := func(prefix string) []backendtype.RetrievedItem {
		out := make([]backendtype.RetrievedItem, 10)
		for i := range out {
			out[i] = backendtype.RetrievedItem{Text: fmt.Sprintf("%s memory %d", prefix, i), Score: float64(10 - i), NativeID: fmt.Sprintf("%s-%d", prefix, i)}
		}
		return out
	}
	backends := []backendtype.BackendAdapter{
		&fakeBackend{name: backendtype.BackendLocal, delay: 20 * time.Millisecond, items: items("local")},
		&fakeBackend{name: backendtype.BackendOpenViking, delay: 80 * time.Millisecond, items: items("ov")},
		&fakeBackend{name: backendtype.BackendEverMemOS, delay: 150 * time.Millisecond, items: items("em")},
	}
	svc, err := gateway.NewService(gateway.Options{Store: storeOf(db), Backends: backends, Anonymous: &gateway.DevPrincipal})
	if err != nil {
		b.Fatal(err)
	}
	in := gateway.RetrieveContextInput{WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Query: "memory", Limit: 20}
	var total time.Duration
	for b.Loop() {
		started := time.Now()
		res, err := svc.RetrieveContext(context.Background(), in)
		total += time.Since(started)
		if err != nil || len(res.Items) != 20 {
			b.Fatalf("retrieve: %v (%d items)", err, len(res.Items))
		}
	}
	mean := total / time.Duration(b.N)
	b.ReportMetric(float64(mean.Microseconds())/1000, "ms/retrieve")
	b.ReportMetric(float64(mean)/float64(150*time.Millisecond), "x-slowest")
}
