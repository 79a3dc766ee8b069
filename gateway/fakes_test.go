package gateway_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/local"
	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/persistence"
)

// fakeBackend is a scriptable backend with every capability.
type fakeBackend struct {
	name     backendtype.Backend
	ingestFn func(ctx context.Context, w backendtype.TurnWrite) (backendtype.WriteResult, error)
	items    []backendtype.RetrievedItem
	delay    time.Duration
	// types, when set, are the ref types the fake declares.
	types *backendtype.RefTypes

	calls    atomic.Int64
	mu       sync.Mutex
	received []backendtype.TurnWrite
}

func (f *fakeBackend) Name() backendtype.Backend { return f.name }

func (f *fakeBackend) RefTypes() backendtype.RefTypes {
	if f.types != nil {
		return *f.types
	}
	return backendtype.DefaultRefTypes
}

func (f *fakeBackend) IngestTurn(ctx context.Context, w backendtype.TurnWrite) (backendtype.WriteResult, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.received = append(f.received, w)
	f.mu.Unlock()
	if f.ingestFn != nil {
		return f.ingestFn(ctx, w)
	}
	return backendtype.WriteResult{Status: backendtype.ResultSuccess, NativeID: "native-" + w.TurnID, Response: map[string]any{"id": "native-" + w.TurnID, "content": w.Content}}, nil
}

func (f *fakeBackend) Retrieve(ctx context.Context, _ backendtype.RetrievalQuery) ([]backendtype.RetrievedItem, error) {
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return f.items, nil
}

// bareBackend has no capability at all.
type bareBackend struct{ name backendtype.Backend }

func (b bareBackend) Name() backendtype.Backend { return b.name }

// newService builds a service on db with the given backends and a fixed,
// advancing clock.
func newService(t *testing.T, db *persistence.DB, cfg gateway.Config, backends ...backendtype.BackendAdapter) *gateway.Service {
	t.Helper()
	var tick atomic.Int64
	svc, err := serviceWithExecutor(gateway.Options{
		Anonymous: &gateway.DevPrincipal,
		Store:     persistence.NewStore(db),
		Backends:  backends,
		Config:    cfg,
		Env: lifecycle.NewEnv(nil, func() time.Time {
			return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC).Add(time.Duration(tick.Add(1)) * time.Millisecond)
		}),
	})
	require.NoError(t, err)
	return svc
}

// executors remembers the outbox executor built beside each test service
// (from the same options), for the tests that drain.
var executors sync.Map // *gateway.Service → *gateway.OutboxExecutor

// serviceWithExecutor builds a service and, from the same options, its
// outbox executor.
func serviceWithExecutor(opts gateway.Options) (*gateway.Service, error) {
	svc, err := gateway.NewService(opts)
	if err != nil {
		return nil, err
	}
	exec, err := gateway.NewOutboxExecutor(opts)
	if err != nil {
		return nil, err
	}
	executors.Store(svc, exec)
	return svc, nil
}

func executorOf(t *testing.T, svc *gateway.Service) *gateway.OutboxExecutor {
	t.Helper()
	exec, ok := executors.Load(svc)
	require.True(t, ok, "the service was not built by serviceWithExecutor")
	return exec.(*gateway.OutboxExecutor)
}

func localBackend(db *persistence.DB) backendtype.BackendAdapter { return local.New(db.DB, nil) }

func turnInput(modify ...func(*gateway.IngestTurnInput)) gateway.IngestTurnInput {
	in := gateway.IngestTurnInput{
		WorkspaceID: "ws", UserID: "u1", AgentID: "a1", SessionID: "s1", TurnID: "t1",
		Namespace: "team/alpha", Role: backendtype.RoleUser, Content: "my favourite colour is blue",
	}
	for _, m := range modify {
		m(&in)
	}
	return in
}

func storeOf(db *persistence.DB) gateway.Store { return persistence.NewStore(db) }
