package resolvers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// graphqlTransportWS is the graphql-transport-ws subprotocol as its
// specification (github.com/enisdenjo/graphql-ws, PROTOCOL.md) has it:
//
//   - 4400 for an invalid message (not JSON, an unknown type, a subscribe
//     without an id or a query);
//   - 4401 for a subscribe before the connection is acknowledged;
//   - 4403 when connection_init is refused (and when the key is revoked);
//   - 4408 when no connection_init arrives within the init timeout;
//   - 4409 for a subscribe whose id is still in use;
//   - 4429 for a second connection_init.
//
// A subscribe over the per-connection cap (or the per-key one, which the
// domain keeps) gets an error message coded TOO_MANY_SUBSCRIPTIONS; the
// connection stays open. Execution goes through the same executor as every
// transport. The legacy graphql-ws subprotocol stays with gqlgen's
// transport, under the same cap (connectionCap).
type graphqlTransportWS struct {
	acceptOptions websocket.AcceptOptions
	initTimeout   time.Duration
	keepAlive     time.Duration
	// init authenticates connection_init's payload; nil accepts everyone.
	init func(ctx context.Context, payload map[string]any) (context.Context, error)
	// perConnection caps the live subscriptions of one connection.
	perConnection int
	// readLimit bounds one message; 0 keeps the library's 32 KiB.
	readLimit int64
	// shared runs change streams once for all their subscribers; nil runs
	// every operation on its own.
	shared *sharedStreams
}

// MaxSubscriptionsPerConnectionDefault caps one websocket's subscriptions.
const MaxSubscriptionsPerConnectionDefault = 100

// Close codes of graphql-transport-ws.
const (
	closeInvalidMessage websocket.StatusCode = 4400
	closeUnauthorized   websocket.StatusCode = 4401
	closeForbidden      websocket.StatusCode = 4403
	closeInitTimeout    websocket.StatusCode = 4408
	closeDuplicateID    websocket.StatusCode = 4409
	closeTooManyInits   websocket.StatusCode = 4429
)

const graphqlTransportWSProtocol = "graphql-transport-ws"

var _ graphql.Transport = graphqlTransportWS{}

// Supports implements graphql.Transport: websocket upgrades that offer the
// graphql-transport-ws subprotocol.
func (graphqlTransportWS) Supports(r *http.Request) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(p) == graphqlTransportWSProtocol {
				return true
			}
		}
	}
	return false
}

// wsMessage is one frame of the protocol.
type wsFrame struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Do implements graphql.Transport.
func (t graphqlTransportWS) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	opts := t.acceptOptions
	opts.Subprotocols = []string{graphqlTransportWSProtocol}
	hw := &heldResponseWriter{ResponseWriter: w}
	conn, err := websocket.Accept(hw, r, &opts)
	if err != nil {
		return // Accept has answered
	}
	if t.readLimit > 0 {
		conn.SetReadLimit(t.readLimit)
	}
	c := &wsSession{t: t, conn: conn, exec: exec, headers: r.Header}
	c.frames = frameWriter{conn: conn, held: hw.held}
	c.serve(r.Context())
}

// activeOp is a live operation of a connection.
type activeOp struct {
	id string
	// seq tells apart operations a client ran one after another under one
	// id (subscribe, complete, subscribe again): what the first leaves
	// behind when it ends must not touch the second.
	seq    uint64
	cancel context.CancelFunc
}

// wsSession is one connection.
type wsSession struct {
	t       graphqlTransportWS
	conn    *websocket.Conn
	exec    graphql.GraphExecutor
	headers http.Header

	frames  frameWriter
	mu      sync.Mutex
	acked   bool
	initDue bool // connection_init received
	// ctx is the request's context until connection_init authenticates
	// the connection, then the authenticated one. The request's ends when
	// the connection does (after serve), or when the server shuts down.
	ctx context.Context
	// active are the live operations: a handful, so a slice (which costs
	// nothing until the first) rather than a map.
	active []activeOp
	opSeq  uint64
	closed bool
	// pinger sends the keep-alive pings once the connection is acknowledged.
	pinger *time.Timer
}

