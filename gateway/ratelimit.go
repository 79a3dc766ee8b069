package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrRateLimited: the caller sent more than its rate allows.
var ErrRateLimited = errors.New("rate limited")

// RateLimitError says when to try again; it wraps ErrRateLimited.
type RateLimitError struct {
	Operation  string
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many %s requests: retry in %s", e.Operation, e.RetryAfter.Round(time.Millisecond))
}

// Unwrap makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// Rate-limited operations.
const (
	LimitIngest   = "ingest"
	LimitRetrieve = "retrieve"
	// LimitHealth is asking for backend health (one token per backends
	// field, aliases included).
	LimitHealth = "health"
)

// RateLimiter admits or refuses one operation of a principal.
type RateLimiter interface {
	// Allow reports whether key may run op now, and if not, when to retry.
	Allow(ctx context.Context, key, op string) (bool, time.Duration)
}

// TokenLeaseRequest asks a deployment's shared token bucket of (Principal,
// Operation) for up to Want tokens. The bucket holds at most Burst tokens,
// starts full and refills at PerSecond from its last lease to Now.
type TokenLeaseRequest struct {
	Principal string
	Operation string
	PerSecond float64
	Burst     int
	Want      int
	Now       time.Time
}

// TokenLease is what a bucket granted: Granted whole tokens (0 when it
// holds less than one), and the Tokens left in it after the grant.
type TokenLease struct {
	Granted int
	Tokens  float64
}

func (s *Service) admit(ctx context.Context, p Principal, op string) error {
	if s.limiter == nil {
		return nil
	}
	if ok, retry := s.limiter.Allow(ctx, p.Name, op); !ok {
		return &RateLimitError{Operation: op, RetryAfter: retry}
	}
	return nil
}
