// Package requestinfo holds what is learnt about one request as it passes
// the layers that know it: its id and trace id, set where the request comes
// in, and the facts the access log reports (the principal, the operation,
// its outcome), noted by the edge that runs it. It imports only the
// standard library, so an edge records facts without depending on whoever
// reports them.
package requestinfo

import (
	"context"
	"sync"
)

// OutcomeOK is the outcome of a request without errors; otherwise it is the
// first error's code (BAD_USER_INPUT, NOT_FOUND, …).
const OutcomeOK = "ok"

// Info collects the facts of one request. A websocket carries many
// operations: it reports the last.
type Info struct {
	requestID string
	traceID   string

	mu       sync.Mutex
	op       Operation
	outcome  string
	observed bool
}

// Operation is what a request runs, as the access log names it.
type Operation struct {
	Principal string
	// Type is query, mutation, subscription or the name of another kind
	// (an MCP tool call).
	Type  string
	Name  string
	Field string
	// Observed: whoever noted the operation counted it in the metrics
	// already.
	Observed bool
}

type infoKey struct{}

// Start begins collecting a request's facts; requestID and traceID are the
// ids it answers and logs under ("" for none).
func Start(ctx context.Context, requestID, traceID string) (context.Context, *Info) {
	info := &Info{requestID: requestID, traceID: traceID}
	return context.WithValue(ctx, infoKey{}, info), info
}

func from(ctx context.Context) *Info {
	info, _ := ctx.Value(infoKey{}).(*Info)
	return info
}

// RequestID is the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if info := from(ctx); info != nil {
		return info.requestID
	}
	return ""
}

// TraceID is the id of the trace the request ctx belongs to is part of, or
// "" outside a sampled or propagated trace.
func TraceID(ctx context.Context) string {
	if info := from(ctx); info != nil {
		return info.traceID
	}
	return ""
}

// NoteOperation records the operation the request runs, whose outcome is
// not known yet.
func NoteOperation(ctx context.Context, op Operation) {
	info := from(ctx)
	if info == nil {
		return
	}
	info.mu.Lock()
	defer info.mu.Unlock()
	info.op, info.outcome, info.observed = op, "", op.Observed
}

// NoteErrorCode records an error's code as the request's outcome (the first
// one wins); OutcomeOK records success unless an error was noted. The error
// presenter calls it for every error, so requests refused before they run
// get an outcome too.
func NoteErrorCode(ctx context.Context, code string) {
	info := from(ctx)
	if info == nil {
		return
	}
	info.mu.Lock()
	defer info.mu.Unlock()
	if info.outcome == "" || info.outcome == OutcomeOK {
		info.outcome = code
	}
}

// Facts is a snapshot of what was learnt about a request.
type Facts struct {
	Principal     string
	OperationType string
	OperationName string
	Field         string
	Outcome       string
	// Observed: the operation was counted in the metrics already.
	Observed bool
}

// Facts returns what was learnt about the request.
func (i *Info) Facts() Facts {
	i.mu.Lock()
	defer i.mu.Unlock()
	return Facts{Principal: i.op.Principal, OperationType: i.op.Type, OperationName: i.op.Name,
		Field: i.op.Field, Outcome: i.outcome, Observed: i.observed}
}
