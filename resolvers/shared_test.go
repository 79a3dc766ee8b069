package resolvers_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

const jobsSubscription = `subscription($ws: ID!, $session: ID) { commitJobsUpdated(workspaceId: $ws, sessionId: $session) { id status outboxSummary { totalEvents } } }`

func jobsStatus(t *testing.T, conn *websocket.Conn, id string) string {
	t.Helper()
	m := read(t, conn)
	require.Equal(t, "next", m.Type, "payload: %s", m.Payload)
	require.Equal(t, id, m.ID)
	var p struct {
		Data struct {
			CommitJobsUpdated struct{ ID, Status string }
		}
	}
	require.NoError(t, json.Unmarshal(m.Payload, &p))
	return p.Data.CommitJobsUpdated.Status
}

// TestSharedChangeStreams: subscribers of the same change stream (document,
// variables, key) share one execution yet each take a place under the
// cap, receive every change under their own id, and leave on their own; a
// stream with other variables has its own execution.
func TestSharedChangeStreams(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		s := newLiveServer(t, db)
		subscribe := func(id, session string) *websocket.Conn {
			conn := dialWS(t, s.url, "graphql-transport-ws")
			write(t, conn, map[string]any{"type": "connection_init", "payload": map[string]any{}})
			require.Equal(t, "connection_ack", read(t, conn).Type)
			write(t, conn, map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{
				"query": jobsSubscription, "variables": map[string]any{"ws": "ws", "session": session}}})
			return conn
		}
		a, b, c := subscribe("a", "s1"), subscribe("b", "s1"), subscribe("c", "s2")
		require.Eventually(t, func() bool { return s.svc.LiveSubscriptions() == 3 && s.hub.Subscribers() == 2 },
			10*time.Second, 5*time.Millisecond, "three subscribers, two executions")

		job := s.commit(t, "s1")
		require.Equal(t, "ACCEPTED", jobsStatus(t, a, "a"))
		require.Equal(t, "ACCEPTED", jobsStatus(t, b, "b"))
		<-s.backend.started
		require.Equal(t, "RUNNING", jobsStatus(t, a, "a"))
		require.Equal(t, "RUNNING", jobsStatus(t, b, "b"))

		// a leaves; b's stream goes on.
		write(t, a, map[string]any{"id": "a", "type": "complete"})
		require.Eventually(t, func() bool { return s.svc.LiveSubscriptions() == 2 && s.hub.Subscribers() == 2 },
			10*time.Second, 5*time.Millisecond)
		close(s.backend.gate)
		require.Equal(t, "SUCCESS", jobsStatus(t, b, "b"))

		// c saw nothing of s1; its own stream is live.
		job2 := s.commit(t, "s2")
		require.NotEqual(t, job.ID, job2.ID)
		require.Equal(t, "ACCEPTED", jobsStatus(t, c, "c"))

		// The last subscriber of a stream ends its execution.
		write(t, b, map[string]any{"id": "b", "type": "complete"})
		require.Eventually(t, func() bool { return s.svc.LiveSubscriptions() == 1 && s.hub.Subscribers() == 1 },
			10*time.Second, 5*time.Millisecond)

		// A connection that goes away takes its subscriptions with it.
		d := subscribe("d", "s2")
		require.Eventually(t, func() bool { return s.svc.LiveSubscriptions() == 2 && s.hub.Subscribers() == 1 },
			10*time.Second, 5*time.Millisecond, "d shares c's stream")
		require.NoError(t, c.CloseNow())
		require.NoError(t, d.CloseNow())
		require.Eventually(t, func() bool { return s.svc.LiveSubscriptions() == 0 && s.hub.Subscribers() == 0 },
			10*time.Second, 5*time.Millisecond)
	})
}

// TestSharedJobStreams: subscribers of one job's stream share an execution;
// one that joins while it runs first gets the job's current state, then
// every change, and each completes after the terminal state.
func TestSharedJobStreams(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		s := newLiveServer(t, db)
		job := s.commit(t, "s1")
		<-s.backend.started // RUNNING, held at the gate
		subscribe := func(id string) *websocket.Conn {
			conn := dialWS(t, s.url, "graphql-transport-ws")
			write(t, conn, map[string]any{"type": "connection_init", "payload": map[string]any{}})
			require.Equal(t, "connection_ack", read(t, conn).Type)
			write(t, conn, map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{
				"query": jobSubscription, "variables": map[string]any{"id": job.ID}}})
			return conn
		}
		a := subscribe("a")
		require.Equal(t, "RUNNING", nextStatus(t, a, "next").CommitJobUpdated.Status, "the current state first")
		b := subscribe("b")
		require.Equal(t, "RUNNING", nextStatus(t, b, "next").CommitJobUpdated.Status, "a joiner gets the current state too")
		require.Equal(t, 2, s.svc.LiveSubscriptions())
		require.Equal(t, 1, s.hub.Subscribers(), "one execution for both")

		close(s.backend.gate)
		for _, conn := range []*websocket.Conn{a, b} {
			require.Equal(t, "SUCCESS", nextStatus(t, conn, "next").CommitJobUpdated.Status)
			require.Equal(t, "complete", read(t, conn).Type)
		}
		// After the end, a new subscriber gets the terminal state alone.
		c := subscribe("c")
		require.Equal(t, "SUCCESS", nextStatus(t, c, "next").CommitJobUpdated.Status)
		require.Equal(t, "complete", read(t, c).Type)
	})
}
