package app

// BenchmarkSubscriberHeap measures the heap one graphql-transport-ws
// connection and one subscriber cost the server. The server runs in the
// benchmark's process; the clients run in a child process (the test binary
// re-executed), so none of their memory is counted:
//
//	go test ./app/ -run '^$' -bench SubscriberHeap -benchtime 1x
//
// With -subscriber-heap-profile=<file> (and -memprofilerate=1 for every
// allocation) it also writes the server's heap with every subscriber
// subscribed, for go tool pprof -sample_index=inuse_space.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

var (
	subscriberHeapConns   = flag.Int("subscriber-heap-conns", 1000, "connections (one subscriber each) of BenchmarkSubscriberHeap")
	subscriberHeapProfile = flag.String("subscriber-heap-profile", "", "file BenchmarkSubscriberHeap writes the server's heap profile to, with every subscriber subscribed")
)

// The child process that holds the connections.
const (
	subscriberClientEnv      = "MEMORY_GATEWAY_TEST_SUBSCRIBER_CLIENT"
	subscriberClientConnsEnv = "MEMORY_GATEWAY_TEST_SUBSCRIBER_CONNS"
	subscriberSessions       = 10
	subscriberWorkspace      = "heap"
	subscriberDialLimit      = 32
	subscriberRoundWait      = 5 * time.Second
	subscriberRounds         = 5
	subscriberPoll           = 20 * time.Millisecond
	subscriberTimeout        = 2 * time.Minute
	subscriberWarmUpConns    = 20
	// Lines between the benchmark and its client.
	clientConnected  = "connected"
	clientSubscribe  = "subscribe"
	clientSubscribed = "subscribed"
)

const heapJobsSubscription = `subscription($ws: ID!, $session: ID) { commitJobsUpdated(workspaceId: $ws, sessionId: $session) { id status sessionId updatedAt } }`

func BenchmarkSubscriberHeap(b *testing.B) {
	n := *subscriberHeapConns
	base := startServerWith(b, map[string]string{
		"DATABASE_URL":                    pt.URL(b, pt.SQLite),
		"RATE_LIMIT_INGEST":               "0",
		"RATE_LIMIT_RETRIEVE":             "0",
		"MAX_SUBSCRIPTIONS_PER_PRINCIPAL": strconv.Itoa(2 * n),
	})
	// What the first connections allocate once (caches, pools) is not a
	// connection's.
	measureSubscriberHeap(b, base, subscriberWarmUpConns, "")
	var perConn, perSub, stackConn, stackSub float64
	for i := 0; i < b.N; i++ {
		m := measureSubscriberHeap(b, base, n, *subscriberHeapProfile)
		perConn += m.heapConnected / float64(n)
		perSub += m.heapSubscribed / float64(n)
		stackConn += m.stackConnected / float64(n)
		stackSub += m.stackSubscribed / float64(n)
	}
	runs := float64(b.N)
	b.ReportMetric(perConn/runs, "heap-B/conn")
	b.ReportMetric(perSub/runs, "heap-B/sub")
	b.ReportMetric(stackConn/runs, "stack-B/conn")
	b.ReportMetric(stackSub/runs, "stack-B/sub")
}

// heapGrowth is what the server holds more than before the connections.
type heapGrowth struct {
	heapConnected, heapSubscribed   float64
	stackConnected, stackSubscribed float64
}

// serverMemory collects what is garbage and reads what the heap and the
// goroutine stacks hold.
func serverMemory() (heap, stack float64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse), float64(m.StackInuse)
}

// measureSubscriberHeap has a child process open n connections, then
// subscribe each, and reads the server's memory before, connected and
// subscribed; it returns once the server has let them all go.
func measureSubscriberHeap(b *testing.B, base string, n int, profile string) heapGrowth {
	b.Helper()
	heap0, stack0 := serverMemory()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), subscriberClientEnv+"="+base, subscriberClientConnsEnv+"="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(b, cmd.Start())
	lines := bufio.NewScanner(stdout)
	expect := func(want string) {
		b.Helper()
		if !lines.Scan() || lines.Text() != want {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			b.Fatalf("client: expected %q, got %q (%v); its output:\n%s", want, lines.Text(), lines.Err(), stderr.String())
		}
	}
	var g heapGrowth
	expect(clientConnected)
	heap, stack := serverMemory()
	g.heapConnected, g.stackConnected = heap-heap0, stack-stack0
	_, err = io.WriteString(stdin, clientSubscribe+"\n")
	require.NoError(b, err)
	expect(clientSubscribed)
	heap, stack = serverMemory()
	g.heapSubscribed, g.stackSubscribed = heap-heap0, stack-stack0
	if profile != "" {
		f, err := os.Create(profile)
		require.NoError(b, err)
		require.NoError(b, pprof.Lookup("heap").WriteTo(f, 0))
		require.NoError(b, f.Close())
	}
	// The client closes its connections and exits when its input ends.
	require.NoError(b, stdin.Close())
	require.NoError(b, cmd.Wait(), "client output:\n%s", stderr.String())
	require.Eventually(b, func() bool { return wsSessionGoroutines() == 0 }, subscriberTimeout, subscriberPoll,
		"the server still holds connections of the client")
	return g
}

