package gateway_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// healClock is the one clock of a heal test's service, executor and
// worker; each drain moves it an hour on, past the retry delay (a minute),
// so each drain makes one attempt.
type healClock struct{ now atomic.Int64 }

func (c *healClock) Now() time.Time { return time.Unix(0, c.now.Load()).UTC() }

func newHealService(t *testing.T, db *persistence.DB, maxAttempts int, clock *healClock, backends ...backendtype.BackendAdapter) *gateway.Service {
	t.Helper()
	clock.now.Store(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC).UnixNano())
	svc, err := serviceWithExecutor(gateway.Options{
		Anonymous: &gateway.DevPrincipal, Store: persistence.NewStore(db), Backends: backends,
		Config: gateway.Config{MaxAttempts: maxAttempts, RetryDelay: func(int) time.Duration { return time.Minute }},
		Env:    lifecycle.NewEnv(nil, clock.Now),
	})
	require.NoError(t, err)
	return svc
}

func healDrain(t *testing.T, db *persistence.DB, svc *gateway.Service, clock *healClock) int {
	t.Helper()
	clock.now.Add(int64(time.Hour))
	return drain(t, db, svc, clock.Now)
}

// flakyBackend is a backend whose writes fail while down is set.
func flakyBackend(down *atomic.Bool) *fakeBackend {
	return &fakeBackend{name: backendtype.BackendOpenViking, ingestFn: func(_ context.Context, w backendtype.TurnWrite) (backendtype.WriteResult, error) {
		if down.Load() {
			return backendtype.WriteResult{}, errors.New("connection refused")
		}
		return backendtype.WriteResult{Status: backendtype.ResultSuccess, NativeID: "ov-" + w.GatewayID, Created: true}, nil
	}}
}

func refOf(t *testing.T, res gateway.IngestResult, backend backendtype.Backend) gateway.MemoryRef {
	t.Helper()
	for _, r := range res.Refs {
		if r.Backend == backend {
			return r
		}
	}
	t.Fatalf("no ref of %s", backend)
	return gateway.MemoryRef{}
}

func healCounts(t *testing.T, svc *gateway.Service, backend backendtype.Backend) gateway.IngestHealCount {
	t.Helper()
	counts, err := svc.Reader(context.Background()).IngestHeals(context.Background(), "ws")
	require.NoError(t, err)
	return counts[backend]
}

func eventByID(t *testing.T, svc *gateway.Service, id string) gateway.OutboxEvent {
	t.Helper()
	e, err := svc.Reader(context.Background()).OutboxEvent(context.Background(), id)
	require.NoError(t, err)
	return e
}

func TestFailedIngestWriteHealsOnceTheBackendRecovers(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		var clock healClock
		var down atomic.Bool
		down.Store(true)
		flaky := flakyBackend(&down)
		svc := newHealService(t, db, 5, &clock, localBackend(db), flaky)

		res, err := svc.IngestConversationTurn(ctx, turnInput())
		require.NoError(t, err)
		require.Equal(t, gateway.OperationPartialSuccess, res.Status)
		failed := refOf(t, res, backendtype.BackendOpenViking)
		require.Equal(t, gateway.RefStatusFailed, failed.Status)
		require.NotNil(t, failed.OutboxEventID, "the failed write's ref names its heal")

		e := eventByID(t, svc, *failed.OutboxEventID)
		require.Equal(t, gateway.OperationIngestTurn, e.Operation)
		require.Equal(t, gateway.OutboxPending, e.Status)
		require.Equal(t, res.GatewayID, e.GatewayID)
		require.Equal(t, gateway.IngestHealCount{Backend: backendtype.BackendOpenViking, Failed: 1, Healing: 1}, healCounts(t, svc, backendtype.BackendOpenViking))
		// The control plane holds no content, the event included.
		n, err := db.NewSelect().Table("outbox_events").Where("CAST(metadata AS TEXT) LIKE ?", "%favourite%").Count(ctx)
		require.NoError(t, err)
		require.Zero(t, n)

		// Still down: the attempt fails and the event waits for the next.
		healDrain(t, db, svc, &clock)
		e = eventByID(t, svc, e.ID)
		require.Equal(t, gateway.OutboxPending, e.Status)
		require.Equal(t, "connection refused", *e.LastError)
		require.Equal(t, gateway.RefStatusFailed, refByID(t, svc, failed.ID).Status)
		callsWhileDown := flaky.calls.Load()
		require.Greater(t, callsWhileDown, int64(1), "the worker wrote again")

		// Back up: the next attempt writes the turn, as it was sent, and the
		// ref becomes SUCCESS.
		down.Store(false)
		healDrain(t, db, svc, &clock)
		e = eventByID(t, svc, e.ID)
		require.Equal(t, gateway.OutboxSuccess, e.Status)
		healed := refByID(t, svc, failed.ID)
		require.Equal(t, gateway.RefStatusSuccess, healed.Status)
		require.Equal(t, "ov-"+res.GatewayID, *healed.NativeID)
		require.Nil(t, healed.ErrorMessage)
		require.Equal(t, e.ID, healed.Metadata["healed_by"])
		flaky.mu.Lock()
		last := flaky.received[len(flaky.received)-1]
		flaky.mu.Unlock()
		require.Equal(t, "my favourite colour is blue", last.Content)
		require.Equal(t, res.GatewayID, last.GatewayID, "idempotent at the backend by the turn's id")
		require.Equal(t, res.ProvenanceID, last.ProvenanceID)
		require.Equal(t, "t1", last.TurnID)
		require.Equal(t, backendtype.RoleUser, last.Role)
		require.Equal(t, gateway.IngestHealCount{}, healCounts(t, svc, backendtype.BackendOpenViking))

		// Nothing is left to do, and a replay of the turn writes nothing.
		calls := flaky.calls.Load()
		require.Zero(t, healDrain(t, db, svc, &clock))
		again, err := svc.IngestConversationTurn(ctx, turnInput())
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, gateway.OperationSuccess, again.Status)
		require.Equal(t, calls, flaky.calls.Load())
	})
}

