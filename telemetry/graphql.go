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
)

// OutcomeOK is the outcome of an operation without errors; otherwise it is
// the first error's code (BAD_USER_INPUT, NOT_FOUND, …).
const OutcomeOK = "ok"

// outcomeError is the outcome of an error that carries no code.
const outcomeError = "ERROR"

// unknown labels a request that never became an operation (it failed to
// parse or validate).
const unknown = "unknown"

// RequestInfo collects what the access log says about a request, filled in
// as the request passes the layers that know it. A websocket carries many
// operations: it reports the last.
type RequestInfo struct {
	mu        sync.Mutex
	principal string
	opType    string
	opName    string
	field     string
	outcome   string
	observed  bool
}

type requestInfoKey struct{}

// WithRequestInfo starts collecting a request's facts.
func WithRequestInfo(ctx context.Context) (context.Context, *RequestInfo) {
	info := &RequestInfo{}
	return context.WithValue(ctx, requestInfoKey{}, info), info
}

func requestInfoFrom(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*RequestInfo)
	return info
}

// NoteErrorCode records an error's code as the request's outcome (the
// first one wins). The error presenter calls it for every error, so
// requests rejected before execution get an outcome too.
func NoteErrorCode(ctx context.Context, code string) {
	info := requestInfoFrom(ctx)
	if info == nil {
		return
	}
	info.mu.Lock()
	defer info.mu.Unlock()
	if info.outcome == "" || info.outcome == OutcomeOK {
		info.outcome = code
	}
}

// Facts is a snapshot of a RequestInfo.
type Facts struct {
	Principal     string
	OperationType string
	OperationName string
	Field         string
	Outcome       string
	// Observed: the GraphQL extension already counted the operation.
	Observed bool
}

// Facts returns what was learnt about the request.
func (i *RequestInfo) Facts() Facts {
	i.mu.Lock()
	defer i.mu.Unlock()
	return Facts{Principal: i.principal, OperationType: i.opType, OperationName: i.opName,
		Field: i.field, Outcome: i.outcome, Observed: i.observed}
}

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
	info := requestInfoFrom(ctx)
	if info != nil {
		info.mu.Lock()
		info.principal, info.opType, info.opName, info.field, info.observed = principal, opType, oc.OperationName, field, true
		info.outcome = ""
		info.mu.Unlock()
	}
	handler := next(ctx)
	var once sync.Once
	return func(ctx context.Context) *graphql.Response {
		resp := handler(ctx)
		once.Do(func() {
			outcome := responseOutcome(resp)
			e.t.operations.WithLabelValues(opType, field, outcome).Inc()
			e.t.operationDuration.WithLabelValues(opType, field, outcome).Observe(time.Since(started).Seconds())
			if info != nil {
				NoteErrorCode(ctx, outcome)
			}
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
