package persistence_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/lifecycle/lifecycletest"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

func TestListenerReconnectsAndAsksForResync(t *testing.T) {
	t.Parallel()
	base := pt.URL(t, pt.Postgres)
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("application_name", "listener-test-"+time.Now().Format("150405.000000"))
	u.RawQuery = q.Encode()
	ctx := context.Background()
	db, err := persistence.Open(ctx, u.String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

	// Other tests notify on the same channels all the time: the handlers
	// never block (a blocked handler would stall the listener and its Stop),
	// and the buffers are deep enough that this test's own notifications
	// are not dropped while it waits for them.
	jobs := make(chan []string, 1000)
	outbox := make(chan struct{}, 1000)
	reconnected := make(chan struct{}, 1000)
	l := persistence.NewListener(db, persistence.ListenerHandlers{
		Jobs:        func(ids []string) { offer(jobs, ids) },
		Outbox:      func() { offer(outbox, struct{}{}) },
		Reconnected: func() { offer(reconnected, struct{}{}) },
	}, lifecycle.Env{})
	require.NoError(t, l.Start(ctx))
	t.Cleanup(func() { _ = l.Stop(context.Background()) })
	<-l.Listening()

	notify := func(channel, payload string) {
		_, err := db.ExecContext(ctx, "SELECT pg_notify(?, ?)", channel, payload)
		require.NoError(t, err)
	}
	// Channels are shared by the whole database (other tests notify too):
	// wait for our payload. A notification sent while the listener happens
	// to be reconnecting (a slow machine can miss a ping) is lost, as
	// NOTIFY is: send it again until it arrives.
	await := func(want []string) {
		t.Helper()
		notify(persistence.JobsChannel, strings.Join(want, ","))
		deadline := time.After(30 * time.Second)
		again := time.NewTicker(time.Second)
		defer again.Stop()
		for {
			select {
			case ids := <-jobs:
				if len(ids) == len(want) && ids[0] == want[0] {
					require.Equal(t, want, ids)
					return
				}
			case <-again.C:
				notify(persistence.JobsChannel, strings.Join(want, ","))
			case <-deadline:
				t.Fatalf("no notification %v", want)
			}
		}
	}
	await([]string{"gwc_test_a", "gwc_test_b"})
	notify(persistence.OutboxChannel, "")
	select {
	case <-outbox:
	case <-time.After(30 * time.Second):
		t.Fatal("no outbox notification")
	}

	// Forget reconnections so far (a slow machine can miss a ping): the one
	// awaited below must be the one the kill causes.
	for len(reconnected) > 0 {
		<-reconnected
	}
	// Kill the listening connection, as a network failure or a database
	// restart would.
	_, err = db.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ? AND query LIKE 'LISTEN%'", q.Get("application_name"))
	require.NoError(t, err)
	select {
	case <-reconnected:
	case <-time.After(30 * time.Second):
		t.Fatal("the listener did not reconnect")
	}
	// Listening again.
	await([]string{"gwc_test_c"})
}

// offer sends v unless ch is full.
func offer[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

func TestListenerIsAComponent(t *testing.T) {
	t.Parallel()
	db := pt.Open(t, pt.Postgres)
	lifecycletest.Check(t, func() lifecycle.Component {
		return persistence.NewListener(db, persistence.ListenerHandlers{}, lifecycle.Env{})
	})
}
