package resolvers

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/memory-gateway/memory-gateway/apierror"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// Shared subscription execution. A job stream gives every subscriber with
// the same document, variables and key the same messages. So its selection
// is executed once per change for all of them, and the same payload bytes go
// to each; only the frame's id differs. Each subscriber still takes its own
// place under the key's subscription cap, and leaves on its own; the
// execution ends with the last one.

// sharedRootFields are the subscriptions executed once for all their
// subscribers. true: the stream starts with the job's current state, so a
// subscriber that joins a running stream first gets its latest message
// (which is that state); false: a change stream, from now on.
var sharedRootFields = map[string]bool{
	"commitJobsUpdated": false,
	"commitJobUpdated":  true,
	"jobUpdated":        true,
}

// listenerQueue bounds the messages waiting for one subscriber's socket; a
// subscriber that falls further behind is ended (it may subscribe again),
// rather than slowing the others.
const listenerQueue = 256

// Subscribers is what shared execution needs of the service.
type Subscribers interface {
	Caller(ctx context.Context) (gateway.Principal, error)
	AdmitSubscriber(ctx context.Context) (release func(), err error)
}

// sharedStreams are the shared executions of one handler.
type sharedStreams struct {
	subscribers Subscribers

	mu      sync.Mutex
	streams map[string]*sharedStream
}

func newSharedStreams(s Subscribers) *sharedStreams {
	return &sharedStreams{subscribers: s, streams: map[string]*sharedStream{}}
}

// sharedStream is one execution and its listeners.
type sharedStream struct {
	key    string
	cancel context.CancelFunc
	// replay: a joiner first gets last.
	replay    bool
	mu        sync.Mutex
	listeners map[*listener]struct{}
	last      *streamEvent
	ended     bool
}

// streamEvent is a message to send, or the end of the stream (errs, or a
// completion when errs is nil). One event goes to every listener.
type streamEvent struct {
	// frameTail is the "next" frame after its id, encoded once for all:
	// ,"type":"next","payload":{…}}
	frameTail []byte
	end       bool
	errs      gqlerror.List
}

// listener is one subscriber's place in a stream: the events waiting for
// its socket. The queue grows with what is waiting, so an idle subscriber
// holds almost nothing.
type listener struct {
	// stream is the stream the listener joined (set under sharedStreams.mu).
	stream *sharedStream
	// wake holds a signal while events (or the end of the queue) wait.
	wake chan struct{}

	mu     sync.Mutex
	queue  []*streamEvent
	behind bool // the queue overflowed: no more events come
}

func newListener() *listener { return &listener{wake: make(chan struct{}, 1)} }

