package resolvers

import (
	"context"
	"errors"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/graph"
	"github.com/memory-gateway/memory-gateway/graph/model"
)

type (
	erasureJobResolver     struct{ *Resolver }
	erasureRequestResolver struct{ *Resolver }
)

// ErasureJob implements graph.ResolverRoot.
func (r *Resolver) ErasureJob() graph.ErasureJobResolver { return &erasureJobResolver{r} }

// ErasureRequest implements graph.ResolverRoot.
func (r *Resolver) ErasureRequest() graph.ErasureRequestResolver { return &erasureRequestResolver{r} }

// EraseSubject implements graph.MutationResolver.
func (r *mutationResolver) EraseSubject(ctx context.Context, input gateway.EraseSubjectInput) (*model.EraseSubjectPayload, error) {
	res, err := r.Service.EraseSubject(ctx, input)
	if err != nil {
		return nil, inArg("input", err)
	}
	return &model.EraseSubjectPayload{Request: &res.Request, Created: res.Created}, nil
}

// ErasureRequest implements graph.QueryResolver.
func (r *queryResolver) ErasureRequest(ctx context.Context, id string) (*gateway.ErasureRequest, error) {
	req, err := r.Service.Reader(ctx).ErasureRequest(ctx, id)
	if err != nil {
		return nil, inArg("id", err)
	}
	return &req, nil
}

// ErasureRequests implements graph.QueryResolver.
func (r *queryResolver) ErasureRequests(ctx context.Context, filter *gateway.ErasureFilter, first *int, after *string, last *int, before *string) (*model.ErasureRequestConnection, error) {
	p, err := pagingRequest(first, after, last, before)
	if err != nil {
		return nil, err
	}
	reader, f := r.Service.Reader(ctx), deref(filter)
	page, err := reader.ListErasureRequests(ctx, f, p)
	if err != nil {
		return nil, err
	}
	total, err := reader.ErasureRequestTotal(ctx, f, countsWanted(ctx))
	if err != nil {
		return nil, err
	}
	e, info := edges(page, func(x gateway.ErasureRequest) string { return encodeCursor(x.CreatedAt, x.ID) },
		func(c string, n *gateway.ErasureRequest) model.ErasureRequestEdge {
			return model.ErasureRequestEdge{Cursor: c, Node: n}
		})
	return &model.ErasureRequestConnection{Edges: e, PageInfo: info, TotalCount: total}, nil
}

// jobOf loads an erasure request's job.
func jobOf(ctx context.Context, req *gateway.ErasureRequest) (gateway.CommitJob, error) {
	return loadersFrom(ctx).jobs.Load(ctx, req.JobID)
}

// Status implements graph.ErasureRequestResolver.
func (r *erasureRequestResolver) Status(ctx context.Context, obj *gateway.ErasureRequest) (gateway.ErasureStatus, error) {
	job, err := jobOf(ctx, obj)
	if err != nil {
		return "", err
	}
	return gateway.ErasureStatusOf(job), nil
}

// Job implements graph.ErasureRequestResolver.
func (r *erasureRequestResolver) Job(ctx context.Context, obj *gateway.ErasureRequest) (*gateway.ErasureJob, error) {
	job, err := jobOf(ctx, obj)
	if err != nil {
		return nil, err
	}
	return &gateway.ErasureJob{CommitJob: job}, nil
}

// Backends implements graph.ErasureRequestResolver.
func (r *erasureRequestResolver) Backends(ctx context.Context, obj *gateway.ErasureRequest) ([]gateway.ErasureBackendResult, error) {
	page, err := loadersFrom(ctx).eventsByJob.load(ctx, obj.JobID, gateway.PageRequest{First: gateway.PageSizeMax})
	if err != nil {
		return nil, err
	}
	return gateway.ErasureBackendResults(page.Items), nil
}

// FinishedAt implements graph.ErasureRequestResolver.
func (r *erasureRequestResolver) FinishedAt(ctx context.Context, obj *gateway.ErasureRequest) (*time.Time, error) {
	job, err := jobOf(ctx, obj)
	if err != nil {
		return nil, err
	}
	return job.FinishedAt, nil
}

// OutboxSummary implements graph.ErasureJobResolver.
func (r *erasureJobResolver) OutboxSummary(ctx context.Context, obj *gateway.ErasureJob) (*gateway.OutboxSummary, error) {
	return (&commitJobResolver{r.Resolver}).OutboxSummary(ctx, &obj.CommitJob)
}

// OutboxEvents implements graph.ErasureJobResolver.
func (r *erasureJobResolver) OutboxEvents(ctx context.Context, obj *gateway.ErasureJob, first *int, after *string, last *int, before *string) (*model.OutboxEventConnection, error) {
	return (&commitJobResolver{r.Resolver}).OutboxEvents(ctx, &obj.CommitJob, first, after, last, before)
}

// Request implements graph.ErasureJobResolver.
func (r *erasureJobResolver) Request(ctx context.Context, obj *gateway.ErasureJob) (*gateway.ErasureRequest, error) {
	id, _ := obj.Metadata["erasure_id"].(string)
	req, err := loadersFrom(ctx).erasures.Load(ctx, id)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, &gateway.NotFoundError{What: "erasure request"}
	}
	if err != nil {
		return nil, err
	}
	return &req, nil
}

// Owner implements graph.OutboxEventResolver.
func (r *outboxEventResolver) Owner(ctx context.Context, obj *gateway.OutboxEvent) (gateway.Job, error) {
	job, err := loadOptional(ctx, loadersFrom(ctx).jobs, obj.JobID)
	if err != nil || job == nil {
		return nil, err
	}
	return gateway.AsJob(*job), nil
}

// JobUpdated implements graph.SubscriptionResolver.
func (r *subscriptionResolver) JobUpdated(ctx context.Context, id string) (<-chan gateway.Job, error) {
	states, err := r.Service.SubscribeCommitJob(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make(chan gateway.Job, 1)
	go func() {
		defer close(out)
		for j := range states {
			select {
			case out <- gateway.AsJob(j):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
