package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/backends/everos"
	"github.com/memory-gateway/memory-gateway/backends/openviking"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/maintenance"
	"github.com/memory-gateway/memory-gateway/policy"
	"github.com/memory-gateway/memory-gateway/resolvers"
	"github.com/memory-gateway/memory-gateway/telemetry"
	"github.com/memory-gateway/memory-gateway/webhook"
	"github.com/memory-gateway/memory-gateway/worker"
)

// Configuration defaults.
const (
	ListenAddrDefault        = "127.0.0.1:8080"
	MaxBodyBytesDefault      = 1 << 20
	ReadHeaderTimeoutDefault = 5 * time.Second
	ReadTimeoutDefault       = 30 * time.Second
	WriteTimeoutDefault      = 60 * time.Second
	IdleTimeoutDefault       = 120 * time.Second
	ShutdownTimeoutDefault   = 20 * time.Second
)

var errHelp = flag.ErrHelp

// config is the whole runtime configuration. Every field comes from an
// environment variable and may be overridden by a flag.
type config struct {
	ListenAddr  string
	DatabaseURL string
	// PreparedStatements: on PostgreSQL the ingest's and the worker's hot
	// statements run prepared (DATABASE_PREPARED_STATEMENTS).
	PreparedStatements bool
	LogLevel           string
	LogFormat          string
	DevMode            string // "" (auto: on without keys), "true" or "false"
	APIKeysFile        string
	APIKeys            string
	KeysReload         time.Duration
	RedactionFile      string
	CORSOrigins        string
	IngestRate         float64
	IngestBurst        int
	RetrieveRate       float64
	RetrieveBurst      int
	HealthRate         float64
	HealthBurst        int
	MaxDepth           int
	MaxAliases         int
	MaxSubsConnection  int
	MaxSubsPrincipal   int
	// LimitsScope is where rate limits and the per-principal subscription
	// cap are counted: process, deployment, or auto (deployment on
	// PostgreSQL, process on SQLite).
	LimitsScope       string
	SubscriptionLease time.Duration
	WebsocketInit     time.Duration
	LocalBackend      bool
	OpenVikingURL     string
	OpenVikingKey     string
	OpenVikingKeys    string
	OpenVikingTimeout time.Duration
	OpenVikingPoll    time.Duration
	EverMemOSURL      string
	EverMemOSKey      string
	EverMemOSTimeout  time.Duration
	// EverMemOSAPI is the API the EverMemOS URL speaks: evercore (the
	// pre-1.0 /api/v1/memories API) or everos (EverOS 1.x, /api/v2/memory).
	EverMemOSAPI     string
	EverMemOSAppID   string
	PseudonymousIDs  bool
	BackendIDKeyFile string
	// BackendIDKey comes from the environment or a file only, never a flag.
	BackendIDKey        string
	Worker              bool
	WorkerConcurrency   int
	WorkerLease         time.Duration
	WorkerPoll          time.Duration
	WorkerRescue        time.Duration
	MaxAttempts         int
	CommitTimeout       time.Duration
	MaxBodyBytes        int64
	MaxContentBytes     int
	ComplexityLimit     int
	BackendTimeout      time.Duration
	RetrieveTimeout     time.Duration
	ReadHeaderTimeout   time.Duration
	ReadTimeout         time.Duration
	WriteTimeout        time.Duration
	IdleTimeout         time.Duration
	ShutdownTimeout     time.Duration
	FeedbackPolicy      string
	FeedbackPolicyFile  string
	RetentionPolicy     string
	RetentionPolicyFile string
	MaintenanceInterval time.Duration
	MaintenanceBatch    int
	TrustedDocsFile     string
	TrustedDocsFor      string
	WebhookAllowHosts   string
	WebhookSchedule     string
	WebhookTimeout      time.Duration
	WebhookPoll         time.Duration
	WebhookPerWorkspace int
	Metrics             bool
	MetricsAddr         string
	MetricsTrendEvery   time.Duration
	Pprof               bool
	OTLPEndpoint        string
	ServiceName         string
	TraceSampleRatio    float64
}

// setting is one configuration entry: its flag, environment variable,
// default and destination.
type setting struct {
	flag, env, usage string
	def              string
	set              func(string) error
}

