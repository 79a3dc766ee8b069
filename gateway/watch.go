package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
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

// MaxSubscriptionsPerPrincipalDefault bounds the live subscriptions of one
// key, over every connection and transport (and, with a shared
// SubscriptionAdmitter, over every process).
const MaxSubscriptionsPerPrincipalDefault = 1_000

// TooManySubscriptionsError refuses a subscription over a cap.
type TooManySubscriptionsError struct{ Limit int }

func (e *TooManySubscriptionsError) Error() string {
	return fmt.Sprintf("too many subscriptions: this key may hold %d at once; complete one first", e.Limit)
}

// subscriptionArgs are a subscription's arguments, validated like all input.
type subscriptionArgs struct {
	ID          string `json:"id" validate:"max=128,ident"`
	WorkspaceID string `json:"workspaceId" validate:"max=128,ident"`
	SessionID   string `json:"sessionId" validate:"max=128,ident"`
}

// subscriptionCounts counts the live subscriptions of each principal.
type subscriptionCounts struct {
	mu     sync.Mutex
	byName map[string]int
}

// acquire takes a place for principal under limit; release gives it back.
func (c *subscriptionCounts) acquire(principal string, limit int) (release func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byName == nil {
		c.byName = map[string]int{}
	}
	if c.byName[principal] >= limit {
		return nil, &TooManySubscriptionsError{Limit: limit}
	}
	c.byName[principal]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.byName[principal]--; c.byName[principal] <= 0 {
				delete(c.byName, principal)
			}
		})
	}, nil
}

// total is the number of live subscriptions.
func (c *subscriptionCounts) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.byName {
		n += v
	}
	return n
}

// admitSubscription validates a subscription's arguments and takes a place
// among the caller's subscriptions (unless its subscriber was admitted
// already: see WithSubscriberAdmitted).
func (s *Service) admitSubscription(ctx context.Context, args subscriptionArgs) (func(), error) {
	if err := s.validateStruct(args); err != nil {
		return nil, err
	}
	if admitted, _ := ctx.Value(subscriberAdmittedKey{}).(bool); admitted {
		return func() {}, nil
	}
	return s.AdmitSubscriber(ctx)
}

// AdmitSubscriber takes a place among the caller's live subscriptions (at
// most MaxSubscriptionsPerPrincipal); release gives it back. A transport
// that serves several subscribers from one execution admits each of them
// itself, and runs the execution under WithSubscriberAdmitted.
func (s *Service) AdmitSubscriber(ctx context.Context) (release func(), err error) {
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	if s.admitter == nil {
		return s.subscriptions.acquire(p.Name, s.cfg.MaxSubscriptionsPerPrincipal)
	}
	// The shared count decides; this process's own count only feeds
	// LiveSubscriptions.
	shared, err := s.admitter.Acquire(ctx, p.Name, s.cfg.MaxSubscriptionsPerPrincipal)
	if err != nil {
		return nil, err
	}
	local, err := s.subscriptions.acquire(p.Name, math.MaxInt)
	if err != nil {
		shared()
		return nil, err
	}
	return func() { local(); shared() }, nil
}

// LiveSubscriptions is the number of subscribers holding a place.
func (s *Service) LiveSubscriptions() int { return s.subscriptions.total() }

type subscriberAdmittedKey struct{}

// WithSubscriberAdmitted marks an execution whose subscribers were admitted
// by AdmitSubscriber: the subscription takes no place of its own.
func WithSubscriberAdmitted(ctx context.Context) context.Context {
	return context.WithValue(ctx, subscriberAdmittedKey{}, true)
}

// SubscribeCommitJob streams a job: its current state first, then every
// change, and ends after a terminal state. The watch starts before the
// current state is read, so no change can fall between the two.
func (s *Service) SubscribeCommitJob(ctx context.Context, id string) (<-chan CommitJob, error) {
	if s.watcher == nil {
		return nil, errNoWatcher
	}
	release, err := s.admitSubscription(ctx, subscriptionArgs{ID: id})
	if err != nil {
		return nil, err
	}
	watch := s.watcher.WatchJobs(JobWatchFilter{JobID: id})
	job, err := s.Reader(ctx).CommitJob(ctx, id)
	if err != nil {
		watch.Close()
		release()
		if IsNotFound(err) {
			return nil, &NotFoundError{Field: "id", What: "commit job"}
		}
		return nil, err
	}
	out := make(chan CommitJob, 1)
	go func() {
		defer close(out)
		defer release()
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
	release, err := s.admitSubscription(ctx, subscriptionArgs{WorkspaceID: workspaceID, SessionID: sessionID})
	if err != nil {
		return nil, err
	}
	scope := p.ReadScope()
	watch := s.watcher.WatchJobs(JobWatchFilter{WorkspaceID: workspaceID, SessionID: sessionID})
	out := make(chan CommitJob, 1)
	go func() {
		defer close(out)
		defer release()
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
