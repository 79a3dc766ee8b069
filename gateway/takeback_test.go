package gateway_test

import (
	"context"
	"log/slog"
	"strings"
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

// lateBackend answers its writes (single and batched) only once the test
// closes release, whatever its context says, and reports each as created;
// taking one back runs remove.
type lateBackend struct {
	release chan struct{}
	remove  func(ctx context.Context) error
}

func (b *lateBackend) Name() backendtype.Backend { return backendtype.BackendEverMemOS }

func (b *lateBackend) IngestTurn(_ context.Context, w backendtype.TurnWrite) (backendtype.WriteResult, error) {
	<-b.release
	return backendtype.WriteResult{Status: backendtype.ResultSuccess, NativeID: "n-" + w.TurnID, Created: true}, nil
}

func (b *lateBackend) IngestTurns(ctx context.Context, ws []backendtype.TurnWrite) ([]backendtype.WriteResult, error) {
	out := make([]backendtype.WriteResult, len(ws))
	for i, w := range ws {
		out[i], _ = b.IngestTurn(ctx, w)
	}
	return out, nil
}

func (b *lateBackend) RemoveTurn(ctx context.Context, _ backendtype.TurnWrite) error {
	return b.remove(ctx)
}

// callEnds is a CallObserver that reports every ended call as
// "operation=outcome".
type callEnds chan string

func (c callEnds) StartCall(ctx context.Context, _ backendtype.Backend, operation string) (context.Context, func(string)) {
	return ctx, func(outcome string) { c <- operation + "=" + outcome }
}

// awaitEnds waits until n calls of operation ended with outcome.
func awaitEnds(t *testing.T, ends callEnds, operation, outcome string, n int) {
	t.Helper()
	for n > 0 {
		select {
		case got := <-ends:
			if got == operation+"="+outcome {
				n--
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d more %s calls ending %s were awaited", n, operation, outcome)
		}
	}
}

// TestTakeBacksTakeTheOneCallPath: taking a write back is a backend call
// like any other — bounded by the backend's write timeout, observed, its
// panic logged and contained — wherever it happens: for a write that landed
// after its ingest stopped waiting (single or in a batch), and for a write
// whose refs the control plane could not record. An adapter that answers
// late and then panics in RemoveTurn does not end the process; one whose
// RemoveTurn never returns does not hold the ingest.
func TestTakeBacksTakeTheOneCallPath(t *testing.T) {
	t.Parallel()
	panicking := func(context.Context) error { panic("take-back bug for alice.liddell@example.com") }
	// stuck never returns while the test runs.
	stuck := func(context.Context) error { <-t.Context().Done(); return nil }
	for _, tc := range []struct {
		name    string
		remove  func(context.Context) error
		outcome string
		turns   int
		// failSave makes the control-plane transaction fail, so the
		// writes (answered in time) are taken back by the ingest itself.
		failSave bool
	}{
		{name: "late write, remover panics", remove: panicking, outcome: gateway.OutcomeError, turns: 1},
		{name: "late writes of a batch, remover panics", remove: panicking, outcome: gateway.OutcomeError, turns: 3},
		{name: "refs not recorded, remover panics", remove: panicking, outcome: gateway.OutcomeError, turns: 1, failSave: true},
		{name: "refs not recorded, remover hangs", remove: stuck, outcome: gateway.OutcomeTimeout, turns: 1, failSave: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pt.ForEach(t, func(t *testing.T, db *persistence.DB) {
				ctx := context.Background()
				backend := &lateBackend{release: make(chan struct{}), remove: tc.remove}
				var store gateway.Store = persistence.NewStore(db)
				if tc.failSave {
					store = failingSave{persistence.NewStore(db)}
					close(backend.release) // answered in time
				}
				ends := make(callEnds, 64)
				var logs lockedBuffer
				redactor, err := policy.NewRedactor(policy.FileConfig{})
				require.NoError(t, err)
				svc, err := gateway.NewService(gateway.Options{
					Anonymous: &gateway.DevPrincipal, Store: store, Backends: []backendtype.BackendAdapter{backend},
					Observer: ends, Env: lifecycle.NewEnv(slog.New(slog.NewJSONHandler(&logs, nil)), nil), Redactor: redactor,
					Config: gateway.Config{BackendTimeout: 50 * time.Millisecond},
				})
				require.NoError(t, err)

				if tc.turns == 1 {
					err = within(t, func() error {
						_, err := svc.IngestConversationTurn(ctx, turnInput())
						return err
					})
				} else {
					turns := make([]gateway.IngestTurnInput, tc.turns)
					for i := range turns {
						turns[i] = turnInput(func(in *gateway.IngestTurnInput) { in.TurnID = "t" + string(rune('1'+i)) })
					}
					err = within(t, func() error {
						_, err := svc.IngestConversationTurns(ctx, turns)
						return err
					})
				}
				if tc.failSave {
					require.ErrorContains(t, err, "injected")
				} else {
					require.NoError(t, err)
					close(backend.release) // every write lands late now
				}

				awaitEnds(t, ends, gateway.CallRemoveTurn, tc.outcome, tc.turns)
				if tc.outcome == gateway.OutcomeError {
					out := logs.String()
					require.Equal(t, tc.turns, strings.Count(out, `"stack":"goroutine`), "each panic is logged with its stack")
					require.NotContains(t, out, "alice.liddell@example.com", "its value redacted")
				}
			})
		})
	}
}
