package remote

import (
	"context"
	"errors"
	"sync"
	"time"
)

// breaker is a circuit breaker whose trial call is a health probe.
//
// Closed, every call goes out; BreakerFailures consecutive failures that say
// the backend is unwell (timeouts, refused connections, 5xx) open it. Open,
// no call goes out until the open period ends; the first call after that
// starts the probe — the backend's health endpoint, never the caller's own
// request — and every caller waits for its verdict. A healthy answer
// closes the breaker and the call proceeds; anything else opens it for
// another period. So while a backend is down, no real request is spent on
// finding out whether it is back.
//
// It reads time from an injected clock so that outages can be tested in
// simulated time (sony/gobreaker, used before, reads the wall clock and
// lets a real request through as the trial).
type breaker struct {
	threshold uint32
	openFor   time.Duration
	now       func() time.Time
	probe     func(ctx context.Context) error

	mu        sync.Mutex
	failures  uint32    // consecutive, while closed
	open      bool      // the circuit is open
	openUntil time.Time // when open: the next probe is due at this time
	probing   chan struct{}
}

// admit lets a call go out (zero downUntil), or refuses it and says until
// when the backend is held down.
func (b *breaker) admit(ctx context.Context) (downUntil time.Time, err error) {
	for {
		b.mu.Lock()
		if !b.open {
			b.mu.Unlock()
			return time.Time{}, nil
		}
		if wait := b.probing; wait != nil {
			b.mu.Unlock()
			select {
			case <-wait:
				continue // judge again with the probe's verdict
			case <-ctx.Done():
				return time.Time{}, ctx.Err()
			}
		}
		if now := b.now(); now.Before(b.openUntil) {
			until := b.openUntil
			b.mu.Unlock()
			return until, nil
		}
		// The probe runs on its own, bounded by the probe's own timeout:
		// a caller giving up does not leave the breaker without a verdict.
		done := make(chan struct{})
		b.probing = done
		b.mu.Unlock()
		go b.runProbe(context.WithoutCancel(ctx), done)
	}
}

func (b *breaker) runProbe(ctx context.Context, done chan struct{}) {
	err := b.probe(ctx)
	b.mu.Lock()
	b.probing = nil
	if err == nil {
		b.open, b.failures = false, 0
	} else {
		b.openUntil = b.now().Add(b.openFor)
	}
	b.mu.Unlock()
	close(done)
}

// record counts a call's outcome. For a failure seen while the circuit is
// open (including the one that opened it), it returns until when the
// backend is held down.
func (b *breaker) record(err error) (downUntil time.Time) {
	if errors.Is(err, context.Canceled) {
		return time.Time{} // the caller gave up: says nothing of the backend
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !unwell(err) {
		// An answer — even to a call that went out before the circuit
		// opened — shows the backend is back.
		b.open, b.failures = false, 0
		return time.Time{}
	}
	if !b.open {
		b.failures++
		if b.failures < b.threshold {
			return time.Time{}
		}
		b.open, b.failures = true, 0
		b.openUntil = b.now().Add(b.openFor)
	}
	return b.openUntil
}

// state is "closed", "open" or "half_open" (a probe is due or running).
func (b *breaker) state() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.open:
		return "closed"
	case b.probing != nil || !b.now().Before(b.openUntil):
		return "half_open"
	default:
		return "open"
	}
}

// unwell reports whether a call's failure counts against the backend: no
// answer, or a server error. Any other answer — a permanent refusal, and
// also a retryable one that is about this call, not the backend (a busy
// path lock's 409, a 429) — shows the backend is up.
func unwell(err error) bool {
	if err == nil {
		return false
	}
	var re *Error
	if !errors.As(err, &re) {
		return true
	}
	return re.Retryable && (re.Status == 0 || re.Status >= 500)
}
