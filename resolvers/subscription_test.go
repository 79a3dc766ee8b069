package resolvers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/jobevents"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
	"github.com/memory-gateway/memory-gateway/worker"
)

// gatedBackend commits only when the test opens the gate, so every job
// state can be observed.
type gatedBackend struct {
	started chan struct{}
	gate    chan struct{}
}

func (g *gatedBackend) Name() backendtype.Backend { return backendtype.BackendEverMemOS }

func (g *gatedBackend) CommitSession(ctx context.Context, req backendtype.CommitRequest) (backendtype.CommitResult, error) {
	g.started <- struct{}{}
	select {
	case <-g.gate:
		return backendtype.CommitResult{Status: backendtype.ResultSuccess, NativeID: "ep-" + req.SessionID}, nil
	case <-ctx.Done():
		return backendtype.CommitResult{}, ctx.Err()
	}
}

type liveServer struct {
	url     string
	svc     *gateway.Service
	hub     *jobevents.Hub
	backend *gatedBackend
}

// awaitSubscribers waits until the hub holds n subscriptions: a websocket
// subscribe has no acknowledgement.
func (s *liveServer) awaitSubscribers(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return s.hub.Subscribers() == n }, 10*time.Second, 5*time.Millisecond)
}

// newLiveServer runs the whole stack (service, hub, worker, GraphQL) behind
// a real HTTP server.
func newLiveServer(t *testing.T, db *persistence.DB) *liveServer {
	t.Helper()
	return newLiveServerPolling(t, db, 0)
}

// newLiveServerPolling is newLiveServer with a worker that also looks for
// due events every poll (0: the default).
func newLiveServerPolling(t *testing.T, db *persistence.DB, poll time.Duration) *liveServer {
	t.Helper()
	ctx := context.Background()
	store := persistence.NewStore(db)
	hub := jobevents.New(store, lifecycle.Env{})
	var listener *persistence.Listener
	backend := &gatedBackend{started: make(chan struct{}, 10), gate: make(chan struct{})}
	opts := gateway.Options{Anonymous: &gateway.DevPrincipal, Store: store, Backends: []backendtype.BackendAdapter{backend}, Publisher: hub, Watcher: hub}
	exec, err := gateway.NewOutboxExecutor(opts)
	require.NoError(t, err)
	if db.Notifies() {
		// Changes also travel through NOTIFY, as between processes.
		listener = persistence.NewListener(db, persistence.ListenerHandlers{
			Jobs: func(ids []string) { hub.PublishJobChanges(ctx, ids) }, Reconnected: hub.Resync,
		}, lifecycle.Env{})
	}
	w, err := worker.New(worker.Options{Store: store, Executor: exec, Publisher: hub, Config: worker.Config{Backends: []backendtype.Backend{backend.Name()}, PollInterval: poll}})
	require.NoError(t, err)
	opts.Notifier, opts.Drainer = w, w
	svc, err := gateway.NewService(opts)
	require.NoError(t, err)
	require.NoError(t, hub.Start(ctx))
	if listener != nil {
		require.NoError(t, listener.Start(ctx))
		<-listener.Listening()
	}
	require.NoError(t, w.Start(ctx))
	srv := httptest.NewServer(resolvers.NewHandler(&resolvers.Resolver{Service: svc}, resolvers.HandlerConfig{KeepAlive: time.Second}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		_ = w.Stop(ctx)
		if listener != nil {
			_ = listener.Stop(context.Background())
		}
		_ = hub.Stop(context.Background())
	})
	return &liveServer{url: srv.URL, svc: svc, hub: hub, backend: backend}
}

func (s *liveServer) commit(t *testing.T, session string) gateway.CommitJob {
	t.Helper()
	res, err := s.svc.CommitSession(context.Background(), gateway.CommitSessionInput{
		WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: session, Namespace: "team",
	})
	require.NoError(t, err)
	return res.Job
}

const jobSubscription = `subscription($id: ID!) { commitJobUpdated(id: $id) { id status createdRefsCount outboxSummary { totalEvents successEvents } } }`

type jobUpdate struct {
	CommitJobUpdated struct {
		ID               string
		Status           string
		CreatedRefsCount int
		OutboxSummary    struct{ TotalEvents, SuccessEvents int }
	}
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func dialWS(t *testing.T, url, subprotocol string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, strings.Replace(url, "http", "ws", 1)+"/graphql", &websocket.DialOptions{Subprotocols: []string{subprotocol}})
	require.NoError(t, err)
	require.Equal(t, subprotocol, resp.Header.Get("Sec-Websocket-Protocol"))
	t.Cleanup(func() { _ = conn.CloseNow() })
	return conn
}

