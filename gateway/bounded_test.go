package gateway_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/policy"
)

// stubbornBackend ignores its context: every call blocks until the test
// releases it, then reports a write it created. It can take writes back.
type stubbornBackend struct {
	release chan struct{}
	removed chan string
}

func (b *stubbornBackend) Name() backendtype.Backend { return backendtype.BackendEverMemOS }

func (b *stubbornBackend) IngestTurn(_ context.Context, w backendtype.TurnWrite) (backendtype.WriteResult, error) {
	<-b.release
	return backendtype.WriteResult{Status: backendtype.ResultSuccess, NativeID: "n-" + w.TurnID, Created: true}, nil
}

func (b *stubbornBackend) RemoveTurn(_ context.Context, w backendtype.TurnWrite) error {
	b.removed <- w.GatewayID
	return nil
}

func (b *stubbornBackend) Retrieve(context.Context, backendtype.RetrievalQuery) ([]backendtype.RetrievedItem, error) {
	<-b.release
	return nil, nil
}

// within fails the test unless fn returns before the stubborn backend is
// released (10 s is only a guard against hanging forever).
func within[T any](t *testing.T, fn func() T) T {
	t.Helper()
	out := make(chan T, 1)
	go func() { out <- fn() }()
	select {
	case v := <-out:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("the call waited for an adapter that ignores its context")
		panic("unreachable")
	}
}

// TestAdapterIgnoringItsContextIsBounded: an adapter that never looks at its
// context cannot hold an ingest (or its de-duplication key) or a retrieval
// past the timeout; its write, landing after the ingest gave up on it and
// recorded it FAILED, is taken back.
func TestAdapterIgnoringItsContextIsBounded(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		stubborn := &stubbornBackend{release: make(chan struct{}), removed: make(chan string, 4)}
		// Only the stubborn backend is bounded tightly: the local backend's
		// write, under the race detector on a loaded machine, can take
		// longer than 50 ms, and then both fail.
		svc := newService(t, db, gateway.Config{
			BackendTimeout: time.Minute, RetrieveTimeout: time.Minute,
			BackendTimeouts: map[backendtype.Backend]time.Duration{backendtype.BackendEverMemOS: 50 * time.Millisecond},
		}, localBackend(db), stubborn)

		type outcome struct {
			res gateway.IngestResult
			err error
		}
		ingest := func() outcome {
			res, err := svc.IngestConversationTurn(ctx, turnInput())
			return outcome{res, err}
		}
		first := within(t, ingest)
		require.NoError(t, first.err)
		require.Equal(t, gateway.OperationPartialSuccess, first.res.Status)
		for _, ref := range first.res.Refs {
			if ref.Backend == backendtype.BackendEverMemOS {
				require.Equal(t, gateway.RefStatusFailed, ref.Status)
				require.Contains(t, *ref.ErrorMessage, "timed out")
			}
		}
		// The same turn again retries the failed backend: its key was let go.
		again := within(t, ingest)
		require.NoError(t, again.err)
		require.Equal(t, first.res.GatewayID, again.res.GatewayID)

		ret := within(t, func() []gateway.BackendRetrieval {
			res, err := svc.RetrieveContext(ctx, gateway.RetrieveContextInput{WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Namespace: "team/alpha", Query: "colour"})
			require.NoError(t, err)
			return res.Backends
		})
		for _, o := range ret {
			if o.Backend == backendtype.BackendEverMemOS {
				require.Equal(t, gateway.RetrievalTimeout, o.Outcome)
			}
		}

		// Both abandoned writes land now: each is taken back.
		close(stubborn.release)
		for range 2 {
			select {
			case id := <-stubborn.removed:
				require.Equal(t, first.res.GatewayID, id)
			case <-time.After(10 * time.Second):
				t.Fatal("a late write was not taken back")
			}
		}
	})
}

// panickingBackend panics in every call it has.
type panickingBackend struct{}

func (panickingBackend) Name() backendtype.Backend { return backendtype.BackendEverMemOS }
func (panickingBackend) IngestTurn(context.Context, backendtype.TurnWrite) (backendtype.WriteResult, error) {
	panic("ingest bug for alice.liddell@example.com")
}
func (panickingBackend) Retrieve(context.Context, backendtype.RetrievalQuery) ([]backendtype.RetrievedItem, error) {
	panic("retrieve bug")
}
func (panickingBackend) CommitSession(context.Context, backendtype.CommitRequest) (backendtype.CommitResult, error) {
	panic("commit bug")
}
func (panickingBackend) Health(context.Context) error { panic("health bug") }

// TestEveryBackendCallTakesOnePath: ingest, retrieval, commit execution and
// health probes all go through the same call path: a panic is the
// ErrAdapterPanicked sentinel for the caller and a log entry with the stack
// (its value redacted) for the operator.
func TestEveryBackendCallTakesOnePath(t *testing.T) {
	t.Parallel()
	pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
		ctx := context.Background()
		var logs lockedBuffer
		redactor, err := policy.NewRedactor(policy.FileConfig{})
		require.NoError(t, err)
		svc, err := serviceWithExecutor(gateway.Options{
			Anonymous: &gateway.DevPrincipal, Store: storeOf(db), Env: lifecycle.NewEnv(slog.New(slog.NewJSONHandler(&logs, nil)), nil), Redactor: redactor,
			Backends: []backendtype.BackendAdapter{localBackend(db), panickingBackend{}},
		})
		require.NoError(t, err)

		ing, err := svc.IngestConversationTurn(ctx, turnInput())
		require.NoError(t, err)
		for _, ref := range ing.Refs {
			if ref.Backend == backendtype.BackendEverMemOS {
				require.Equal(t, gateway.ErrAdapterPanicked.Error(), *ref.ErrorMessage)
			}
		}
		ret, err := svc.RetrieveContext(ctx, gateway.RetrieveContextInput{WorkspaceID: "ws", UserID: "u1", AgentID: "a1", Query: "colour"})
		require.NoError(t, err)
		for _, o := range ret.Backends {
			if o.Backend == backendtype.BackendEverMemOS {
				require.Equal(t, gateway.RetrievalError, o.Outcome)
				require.Contains(t, *o.Error, gateway.ErrAdapterPanicked.Error())
			}
		}
		done := executorOf(t, svc).ExecuteOutboxEvent(ctx, gateway.OutboxEvent{
			ID: "outbox_x", Backend: backendtype.BackendEverMemOS, Operation: gateway.OperationCommitSession,
			WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: "s1", AttemptCount: 1, MaxAttempts: 5,
		}, "w")
		require.Equal(t, gateway.OutboxPending, done.Status, "retryable")
		require.Contains(t, *done.LastError, gateway.ErrAdapterPanicked.Error())
		statuses, err := svc.BackendStatuses(ctx)
		require.NoError(t, err)
		for _, st := range statuses {
			if st.Backend == backendtype.BackendEverMemOS {
				require.False(t, st.Healthy)
				require.Contains(t, *st.Error, gateway.ErrAdapterPanicked.Error())
			}
		}

		out := logs.String()
		for _, op := range []string{gateway.CallIngestTurn, gateway.CallRetrieve, gateway.CallCommitSession, gateway.CallHealth} {
			require.Contains(t, out, `"operation":"`+op+`"`, "the panic of %s is logged", op)
		}
		require.Equal(t, 4, strings.Count(out, `"stack":"goroutine`), "with its stack")
		require.NotContains(t, out, "alice.liddell@example.com", "the panic value is redacted")
	})
}

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
