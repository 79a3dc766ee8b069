package policy

import (
	"context"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// limiterCacheSize bounds the principals whose buckets are kept; the least
// recently seen are forgotten (and start again with a full bucket).
const limiterCacheSize = 10_000

// Rate is a token bucket: PerSecond sustained, Burst at once. PerSecond 0
// disables the limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Limiter rate-limits operations per principal (gateway.RateLimiter).
type Limiter struct {
	rates   map[string]Rate
	buckets *lru.Cache[string, *rate.Limiter]
	now     func() time.Time
}

var _ gateway.RateLimiter = (*Limiter)(nil)

// NewLimiter builds a limiter with a rate per operation
// (gateway.LimitIngest, gateway.LimitRetrieve).
func NewLimiter(rates map[string]Rate) *Limiter {
	return NewLimiterWithClock(rates, time.Now)
}

// NewLimiterWithClock is NewLimiter on the given clock.
func NewLimiterWithClock(rates map[string]Rate, clock func() time.Time) *Limiter {
	buckets, _ := lru.New[string, *rate.Limiter](limiterCacheSize)
	return &Limiter{rates: rates, buckets: buckets, now: clock}
}

// Allow implements gateway.RateLimiter.
func (l *Limiter) Allow(_ context.Context, key, op string) (bool, time.Duration) {
	r, ok := l.rates[op]
	if !ok || r.PerSecond <= 0 {
		return true, 0
	}
	bucket := principalEntry(l.buckets, op, key, func() *rate.Limiter {
		return rate.NewLimiter(rate.Limit(r.PerSecond), max(r.Burst, 1))
	})
	now := l.now()
	res := bucket.ReserveN(now, 1)
	if delay := res.DelayFrom(now); delay > 0 {
		res.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// principalEntry is the entry of (op, key) in cache, made (once, whoever
// asks at the same time) when it is missing.
func principalEntry[V any](cache *lru.Cache[string, V], op, key string, make func() V) V {
	id := op + "\x00" + key
	v, ok := cache.Get(id)
	if !ok {
		v = make()
		if prev, found, _ := cache.PeekOrAdd(id, v); found {
			v = prev
		}
	}
	return v
}