// read returns the next message that is not a keep-alive.
func read(t *testing.T, conn *websocket.Conn) wsMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		var m wsMessage
		require.NoError(t, wsjson.Read(ctx, conn, &m))
		if m.Type != "ka" && m.Type != "ping" && m.Type != "pong" {
			return m
		}
	}
}

func write(t *testing.T, conn *websocket.Conn, m any) {
	t.Helper()
	require.NoError(t, wsjson.Write(context.Background(), conn, m))
}

func nextStatus(t *testing.T, conn *websocket.Conn, dataType string) jobUpdate {
	t.Helper()
	m := read(t, conn)
	require.Equal(t, dataType, m.Type, "payload: %s", m.Payload)
	var p struct {
		Data   jobUpdate
		Errors []gqlError
	}
	require.NoError(t, json.Unmarshal(m.Payload, &p))
	require.Empty(t, p.Errors)
	return p.Data
}

func TestSubscriptionOverGraphQLTransportWS(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		s := newLiveServer(t, db)
		conn := dialWS(t, s.url, "graphql-transport-ws")
		write(t, conn, map[string]any{"type": "connection_init", "payload": map[string]any{}})
		require.Equal(t, "connection_ack", read(t, conn).Type)

		job := s.commit(t, "s1")
		// The worker has claimed the event (RUNNING) and waits at the gate;
		// subscribing now shows the current state first.
		<-s.backend.started
		write(t, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": jobSubscription, "variables": map[string]any{"id": job.ID}}})
		first := nextStatus(t, conn, "next")
		require.Equal(t, job.ID, first.CommitJobUpdated.ID)
		require.Equal(t, "RUNNING", first.CommitJobUpdated.Status)

		close(s.backend.gate)
		last := nextStatus(t, conn, "next")
		require.Equal(t, "SUCCESS", last.CommitJobUpdated.Status)
		require.Equal(t, 1, last.CommitJobUpdated.OutboxSummary.SuccessEvents, "nested fields are read fresh for every event")
		require.Equal(t, 1, last.CommitJobUpdated.CreatedRefsCount)
		done := read(t, conn)
		require.Equal(t, "complete", done.Type, "the stream completes after a terminal state")
		require.Equal(t, "1", done.ID)
	})
}

// A client may complete an operation and at once subscribe again under the
// same id: the first operation, ending meanwhile, must leave the second
// alone.
func TestSubscriptionIDReusedAfterComplete(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		s := newLiveServer(t, db)
		conn := dialWS(t, s.url, "graphql-transport-ws")
		write(t, conn, map[string]any{"type": "connection_init", "payload": map[string]any{}})
		require.Equal(t, "connection_ack", read(t, conn).Type)
		job := s.commit(t, "s1")
		<-s.backend.started
		subscribe := map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": jobSubscription, "variables": map[string]any{"id": job.ID}}}
		write(t, conn, subscribe)
		require.Equal(t, "RUNNING", nextStatus(t, conn, "next").CommitJobUpdated.Status)
		for range 20 {
			write(t, conn, map[string]any{"id": "1", "type": "complete"})
			write(t, conn, subscribe)
			require.Equal(t, "RUNNING", nextStatus(t, conn, "next").CommitJobUpdated.Status, "the current state, for the new operation")
		}
		close(s.backend.gate)
		require.Equal(t, "SUCCESS", nextStatus(t, conn, "next").CommitJobUpdated.Status, "the last operation still runs")
		done := read(t, conn)
		require.Equal(t, "complete", done.Type)
		require.Equal(t, "1", done.ID)
	})
}