// secretSettings can also be read from a file, named by ENV_FILE or
// --flag-file: a flag's value is visible to anyone who can list processes,
// and an environment variable to anyone who can read the process's.
var secretSettings = []string{"DATABASE_URL", "OPENVIKING_API_KEY", "EVERMEMOS_API_KEY"}

// secretFileSuffix names the file variant of a secret setting.
const secretFileSuffix = "_FILE"

// fromFile reads a secret's value from a file, trimmed of surrounding
// whitespace (the newline editors and secret mounts leave).
func fromFile(set func(string) error) func(string) error {
	return func(path string) error {
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("error reading the secret file: %w", err)
		}
		return set(strings.TrimSpace(string(raw)))
	}
}

func settings(cfg *config) []setting {
	str := func(dst *string) func(string) error {
		return func(v string) error { *dst = v; return nil }
	}
	boolean := func(dst *bool) func(string) error {
		return func(v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			*dst = b
			return nil
		}
	}
	integer := func(dst *int) func(string) error {
		return func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("want a positive integer, got %q", v)
			}
			*dst = n
			return nil
		}
	}
	bytes := func(dst *int64) func(string) error {
		return func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return fmt.Errorf("want a positive number of bytes, got %q", v)
			}
			*dst = n
			return nil
		}
	}
	tristate := func(dst *string) func(string) error {
		return func(v string) error {
			if v == "" {
				*dst = ""
				return nil
			}
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			*dst = strconv.FormatBool(b)
			return nil
		}
	}
	rate := func(dst *float64) func(string) error {
		return func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return fmt.Errorf("want a rate per second (0 or more), got %q", v)
			}
			*dst = f
			return nil
		}
	}
	ratio := func(dst *float64) func(string) error {
		return func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 || f > 1 {
				return fmt.Errorf("want a ratio above 0 and at most 1, got %q", v)
			}
			*dst = f
			return nil
		}
	}
	oneOf := func(dst *string, allowed ...string) func(string) error {
		return func(v string) error {
			if !slices.Contains(allowed, v) {
				return fmt.Errorf("want one of %s, got %q", strings.Join(allowed, ", "), v)
			}
			*dst = v
			return nil
		}
	}
	duration := func(dst *time.Duration) func(string) error {
		return func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("want a positive duration such as 5s, got %q", v)
			}
			*dst = d
			return nil
		}
	}
	return []setting{
		{"listen", "LISTEN_ADDR", "address to listen on", ListenAddrDefault, str(&cfg.ListenAddr)},
		{"database-url", "DATABASE_URL", "postgres://… for PostgreSQL; file:… or empty for SQLite under ./data", "", str(&cfg.DatabaseURL)},
		{"database-prepared-statements", "DATABASE_PREPARED_STATEMENTS", "on PostgreSQL, run the ingest's and the worker's hot statements as prepared statements (false: as text, for a connection pooler that cannot keep them, such as PgBouncer before 1.21 in transaction mode)", "true", boolean(&cfg.PreparedStatements)},
		{"log-level", "LOG_LEVEL", "debug, info, warn or error", "info", str(&cfg.LogLevel)},
		{"log-format", "LOG_FORMAT", "json or text", "json", str(&cfg.LogFormat)},
		{"dev-mode", "DEV_MODE", "GraphiQL at / and schema introspection (default: on exactly when no API keys are configured)", "", tristate(&cfg.DevMode)},
		{"api-keys-file", "API_KEYS_FILE", "JSON file of hashed API keys and their grants; none: dev mode (loopback only)", "", str(&cfg.APIKeysFile)},
		{"api-keys", "API_KEYS", "the same JSON document inline", "", str(&cfg.APIKeys)},
		{"api-keys-reload-interval", "API_KEYS_RELOAD_INTERVAL", "how often the keys file is checked for changes (SIGHUP reloads it at once)", policy.KeysReloadIntervalDefault.String(), duration(&cfg.KeysReload)},
		{"redaction-policy-file", "REDACTION_POLICY_FILE", "JSON redaction policy (default: mask every built-in detector)", "", str(&cfg.RedactionFile)},
		{"cors-allowed-origins", "CORS_ALLOWED_ORIGINS", "comma-separated origins allowed to call the API from a browser (and open websockets)", "", str(&cfg.CORSOrigins)},
		{"rate-limit-ingest", "RATE_LIMIT_INGEST", "ingests per second per principal (0: unlimited)", "200", rate(&cfg.IngestRate)},
		{"rate-limit-ingest-burst", "RATE_LIMIT_INGEST_BURST", "ingest burst per principal", "400", integer(&cfg.IngestBurst)},
		{"rate-limit-retrieve", "RATE_LIMIT_RETRIEVE", "retrievals per second per principal (0: unlimited)", "100", rate(&cfg.RetrieveRate)},
		{"rate-limit-retrieve-burst", "RATE_LIMIT_RETRIEVE_BURST", "retrieval burst per principal", "200", integer(&cfg.RetrieveBurst)},
		{"rate-limit-health", "RATE_LIMIT_HEALTH", "backend health requests (each backends field, aliases included) per second per principal (0: unlimited)", strconv.FormatFloat(gateway.HealthRateDefault, 'g', -1, 64), rate(&cfg.HealthRate)},
		{"rate-limit-health-burst", "RATE_LIMIT_HEALTH_BURST", "backend health burst per principal", strconv.Itoa(gateway.HealthBurstDefault), integer(&cfg.HealthBurst)},
		{"max-query-depth", "MAX_QUERY_DEPTH", "deepest field nesting of an operation", strconv.Itoa(resolvers.MaxDepthDefault), integer(&cfg.MaxDepth)},
		{"max-query-aliases", "MAX_QUERY_ALIASES", "most aliases in an operation", strconv.Itoa(resolvers.MaxAliasesDefault), integer(&cfg.MaxAliases)},
		{"max-subscriptions-per-connection", "MAX_SUBSCRIPTIONS_PER_CONNECTION", "live operations one websocket may hold, over either subprotocol (graphql-transport-ws or the legacy graphql-ws)", strconv.Itoa(resolvers.MaxSubscriptionsPerConnectionDefault), integer(&cfg.MaxSubsConnection)},
		{"websocket-init-timeout", "WEBSOCKET_INIT_TIMEOUT", "how long a websocket may stay without connection_init (graphql-transport-ws closes it with 4408)", "10s", duration(&cfg.WebsocketInit)},
		{"max-subscriptions-per-principal", "MAX_SUBSCRIPTIONS_PER_PRINCIPAL", "live subscriptions one key may hold over every connection", strconv.Itoa(gateway.MaxSubscriptionsPerPrincipalDefault), integer(&cfg.MaxSubsPrincipal)},
		{"limits-scope", "LIMITS_SCOPE", "where per-principal rate limits and MAX_SUBSCRIPTIONS_PER_PRINCIPAL are counted: deployment (in the database, over every process sharing it), process (in each process's memory), or auto (deployment on PostgreSQL, process on SQLite)", limitsScopeAuto, oneOf(&cfg.LimitsScope, limitsScopeAuto, limitsScopeDeployment, limitsScopeProcess)},
		{"subscription-lease", "SUBSCRIPTION_LEASE", "with deployment-wide limits, how long a subscription's place outlives a process killed without shutting down (renewed every third of it)", gateway.SubscriptionLeaseDefault.String(), duration(&cfg.SubscriptionLease)},
		{"local-backend", "LOCAL_BACKEND", "enable the built-in local backend", "true", boolean(&cfg.LocalBackend)},
		{"openviking-url", "OPENVIKING_URL", "OpenViking base URL; enables the OpenViking backend", "", str(&cfg.OpenVikingURL)},
		{"openviking-api-key", "OPENVIKING_API_KEY", "OpenViking API key (the root key in trusted mode)", "", str(&cfg.OpenVikingKey)},
		{"openviking-user-keys-file", "OPENVIKING_USER_KEYS_FILE", "JSON file mapping \"workspace/user\" to OpenViking user keys", "", str(&cfg.OpenVikingKeys)},
		{"openviking-timeout", "OPENVIKING_TIMEOUT", "timeout of one OpenViking call", openviking.TimeoutDefault.String(), duration(&cfg.OpenVikingTimeout)},
		{"openviking-poll-interval", "OPENVIKING_POLL_INTERVAL", "first delay before checking an OpenViking commit task (doubles per check, up to 30s)", openviking.PollIntervalDefault.String(), duration(&cfg.OpenVikingPoll)},
		{"evermemos-url", "EVERMEMOS_URL", "EverMemOS base URL; enables the EverMemOS backend", "", str(&cfg.EverMemOSURL)},
		{"evermemos-api-key", "EVERMEMOS_API_KEY", "EverMemOS bearer key (a hosted API, or a proxy in front of EverOS, which has no authentication of its own)", "", str(&cfg.EverMemOSKey)},
		{"pseudonymous-backend-ids", "PSEUDONYMOUS_BACKEND_IDS", "remote backends get keyed hashes of workspace and user/agent ids instead of the ids (key: BACKEND_ID_KEY or BACKEND_ID_KEY_FILE)", "false", boolean(&cfg.PseudonymousIDs)},
		{"backend-id-key-file", "BACKEND_ID_KEY_FILE", "file holding the key of pseudonymous backend ids", "", str(&cfg.BackendIDKeyFile)},
		{"evermemos-timeout", "EVERMEMOS_TIMEOUT", "timeout of one EverMemOS call (extraction runs inline; default 30s for evercore, 60s for everos)", "", duration(&cfg.EverMemOSTimeout)},
		{"evermemos-api", "EVERMEMOS_API", "the API behind EVERMEMOS_URL: evercore (EverMemOS before 1.0, /api/v1/memories) or everos (EverOS 1.2 or later, /api/v2/memory)", everMemOSAPIEverCore, oneOf(&cfg.EverMemOSAPI, everMemOSAPIEverCore, everMemOSAPIEverOS)},
		{"evermemos-app-id", "EVERMEMOS_APP_ID", "EverOS app_id every workspace's project lives in (everos only)", everos.AppIDDefault, str(&cfg.EverMemOSAppID)},
		{"worker", "WORKER", "run the outbox worker inside serve", "true", boolean(&cfg.Worker)},
		{"worker-concurrency", "WORKER_CONCURRENCY", "outbox events of one backend in flight per process", strconv.Itoa(worker.ConcurrencyPerBackendDefault), integer(&cfg.WorkerConcurrency)},
		{"worker-lease", "WORKER_LEASE", "lease of a claimed outbox event (renewed while it runs)", worker.LeaseDurationDefault.String(), duration(&cfg.WorkerLease)},
		{"worker-poll-interval", "WORKER_POLL_INTERVAL", "fallback poll of the outbox when no wake-up arrives", worker.PollIntervalDefault.String(), duration(&cfg.WorkerPoll)},
		{"worker-rescue-interval", "WORKER_RESCUE_INTERVAL", "how often expired leases are swept", worker.RescueIntervalDefault.String(), duration(&cfg.WorkerRescue)},
		{"max-attempts", "OUTBOX_MAX_ATTEMPTS", "attempts of an outbox event before it is dead-lettered", strconv.Itoa(gateway.MaxAttemptsDefault), integer(&cfg.MaxAttempts)},
		{"commit-timeout", "COMMIT_TIMEOUT", "timeout of one backend call made by the worker", gateway.CommitTimeoutDefault.String(), duration(&cfg.CommitTimeout)},
		{"max-body-bytes", "MAX_BODY_BYTES", "largest accepted request body", strconv.Itoa(MaxBodyBytesDefault), bytes(&cfg.MaxBodyBytes)},
		{"max-content-bytes", "MAX_CONTENT_BYTES", "largest accepted turn content", strconv.Itoa(gateway.MaxContentBytesDefault), integer(&cfg.MaxContentBytes)},
		{"complexity-limit", "COMPLEXITY_LIMIT", "largest accepted GraphQL operation complexity", strconv.Itoa(resolvers.ComplexityLimitDefault), integer(&cfg.ComplexityLimit)},
		{"backend-timeout", "BACKEND_TIMEOUT", "timeout of each backend write during ingest", gateway.BackendTimeoutDefault.String(), duration(&cfg.BackendTimeout)},
		{"retrieve-timeout", "RETRIEVE_TIMEOUT", "timeout of each backend query during retrieval", gateway.RetrieveTimeoutDefault.String(), duration(&cfg.RetrieveTimeout)},
		{"read-header-timeout", "READ_HEADER_TIMEOUT", "HTTP read-header timeout", ReadHeaderTimeoutDefault.String(), duration(&cfg.ReadHeaderTimeout)},
		{"read-timeout", "READ_TIMEOUT", "HTTP read timeout", ReadTimeoutDefault.String(), duration(&cfg.ReadTimeout)},
		{"write-timeout", "WRITE_TIMEOUT", "HTTP write timeout (streams are exempt)", WriteTimeoutDefault.String(), duration(&cfg.WriteTimeout)},
		{"idle-timeout", "IDLE_TIMEOUT", "HTTP keep-alive idle timeout", IdleTimeoutDefault.String(), duration(&cfg.IdleTimeout)},
		{"shutdown-timeout", "SHUTDOWN_TIMEOUT", "grace period for in-flight requests on shutdown", ShutdownTimeoutDefault.String(), duration(&cfg.ShutdownTimeout)},
		{"feedback-auto-accept", "FEEDBACK_AUTO_ACCEPT", "JSON feedback auto-accept policy: {\"default\": [types], \"workspaces\": {\"ws\": [types]}} and blind review, \"blindReview\": {\"default\": false, \"workspaces\": {\"ws\": true}} (default: HELPFUL and NOT_HELPFUL accepted, reviewers see the texts)", "", str(&cfg.FeedbackPolicy)},
		{"feedback-auto-accept-file", "FEEDBACK_AUTO_ACCEPT_FILE", "the same policy from a file", "", str(&cfg.FeedbackPolicyFile)},
		{"retention-policy", "RETENTION_POLICY", "JSON retention policy: {\"default\": {\"controlPlane\": \"2160h\", \"memories\": [{\"namespace\": …, \"memoryTypes\": […], \"ttl\": \"720h\"}]}, \"workspaces\": {…}} (default: keep everything)", "", str(&cfg.RetentionPolicy)},
		{"retention-policy-file", "RETENTION_POLICY_FILE", "the same policy from a file", "", str(&cfg.RetentionPolicyFile)},
		{"maintenance-interval", "MAINTENANCE_INTERVAL", "how often retention runs (in every serve and worker process)", "1m0s", duration(&cfg.MaintenanceInterval)},
		{"maintenance-batch-size", "MAINTENANCE_BATCH_SIZE", "rows one retention transaction deletes at most", strconv.Itoa(maintenance.BatchSizeDefault), integer(&cfg.MaintenanceBatch)},
		{"trusted-documents-file", "TRUSTED_DOCUMENTS_FILE", "allowlist of GraphQL documents (JSON of sha256 → document, or a directory of .graphql files) that restricted keys are limited to", "", str(&cfg.TrustedDocsFile)},
		{"trusted-documents-for", "TRUSTED_DOCUMENTS_FOR", "which keys the allowlist restricts: dashboard (DASHBOARD keys) or non-admin (every key but ADMIN ones)", "dashboard", str(&cfg.TrustedDocsFor)},
		{"webhook-allow-hosts", "WEBHOOK_ALLOW_HOSTS", "comma-separated hosts, IPs or CIDRs webhook deliveries may reach although loopback or private (link-local stays refused)", "", str(&cfg.WebhookAllowHosts)},
		{"webhook-retry-schedule", "WEBHOOK_RETRY_SCHEDULE", "comma-separated delays before each webhook retry; then DEAD_LETTER", "5s,5m,30m,2h,5h,10h,10h", str(&cfg.WebhookSchedule)},
		{"webhook-timeout", "WEBHOOK_TIMEOUT", "timeout of one webhook attempt", webhook.TimeoutDefault.String(), duration(&cfg.WebhookTimeout)},
		{"webhook-poll-interval", "WEBHOOK_POLL_INTERVAL", "how often the worker looks for due webhook deliveries", webhook.PollIntervalDefault.String(), duration(&cfg.WebhookPoll)},
		{"webhook-workspace-concurrency", "WEBHOOK_WORKSPACE_CONCURRENCY", fmt.Sprintf("webhook attempts of one workspace in flight per process (of %d), so one workspace's slow endpoints cannot hold every sender", webhook.ConcurrencyDefault), strconv.Itoa(webhook.WorkspaceConcurrencyDefault), integer(&cfg.WebhookPerWorkspace)},
		{"metrics", "METRICS", "serve Prometheus metrics at /metrics on the API port, to the operator key only, 404 to everyone else (anyone on loopback in dev mode)", "true", boolean(&cfg.Metrics)},
		{"metrics-addr", "METRICS_ADDR", "also serve /metrics, without a key, with /healthz and /readyz, on this address: for scrapers, on a private network (the worker command's only listener)", "", str(&cfg.MetricsAddr)},
		{"metrics-trend-interval", "METRICS_TREND_INTERVAL", fmt.Sprintf("how often the process samples its backend-call metrics for backendMetrics and the console's sparklines (it keeps %d samples)", telemetry.TrendSamplesDefault), telemetry.TrendIntervalDefault.String(), duration(&cfg.MetricsTrendEvery)},
		{"pprof", "PPROF", "serve Go profiles at /debug/pprof/ to the operator key only, 404 to everyone else (anyone on loopback in dev mode)", "false", boolean(&cfg.Pprof)},
		{"otlp-endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTLP/HTTP collector URL (e.g. http://127.0.0.1:4318); enables tracing", "", str(&cfg.OTLPEndpoint)},
		{"service-name", "OTEL_SERVICE_NAME", "service name on exported spans", telemetry.ServiceNameDefault, str(&cfg.ServiceName)},
		{"trace-sample-ratio", "TRACE_SAMPLE_RATIO", "share of new traces recorded (a caller's sampling decision is kept)", "1", ratio(&cfg.TraceSampleRatio)},
	}
}

