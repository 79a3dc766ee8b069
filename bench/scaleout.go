package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/persistence"
)

// Scale-out scenario settings.
const (
	scaleoutDrainSchema = "scaleout_drain_%d"
	scaleoutSubsSchema  = "scaleout_subs_%d"
	// scaleoutHold puts the seeded events out of reach until the release,
	// so every worker process is up before the first claim.
	scaleoutHold = 24 * time.Hour
	// scaleoutPoll spaces the bench's scrapes of every worker's /metrics
	// while it waits for the drain. A scrape costs the worker and
	// PostgreSQL (the outbox depth and heal gauges read the database at
	// scrape time), once per process: every 25 ms that was 0.04 statements
	// per event per process, a cost that grew with the processes under
	// test. The rate comes from the database's timestamps, not the poll.
	scaleoutPoll = 250 * time.Millisecond
	// scaleoutTarget: more processes never drain slower than the fewest.
	scaleoutTarget = 1.0
	// scaleoutSaturated is the share of the cores above which a run counts
	// as CPU-bound.
	scaleoutSaturated = 0.9
	// scaleoutMarkChannel carries the bench's own marker notification,
	// which arrives after every notification committed before it.
	scaleoutMarkChannel = "memory_gateway_bench_mark"
	// Metric names read from the worker processes' /metrics.
	metricCompleted = "memory_gateway_worker_completed_events_total"
	metricClaimed   = "memory_gateway_worker_claimed_events_total"
	metricLost      = "memory_gateway_worker_lost_leases_total"
)

// scaleoutRelease makes the held events due and wakes the workers, in one
// transaction: the notification is delivered at commit.
const scaleoutRelease = `UPDATE outbox_events SET next_retry_at = now() - interval '1 second' WHERE status = 'pending'`

// instantOpenViking answers an OpenViking session commit at once, finished
// without a background task: the adapter turns it into one session-archive
// ref. It stands in for the drain scenario's in-process no-op backend when
// the worker is another process, and is no model of OpenViking: the real
// server answers a commit "accepted" with a task id and the archive's URI
// (openviking/session/session.py:2176-2188), or "skipped"
// (:1982-1991, :2032-2046), and the adapter then polls the task
// (GET /api/v1/tasks/{id}, openviking/server/routers/tasks.py:28-55) with a
// delay between polls — a scenario of that would time the poll delay, not
// the outbox. Interop with OpenViking's own answers is tested against
// backends/openviking/openvikingtest.
type instantOpenViking struct {
	*httptest.Server
	commits atomic.Int64
	other   atomic.Int64
}

func newInstantOpenViking() *instantOpenViking {
	f := &instantOpenViking{}
	mux := http.NewServeMux()
	done := []byte(`{"status":"ok","result":{"status":"completed","archived":true}}`)
	mux.HandleFunc("POST /api/v1/sessions/{id}/commit", func(w http.ResponseWriter, _ *http.Request) {
		f.commits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(done)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		f.other.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok","result":{}}`))
	})
	f.Server = httptest.NewServer(mux)
	return f
}

// notifyCounter counts the gateway's notifications, database-wide, from
// its own LISTEN connection.
type notifyCounter struct {
	ln     *pgdriver.Listener
	outbox atomic.Int64
	jobs   atomic.Int64
	// jobIDs counts the job ids the jobs notifications carried.
	jobIDs atomic.Int64
	marks  chan struct{}
	done   chan struct{}
}

// NotifyCounts is what a notifyCounter heard.
type NotifyCounts struct {
	Outbox int64 `json:"outbox"`
	Jobs   int64 `json:"jobs"`
	JobIDs int64 `json:"jobIds"`
	// Listeners is the number of gateway processes listening (each hears
	// every notification), the bench's own connection not counted.
	Listeners int `json:"listeners"`
}

