package resolvers

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
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

// maskedFrame encodes a client's text frame.
func maskedFrame(payload []byte) []byte {
	frame := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		frame = append(frame, 0x80|byte(n))
	default:
		frame = append(frame, 0x80|126, byte(n>>8), byte(n))
	}
	key := [4]byte{1, 2, 3, 4}
	frame = append(frame, key[:]...)
	for i, b := range payload {
		frame = append(frame, b^key[i%4])
	}
	return frame
}

// TestMessagesSentWithTheUpgradeRequestAreRead: a client that sends its
// first message in the same write as the upgrade request (longer than the
// connection's read buffer), then a long one, has both read in order.
func TestMessagesSentWithTheUpgradeRequestAreRead(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &heldResponseWriter{ResponseWriter: w}
		conn, err := websocket.Accept(hw, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		fw := &frameWriter{conn: conn, held: hw.held}
		for range 2 {
			_, data, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			fw.write(data) // echoed
		}
		_, _, _ = conn.Read(r.Context())
	}))
	t.Cleanup(srv.Close)

	first := []byte(`"` + strings.Repeat("a", 3*wsReadBufferSize) + `"`)
	second := []byte(`"` + strings.Repeat("b", 4*wsWriteBufferSize) + `"`)
	sock, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	defer sock.Close()
	require.NoError(t, sock.SetDeadline(time.Now().Add(30*time.Second)))
	upgrade := "GET / HTTP/1.1\r\nHost: " + strings.TrimPrefix(srv.URL, "http://") + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	_, err = sock.Write(append([]byte(upgrade), maskedFrame(first)...))
	require.NoError(t, err)
	br := bufio.NewReader(sock)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	_, err = sock.Write(maskedFrame(second))
	require.NoError(t, err)
	for _, want := range [][]byte{first, second} {
		header := make([]byte, 4)
		_, err := io.ReadFull(br, header)
		require.NoError(t, err)
		require.Equal(t, []byte{0x81, 126}, header[:2], "an unmasked text frame with a 16-bit length")
		got := make([]byte, int(header[2])<<8|int(header[3]))
		_, err = io.ReadFull(br, got)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
}
