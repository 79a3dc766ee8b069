// Package maintenance keeps the control plane from growing forever, like
// River's job cleaner: on every process at once, it deletes finished work
// past the retention policy's window and routes the deletion of memories
// their TTL expired, in bounded batches (each a short transaction that skips
// rows another process holds, so it never holds a long lock).
package maintenance

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// Defaults for Config.
const (
	IntervalDefault  = time.Minute
	BatchSizeDefault = 1000
	// maxBatchesPerRun bounds one run's work per table, so one run never
	// monopolises the database; the next run carries on.
	maxBatchesPerRun = 100
)

// Tables deleted from, as the metrics name them.
const (
	TableCommitJobs     = "commit_jobs"
	TableOutboxEvents   = "outbox_events"
	TableOutboxAttempts = "outbox_attempts"
	TableAuditEntries   = "audit_entries"
	TableMemoryFeedback = "memory_feedback"
	// TableWebhookDeliveries: deliveries that succeeded or dead-lettered.
	TableWebhookDeliveries = "webhook_deliveries"
)

// Expirer routes the deletion of expired memories (the service).
type Expirer interface {
	ExpireMemories(ctx context.Context, store gateway.RetentionStore, ws gateway.WorkspaceSet, rule gateway.MemoryTTL, limit int) (int, error)
}

// Hooks observe the service (metrics); any may be nil.
type Hooks struct {
	// Deleted is called with the rows deleted from a table.
	Deleted func(table string, rows int)
	// Expired is called with the memories whose deletion was routed.
	Expired func(memories int)
}

// Config tunes the service.
type Config struct {
	Policy    gateway.RetentionPolicy
	Interval  time.Duration
	BatchSize int
}

// Service runs retention. Build it with New, then Start and Stop it.
type Service struct {
	cfg     Config
	store   gateway.RetentionStore
	expirer Expirer
	logger  *slog.Logger
	now     func() time.Time
	hooks   Hooks

	runner lifecycle.Runner
}

var _ lifecycle.Component = (*Service)(nil)

// New builds the service.
func New(cfg Config, store gateway.RetentionStore, expirer Expirer, env lifecycle.Env, hooks Hooks) (*Service, error) {
	if store == nil || expirer == nil {
		return nil, errors.New("maintenance: a store and an expirer are required")
	}
	if cfg.Interval < 0 || cfg.BatchSize < 0 {
		return nil, errors.New("maintenance: Config.Interval and Config.BatchSize must not be negative (0 takes the default)")
	}
	if cfg.Interval == 0 {
		cfg.Interval = IntervalDefault
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = BatchSizeDefault
	}
	return &Service{cfg: cfg, store: store, expirer: expirer, logger: env.Logger(), now: env.Clock(), hooks: hooks}, nil
}

// Start runs the service in the background: a run at once, then one per
// interval. It returns at once.
func (s *Service) Start(ctx context.Context) error {
	return s.runner.StartEvery(ctx, s.cfg.Interval, s.RunOnce, func(err error) {
		s.logger.Error("maintenance: run failed", slog.String("err", err.Error()))
	})
}

// Stop ends the background runs, waiting until ctx is done for the current
// one to finish its batch.
func (s *Service) Stop(ctx context.Context) error { return s.runner.Stop(ctx) }

// RunOnce applies the policy once: for each workspace set, the control
// plane's finished work past its window, then the memories past their TTL.
func (s *Service) RunOnce(ctx context.Context) error {
	var errs []error
	for rules, ws := range s.cfg.Policy.Sets() {
		if rules.ControlPlane > 0 {
			errs = append(errs, s.cleanControlPlane(ctx, ws, s.now().Add(-rules.ControlPlane)))
		}
		for _, rule := range rules.Memories {
			errs = append(errs, s.expire(ctx, ws, rule))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) cleanControlPlane(ctx context.Context, ws gateway.WorkspaceSet, before time.Time) error {
	for range maxBatchesPerRun {
		jobs, events, err := s.store.DeleteFinishedJobs(ctx, ws, before, s.cfg.BatchSize)
		if err != nil {
			return err
		}
		s.deleted(TableCommitJobs, jobs)
		s.deleted(TableOutboxEvents, events)
		if jobs < s.cfg.BatchSize {
			break
		}
	}
	if err := s.batches(ctx, TableAuditEntries, func() (int, error) {
		return s.store.DeleteAuditBefore(ctx, ws, before, s.cfg.BatchSize)
	}); err != nil {
		return err
	}
	if err := s.batches(ctx, TableMemoryFeedback, func() (int, error) {
		return s.store.DeleteDecidedFeedback(ctx, ws, before, s.cfg.BatchSize)
	}); err != nil {
		return err
	}
	if err := s.batches(ctx, TableOutboxAttempts, func() (int, error) {
		return s.store.DeleteFinishedAttempts(ctx, ws, before, s.cfg.BatchSize)
	}); err != nil {
		return err
	}
	return s.batches(ctx, TableWebhookDeliveries, func() (int, error) {
		return s.store.DeleteFinishedWebhookDeliveries(ctx, ws, before, s.cfg.BatchSize)
	})
}

func (s *Service) batches(ctx context.Context, table string, batch func() (int, error)) error {
	for range maxBatchesPerRun {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n, err := batch()
		if err != nil {
			return err
		}
		s.deleted(table, n)
		if n < s.cfg.BatchSize {
			return nil
		}
	}
	return nil
}

func (s *Service) expire(ctx context.Context, ws gateway.WorkspaceSet, rule gateway.MemoryTTL) error {
	for range maxBatchesPerRun {
		n, err := s.expirer.ExpireMemories(ctx, s.store, ws, rule, s.cfg.BatchSize)
		if err != nil {
			return err
		}
		if n > 0 && s.hooks.Expired != nil {
			s.hooks.Expired(n)
		}
		if n < s.cfg.BatchSize {
			return nil
		}
	}
	return nil
}

func (s *Service) deleted(table string, n int) {
	if n > 0 && s.hooks.Deleted != nil {
		s.hooks.Deleted(table, n)
	}
}
