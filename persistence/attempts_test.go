package persistence_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// attemptsHarness drives one event through claims and completions.
type attemptsHarness struct {
	t     *testing.T
	store *persistence.Store
	event gateway.OutboxEvent
	now   time.Time
}

func newAttemptsHarness(t *testing.T, db *persistence.DB) *attemptsHarness {
	t.Helper()
	store := persistence.NewStore(db)
	job := pt.Job()
	event := pt.Event(job, backendtype.BackendLocal)
	_, _, err := store.CreateCommitJob(context.Background(), job, []gateway.OutboxEvent{event}, pt.Audit(job.ID))
	require.NoError(t, err)
	return &attemptsHarness{t: t, store: store, event: event, now: pt.BaseTime.Add(time.Hour)}
}

// claim leases the event to worker and returns it as claimed.
func (h *attemptsHarness) claim(worker string) gateway.OutboxEvent {
	h.t.Helper()
	h.now = h.now.Add(time.Second)
	batch, err := h.store.ClaimOutboxEvents(context.Background(), gateway.ClaimRequest{
		WorkerID: worker, Backend: h.event.Backend, Limit: 1, Now: h.now, LeaseUntil: h.now.Add(time.Second),
	})
	require.NoError(h.t, err)
	require.Len(h.t, batch.Events, 1)
	return batch.Events[0]
}

// complete applies a completion of the claim e ran under and reports
// whether it landed.
func (h *attemptsHarness) complete(e gateway.OutboxEvent, worker string, status gateway.OutboxStatus, code, msg string) bool {
	h.t.Helper()
	c := gateway.OutboxCompletion{
		EventID: e.ID, JobID: e.JobID, Backend: e.Backend, Operation: e.Operation, FenceWorker: worker, FenceClaim: e.ClaimCount,
		Status: status, AttemptCount: e.AttemptCount, NextRetryAt: h.now, Metadata: gateway.Metadata{},
		StartedAt: h.now.Add(-300 * time.Millisecond), FinishedAt: h.now,
	}
	if code != "" {
		c.LastErrorCode, c.LastError = &code, &msg
	}
	if status == gateway.OutboxSuccess || status == gateway.OutboxDeadLetter {
		c.CompletedAt = &h.now
	}
	res, err := h.store.CompleteOutboxEvents(context.Background(), []gateway.OutboxCompletion{c}, h.now)
	require.NoError(h.t, err)
	return len(res.Applied) == 1
}

func (h *attemptsHarness) attempts() []gateway.OutboxAttempt {
	h.t.Helper()
	got, err := h.store.OutboxAttempts(context.Background(), []string{h.event.ID, "gwo_unknown"})
	require.NoError(h.t, err)
	require.NotNil(h.t, got["gwo_unknown"], "every key is answered")
	require.Empty(h.t, got["gwo_unknown"])
	return got[h.event.ID]
}

