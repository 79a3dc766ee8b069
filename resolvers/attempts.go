package resolvers

import (
	"context"
	"fmt"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/graph"
)

type outboxAttemptResolver struct{ *Resolver }

// OutboxAttempt implements graph.ResolverRoot.
func (r *Resolver) OutboxAttempt() graph.OutboxAttemptResolver { return &outboxAttemptResolver{r} }

// Attempts implements graph.OutboxEventResolver: the event's kept runs,
// newest first.
func (r *outboxEventResolver) Attempts(ctx context.Context, obj *gateway.OutboxEvent, first *int) ([]gateway.OutboxAttempt, error) {
	n := gateway.AttemptsKeptPerEvent
	if first != nil {
		if *first < 1 || *first > gateway.AttemptsKeptPerEvent {
			return nil, gateway.NewInputError("first", fmt.Sprintf("must be between 1 and %d", gateway.AttemptsKeptPerEvent))
		}
		n = *first
	}
	attempts, err := loadersFrom(ctx).attempts.Load(ctx, obj.ID)
	if err != nil {
		return nil, err
	}
	return attempts[:min(n, len(attempts))], nil
}

// WaitReason implements graph.OutboxEventResolver.
func (r *outboxEventResolver) WaitReason(_ context.Context, obj *gateway.OutboxEvent) (*gateway.OutboxWait, error) {
	return r.Service.EventWait(*obj), nil
}

// DurationMs implements graph.OutboxAttemptResolver.
func (r *outboxAttemptResolver) DurationMs(_ context.Context, obj *gateway.OutboxAttempt) (int, error) {
	return int(obj.FinishedAt.Sub(obj.StartedAt).Milliseconds()), nil
}
