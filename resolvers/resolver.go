// Package resolvers is the GraphQL edge: thin resolvers that map GraphQL
// arguments to domain calls and domain results back, the dataloaders that
// batch the graph's edges, and the error presentation that turns domain
// errors into coded GraphQL errors.
package resolvers

import (
	"context"
	"errors"

	"github.com/vikstrous/dataloadgen"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/graph"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// Resolver is the root resolver: it carries the dependencies every resolver
// needs.
type Resolver struct {
	Service *gateway.Service
	// Env is where resolvers log.
	Env lifecycle.Env
}

var _ graph.ResolverRoot = (*Resolver)(nil)

type (
	auditEntryResolver     struct{ *Resolver }
	commitJobResolver      struct{ *Resolver }
	contextItemResolver    struct{ *Resolver }
	memoryFeedbackResolver struct{ *Resolver }
	memoryRefResolver      struct{ *Resolver }
	mutationResolver       struct{ *Resolver }
	outboxEventResolver    struct{ *Resolver }
	queryResolver          struct{ *Resolver }
	sessionResolver        struct{ *Resolver }
)

// AuditEntry implements graph.ResolverRoot.
func (r *Resolver) AuditEntry() graph.AuditEntryResolver { return &auditEntryResolver{r} }

// CommitJob implements graph.ResolverRoot.
func (r *Resolver) CommitJob() graph.CommitJobResolver { return &commitJobResolver{r} }

// ContextItem implements graph.ResolverRoot.
func (r *Resolver) ContextItem() graph.ContextItemResolver { return &contextItemResolver{r} }

// MemoryFeedback implements graph.ResolverRoot.
func (r *Resolver) MemoryFeedback() graph.MemoryFeedbackResolver { return &memoryFeedbackResolver{r} }

// MemoryRef implements graph.ResolverRoot.
func (r *Resolver) MemoryRef() graph.MemoryRefResolver { return &memoryRefResolver{r} }

// Mutation implements graph.ResolverRoot.
func (r *Resolver) Mutation() graph.MutationResolver { return &mutationResolver{r} }

// OutboxEvent implements graph.ResolverRoot.
func (r *Resolver) OutboxEvent() graph.OutboxEventResolver { return &outboxEventResolver{r} }

// Query implements graph.ResolverRoot.
func (r *Resolver) Query() graph.QueryResolver { return &queryResolver{r} }

// Subscription implements graph.ResolverRoot.
func (r *Resolver) Subscription() graph.SubscriptionResolver { return &subscriptionResolver{r} }

// Session implements graph.ResolverRoot.
func (r *Resolver) Session() graph.SessionResolver { return &sessionResolver{r} }

// loadOptional loads one record for a nullable field: a missing record is
// null, not an error.
func loadOptional[T any](ctx context.Context, l *idLoader[T], id *string) (*T, error) {
	if id == nil || *id == "" {
		return nil, nil
	}
	v, err := l.Load(ctx, *id)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func sessionOf(workspaceID, sessionID string) *gateway.Session {
	return &gateway.Session{ID: gateway.SessionNodeID(workspaceID, sessionID), WorkspaceID: workspaceID, SessionID: sessionID}
}