func TestStoreOutboxAttempts(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()

		t.Run("a completion records its run, and only the lease holder's lands", func(t *testing.T) {
			h := newAttemptsHarness(t, db)
			first := h.claim("w1")
			require.True(t, h.complete(first, "w1", gateway.OutboxPending, "unreachable", "HTTP 503"))
			got := h.attempts()
			require.Len(t, got, 1)
			a := got[0]
			require.Equal(t, 1, a.Number)
			require.Equal(t, 1, a.Attempt)
			require.Equal(t, "w1", a.WorkerID)
			require.Equal(t, "ws", a.WorkspaceID)
			require.Equal(t, backendtype.BackendLocal, a.Backend)
			require.Equal(t, gateway.AttemptFailed, a.Outcome)
			require.Equal(t, "unreachable", *a.ErrorCode)
			require.Equal(t, "HTTP 503", *a.ErrorMessage)
			require.Equal(t, h.now, a.FinishedAt)
			require.Equal(t, 300*time.Millisecond, a.FinishedAt.Sub(a.StartedAt))

			second := h.claim("w2")
			require.False(t, h.complete(first, "w1", gateway.OutboxSuccess, "", ""), "a stale claim's result is fenced off")
			require.Len(t, h.attempts(), 1, "and records no run")
			require.True(t, h.complete(second, "w2", gateway.OutboxSuccess, "", ""))
			got = h.attempts()
			require.Len(t, got, 2)
			require.Equal(t, []int{2, 1}, []int{got[0].Number, got[1].Number}, "newest first")
			require.Equal(t, gateway.AttemptSucceeded, got[0].Outcome)
			require.Nil(t, got[0].ErrorMessage)
		})

		t.Run("the last runs of an event are kept", func(t *testing.T) {
			h := newAttemptsHarness(t, db)
			runs := gateway.AttemptsKeptPerEvent + 3
			for i := range runs {
				e := h.claim("w")
				require.True(t, h.complete(e, "w", gateway.OutboxPending, "timeout", fmt.Sprint("run ", i+1)))
			}
			got := h.attempts()
			require.Len(t, got, gateway.AttemptsKeptPerEvent)
			require.Equal(t, runs, got[0].Number)
			require.Equal(t, runs-gateway.AttemptsKeptPerEvent+1, got[len(got)-1].Number)
		})

		t.Run("a rescued lease is a run that expired", func(t *testing.T) {
			h := newAttemptsHarness(t, db)
			e := h.claim("w-dead")
			h.now = h.now.Add(time.Hour)
			res, err := h.store.RescueExpiredLeases(ctx, h.now, 100)
			require.NoError(t, err)
			require.GreaterOrEqual(t, res.Rescued, 1)
			got := h.attempts()
			require.Len(t, got, 1)
			require.Equal(t, gateway.AttemptLeaseExpired, got[0].Outcome)
			require.Equal(t, "w-dead", got[0].WorkerID)
			require.Equal(t, e.ClaimCount, got[0].Number)
			require.Equal(t, gateway.ErrorCodeLeaseExpired, *got[0].ErrorCode)
			require.Equal(t, *e.LockedAt, got[0].StartedAt)
		})

		t.Run("retention deletes the runs of finished events only", func(t *testing.T) {
			open := newAttemptsHarness(t, db)
			require.True(t, open.complete(open.claim("w"), "w", gateway.OutboxPending, "timeout", "slow"))
			done := newAttemptsHarness(t, db)
			require.True(t, done.complete(done.claim("w"), "w", gateway.OutboxSuccess, "", ""))

			before := done.now.Add(time.Hour)
			_, err := done.store.DeleteFinishedAttempts(ctx, gateway.WorkspaceSet{Only: "ws"}, done.now.Add(-time.Minute), 1000)
			require.NoError(t, err)
			require.Len(t, done.attempts(), 1, "a run newer than the window stays")
			_, err = done.store.DeleteFinishedAttempts(ctx, gateway.WorkspaceSet{Only: "other"}, before, 1000)
			require.NoError(t, err)
			require.Len(t, done.attempts(), 1, "another workspace's window does not apply")
			_, err = done.store.DeleteFinishedAttempts(ctx, gateway.WorkspaceSet{Only: "ws"}, before, 1000)
			require.NoError(t, err)
			require.Empty(t, done.attempts())
			require.Len(t, open.attempts(), 1, "a pending event's runs stay")
		})

		t.Run("deleting a finished job deletes its events' runs", func(t *testing.T) {
			h := newAttemptsHarness(t, db)
			require.True(t, h.complete(h.claim("w"), "w", gateway.OutboxSuccess, "", ""))
			require.Len(t, h.attempts(), 1)
			jobs, _, err := h.store.DeleteFinishedJobs(ctx, gateway.WorkspaceSet{Only: "ws"}, h.now.Add(time.Hour), 1000)
			require.NoError(t, err)
			require.GreaterOrEqual(t, jobs, 1)
			require.Empty(t, h.attempts(), "no run outlives its event")
		})
	})
}
