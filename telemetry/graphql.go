package telemetry

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/requestinfo"
)

// OutcomeOK is the outcome of an operation without errors; otherwise it is
// the first error's code (BAD_USER_INPUT, NOT_FOUND, …).
const OutcomeOK = requestinfo.OutcomeOK

// outcomeError is the outcome of an error that carries no code.
const outcomeError = "ERROR"

// unknown labels a request that never became an operation (it failed to
// parse or validate).
const unknown = "unknown"

// ObserveRejected counts a GraphQL request that failed before it became an
// operation (unauthenticated, unparsable, invalid, too complex): the
// extension never saw it.
func (t *Telemetry) ObserveRejected(outcome string, elapsed time.Duration) {
	t.operations.WithLabelValues(unknown, unknown, outcome).Inc()
	t.operationDuration.WithLabelValues(unknown, unknown, outcome).Observe(elapsed.Seconds())
}

// GraphQL returns the handler extension that counts and times operations by
// type and root field, opens a span per operation and fills RequestInfo.
func (t *Telemetry) GraphQL() graphql.HandlerExtension { return graphqlExtension{t: t} }

type graphqlExtension struct{ t *Telemetry }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = graphqlExtension{}

func (graphqlExtension) ExtensionName() string { return "Telemetry" }

func (graphqlExtension) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation measures to the first response: the whole operation for
// queries and mutations, the initial state for subscriptions.
func (e graphqlExtension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	opType, field := describe(oc)
	started := oc.Stats.OperationStart
	if started.IsZero() {
		started = time.Now()
	}
	ctx, span := e.t.tracer.Start(ctx, "graphql "+opType+" "+field,
		trace.WithAttributes(attribute.String("graphql.operation.type", opType),
			attribute.String("graphql.operation.name", oc.OperationName),
			attribute.String("memory_gateway.graphql.field", field)))
	principal := ""
	if p, ok := gateway.PrincipalFrom(ctx); ok {
		principal = p.Name
	}
	requestinfo.NoteOperation(ctx, requestinfo.Operation{
		Principal: principal, Type: opType, Name: oc.OperationName, Field: field, Observed: true,
	})
	handler := next(ctx)
	var once sync.Once
	return func(ctx context.Context) *graphql.Response {
		resp := handler(ctx)
		once.Do(func() {
			outcome := responseOutcome(resp)
			e.t.operations.WithLabelValues(opType, field, outcome).Inc()
			e.t.operationDuration.WithLabelValues(opType, field, outcome).Observe(time.Since(started).Seconds())
			requestinfo.NoteErrorCode(ctx, outcome)
			if outcome != OutcomeOK {
				span.SetStatus(codes.Error, outcome)
			}
			span.SetAttributes(attribute.String("memory_gateway.graphql.outcome", outcome))
			span.End()
		})
		return resp
	}
}

// describe names an operation by its type and first root field; both come
// from the validated schema, so the label values are bounded.
func describe(oc *graphql.OperationContext) (opType, field string) {
	if oc == nil || oc.Operation == nil {
		return unknown, unknown
	}
	opType = string(oc.Operation.Operation)
	field = unknown
	for _, sel := range oc.Operation.SelectionSet {
		if f, ok := sel.(*ast.Field); ok {
			field = f.Name
			break
		}
	}
	return opType, field
}

// responseOutcome is "ok" or the code of the response's first error.
func responseOutcome(resp *graphql.Response) string {
	if resp == nil || len(resp.Errors) == 0 {
		return OutcomeOK
	}
	return errorCode(resp.Errors[0])
}

func errorCode(err *gqlerror.Error) string {
	if code, ok := err.Extensions["code"].(string); ok && code != "" {
		return code
	}
	return outcomeError
}
