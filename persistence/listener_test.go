package persistence_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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

	jobs := make(chan []string, 10)
	outbox := make(chan struct{}, 10)
	reconnected := make(chan struct{}, 10)
	l := persistence.NewListener(db, persistence.ListenerHandlers{
		Jobs:        func(ids []string) { jobs <- ids },
		Outbox:      func() { outbox <- struct{}{} },
		Reconnected: func() { reconnected <- struct{}{} },
	}, nil)
	require.NoError(t, l.Start(ctx))
	t.Cleanup(l.Stop)
	<-l.Listening()

	notify := func(channel, payload string) {
		_, err := db.ExecContext(ctx, "SELECT pg_notify(?, ?)", channel, payload)
		require.NoError(t, err)
	}
	// Channels are shared by the whole database (other tests notify too):
	// wait for our payload.
	await := func(want []string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case ids := <-jobs:
				if len(ids) == len(want) && ids[0] == want[0] {
					require.Equal(t, want, ids)
					return
				}
			case <-deadline:
				t.Fatalf("no notification %v", want)
			}
		}
	}
	notify(persistence.JobsChannel, "gwc_test_a,gwc_test_b")
	await([]string{"gwc_test_a", "gwc_test_b"})
	notify(persistence.OutboxChannel, "")
	<-outbox

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
	notify(persistence.JobsChannel, "gwc_test_c")
	await([]string{"gwc_test_c"})
}
