package gateway_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
)

func TestJobSnapshotPagesLikeTheStore(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snap := gateway.JobSnapshot{Events: []gateway.OutboxEvent{
		{ID: "a", CreatedAt: t0, Status: gateway.OutboxPending},
		{ID: "c", CreatedAt: t0, Status: gateway.OutboxSuccess},
		{ID: "b", CreatedAt: t0.Add(time.Second), Status: gateway.OutboxDeadLetter},
		{ID: "d", CreatedAt: t0.Add(-time.Second), Status: gateway.OutboxPending},
	}}
	require.Equal(t, gateway.OutboxSummary{TotalEvents: 4, PendingEvents: 2, SuccessEvents: 1, DeadLetterEvents: 1}, snap.Summary())
	ids := func(p gateway.Page[gateway.OutboxEvent]) (out []string) {
		for _, e := range p.Items {
			out = append(out, e.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		req       gateway.PageRequest
		want      []string
		next, prv bool
	}{
		{"all, newest first, then id descending", gateway.PageRequest{First: 10}, []string{"b", "c", "a", "d"}, false, false},
		{"first two", gateway.PageRequest{First: 2}, []string{"b", "c"}, true, false},
		{"after c", gateway.PageRequest{First: 2, After: &gateway.Cursor{CreatedAt: t0, ID: "c"}}, []string{"a", "d"}, false, true},
		{"after the last", gateway.PageRequest{First: 2, After: &gateway.Cursor{CreatedAt: t0.Add(-time.Second), ID: "d"}}, nil, false, true},
		{"last two: the oldest, newest first", gateway.PageRequest{Backward: true, Last: 2}, []string{"a", "d"}, false, true},
		{"last two before a", gateway.PageRequest{Backward: true, Last: 2, Before: &gateway.Cursor{CreatedAt: t0, ID: "a"}}, []string{"b", "c"}, true, false},
		{"last one before a", gateway.PageRequest{Backward: true, Last: 1, Before: &gateway.Cursor{CreatedAt: t0, ID: "a"}}, []string{"c"}, true, true},
		{"before the first", gateway.PageRequest{Backward: true, Last: 2, Before: &gateway.Cursor{CreatedAt: t0.Add(time.Second), ID: "b"}}, nil, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := snap.EventsPage(tc.req)
			require.Equal(t, tc.want, ids(page))
			require.NotNil(t, page.Items)
			require.Equal(t, tc.next, page.HasNextPage)
			require.Equal(t, tc.prv, page.HasPreviousPage)
		})
	}
}
