package webhook_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/webhook"
)

// TestTwoSendersShareTheDeliveries: two dispatchers on one database (two
// pools on PostgreSQL, as two processes would have) send every delivery,
// each exactly once while no lease runs out, and record every outcome.
func TestTwoSendersShareTheDeliveries(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			url := pt.URL(t, d)
			var mu sync.Mutex
			received := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				received[r.Header.Get(webhook.HeaderID)]++
				mu.Unlock()
			}))
			t.Cleanup(srv.Close)

			ctx := context.Background()
			var stores []*persistence.Store
			for range 2 {
				db, err := persistence.Open(ctx, url)
				require.NoError(t, err)
				t.Cleanup(func() { _ = db.Close() })
				require.NoError(t, db.Migrate(ctx, slog.New(slog.DiscardHandler)))
				stores = append(stores, persistence.NewStore(db))
			}
			store := stores[0]
			endpoint := gateway.WebhookEndpoint{ID: "whk_two", WorkspaceID: "ws", URL: srv.URL, Enabled: true,
				Events: []gateway.WebhookEventType{gateway.WebhookFeedbackReceived}, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				CreatedAt: pt.BaseTime, UpdatedAt: pt.BaseTime}
			require.NoError(t, store.InsertWebhookEndpoint(ctx, endpoint, 10, pt.Audit(endpoint.ID)))
			ref := pt.Ref()
			require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
			const n = 60
			for i := range n {
				fb := gateway.MemoryFeedback{ID: fmt.Sprintf("fb_two_%d", i), WorkspaceID: "ws", UserID: "user", AgentID: "agent",
					Namespace: "team", MemoryRefID: ref.ID, FeedbackType: backendtype.FeedbackHelpful, Status: gateway.FeedbackReceived,
					CreatedAt: pt.BaseTime, UpdatedAt: pt.BaseTime}
				_, _, err := store.SaveFeedback(ctx, fb, gateway.FeedbackContent{}, pt.Audit(ref.ID), nil)
				require.NoError(t, err)
			}

			guard, err := webhook.ParseAllowList("127.0.0.1")
			require.NoError(t, err)
			for _, s := range stores {
				disp, err := webhook.New(s, guard, webhook.Config{PollInterval: 5 * time.Millisecond, BatchSize: 4, Concurrency: 4}, lifecycle.Env{}, webhook.Hooks{})
				require.NoError(t, err)
				require.NoError(t, disp.Start(ctx))
				t.Cleanup(func() { require.NoError(t, disp.Stop(context.Background())) })
			}
			require.Eventually(t, func() bool {
				page, err := store.ListWebhookDeliveries(ctx, gateway.WebhookDeliveryFilter{Status: gateway.WebhookSuccess}, gateway.PageRequest{First: 100})
				return err == nil && len(page.Items) == n
			}, 60*time.Second, 10*time.Millisecond, "every delivery succeeds")
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, received, n)
			for id, times := range received {
				require.Equal(t, 1, times, "%s was sent once", id)
			}
		})
	}
}