func (e *env) countNotifications(ctx context.Context) (*notifyCounter, error) {
	c := &notifyCounter{ln: pgdriver.NewListener(e.db), marks: make(chan struct{}, 1), done: make(chan struct{})}
	if err := c.ln.Listen(ctx, persistence.OutboxChannel, persistence.JobsChannel, scaleoutMarkChannel); err != nil {
		_ = c.ln.Close()
		return nil, fmt.Errorf("error listening for notifications: %w", err)
	}
	go func() {
		defer close(c.done)
		for {
			channel, payload, err := c.ln.Receive(context.WithoutCancel(ctx))
			if err != nil {
				return
			}
			switch channel {
			case persistence.OutboxChannel:
				c.outbox.Add(1)
			case persistence.JobsChannel:
				c.jobs.Add(1)
				if payload != "" {
					c.jobIDs.Add(int64(strings.Count(payload, ",") + 1))
				}
			case scaleoutMarkChannel:
				select {
				case c.marks <- struct{}{}:
				default:
				}
			}
		}
	}()
	return c, nil
}

// stop sends a marker, waits for it (every earlier notification has then
// arrived) and closes the connection.
func (c *notifyCounter) stop(ctx context.Context, e *env, listeners int) (NotifyCounts, error) {
	defer func() {
		_ = c.ln.Close()
		<-c.done
	}()
	if _, err := e.db.ExecContext(ctx, "SELECT pg_notify(?, '')", scaleoutMarkChannel); err != nil {
		return NotifyCounts{}, fmt.Errorf("error sending the marker notification: %w", err)
	}
	select {
	case <-c.marks:
	case <-c.done:
		return NotifyCounts{}, errors.New("the notification connection closed before the marker arrived")
	case <-ctx.Done():
		return NotifyCounts{}, ctx.Err()
	case <-time.After(subscriptionWait):
		return NotifyCounts{}, fmt.Errorf("marker notification not received within %s", subscriptionWait)
	}
	return NotifyCounts{Outbox: c.outbox.Load(), Jobs: c.jobs.Load(), JobIDs: c.jobIDs.Load(), Listeners: listeners}, nil
}

// scaleDrain is one timed drain by several worker processes.
type scaleDrain struct {
	Processes      int     `json:"processes"`
	Events         int     `json:"events"`
	ElapsedSeconds float64 `json:"elapsedSeconds"`
	PerSecond      float64 `json:"perSecond"`
	// ObservedSeconds is the bench's clock from the release to the poll
	// that saw every event done.
	ObservedSeconds float64  `json:"observedSeconds"`
	CPU             CPUSplit `json:"cpuPerEvent"`
	// StatementsPerEvent is the workers' SQL statements (from /metrics)
	// per event.
	StatementsPerEvent float64 `json:"statementsPerEvent"`
	// EventsByProcess is how many events each worker process ran.
	EventsByProcess []int64      `json:"eventsByProcess"`
	LostLeases      float64      `json:"lostLeases"`
	BackendCommits  int64        `json:"backendCommits"`
	Notifications   NotifyCounts `json:"notifications"`
}

// scaleSubs is one subscription setup over several serve processes.
type scaleSubs struct {
	Processes     int             `json:"processes"`
	Measurement   *subMeasurement `json:"measurement"`
	Rounds        int             `json:"rounds"`
	Notifications NotifyCounts    `json:"notifications"`
}

func runScaleout(ctx context.Context, e *env) (*ScenarioResult, error) {
	procs := e.cfg.scaleoutProcesses
	res := &ScenarioResult{Title: fmt.Sprintf("%s worker processes draining one outbox, %s serve processes delivering to subscribers, on one PostgreSQL",
		joinInts(procs), joinInts(procs))}
	fake := newInstantOpenViking()
	defer fake.Close()
	var drains []scaleDrain
	for _, n := range procs {
		e.logf("scaleout: %d events drained by %d worker process(es)", e.cfg.scaleoutEvents, n)
		d, err := e.scaleoutDrain(ctx, n, fake)
		e.stopServers()
		if err != nil {
			res.Rows, res.Raw = scaleoutRows(drains, nil), map[string]any{"drain": drains}
			return res, fmt.Errorf("drain by %d worker process(es): %w", n, err)
		}
		drains = append(drains, d)
	}
	var subs []scaleSubs
	for _, n := range procs {
		e.logf("scaleout: %d subscribers over %d serve process(es)", e.cfg.scaleoutSubscribers, n)
		s, err := e.scaleoutSubscriptions(ctx, n)
		e.stopServers()
		if err != nil {
			res.Rows, res.Raw = scaleoutRows(drains, subs), map[string]any{"drain": drains, "subscriptions": subs}
			return res, fmt.Errorf("subscriptions over %d serve process(es): %w", n, err)
		}
		subs = append(subs, s)
	}
	res.Rows = scaleoutRows(drains, subs)
	res.Notes = scaleoutNotes(e, drains, subs, fake.other.Load())
	res.Raw = map[string]any{"drain": drains, "subscriptions": subs}
	return res, nil
}

