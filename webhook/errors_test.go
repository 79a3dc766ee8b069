package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
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

// announcingStore tells the test of every attempt it records.
type announcingStore struct {
	*persistence.Store
	recorded chan gateway.WebhookAttempt
}

func (s announcingStore) CompleteWebhookDelivery(ctx context.Context, a gateway.WebhookAttempt) (gateway.WebhookAttemptResult, error) {
	res, err := s.Store.CompleteWebhookDelivery(ctx, a)
	if err == nil && res.Landed {
		s.recorded <- a
	}
	return res, err
}

// tableResolver answers names from a table; any other name fails the way a
// resolver does, naming the resolver's address.
type tableResolver map[string][]netip.Addr

func (r tableResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ips, ok := r[host]; ok {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, Server: "10.0.0.53:53", IsNotFound: true}
}

// loopbackOnly connects to loopback addresses only: the tests' traffic stays
// on this machine whatever the guard lets through.
func loopbackOnly(t *testing.T) webhook.DialFunc {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
			t.Errorf("a connection to %s was attempted", address)
			return nil, errors.New("test: loopback only")
		}
		return (&net.Dialer{}).DialContext(ctx, network, address)
	}
}

// syncBuffer is a log sink safe for the dispatcher's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openStore opens a migrated store of dialect d, private to t.
func openStore(t *testing.T, d pt.Dialect) *persistence.Store {
	t.Helper()
	return persistence.NewStore(pt.Open(t, d))
}

// feedbackHooks writes n changes in workspace ws, each delivered to every
// endpoint of ws that takes FEEDBACK_RECEIVED; the changes of one call are
// written at the time given, in order.
func feedbackHooks(t *testing.T, store *persistence.Store, ws string, n int, at time.Time) {
	t.Helper()
	ctx := context.Background()
	ref := pt.Ref(func(r *gateway.MemoryRef) { r.WorkspaceID = ws })
	require.NoError(t, store.SaveIngest(ctx, []gateway.MemoryRef{ref}, pt.Audit(ref.ID)))
	for i := range n {
		fb := gateway.MemoryFeedback{ID: fmt.Sprintf("fb_%s_%d", ws, i), WorkspaceID: ws, UserID: ref.UserID, AgentID: ref.AgentID,
			Namespace: ref.Namespace, MemoryRefID: ref.ID, FeedbackType: backendtype.FeedbackHelpful, Status: gateway.FeedbackReceived,
			CreatedAt: at.Add(time.Duration(i) * time.Millisecond), UpdatedAt: at}
		_, _, err := store.SaveFeedback(ctx, fb, gateway.FeedbackContent{}, pt.Audit(ref.ID), nil)
		require.NoError(t, err)
	}
}

func insertEndpoint(t *testing.T, store *persistence.Store, id, ws, url string) {
	t.Helper()
	e := gateway.WebhookEndpoint{ID: id, WorkspaceID: ws, URL: url, Enabled: true,
		Events: []gateway.WebhookEventType{gateway.WebhookFeedbackReceived}, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		CreatedAt: pt.BaseTime, UpdatedAt: pt.BaseTime}
	require.NoError(t, store.InsertWebhookEndpoint(context.Background(), e, gateway.WebhookEndpointsPerWorkspaceMax, pt.Audit(id)))
}

// TestFailedDeliveriesLookAlike: whatever went wrong on the network — the
// name did not resolve, the port refused, the connection was reset, nothing
// answered in time, or something answered other than 2xx — the delivery
// records the same lastError, no status code, and no address (neither the
// destination's nor the resolver's): a tenant's admin cannot tell a closed
// port from an open one. A refused destination is named, without where it
// resolved. The server's log keeps the detail.
func TestFailedDeliveriesLookAlike(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			closed, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			closedAddr := closed.Addr().String()
			require.NoError(t, closed.Close())

			resetting := acceptLoop(t, func(c net.Conn) {
				_ = c.(*net.TCPConn).SetLinger(0) // close with a reset
				_ = c.Close()
			})
			release := make(chan struct{})
			silent := acceptLoop(t, func(c net.Conn) {
				<-release
				_ = c.Close()
			})
			t.Cleanup(func() { close(release) })
			failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
			}))
			t.Cleanup(failing.Close)
			redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
			}))
			t.Cleanup(redirecting.Close)

			cases := map[string]string{
				"whk_dns":      "http://nx.test/hook",
				"whk_refused":  "http://" + closedAddr + "/hook",
				"whk_reset":    "http://" + resetting + "/hook",
				"whk_timeout":  "http://" + silent + "/hook",
				"whk_500":      failing.URL + "/hook",
				"whk_redirect": redirecting.URL + "/hook",
				"whk_private":  "http://private.test/hook",
			}
			store := openStore(t, d)
			for id, url := range cases {
				insertEndpoint(t, store, id, "ws", url)
			}
			feedbackHooks(t, store, "ws", 1, pt.BaseTime)

			base, err := webhook.ParseAllowList("127.0.0.1")
			require.NoError(t, err)
			guard := base.WithResolver(tableResolver{"private.test": {netip.MustParseAddr("10.1.2.3")}}).WithDial(loopbackOnly(t))
			var logs syncBuffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			recording := announcingStore{Store: store, recorded: make(chan gateway.WebhookAttempt, len(cases))}
			// The timeout is what ends the silent listener's attempt; the
			// others end at once.
			disp, err := webhook.New(recording, guard, webhook.Config{Schedule: []time.Duration{time.Hour}, Timeout: 500 * time.Millisecond,
				PollInterval: 5 * time.Millisecond, Concurrency: len(cases)}, lifecycle.NewEnv(logger, nil), webhook.Hooks{})
			require.NoError(t, err)
			require.NoError(t, disp.Start(context.Background()))
			for range cases {
				<-recording.recorded
			}
			require.NoError(t, disp.Stop(context.Background()))

			page, err := store.ListWebhookDeliveries(context.Background(), gateway.WebhookDeliveryFilter{WorkspaceID: "ws"}, gateway.PageRequest{First: 20})
			require.NoError(t, err)
			require.Len(t, page.Items, len(cases))
			for _, del := range page.Items {
				require.Equal(t, gateway.WebhookPending, del.Status, del.EndpointID)
				require.Nil(t, del.LastStatusCode, "%s: a failure's status code is not shown", del.EndpointID)
				require.NotNil(t, del.LastError, del.EndpointID)
				msg := *del.LastError
				require.NotRegexp(t, `\d+\.\d+\.\d+\.\d+|\[?[0-9a-f]*::?[0-9a-f]+|:\d{2,5}\b`, msg, "%s: no address, no port", del.EndpointID)
				if del.EndpointID == "whk_private" {
					require.Equal(t, "destination refused: private.test does not resolve to an address webhooks may reach", msg)
					continue
				}
				require.Equal(t, webhook.ErrorNotDelivered, msg, "%s: every failure on the network reads the same", del.EndpointID)
			}

			// The operator's log has what the API leaves out.
			out := logs.String()
			for _, want := range []string{"10.0.0.53:53", "10.1.2.3", "connection refused", `"status_code":500`, `"status_code":302`, "connection reset"} {
				require.Contains(t, out, want)
			}
			require.Regexp(t, `timeout awaiting response headers|deadline exceeded`, out)
		})
	}
}

// acceptLoop listens on loopback and hands every connection to handle; it
// returns the address.
func acceptLoop(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { handle(c) })
		}
	})
	return ln.Addr().String()
}