// burnCores keeps every core busy until the test ends: a state published a
// moment after its commit is then overtaken now and then by the next one,
// as on a loaded server.
func burnCores(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := uint64(1); ctx.Err() == nil; x++ {
				for range 10_000 {
					x ^= x << 13
				}
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func TestSubscriptionSeesEveryState(t *testing.T) {
	t.Parallel()
	burnCores(t)
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		// A worker polling every millisecond claims the job's event as soon
		// as the commit is stored: its RUNNING races the commit's ACCEPTED.
		s := newLiveServerPolling(t, db, time.Millisecond)
		conn := dialWS(t, s.url, "graphql-transport-ws")
		write(t, conn, map[string]any{"type": "connection_init"})
		require.Equal(t, "connection_ack", read(t, conn).Type)

		// Watch the workspace before each commit exists, then follow the
		// job: ACCEPTED → RUNNING → SUCCESS, round after round.
		write(t, conn, map[string]any{"id": "all", "type": "subscribe", "payload": map[string]any{
			"query": `subscription { commitJobsUpdated(workspaceId: "ws") { id status } }`}})
		s.awaitSubscribers(t, 1)
		for round := range statesRounds {
			job := s.commit(t, fmt.Sprintf("s%d", round))
			var seen []string
			for len(seen) == 0 || seen[len(seen)-1] != "SUCCESS" {
				m := read(t, conn)
				require.Equal(t, "next", m.Type, "payload: %s", m.Payload)
				var p struct {
					Data struct{ CommitJobsUpdated struct{ ID, Status string } }
				}
				require.NoError(t, json.Unmarshal(m.Payload, &p))
				require.Equal(t, job.ID, p.Data.CommitJobsUpdated.ID)
				seen = append(seen, p.Data.CommitJobsUpdated.Status)
				if round == 0 && p.Data.CommitJobsUpdated.Status == "RUNNING" {
					close(s.backend.gate) // SUCCESS only after RUNNING was seen
				}
			}
			<-s.backend.started
			require.Equal(t, []string{"ACCEPTED", "RUNNING", "SUCCESS"}, seen, "round %d", round)
		}
	})
}

// statesRounds is how many commits TestSubscriptionSeesEveryState follows.
const statesRounds = 8

func TestSubscriptionOverLegacyGraphQLWS(t *testing.T) {
	t.Parallel()
	db := pt.Open(t, pt.SQLite)
	s := newLiveServer(t, db)
	conn := dialWS(t, s.url, "graphql-ws")
	write(t, conn, map[string]any{"type": "connection_init", "payload": map[string]any{}})
	require.Equal(t, "connection_ack", read(t, conn).Type)
	job := s.commit(t, "s1")
	<-s.backend.started
	write(t, conn, map[string]any{"id": "1", "type": "start", "payload": map[string]any{"query": jobSubscription, "variables": map[string]any{"id": job.ID}}})
	require.Equal(t, "RUNNING", nextStatus(t, conn, "data").CommitJobUpdated.Status)
	close(s.backend.gate)
	require.Equal(t, "SUCCESS", nextStatus(t, conn, "data").CommitJobUpdated.Status)
	require.Equal(t, "complete", read(t, conn).Type)
}

func TestSubscriptionOverSSE(t *testing.T) {
	t.Parallel()
	db := pt.Open(t, pt.SQLite)
	s := newLiveServer(t, db)
	job := s.commit(t, "s1")
	<-s.backend.started

	body, _ := json.Marshal(map[string]any{"query": jobSubscription, "variables": map[string]any{"id": job.ID}})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/event-stream")

	events := make(chan [2]string, 10)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var event string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{event, strings.TrimPrefix(line, "data: ")}
			case line == "" && event == "complete":
				events <- [2]string{"complete", ""}
				return
			}
		}
	}()
	status := func() string {
		e := <-events
		require.Equal(t, "next", e[0])
		var p struct{ Data jobUpdate }
		require.NoError(t, json.Unmarshal([]byte(e[1]), &p))
		return p.Data.CommitJobUpdated.Status
	}
	require.Equal(t, "RUNNING", status())
	close(s.backend.gate)
	require.Equal(t, "SUCCESS", status())
	e := <-events
	require.Equal(t, "complete", e[0])
}

func TestSubscriptionToUnknownJob(t *testing.T) {
	t.Parallel()
	db := pt.Open(t, pt.SQLite)
	s := newLiveServer(t, db)
	conn := dialWS(t, s.url, "graphql-transport-ws")
	write(t, conn, map[string]any{"type": "connection_init"})
	require.Equal(t, "connection_ack", read(t, conn).Type)
	write(t, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": jobSubscription, "variables": map[string]any{"id": "gwc_nope"}}})
	m := read(t, conn)
	require.Contains(t, []string{"error", "next"}, m.Type)
	require.Contains(t, string(m.Payload), "NOT_FOUND")
}
