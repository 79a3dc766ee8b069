package app

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

type frame struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func dialTransportWS(t *testing.T, ctx context.Context, base string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.CloseNow() })
	return conn
}

// closeCode reads until the server closes the connection and returns its
// close code.
func closeCode(t *testing.T, ctx context.Context, conn *websocket.Conn) websocket.StatusCode {
	t.Helper()
	for {
		_, _, err := conn.Read(ctx)
		if err != nil {
			require.NotErrorIs(t, err, context.DeadlineExceeded, "the server did not close the connection")
			return websocket.CloseStatus(err)
		}
	}
}

// nextFrame reads the next frame that is not a ping or pong.
func nextFrame(t *testing.T, ctx context.Context, conn *websocket.Conn) frame {
	t.Helper()
	for {
		var f frame
		require.NoError(t, wsjson.Read(ctx, conn, &f))
		if f.Type != "ping" && f.Type != "pong" {
			return f
		}
	}
}

func ack(t *testing.T, ctx context.Context, conn *websocket.Conn, payload map[string]any) {
	t.Helper()
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": payload}))
	require.Equal(t, "connection_ack", nextFrame(t, ctx, conn).Type)
}

const jobsSubscription = `subscription { commitJobsUpdated(workspaceId: "acme") { id } }`

// TestGraphQLTransportWSCloseCodes: each protocol violation gets the close
// code the graphql-transport-ws specification assigns it.
func TestGraphQLTransportWSCloseCodes(t *testing.T) {
	t.Parallel()
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "API_KEYS_FILE": keysFile(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	subscribe := func(id string) map[string]any {
		return map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": jobsSubscription}}
	}
	for _, tc := range []struct {
		name   string
		frames func(conn *websocket.Conn)
		code   websocket.StatusCode
	}{
		{"not JSON", func(conn *websocket.Conn) {
			require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte("{nope")))
		}, 4400},
		{"an unknown type", func(conn *websocket.Conn) {
			require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "hello"}))
		}, 4400},
		{"subscribe without an id", func(conn *websocket.Conn) {
			ack(t, ctx, conn, map[string]any{"authToken": dashKeyA})
			require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "subscribe", "payload": map[string]any{"query": jobsSubscription}}))
		}, 4400},
		{"subscribe before connection_ack", func(conn *websocket.Conn) {
			require.NoError(t, wsjson.Write(ctx, conn, subscribe("1")))
		}, 4401},
		{"a refused key", func(conn *websocket.Conn) {
			require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": map[string]any{"authToken": "mgw_wrong"}}))
		}, 4403},
		{"a duplicate subscription id", func(conn *websocket.Conn) {
			ack(t, ctx, conn, map[string]any{"authToken": dashKeyA})
			require.NoError(t, wsjson.Write(ctx, conn, subscribe("1")))
			require.NoError(t, wsjson.Write(ctx, conn, subscribe("1")))
		}, 4409},
		{"a second connection_init", func(conn *websocket.Conn) {
			ack(t, ctx, conn, map[string]any{"authToken": dashKeyA})
			require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": map[string]any{"authToken": dashKeyA}}))
		}, 4429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := dialTransportWS(t, ctx, base)
			tc.frames(conn)
			require.Equal(t, tc.code, closeCode(t, ctx, conn))
		})
	}
}

// TestGraphQLTransportWSInitTimeout: a connection that never sends
// connection_init is closed with 4408 once the init timeout passes.
func TestGraphQLTransportWSInitTimeout(t *testing.T) {
	t.Parallel()
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "WEBSOCKET_INIT_TIMEOUT": "50ms"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn := dialTransportWS(t, ctx, base)
	require.Equal(t, websocket.StatusCode(4408), closeCode(t, ctx, conn))
}

