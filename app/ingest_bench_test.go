package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// BenchmarkIngestTurn is one ingestConversationTurn through the whole HTTP
// stack of a serving process (middleware, GraphQL, the service, the local
// backend and the store), in process and without a network, so its CPU and
// allocations per turn are the server's own. On SQLite, and on PostgreSQL
// when TEST_DATABASE_URL is set:
//
//	go test -run '^$' -bench IngestTurn -benchmem ./app
func BenchmarkIngestTurn(b *testing.B) {
	for _, d := range pt.Dialects() {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			cfg, err := parseConfig("serve", nil, func(k string) string {
				return map[string]string{"DATABASE_URL": pt.URL(b, d), "RATE_LIMIT_INGEST": "0"}[k]
			}, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			a, err := buildApp(ctx, cfg, discardLogger(), role{api: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = a.stop(context.WithoutCancel(ctx)) })
			if err := a.start(ctx); err != nil {
				b.Fatal(err)
			}
			const mutation = `mutation($in: IngestConversationTurnInput!) { ingestConversationTurn(input: $in) { status gatewayId refs { id status } } }`
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				body, _ := json.Marshal(map[string]any{"query": mutation, "variables": map[string]any{"in": map[string]any{
					"workspaceId": "bench", "userId": "u", "agentId": "a", "sessionId": "s", "namespace": "bench/ingest",
					"turnId": fmt.Sprintf("t%d", i), "role": "USER",
					"content": fmt.Sprintf("Turn %d: remember that my favourite colour is blue and that I prefer green tea over coffee in the morning.", i),
				}}})
				req := httptest.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				a.handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"SUCCESS"`)) {
					b.Fatalf("ingest %d: %d %s", i, rec.Code, rec.Body.String())
				}
			}
		})
	}
}