// scaleoutDrain seeds the events held back, starts n worker processes,
// releases the events and times the drain until every event is done.
func (e *env) scaleoutDrain(ctx context.Context, n int, fake *instantOpenViking) (scaleDrain, error) {
	events := e.cfg.scaleoutEvents
	out := scaleDrain{Processes: n, Events: events}
	url, err := e.freshSchema(ctx, fmt.Sprintf(scaleoutDrainSchema, n))
	if err != nil {
		return out, err
	}
	db, err := persistence.Open(ctx, url)
	if err != nil {
		return out, err
	}
	defer func() { _ = db.Close() }()
	if err := db.Migrate(ctx, slog.New(slog.DiscardHandler)); err != nil {
		return out, err
	}
	if err := seedOutbox(ctx, db, events, backendtype.BackendOpenViking, time.Now().UTC().Add(scaleoutHold)); err != nil {
		return out, err
	}
	if err := e.checkpoint(ctx); err != nil {
		return out, err
	}
	settings := map[string]string{
		"OPENVIKING_URL": fake.URL, "LOCAL_BACKEND": "false",
		"WORKER_CONCURRENCY": strconv.Itoa(e.cfg.scaleoutConcurrency),
	}
	workers := make([]*gatewayServer, n)
	pids := make([]int, n)
	for i := range workers {
		if workers[i], err = e.startWorker(ctx, fmt.Sprintf("scaleout-worker-%d-of-%d", i+1, n), url, settings); err != nil {
			return out, err
		}
		pids[i] = workers[i].pid()
	}
	statementsBefore, err := sumMetrics(ctx, workers, metricQueries)
	if err != nil {
		return out, err
	}
	counter, err := e.countNotifications(ctx)
	if err != nil {
		return out, err
	}
	commitsBefore := fake.commits.Load()
	before, err := takeSnapshot(pids)
	if err != nil {
		return out, err
	}
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, scaleoutRelease); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "SELECT pg_notify(?, '')", persistence.OutboxChannel)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("error releasing the events: %w", err)
	}
	released := time.Now()
	if err := waitDrained(ctx, db, workers, events); err != nil {
		return out, err
	}
	after, err := takeSnapshot(pids)
	if err != nil {
		return out, err
	}
	out.ObservedSeconds = time.Since(released).Seconds()
	out.CPU = splitCPU(before, after, events)
	if out.Notifications, err = counter.stop(ctx, e, n); err != nil {
		return out, err
	}
	out.BackendCommits = fake.commits.Load() - commitsBefore
	statementsAfter, err := sumMetrics(ctx, workers, metricQueries)
	if err != nil {
		return out, err
	}
	out.StatementsPerEvent = (statementsAfter - statementsBefore) / float64(events)
	if out.LostLeases, err = sumMetrics(ctx, workers, metricLost); err != nil {
		return out, err
	}
	if err := verifyDrain(ctx, db, &out); err != nil {
		return out, err
	}
	return out, nil
}

// sumMetrics adds a metric over processes.
func sumMetrics(ctx context.Context, servers []*gatewayServer, name string) (float64, error) {
	var total float64
	for _, s := range servers {
		values, ok, err := s.metrics(ctx)
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, fmt.Errorf("%s serves no /metrics", s.name)
		}
		total += values[name]
	}
	return total, nil
}

