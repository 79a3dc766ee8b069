package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/go-playground/validator/v10"
	"golang.org/x/sync/singleflight"
)

// Defaults for Config.
const (
	BackendTimeoutDefault   = 10 * time.Second
	MaxAttemptsDefault      = 5
	MaxContentBytesDefault  = 64 << 10
	MaxMetadataBytesDefault = 16 << 10
	RetrieveLimitDefault    = 10
	RetrieveLimitMax        = 100
	RetrieveTimeoutDefault  = 5 * time.Second
	PageSizeDefault         = 20
	PageSizeMax             = 100
)

// Config tunes the service. Zero values take the defaults above.
type Config struct {
	// BackendTimeout bounds each backend write during ingest.
	BackendTimeout time.Duration
	// BackendTimeouts overrides BackendTimeout (and RetrieveTimeout) per
	// backend, for backends that are slow by design.
	BackendTimeouts map[Backend]time.Duration
	// RetrieveTimeout bounds each backend query during retrieval.
	RetrieveTimeout time.Duration
	// MaxAttempts is how often the worker tries an outbox event before it is
	// dead-lettered.
	MaxAttempts int
	// MaxContentBytes bounds one turn's content (after trimming).
	MaxContentBytes int
	// MaxMetadataBytes bounds a request's metadata, JSON-encoded.
	MaxMetadataBytes int
	// CommitTimeout bounds one backend call made by the worker.
	CommitTimeout time.Duration
	// RetryDelay is the backoff after a failed attempt (attempts so far);
	// nil means RetryDelayWithJitter.
	RetryDelay func(attempt int) time.Duration
}

func (c Config) withDefaults() Config {
	if c.BackendTimeout <= 0 {
		c.BackendTimeout = BackendTimeoutDefault
	}
	if c.RetrieveTimeout <= 0 {
		c.RetrieveTimeout = RetrieveTimeoutDefault
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = MaxAttemptsDefault
	}
	if c.MaxContentBytes <= 0 {
		c.MaxContentBytes = MaxContentBytesDefault
	}
	if c.MaxMetadataBytes <= 0 {
		c.MaxMetadataBytes = MaxMetadataBytesDefault
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = CommitTimeoutDefault
	}
	if c.RetryDelay == nil {
		c.RetryDelay = RetryDelayWithJitter
	}
	return c
}

// OutboxNotifier is told when new outbox work exists, so a worker can wake up
// without waiting for its poll.
type OutboxNotifier interface {
	NotifyOutbox(ctx context.Context)
}

// Authorizer decides whether the caller in ctx may act on a scope. The domain
// asks it before every write.
type Authorizer interface {
	AuthorizeWrite(ctx context.Context, scope Scope) error
}

// Scope is the part of the namespace tree an operation touches.
type Scope struct {
	WorkspaceID string
	UserID      string
	AgentID     string
	Namespace   string
}

// AllowAll is the Authorizer of dev mode: every caller may do everything.
type AllowAll struct{}

// AuthorizeWrite implements Authorizer.
func (AllowAll) AuthorizeWrite(context.Context, Scope) error { return nil }

// Service is the domain service. It is safe for concurrent use.
type Service struct {
	backends   []BackendAdapter
	byName     map[Backend]BackendAdapter
	cfg        Config
	logger     *slog.Logger
	now        func() time.Time
	store      Store
	authorizer Authorizer
	notifier   OutboxNotifier
	drainer    OutboxDrainer
	publisher  JobPublisher
	watcher    JobWatcher
	validate   *validator.Validate
	ingests    singleflight.Group
}

// Options are the collaborators of a Service.
type Options struct {
	Store    Store
	Backends []BackendAdapter
	Config   Config
	Logger   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now        func() time.Time
	Authorizer Authorizer
	// Publisher announces job changes in-process (SQLite); nil when the
	// store announces them itself (PostgreSQL NOTIFY).
	Publisher JobPublisher
	// Watcher serves job subscriptions; nil disables them.
	Watcher JobWatcher
}

// NewService builds a Service. Backends keep their given order, which is the
// order refs and retrieval outcomes are reported in.
func NewService(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("gateway: a store is required")
	}
	s := &Service{
		backends:   opts.Backends,
		byName:     make(map[Backend]BackendAdapter, len(opts.Backends)),
		cfg:        opts.Config.withDefaults(),
		logger:     opts.Logger,
		now:        opts.Now,
		store:      opts.Store,
		authorizer: opts.Authorizer,
		publisher:  opts.Publisher,
		watcher:    opts.Watcher,
		validate:   newValidator(),
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.authorizer == nil {
		s.authorizer = AllowAll{}
	}
	for _, b := range opts.Backends {
		if _, dup := s.byName[b.Name()]; dup {
			return nil, errors.New("gateway: backend " + string(b.Name()) + " configured twice")
		}
		s.byName[b.Name()] = b
	}
	return s, nil
}

// writeTimeout is the ingest timeout of one backend.
func (s *Service) writeTimeout(b Backend) time.Duration {
	if d, ok := s.cfg.BackendTimeouts[b]; ok && d > 0 {
		return d
	}
	return s.cfg.BackendTimeout
}

// retrieveTimeout is the retrieval timeout of one backend.
func (s *Service) retrieveTimeout(b Backend) time.Duration {
	if d, ok := s.cfg.BackendTimeouts[b]; ok && d > 0 {
		return min(d, s.cfg.RetrieveTimeout)
	}
	return s.cfg.RetrieveTimeout
}

// Backends returns the configured backends in order.
func (s *Service) Backends() []BackendAdapter { return s.backends }

// Backend returns a configured backend by name.
func (s *Service) Backend(name Backend) (BackendAdapter, bool) {
	b, ok := s.byName[name]
	return b, ok
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// clock returns the current time in UTC at microsecond precision, the
// precision both stores keep, so a value read back equals the value written.
func (s *Service) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

func (s *Service) notifyOutbox(ctx context.Context) {
	if s.notifier != nil {
		s.notifier.NotifyOutbox(ctx)
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
