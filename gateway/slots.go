package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// SubscriptionAdmitter takes places among a principal's live subscriptions.
// The default (nil in Options) counts the subscriptions of this process;
// SharedSubscriptions counts those of every process sharing the database.
type SubscriptionAdmitter interface {
	// Acquire takes a place for principal unless it holds limit already
	// (then a *TooManySubscriptionsError); release gives it back.
	Acquire(ctx context.Context, principal string, limit int) (release func(), err error)
}

// SubscriptionSlot is one live subscription's place, held by a process
// until ExpiresAt unless the process renews it.
type SubscriptionSlot struct {
	ID        string
	Principal string
	Holder    string
	ExpiresAt time.Time
}

// SubscriptionSlotStore keeps the deployment's subscription slots
// (persistence.Store).
type SubscriptionSlotStore interface {
	// TakeSubscriptionSlot records slot unless its principal holds limit
	// slots unexpired at now; it reports whether the slot was taken.
	// Concurrent takes of one principal are serialised.
	TakeSubscriptionSlot(ctx context.Context, slot SubscriptionSlot, limit int, now time.Time) (bool, error)
	// ReleaseSubscriptionSlot removes one slot.
	ReleaseSubscriptionSlot(ctx context.Context, id string) error
	// RenewSubscriptionSlots removes every slot expired at now (whoever
	// held it), extends holder's slots to until, and records again those of
	// held that are missing (removed while the holder could not renew).
	RenewSubscriptionSlots(ctx context.Context, holder string, held []SubscriptionSlot, until, now time.Time) error
	// ReleaseHolderSlots removes every slot of holder.
	ReleaseHolderSlots(ctx context.Context, holder string) error
}

// Shared subscription defaults.
const (
	// SubscriptionLeaseDefault is how long a slot outlives a process that
	// stopped renewing it (killed without shutting down); the holder renews
	// every third of it.
	SubscriptionLeaseDefault = 30 * time.Second
	// subscriptionReleaseTimeout bounds giving a slot back (release takes
	// no context: the subscription that held it has ended).
	subscriptionReleaseTimeout = 5 * time.Second
)

// SharedSubscriptionsConfig configures SharedSubscriptions.
type SharedSubscriptionsConfig struct {
	// Holder names this process in its slots. Default: host-pid-random.
	Holder string
	// Lease is how long a slot lives without renewal. Default:
	// SubscriptionLeaseDefault.
	Lease time.Duration
}

// SharedSubscriptions counts each principal's live subscriptions over every
// process sharing one store: a subscription holds a slot row there, which
// its process renews every third of the lease while it lives, so the slots
// of a process killed without shutting down expire after the lease. It is a
// lifecycle.Component (the renewal); it admits before it starts too.
type SharedSubscriptions struct {
	store  SubscriptionSlotStore
	env    lifecycle.Env
	holder string
	lease  time.Duration
	runner lifecycle.Runner

	// mu guards held, and is held through a renewal so that a slot given
	// back meanwhile is never recorded again.
	mu   sync.Mutex
	held map[string]SubscriptionSlot
}

var _ SubscriptionAdmitter = (*SharedSubscriptions)(nil)

// NewSharedSubscriptions builds the shared admitter on store.
func NewSharedSubscriptions(store SubscriptionSlotStore, cfg SharedSubscriptionsConfig, env lifecycle.Env) *SharedSubscriptions {
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		cfg.Holder = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(4))
	}
	if cfg.Lease <= 0 {
		cfg.Lease = SubscriptionLeaseDefault
	}
	return &SharedSubscriptions{store: store, env: env, holder: cfg.Holder, lease: cfg.Lease, held: map[string]SubscriptionSlot{}}
}

// Holder names this process in its slots.
func (s *SharedSubscriptions) Holder() string { return s.holder }

// Acquire implements SubscriptionAdmitter.
func (s *SharedSubscriptions) Acquire(ctx context.Context, principal string, limit int) (func(), error) {
	now := s.env.Now()
	slot := SubscriptionSlot{ID: "sub_" + randomHex(12), Principal: principal, Holder: s.holder, ExpiresAt: now.Add(s.lease)}
	taken, err := s.store.TakeSubscriptionSlot(ctx, slot, limit, now)
	if err != nil {
		return nil, fmt.Errorf("error taking a subscription slot: %w", err)
	}
	if !taken {
		return nil, &TooManySubscriptionsError{Limit: limit}
	}
	s.mu.Lock()
	s.held[slot.ID] = slot
	s.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { s.release(slot.ID) }) }, nil
}

func (s *SharedSubscriptions) release(id string) {
	s.mu.Lock()
	delete(s.held, id)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), subscriptionReleaseTimeout)
	defer cancel()
	if err := s.store.ReleaseSubscriptionSlot(ctx, id); err != nil {
		// Not renewed any more, the slot expires after the lease.
		s.env.Logger().WarnContext(ctx, "subscription slots: error releasing a slot; it expires with its lease",
			slog.String("err", err.Error()), slog.Duration("lease", s.lease))
	}
}

// Start renews this process's slots every third of the lease.
func (s *SharedSubscriptions) Start(ctx context.Context) error {
	return s.runner.Start(ctx, func(ctx context.Context) {
		tick := time.NewTicker(s.lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				s.renew(ctx)
			}
		}
	})
}

// renew extends the slots this process holds and sweeps expired ones.
func (s *SharedSubscriptions) renew(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := make([]SubscriptionSlot, 0, len(s.held))
	for _, slot := range s.held {
		held = append(held, slot)
	}
	now := s.env.Now()
	if err := s.store.RenewSubscriptionSlots(ctx, s.holder, held, now.Add(s.lease), now); err != nil && ctx.Err() == nil {
		s.env.Logger().WarnContext(ctx, "subscription slots: error renewing", slog.String("err", err.Error()), slog.Int("slots", len(held)))
	}
}

// Stop ends the renewal and gives back every slot this process holds.
func (s *SharedSubscriptions) Stop(ctx context.Context) error {
	if err := s.runner.Stop(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.held = map[string]SubscriptionSlot{}
	s.mu.Unlock()
	if err := s.store.ReleaseHolderSlots(ctx, s.holder); err != nil {
		return fmt.Errorf("error releasing subscription slots: %w", err)
	}
	return nil
}