// waitDrained polls the workers' completion counters until they account
// for every event, then the database until every event succeeded.
func waitDrained(ctx context.Context, db *persistence.DB, workers []*gatewayServer, events int) error {
	ctx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	tick := time.NewTicker(scaleoutPoll)
	defer tick.Stop()
	for {
		done, err := sumMetrics(ctx, workers, metricCompleted)
		if err != nil {
			return err
		}
		if done >= float64(events) {
			var succeeded int
			if err := db.NewRaw("SELECT count(*) FROM outbox_events WHERE status = 'success'").Scan(ctx, &succeeded); err != nil {
				return fmt.Errorf("error counting drained events: %w", err)
			}
			if succeeded == events {
				return nil
			}
		}
		for _, w := range workers {
			select {
			case <-w.exited:
				return fmt.Errorf("worker %s exited during the drain (%v); log tail:\n%s", w.name, w.waitErr, w.logTail())
			default:
			}
		}
		select {
		case <-ctx.Done():
			claimed, _ := sumMetrics(context.WithoutCancel(ctx), workers, metricClaimed)
			return fmt.Errorf("drain not finished (%.0f claimed, %.0f completed of %d): %w", claimed, done, events, ctx.Err())
		case <-tick.C:
		}
	}
}

// verifyDrain checks that every event ran exactly once — one claim, one
// attempt, one ref per job, one backend call — and reads the drain's span
// from the database: first attempt started to last event completed.
func verifyDrain(ctx context.Context, db *persistence.DB, d *scaleDrain) error {
	var ev struct {
		Total     int       `bun:"total"`
		Succeeded int       `bun:"succeeded"`
		Reclaimed int       `bun:"reclaimed"`
		Last      time.Time `bun:"last"`
	}
	err := db.NewRaw(`SELECT count(*) AS total, count(*) FILTER (WHERE status = 'success') AS succeeded,
	count(*) FILTER (WHERE claim_count <> 1) AS reclaimed, max(completed_at) AS last FROM outbox_events`).Scan(ctx, &ev)
	if err != nil {
		return fmt.Errorf("error verifying the events: %w", err)
	}
	var at struct {
		Total    int       `bun:"total"`
		Distinct int       `bun:"distinct_events"`
		First    time.Time `bun:"first"`
	}
	err = db.NewRaw(`SELECT count(*) AS total, count(DISTINCT event_id) AS distinct_events, min(started_at) AS first FROM outbox_attempts`).Scan(ctx, &at)
	if err != nil {
		return fmt.Errorf("error verifying the attempts: %w", err)
	}
	var refs struct {
		Total    int `bun:"total"`
		Distinct int `bun:"distinct_jobs"`
	}
	err = db.NewRaw(`SELECT count(*) AS total, count(DISTINCT job_id) AS distinct_jobs FROM memory_refs`).Scan(ctx, &refs)
	if err != nil {
		return fmt.Errorf("error verifying the refs: %w", err)
	}
	var byWorker []int64
	err = db.NewRaw(`SELECT count(*) FROM outbox_attempts GROUP BY worker_id ORDER BY count(*) DESC`).Scan(ctx, &byWorker)
	if err != nil {
		return fmt.Errorf("error counting attempts by worker: %w", err)
	}
	n := d.Events
	var problems []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	check(ev.Total == n && ev.Succeeded == n, "%d of %d events succeeded (%d rows)", ev.Succeeded, n, ev.Total)
	check(ev.Reclaimed == 0, "%d events claimed more than once", ev.Reclaimed)
	check(at.Total == n && at.Distinct == n, "%d attempts of %d distinct events, expected %d of each", at.Total, at.Distinct, n)
	check(refs.Total == n && refs.Distinct == n, "%d refs of %d distinct jobs, expected %d of each", refs.Total, refs.Distinct, n)
	check(d.BackendCommits == int64(n), "the backend was called %d times for %d events", d.BackendCommits, n)
	if len(problems) > 0 {
		return fmt.Errorf("drain not exactly once: %s", strings.Join(problems, "; "))
	}
	d.EventsByProcess = byWorker
	elapsed := ev.Last.Sub(at.First)
	if elapsed <= 0 {
		return fmt.Errorf("drain span %s (first attempt %s, last completion %s)", elapsed, at.First, ev.Last)
	}
	d.ElapsedSeconds = elapsed.Seconds()
	d.PerSecond = float64(n) / elapsed.Seconds()
	return nil
}

