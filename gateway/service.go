package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-playground/validator/v10"
	"golang.org/x/sync/singleflight"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// Defaults for Config.
const (
	BackendTimeoutDefault   = 10 * time.Second
	MaxAttemptsDefault      = 5
	MaxContentBytesDefault  = 64 << 10
	MaxMetadataBytesDefault = 16 << 10
	RetrieveLimitMax        = 100
	RetrieveTimeoutDefault  = 5 * time.Second
	PageSizeDefault         = 20
	PageSizeMax             = 100
)

// Config tunes the service. Zero values take the defaults above; values
// that cannot work (negative ones) are refused by NewService.
type Config struct {
	// BackendTimeout bounds each backend write during ingest.
	BackendTimeout time.Duration
	// BackendTimeouts overrides BackendTimeout (and RetrieveTimeout) per
	// backend, for backends that are slow by design.
	BackendTimeouts map[backendtype.Backend]time.Duration
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
	// MaxSubscriptionsPerPrincipal bounds one key's live subscriptions.
	MaxSubscriptionsPerPrincipal int
	// ErasureGrace is how long after acceptance an erasure's deletes
	// start; 0 means the longest ingest bound plus a second, so that no
	// ingest already under way writes after the delete.
	ErasureGrace time.Duration
}

// validate refuses settings that cannot work, naming the setting, instead
// of quietly replacing them with defaults.
func (c Config) validate() error {
	var errs []error
	negative := func(name string, bad bool, value any) {
		if bad {
			errs = append(errs, fmt.Errorf("gateway: Config.%s must not be negative (0 takes the default), got %v", name, value))
		}
	}
	negative("BackendTimeout", c.BackendTimeout < 0, c.BackendTimeout)
	negative("RetrieveTimeout", c.RetrieveTimeout < 0, c.RetrieveTimeout)
	negative("CommitTimeout", c.CommitTimeout < 0, c.CommitTimeout)
	negative("MaxAttempts", c.MaxAttempts < 0, c.MaxAttempts)
	negative("MaxContentBytes", c.MaxContentBytes < 0, c.MaxContentBytes)
	negative("MaxMetadataBytes", c.MaxMetadataBytes < 0, c.MaxMetadataBytes)
	negative("MaxSubscriptionsPerPrincipal", c.MaxSubscriptionsPerPrincipal < 0, c.MaxSubscriptionsPerPrincipal)
	negative("ErasureGrace", c.ErasureGrace < 0, c.ErasureGrace)
	for b, d := range c.BackendTimeouts {
		negative("BackendTimeouts["+string(b)+"]", d < 0, d)
	}
	return errors.Join(errs...)
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
	if c.MaxSubscriptionsPerPrincipal <= 0 {
		c.MaxSubscriptionsPerPrincipal = MaxSubscriptionsPerPrincipalDefault
	}
	return c
}

// OutboxNotifier is told when new outbox work exists, so a worker can wake up
// without waiting for its poll.
type OutboxNotifier interface {
	NotifyOutbox(ctx context.Context)
}

// Scope is the part of the namespace tree an operation touches.
type Scope struct {
	WorkspaceID string
	UserID      string
	AgentID     string
	Namespace   string
}

// core is what serving requests and executing outbox events share: the
// backends, the store, the configuration and the cross-cutting
// collaborators (clock, logger, redaction, call observation).
type core struct {
	backends []backendtype.BackendAdapter
	byName   map[backendtype.Backend]backendtype.BackendAdapter
	cfg      Config
	logger   *slog.Logger
	now      func() time.Time
	store    Store
	redactor Redactor
	observer CallObserver
	// refTypes are what each backend declared (RefTypeDeclarer).
	refTypes map[backendtype.Backend]backendtype.RefTypes
}

