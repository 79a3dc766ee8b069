package resolvers

import (
	"context"
	"strings"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/graph"
	"github.com/memory-gateway/memory-gateway/graph/model"
)

type webhookDeliveryResolver struct{ *Resolver }

// WebhookDelivery implements graph.ResolverRoot.
func (r *Resolver) WebhookDelivery() graph.WebhookDeliveryResolver {
	return &webhookDeliveryResolver{r}
}

// Endpoint implements graph.WebhookDeliveryResolver.
func (r *webhookDeliveryResolver) Endpoint(ctx context.Context, obj *gateway.WebhookDelivery) (*gateway.WebhookEndpoint, error) {
	e, err := loadersFrom(ctx).webhookEndpoints.Load(ctx, obj.EndpointID)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// CreateWebhookEndpoint implements graph.MutationResolver.
func (r *mutationResolver) CreateWebhookEndpoint(ctx context.Context, input gateway.CreateWebhookEndpointInput) (*model.CreateWebhookEndpointPayload, error) {
	e, secret, err := r.Service.CreateWebhookEndpoint(ctx, input)
	if err != nil {
		return nil, err
	}
	return &model.CreateWebhookEndpointPayload{Endpoint: &e, Secret: secret}, nil
}

// UpdateWebhookEndpoint implements graph.MutationResolver.
func (r *mutationResolver) UpdateWebhookEndpoint(ctx context.Context, input gateway.UpdateWebhookEndpointInput) (*model.UpdateWebhookEndpointPayload, error) {
	e, err := r.Service.UpdateWebhookEndpoint(ctx, input)
	if err != nil {
		return nil, err
	}
	return &model.UpdateWebhookEndpointPayload{Endpoint: &e}, nil
}

// DeleteWebhookEndpoint implements graph.MutationResolver.
func (r *mutationResolver) DeleteWebhookEndpoint(ctx context.Context, input model.DeleteWebhookEndpointInput) (*model.DeleteWebhookEndpointPayload, error) {
	if err := r.Service.DeleteWebhookEndpoint(ctx, input.ID); err != nil {
		return nil, err
	}
	return &model.DeleteWebhookEndpointPayload{ID: input.ID}, nil
}

// RotateWebhookSecret implements graph.MutationResolver.
func (r *mutationResolver) RotateWebhookSecret(ctx context.Context, id string) (string, error) {
	return r.Service.RotateWebhookSecret(ctx, id)
}

// RedriveWebhookDelivery implements graph.MutationResolver.
func (r *mutationResolver) RedriveWebhookDelivery(ctx context.Context, id string) (*gateway.WebhookDelivery, error) {
	d, err := r.Service.RedriveWebhookDelivery(ctx, id)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// WebhookEndpoints implements graph.QueryResolver.
func (r *queryResolver) WebhookEndpoints(ctx context.Context, workspaceID string) ([]gateway.WebhookEndpoint, error) {
	return r.Service.WebhookEndpoints(ctx, workspaceID)
}

// WebhookDeliveries implements graph.QueryResolver.
func (r *queryResolver) WebhookDeliveries(ctx context.Context, filter *gateway.WebhookDeliveryFilter, first *int, after *string, last *int, before *string) (*model.WebhookDeliveryConnection, error) {
	p, err := pagingRequest(first, after, last, before)
	if err != nil {
		return nil, err
	}
	page, err := r.Service.WebhookDeliveries(ctx, deref(filter), p)
	if err != nil {
		return nil, err
	}
	counts, err := r.Service.WebhookDeliveryCounts(ctx, deref(filter), countsWanted(ctx))
	if err != nil {
		return nil, err
	}
	e, info := edges(page, deliveryCursor, func(c string, n *gateway.WebhookDelivery) model.WebhookDeliveryEdge {
		return model.WebhookDeliveryEdge{Cursor: c, Node: n}
	})
	return &model.WebhookDeliveryConnection{Edges: e, PageInfo: info, TotalCount: counts.Total, StatusCounts: deliveryStatusCounts(counts.ByStatus)}, nil
}

func deliveryCursor(d gateway.WebhookDelivery) string { return encodeCursor(d.CreatedAt, d.ID) }

// webhookNode answers node(id:) for webhook ids: only to their workspace's
// admins; to anyone else the id does not exist.
func (r *queryResolver) webhookNode(ctx context.Context, id string) (gateway.Node, bool) {
	var n gateway.Node
	var err error
	switch {
	case strings.HasPrefix(id, gateway.PrefixWebhookEndpoint):
		var e gateway.WebhookEndpoint
		e, err = r.Service.WebhookEndpoint(ctx, id)
		n = e
	case strings.HasPrefix(id, gateway.PrefixWebhookDelivery):
		var d gateway.WebhookDelivery
		d, err = r.Service.WebhookDelivery(ctx, id)
		n = d
	default:
		return nil, false
	}
	if err != nil {
		return nil, true
	}
	return n, true
}