// scaleoutSubscriptions spreads the subscribers over n serve processes:
// the first runs the worker and takes the commits, the others serve with
// WORKER=false and hear job changes through LISTEN/NOTIFY.
func (e *env) scaleoutSubscriptions(ctx context.Context, n int) (scaleSubs, error) {
	out := scaleSubs{Processes: n, Rounds: e.cfg.subscriptionRounds}
	url, err := e.freshSchema(ctx, fmt.Sprintf(scaleoutSubsSchema, n))
	if err != nil {
		return out, err
	}
	servers := make([]*gatewayServer, n)
	for i := range servers {
		var settings map[string]string
		if i > 0 {
			settings = map[string]string{"WORKER": "false"}
		}
		if servers[i], err = e.startServer(ctx, fmt.Sprintf("scaleout-serve-%d-of-%d", i+1, n), url, settings); err != nil {
			return out, err
		}
	}
	s := &subSetup{
		label: processes(n, "serve"), workspace: fmt.Sprintf("scale%d", n),
		commitClient: newGQLClient(servers[0].base), subServers: servers, rounds: e.cfg.subscriptionRounds,
	}
	for i := range e.cfg.subscriptionSessions {
		s.sessions = append(s.sessions, fmt.Sprintf("s%d", i))
	}
	m := &subMeasurement{Label: s.label, Subscribers: e.cfg.scaleoutSubscribers}
	counter, err := e.countNotifications(ctx)
	if err != nil {
		return out, err
	}
	samples, err := e.subscriberRun(ctx, s, e.cfg.scaleoutSubscribers, s.rounds, m)
	if err != nil {
		_, _ = counter.stop(ctx, e, n)
		return out, err
	}
	m.Many = summarize(samples)
	out.Measurement = m
	if out.Notifications, err = counter.stop(ctx, e, n); err != nil {
		return out, err
	}
	return out, nil
}

func processes(n int, kind string) string {
	if n == 1 {
		return "1 " + kind + " process"
	}
	return fmt.Sprintf("%d %s processes", n, kind)
}

func joinInts(v []int) string {
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ", ")
}

func scaleoutRows(drains []scaleDrain, subs []scaleSubs) []Row {
	var rows []Row
	if len(drains) > 0 {
		base := drains[0]
		baseName := processes(base.Processes, "worker")
		for i, d := range drains {
			label := processes(d.Processes, "worker")
			rate := figure(label+": events/s drained", unitPerSecond, d.PerSecond, base.PerSecond, baseName)
			if i > 0 {
				rate = rate.ratioAtLeast(scaleoutTarget)
			}
			rows = append(rows, rate,
				figure(label+": Go CPU per event (all workers)", unitMicros, d.CPU.GatewayMicros, base.CPU.GatewayMicros, baseName),
				figure(label+": PostgreSQL CPU per event", unitMicros, d.CPU.PostgresMicros, base.CPU.PostgresMicros, baseName),
				figure(label+": cores busy", unitCount, d.CPU.CoresBusy, base.CPU.CoresBusy, baseName),
			)
		}
	}
	if len(subs) > 0 {
		base := subs[0].Measurement
		for _, s := range subs {
			m := s.Measurement
			rows = append(rows,
				figure(fmt.Sprintf("%s: p50 delivery, %d subscribers", m.Label, m.Subscribers), unitMs, m.Many.P50, base.Many.P50, base.Label),
				figure(fmt.Sprintf("%s: p99 delivery, %d subscribers", m.Label, m.Subscribers), unitMs, m.Many.P99, base.Many.P99, base.Label),
			)
		}
	}
	return rows
}