func newCore(opts Options) (*core, error) {
	if opts.Store == nil {
		return nil, errors.New("gateway: a store is required")
	}
	if err := opts.Config.validate(); err != nil {
		return nil, err
	}
	c := &core{
		backends: opts.Backends,
		byName:   make(map[backendtype.Backend]backendtype.BackendAdapter, len(opts.Backends)),
		refTypes: make(map[backendtype.Backend]backendtype.RefTypes, len(opts.Backends)),
		cfg:      opts.Config.withDefaults(),
		logger:   opts.Env.Logger(),
		now:      opts.Env.Clock(),
		store:    opts.Store,
		redactor: opts.Redactor,
		observer: opts.Observer,
	}
	if c.observer == nil {
		c.observer = unobserved{}
	}
	for _, b := range opts.Backends {
		if _, dup := c.byName[b.Name()]; dup {
			return nil, errors.New("gateway: backend " + string(b.Name()) + " configured twice")
		}
		c.byName[b.Name()] = b
		c.refTypes[b.Name()] = backendtype.DefaultRefTypes
		if d, ok := b.(backendtype.RefTypeDeclarer); ok {
			c.refTypes[b.Name()] = d.RefTypes()
		}
	}
	return c, nil
}

// refTypesOf is what a backend's refs are recorded as.
func (s *core) refTypesOf(b backendtype.Backend) backendtype.RefTypes {
	if t, ok := s.refTypes[b]; ok {
		return t
	}
	return backendtype.DefaultRefTypes
}

// Service serves the gateway's requests. It is safe for concurrent use.
type Service struct {
	*core
	anonymous *Principal
	notifier  OutboxNotifier
	drainer   OutboxDrainer
	publisher JobPublisher
	watcher   JobWatcher
	limiter   RateLimiter
	// feedbackPolicy decides which feedback needs no review.
	feedbackPolicy FeedbackPolicy
	validate       *validator.Validate
	// webhooks administers webhook endpoints; nil: webhooks are off.
	webhooks      WebhookStore
	urlGuard      URLGuard
	ingests       singleflight.Group
	subscriptions subscriptionCounts
	// admitter, when set, decides subscription places over the deployment.
	admitter SubscriptionAdmitter
	// documentsOnly tells the keys restricted to trusted GraphQL documents.
	documentsOnly func(Principal) bool
	// health is the last round of backend health probes.
	health healthCache
	// metrics is the process's rolling window of backend-call metrics;
	// nil: none kept.
	metrics MetricsWindow
}

// Options are the collaborators of a Service (and of an OutboxExecutor,
// which uses the shared ones).
type Options struct {
	Store    Store
	Backends []backendtype.BackendAdapter
	Config   Config
	// Env is where the service logs, and its clock.
	Env lifecycle.Env
	// Anonymous is the caller of requests that carry no principal; nil means
	// such requests are unauthenticated. Dev mode passes &DevPrincipal.
	Anonymous *Principal
	// Publisher announces job changes in-process (SQLite); nil when the
	// store announces them itself (PostgreSQL NOTIFY).
	Publisher JobPublisher
	// Watcher serves job subscriptions; nil disables them.
	Watcher JobWatcher
	// Notifier is told of new outbox work (the worker); nil: nobody.
	Notifier OutboxNotifier
	// Drainer runs processOutbox (the worker); nil: processOutbox is
	// unavailable.
	Drainer OutboxDrainer
	// Redactor applies the redaction policy to content; nil redacts nothing.
	Redactor Redactor
	// Limiter rate-limits ingest and retrieval per principal; nil: no limit.
	Limiter RateLimiter
	// Subscriptions decides whether a principal may hold one more live
	// subscription (SharedSubscriptions: over every process); nil counts
	// this process's subscriptions.
	Subscriptions SubscriptionAdmitter
	// Observer watches every backend call (metrics, tracing); nil: none.
	Observer CallObserver
	// FeedbackPolicy says which feedback is accepted without review; nil
	// means DefaultFeedbackPolicy.
	FeedbackPolicy *FeedbackPolicy
	// Webhooks stores webhook endpoints; nil turns the webhook API off.
	Webhooks WebhookStore
	// URLGuard refuses webhook URLs that resolve where deliveries must not
	// go; nil checks only the URL's form.
	URLGuard URLGuard
	// DocumentsOnly tells the keys that may run only trusted GraphQL
	// documents (TRUSTED_DOCUMENTS_FOR): they read conversation content
	// through no other edge (MCP, the export). nil: no key is restricted.
	DocumentsOnly func(Principal) bool
	// Metrics keeps the process's backend-call metrics over a rolling
	// window, for backendMetrics; nil: none kept.
	Metrics MetricsWindow
}

