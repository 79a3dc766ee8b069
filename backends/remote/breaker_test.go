package remote_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// flakyBackend answers /work and /health with the statuses the test sets,
// and counts the requests of each.
type flakyBackend struct {
	work, health     atomic.Int32  // status to answer
	workN, healthN   atomic.Int32  // requests seen
	healthGate       chan struct{} // when set, /health waits for it
	healthGateMu     sync.Mutex
	server           *httptest.Server
	client           *remote.Client
	clock            *testClock
	breakerOpenFor   time.Duration
	breakerThreshold uint32
}

func newFlakyBackend(t *testing.T) *flakyBackend {
	t.Helper()
	f := &flakyBackend{clock: &testClock{now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}, breakerOpenFor: 30 * time.Second, breakerThreshold: 5}
	f.work.Store(http.StatusOK)
	f.health.Store(http.StatusOK)
	f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			f.healthN.Add(1)
			f.healthGateMu.Lock()
			gate := f.healthGate
			f.healthGateMu.Unlock()
			if gate != nil {
				<-gate
			}
			w.WriteHeader(int(f.health.Load()))
			_, _ = w.Write([]byte(`{"status":"ok"}`))
		default:
			f.workN.Add(1)
			w.WriteHeader(int(f.work.Load()))
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	t.Cleanup(f.server.Close)
	client, err := remote.New(remote.Config{
		Backend: backendtype.BackendOpenViking, BaseURL: f.server.URL, Timeout: 5 * time.Second,
		BreakerFailures: f.breakerThreshold, BreakerOpen: f.breakerOpenFor, Now: f.clock.Now,
	})
	require.NoError(t, err)
	f.client = client
	return f
}

func (f *flakyBackend) call(ctx context.Context) error {
	_, _, err := f.client.Do(ctx, remote.Request{Method: http.MethodPost, Path: "/work"})
	return err
}

func downUntil(t *testing.T, err error) time.Time {
	t.Helper()
	var re *remote.Error
	require.ErrorAs(t, err, &re)
	return re.DownUntil
}

// TestBreakerProbesTheHealthEndpoint: the breaker opens after consecutive
// failures; while open no request goes out; once the open period ends, the
// backend's health endpoint — not a caller's request — decides whether it
// closes.
func TestBreakerProbesTheHealthEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFlakyBackend(t)
	f.work.Store(http.StatusServiceUnavailable)
	f.health.Store(http.StatusServiceUnavailable)

	for i := range 4 {
		err := f.call(ctx)
		require.Error(t, err)
		require.True(t, downUntil(t, err).IsZero(), "failure %d leaves the circuit closed", i+1)
	}
	err := f.call(ctx)
	opened := f.clock.Now().Add(f.breakerOpenFor)
	require.Equal(t, opened, downUntil(t, err), "the failure that opens the circuit says until when")
	require.Equal(t, "open", f.client.BreakerState())

	// Open: refused without a request.
	f.clock.Advance(10 * time.Second)
	err = f.call(ctx)
	var re *remote.Error
	require.ErrorAs(t, err, &re)
	require.Equal(t, remote.CodeCircuitOpen, re.Code)
	require.Equal(t, opened, re.DownUntil)
	require.EqualValues(t, 5, f.workN.Load())
	require.Zero(t, f.healthN.Load())

	// Due: the health endpoint is probed, once; it is still down, so the
	// circuit opens for another period and the caller's request stays unsent.
	f.clock.Advance(20 * time.Second)
	require.Equal(t, "half_open", f.client.BreakerState())
	err = f.call(ctx)
	require.ErrorAs(t, err, &re)
	require.Equal(t, remote.CodeCircuitOpen, re.Code)
	require.Equal(t, f.clock.Now().Add(f.breakerOpenFor), re.DownUntil)
	require.EqualValues(t, 1, f.healthN.Load())
	require.EqualValues(t, 5, f.workN.Load())

	// The backend is back: the next probe closes the circuit, and the
	// caller's request goes out.
	f.work.Store(http.StatusOK)
	f.health.Store(http.StatusOK)
	f.clock.Advance(f.breakerOpenFor)
	require.NoError(t, f.call(ctx))
	require.EqualValues(t, 2, f.healthN.Load())
	require.EqualValues(t, 6, f.workN.Load())
	require.Equal(t, "closed", f.client.BreakerState())
}

// TestBreakerProbesOnceForConcurrentCallers: callers arriving while a probe
// runs wait for its verdict; one probe is sent, and a caller that gives up
// does not leave the breaker without one.
func TestBreakerProbesOnceForConcurrentCallers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFlakyBackend(t)
	f.work.Store(http.StatusBadGateway)
	for range 5 {
		require.Error(t, f.call(ctx))
	}
	f.work.Store(http.StatusOK)
	gate := make(chan struct{})
	f.healthGateMu.Lock()
	f.healthGate = gate
	f.healthGateMu.Unlock()
	f.clock.Advance(f.breakerOpenFor)

	// The first caller starts the probe and gives up while it runs.
	impatient, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- f.call(impatient) }()
	require.Eventually(t, func() bool { return f.healthN.Load() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-gaveUp, context.Canceled)

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() { errs <- f.call(ctx) })
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, f.healthN.Load(), "one probe for every caller")
	require.EqualValues(t, 5+20, f.workN.Load())
}

// TestBreakerIgnoresAnswers: permanent errors are the backend answering;
// they neither open the circuit nor count toward opening it.
func TestBreakerIgnoresAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFlakyBackend(t)
	for i := range 20 {
		if i%4 == 3 {
			f.work.Store(http.StatusBadRequest)
		} else {
			f.work.Store(http.StatusInternalServerError)
		}
		err := f.call(ctx)
		require.Error(t, err)
		require.True(t, downUntil(t, err).IsZero())
	}
	require.Equal(t, "closed", f.client.BreakerState())
	f.work.Store(http.StatusInternalServerError)
	var err error
	for range 5 {
		err = f.call(ctx)
	}
	require.False(t, downUntil(t, err).IsZero(), "five in a row open it")
}

// TestBreakerIgnoresRetryableAnswersAboutTheCall: throttling (429) and
// request timeouts (408) are retryable, but they are the backend answering
// about one call: they never open the circuit for every call.
func TestBreakerIgnoresRetryableAnswersAboutTheCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFlakyBackend(t)
	for i := range 20 {
		f.work.Store([]int32{http.StatusTooManyRequests, http.StatusRequestTimeout}[i%2])
		err := f.call(ctx)
		require.Error(t, err)
		require.True(t, remote.AsError(backendtype.BackendLocal, err).Retryable)
		require.True(t, downUntil(t, err).IsZero())
	}
	require.Equal(t, "closed", f.client.BreakerState())
}
