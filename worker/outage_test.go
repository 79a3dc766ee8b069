package worker_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/openviking"
	"github.com/memory-gateway/memory-gateway/backends/openviking/openvikingtest"
	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/worker"
)

// switchableNetwork refuses every connection while down, the way a backend
// that is not running does, and counts what it was asked, by path.
type switchableNetwork struct {
	down atomic.Bool
	mu   sync.Mutex
	// asked counts requests made while down: health probes and real calls.
	probes, calls int
}

func (n *switchableNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	if n.down.Load() {
		n.mu.Lock()
		if r.URL.Path == "/ready" { // the breaker's probe
			n.probes++
		} else {
			n.calls++
		}
		n.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (n *switchableNetwork) counts() (probes, calls int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.probes, n.calls
}

// TestRemoteOutageSpendsNoAttempts: OpenViking is unreachable for 30
// minutes (simulated time, default settings: five attempts, the breaker's
// defaults, jittered backoff). The failures before the breaker opens are
// the only attempts spent; while it is open, events wait, and the breaker
// learns that the backend is back from its health endpoint, not from an
// event. No event is dead-lettered, and all complete after recovery — a
// lone event too, which alone drives the breaker open.
func TestRemoteOutageSpendsNoAttempts(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		fake := openvikingtest.New()
		t.Cleanup(fake.Close)
		network := &switchableNetwork{}
		c := newClock()
		ov, err := openviking.New(openviking.Config{BaseURL: fake.URL, Transport: network, Now: c.Now})
		require.NoError(t, err)
		store := persistence.NewStore(db)
		opts := gateway.Options{Anonymous: &gateway.DevPrincipal, Store: store, Backends: []backendtype.BackendAdapter{ov}, Env: lifecycle.NewEnv(nil, c.Now)}
		svc, err := gateway.NewService(opts)
		require.NoError(t, err)
		exec, err := gateway.NewOutboxExecutor(opts)
		require.NoError(t, err)
		w, err := worker.New(worker.Options{Store: store, Executor: exec, Env: lifecycle.NewEnv(nil, c.Now), Config: worker.Config{Backends: []backendtype.Backend{backendtype.BackendOpenViking}}})
		require.NoError(t, err)

		const sessions = 30
		for i := range sessions {
			_, err := svc.IngestConversationTurn(ctx, gateway.IngestTurnInput{
				WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: fmt.Sprintf("s%d", i), TurnID: "t1",
				Namespace: "team", Role: backendtype.RoleUser, Content: fmt.Sprintf("fact number %d", i),
			})
			require.NoError(t, err)
		}
		var jobs []string
		commit := func(i int) {
			res, err := svc.CommitSession(ctx, gateway.CommitSessionInput{
				WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: fmt.Sprintf("s%d", i), Namespace: "team",
			})
			require.NoError(t, err)
			jobs = append(jobs, res.Job.ID)
		}
		events := func() []gateway.OutboxEvent {
			page, err := svc.Reader(ctx).ListOutboxEvents(ctx, gateway.EventFilter{WorkspaceID: "ws"}, gateway.PageRequest{First: 100})
			require.NoError(t, err)
			return page.Items
		}
		step := func(d time.Duration) {
			c.Advance(d)
			_, err := w.Drain(ctx, 1000, "")
			require.NoError(t, err)
		}

		network.down.Store(true)
		// A lone event meets the outage first: its failures open the breaker.
		commit(0)
		for range 60 {
			step(time.Second)
		}
		_, callsBeforeOpen := network.counts()
		require.Equal(t, ovBreakerFailures, callsBeforeOpen, "calls until the breaker opened")
		// Then a crowd of commits, during the open breaker.
		for i := 1; i < sessions; i++ {
			commit(i)
		}
		for elapsed := time.Minute; elapsed < 30*time.Minute; elapsed += 5 * time.Second {
			step(5 * time.Second)
			for _, e := range events() {
				require.Equal(t, gateway.OutboxPending, e.Status, "%s waits (%s into the outage)", e.ID, elapsed)
				require.Less(t, e.AttemptCount, ovBreakerFailures, "an outage spends no attempts")
			}
		}
		probes, calls := network.counts()
		require.Equal(t, callsBeforeOpen, calls, "while the breaker was open, no event reached for the backend")
		require.InDelta(t, 60, probes, 3, "the health endpoint was probed about once per open period")

		// The backend is back: every event completes.
		network.down.Store(false)
		for range 60 {
			step(5 * time.Second)
		}
		for _, e := range events() {
			require.Equal(t, gateway.OutboxSuccess, e.Status, "%s: %v", e.ID, deref(e.LastError))
		}
		for _, id := range jobs {
			job, err := svc.Reader(ctx).CommitJob(ctx, id)
			require.NoError(t, err)
			require.Equal(t, gateway.JobSuccess, job.Status, id)
		}
	})
}

// ovBreakerFailures is the breaker's default threshold.
const ovBreakerFailures = remote.BreakerFailuresDefault

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