// NewService builds a Service. Backends keep their given order, which is the
// order refs and retrieval outcomes are reported in.
func NewService(opts Options) (*Service, error) {
	c, err := newCore(opts)
	if err != nil {
		return nil, err
	}
	s := &Service{
		core:           c,
		anonymous:      opts.Anonymous,
		notifier:       opts.Notifier,
		drainer:        opts.Drainer,
		publisher:      opts.Publisher,
		watcher:        opts.Watcher,
		limiter:        opts.Limiter,
		admitter:       opts.Subscriptions,
		validate:       newValidator(),
		feedbackPolicy: DefaultFeedbackPolicy,
		webhooks:       opts.Webhooks,
		urlGuard:       opts.URLGuard,
		documentsOnly:  opts.DocumentsOnly,
		metrics:        opts.Metrics,
	}
	if s.documentsOnly == nil {
		s.documentsOnly = func(Principal) bool { return false }
	}
	if opts.FeedbackPolicy != nil {
		s.feedbackPolicy = *opts.FeedbackPolicy
	}
	return s, nil
}

// OutboxExecutor runs claimed outbox events against their backends and says
// what to record: the worker's (and the admin drain's) executor. It shares
// the service's backends, store and configuration but serves no requests.
type OutboxExecutor struct {
	*core
}

// NewOutboxExecutor builds the executor from the shared collaborators of
// opts (store, backends, config, clock, logger, redactor, observer).
func NewOutboxExecutor(opts Options) (*OutboxExecutor, error) {
	c, err := newCore(opts)
	if err != nil {
		return nil, err
	}
	return &OutboxExecutor{core: c}, nil
}

// writeTimeout is the ingest timeout of one backend.
func (s *core) writeTimeout(b backendtype.Backend) time.Duration {
	if d, ok := s.cfg.BackendTimeouts[b]; ok && d > 0 {
		return d
	}
	return s.cfg.BackendTimeout
}

// retrieveTimeout is the retrieval timeout of one backend.
func (s *core) retrieveTimeout(b backendtype.Backend) time.Duration {
	if d, ok := s.cfg.BackendTimeouts[b]; ok && d > 0 {
		return min(d, s.cfg.RetrieveTimeout)
	}
	return s.cfg.RetrieveTimeout
}

// readsContentHere refuses a key restricted to trusted GraphQL documents
// content anywhere but GraphQL, where every document it runs is one its
// operator listed: the restriction holds on every edge, not only where it
// is checked.
func (s *Service) readsContentHere(ctx context.Context, p Principal) error {
	if s.documentsOnly(p) && ViaFrom(ctx) != ViaGraphQL {
		return fmt.Errorf("%w: this key may run only the trusted GraphQL documents; it reads no conversation content elsewhere", ErrForbidden)
	}
	return nil
}

// Backends returns the configured backends in order.
func (s *core) Backends() []backendtype.BackendAdapter { return s.backends }

// Backend returns a configured backend by name.
func (s *core) Backend(name backendtype.Backend) (backendtype.BackendAdapter, bool) {
	b, ok := s.byName[name]
	return b, ok
}

// Config returns the effective configuration.
func (s *core) Config() Config { return s.cfg }

// clock returns the current time in UTC at microsecond precision, the
// precision both stores keep, so a value read back equals the value written.
func (s *core) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// Caller is the principal of ctx's request: its key's, or the anonymous
// caller of dev mode.
func (s *Service) Caller(ctx context.Context) (Principal, error) { return s.principal(ctx) }

// principal is the caller of ctx.
func (s *Service) principal(ctx context.Context) (Principal, error) {
	if p, ok := PrincipalFrom(ctx); ok {
		return p, nil
	}
	if s.anonymous != nil {
		return *s.anonymous, nil
	}
	return Principal{}, ErrUnauthenticated
}

// authorize checks the caller holds access on scope. Failing it is
// FORBIDDEN, which says nothing about what exists there.
func (s *Service) authorize(ctx context.Context, access Access, scope Scope) (Principal, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return Principal{}, err
	}
	if !p.May(access, scope) {
		return Principal{}, fmt.Errorf("%w: the key does not grant %s on this workspace, namespace, user or agent", ErrForbidden, accessName(access))
	}
	return p, nil
}

func accessName(a Access) string {
	switch a {
	case AccessRead:
		return "READ"
	case AccessWrite:
		return "WRITE"
	default:
		return "ADMIN"
	}
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
