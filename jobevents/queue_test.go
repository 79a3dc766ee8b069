package jobevents

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

func TestSlowSubscriberQueueCoalesces(t *testing.T) {
	t.Parallel()
	h := New(nil, lifecycle.Env{})
	s := h.Subscribe(Filter{WorkspaceID: "ws"})
	const last = QueueMax + 10
	for v := int64(1); v <= last; v++ {
		s.offer(gateway.CommitJob{ID: "j1", WorkspaceID: "ws", Version: v})
		s.offer(gateway.CommitJob{ID: "j2", WorkspaceID: "ws", Version: v})
	}
	got := s.Drain()
	require.LessOrEqual(t, len(got), QueueMax, "bounded")
	newest := map[string]int64{}
	for _, j := range got {
		require.Greater(t, j.Version, newest[j.ID], "still in order per job")
		newest[j.ID] = j.Version
	}
	require.Equal(t, map[string]int64{"j1": last, "j2": last}, newest, "the newest state survives")
	require.Empty(t, s.Drain())
}
