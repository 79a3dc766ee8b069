package worker

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// gatherWorker is a Worker with only what gather uses.
func gatherWorker(queued int) *Worker {
	w := &Worker{
		cfg:         Config{CompletionBatchMax: CompletionBatchMaxDefault},
		completions: make(chan gateway.OutboxCompletion, CompletionBatchMaxDefault),
		flushEnded:  make(chan struct{}),
	}
	for range queued {
		w.completions <- gateway.OutboxCompletion{}
	}
	return w
}

type gathered struct {
	batch []gateway.OutboxCompletion
	open  bool
}

func startGather(w *Worker) <-chan gathered {
	out := make(chan gathered, 1)
	go func() {
		batch, open := w.gather(make([]gateway.OutboxCompletion, 1))
		out <- gathered{batch, open}
	}()
	return out
}

// waitTaken waits until gather has taken everything queued, or returned.
func waitTaken(t *testing.T, w *Worker, done <-chan gathered) {
	t.Helper()
	for len(w.completions) > 0 {
		select {
		case g := <-done:
			t.Fatalf("gather returned %d results while the other transaction ran", len(g.batch))
		default:
			runtime.Gosched()
		}
	}
}

// While another completion transaction runs, a few results wait for it to
// end and go in one batch with what arrives meanwhile.
func TestGatherWaitsForTheRunningCompletion(t *testing.T) {
	t.Parallel()
	w := gatherWorker(10)
	w.flushing.Store(1)
	done := startGather(w)
	waitTaken(t, w, done)
	for range 5 {
		w.completions <- gateway.OutboxCompletion{}
	}
	waitTaken(t, w, done)
	select {
	case g := <-done:
		t.Fatalf("gather returned %d results while the other transaction ran", len(g.batch))
	default:
	}
	w.flushing.Store(0)
	w.flushMu.Lock()
	close(w.flushEnded)
	w.flushEnded = make(chan struct{})
	w.flushMu.Unlock()
	g := <-done
	require.True(t, g.open)
	require.Len(t, g.batch, 1+10+5)
}

// Alone, what is waiting is written at once; with completionOverflow
// results in hand, a second transaction starts without waiting for the
// first; a closed channel ends the gathering.
func TestGatherWritesAtOnce(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		queued   int
		flushing int32
		close    bool
		want     int
		open     bool
	}{
		{name: "alone", queued: 3, want: 4, open: true},
		{name: "overflow", queued: completionOverflow + 10, flushing: 1, want: completionOverflow + 11, open: true},
		{name: "closed", queued: 2, flushing: 1, close: true, want: 3, open: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := gatherWorker(c.queued)
			w.flushing.Store(c.flushing)
			if c.close {
				close(w.completions)
			}
			select {
			case g := <-startGather(w):
				require.Equal(t, c.open, g.open)
				require.Len(t, g.batch, c.want)
			case <-time.After(10 * time.Second):
				t.Fatal("gather waited")
			}
		})
	}
}
