package policy_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/policy"
)

// countingStore counts the round trips of a TokenStore and the tokens each
// lease asked for.
type countingStore struct {
	policy.TokenStore
	leases atomic.Int64
	mu     sync.Mutex
	asked  []int
}

func (c *countingStore) LeaseTokens(ctx context.Context, req gateway.TokenLeaseRequest) (gateway.TokenLease, error) {
	c.leases.Add(1)
	c.mu.Lock()
	c.asked = append(c.asked, req.Want)
	c.mu.Unlock()
	return c.TokenStore.LeaseTokens(ctx, req)
}

func (c *countingStore) wants() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.asked...)
}

// clock is a manual clock.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

func sharedLimiter(store policy.TokenStore, c *clock, r policy.Rate) *policy.SharedLimiter {
	return policy.NewSharedLimiter(policy.SharedLimiterOptions{
		Rates: map[string]policy.Rate{gateway.LimitIngest: r}, Store: store, Clock: c.now,
	})
}

func TestSharedLimiter(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		setup := func(t *testing.T) (*countingStore, *clock) {
			t.Helper()
			// Each subtest limits its own principal on the shared database.
			return &countingStore{TokenStore: persistence.NewStore(db)}, &clock{at: pt.BaseTime}
		}

		t.Run("at a low rate it leases one token at a time", func(t *testing.T) {
			store, c := setup(t)
			l := sharedLimiter(store, c, policy.Rate{PerSecond: 1, Burst: 30})
			for range 10 {
				ok, _ := l.Allow(ctx, "slow", gateway.LimitIngest)
				require.True(t, ok)
				c.advance(time.Second)
			}
			require.Equal(t, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, store.wants())
		})

		t.Run("at a high rate leases grow to a tenth of a second's rate", func(t *testing.T) {
			store, c := setup(t)
			l := sharedLimiter(store, c, policy.Rate{PerSecond: 200, Burst: 400})
			const requests = 1000
			for i := range requests {
				ok, _ := l.Allow(ctx, "fast", gateway.LimitIngest)
				require.True(t, ok)
				if i%10 == 9 {
					c.advance(50 * time.Millisecond) // 200/s
				}
			}
			wants := store.wants()
			require.Equal(t, []int{1, 2, 4, 8, 16}, wants[:5], "doubling while each lease is spent")
			require.Equal(t, 20, slices.Max(wants), "never above a tenth of a second's rate")
			require.Less(t, len(wants), requests/10, "a round trip per 10 requests or fewer")
		})

		t.Run("unspent tokens expire and the next lease asks for what was spent", func(t *testing.T) {
			store, c := setup(t)
			l := sharedLimiter(store, c, policy.Rate{PerSecond: 200, Burst: 400})
			for range 7 { // leases of 1, 2, 4: all spent
				ok, _ := l.Allow(ctx, "bursty", gateway.LimitIngest)
				require.True(t, ok)
			}
			ok, _ := l.Allow(ctx, "bursty", gateway.LimitIngest) // a lease of 8, 1 spent
			require.True(t, ok)
			c.advance(policy.LeaseWindowDefault)
			ok, _ = l.Allow(ctx, "bursty", gateway.LimitIngest)
			require.True(t, ok)
			require.Equal(t, []int{1, 2, 4, 8, 1}, store.wants())
		})

		t.Run("a refusal is remembered until a token refills", func(t *testing.T) {
			store, c := setup(t)
			l := sharedLimiter(store, c, policy.Rate{PerSecond: 10, Burst: 1})
			ok, _ := l.Allow(ctx, "over", gateway.LimitIngest)
			require.True(t, ok)
			for range 50 {
				ok, retry := l.Allow(ctx, "over", gateway.LimitIngest)
				require.False(t, ok)
				require.Positive(t, retry)
				require.LessOrEqual(t, retry, 100*time.Millisecond)
			}
			require.EqualValues(t, 2, store.leases.Load(), "one round trip learnt the bucket is empty")
			c.advance(100 * time.Millisecond)
			ok, _ = l.Allow(ctx, "over", gateway.LimitIngest)
			require.True(t, ok)
		})

		t.Run("processes share the bucket", func(t *testing.T) {
			store, c := setup(t)
			rate := policy.Rate{PerSecond: 20, Burst: 10}
			limiters := []*policy.SharedLimiter{
				sharedLimiter(store, c, rate),
				sharedLimiter(&countingStore{TokenStore: persistence.NewStore(pt.Reopen(t, db))}, c, rate),
				sharedLimiter(store, c, rate),
			}
			admitted := 0
			for range 300 { // 3 s at 100 requests/s, round robin over three processes
				for _, l := range limiters {
					if ok, _ := l.Allow(ctx, "shared", gateway.LimitIngest); ok {
						admitted++
					}
				}
				c.advance(10 * time.Millisecond)
			}
			// The burst and 3 s of the rate, less at most one lease's tokens
			// left to expire per process.
			require.InDelta(t, 10+3*20, admitted, 6)
		})
	})
}

type failingStore struct{}

func (failingStore) LeaseTokens(context.Context, gateway.TokenLeaseRequest) (gateway.TokenLease, error) {
	return gateway.TokenLease{}, errors.New("database unreachable")
}

// TestSharedLimiterFallsBackToThisProcess: without the database, the
// process limits on its own.
func TestSharedLimiterFallsBackToThisProcess(t *testing.T) {
	t.Parallel()
	l := sharedLimiter(failingStore{}, &clock{at: pt.BaseTime}, policy.Rate{PerSecond: 0.001, Burst: 3})
	admitted := 0
	for range 10 {
		if ok, _ := l.Allow(context.Background(), "k", gateway.LimitIngest); ok {
			admitted++
		}
	}
	require.Equal(t, 3, admitted)
	ok, _ := l.Allow(context.Background(), "k", gateway.LimitRetrieve)
	require.True(t, ok, "an operation without a rate is not limited")
}

// BenchmarkLimiter: the cost of admitting one request of a principal that
// sends exactly its rate (the clock advances 1/rate per request), with the
// in-memory buckets and with the shared ones on each store. roundtrips/op
// is the share of requests that lease from the database.
func BenchmarkLimiter(b *testing.B) {
	ctx := context.Background()
	for _, perSecond := range []float64{1, 20, 200, 2000} {
		rate := policy.Rate{PerSecond: perSecond, Burst: int(2 * perSecond)}
		step := time.Duration(float64(time.Second) / perSecond)
		run := func(b *testing.B, l gateway.RateLimiter, c *clock, store *countingStore) {
			b.ReportAllocs()
			for b.Loop() {
				if ok, _ := l.Allow(ctx, "bench", gateway.LimitIngest); !ok {
					b.Fatal("refused at its rate")
				}
				c.advance(step)
			}
			if store != nil {
				b.ReportMetric(float64(store.leases.Load())/float64(b.N), "roundtrips/op")
			}
		}
		name := func(s string) string { return s + "/rate=" + strconv.FormatFloat(perSecond, 'g', -1, 64) }
		b.Run(name("memory"), func(b *testing.B) {
			c := &clock{at: time.Now()}
			run(b, policy.NewLimiterWithClock(map[string]policy.Rate{gateway.LimitIngest: rate}, c.now), c, nil)
		})
		for _, d := range pt.Dialects() {
			b.Run(name("shared-"+string(d)), func(b *testing.B) {
				store := &countingStore{TokenStore: persistence.NewStore(pt.Open(b, d))}
				c := &clock{at: time.Now()}
				run(b, sharedLimiter(store, c, rate), c, store)
			})
		}
	}
}
