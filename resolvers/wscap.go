package resolvers

import (
	"context"
	"fmt"
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
// connection.
type connectionSlots struct {
	limit int
	mu    sync.Mutex
	used  int
}

// take reports whether a place was free, and takes it.
func (s *connectionSlots) take() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used >= s.limit {
		return false
	}
	s.used++
	return true
}

// give hands a place back.
func (s *connectionSlots) give() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used--
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
// which the transport does when the operation completes, is stopped, or
// the connection goes.
func (connectionCap) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	slots, ok := ctx.Value(connectionSlotsKey{}).(*connectionSlots)
	if !ok {
		return next(ctx)
	}
	if !slots.take() {
		transport.AddSubscriptionError(ctx, tooManyOnConnection(slots.limit))
		return func(context.Context) *graphql.Response { return nil }
	}
	context.AfterFunc(ctx, slots.give)
	return next(ctx)
}
