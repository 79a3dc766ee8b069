package gateway

import (
	"context"
	"errors"
)

// JobWatcher delivers commit job states as they change (the per-process
// fan-out hub).
type JobWatcher interface {
	WatchJobs(f JobWatchFilter) JobWatch
}

// JobWatchFilter selects watched jobs: one job by id, or the jobs of a
// workspace, optionally of one session.
type JobWatchFilter struct {
	JobID       string
	WorkspaceID string
	SessionID   string
}

// JobWatch is one live watch. Ready is signalled when Drain has states.
type JobWatch interface {
	Ready() <-chan struct{}
	Drain() []CommitJob
	Close()
}

// errNoWatcher is returned when subscriptions are not wired.
var errNoWatcher = errors.New("job subscriptions are not available in this process")

// SubscribeCommitJob streams a job: its current state first, then every
// change, and ends after a terminal state. The watch starts before the
// current state is read, so no change can fall between the two.
func (s *Service) SubscribeCommitJob(ctx context.Context, id string) (<-chan CommitJob, error) {
	if s.watcher == nil {
		return nil, errNoWatcher
	}
	watch := s.watcher.WatchJobs(JobWatchFilter{JobID: id})
	job, err := s.Reader(ctx).CommitJob(ctx, id)
	if err != nil {
		watch.Close()
		if IsNotFound(err) {
			return nil, &NotFoundError{Field: "id", What: "commit job"}
		}
		return nil, err
	}
	out := make(chan CommitJob, 1)
	go func() {
		defer close(out)
		defer watch.Close()
		last := job
		if !send(ctx, out, last) {
			return
		}
		for !last.Status.Terminal() {
			select {
			case <-ctx.Done():
				return
			case <-watch.Ready():
			}
			for _, j := range watch.Drain() {
				if !newer(j, last) {
					continue
				}
				last = j
				if !send(ctx, out, last) {
					return
				}
				if last.Status.Terminal() {
					break
				}
			}
		}
	}()
	return out, nil
}

// SubscribeCommitJobs streams every change of the jobs of a workspace
// (optionally one session) until the caller goes away.
func (s *Service) SubscribeCommitJobs(ctx context.Context, workspaceID, sessionID string) (<-chan CommitJob, error) {
	if s.watcher == nil {
		return nil, errNoWatcher
	}
	if workspaceID == "" {
		return nil, NewInputError("workspaceId", "is required")
	}
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	if !p.InWorkspace(workspaceID) {
		return nil, &NotFoundError{Field: "workspaceId", What: "workspace"}
	}
	scope := p.ReadScope()
	watch := s.watcher.WatchJobs(JobWatchFilter{WorkspaceID: workspaceID, SessionID: sessionID})
	out := make(chan CommitJob, 1)
	go func() {
		defer close(out)
		defer watch.Close()
		last := map[string]CommitJob{}
		for {
			select {
			case <-ctx.Done():
				return
			case <-watch.Ready():
			}
			for _, j := range watch.Drain() {
				if !scope.Allows(jobPlace(j)) {
					continue
				}
				if prev, seen := last[j.ID]; seen && !newer(j, prev) {
					continue
				}
				last[j.ID] = j
				if !send(ctx, out, j) {
					return
				}
			}
		}
	}()
	return out, nil
}

// newer reports whether j is a later state than prev.
func newer(j, prev CommitJob) bool {
	return j.Version > prev.Version
}

func send(ctx context.Context, out chan<- CommitJob, j CommitJob) bool {
	select {
	case out <- j:
		return true
	case <-ctx.Done():
		return false
	}
}