// Where limits are counted (LIMITS_SCOPE).
const (
	limitsScopeAuto       = "auto"
	limitsScopeDeployment = "deployment"
	limitsScopeProcess    = "process"
)

// The APIs an EverMemOS URL may speak (EVERMEMOS_API).
const (
	everMemOSAPIEverCore = "evercore"
	everMemOSAPIEverOS   = "everos"
)

// backendIDKeyMin is the shortest key of pseudonymous ids (bytes).
const backendIDKeyMin = 16

// backendIDKey reads the key of pseudonymous backend ids: from
// BACKEND_ID_KEY or from the file BACKEND_ID_KEY_FILE names — never from a
// flag, whose value anyone listing processes sees.
func backendIDKey(cfg *config, getenv func(string) string) error {
	key := strings.TrimSpace(getenv("BACKEND_ID_KEY"))
	if cfg.BackendIDKeyFile != "" {
		if key != "" {
			return errors.New("BACKEND_ID_KEY and BACKEND_ID_KEY_FILE are both set: give the key one way")
		}
		raw, err := os.ReadFile(cfg.BackendIDKeyFile)
		if err != nil {
			return fmt.Errorf("BACKEND_ID_KEY_FILE: %w", err)
		}
		key = strings.TrimSpace(string(raw))
	}
	if cfg.PseudonymousIDs && len(key) < backendIDKeyMin {
		return fmt.Errorf("PSEUDONYMOUS_BACKEND_IDS needs a key of at least %d bytes in BACKEND_ID_KEY or BACKEND_ID_KEY_FILE", backendIDKeyMin)
	}
	cfg.BackendIDKey = key
	return nil
}

