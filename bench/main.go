// Command bench runs the Memory Gateway benchmark suite against live servers
// on PostgreSQL and reports every figure beside a baseline measured in the
// same run, with the ratio between the two.
//
// Usage, from the repository root:
//
//	go run ./bench                          # every scenario
//	go run ./bench -only ingest,drain       # some of them
//	go run ./bench -duration 5s -levels 1,16 -out /tmp/r.json -markdown /tmp/r.md
//
// Each run drops and re-creates the database memory_gateway_bench through the
// admin connection (-database-url), gives every scenario a fresh schema in
// it, builds the server binary (go build -o <tmp>/memory-gateway .) and
// starts server processes in dev mode on loopback ports, with rate limits off
// and LOG_LEVEL=warn. It prints one markdown table per scenario (figure,
// value, baseline, ratio, target, met?), writes the same tables to -markdown
// and every raw number to -out as JSON.
//
// Scenarios and their baselines:
//
//	ingest         ingestConversationTurn over GraphQL at -levels clients for
//	               -duration each; baseline: pgbench on the same database at
//	               the same client counts running the statements one ingest
//	               runs (same tables, statements, transactions and indexes).
//	drain          the outbox worker draining -drain-events events of a no-op
//	               backend, in process; baseline: a plain SKIP LOCKED job
//	               queue (claim + batched completion) in the same database.
//	commit         commitSession until a terminal job state arrives over a
//	               graphql-transport-ws subscription; baseline: the round trip
//	               of { __typename }.
//	subscriptions  -subscribers websocket subscribers on one process, then on
//	               a second process without worker; delivery latency (receipt
//	               minus the job's updatedAt) and memory per subscriber;
//	               baselines: one subscriber, and memory per bare connection.
//	retrieval      retrieveContext over fake OpenViking and EverMemOS servers
//	               with fixed latencies plus the local backend; baseline: the
//	               slowest fake's search called directly, and its fixed delay.
//	dashboard      one query of 50 commit jobs with refs, outbox summaries and
//	               events; latency against { __typename } and SQL statements
//	               per query (extensions.statements) at -dashboard-sizes jobs.
//	recall-growth  the local backend's search (in process, -retrieval-queries
//	               calls per point) as one user's history grows to 100, 1,000
//	               and 10,000 turns among other users', on SQLite and
//	               PostgreSQL; baseline: the same search at 100 turns.
//	scaleout       on one PostgreSQL, -scaleout-processes (1,2,3) worker
//	               processes (the worker command) draining -scaleout-events
//	               held-back events, released at once, of a fake OpenViking
//	               in the bench that finishes every commit at once: events/s,
//	               Go CPU per event over the workers, PostgreSQL CPU per
//	               event, cores busy and NOTIFY counts, every event checked
//	               done exactly once; then -scaleout-subscribers subscribers
//	               spread over as many serve processes, commits through the
//	               first: p50/p99 delivery. Baseline: the fewest processes;
//	               target: more worker processes never drain slower. The
//	               notes say, from the figures, what bounds each.
//
// Where a figure is bound by CPU, the notes split the machine's CPU time per
// operation between the server, the load generator (the bench itself or
// pgbench) and the rest (PostgreSQL, the kernel), read from /proc. With
// -pprof-dir, servers start with PPROF=true and CPU profiles of each ingest
// level and of the subscribers' server are saved there, for
// go tool pprof.
//
// It needs PostgreSQL and pgbench (-pgbench) on this machine; a scenario that
// fails is reported with its error and the others still run (server and
// pgbench logs are then kept in the temp directory it names). SIGINT stops
// the run and every server it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/memory-gateway/memory-gateway/worker"
)

// Flag defaults.
const (
	defaultAdminURL             = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultDatabase             = "memory_gateway_bench"
	defaultDuration             = 10 * time.Second
	defaultLevels               = "1,16,64"
	defaultDrainEvents          = 50_000
	defaultDrainConcurrency     = 4_000
	defaultCommitSessions       = 200
	defaultSubscribers          = 1_000
	defaultSubscriptionSessions = 10
	defaultSubscriptionRounds   = 20
	defaultRetrievalQueries     = 200
	// defaultRecallQueries: a recall takes 0.1–1.5 ms, so 200 calls were
	// 20–300 ms of samples, and one pause of the machine moved a p50.
	defaultRecallQueries       = 1000
	defaultOpenVikingLatency   = 20 * time.Millisecond
	defaultEverMemOSLatency    = 50 * time.Millisecond
	defaultDashboardRuns       = 200
	defaultDashboardSizes      = "10,50"
	defaultScaleoutEvents      = 20_000
	defaultScaleoutProcesses   = "1,2,3"
	defaultScaleoutSubscribers = 300
)