func (c *wsSession) serve(reqCtx context.Context) {
	c.ctx = reqCtx
	defer c.cancelAll()

	initTimer := time.AfterFunc(c.t.initTimeout, func() {
		c.mu.Lock()
		due := c.initDue
		c.mu.Unlock()
		if !due {
			c.close(closeInitTimeout, "Connection initialisation timeout")
		}
	})
	defer initTimer.Stop()

	// Reading ends when the connection closes — by the client, or by this
	// side (a protocol error, a revoked key, shutdown).
	readCtx := context.WithoutCancel(reqCtx)
	for {
		_, data, err := c.conn.Read(readCtx)
		if err != nil {
			c.close(websocket.StatusNormalClosure, "")
			return
		}
		var f wsFrame
		if err := json.Unmarshal(data, &f); err != nil || f.Type == "" {
			c.close(closeInvalidMessage, "Invalid message received")
			return
		}
		switch f.Type {
		case "connection_init":
			if !c.onInit(reqCtx, f) {
				return
			}
		case "ping":
			c.write(wsFrame{Type: "pong"})
		case "pong":
		case "subscribe":
			if !c.onSubscribe(f) {
				return
			}
		case "complete":
			if f.ID == "" {
				c.close(closeInvalidMessage, "Invalid message received")
				return
			}
			c.finish(f.ID)
		default:
			c.close(closeInvalidMessage, "Invalid message received")
			return
		}
	}
}

// onInit authenticates connection_init and acknowledges it; it reports
// whether the connection goes on.
func (c *wsSession) onInit(reqCtx context.Context, f wsFrame) bool {
	c.mu.Lock()
	again := c.initDue
	c.initDue = true
	c.mu.Unlock()
	if again {
		c.close(closeTooManyInits, "Too many initialisation requests")
		return false
	}
	var payload map[string]any
	if len(f.Payload) > 0 && string(f.Payload) != "null" {
		if err := json.Unmarshal(f.Payload, &payload); err != nil {
			c.close(closeInvalidMessage, "Invalid message received")
			return false
		}
	}
	ctx := c.ctx
	if c.t.init != nil {
		authed, err := c.t.init(ctx, payload)
		if err != nil {
			c.close(closeForbidden, "Forbidden")
			return false
		}
		ctx = authed
	}
	// A revoked key (its context ends with ErrKeyRevoked) loses the
	// connection; so does a server shutting down (the request context).
	context.AfterFunc(ctx, func() {
		if errors.Is(context.Cause(ctx), gateway.ErrKeyRevoked) {
			c.close(closeForbidden, "Forbidden: the API key was revoked")
			return
		}
		if reqCtx.Err() != nil {
			c.close(websocket.StatusGoingAway, "the server is going away")
		}
	})
	c.mu.Lock()
	c.ctx, c.acked = ctx, true
	c.mu.Unlock()
	c.write(wsFrame{Type: "connection_ack"})
	if c.t.keepAlive > 0 {
		c.startPings(ctx)
	}
	return true
}

// startPings keeps the connection alive through proxies that drop idle
// ones: a ping every keepAlive until ctx ends or the connection closes. A
// timer, not a goroutine, waits between pings.
func (c *wsSession) startPings(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.pinger = time.AfterFunc(c.t.keepAlive, func() {
		if ctx.Err() != nil || c.isClosed() {
			return
		}
		c.write(wsFrame{Type: "ping"})
		c.mu.Lock()
		if !c.closed && ctx.Err() == nil {
			c.pinger.Reset(c.t.keepAlive)
		}
		c.mu.Unlock()
	})
}

// onSubscribe starts an operation; it reports whether the connection goes
// on.
func (c *wsSession) onSubscribe(f wsFrame) bool {
	var params graphql.RawParams
	if f.ID == "" || json.Unmarshal(f.Payload, &params) != nil || (params.Query == "" && params.Extensions["persistedQuery"] == nil) {
		c.close(closeInvalidMessage, "Invalid message received")
		return false
	}
	c.mu.Lock()
	acked := c.acked
	duplicate := c.activeIndex(f.ID) >= 0
	full := len(c.active) >= c.t.perConnection
	var opCtx context.Context
	var seq uint64
	if acked && !duplicate && !full {
		var cancel context.CancelFunc
		opCtx, cancel = context.WithCancel(c.ctx)
		c.opSeq++
		seq = c.opSeq
		c.active = append(c.active, activeOp{id: f.ID, seq: seq, cancel: cancel})
	}
	c.mu.Unlock()
	switch {
	case !acked:
		c.close(closeUnauthorized, "Unauthorized")
		return false
	case duplicate:
		c.close(closeDuplicateID, fmt.Sprintf("Subscriber for %s already exists", f.ID))
		return false
	case full:
		c.writeErrors(f.ID, []*gqlerror.Error{tooManyOnConnection(c.t.perConnection)})
	default:
		go c.run(opCtx, f.ID, seq, &params)
	}
	return true
}

