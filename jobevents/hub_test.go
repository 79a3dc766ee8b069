package jobevents_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/jobevents"
	"github.com/memory-gateway/memory-gateway/lifecycle"
	"github.com/memory-gateway/memory-gateway/lifecycle/lifecycletest"
)

// fakeLoader serves jobs from a map and counts reads.
type fakeLoader struct {
	mu    sync.Mutex
	jobs  map[string]gateway.CommitJob
	reads atomic.Int64
}

func (f *fakeLoader) set(j gateway.CommitJob) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs[j.ID] = j
}

func (f *fakeLoader) CommitJobsByIDs(_ context.Context, ids []string) ([]gateway.CommitJob, error) {
	f.reads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []gateway.CommitJob
	for _, id := range ids {
		if j, ok := f.jobs[id]; ok {
			out = append(out, j)
		}
	}
	return out, nil
}

func (f *fakeLoader) ListCommitJobs(_ context.Context, flt gateway.JobFilter, _ gateway.PageRequest) (gateway.Page[gateway.CommitJob], error) {
	f.reads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []gateway.CommitJob
	for _, j := range f.jobs {
		if j.WorkspaceID == flt.WorkspaceID && (flt.SessionID == "" || j.SessionID == flt.SessionID) {
			out = append(out, j)
		}
	}
	return gateway.Page[gateway.CommitJob]{Items: out}, nil
}

func job(id string, status gateway.JobStatus, version int64) gateway.CommitJob {
	return gateway.CommitJob{ID: id, WorkspaceID: "ws", SessionID: "s1", Status: status, Version: version}
}

func newHub(t *testing.T) (*jobevents.Hub, *fakeLoader) {
	t.Helper()
	loader := &fakeLoader{jobs: map[string]gateway.CommitJob{}}
	h := jobevents.New(loader, lifecycle.Env{})
	require.NoError(t, h.Start(context.Background()))
	t.Cleanup(func() { _ = h.Stop(context.Background()) })
	return h, loader
}

// receive waits for the next states of a subscription.
func receive(t *testing.T, s *jobevents.Subscription) []gateway.CommitJob {
	t.Helper()
	select {
	case <-s.Ready():
		return s.Drain()
	case <-time.After(10 * time.Second):
		t.Fatal("no state delivered")
		return nil
	}
}

func TestExactStatesArriveInOrder(t *testing.T) {
	t.Parallel()
	h, loader := newHub(t)
	byID := h.Subscribe(jobevents.Filter{JobID: "j1"})
	byScope := h.Subscribe(jobevents.Filter{WorkspaceID: "ws", SessionID: "s1"})
	other := h.Subscribe(jobevents.Filter{WorkspaceID: "other"})
	require.Equal(t, 3, h.Subscribers())

	h.PublishJobStates(context.Background(), []gateway.CommitJob{job("j1", gateway.JobAccepted, 1), job("j1", gateway.JobRunning, 2)})
	h.PublishJobStates(context.Background(), []gateway.CommitJob{job("j1", gateway.JobSuccess, 3)})
	var got []gateway.JobStatus
	for len(got) < 3 {
		for _, j := range receive(t, byID) {
			got = append(got, j.Status)
		}
	}
	require.Equal(t, []gateway.JobStatus{gateway.JobAccepted, gateway.JobRunning, gateway.JobSuccess}, got)
	require.NotEmpty(t, receive(t, byScope))
	require.Zero(t, loader.reads.Load(), "exact states need no read")
	select {
	case <-other.Ready():
		t.Fatal("another workspace's subscriber was told")
	default:
	}

	byID.Close()
	byScope.Close()
	other.Close()
	require.Zero(t, h.Subscribers())
}

func TestChangedIDsAreReadOnceForAllSubscribers(t *testing.T) {
	t.Parallel()
	h, loader := newHub(t)
	loader.set(job("j1", gateway.JobSuccess, 4))
	subs := make([]*jobevents.Subscription, 100)
	for i := range subs {
		subs[i] = h.Subscribe(jobevents.Filter{JobID: "j1"})
	}
	h.PublishJobChanges(context.Background(), []string{"j1", "unwatched"})
	for _, s := range subs {
		states := receive(t, s)
		require.Equal(t, gateway.JobSuccess, states[len(states)-1].Status)
	}
	require.Equal(t, int64(1), loader.reads.Load())
}

func TestResyncRereadsWatchedJobs(t *testing.T) {
	t.Parallel()
	h, loader := newHub(t)
	loader.set(job("j1", gateway.JobSuccess, 7))
	loader.set(job("j2", gateway.JobFailed, 3))
	byID := h.Subscribe(jobevents.Filter{JobID: "j1"})
	byScope := h.Subscribe(jobevents.Filter{WorkspaceID: "ws"})
	h.Resync()
	require.Equal(t, gateway.JobSuccess, receive(t, byID)[0].Status)
	seen := map[string]bool{}
	for len(seen) < 2 {
		for _, j := range receive(t, byScope) {
			seen[j.ID] = true
		}
	}
}

func TestHubIsAComponent(t *testing.T) {
	t.Parallel()
	lifecycletest.Check(t, func() lifecycle.Component {
		return jobevents.New(&fakeLoader{jobs: map[string]gateway.CommitJob{}}, lifecycle.Env{})
	})
}

// A job being created is held: the worker's RUNNING (handed over, or read
// after a notification) that comes before the creator's ACCEPTED waits for
// it, so a subscriber sees both, in order.
func TestHeldJobKeepsItsStatesInOrder(t *testing.T) {
	t.Parallel()
	for _, viaRead := range []bool{false, true} {
		h, loader := newHub(t)
		sub := h.Subscribe(jobevents.Filter{WorkspaceID: "ws"})
		release := h.HoldJobs([]string{"j1"})
		running := job("j1", gateway.JobRunning, 2)
		if viaRead {
			loader.set(running)
			h.PublishJobChanges(context.Background(), []string{"j1"})
			require.Eventually(t, func() bool { return loader.reads.Load() == 1 }, 10*time.Second, time.Millisecond)
		} else {
			h.PublishJobStates(context.Background(), []gateway.CommitJob{running})
		}
		select {
		case <-sub.Ready():
			t.Fatalf("a held job's state went out before its creation: %+v", sub.Drain())
		default:
		}
		release(context.Background(), []gateway.CommitJob{job("j1", gateway.JobAccepted, 1)})
		var got []gateway.JobStatus
		for len(got) < 2 {
			for _, j := range receive(t, sub) {
				got = append(got, j.Status)
			}
		}
		require.Equal(t, []gateway.JobStatus{gateway.JobAccepted, gateway.JobRunning}, got, "via read: %v", viaRead)
		sub.Close()
	}
}
