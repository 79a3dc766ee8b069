package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// adapterCall is one call to a backend adapter.
type adapterCall[T any] struct {
	backend   backendtype.Backend
	operation string // Call* name, for metrics and spans
	timeout   time.Duration
	call      func(ctx context.Context) (T, error)
	// status is the result's status, for the call's outcome (nil: success).
	status func(T) backendtype.ResultStatus
	// late receives an answer that arrived after the caller stopped
	// waiting (to take back a write nobody recorded); nil drops it. It runs
	// on the adapter call's goroutine once the call returned, outside its
	// recover: any backend call it makes goes through callAdapter.
	late func(T)
}

// callAdapter is the one path of every backend call — ingest, retrieval,
// commit, feedback, take-backs and health probes: it makes c bounded, observed and
// panic-safe. It returns when the adapter answers or the timeout passes,
// whichever is first: an adapter that ignores its context cannot hold an
// ingest, a retrieval or a worker slot past its timeout (nor, with them, a
// de-duplication key or a lease). A panic in the adapter is logged with its
// stack and returned as ErrAdapterPanicked; an answer after the timeout is a
// timeout (callTimeout), whatever the adapter made of it.
func callAdapter[T any](ctx context.Context, s *core, c adapterCall[T]) (res T, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx, end := s.observer.StartCall(ctx, c.backend, c.operation)
	defer func() {
		status := backendtype.ResultSuccess
		if c.status != nil && err == nil {
			status = c.status(res)
		}
		end(callOutcome(status, err))
	}()
	// Whoever moves the state first decides: the adapter's goroutine
	// delivering its answer, or the caller giving up on it (then the answer,
	// when it comes, is late).
	const waiting, delivered, abandoned = 0, 1, 2
	var state atomic.Int32
	done := make(chan adapterAnswer[T], 1)
	go func() {
		a := invokeAdapter(ctx, s, c)
		if state.CompareAndSwap(waiting, delivered) {
			done <- a
		} else if c.late != nil && a.err == nil {
			// Outside invokeAdapter's recovering frame: what late does
			// with the answer (a take-back is another backend call) goes
			// through callAdapter again, bounded, observed and recovered
			// on its own.
			c.late(a.res)
		}
	}()
	select {
	case a := <-done:
		res, err = a.res, a.err
	case <-ctx.Done():
		if state.CompareAndSwap(waiting, abandoned) {
			var zero T
			res, err = zero, ctx.Err()
		} else {
			a := <-done // delivered at this very moment
			res, err = a.res, a.err
		}
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = &callTimeout{after: c.timeout, cause: err}
	}
	return res, err
}

// adapterAnswer is what one adapter call answered.
type adapterAnswer[T any] struct {
	res T
	err error
}

// invokeAdapter runs c's call, turning a panic into ErrAdapterPanicked. The
// panic value may hold content: it is logged with the stack, redacted.
func invokeAdapter[T any](ctx context.Context, s *core, c adapterCall[T]) (a adapterAnswer[T]) {
	defer func() {
		if r := recover(); r != nil {
			s.logger.ErrorContext(ctx, "gateway: backend adapter panicked",
				slog.String("backend", string(c.backend)), slog.String("operation", c.operation),
				slog.String("panic", truncate(s.redactError("", fmt.Sprint(r)), maxErrorMessageLength)),
				slog.String("stack", string(debug.Stack())))
			a = adapterAnswer[T]{err: ErrAdapterPanicked}
		}
	}()
	a.res, a.err = c.call(ctx)
	return a
}

// callTimeout is a call that failed once its timeout had passed, whatever
// the adapter made of it: it counts as a timeout.
type callTimeout struct {
	after time.Duration
	cause error
}

func (e *callTimeout) Error() string {
	if errors.Is(e.cause, context.DeadlineExceeded) {
		return fmt.Sprintf("backend timed out after %s", e.after)
	}
	return fmt.Sprintf("backend timed out after %s: %v", e.after, e.cause)
}

func (e *callTimeout) Unwrap() error { return e.cause }

// Timeout marks it for timedOut.
func (e *callTimeout) Timeout() bool { return true }
