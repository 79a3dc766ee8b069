package resolvers

import (
	"context"

	"github.com/memory-gateway/memory-gateway/gateway"
)

type subscriptionResolver struct{ *Resolver }

// CommitJobUpdated implements graph.SubscriptionResolver.
func (r *subscriptionResolver) CommitJobUpdated(ctx context.Context, id string) (<-chan *gateway.CommitJob, error) {
	states, err := r.Service.SubscribeCommitJob(ctx, id)
	if err != nil {
		return nil, err
	}
	return pointers(ctx, states), nil
}

// CommitJobsUpdated implements graph.SubscriptionResolver.
func (r *subscriptionResolver) CommitJobsUpdated(ctx context.Context, workspaceID string, sessionID *string) (<-chan *gateway.CommitJob, error) {
	states, err := r.Service.SubscribeCommitJobs(ctx, workspaceID, deref(sessionID))
	if err != nil {
		return nil, err
	}
	return pointers(ctx, states), nil
}

// pointers adapts a stream of values to the stream of pointers gqlgen reads,
// closing when the source closes or the subscriber leaves.
func pointers(ctx context.Context, in <-chan gateway.CommitJob) <-chan *gateway.CommitJob {
	out := make(chan *gateway.CommitJob, 1)
	go func() {
		defer close(out)
		for j := range in {
			if j.Kind == gateway.JobKindErasure {
				continue // not a commit job: streamed by jobUpdated
			}
			select {
			case out <- &j:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