// config is the parsed command line.
type config struct {
	adminURL             string
	database             string
	out                  string
	markdown             string
	only                 []string
	duration             time.Duration
	levels               []int
	pgbench              string
	drainEvents          int
	drainConcurrency     int
	commitSessions       int
	subscribers          int
	subscriptionSessions int
	subscriptionRounds   int
	retrievalQueries     int
	recallQueries        int
	openVikingLatency    time.Duration
	everMemOSLatency     time.Duration
	dashboardRuns        int
	dashboardSizes       []int
	pprofDir             string
	scaleoutEvents       int
	scaleoutProcesses    []int
	scaleoutSubscribers  int
	scaleoutConcurrency  int
}

// scenario is one benchmark of the suite.
type scenario struct {
	name string
	run  func(ctx context.Context, e *env) (*ScenarioResult, error)
}

// scenarios are run in this order.
var scenarios = []scenario{
	{"ingest", runIngest},
	{"drain", runDrain},
	{"commit", runCommit},
	{"subscriptions", runSubscriptions},
	{"retrieval", runRetrieval},
	{"dashboard", runDashboard},
	{"recall-growth", runRecallGrowth},
	{"scaleout", runScaleout},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without process globals.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "bench: warning:", err)
	}
	e, err := setup(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	defer e.close()

	report := newReport(cfg, e.machine)
	fmt.Fprint(stdout, report.machineMarkdown())
	failed := false
	for _, s := range scenarios {
		if len(cfg.only) > 0 && !slices.Contains(cfg.only, s.name) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		background, bgErr := backgroundBusy(ctx)
		e.logf("scenario %s: starting (cores %.0f%% busy before it)", s.name, 100*background)
		started := time.Now()
		stopProfile := e.profileBench(s.name)
		res, err := s.run(ctx, e)
		stopProfile()
		e.stopServers()
		if res == nil {
			res = &ScenarioResult{Name: s.name}
		}
		res.Name = s.name
		res.ElapsedSeconds = time.Since(started).Seconds()
		if bgErr == nil {
			res.BackgroundBusy = num(background)
		}
		if err != nil {
			failed = true
			e.keep = true
			res.Error = err.Error()
			e.logf("scenario %s: %v", s.name, err)
		}
		report.Scenarios = append(report.Scenarios, *res)
		fmt.Fprint(stdout, res.markdown())
		if err := report.write(cfg.out, cfg.markdown); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	report.FinishedAt = time.Now().UTC()
	if err := report.write(cfg.out, cfg.markdown); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	e.logf("results written to %s and %s", cfg.out, cfg.markdown)
	if failed || ctx.Err() != nil {
		return 1
	}
	return 0
}

func parseFlags(args []string, output io.Writer) (config, error) {
	var cfg config
	var only, levels, sizes, processes string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&cfg.adminURL, "database-url", defaultAdminURL, "admin connection used to (re)create the bench database")
	fs.StringVar(&cfg.database, "database", defaultDatabase, "name of the bench database, dropped and re-created every run")
	fs.StringVar(&cfg.out, "out", "bench-results.json", "JSON results path")
	fs.StringVar(&cfg.markdown, "markdown", "bench-results.md", "markdown results path")
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run (default: all): ingest, drain, commit, subscriptions, retrieval, dashboard, recall-growth, scaleout")
	fs.DurationVar(&cfg.duration, "duration", defaultDuration, "duration of each ingest level (gateway and pgbench alike)")
	fs.StringVar(&levels, "levels", defaultLevels, "ingest client counts")
	fs.StringVar(&cfg.pgbench, "pgbench", "pgbench", "pgbench binary")
	fs.IntVar(&cfg.drainEvents, "drain-events", defaultDrainEvents, "events drained by the drain scenario")
	fs.IntVar(&cfg.drainConcurrency, "drain-concurrency", defaultDrainConcurrency, "events in flight in the drain (worker and queue baseline)")
	fs.IntVar(&cfg.commitSessions, "commit-sessions", defaultCommitSessions, "sessions committed one by one in the commit scenario")
	fs.IntVar(&cfg.subscribers, "subscribers", defaultSubscribers, "websocket subscribers in the subscriptions scenario")
	fs.IntVar(&cfg.subscriptionSessions, "subscription-sessions", defaultSubscriptionSessions, "sessions the subscribers are spread across")
	fs.IntVar(&cfg.subscriptionRounds, "subscription-rounds", defaultSubscriptionRounds, "measured commit rounds per subscription setup")
	fs.IntVar(&cfg.retrievalQueries, "retrieval-queries", defaultRetrievalQueries, "retrieveContext calls in the retrieval scenario")
	fs.IntVar(&cfg.recallQueries, "recall-queries", defaultRecallQueries, "timed local recalls of each query at each history size in the recall-growth scenario")
	fs.DurationVar(&cfg.openVikingLatency, "openviking-latency", defaultOpenVikingLatency, "fixed latency of the fake OpenViking")
	fs.DurationVar(&cfg.everMemOSLatency, "evermemos-latency", defaultEverMemOSLatency, "fixed latency of the fake EverMemOS")
	fs.IntVar(&cfg.dashboardRuns, "dashboard-runs", defaultDashboardRuns, "dashboard queries timed")
	fs.StringVar(&sizes, "dashboard-sizes", defaultDashboardSizes, "committed jobs per dashboard workspace; the largest is timed")
	fs.IntVar(&cfg.scaleoutEvents, "scaleout-events", defaultScaleoutEvents, "events drained by each process count of the scaleout scenario")
	fs.StringVar(&processes, "scaleout-processes", defaultScaleoutProcesses, "process counts of the scaleout scenario; the smallest is the baseline")
	fs.IntVar(&cfg.scaleoutSubscribers, "scaleout-subscribers", defaultScaleoutSubscribers, "websocket subscribers spread over the serve processes of the scaleout scenario")
	fs.IntVar(&cfg.scaleoutConcurrency, "scaleout-worker-concurrency", worker.ConcurrencyPerBackendDefault, "WORKER_CONCURRENCY of each worker process of the scaleout scenario")
	fs.StringVar(&cfg.pprofDir, "pprof-dir", "", "if set, start servers with PPROF=true and save here the CPU profile of each ingest level, of the subscriptions server and of the bench itself per scenario, and the heap of the subscriptions server with every subscriber subscribed")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var err error
	if cfg.only, err = parseNames(only); err != nil {
		return cfg, err
	}
	if cfg.levels, err = parseInts("levels", levels); err != nil {
		return cfg, err
	}
	if cfg.dashboardSizes, err = parseInts("dashboard-sizes", sizes); err != nil {
		return cfg, err
	}
	if cfg.scaleoutProcesses, err = parseInts("scaleout-processes", processes); err != nil {
		return cfg, err
	}
	slices.Sort(cfg.scaleoutProcesses)
	cfg.scaleoutProcesses = slices.Compact(cfg.scaleoutProcesses)
	if cfg.duration < time.Second {
		return cfg, fmt.Errorf("-duration must be at least 1s (pgbench counts whole seconds), got %s", cfg.duration)
	}
	for name, v := range map[string]int{
		"drain-events": cfg.drainEvents, "drain-concurrency": cfg.drainConcurrency, "commit-sessions": cfg.commitSessions,
		"subscribers": cfg.subscribers, "subscription-sessions": cfg.subscriptionSessions,
		"subscription-rounds": cfg.subscriptionRounds, "retrieval-queries": cfg.retrievalQueries, "recall-queries": cfg.recallQueries, "dashboard-runs": cfg.dashboardRuns,
		"scaleout-events": cfg.scaleoutEvents, "scaleout-subscribers": cfg.scaleoutSubscribers, "scaleout-worker-concurrency": cfg.scaleoutConcurrency,
	} {
		if v <= 0 {
			return cfg, fmt.Errorf("-%s must be positive, got %d", name, v)
		}
	}
	return cfg, nil
}

func parseNames(list string) ([]string, error) {
	var out []string
	for _, name := range splitList(list) {
		if !slices.ContainsFunc(scenarios, func(s scenario) bool { return s.name == name }) {
			return nil, fmt.Errorf("-only: unknown scenario %q", name)
		}
		out = append(out, name)
	}
	return out, nil
}

func parseInts(flagName, list string) ([]int, error) {
	var out []int
	for _, part := range splitList(list) {
		n, err := strconv.Atoi(part)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-%s: want positive integers, got %q", flagName, part)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-%s: empty list", flagName)
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit: a thousand
// websockets need more descriptors than the usual 1,024. Server processes
// inherit it.
func raiseFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("error reading RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= lim.Max {
		return nil
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("error raising RLIMIT_NOFILE: %w", err)
	}
	return nil
}
