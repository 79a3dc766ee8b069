package persistence_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// TestStoreLeaseTokens: a bucket starts full, grants whole tokens up to the
// ask, refills at its rate up to its burst, never refills backwards, and
// concurrent leases from two pools (two processes) never grant more than
// the bucket holds.
func TestStoreLeaseTokens(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		at := pt.BaseTime
		lease := func(principal string, want int, now time.Time) gateway.TokenLease {
			t.Helper()
			got, err := store.LeaseTokens(ctx, gateway.TokenLeaseRequest{
				Principal: principal, Operation: gateway.LimitIngest, PerSecond: 10, Burst: 5, Want: want, Now: now,
			})
			require.NoError(t, err)
			return got
		}

		tests := []struct {
			name string
			run  func(t *testing.T)
		}{
			{"a new bucket is full", func(t *testing.T) {
				require.Equal(t, gateway.TokenLease{Granted: 3, Tokens: 2}, lease("new", 3, at))
			}},
			{"no more than the burst", func(t *testing.T) {
				require.Equal(t, gateway.TokenLease{Granted: 5, Tokens: 0}, lease("big", 50, at))
			}},
			{"what is left, then nothing", func(t *testing.T) {
				require.Equal(t, 4, lease("drain", 4, at).Granted)
				require.Equal(t, gateway.TokenLease{Granted: 1, Tokens: 0}, lease("drain", 4, at))
				got := lease("drain", 1, at.Add(50*time.Millisecond))
				require.Equal(t, 0, got.Granted, "half a token refilled")
				require.InDelta(t, 0.5, got.Tokens, 1e-9)
			}},
			{"refills at the rate, up to the burst", func(t *testing.T) {
				require.Equal(t, 5, lease("refill", 5, at).Granted)
				require.Equal(t, 2, lease("refill", 5, at.Add(250*time.Millisecond)).Granted, "2.5 tokens in 250ms")
				got := lease("refill", 1, at.Add(time.Hour))
				require.Equal(t, gateway.TokenLease{Granted: 1, Tokens: 4}, got, "an hour refills the burst, no more")
			}},
			{"a clock behind the last lease refills nothing", func(t *testing.T) {
				require.Equal(t, 5, lease("skew", 5, at.Add(time.Second)).Granted)
				require.Equal(t, 0, lease("skew", 1, at).Granted)
				require.Equal(t, 0, lease("skew", 1, at.Add(time.Second)).Granted, "the bucket kept its latest time")
				require.Equal(t, 1, lease("skew", 1, at.Add(time.Second+100*time.Millisecond)).Granted)
			}},
			{"buckets are per principal and operation", func(t *testing.T) {
				require.Equal(t, 5, lease("a", 5, at).Granted)
				require.Equal(t, 5, lease("b", 5, at).Granted)
				got, err := store.LeaseTokens(ctx, gateway.TokenLeaseRequest{Principal: "a", Operation: gateway.LimitRetrieve, PerSecond: 1, Burst: 2, Want: 2, Now: at})
				require.NoError(t, err)
				require.Equal(t, 2, got.Granted)
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, tc.run) // sequential: they share a database, not buckets
		}

		t.Run("concurrent leases from two pools", func(t *testing.T) {
			other := persistence.NewStore(pt.Reopen(t, db))
			var mu sync.Mutex
			granted := 0
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					s := store
					if i%2 == 1 {
						s = other
					}
					got, err := s.LeaseTokens(ctx, gateway.TokenLeaseRequest{
						Principal: "race", Operation: gateway.LimitIngest, PerSecond: 0.001, Burst: 25, Want: 2, Now: at,
					})
					require.NoError(t, err)
					mu.Lock()
					granted += got.Granted
					mu.Unlock()
				})
			}
			wg.Wait()
			require.Equal(t, 25, granted, "exactly the burst, over both pools")
		})
	})
}

