package app

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/policy"
)

// logSignal is a log destination that tells, line by line, when a message
// was logged: tests wait on it instead of polling.
type logSignal struct {
	mu      sync.Mutex
	waiters map[string][]chan struct{}
}

func newLogSignal() *logSignal { return &logSignal{waiters: map[string][]chan struct{}{}} }

// next returns a channel closed when msg is next logged.
func (l *logSignal) next(msg string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	l.waiters[msg] = append(l.waiters[msg], ch)
	return ch
}

func (l *logSignal) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for msg, chans := range l.waiters {
		if strings.Contains(string(p), `"msg":"`+msg+`"`) {
			for _, ch := range chans {
				close(ch)
			}
			delete(l.waiters, msg)
		}
	}
	return len(p), nil
}

func writeKeysFile(t *testing.T, path string, keys ...map[string]any) {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path+".tmp", raw, 0o600))
	require.NoError(t, os.Rename(path+".tmp", path))
}

func dashboardKey(name, key string) map[string]any {
	return map[string]any{"name": name, "sha256": policy.HashKey(key), "workspace": "acme", "role": "DASHBOARD",
		"grants": []map[string]any{{"namespace": "", "access": "READ"}}}
}

// TestRevokedKeyLosesItsSubscriptions: SIGHUP reloads the keys file; a key
// that was removed gets 401 from then on, and its open subscriptions — over
// a websocket and over SSE — are closed, while another key's stay open. A
// reload that would leave no keys is refused and logged.
func TestRevokedKeyLosesItsSubscriptions(t *testing.T) {
	t.Parallel()
	const revoked, kept = "mgw_dash_revoked_0123456789", "mgw_dash_kept_0123456789"
	path := t.TempDir() + "/keys.json"
	writeKeysFile(t, path, dashboardKey("revoked", revoked), dashboardKey("kept", kept))
	logs := newLogSignal()
	// Only the signal reloads here: the file is not polled within the test.
	base := startServerLogging(t, map[string]string{
		"DATABASE_URL": pt.URL(t, pt.SQLite), "API_KEYS_FILE": path, "API_KEYS_RELOAD_INTERVAL": "1h",
	}, logs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	subscribeWS := func(key string) *websocket.Conn {
		conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql",
			&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.CloseNow() })
		require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": map[string]any{"authToken": key}}))
		var ack struct{ Type string }
		require.NoError(t, wsjson.Read(ctx, conn, &ack))
		require.Equal(t, "connection_ack", ack.Type)
		require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
			"query": `subscription { commitJobsUpdated(workspaceId: "acme") { id } }`}}))
		return conn
	}
	subscribeSSE := func(key string) *bufio.Reader {
		body := `{"query":"subscription { commitJobsUpdated(workspaceId: \"acme\") { id } }"}`
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return bufio.NewReader(resp.Body)
	}
	wsRevoked, wsKept := subscribeWS(revoked), subscribeWS(kept)
	sseRevoked := subscribeSSE(revoked)

	// Signals reach the whole test binary: make sure one that arrives
	// between servers can never take the default action (exit).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	writeKeysFile(t, path)
	refused := logs.next("memory-gateway: API keys not reloaded, the keys in force stay")
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	<-refused
	status, _ := call(t, base, revoked, `{ __typename }`, nil)
	require.Equal(t, http.StatusOK, status, "an empty keys file is refused: the keys in force stay")

	writeKeysFile(t, path, dashboardKey("kept", kept))
	reloaded := logs.next("memory-gateway: API keys reloaded")
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	<-reloaded

	status, out := call(t, base, revoked, `{ __typename }`, nil)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "UNAUTHENTICATED", errorCode(out))
	status, _ = call(t, base, kept, `{ __typename }`, nil)
	require.Equal(t, http.StatusOK, status)

	// The revoked key's websocket is closed with 4403 Forbidden (whatever
	// it still had queued is read first); its SSE stream ends.
	for {
		if _, _, err := wsRevoked.Read(ctx); err != nil {
			require.NotErrorIs(t, err, context.DeadlineExceeded, "the revoked key's websocket was not closed")
			require.Equal(t, websocket.StatusCode(4403), websocket.CloseStatus(err))
			break
		}
	}
	for {
		if _, err := sseRevoked.ReadString('\n'); err != nil {
			require.NotErrorIs(t, err, context.DeadlineExceeded, "the revoked key's SSE stream did not end")
			break
		}
	}
	// The kept key's websocket still answers: a ping is served.
	require.NoError(t, wsjson.Write(ctx, wsKept, map[string]any{"type": "ping"}))
	var pong struct{ Type string }
	for pong.Type != "pong" {
		require.NoError(t, wsjson.Read(ctx, wsKept, &pong))
	}
}