func TestFailedIngestWriteDeadLettersWhenTheBackendNeverRecovers(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		var clock healClock
		var down atomic.Bool
		down.Store(true)
		flaky := flakyBackend(&down)
		svc := newHealService(t, db, 3, &clock, localBackend(db), flaky)

		res, err := svc.IngestConversationTurn(ctx, turnInput())
		require.NoError(t, err)
		failed := refOf(t, res, backendtype.BackendOpenViking)
		for range 3 {
			healDrain(t, db, svc, &clock)
		}
		e := eventByID(t, svc, *failed.OutboxEventID)
		require.Equal(t, gateway.OutboxDeadLetter, e.Status)
		require.Equal(t, 3, e.AttemptCount)
		require.Equal(t, gateway.RefStatusFailed, refByID(t, svc, failed.ID).Status)
		require.Equal(t, gateway.IngestHealCount{Backend: backendtype.BackendOpenViking, Failed: 1, DeadLettered: 1}, healCounts(t, svc, backendtype.BackendOpenViking))

		// The dead letter is among the console's, and a re-drive heals it.
		dead, err := svc.Reader(ctx).ListOutboxEvents(ctx, gateway.EventFilter{Status: gateway.OutboxDeadLetter}, gateway.PageRequest{First: 10})
		require.NoError(t, err)
		require.Len(t, dead.Items, 1)
		require.Equal(t, e.ID, dead.Items[0].ID)
		down.Store(false)
		_, err = svc.RedriveOutboxEvent(ctx, e.ID)
		require.NoError(t, err)
		healDrain(t, db, svc, &clock)
		require.Equal(t, gateway.RefStatusSuccess, refByID(t, svc, failed.ID).Status)
		require.Equal(t, gateway.OutboxSuccess, eventByID(t, svc, e.ID).Status)
	})
}

func TestFailedIngestWriteThatCannotHeal(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		var clock healClock

		t.Run("no backend keeps content", func(t *testing.T) {
			var down atomic.Bool
			down.Store(true)
			svc := newHealService(t, db, 3, &clock, &fakeBackend{name: backendtype.BackendLocal}, flakyBackend(&down))
			res, err := svc.IngestConversationTurn(ctx, turnInput(func(in *gateway.IngestTurnInput) { in.WorkspaceID = "ws"; in.TurnID = "nosource" }))
			require.NoError(t, err)
			failed := refOf(t, res, backendtype.BackendOpenViking)
			require.Equal(t, gateway.RefStatusFailed, failed.Status)
			require.Nil(t, failed.OutboxEventID)
			require.Equal(t, gateway.HealNoContentSource, failed.Metadata["heal"])
			require.Equal(t, 1, healCounts(t, svc, backendtype.BackendOpenViking).Unhealable)
		})

		t.Run("the backend refused the turn", func(t *testing.T) {
			refusing := &fakeBackend{name: backendtype.BackendEverMemOS, ingestFn: func(context.Context, backendtype.TurnWrite) (backendtype.WriteResult, error) {
				return backendtype.WriteResult{Status: backendtype.ResultFailed, ErrorCode: "bad_request", ErrorMessage: "HTTP 400"}, nil
			}}
			svc := newHealService(t, db, 3, &clock, localBackend(db), refusing)
			res, err := svc.IngestConversationTurn(ctx, turnInput(func(in *gateway.IngestTurnInput) { in.TurnID = "refused" }))
			require.NoError(t, err)
			failed := refOf(t, res, backendtype.BackendEverMemOS)
			require.Nil(t, failed.OutboxEventID)
			require.Equal(t, gateway.HealNotRetryable, failed.Metadata["heal"])
		})

		t.Run("the content is gone by the time the worker runs", func(t *testing.T) {
			var down atomic.Bool
			down.Store(true)
			flaky := flakyBackend(&down)
			flaky.name = backendtype.BackendEverMemOS
			svc := newHealService(t, db, 3, &clock, localBackend(db), flaky)
			res, err := svc.IngestConversationTurn(ctx, turnInput(func(in *gateway.IngestTurnInput) { in.TurnID = "gone" }))
			require.NoError(t, err)
			failed := refOf(t, res, backendtype.BackendEverMemOS)
			require.NotNil(t, failed.OutboxEventID)
			_, err = db.NewDelete().Table("local_memories").Where("gateway_id = ?", res.GatewayID).Exec(ctx)
			require.NoError(t, err)
			down.Store(false)
			calls := flaky.calls.Load()
			healDrain(t, db, svc, &clock)
			e := eventByID(t, svc, *failed.OutboxEventID)
			require.Equal(t, gateway.OutboxDeadLetter, e.Status)
			require.Equal(t, gateway.ErrorCodeContentUnavailable, *e.LastErrorCode)
			require.Equal(t, calls, flaky.calls.Load(), "nothing was sent")
			require.Equal(t, gateway.RefStatusFailed, refByID(t, svc, failed.ID).Status)
		})
	})
}