func scaleoutNotes(e *env, drains []scaleDrain, subs []scaleSubs, otherCalls int64) []string {
	cfg := e.cfg
	notes := []string{
		fmt.Sprintf("Drain: %d commit jobs with one pending OpenViking event each are seeded held back (due in %s); the worker processes (`memory-gateway worker`, WORKER_CONCURRENCY %d, LOCAL_BACKEND=false) start, then one transaction makes every event due and NOTIFYs the outbox channel. The backend is a fake OpenViking in the bench process that finishes each commit at once (one HTTP call, one session-archive ref per event; the real server answers with a task to poll instead): the drain's no-op backend, across a process boundary. Rate: events ÷ (last completed_at − first attempt's started_at), from the database; CPU: /proc of each worker, of every postgres process (the whole server: other databases' work counts too), of the bench (the fake and the polling) and of the machine, from the release until a poll of the workers' /metrics (every %s) and the database saw every event done.",
			cfg.scaleoutEvents, scaleoutHold, cfg.scaleoutConcurrency, scaleoutPoll),
		"Exactly once, checked after each drain: every event succeeded with claim_count 1, one outbox_attempts row per event, one memory ref per job, one backend call per event; any miss fails the scenario.",
	}
	if otherCalls > 0 {
		notes = append(notes, fmt.Sprintf("The workers also made %d calls to the fake other than commits (health, probes).", otherCalls))
	}
	for _, d := range drains {
		c := d.CPU
		notes = append(notes, fmt.Sprintf("%s: %s events/s over %.2f s (%.2f s on the bench's clock); per event: workers %.1f µs (by process: %s), PostgreSQL %.1f µs, bench %.1f µs, the rest %.1f µs; cores busy %.2f (PostgreSQL %.2f, workers %s); %.2f SQL statements per event; events by process %s; %s; lost leases %.0f.",
			processes(d.Processes, "worker"), thousands(d.PerSecond), d.ElapsedSeconds, d.ObservedSeconds,
			c.GatewayMicros, joinFloats(c.ProcessMicros, "%.1f"), c.PostgresMicros, c.BenchMicros, c.RestMicros,
			c.CoresBusy, c.PostgresCores, joinFloats(c.ProcessCores, "%.2f"), d.StatementsPerEvent, joinInt64s(d.EventsByProcess),
			notifyNote(d.Notifications, d.Events, "event"), d.LostLeases))
	}
	notes = append(notes, drainLimitNotes(e, drains)...)
	if len(subs) > 0 {
		notes = append(notes, fmt.Sprintf("Subscriptions: %d subscribers over %d sessions, spread evenly over the serve processes (each session has subscribers on each process); the first process runs the worker and takes every commit, the others serve with WORKER=false and hear job changes through LISTEN/NOTIFY; the local backend commits. A warm-up round, then %d measured rounds; samples as in the subscriptions scenario (receipt − the state's updatedAt).",
			cfg.scaleoutSubscribers, cfg.subscriptionSessions, cfg.subscriptionRounds))
	}
	for _, s := range subs {
		m, c := s.Measurement, s.Measurement.Split
		notes = append(notes, fmt.Sprintf("%s: %d samples; per delivery: serve processes %.1f µs (by process, the first with the worker: %s), PostgreSQL %.1f µs, bench %.1f µs; cores busy %.2f; %s.",
			m.Label, m.Many.N, c.GatewayMicros, joinFloats(c.ProcessMicros, "%.1f"), c.PostgresMicros, c.BenchMicros, c.CoresBusy,
			notifyNote(s.Notifications, s.Rounds+1, "round (warm-up included)")))
	}
	notes = append(notes, subsLimitNotes(subs)...)
	return notes
}

func notifyNote(c NotifyCounts, per int, unit string) string {
	return fmt.Sprintf("NOTIFY: %d on the jobs channel (%.3f per %s, %.1f job ids each), %d on the outbox channel, each heard by %d gateway listener(s)",
		c.Jobs, float64(c.Jobs)/float64(max(per, 1)), unit, float64(c.JobIDs)/float64(max(c.Jobs, 1)), c.Outbox, c.Listeners)
}

