package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder is a store that records how each item was written.
type recorder struct {
	mu      sync.Mutex
	batches [][]string
	alone   []string
	gate    chan struct{} // when set, the first shared write waits on it
	failAll bool
}

func (r *recorder) batcher() *Batcher[string, string] {
	return &Batcher[string, string]{
		Write: func(_ context.Context, batch []string) ([]string, []error, error) {
			if r.gate != nil {
				<-r.gate
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.failAll {
				return nil, nil, errors.New("the shared transaction failed")
			}
			r.batches = append(r.batches, append([]string(nil), batch...))
			out, errs := make([]string, len(batch)), make([]error, len(batch))
			for i, item := range batch {
				out[i] = "shared:" + item
				if item == "bad" {
					errs[i] = errors.New("bad item")
				}
			}
			return out, errs, nil
		},
		Alone: func(_ context.Context, item string) (string, error) {
			if item == "gate" && r.gate != nil {
				<-r.gate
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			r.alone = append(r.alone, item)
			return "alone:" + item, nil
		},
		Key: func(item string) string { return item },
	}
}

func TestALoneCallIsWrittenAtOnce(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	got, err := r.batcher().Do(context.Background(), "a")
	require.NoError(t, err)
	require.Equal(t, "alone:a", got)
}

// TestCallsQueuedBehindAWriteShareTheNext: while one write is under way,
// the calls that arrive form one batch, each with its own answer; an item
// twice in a queue is written alone after the batch.
func TestCallsQueuedBehindAWriteShareTheNext(t *testing.T) {
	t.Parallel()
	r := &recorder{gate: make(chan struct{})}
	b := r.batcher()
	firstDone := make(chan struct{})
	go func() {
		defer close(firstDone)
		got, err := b.Do(context.Background(), "gate") // holds the only flusher
		require.NoError(t, err)
		require.Equal(t, "alone:gate", got)
	}()
	// Wait until the first call is being written.
	for {
		b.mu.Lock()
		busy := b.flushers == 1 && len(b.pending) == 0
		b.mu.Unlock()
		if busy {
			break
		}
		runtime.Gosched()
	}
	items := []string{"x1", "x2", "bad", "x3", "x1"}
	results := make([]string, len(items))
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Go(func() { results[i], errs[i] = b.Do(context.Background(), item) })
	}
	for {
		b.mu.Lock()
		queued := len(b.pending)
		b.mu.Unlock()
		if queued == len(items) {
			break
		}
		runtime.Gosched()
	}
	r.gate <- struct{}{} // the first write ends
	close(r.gate)
	wg.Wait()
	<-firstDone
	require.Len(t, r.batches, 1, "the queued calls shared one write")
	require.ElementsMatch(t, []string{"x1", "x2", "bad", "x3"}, r.batches[0])
	for i, item := range items {
		switch item {
		case "bad":
			require.EqualError(t, errs[i], "bad item")
		case "x1":
			require.NoError(t, errs[i])
		default:
			require.NoError(t, errs[i])
			require.Equal(t, "shared:"+item, results[i])
		}
	}
	require.ElementsMatch(t, []string{"shared:x1", "alone:x1"}, []string{results[0], results[4]},
		"a second write of x1 waits for the first, alone")
}

func TestAFailedSharedWriteIsRetriedItemByItem(t *testing.T) {
	t.Parallel()
	r := &recorder{failAll: true}
	b := r.batcher()
	b.Flushers = 1
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			got, err := b.Do(context.Background(), fmt.Sprint(i))
			require.NoError(t, err)
			require.Equal(t, "alone:"+fmt.Sprint(i), got)
		})
	}
	wg.Wait()
	require.Len(t, r.alone, 20)
}

func TestAnEndedContextWritesNothing(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.batcher().Do(ctx, "a")
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, r.alone)
}