// parseConfig reads defaults, then the environment, then flags.
func parseConfig(command string, args []string, getenv func(string) string, output io.Writer) (config, error) {
	var cfg config
	switch command {
	case "serve", "migrate", "worker":
	default:
		return cfg, fmt.Errorf("unknown command %q (want serve, worker or migrate)", command)
	}
	fs := newFlagSet(command, output)
	var errs []error
	for _, s := range settings(&cfg) {
		if err := s.set(s.def); err != nil && s.def != "" {
			return cfg, fmt.Errorf("bad default for %s: %w", s.env, err)
		}
		v := strings.TrimSpace(getenv(s.env))
		if v != "" {
			if err := s.set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.env, err))
			}
		}
		fs.Func(s.flag, fmt.Sprintf("%s (env %s, default %q)", s.usage, s.env, s.def), s.set)
		if !slices.Contains(secretSettings, s.env) {
			continue
		}
		fileEnv := s.env + secretFileSuffix
		if path := strings.TrimSpace(getenv(fileEnv)); path != "" {
			if v != "" {
				errs = append(errs, fmt.Errorf("%s and %s are both set: give the secret one way", s.env, fileEnv))
			} else if err := fromFile(s.set)(path); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", fileEnv, err))
			}
		}
		fs.Func(s.flag+"-file", fmt.Sprintf("file holding %s (env %s)", s.env, fileEnv), fromFile(s.set))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if err := backendIDKey(&cfg, getenv); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return cfg, nil
}

// splitList splits a comma-separated setting.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// originHosts turns allowed origins into the host patterns the websocket
// origin check takes.
func originHosts(origins []string) []string {
	var hosts []string
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			hosts = append(hosts, u.Host)
		} else {
			hosts = append(hosts, o)
		}
	}
	return hosts
}