// TestSubscriptionCaps: a subscription over the per-connection cap, or over
// the per-key cap (across connections), gets an error message coded
// TOO_MANY_SUBSCRIPTIONS, and the connection stays open and usable;
// subscription arguments are validated like any input.
func TestSubscriptionCaps(t *testing.T) {
	t.Parallel()
	base := startServerWith(t, map[string]string{
		"DATABASE_URL": pt.URL(t, pt.SQLite), "MAX_SUBSCRIPTIONS_PER_CONNECTION": "2", "MAX_SUBSCRIPTIONS_PER_PRINCIPAL": "3",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Subscriptions that stay open: each is proven live by the job it
	// receives when a commit happens.
	open := func(conn *websocket.Conn, id string) {
		require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": jobsSubscription}}))
	}
	first := dialTransportWS(t, ctx, base)
	ack(t, ctx, first, nil)
	open(first, "a")
	open(first, "b")
	open(first, "c")
	f := nextFrame(t, ctx, first)
	require.Equal(t, "error", f.Type)
	require.Equal(t, "c", f.ID)
	require.Contains(t, string(f.Payload), "TOO_MANY_SUBSCRIPTIONS", "the third on one connection")

	// The protocol acknowledges no subscription: a and b are known to be
	// live (and counted against the key) once a commit reaches both.
	commitJob := func(session string) string {
		var commit struct {
			CommitSession struct{ Job struct{ ID string } }
		}
		gql(t, base, `mutation($s: ID!) { commitSession(input: {workspaceId: "acme", userId: "alice", agentId: "helper", sessionId: $s, namespace: "support"}) { job { id } } }`,
			map[string]any{"s": session}, &commit)
		return commit.CommitSession.Job.ID
	}
	// reached reads conn until every subscription in ids got a next
	// message naming job.
	reached := func(conn *websocket.Conn, job string, ids ...string) {
		waiting := map[string]bool{}
		for _, id := range ids {
			waiting[id] = true
		}
		for len(waiting) > 0 {
			f := nextFrame(t, ctx, conn)
			if f.Type == "next" && strings.Contains(string(f.Payload), job) {
				delete(waiting, f.ID)
			}
		}
	}
	reached(first, commitJob("s1"), "a", "b")

	second := dialTransportWS(t, ctx, base)
	ack(t, ctx, second, nil)
	open(second, "d")
	open(second, "e")
	var refused frame
	for refused.Type != "error" {
		refused = nextFrame(t, ctx, second)
	}
	require.Contains(t, string(refused.Payload), "TOO_MANY_SUBSCRIPTIONS", "the fourth of one key")
	live := "d"
	if refused.ID == "d" {
		live = "e"
	}

	// Both connections are still open: a commit reaches every live one.
	job := commitJob("s2")
	reached(first, job, "a", "b")
	reached(second, job, live)

	// An argument held to the input rules: a 900 KB workspace id.
	huge := strings.Repeat("w", 900_000)
	third := dialTransportWS(t, ctx, base)
	third.SetReadLimit(4 << 20)
	ack(t, ctx, third, nil)
	require.NoError(t, wsjson.Write(ctx, first, map[string]any{"id": "a", "type": "complete"}))
	require.NoError(t, wsjson.Write(ctx, third, map[string]any{"id": "x", "type": "subscribe", "payload": map[string]any{
		"query": `subscription($w: ID!) { commitJobsUpdated(workspaceId: $w) { id } }`, "variables": map[string]any{"w": huge}}}))
	bad := nextFrame(t, ctx, third)
	require.Equal(t, "error", bad.Type)
	require.Contains(t, string(bad.Payload), "BAD_USER_INPUT")
	require.Less(t, len(bad.Payload), 2000, "the argument is not echoed")
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}

// TestSubscriptionCapOverLegacyGraphQLWS: the legacy graphql-ws
// subprotocol holds MAX_SUBSCRIPTIONS_PER_CONNECTION like
// graphql-transport-ws: a start over it gets an error message coded
// TOO_MANY_SUBSCRIPTIONS, the connection stays open, and a stopped
// subscription gives its place back.
func TestSubscriptionCapOverLegacyGraphQLWS(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			// No worker: the job stays ACCEPTED, so its subscriptions
			// stay open, and each proves itself live with the job's
			// current state.
			base := startServerWith(t, map[string]string{
				"DATABASE_URL": pt.URL(t, d), "WORKER": "false", "MAX_SUBSCRIPTIONS_PER_CONNECTION": "2",
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var commit struct {
				CommitSession struct{ Job struct{ ID string } }
			}
			gql(t, base, `mutation { commitSession(input: {workspaceId: "acme", userId: "alice", agentId: "helper", sessionId: "s1", namespace: "support"}) { job { id } } }`, nil, &commit)
			job := commit.CommitSession.Job.ID

			conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-ws"}})
			require.NoError(t, err)
			t.Cleanup(func() { _ = conn.CloseNow() })
			require.Equal(t, "graphql-ws", conn.Subprotocol())
			// next reads the next frame that is not a keep-alive.
			next := func() frame {
				for {
					var f frame
					require.NoError(t, wsjson.Read(ctx, conn, &f))
					if f.Type != "ka" {
						return f
					}
				}
			}
			send := func(v map[string]any) { require.NoError(t, wsjson.Write(ctx, conn, v)) }
			start := func(id string) {
				send(map[string]any{"id": id, "type": "start", "payload": map[string]any{
					"query": `subscription($id: ID!) { commitJobUpdated(id: $id) { id status } }`, "variables": map[string]any{"id": job},
				}})
			}
			live := func(id string) {
				f := next()
				require.Equal(t, "data", f.Type, "%s: %s", id, f.Payload)
				require.Equal(t, id, f.ID)
				require.Contains(t, string(f.Payload), job)
			}
			refused := func(id string) {
				f := next()
				require.Equal(t, "error", f.Type, "%s is over the cap: %s", id, f.Payload)
				require.Equal(t, id, f.ID)
				require.Contains(t, string(f.Payload), "TOO_MANY_SUBSCRIPTIONS")
				require.NotContains(t, string(f.Payload), job, "the arguments are not echoed")
			}

			send(map[string]any{"type": "connection_init", "payload": map[string]any{}})
			require.Equal(t, "connection_ack", next().Type)
			start("a")
			live("a")
			start("b")
			live("b")
			start("c")
			refused("c")

			// The connection stays open, and a stopped subscription gives
			// its place back.
			send(map[string]any{"id": "a", "type": "stop"})
			require.Equal(t, frame{ID: "a", Type: "complete"}, next())
			start("d")
			live("d")
			start("e")
			refused("e")
		})
	}
}

// TestLegacyGraphQLWSHoldsTheWebsocketSettings: the legacy graphql-ws
// subprotocol closes a connection without connection_init after
// WEBSOCKET_INIT_TIMEOUT, and one that sends a message over MAX_BODY_BYTES
// with 1009, like graphql-transport-ws.
func TestLegacyGraphQLWSHoldsTheWebsocketSettings(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			base := startServerWith(t, map[string]string{
				"DATABASE_URL": pt.URL(t, d), "WORKER": "false", "MAX_BODY_BYTES": "4096", "WEBSOCKET_INIT_TIMEOUT": "50ms",
			})
			// Well under the default init timeout (10s): only the setting
			// closes the connection in time.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			dial := func() *websocket.Conn {
				conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-ws"}})
				require.NoError(t, err)
				t.Cleanup(func() { _ = conn.CloseNow() })
				require.Equal(t, "graphql-ws", conn.Subprotocol())
				return conn
			}

			silent := dial()
			closeCode(t, ctx, silent)

			big := dial()
			require.NoError(t, wsjson.Write(ctx, big, map[string]any{"type": "connection_init", "payload": map[string]any{}}))
			require.NoError(t, wsjson.Write(ctx, big, map[string]any{"id": "1", "type": "start", "payload": map[string]any{
				"query": "{ backends { backend } }", "variables": map[string]any{"pad": strings.Repeat("x", 8192)},
			}}))
			require.Equal(t, websocket.StatusMessageTooBig, closeCode(t, ctx, big))
		})
	}
}

// wsSessionGoroutines counts the goroutines of live graphql-transport-ws
// connections (reading, pinging, running operations).
func wsSessionGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "resolvers.(*wsSession)") {
			n++
		}
	}
	return n
}

// TestGraphQLTransportWSLeavesNothingBehind: connections that subscribe
// and then go away — closed properly, dropped, or completing their
// operations first — leave no goroutine behind.
func TestGraphQLTransportWSLeavesNothingBehind(t *testing.T) {
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite)})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 300 {
		conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		require.NoError(t, err)
		ack(t, ctx, conn, nil)
		for _, id := range []string{"a", "b"} {
			require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": jobsSubscription}}))
		}
		switch i % 3 {
		case 0:
			require.NoError(t, conn.Close(websocket.StatusNormalClosure, ""))
		case 1:
			require.NoError(t, conn.CloseNow())
		default:
			require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"id": "a", "type": "complete"}))
			require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"id": "b", "type": "complete"}))
			require.NoError(t, conn.Close(websocket.StatusNormalClosure, ""))
		}
	}
	require.Eventually(t, func() bool { return wsSessionGoroutines() == 0 }, 30*time.Second, 20*time.Millisecond,
		"goroutines of closed connections remain")
}
