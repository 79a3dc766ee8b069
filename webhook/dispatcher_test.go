package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// memStore is a store of deliveries in memory: claims lease, completions
// are fenced, and every completion is announced on completed.
type memStore struct {
	mu         sync.Mutex
	deliveries map[string]*gateway.ClaimedWebhook
	outcomes   map[string]gateway.WebhookAttempt
	completed  chan string
}

func newMemStore(urls map[string]string) *memStore {
	s := &memStore{deliveries: map[string]*gateway.ClaimedWebhook{}, outcomes: map[string]gateway.WebhookAttempt{}, completed: make(chan string, 100)}
	for id, url := range urls {
		s.deliveries[id] = &gateway.ClaimedWebhook{
			Delivery: gateway.WebhookDelivery{ID: id, EndpointID: "whk_" + id, Status: gateway.WebhookPending, Payload: `{"type":"JOB_FINISHED"}`},
			URL:      url, Secrets: []string{specSecret},
		}
	}
	return s
}

// ClaimWebhookDeliveries takes due deliveries in any order: the turns of a
// share are the stores' (persistence's tests and TestASlowWorkspaceHoldsItsShare).
func (s *memStore) ClaimWebhookDeliveries(_ context.Context, worker string, limit int, now, leaseUntil time.Time, _ gateway.WebhookShare) ([]gateway.ClaimedWebhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []gateway.ClaimedWebhook
	for _, c := range s.deliveries {
		d := &c.Delivery
		if len(out) == limit || d.Status != gateway.WebhookPending || (d.LeaseExpiresAt != nil && d.LeaseExpiresAt.After(now)) ||
			(d.NextRetryAt != nil && d.NextRetryAt.After(now)) {
			continue
		}
		d.AttemptCount++
		d.ClaimCount++
		d.LockedBy, d.LeaseExpiresAt = &worker, &leaseUntil
		out = append(out, *c)
	}
	return out, nil
}

func (s *memStore) CompleteWebhookDelivery(_ context.Context, a gateway.WebhookAttempt) (gateway.WebhookAttemptResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &s.deliveries[a.DeliveryID].Delivery
	if d.LockedBy == nil || *d.LockedBy != a.FenceWorker || d.ClaimCount != a.FenceClaim {
		return gateway.WebhookAttemptResult{}, nil
	}
	d.Status, d.NextRetryAt, d.LockedBy, d.LeaseExpiresAt = a.Status, a.NextRetryAt, nil, nil
	s.outcomes[a.DeliveryID] = a
	s.completed <- a.DeliveryID
	return gateway.WebhookAttemptResult{Landed: true}, nil
}

func (s *memStore) outcome(id string) (gateway.WebhookAttempt, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.outcomes[id]
	return a, ok
}

func loopbackDispatcher(t *testing.T, store Store, cfg Config) *Dispatcher {
	t.Helper()
	guard, err := ParseAllowList("127.0.0.1")
	require.NoError(t, err)
	cfg.PollInterval = 5 * time.Millisecond
	d, err := New(store, guard, cfg, lifecycle.Env{}, Hooks{})
	require.NoError(t, err)
	return d
}

// blockingReceiver answers only once released; entered is signalled as each
// request arrives.
func blockingReceiver(t *testing.T) (url string, entered <-chan struct{}, release func()) {
	t.Helper()
	in := make(chan struct{}, 10)
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in <- struct{}{}
		select {
		case <-gate:
		case <-r.Context().Done():
		}
	}))
	var once sync.Once
	rel := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(srv.Close)
	t.Cleanup(rel)
	return srv.URL, in, rel
}

