package resolvers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// frameWriter writes one connection's frames. A frame that becomes due
// while another is being written waits for the writer, which then writes
// every frame waiting at that moment with one system call: each is still its
// own websocket frame, only the socket write is shared. A caller returns once
// its frame is written (or has failed), so a client that stops reading still
// holds up only its own connection, for at most wsWriteTimeout.
type frameWriter struct {
	conn *websocket.Conn
	held *heldWriter // nil when the connection could not be wrapped

	mu      sync.Mutex
	writing bool
	pending *frameBatch
}

// frameBatch is the frames that became due while a write was under way.
type frameBatch struct {
	frames [][]byte
	done   chan struct{}
}

// write writes one encoded text frame.
func (w *frameWriter) write(data []byte) {
	w.mu.Lock()
	if w.pending == nil {
		w.pending = &frameBatch{done: make(chan struct{})}
	}
	batch := w.pending
	batch.frames = append(batch.frames, data)
	if w.writing {
		w.mu.Unlock()
		<-batch.done
		return
	}
	w.writing = true
	w.mu.Unlock()

	// This caller writes until nothing is waiting: its own batch first, then
	// whatever became due meanwhile.
	for {
		w.mu.Lock()
		batch := w.pending
		w.pending = nil
		if batch == nil {
			w.writing = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		w.writeBatch(batch.frames)
		close(batch.done)
	}
}

func (w *frameWriter) writeBatch(frames [][]byte) {
	ctx, cancel := context.WithTimeout(context.Background(), wsWriteTimeout)
	defer cancel()
	if len(frames) == 1 || w.held == nil {
		for _, f := range frames {
			if w.conn.Write(ctx, websocket.MessageText, f) != nil {
				return
			}
		}
		return
	}
	w.held.hold()
	defer func() { _ = w.held.release(time.Now().Add(wsWriteTimeout)) }()
	for _, f := range frames {
		if w.conn.Write(ctx, websocket.MessageText, f) != nil {
			return
		}
	}
}

// heldWriter sits between the websocket library's buffered writer and the
// socket. While held, what the library flushes is kept; release writes it
// all at once. Any write that is not held first sends what is kept, so order
// never changes and nothing stays behind.
type heldWriter struct {
	conn net.Conn
	// socket receives the bytes; it is conn, or a wrapper in tests.
	socket io.Writer

	mu      sync.Mutex
	holding bool
	// kept is nil when nothing is kept: the buffer goes back to keptBuffers
	// once written, so an idle connection holds none.
	kept *[]byte
}

// keptBuffers are the buffers of batches under way, shared by every
// connection.
var keptBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxKeptRetained bounds a buffer that goes back to keptBuffers.
const maxKeptRetained = 64 << 10

func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.holding {
		h.keep(p)
		return len(p), nil
	}
	if h.kept == nil {
		return h.socket.Write(p)
	}
	h.keep(p)
	if err := h.flushLocked(); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *heldWriter) keep(p []byte) {
	if h.kept == nil {
		h.kept = keptBuffers.Get().(*[]byte)
	}
	*h.kept = append(*h.kept, p...)
}

func (h *heldWriter) hold() {
	h.mu.Lock()
	h.holding = true
	h.mu.Unlock()
}

// release stops holding and writes what was kept, by deadline.
func (h *heldWriter) release(deadline time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding = false
	if h.kept == nil {
		return nil
	}
	// The library bounds its own writes with their contexts; this one is
	// outside them, so it gets a deadline of its own.
	_ = h.conn.SetWriteDeadline(deadline)
	defer func() { _ = h.conn.SetWriteDeadline(time.Time{}) }()
	return h.flushLocked()
}

func (h *heldWriter) flushLocked() error {
	buf := h.kept
	h.kept = nil
	_, err := h.socket.Write(*buf)
	if cap(*buf) <= maxKeptRetained {
		*buf = (*buf)[:0]
		keptBuffers.Put(buf)
	}
	return err
}

// Buffers of a websocket connection. Client messages (connection_init,
// subscribe, complete, pings) are small; a longer one is read past the
// buffer. A frame that does not fit the write buffer costs a second write
// system call, unless it is part of a batch (which the heldWriter keeps).
const (
	wsReadBufferSize  = 512
	wsWriteBufferSize = 1 << 10
)

// heldResponseWriter hands the websocket library a hijacked connection
// whose buffered writer drains into a heldWriter, with buffers sized for
// websocket messages rather than the server's 4 KiB each.
type heldResponseWriter struct {
	http.ResponseWriter
	held *heldWriter
}

func (w *heldResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		return nil, nil, fmt.Errorf("flush before the upgrade: %w", err)
	}
	// What the client sent after the upgrade request is already buffered:
	// it moves to the new reader's buffer, where the websocket library looks
	// for it.
	early := brw.Reader.Buffered()
	r := bufio.NewReaderSize(conn, max(wsReadBufferSize, early))
	if early > 0 {
		b, err := brw.Reader.Peek(early)
		if err == nil {
			r.Reset(io.MultiReader(bytes.NewReader(b), conn))
			_, err = r.Peek(early)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading what followed the upgrade request: %w", err)
		}
	}
	w.held = &heldWriter{conn: conn, socket: conn}
	rw := bufio.NewReadWriter(r, bufio.NewWriterSize(w.held, wsWriteBufferSize))
	// The server keeps its reader and writer for as long as the handler
	// runs, which is the connection's life: emptied, they let their 4 KiB
	// buffers go. Nothing uses them after a hijack.
	*brw.Reader, *brw.Writer = bufio.Reader{}, bufio.Writer{}
	return conn, rw, nil
}

func (w *heldResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
