package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"
)

// TestLimitsHoldForTheDeployment: three serve processes share one
// PostgreSQL database. A principal hammering all three is admitted at its
// configured rate, not three times it, and its subscription cap holds over
// the three — also after one of them is killed holding a place, once that
// place's lease runs out.
func TestLimitsHoldForTheDeployment(t *testing.T) {
	t.Parallel()
	url, _, svc := probeDB(t)
	jobs := commitMany(t, svc, 8) // never run (no worker): their subscriptions stay open
	const (
		perSecond = 20
		burst     = 10
		subsCap   = 4
	)
	env := []string{"DATABASE_URL=" + url, "WORKER=false", "LOCAL_BACKEND=false", probeModeEnv + "=" + probeSucceed,
		fmt.Sprintf("RATE_LIMIT_HEALTH=%d", perSecond), fmt.Sprintf("RATE_LIMIT_HEALTH_BURST=%d", burst),
		fmt.Sprintf("MAX_SUBSCRIPTIONS_PER_PRINCIPAL=%d", subsCap), "SUBSCRIPTION_LEASE=600ms"}
	addrs := make([]string, 3)
	servers := make([]*helper, 3)
	for i := range addrs {
		addrs[i] = freeAddr(t)
		servers[i] = startHelper(t, "serve --listen "+addrs[i], env...)
	}
	for _, a := range addrs {
		waitReady(t, "http://"+a)
	}

	t.Run("the rate", func(t *testing.T) {
		// Two clients per process, each asking for backend health (one
		// token of RATE_LIMIT_HEALTH) as fast as it is answered.
		const window = 3 * time.Second
		var admitted, refused atomic.Int64
		client := &http.Client{Timeout: processTimeout}
		body := `{"query": "{ backends { backend } }"}`
		start := time.Now()
		deadline := start.Add(window)
		var wg sync.WaitGroup
		for i := range 2 * len(addrs) {
			base := "http://" + addrs[i%len(addrs)]
			wg.Go(func() {
				for time.Now().Before(deadline) {
					resp, err := client.Post(base+"/graphql", "application/json", strings.NewReader(body))
					if !assertNoError(t, err) {
						return
					}
					raw, err := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					if !assertNoError(t, err) {
						return
					}
					switch {
					case strings.Contains(string(raw), `"RATE_LIMITED"`):
						refused.Add(1)
					case strings.Contains(string(raw), `"backend":"EVERMEMOS"`):
						admitted.Add(1)
					default:
						t.Errorf("unexpected answer: %s", raw)
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start).Seconds()
		want := burst + perSecond*elapsed
		t.Logf("%d admitted, %d refused in %.2fs over 3 processes; the rate allows %.0f", admitted.Load(), refused.Load(), elapsed, want)
		require.Positive(t, refused.Load(), "the clients asked for more than the rate")
		require.InEpsilon(t, want, float64(admitted.Load()), 0.10, "within 10%% of the deployment's rate")
	})

	t.Run("the subscription cap", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
		defer cancel()
		conns := make([]*wsConn, len(addrs))
		for i, a := range addrs {
			conns[i] = dialGraphQLWS(ctx, t, a)
		}
		// The cap's places, over the three processes: two on the first.
		for i, c := range []int{0, 0, 1, 2} {
			require.Equal(t, "next", conns[c].subscribe(ctx, t, fmt.Sprint(i), jobs[i]).Type)
		}
		for c := range conns {
			refused := conns[c].subscribe(ctx, t, fmt.Sprintf("over-%d", c), jobs[5])
			require.Equal(t, "error", refused.Type, "process %d refuses one over the cap", c)
			require.Equal(t, "TOO_MANY_SUBSCRIPTIONS", refused.code())
		}

		// Completing one frees its place for another process.
		require.NoError(t, wsjson.Write(ctx, conns[0].c, map[string]any{"id": "0", "type": "complete"}))
		conns[1].subscribeUntilAdmitted(ctx, t, "freed", jobs[6])

		// A process killed holding a place: the place is taken until its
		// lease runs out, then free.
		servers[0].kill(t)
		conns[2].subscribeUntilAdmitted(ctx, t, "after-kill", jobs[7])
		refused := conns[2].subscribe(ctx, t, "over-again", jobs[5])
		require.Equal(t, "TOO_MANY_SUBSCRIPTIONS", refused.code(), "the cap holds again")
	})
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

// wsConn is a graphql-transport-ws connection.
type wsConn struct{ c *websocket.Conn }

type wsMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// code is the extensions.code of an error message's first error.
func (m wsMessage) code() string {
	var errs []struct {
		Extensions struct{ Code string } `json:"extensions"`
	}
	if json.Unmarshal(m.Payload, &errs) != nil || len(errs) == 0 {
		return ""
	}
	return errs[0].Extensions.Code
}

func dialGraphQLWS(ctx context.Context, t *testing.T, addr string) *wsConn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CloseNow() })
	require.NoError(t, wsjson.Write(ctx, c, map[string]any{"type": "connection_init"}))
	var ack wsMessage
	require.NoError(t, wsjson.Read(ctx, c, &ack))
	require.Equal(t, "connection_ack", ack.Type)
	return &wsConn{c: c}
}

// subscribe subscribes to a job and returns the first message of id: its
// state ("next": admitted) or an "error".
func (w *wsConn) subscribe(ctx context.Context, t *testing.T, id, jobID string) wsMessage {
	t.Helper()
	require.NoError(t, wsjson.Write(ctx, w.c, map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{
		"query": `subscription($id: ID!) { commitJobUpdated(id: $id) { id status } }`, "variables": map[string]any{"id": jobID}}}))
	for {
		var m wsMessage
		require.NoError(t, wsjson.Read(ctx, w.c, &m))
		if m.ID == id {
			return m
		}
	}
}

// subscribeUntilAdmitted subscribes again (each refusal answers at once)
// until a place is free.
func (w *wsConn) subscribeUntilAdmitted(ctx context.Context, t *testing.T, id, jobID string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		m := w.subscribe(ctx, t, fmt.Sprintf("%s-%d", id, attempt), jobID)
		if m.Type == "next" {
			return
		}
		require.Equal(t, "TOO_MANY_SUBSCRIPTIONS", m.code(), "refused for the cap, nothing else")
		select {
		case <-ctx.Done():
			t.Fatal("never admitted")
		case <-time.After(20 * time.Millisecond): // paces the retries of a poll; nothing is timed
		}
	}
}
