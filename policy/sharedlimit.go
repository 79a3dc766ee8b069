package policy

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// Shared limiter defaults.
const (
	// LeaseWindowDefault bounds a lease of tokens: at most what the rate
	// refills in this window (and a quarter of the burst), and what is not
	// spent within it expires, so no process sits on tokens another could
	// spend.
	LeaseWindowDefault = 100 * time.Millisecond
	// LeaseTimeoutDefault bounds one lease's round trip. Past it, or on an
	// error, the process limits the principal on its own (the in-memory
	// buckets) until the database answers again.
	LeaseTimeoutDefault = time.Second
	// leaseWarnEvery spaces the warnings of failing leases.
	leaseWarnEvery = time.Minute
)

// TokenStore keeps the deployment's token buckets (persistence.Store).
type TokenStore interface {
	// LeaseTokens takes up to req.Want tokens of the bucket of
	// (req.Principal, req.Operation) in one atomic step.
	LeaseTokens(ctx context.Context, req gateway.TokenLeaseRequest) (gateway.TokenLease, error)
}

// SharedLimiterOptions configure a SharedLimiter.
type SharedLimiterOptions struct {
	// Rates are the buckets per operation, as for NewLimiter.
	Rates map[string]Rate
	Store TokenStore
	// Logger: nil logs nothing. Clock: nil reads the system clock.
	Logger *slog.Logger
	Clock  func() time.Time
	// LeaseWindow: 0 is LeaseWindowDefault.
	LeaseWindow time.Duration
}

// SharedLimiter rate-limits operations per principal over every process
// sharing one store (gateway.RateLimiter). The bucket lives in the store;
// each process leases tokens from it in batches, in one statement, and
// spends them locally, so most requests cost no round trip. A lease asks
// for what the process spent of its last one within the lease window
// (twice that when it spent all, down to what it spent when some expired),
// never more than the rate refills in the window or a quarter of the
// burst: at 1 request/s it leases one token at a time, at hundreds a batch.
// A refusal is remembered until the bucket holds a token again, so a
// principal over its rate costs at most one round trip per refill, not one
// per request.
type SharedLimiter struct {
	rates    map[string]Rate
	store    TokenStore
	logger   *slog.Logger
	now      func() time.Time
	window   time.Duration
	leases   *lru.Cache[string, *tokenLease]
	fallback *Limiter
	// warned is when a failing lease was last logged (unix nanoseconds).
	warned atomic.Int64
}

var _ gateway.RateLimiter = (*SharedLimiter)(nil)

// tokenLease is one process's share of one bucket.
type tokenLease struct {
	// mu is held through a lease's round trip: the principal's other
	// requests in this process wait for its tokens rather than ask too.
	mu sync.Mutex
	// tokens are leased and not spent yet, until expires; granted is what
	// the last lease took.
	tokens  int
	granted int
	expires time.Time
	// size is what the last lease asked for.
	size int
	// emptyUntil: the bucket held no whole token; refuse until then.
	emptyUntil time.Time
}

// NewSharedLimiter builds a limiter on the store's buckets.
func NewSharedLimiter(opts SharedLimiterOptions) *SharedLimiter {
	leases, _ := lru.New[string, *tokenLease](limiterCacheSize)
	l := &SharedLimiter{
		rates: opts.Rates, store: opts.Store, logger: opts.Logger, now: opts.Clock, window: opts.LeaseWindow,
		leases: leases,
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.window <= 0 {
		l.window = LeaseWindowDefault
	}
	l.fallback = NewLimiterWithClock(opts.Rates, l.now)
	return l
}

// Allow implements gateway.RateLimiter.
func (l *SharedLimiter) Allow(ctx context.Context, key, op string) (bool, time.Duration) {
	r, ok := l.rates[op]
	if !ok || r.PerSecond <= 0 {
		return true, 0
	}
	le := principalEntry(l.leases, op, key, func() *tokenLease { return &tokenLease{} })
	le.mu.Lock()
	defer le.mu.Unlock()
	now := l.now()
	if le.tokens > 0 && now.Before(le.expires) {
		le.tokens--
		return true, 0
	}
	if now.Before(le.emptyUntil) {
		return false, le.emptyUntil.Sub(now)
	}
	le.size = le.nextSize(maxLease(r, l.window))
	leaseCtx, cancel := context.WithTimeout(ctx, LeaseTimeoutDefault)
	got, err := l.store.LeaseTokens(leaseCtx, gateway.TokenLeaseRequest{
		Principal: key, Operation: op, PerSecond: r.PerSecond, Burst: max(r.Burst, 1), Want: le.size, Now: now,
	})
	cancel()
	if err != nil {
		l.warn(ctx, err)
		le.tokens, le.granted = 0, 0
		return l.fallback.Allow(ctx, key, op)
	}
	if got.Granted <= 0 {
		retry := max(time.Duration((1-got.Tokens)/r.PerSecond*float64(time.Second)), time.Millisecond)
		le.tokens, le.granted, le.emptyUntil = 0, 0, now.Add(retry)
		return false, retry
	}
	le.tokens, le.granted, le.expires = got.Granted-1, got.Granted, now.Add(l.window)
	return true, 0
}

// nextSize is what the next lease asks for, at most most: the last ask
// again after a refusal (or at first), twice the last grant when it was
// spent within the window, what was spent of it when some expired.
func (le *tokenLease) nextSize(most int) int {
	n := le.size
	switch {
	case le.granted == 0:
	case le.tokens == 0:
		n = 2 * le.granted
	default:
		n = le.granted - le.tokens
	}
	return min(max(n, 1), most)
}

// maxLease is the largest lease of a bucket: what the rate refills in the
// window, at most a quarter of the burst, at least one token.
func maxLease(r Rate, window time.Duration) int {
	return max(1, min(int(r.PerSecond*window.Seconds()), max(r.Burst, 1)/4))
}

// warn logs a failing lease, at most once per leaseWarnEvery.
func (l *SharedLimiter) warn(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // the caller went away
	}
	now := time.Now().UnixNano()
	last := l.warned.Load()
	if now-last < int64(leaseWarnEvery) || !l.warned.CompareAndSwap(last, now) {
		return
	}
	l.logger.WarnContext(ctx, "rate limits: error leasing tokens; this process limits on its own meanwhile", slog.String("err", err.Error()))
}
