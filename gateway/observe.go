package gateway

import (
	"context"
	"errors"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Backend call operations, as a CallObserver sees them.
const (
	CallIngestTurn    = "ingest_turn"
	CallCommitSession = "commit_session"
	CallApplyFeedback = "apply_feedback"
	CallRetrieve      = "retrieve"
	CallHealth        = "health"
	CallEraseSubject  = "erase_subject"
	CallVerifyErasure = "verify_erasure"
	CallExportSubject = "export_subject"
	CallRemoveTurn    = "remove_turn"
	CallReadTurn      = "read_turn"
)

// Backend call outcomes, as a CallObserver sees them.
const (
	OutcomeOK      = "ok"
	OutcomeError   = "error"
	OutcomeTimeout = "timeout"
	OutcomePending = "pending"
	OutcomeSkipped = "skipped"
)

// CallObserver watches backend calls, for metrics and tracing. StartCall is
// called before a call with the backend and one of the Call* operations; the
// call runs in the context it returns (which may carry a span), and end is
// called exactly once with one of the Outcome* values.
type CallObserver interface {
	StartCall(ctx context.Context, backend backendtype.Backend, operation string) (_ context.Context, end func(outcome string))
}

// WithheldObserver, when the CallObserver implements it too, counts the
// retrieved items left out because the caller's key does not reach them
// (the caller is never told; operators see how often it happens).
type WithheldObserver interface {
	ItemsWithheld(backend backendtype.Backend, reason string, n int)
}

// unobserved is the CallObserver of a service built without one.
type unobserved struct{}

func (unobserved) StartCall(ctx context.Context, _ backendtype.Backend, _ string) (context.Context, func(string)) {
	return ctx, func(string) {}
}

// callOutcome classifies a backend call's result for observers.
func callOutcome(status backendtype.ResultStatus, err error) string {
	switch {
	case timedOut(err):
		return OutcomeTimeout
	case err != nil, status == backendtype.ResultFailed:
		return OutcomeError
	case status == backendtype.ResultPending:
		return OutcomePending
	case status == backendtype.ResultSkipped:
		return OutcomeSkipped
	default:
		return OutcomeOK
	}
}

// timedOut reports whether err means the backend did not answer in time: the
// call's deadline passed, or the adapter's own timer fired first and says so
// with a Timeout method (as net.Error does).
func timedOut(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}