// runSubscriberClient is the child process: it opens n connections
// (connection_init, connection_ack) and says so, then on its cue subscribes
// each to the job changes of one of a few sessions, commits every session
// until each subscriber has a terminal state of its session's job (so the
// server holds every subscription and has delivered on it), says so, and
// closes everything when its input ends.
func runSubscriberClient(base string, n int, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), subscriberTimeout)
	defer cancel()
	conns := make([]*websocket.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.CloseNow()
			}
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(subscriberDialLimit)
	for i := range conns {
		g.Go(func() error {
			c, _, err := websocket.Dial(gctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql",
				&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
			if err != nil {
				return fmt.Errorf("error dialling connection %d: %w", i, err)
			}
			conns[i] = c
			if err := wsjson.Write(gctx, c, map[string]any{"type": "connection_init"}); err != nil {
				return err
			}
			for {
				var f frame
				if err := wsjson.Read(gctx, c, &f); err != nil {
					return fmt.Errorf("error waiting for connection_ack: %w", err)
				}
				if f.Type == "connection_ack" {
					return nil
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fmt.Fprintln(out, clientConnected)
	cue := bufio.NewScanner(in)
	if !cue.Scan() || cue.Text() != clientSubscribe {
		return errors.New("no cue to subscribe")
	}
	seen := &terminalStates{byConn: make([]map[string]bool, n)}
	var readers sync.WaitGroup
	defer readers.Wait()
	defer cancel()
	for i, c := range conns {
		seen.byConn[i] = map[string]bool{}
		vars := map[string]any{"ws": subscriberWorkspace, "session": subscriberSession(i)}
		if err := wsjson.Write(ctx, c, map[string]any{"id": "jobs", "type": "subscribe",
			"payload": map[string]any{"query": heapJobsSubscription, "variables": vars}}); err != nil {
			return fmt.Errorf("error subscribing %d: %w", i, err)
		}
		readers.Go(func() { seen.read(ctx, i, c) })
	}
	if err := awaitSubscriptions(ctx, base, n); err != nil {
		return err
	}
	for round := 0; ; round++ {
		if round == subscriberRounds {
			return errors.New("subscribers still miss their terminal states")
		}
		jobs, err := commitRound(ctx, base, round)
		if err != nil {
			return err
		}
		if seen.await(ctx, jobs, subscriberRoundWait) {
			break
		}
	}
	fmt.Fprintln(out, clientSubscribed)
	_, _ = io.Copy(io.Discard, in)
	return nil
}

func subscriberSession(i int) string { return "s" + strconv.Itoa(i%subscriberSessions) }

// terminalStates are the jobs each connection saw reach a terminal state.
type terminalStates struct {
	mu     sync.Mutex
	byConn []map[string]bool
}

func (s *terminalStates) read(ctx context.Context, i int, c *websocket.Conn) {
	for {
		var f frame
		if wsjson.Read(ctx, c, &f) != nil {
			return
		}
		if f.Type != "next" {
			continue
		}
		var p struct {
			Data struct {
				CommitJobsUpdated struct{ ID, Status string }
			}
		}
		if json.Unmarshal(f.Payload, &p) != nil {
			continue
		}
		switch job := p.Data.CommitJobsUpdated; job.Status {
		case "SUCCESS", "PARTIAL_SUCCESS", "FAILED":
			s.mu.Lock()
			s.byConn[i][job.ID] = true
			s.mu.Unlock()
		}
	}
}

// await reports whether every connection saw its session's job of jobs
// (session → job id) end within wait.
func (s *terminalStates) await(ctx context.Context, jobs map[string]string, wait time.Duration) bool {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(subscriberPoll)
	defer tick.Stop()
	for {
		s.mu.Lock()
		all := true
		for i, seen := range s.byConn {
			if !seen[jobs[subscriberSession(i)]] {
				all = false
				break
			}
		}
		s.mu.Unlock()
		if all {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
}

// awaitSubscriptions waits until the server's gauge counts n subscribers.
func awaitSubscriptions(ctx context.Context, base string, n int) error {
	tick := time.NewTicker(subscriberPoll)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return err
		}
		for line := range strings.SplitSeq(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, "memory_gateway_subscriptions_active "); ok {
				if live, err := strconv.ParseFloat(v, 64); err == nil && live >= float64(n) {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the server never counted %d subscribers: %w", n, ctx.Err())
		case <-tick.C:
		}
	}
}

// commitRound ingests a turn into every session and commits it; it returns
// the jobs by session.
func commitRound(ctx context.Context, base string, round int) (map[string]string, error) {
	jobs := map[string]string{}
	for i := range subscriberSessions {
		session := subscriberSession(i)
		key := "round-" + strconv.Itoa(round)
		common := map[string]any{"workspaceId": subscriberWorkspace, "userId": "u1", "agentId": "a1", "sessionId": session, "namespace": "heap"}
		turn := map[string]any{"turnId": key, "role": "USER", "content": "The meeting moved to Thursday at noon."}
		for k, v := range common {
			turn[k] = v
		}
		if err := postGraphQL(ctx, base, `mutation($in: IngestConversationTurnInput!) { ingestConversationTurn(input: $in) { status } }`,
			map[string]any{"in": turn}, nil); err != nil {
			return nil, err
		}
		commit := map[string]any{"idempotencyKey": key}
		for k, v := range common {
			commit[k] = v
		}
		var out struct {
			CommitSession struct{ Job struct{ ID string } }
		}
		if err := postGraphQL(ctx, base, `mutation($in: CommitSessionInput!) { commitSession(input: $in) { job { id } } }`,
			map[string]any{"in": commit}, &out); err != nil {
			return nil, err
		}
		jobs[session] = out.CommitSession.Job.ID
	}
	return jobs, nil
}

func postGraphQL(ctx context.Context, base, query string, vars map[string]any, data any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("error decoding a response (%s): %w", resp.Status, err)
	}
	if len(out.Errors) > 0 {
		return fmt.Errorf("graphql: %s", out.Errors[0].Message)
	}
	if data != nil {
		return json.Unmarshal(out.Data, data)
	}
	return nil
}
