package lifecycle_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/lifecycle/lifecycletest"
)

// journal records what components did, in order.
type journal struct {
	mu      sync.Mutex
	entries []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, s)
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.entries...)
}

// fake is a component that records its starts and stops and fails its
// start when told to.
type fake struct {
	name    string
	journal *journal
	failing error
}

func (f *fake) Start(context.Context) error {
	if f.failing != nil {
		f.journal.add("fail " + f.name)
		return f.failing
	}
	f.journal.add("start " + f.name)
	return nil
}

func (f *fake) Stop(context.Context) error {
	f.journal.add("stop " + f.name)
	return nil
}

func TestGroupStartsInOrderAndStopsInReverse(t *testing.T) {
	t.Parallel()
	j := &journal{}
	var g lifecycle.Group
	g.Adopt("database", func(context.Context) error { j.add("close database"); return nil })
	for _, name := range []string{"hub", "worker", "server"} {
		g.Add(name, &fake{name: name, journal: j})
	}
	ctx := context.Background()
	require.NoError(t, g.Start(ctx))
	require.Equal(t, []string{"start hub", "start worker", "start server"}, j.all())
	require.NoError(t, g.Stop(ctx))
	require.Equal(t, []string{"start hub", "start worker", "start server",
		"stop server", "stop worker", "stop hub", "close database"}, j.all())
	require.NoError(t, g.Stop(ctx), "stopping twice does nothing")
	require.Len(t, j.all(), 7)
}

func TestGroupUndoesAFailedStart(t *testing.T) {
	t.Parallel()
	j := &journal{}
	var g lifecycle.Group
	g.Adopt("database", func(context.Context) error { j.add("close database"); return nil })
	boom := errors.New("port in use")
	g.Add("hub", &fake{name: "hub", journal: j})
	g.Add("worker", &fake{name: "worker", journal: j})
	g.Add("server", &fake{name: "server", journal: j, failing: boom})
	g.Add("after", &fake{name: "after", journal: j})
	err := g.Start(context.Background())
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "error starting server")
	require.Equal(t, []string{"start hub", "start worker", "fail server",
		"stop worker", "stop hub", "close database"}, j.all(), "what started is stopped in reverse; what follows never starts")
	require.NoError(t, g.Stop(context.Background()), "nothing is left to stop")
	require.Len(t, j.all(), 6)
}

func TestGroupReleasesWhatWasAdoptedWhenBuildingFails(t *testing.T) {
	t.Parallel()
	j := &journal{}
	var g lifecycle.Group
	g.Adopt("tracing", func(context.Context) error { j.add("flush tracing"); return nil })
	g.Adopt("database", func(context.Context) error { j.add("close database"); return errors.New("close failed") })
	g.Add("hub", &fake{name: "hub", journal: j})
	err := g.Stop(context.Background())
	require.ErrorContains(t, err, "error stopping database: close failed")
	require.Equal(t, []string{"close database", "flush tracing"}, j.all(), "a component never started is not stopped")
}

func TestRunner(t *testing.T) {
	t.Parallel()
	lifecycletest.Check(t, func() lifecycle.Component { return newLooper() })
	ctx := context.Background()

	l := newLooper()
	require.NoError(t, l.Start(ctx))
	require.ErrorIs(t, l.Start(ctx), lifecycle.ErrStarted)
	require.NoError(t, l.Stop(ctx))
	require.True(t, l.ended.Load(), "Stop waits for the loop to return")
	require.NoError(t, l.Start(ctx), "a stopped runner starts again")
	require.NoError(t, l.Stop(ctx))

	// A loop that does not end in time: Stop returns ctx's error.
	stuck := newLooper()
	stuck.hold = make(chan struct{})
	require.NoError(t, stuck.Start(ctx))
	expired, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, stuck.Stop(expired), context.Canceled)
	close(stuck.hold)
}

func TestRunnerLoopOutlivesStartContext(t *testing.T) {
	t.Parallel()
	l := newLooper()
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), valueKey{}, "kept"))
	require.NoError(t, l.Start(ctx))
	cancel()
	require.Equal(t, "kept", <-l.value, "the loop keeps the start context's values")
	require.False(t, l.ended.Load(), "cancelling the start context does not end the loop")
	require.NoError(t, l.Stop(context.Background()))
}

// StartEvery runs at once, again every interval, reports what a run fails
// with, and not the error of a run that stopping cut short.
func TestRunnerStartEvery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	var r lifecycle.Runner
	ran := make(chan struct{}, 1)
	require.NoError(t, r.StartEvery(ctx, time.Hour, func(context.Context) error { ran <- struct{}{}; return nil }, func(error) {}))
	<-ran // the first run does not wait for the interval
	require.NoError(t, r.Stop(ctx))

	failure := errors.New("run failed")
	failures := make(chan error, 8)
	runs := 0
	var repeating lifecycle.Runner
	require.NoError(t, repeating.StartEvery(ctx, time.Millisecond, func(context.Context) error {
		runs++
		return failure
	}, func(err error) { failures <- err }))
	for range 3 {
		require.ErrorIs(t, <-failures, failure)
	}
	require.NoError(t, repeating.Stop(ctx))
	require.GreaterOrEqual(t, runs, 3)

	var stopping lifecycle.Runner
	started := make(chan struct{})
	reported := make(chan error, 1)
	require.NoError(t, stopping.StartEvery(ctx, time.Hour, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}, func(err error) { reported <- err }))
	<-started
	require.NoError(t, stopping.Stop(ctx))
	select {
	case err := <-reported:
		t.Fatalf("a run cut short by Stop was reported: %v", err)
	default:
	}
}