// push queues ev; a full queue instead ends the listener (it reports that
// it fell behind, after what is queued) and push returns false.
func (l *listener) push(ev *streamEvent) bool {
	l.mu.Lock()
	full := len(l.queue) >= listenerQueue
	if full {
		l.behind = true
	} else {
		l.queue = append(l.queue, ev)
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return !full
}

// maxSpareQueue bounds the queue a listener keeps between events.
const maxSpareQueue = 16

// take returns the events waiting, in order, and whether the queue ended
// after them; spare (emptied) becomes the next queue.
func (l *listener) take(spare []*streamEvent) (events []*streamEvent, behind bool) {
	clear(spare)
	if cap(spare) > maxSpareQueue {
		spare = nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	events, l.queue = l.queue, spare[:0]
	return events, l.behind
}

// keyOf names the stream an operation shares, or reports that it is not
// shared: a subscription of one shared root field.
func (s *sharedStreams) keyOf(ctx context.Context, rc *graphql.OperationContext) (string, bool) {
	if s == nil || rc.Operation == nil || rc.Operation.Operation != ast.Subscription || len(rc.Operation.SelectionSet) != 1 {
		return "", false
	}
	field, ok := rc.Operation.SelectionSet[0].(*ast.Field)
	if !ok {
		return "", false
	}
	if _, shared := sharedRootFields[field.Name]; !shared {
		return "", false
	}
	p, err := s.subscribers.Caller(ctx)
	if err != nil {
		return "", false
	}
	vars, err := json.Marshal(rc.Variables) // map keys sorted: canonical
	if err != nil {
		return "", false
	}
	// The whole principal, not only its name: a key whose grants changed
	// (a reloaded keys file) never joins a stream of its old grants.
	return fmt.Sprintf("%+v", p) + "\x00" + rc.OperationName + "\x00" + rc.RawQuery + "\x00" + string(vars), true
}

// join adds l to the stream of key, starting its execution when it has
// none; leave must follow.
func (s *sharedStreams) join(ctx context.Context, key string, l *listener, exec graphql.GraphExecutor, rc *graphql.OperationContext) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[key]
	if st != nil {
		st.mu.Lock()
		if !st.ended {
			st.listeners[l] = struct{}{}
			l.stream = st
			if st.replay && st.last != nil {
				l.push(st.last) // a fresh queue: room for one
			}
			st.mu.Unlock()
			return
		}
		st.mu.Unlock()
	}
	// The execution outlives the subscriber that started it: it ends with
	// the last listener.
	runCtx, cancel := context.WithCancel(gateway.WithSubscriberAdmitted(context.WithoutCancel(ctx)))
	field := rc.Operation.SelectionSet[0].(*ast.Field) // keyOf checked it
	st = &sharedStream{key: key, cancel: cancel, replay: sharedRootFields[field.Name], listeners: map[*listener]struct{}{l: {}}}
	l.stream = st
	s.streams[key] = st
	go s.execute(runCtx, key, st, exec, rc)
}

// leave removes l; the last listener to leave ends the execution.
func (s *sharedStreams) leave(l *listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := l.stream
	if st == nil {
		return
	}
	st.mu.Lock()
	delete(st.listeners, l)
	last := len(st.listeners) == 0
	st.mu.Unlock()
	if last {
		st.cancel()
		if s.streams[st.key] == st {
			delete(s.streams, st.key)
		}
	}
}

// execute runs the operation once and hands every result to every listener.
func (s *sharedStreams) execute(ctx context.Context, key string, st *sharedStream, exec graphql.GraphExecutor, rc *graphql.OperationContext) {
	errs := streamResponses(ctx, exec, rc, func(payload []byte) {
		tail := make([]byte, 0, len(payload)+32)
		tail = append(tail, `,"type":"next","payload":`...)
		tail = append(append(tail, payload...), '}')
		st.broadcast(&streamEvent{frameTail: tail})
	})
	s.end(key, st, &streamEvent{end: true, errs: errs})
}

// broadcast queues ev for every listener; one whose queue is full is ended.
func (st *sharedStream) broadcast(ev *streamEvent) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.last = ev
	for l := range st.listeners {
		if !l.push(ev) {
			delete(st.listeners, l) // the listener reports it fell behind
		}
	}
}

// end ends the stream for every listener.
func (s *sharedStreams) end(key string, st *sharedStream, ev *streamEvent) {
	s.mu.Lock()
	if s.streams[key] == st {
		delete(s.streams, key)
	}
	s.mu.Unlock()
	st.mu.Lock()
	st.ended = true
	for l := range st.listeners {
		if !l.push(ev) {
			delete(st.listeners, l)
		}
	}
	st.mu.Unlock()
	st.cancel()
}

// runShared serves one subscriber of a shared stream.
func (c *wsSession) runShared(ctx context.Context, id string, seq uint64, key string, rc *graphql.OperationContext) {
	release, err := c.t.shared.subscribers.AdmitSubscriber(ctx)
	if err != nil {
		e := apierror.Classify(err, nil)
		c.writeErrors(id, gqlerror.List{{Message: e.Message, Extensions: e.Extensions()}})
		return
	}
	defer release()
	head, err := json.Marshal(id)
	if err != nil {
		return
	}
	head = append([]byte(`{"id":`), head...)
	l := newListener()
	c.t.shared.join(ctx, key, l, c.exec, rc)
	defer c.t.shared.leave(l)
	var events []*streamEvent
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
		var behind bool
		events, behind = l.take(events)
		for _, ev := range events {
			switch {
			case ctx.Err() != nil:
				return
			case ev.end && len(ev.errs) > 0:
				c.writeErrors(id, ev.errs)
				return
			case ev.end:
				c.completeIfActive(id, seq)
				return
			default:
				c.writeRaw(append(head[:len(head):len(head)], ev.frameTail...))
			}
		}
		if behind {
			c.writeErrors(id, gqlerror.List{{
				Message:    "this subscriber fell too far behind the stream: subscribe again",
				Extensions: map[string]any{"code": CodeUnavailable, "retryable": true},
			}})
			return
		}
	}
}
