package resolvers

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// tooManyOnConnection is the error of an operation over
// MaxSubscriptionsPerConnection, the same on every subprotocol.
func tooManyOnConnection(limit int) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf("too many subscriptions on this connection: it may hold %d at once; complete one first", limit),
		Extensions: map[string]any{"code": CodeTooManySubscriptions, "limit": limit},
	}
}

// connectionSlots are the places for live operations on one websocket
// connection: the contexts of the operations holding them. A place is
// free again as soon as its operation's context is done — checked when the
// next operation asks, so a stop read just before a start frees its place
// for that start whatever goroutine would otherwise hand it back.
type connectionSlots struct {
	limit int
	mu    sync.Mutex
	held  []context.Context
}

// take reports whether a place was free, and takes it for ctx.
func (s *connectionSlots) take(ctx context.Context) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = slices.DeleteFunc(s.held, func(c context.Context) bool { return c.Err() != nil })
	if len(s.held) >= s.limit {
		return false
	}
	s.held = append(s.held, ctx)
	return true
}

type connectionSlotsKey struct{}

// withConnectionSlots gives a connection's context its places: every
// operation started on the connection derives its context from it.
func withConnectionSlots(ctx context.Context, limit int) context.Context {
	return context.WithValue(ctx, connectionSlotsKey{}, &connectionSlots{limit: limit})
}

// connectionCap holds the operations of a connection whose context carries
// places (the legacy graphql-ws subprotocol, which gqlgen's transport
// serves and which has no cap of its own) to them. graphql-transport-ws
// counts its operations itself, with the same limit and error; HTTP and
// SSE carry one operation per request, so they have no places and pass.
type connectionCap struct{}

var (
	_ graphql.HandlerExtension     = connectionCap{}
	_ graphql.OperationInterceptor = connectionCap{}
)

// ExtensionName implements graphql.HandlerExtension.
func (connectionCap) ExtensionName() string { return "ConnectionCap" }

// Validate implements graphql.HandlerExtension.
func (connectionCap) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation implements graphql.OperationInterceptor: an operation
// that finds no free place ends at once in an error message (not a data
// message: nothing ran); one that does holds it until its context ends,
// which the transport does when the operation completes, is stopped (at
// once, as it reads the stop), or the connection goes.
func (connectionCap) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	slots, ok := ctx.Value(connectionSlotsKey{}).(*connectionSlots)
	if !ok {
		return next(ctx)
	}
	if !slots.take(ctx) {
		transport.AddSubscriptionError(ctx, tooManyOnConnection(slots.limit))
		return func(context.Context) *graphql.Response { return nil }
	}
	return next(ctx)
}
