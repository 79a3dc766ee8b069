package app

// Tests of several real gateway processes sharing one PostgreSQL database.
// The test binary re-executes itself as a helper process running the real
// command (serve or worker), so processes are killed and raced for real.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

const (
	helperEnv      = "MEMORY_GATEWAY_TEST_HELPER"
	helperArgsEnv  = "MEMORY_GATEWAY_TEST_HELPER_ARGS"
	probeModeEnv   = "MEMORY_GATEWAY_TEST_PROBE"
	probeBlock     = "block"
	probeGate      = "gate"
	probeSucceed   = "succeed"
	probeTableDDL  = "CREATE TABLE IF NOT EXISTS probe_executions (event_id text NOT NULL, pid integer NOT NULL, at timestamptz NOT NULL DEFAULT now())"
	processTimeout = 90 * time.Second
)

// testVersion is the version the tests' builds say they are, so what a
// command or a handshake reports can be told from a default.
const testVersion = "v0.0.0-test"

func TestMain(m *testing.M) {
	buildVersion = testVersion
	if base := os.Getenv(subscriberClientEnv); base != "" {
		// Client process of BenchmarkSubscriberHeap.
		n, _ := strconv.Atoi(os.Getenv(subscriberClientConnsEnv))
		if err := runSubscriberClient(base, n, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(helperEnv) != "1" {
		os.Exit(m.Run())
	}
	// Helper process: run the real command.
	if mode := os.Getenv(probeModeEnv); mode != "" {
		extraBackends = func(db *persistence.DB) []backendtype.BackendAdapter {
			return []backendtype.BackendAdapter{&probeBackend{db: db, mode: mode}}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, strings.Fields(os.Getenv(helperArgsEnv)), process{getenv: os.Getenv, stdout: os.Stdout, stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// probeBackend records every commit it executes in probe_executions, then
// succeeds, blocks until cancelled (a worker "mid-batch"), or waits until a
// row appears in probe_gate and succeeds.
type probeBackend struct {
	db   *persistence.DB
	mode string
}

func (p *probeBackend) Name() backendtype.Backend { return backendtype.BackendEverMemOS }

func (p *probeBackend) CommitSession(ctx context.Context, req backendtype.CommitRequest) (backendtype.CommitResult, error) {
	if _, err := p.db.ExecContext(ctx, "INSERT INTO probe_executions (event_id, pid) VALUES (?, ?)", req.EventID, os.Getpid()); err != nil {
		return backendtype.CommitResult{}, err
	}
	switch p.mode {
	case probeBlock:
		<-ctx.Done()
		return backendtype.CommitResult{}, ctx.Err()
	case probeGate:
		for {
			var n int
			if err := p.db.NewRaw("SELECT count(*) FROM probe_gate").Scan(ctx, &n); err != nil {
				return backendtype.CommitResult{}, err
			}
			if n > 0 {
				break
			}
			select {
			case <-ctx.Done():
				return backendtype.CommitResult{}, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return backendtype.CommitResult{Status: backendtype.ResultSuccess, NativeID: "probe-" + req.EventID}, nil
}

// helper is a running gateway process.
type helper struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has ended
	logs   *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
	// wrote is signalled after each write (see await).
	wrote chan struct{}
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.b.Write(p)
	if l.wrote != nil {
		select {
		case l.wrote <- struct{}{}:
		default:
		}
	}
	return n, err
}

// await waits until what was written satisfies done, or fails t after
// processTimeout.
func (l *lockedBuffer) await(t *testing.T, done func(written string) bool) {
	t.Helper()
	l.mu.Lock()
	if l.wrote == nil {
		l.wrote = make(chan struct{}, 1)
	}
	wrote := l.wrote
	l.mu.Unlock()
	deadline := time.After(processTimeout)
	for !done(l.String()) {
		select {
		case <-wrote:
		case <-deadline:
			t.Fatalf("never written; so far:\n%s", l.String())
		}
	}
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startHelper runs `memory-gateway <args>` as a separate process.
func startHelper(t *testing.T, args string, env ...string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=1", helperArgsEnv + "=" + args, "LOG_LEVEL=warn"}, env...)...)
	h := &helper{cmd: cmd, exited: make(chan struct{}), logs: &lockedBuffer{}}
	cmd.Stdout, cmd.Stderr = h.logs, h.logs
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait(); close(h.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-h.exited
		}
		if t.Failed() {
			t.Logf("helper %q output:\n%s", args, h.logs.String())
		}
	})
	return h
}

// kill ends the process the hard way: no shutdown, no lease release.
func (h *helper) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, h.cmd.Process.Kill())
	<-h.exited
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, processTimeout, 20*time.Millisecond)
}

// probeDB prepares a fresh PostgreSQL schema for probe processes and returns
// its URL, a migrated handle on it, and a service that creates commit jobs
// with one event for the probe backend.
func probeDB(t *testing.T) (string, *persistence.DB, *gateway.Service) {
	t.Helper()
	url := pt.URL(t, pt.Postgres)
	db, err := persistence.Open(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, db.Migrate(context.Background(), discardLogger()))
	_, err = db.ExecContext(context.Background(), probeTableDDL)
	require.NoError(t, err)
	svc, err := gateway.NewService(gateway.Options{
		Anonymous: &gateway.DevPrincipal,
		Store:     persistence.NewStore(db),
		Backends:  []backendtype.BackendAdapter{namedBackend(backendtype.BackendEverMemOS)},
	})
	require.NoError(t, err)
	return url, db, svc
}

type namedBackend backendtype.Backend

func (n namedBackend) Name() backendtype.Backend { return backendtype.Backend(n) }

func commitMany(t *testing.T, svc *gateway.Service, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		res, err := svc.CommitSession(context.Background(), gateway.CommitSessionInput{
			WorkspaceID: "ws", UserID: "u", AgentID: "a", SessionID: fmt.Sprintf("s%d", i), Namespace: "n",
		})
		require.NoError(t, err)
		ids[i] = res.Job.ID
	}
	return ids
}

func scalar[T any](t *testing.T, db *persistence.DB, query string, args ...any) T {
	t.Helper()
	var v T
	require.NoError(t, db.NewRaw(query, args...).Scan(context.Background(), &v))
	return v
}

func TestProcessKilledMidBatchIsRescued(t *testing.T) {
	t.Parallel()
	url, db, svc := probeDB(t)
	const events = 20
	commitMany(t, svc, events)

	// The first worker claims everything and hangs inside the backend.
	common := []string{"DATABASE_URL=" + url, "LOCAL_BACKEND=false", "WORKER_LEASE=1s", "WORKER_RESCUE_INTERVAL=200ms", "WORKER_POLL_INTERVAL=100ms"}
	victim := startHelper(t, "worker", append(common, probeModeEnv+"="+probeBlock)...)
	require.Eventually(t, func() bool {
		return scalar[int](t, db, "SELECT count(*) FROM probe_executions") == events
	}, processTimeout, 20*time.Millisecond, "the first worker claims and starts every event")
	victimPID := victim.cmd.Process.Pid
	victim.kill(t)
	require.Equal(t, events, scalar[int](t, db, "SELECT count(*) FROM outbox_events WHERE status = 'processing' AND locked_by LIKE ?", fmt.Sprintf("%%-%d-%%", victimPID)),
		"its leases are still held")

	// A second worker waits for the leases to expire, rescues and completes.
	startHelper(t, "worker", append(common, probeModeEnv+"="+probeSucceed)...)
	require.Eventually(t, func() bool {
		return scalar[int](t, db, "SELECT count(*) FROM commit_jobs WHERE status = 'success'") == events
	}, processTimeout, 50*time.Millisecond)

	require.Equal(t, events, scalar[int](t, db, "SELECT count(*) FROM outbox_events WHERE status = 'success' AND attempt_count = 2"),
		"each event: the lost attempt and the successful one")
	require.Equal(t, events, scalar[int](t, db, "SELECT count(*) FROM probe_executions WHERE pid <> ?", victimPID),
		"completed exactly once after the rescue")
	require.Equal(t, events, scalar[int](t, db, "SELECT count(DISTINCT event_id) FROM probe_executions WHERE pid <> ?", victimPID))
	require.Equal(t, events, scalar[int](t, db, "SELECT count(*) FROM memory_refs WHERE job_id IS NOT NULL"))
}

func TestWorkerProcessesRaceOverAThousandEvents(t *testing.T) {
	t.Parallel()
	url, db, svc := probeDB(t)
	const events = 1000
	commitMany(t, svc, events)

	env := []string{"DATABASE_URL=" + url, "LOCAL_BACKEND=false", probeModeEnv + "=" + probeSucceed, "WORKER_CONCURRENCY=50"}
	a := startHelper(t, "worker", env...)
	b := startHelper(t, "worker", env...)
	require.Eventually(t, func() bool {
		return scalar[int](t, db, "SELECT count(*) FROM outbox_events WHERE status = 'success'") == events
	}, processTimeout, 50*time.Millisecond)

	require.Equal(t, events, scalar[int](t, db, "SELECT count(*) FROM probe_executions"), "no event processed twice")
	require.Equal(t, events, scalar[int](t, db, "SELECT count(DISTINCT event_id) FROM probe_executions"), "none left behind")
	require.Equal(t, events, scalar[int](t, db, "SELECT count(*) FROM commit_jobs WHERE status = 'success'"))
	require.Equal(t, 1, scalar[int](t, db, "SELECT min(attempt_count) FROM outbox_events"))
	require.Equal(t, 1, scalar[int](t, db, "SELECT max(attempt_count) FROM outbox_events"))
	perProcess := map[int]int{}
	var rows []struct{ Pid, N int }
	require.NoError(t, db.NewRaw("SELECT pid, count(*) AS n FROM probe_executions GROUP BY pid").Scan(context.Background(), &rows))
	for _, r := range rows {
		perProcess[r.Pid] = r.N
	}
	t.Logf("events per process: %v (a=%d, b=%d)", perProcess, a.cmd.Process.Pid, b.cmd.Process.Pid)
}

func TestSubscriberSeesJobFinishedByAnotherProcess(t *testing.T) {
	t.Parallel()
	url, db, _ := probeDB(t)
	_, err := db.ExecContext(context.Background(), "CREATE TABLE probe_gate (opened boolean)")
	require.NoError(t, err)
	// Server A serves the API without a worker; process B only works, and
	// its backend waits at a gate the test opens.
	addr := freeAddr(t)
	startHelper(t, "serve --listen "+addr, "DATABASE_URL="+url, "WORKER=false", "LOCAL_BACKEND=false", probeModeEnv+"="+probeSucceed)
	base := "http://" + addr
	waitReady(t, base)
	startHelper(t, "worker", "DATABASE_URL="+url, "LOCAL_BACKEND=false", probeModeEnv+"="+probeGate)

	body, _ := json.Marshal(map[string]any{"query": `mutation { commitSession(input: {workspaceId: "ws", userId: "u", agentId: "a", sessionId: "s1", namespace: "n"}) { job { id } } }`})
	resp, err := http.Post(base+"/graphql", "application/json", strings.NewReader(string(body)))
	require.NoError(t, err)
	var out struct {
		Data struct {
			CommitSession struct{ Job struct{ ID string } }
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	_ = resp.Body.Close()
	jobID := out.Data.CommitSession.Job.ID
	require.NotEmpty(t, jobID)
	require.Eventually(t, func() bool {
		return scalar[int](t, db, "SELECT count(*) FROM probe_executions") == 1
	}, processTimeout, 20*time.Millisecond, "process B is running the job")

	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	defer func() { _ = conn.CloseNow() }()
	type message struct {
		Type    string
		Payload struct {
			Data struct{ CommitJobUpdated struct{ ID, Status string } }
		}
	}
	read := func() message {
		var m message
		require.NoError(t, wsjson.Read(ctx, conn, &m))
		return m
	}
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "connection_init"}))
	require.Equal(t, "connection_ack", read().Type)
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": `subscription($id: ID!) { commitJobUpdated(id: $id) { id status } }`, "variables": map[string]any{"id": jobID}}}))
	first := read()
	require.Equal(t, "next", first.Type)
	require.Equal(t, "RUNNING", first.Payload.Data.CommitJobUpdated.Status, "the state process B wrote")

	_, err = db.ExecContext(ctx, "INSERT INTO probe_gate VALUES (true)")
	require.NoError(t, err)
	last := read()
	require.Equal(t, "next", last.Type)
	require.Equal(t, "SUCCESS", last.Payload.Data.CommitJobUpdated.Status, "finished by process B, heard by server A")
	require.Equal(t, "complete", read().Type)
}

// TestRetentionByTwoProcesses: two processes apply the retention policy to
// one PostgreSQL database at once, in small batches: exactly the finished
// work past the window goes — jobs with their events, audit entries — and
// everything else stays, erasures (the proof) included.
func TestRetentionByTwoProcesses(t *testing.T) {
	t.Parallel()
	url, db, svc := probeDB(t)
	const old, recent = 1200, 30
	oldJobs := commitMany(t, svc, old+recent)[:old]
	ctx := context.Background()
	_, err := db.ExecContext(ctx, "UPDATE commit_jobs SET status = 'success', started_at = now(), finished_at = now()")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "UPDATE outbox_events SET status = 'success', completed_at = now()")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "UPDATE commit_jobs SET created_at = created_at - interval '40 days', finished_at = now() - interval '40 days' WHERE id IN (?)", bun.List(oldJobs))
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "UPDATE audit_entries SET created_at = created_at - interval '40 days' WHERE job_id IN (?)", bun.List(oldJobs))
	require.NoError(t, err)
	// An old erasure: its job and audit entry are proof, kept whatever the policy.
	res, err := svc.EraseSubject(ctx, gateway.EraseSubjectInput{WorkspaceID: "ws", UserID: "gone", Reason: "asked"})
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "UPDATE commit_jobs SET status = 'success', finished_at = now() - interval '40 days', created_at = created_at - interval '40 days' WHERE id = ?", res.Job.ID)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "UPDATE audit_entries SET created_at = created_at - interval '40 days' WHERE action = 'erase_subject'")
	require.NoError(t, err)

	env := []string{"DATABASE_URL=" + url, "LOCAL_BACKEND=false", "WORKER=false", probeModeEnv + "=" + probeSucceed,
		`RETENTION_POLICY={"default": {"controlPlane": "720h"}}`, "MAINTENANCE_INTERVAL=50ms", "MAINTENANCE_BATCH_SIZE=100"}
	startHelper(t, "worker", env...)
	startHelper(t, "worker", env...)
	require.Eventually(t, func() bool {
		return scalar[int](t, db, "SELECT count(*) FROM commit_jobs WHERE id IN (?)", bun.List(oldJobs)) == 0
	}, processTimeout, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		return scalar[int](t, db, "SELECT count(*) FROM audit_entries WHERE job_id IN (?)", bun.List(oldJobs)) == 0
	}, processTimeout, 50*time.Millisecond)

	require.Zero(t, scalar[int](t, db, "SELECT count(*) FROM outbox_events WHERE job_id IN (?)", bun.List(oldJobs)), "their events went with them")
	require.Equal(t, recent, scalar[int](t, db, "SELECT count(*) FROM commit_jobs WHERE kind = 'commit'"), "recent jobs stay")
	require.Equal(t, recent, scalar[int](t, db, "SELECT count(*) FROM outbox_events WHERE operation = 'commit_session'"))
	require.Equal(t, 1, scalar[int](t, db, "SELECT count(*) FROM commit_jobs WHERE id = ?", res.Job.ID), "the erasure's job stays")
	require.Equal(t, 1, scalar[int](t, db, "SELECT count(*) FROM erasure_requests"))
	require.Equal(t, 1, scalar[int](t, db, "SELECT count(*) FROM audit_entries WHERE action = 'erase_subject'"))
	require.Equal(t, recent, scalar[int](t, db, "SELECT count(*) FROM audit_entries WHERE action = ?", gateway.AuditActionCommit))
}