// drainLimitNotes say, from the figures, what bounds the drain.
func drainLimitNotes(e *env, drains []scaleDrain) []string {
	if len(drains) == 0 {
		return nil
	}
	base, last := drains[0], drains[len(drains)-1]
	c := last.CPU
	cores := float64(max(e.machine.Cores, 1))
	var notes []string
	if c.MachineMicros > 0 {
		share := func(v float64) float64 { return 100 * v / c.MachineMicros }
		state := fmt.Sprintf("%.2f of %d cores busy: not CPU-bound; the drain waits on something else (round trips, locks, the poll)", c.CoresBusy, e.machine.Cores)
		if c.CoresBusy >= scaleoutSaturated*cores {
			state = fmt.Sprintf("%.2f of %d cores busy: CPU-bound on this machine", c.CoresBusy, e.machine.Cores)
		}
		notes = append(notes, fmt.Sprintf("Where the limit is (%s): %s; the busy time goes %.0f %% to PostgreSQL, %.0f %% to the workers, %.0f %% to the bench (fake backend, polling), %.0f %% to the rest (kernel, other processes on the machine).",
			processes(last.Processes, "worker"), state, share(c.PostgresMicros), share(c.GatewayMicros), share(c.BenchMicros), share(c.RestMicros)))
	}
	if c.PostgresMicros > 0 && c.GatewayMicros > 0 {
		notes = append(notes, fmt.Sprintf("At these costs one core of PostgreSQL drains at most %s events/s (%.1f µs each) and one core of worker %s events/s (%.1f µs each): %s.",
			thousands(1e6/c.PostgresMicros), c.PostgresMicros, thousands(1e6/c.GatewayMicros), c.GatewayMicros,
			nextLimit(c)))
	}
	if len(drains) > 1 && base.CPU.PostgresMicros > 0 && base.CPU.GatewayMicros > 0 {
		notes = append(notes, fmt.Sprintf("From %s to %s: events/s ×%.2f, worker CPU per event ×%.2f, PostgreSQL CPU per event ×%.2f, SQL statements per event %.2f → %.2f, jobs notifications per event %.3f → %.3f (each reaching %d → %d listeners).",
			processes(base.Processes, "worker"), processes(last.Processes, "worker"), last.PerSecond/base.PerSecond,
			c.GatewayMicros/base.CPU.GatewayMicros, c.PostgresMicros/base.CPU.PostgresMicros, base.StatementsPerEvent, last.StatementsPerEvent,
			float64(base.Notifications.Jobs)/float64(base.Events), float64(last.Notifications.Jobs)/float64(last.Events),
			base.Notifications.Listeners, last.Notifications.Listeners))
	}
	return notes
}

// nextLimit names the larger cost per event: with enough cores, the other
// side is never the bound.
func nextLimit(c CPUSplit) string {
	if c.PostgresMicros >= c.GatewayMicros {
		return fmt.Sprintf("PostgreSQL costs %.1f× the workers per event, so once the workers have the cores they need, one PostgreSQL is the next limit; more worker processes only spread the smaller share", c.PostgresMicros/c.GatewayMicros)
	}
	return fmt.Sprintf("the workers cost %.1f× PostgreSQL per event, so worker cores are the next limit and more worker processes (on more cores) still pay", c.GatewayMicros/c.PostgresMicros)
}

// subsLimitNotes compare the serve processes' and PostgreSQL's CPU per
// delivery across process counts.
func subsLimitNotes(subs []scaleSubs) []string {
	if len(subs) < 2 {
		return nil
	}
	base, last := subs[0].Measurement, subs[len(subs)-1].Measurement
	if base.Split.GatewayMicros <= 0 || len(last.Split.ProcessMicros) == 0 {
		return nil
	}
	busiest := slices.Max(last.Split.ProcessMicros)
	return []string{fmt.Sprintf("Delivery from %s to %s: p99 ×%.2f; CPU per delivery of all serve processes ×%.2f (%.1f → %.1f µs), of the busiest process %.1f → %.1f µs, of PostgreSQL %.1f → %.1f µs.",
		base.Label, last.Label, last.Many.P99/base.Many.P99, last.Split.GatewayMicros/base.Split.GatewayMicros,
		base.Split.GatewayMicros, last.Split.GatewayMicros, slices.Max(base.Split.ProcessMicros), busiest,
		base.Split.PostgresMicros, last.Split.PostgresMicros)}
}

func joinFloats(v []float64, format string) string {
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = fmt.Sprintf(format, f)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func joinInt64s(v []int64) string {
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = strconv.FormatInt(n, 10)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
