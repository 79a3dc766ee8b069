package gateway_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// TestSharedSubscriptions: two processes' services share one principal's
// subscription cap; a refusal is the usual TooManySubscriptionsError, a
// release frees a place, the places of a process that stopped renewing
// expire with their lease, and a stopping process gives its places back.
func TestSharedSubscriptions(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		var mu sync.Mutex
		at := pt.BaseTime
		env := lifecycle.NewEnv(nil, func() time.Time { mu.Lock(); defer mu.Unlock(); return at })
		advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); at = at.Add(d) }
		process := func(store *persistence.Store) (*gateway.Service, *gateway.SharedSubscriptions) {
			slots := gateway.NewSharedSubscriptions(store, gateway.SharedSubscriptionsConfig{Lease: time.Minute}, env)
			svc, err := gateway.NewService(gateway.Options{
				Anonymous: &gateway.DevPrincipal, Store: store, Env: env, Subscriptions: slots,
				Config: gateway.Config{MaxSubscriptionsPerPrincipal: 2},
			})
			require.NoError(t, err)
			return svc, slots
		}
		a, aSlots := process(persistence.NewStore(db))
		b, _ := process(persistence.NewStore(pt.Reopen(t, db)))

		releaseA, err := a.AdmitSubscriber(ctx)
		require.NoError(t, err)
		_, err = b.AdmitSubscriber(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, a.LiveSubscriptions(), "each process reports its own")
		_, err = b.AdmitSubscriber(ctx)
		var tooMany *gateway.TooManySubscriptionsError
		require.ErrorAs(t, err, &tooMany)
		require.Equal(t, 2, tooMany.Limit)

		releaseA()
		releaseA() // twice is once
		require.Zero(t, a.LiveSubscriptions())
		_, err = b.AdmitSubscriber(ctx)
		require.NoError(t, err, "the place a released")
		_, err = a.AdmitSubscriber(ctx)
		require.ErrorAs(t, err, &tooMany)

		// b never renews (it runs no renewal here): after the lease its
		// places are free.
		advance(time.Minute + time.Second)
		_, err = a.AdmitSubscriber(ctx)
		require.NoError(t, err)
		_, err = a.AdmitSubscriber(ctx)
		require.NoError(t, err)
		_, err = b.AdmitSubscriber(ctx)
		require.ErrorAs(t, err, &tooMany)

		require.NoError(t, aSlots.Start(ctx))
		require.NoError(t, aSlots.Stop(ctx))
		_, err = b.AdmitSubscriber(ctx)
		require.NoError(t, err, "a stopped process holds no place")
	})
}