// TestDispatcherASlowEndpointHoldsOneSender: while one endpoint keeps an
// attempt waiting, another endpoint's delivery goes out.
func TestDispatcherASlowEndpointHoldsOneSender(t *testing.T) {
	t.Parallel()
	slow, entered, release := blockingReceiver(t)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(fast.Close)
	store := newMemStore(map[string]string{"whd_slow": slow})
	d := loopbackDispatcher(t, store, Config{Concurrency: 2, BatchSize: 1})
	require.NoError(t, d.Start(context.Background()))
	t.Cleanup(func() { release(); require.NoError(t, d.Stop(context.Background())) })

	<-entered // the slow attempt is in flight
	store.mu.Lock()
	store.deliveries["whd_fast"] = &gateway.ClaimedWebhook{
		Delivery: gateway.WebhookDelivery{ID: "whd_fast", Status: gateway.WebhookPending, Payload: "{}"}, URL: fast.URL, Secrets: []string{specSecret},
	}
	store.mu.Unlock()
	require.Equal(t, "whd_fast", <-store.completed, "the fast delivery is not held behind the slow one")
	a, _ := store.outcome("whd_fast")
	require.Equal(t, gateway.WebhookSuccess, a.Status)
	_, done := store.outcome("whd_slow")
	require.False(t, done)
}

// TestDispatcherStopLetsAttemptsFinish: Stop waits for an attempt in flight
// and records its outcome; a failed attempt is scheduled by the schedule.
func TestDispatcherStopLetsAttemptsFinish(t *testing.T) {
	t.Parallel()
	slow, entered, release := blockingReceiver(t)
	store := newMemStore(map[string]string{"whd_1": slow})
	d := loopbackDispatcher(t, store, Config{})
	require.NoError(t, d.Start(context.Background()))
	<-entered
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stopped <- d.Stop(ctx)
	}()
	release()
	require.NoError(t, <-stopped)
	a, ok := store.outcome("whd_1")
	require.True(t, ok, "the attempt in flight was recorded")
	require.Equal(t, gateway.WebhookSuccess, a.Status)

	// A failure: retried after the first delay of the schedule.
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	t.Cleanup(failing.Close)
	store = newMemStore(map[string]string{"whd_2": failing.URL})
	d = loopbackDispatcher(t, store, Config{Schedule: []time.Duration{time.Hour}})
	require.NoError(t, d.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, d.Stop(context.Background())) })
	<-store.completed
	a, _ = store.outcome("whd_2")
	require.Equal(t, gateway.WebhookPending, a.Status)
	require.Nil(t, a.StatusCode, "a failure's status is the log's, not the API's")
	require.Greater(t, *a.NextRetryAt, a.At.Add(time.Hour))
	require.Equal(t, ErrorNotDelivered, *a.Error)
}

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestDispatcherRetryTimeDoesNotTellHowLongAnAttemptTook: a failed attempt's
// next one is due the schedule's delay after the attempt's deadline, however
// soon it ended, so nextRetryAt does not tell an endpoint that answered (or
// a port that refused) from one that kept silent until the timeout.
func TestDispatcherRetryTimeDoesNotTellHowLongAnAttemptTook(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		took time.Duration
	}{
		{"it ended at once", 0},
		{"it ended at its deadline", time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			clock := &testClock{t: start}
			failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				clock.advance(tc.took)
				w.WriteHeader(http.StatusBadGateway)
			}))
			t.Cleanup(failing.Close)
			store := newMemStore(map[string]string{"whd_1": failing.URL})
			guard, err := ParseAllowList("127.0.0.1")
			require.NoError(t, err)
			d, err := New(store, guard, Config{Schedule: []time.Duration{time.Hour}, Timeout: time.Minute, PollInterval: 5 * time.Millisecond}, lifecycle.NewEnv(nil, clock.now), Hooks{})
			require.NoError(t, err)
			require.NoError(t, d.Start(context.Background()))
			t.Cleanup(func() { require.NoError(t, d.Stop(context.Background())) })
			<-store.completed
			a, _ := store.outcome("whd_1")
			require.Equal(t, start.Add(time.Minute+time.Hour), *a.NextRetryAt)
		})
	}
}