// TestStoreSubscriptionSlots: a principal holds at most limit unexpired
// slots over every holder, concurrent takes from two pools never exceed
// it, released and expired slots free places, renewal keeps a holder's
// slots alive (and records again those swept meanwhile), and a holder's
// slots go at once when it stops.
func TestStoreSubscriptionSlots(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		store := persistence.NewStore(db)
		at := pt.BaseTime
		slot := func(id, principal, holder string, expires time.Time) gateway.SubscriptionSlot {
			return gateway.SubscriptionSlot{ID: id, Principal: principal, Holder: holder, ExpiresAt: expires}
		}
		take := func(s gateway.SubscriptionSlot, limit int, now time.Time) bool {
			t.Helper()
			ok, err := store.TakeSubscriptionSlot(ctx, s, limit, now)
			require.NoError(t, err)
			return ok
		}
		count := func(principal string) int {
			t.Helper()
			var n int
			require.NoError(t, db.NewRaw("SELECT count(*) FROM subscription_slots WHERE principal = ?", principal).Scan(ctx, &n))
			return n
		}
		lease := at.Add(30 * time.Second)

		t.Run("at most the limit over holders", func(t *testing.T) {
			require.True(t, take(slot("cap-1", "cap", "p1", lease), 2, at))
			require.True(t, take(slot("cap-2", "cap", "p2", lease), 2, at))
			require.False(t, take(slot("cap-3", "cap", "p3", lease), 2, at))
			require.True(t, take(slot("other-1", "other", "p3", lease), 2, at), "another principal has its own places")
			require.NoError(t, store.ReleaseSubscriptionSlot(ctx, "cap-1"))
			require.True(t, take(slot("cap-3", "cap", "p3", lease), 2, at), "a released place is free")
		})

		t.Run("expired slots do not count, renewed ones do", func(t *testing.T) {
			require.True(t, take(slot("exp-1", "exp", "dead", at.Add(time.Second)), 2, at))
			require.True(t, take(slot("exp-2", "exp", "alive", at.Add(time.Second)), 2, at))
			require.False(t, take(slot("exp-3", "exp", "alive", at.Add(time.Minute)), 2, at))
			later := at.Add(500 * time.Millisecond)
			require.NoError(t, store.RenewSubscriptionSlots(ctx, "alive", []gateway.SubscriptionSlot{slot("exp-2", "exp", "alive", at)}, later.Add(time.Minute), later))
			past := at.Add(2 * time.Second)
			require.True(t, take(slot("exp-3", "exp", "alive", past.Add(time.Minute)), 2, past), "the dead holder's slot expired")
			require.False(t, take(slot("exp-4", "exp", "alive", past.Add(time.Minute)), 2, past), "the renewed one still counts")
		})

		t.Run("renewal sweeps expired slots and records missing ones again", func(t *testing.T) {
			require.True(t, take(slot("sw-1", "sw", "h1", at.Add(time.Second)), 5, at))
			require.True(t, take(slot("sw-2", "sw", "h2", at.Add(time.Second)), 5, at))
			past := at.Add(2 * time.Second)
			held := []gateway.SubscriptionSlot{slot("sw-2", "sw", "h2", at)}
			require.NoError(t, store.RenewSubscriptionSlots(ctx, "h2", held, past.Add(time.Minute), past))
			require.Equal(t, 1, count("sw"), "h1's expired slot is gone, h2's is back")
			var holder string
			require.NoError(t, db.NewRaw("SELECT holder FROM subscription_slots WHERE principal = 'sw'").Scan(ctx, &holder))
			require.Equal(t, "h2", holder)
		})

		t.Run("a stopping holder releases its slots", func(t *testing.T) {
			require.True(t, take(slot("st-1", "st", "stopping", lease), 5, at))
			require.True(t, take(slot("st-2", "st", "stopping", lease), 5, at))
			require.True(t, take(slot("st-3", "st", "staying", lease), 5, at))
			require.NoError(t, store.ReleaseHolderSlots(ctx, "stopping"))
			require.Equal(t, 1, count("st"))
		})

		t.Run("concurrent takes from two pools", func(t *testing.T) {
			other := persistence.NewStore(pt.Reopen(t, db))
			const limit = 7
			var mu sync.Mutex
			taken := 0
			var wg sync.WaitGroup
			for i := range 30 {
				wg.Go(func() {
					s := store
					if i%2 == 1 {
						s = other
					}
					ok, err := s.TakeSubscriptionSlot(ctx, slot(fmt.Sprintf("race-%d", i), "race", "h", lease), limit, at)
					require.NoError(t, err)
					if ok {
						mu.Lock()
						taken++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			require.Equal(t, limit, taken)
			require.Equal(t, limit, count("race"))
		})
	})
}
