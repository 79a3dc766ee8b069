package gateway_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
)

func TestWaitOf(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Minute), now.Add(-time.Minute)
	worker, msg, code, circuit := "w1", "HTTP 503", "unreachable", gateway.ErrorCodeCircuitOpen
	for _, tc := range []struct {
		name        string
		event       gateway.OutboxEvent
		breakerOpen bool
		want        *gateway.OutboxWait
	}{
		{"due now", gateway.OutboxEvent{Status: gateway.OutboxPending, NextRetryAt: earlier}, false,
			&gateway.OutboxWait{Reason: gateway.WaitQueued}},
		{"retry later", gateway.OutboxEvent{Status: gateway.OutboxPending, NextRetryAt: later, LastError: &msg, LastErrorCode: &code}, false,
			&gateway.OutboxWait{Reason: gateway.WaitRetryDue, Until: &later}},
		{"backend still working", gateway.OutboxEvent{Status: gateway.OutboxPending, NextRetryAt: later}, false,
			&gateway.OutboxWait{Reason: gateway.WaitBackendPending, Until: &later}},
		{"breaker open here", gateway.OutboxEvent{Status: gateway.OutboxPending, NextRetryAt: earlier}, true,
			&gateway.OutboxWait{Reason: gateway.WaitBreakerOpen}},
		{"breaker refused the call", gateway.OutboxEvent{Status: gateway.OutboxPending, NextRetryAt: later, LastError: &msg, LastErrorCode: &circuit}, false,
			&gateway.OutboxWait{Reason: gateway.WaitBreakerOpen, Until: &later}},
		{"waiting for its backend", gateway.OutboxEvent{Status: gateway.OutboxPending, NextRetryAt: later, LastError: &msg, LastErrorCode: &code,
			Metadata: gateway.Metadata{"waiting_for_backend": true}}, false,
			&gateway.OutboxWait{Reason: gateway.WaitBreakerOpen, Until: &later}},
		{"leased", gateway.OutboxEvent{Status: gateway.OutboxProcessing, LockedBy: &worker, LeaseExpiresAt: &later}, false,
			&gateway.OutboxWait{Reason: gateway.WaitLeaseHeld, Until: &later, WorkerID: &worker}},
		{"lease expired", gateway.OutboxEvent{Status: gateway.OutboxProcessing, LockedBy: &worker, LeaseExpiresAt: &earlier}, false,
			&gateway.OutboxWait{Reason: gateway.WaitLeaseExpired, Until: &earlier, WorkerID: &worker}},
		{"finished", gateway.OutboxEvent{Status: gateway.OutboxSuccess}, true, nil},
		{"dead letter", gateway.OutboxEvent{Status: gateway.OutboxDeadLetter}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.event.Backend = "local"
			if tc.want != nil {
				tc.want.Backend = "local"
			}
			require.Equal(t, tc.want, gateway.WaitOf(tc.event, now, tc.breakerOpen))
		})
	}
}

func TestAttemptOutcome(t *testing.T) {
	t.Parallel()
	msg := "boom"
	for _, tc := range []struct {
		c    gateway.OutboxCompletion
		want gateway.AttemptOutcome
	}{
		{gateway.OutboxCompletion{Status: gateway.OutboxSuccess}, gateway.AttemptSucceeded},
		{gateway.OutboxCompletion{Status: gateway.OutboxSkipped}, gateway.AttemptSkipped},
		{gateway.OutboxCompletion{Status: gateway.OutboxDeadLetter, LastError: &msg}, gateway.AttemptDeadLettered},
		{gateway.OutboxCompletion{Status: gateway.OutboxPending, LastError: &msg}, gateway.AttemptFailed},
		{gateway.OutboxCompletion{Status: gateway.OutboxPending}, gateway.AttemptBackendPending},
		{gateway.OutboxCompletion{Status: gateway.OutboxPending, LastError: &msg, Outcome: gateway.AttemptBackendDown}, gateway.AttemptBackendDown},
	} {
		require.Equal(t, tc.want, tc.c.AttemptOutcome())
	}
}
