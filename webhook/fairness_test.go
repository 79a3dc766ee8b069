package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/webhook"
)

// TestASlowWorkspaceHoldsItsShare: one workspace's endpoint keeps every
// request waiting, and its deliveries are the oldest; it holds at most its
// share of the senders, and another workspace's deliveries all go out while
// it waits. The test waits on the receivers and the store, never on time.
func TestASlowWorkspaceHoldsItsShare(t *testing.T) {
	t.Parallel()
	const senders, share, slowN, fastN = 4, 2, 10, 3
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			entered := make(chan struct{}, slowN)
			release := make(chan struct{})
			slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}))
			t.Cleanup(slow.Close)
			fast := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			t.Cleanup(fast.Close)

			store := openStore(t, d)
			insertEndpoint(t, store, "whk_slow", "slow", slow.URL)
			insertEndpoint(t, store, "whk_fast", "fast", fast.URL)
			feedbackHooks(t, store, "slow", slowN, pt.BaseTime)
			feedbackHooks(t, store, "fast", fastN, pt.BaseTime.Add(time.Minute))

			guard, err := webhook.ParseAllowList("127.0.0.1")
			require.NoError(t, err)
			recording := announcingStore{Store: store, recorded: make(chan gateway.WebhookAttempt, slowN+fastN)}
			disp, err := webhook.New(recording, guard, webhook.Config{Schedule: []time.Duration{time.Hour}, Timeout: time.Hour,
				PollInterval: 5 * time.Millisecond, Concurrency: senders, WorkspaceConcurrency: share}, lifecycle.Env{}, webhook.Hooks{})
			require.NoError(t, err)
			require.NoError(t, disp.Start(context.Background()))
			t.Cleanup(func() {
				close(release)
				require.NoError(t, disp.Stop(context.Background()))
			})

			waiting, delivered := 0, 0
			for delivered < fastN {
				select {
				case <-entered:
					waiting++
					require.LessOrEqual(t, waiting, share, "the slow workspace holds more than its share of the senders")
				case a := <-recording.recorded:
					// A delivery's id ends with its endpoint's.
					require.True(t, strings.HasSuffix(a.DeliveryID, "fast"), "only the fast workspace's deliveries end while the slow one waits: %s", a.DeliveryID)
					require.Equal(t, gateway.WebhookSuccess, a.Status)
					delivered++
				}
			}
			page, err := store.ListWebhookDeliveries(context.Background(), gateway.WebhookDeliveryFilter{WorkspaceID: "fast", Status: gateway.WebhookSuccess},
				gateway.PageRequest{First: 10})
			require.NoError(t, err)
			require.Len(t, page.Items, fastN, "every delivery of the other workspace went out while the slow one waited")
		})
	}
}