// run executes one operation and streams its results.
func (c *wsSession) run(ctx context.Context, id string, seq uint64, params *graphql.RawParams) {
	defer c.end(id, seq)
	ctx = graphql.StartOperationTrace(ctx)
	params.Headers = c.headers
	params.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	rc, errs := c.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		c.writeErrors(id, resp.Errors)
		return
	}
	if key, ok := c.t.shared.keyOf(ctx, rc); ok {
		c.runShared(ctx, id, seq, key, rc)
		return
	}
	if errs := streamResponses(ctx, c.exec, rc, func(payload []byte) {
		c.write(wsFrame{ID: id, Type: "next", Payload: payload})
	}); errs != nil {
		c.writeErrors(id, errs)
		return
	}
	c.completeIfActive(id, seq)
}

// streamResponses executes an operation and hands each result's JSON to
// next until it ends. An operation that fails before producing anything (a
// job that does not exist, a cap) returns its errors instead, to end in an
// error message, as the protocol has it; later errors travel with their
// results.
func streamResponses(ctx context.Context, exec graphql.GraphExecutor, rc *graphql.OperationContext, next func(payload []byte)) gqlerror.List {
	ctx = graphql.WithOperationContext(ctx, rc)
	responses, ctx := exec.DispatchOperation(ctx, rc)
	first := true
	for {
		resp := responses(ctx)
		if resp == nil || ctx.Err() != nil {
			return nil
		}
		if first && len(resp.Errors) > 0 && (len(resp.Data) == 0 || string(resp.Data) == "null") {
			return resp.Errors
		}
		first = false
		payload, err := json.Marshal(resp)
		if err != nil {
			continue
		}
		next(payload)
	}
}

// completeIfActive says an operation that ended on its own (not completed
// by the client, not cut by a closing connection) is complete.
func (c *wsSession) completeIfActive(id string, seq uint64) {
	c.mu.Lock()
	stillActive := c.opIndex(id, seq) >= 0
	c.mu.Unlock()
	if stillActive && !c.isClosed() {
		c.write(wsFrame{ID: id, Type: "complete"})
	}
}

// activeIndex is the place of operation id in active, or -1; c.mu is held.
func (c *wsSession) activeIndex(id string) int {
	return slices.IndexFunc(c.active, func(op activeOp) bool { return op.id == id })
}

// opIndex is the place of operation seq under id in active, or -1; c.mu
// is held.
func (c *wsSession) opIndex(id string, seq uint64) int {
	return slices.IndexFunc(c.active, func(op activeOp) bool { return op.id == id && op.seq == seq })
}

// finish forgets the operation the client completed.
func (c *wsSession) finish(id string) {
	c.mu.Lock()
	cancel := c.remove(c.activeIndex(id))
	c.mu.Unlock()
	cancel()
}

// end forgets an operation that ended, unless the client completed it and
// runs another under its id by now.
func (c *wsSession) end(id string, seq uint64) {
	c.mu.Lock()
	cancel := c.remove(c.opIndex(id, seq))
	c.mu.Unlock()
	cancel()
}

// remove takes active[i] out (nothing when i < 0) and returns its cancel;
// c.mu is held.
func (c *wsSession) remove(i int) context.CancelFunc {
	if i < 0 {
		return func() {}
	}
	cancel := c.active[i].cancel
	c.active = slices.Delete(c.active, i, i+1)
	return cancel
}

func (c *wsSession) cancelAll() {
	c.mu.Lock()
	for _, op := range c.active {
		op.cancel()
	}
	c.active = nil
	c.mu.Unlock()
}

func (c *wsSession) writeErrors(id string, errs gqlerror.List) {
	payload, err := json.Marshal(errs)
	if err != nil {
		return
	}
	c.write(wsFrame{ID: id, Type: "error", Payload: payload})
}

func (c *wsSession) write(f wsFrame) {
	data, err := json.Marshal(f)
	if err != nil {
		return
	}
	c.writeRaw(data)
}

// writeRaw writes one encoded frame; frames due together share a write.
func (c *wsSession) writeRaw(data []byte) { c.frames.write(data) }

// wsWriteTimeout bounds one frame's write: a client that stops reading is
// dropped rather than holding the operation.
const wsWriteTimeout = 10 * time.Second

func (c *wsSession) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *wsSession) close(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if c.pinger != nil {
		c.pinger.Stop()
	}
	c.mu.Unlock()
	c.cancelAll()
	_ = c.conn.Close(code, reason)
}
