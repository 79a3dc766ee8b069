package resolvers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// gatedSocket counts the writes that reach the socket; the first one waits
// for the gate, so frames due meanwhile queue up behind it.
type gatedSocket struct {
	w       io.Writer
	gate    chan struct{}
	entered chan struct{}
	writes  atomic.Int64
}

func (g *gatedSocket) Write(p []byte) (int, error) {
	if g.writes.Add(1) == 1 {
		close(g.entered)
		<-g.gate
	}
	return g.w.Write(p)
}

func TestFramesDueTogetherShareOneSocketWrite(t *testing.T) {
	t.Parallel()
	const queued = 20
	socket := &gatedSocket{gate: make(chan struct{}), entered: make(chan struct{})}
	writerReady := make(chan *frameWriter, 1)
	serverDone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &heldResponseWriter{ResponseWriter: w}
		conn, err := websocket.Accept(hw, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		socket.w = hw.held.socket
		hw.held.socket = socket
		writerReady <- &frameWriter{conn: conn, held: hw.held}
		<-serverDone
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(serverDone) })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	require.NoError(t, err)
	defer client.CloseNow()
	fw := <-writerReady

	var wg sync.WaitGroup
	wg.Go(func() { fw.write([]byte(`{"n":0}`)) })
	<-socket.entered // the first frame is in the socket, held at the gate
	for i := 1; i <= queued; i++ {
		wg.Go(func() { fw.write(fmt.Appendf(nil, `{"n":%d}`, i)) })
	}
	// Every queued frame must be waiting before the gate opens.
	require.Eventually(t, func() bool {
		fw.mu.Lock()
		defer fw.mu.Unlock()
		return fw.pending != nil && len(fw.pending.frames) == queued
	}, 10*time.Second, time.Millisecond)
	close(socket.gate)
	wg.Wait()

	require.EqualValues(t, 2, socket.writes.Load(), "the first frame, then every queued frame in one write")
	seen := map[string]bool{}
	for range queued + 1 {
		typ, data, err := client.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, websocket.MessageText, typ)
		seen[string(data)] = true // each message is its own frame
	}
	for i := 0; i <= queued; i++ {
		require.True(t, seen[fmt.Sprintf(`{"n":%d}`, i)], "frame %d", i)
	}

	// Nothing is held after a batch: the next frame goes out on its own.
	fw.write([]byte(`{"n":"after"}`))
	_, data, err := client.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, `{"n":"after"}`, string(data))
	require.EqualValues(t, 3, socket.writes.Load())
}
