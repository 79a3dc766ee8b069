package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// Subscriptions scenario settings.
const (
	subsSingleSchema = "subs_single"
	subsMultiSchema  = "subs_multi"
	subsNamespace    = "bench/subs"
	subsUser         = "u1"
	subsDialLimit    = 32
	// subsSingleRounds multiplies the rounds of the one-subscriber baseline,
	// which gets three samples a round: with the default 20 rounds, 300
	// samples, so that its p99 is a percentile (the third slowest) rather
	// than the slowest of a few dozen.
	subsSingleRounds = 5
	subsRoundTimeout = 60 * time.Second
	subsFailureCheck = 100 * time.Millisecond
	// subsUnobservedWait replaces the registration check when /metrics has
	// no subscription gauge.
	subsUnobservedWait  = 3 * time.Second
	subsSettle          = time.Second
	subsMemorySamples   = 3
	subsMemoryInterval  = 250 * time.Millisecond
	subsProfileDuration = 5 * time.Second
	// The targets: p99 delivery with many subscribers ÷ one subscriber's,
	// one process and two; heap in use per subscriber.
	subsTargetSingleRatio   = 2.0
	subsTargetMultiRatio    = 2.5
	subsTargetHeapPerSubKiB = 25
	jobsUpdatedField        = "commitJobsUpdated"
	jobsUpdatedQuery        = `subscription($ws: ID!, $session: ID) { commitJobsUpdated(workspaceId: $ws, sessionId: $session) { id status sessionId updatedAt } }`
)

// subRound is one round of commits and the deliveries it caused.
type subRound struct {
	index     int
	expected  map[string]string // session → job id of this round
	remaining atomic.Int64
	done      chan struct{}

	mu      sync.Mutex
	samples []time.Duration
}

func (r *subRound) record(d time.Duration) {
	r.mu.Lock()
	r.samples = append(r.samples, d)
	r.mu.Unlock()
}

// wait blocks until every subscriber has the round's terminal state, a
// reader fails, or the round times out.
func (r *subRound) wait(ctx context.Context, f *fanout, subscribers int) error {
	timeout := time.NewTimer(subsRoundTimeout)
	defer timeout.Stop()
	tick := time.NewTicker(subsFailureCheck)
	defer tick.Stop()
	for {
		select {
		case <-r.done:
			return f.failure()
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := f.failure(); err != nil {
				return err
			}
		case <-timeout.C:
			return fmt.Errorf("round %d: %d of %d subscribers never saw the terminal state", r.index, r.remaining.Load(), subscribers)
		}
	}
}

// fanout is what the subscribers' readers share: the current round and the
// first error.
type fanout struct {
	mu    sync.Mutex
	round *subRound
	err   error
}

func (f *fanout) current() *subRound {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.round
}

func (f *fanout) setRound(r *subRound) {
	f.mu.Lock()
	f.round = r
	f.mu.Unlock()
}

func (f *fanout) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *fanout) failure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// subscriber is one websocket with one subscription.
type subscriber struct {
	conn    *wsConn
	session string
	// server indexes the subSetup's subServers.
	server int
}

// listen reads deliveries until ctx ends: every state of the current
// round's job of its session is a sample; its terminal state finishes the
// subscriber's part of the round.
func (s *subscriber) listen(ctx context.Context, f *fanout) {
	lastDone := -1
	for {
		job, received, err := s.conn.nextJob(ctx)
		if err != nil {
			if ctx.Err() == nil {
				f.fail(err)
			}
			return
		}
		r := f.current()
		if r == nil || r.expected[s.session] != job.ID {
			continue
		}
		r.record(received.Sub(job.UpdatedAt))
		if terminal(job.Status) && lastDone != r.index {
			lastDone = r.index
			if r.remaining.Add(-1) == 0 {
				close(r.done)
			}
		}
	}
}

// subSetup is one arrangement of servers: commits go through
// commitClient, subscribers connect to the subServers in turn.
type subSetup struct {
	label        string
	workspace    string
	commitClient *gqlClient
	subServers   []*gatewayServer
	// memory: read the (first) serving process's memory on the way.
	memory   bool
	sessions []string
	rounds   int
	// commits counts commits so far, for unique idempotency keys.
	commits int
}

// subMeasurement is what one setup measured.
type subMeasurement struct {
	Label             string    `json:"label"`
	Subscribers       int       `json:"subscribers"`
	Single            Latency   `json:"singleSubscriber"`
	Many              Latency   `json:"manySubscribers"`
	MemoryBefore      memSample `json:"memoryBefore"`
	MemoryConnected   memSample `json:"memoryConnected"`
	MemorySubscribed  memSample `json:"memorySubscribed"`
	HeapPerSubscriber *float64  `json:"heapPerSubscriberBytes"`
	HeapPerConnection *float64  `json:"heapPerConnectionBytes"`
	RSSPerSubscriber  float64   `json:"rssPerSubscriberBytes"`
	RSSPerConnection  float64   `json:"rssPerConnectionBytes"`
	// CPU splits the machine's CPU time per delivery over the measured
	// rounds with many subscribers (server = the first subscribers'
	// process).
	CPU CPUPerOp `json:"cpuPerDelivery"`
	// Split is the same by process: every serving process, PostgreSQL, the
	// bench.
	Split CPUSplit `json:"cpuSplitPerDelivery"`
	// RegistrationObserved is false when /metrics could not confirm that
	// every subscription was live before the warm-up round.
	RegistrationObserved bool   `json:"registrationObserved"`
	Profile              string `json:"cpuProfile,omitempty"`
}

func runSubscriptions(ctx context.Context, e *env) (*ScenarioResult, error) {
	res := &ScenarioResult{Title: fmt.Sprintf("%d websocket subscribers: delivery latency (receipt − job updatedAt) and memory", e.cfg.subscribers)}
	single, err := e.subscriptionsOneProcess(ctx)
	if err != nil {
		return res, err
	}
	e.stopServers()
	multi, err := e.subscriptionsTwoProcesses(ctx)
	if err != nil {
		res.Rows = subscriptionRows(single, nil)
		return res, err
	}
	res.Rows = subscriptionRows(single, multi)
	res.Notes = subscriptionNotes(e.cfg, single, multi)
	res.Raw = map[string]any{"oneProcess": single, "twoProcesses": multi}
	return res, nil
}

func (e *env) subscriptionsOneProcess(ctx context.Context) (*subMeasurement, error) {
	url, err := e.freshSchema(ctx, subsSingleSchema)
	if err != nil {
		return nil, err
	}
	srv, err := e.startServer(ctx, "subs-single", url, nil)
	if err != nil {
		return nil, err
	}
	setup := &subSetup{label: "1 process", workspace: "subs1", commitClient: newGQLClient(srv.base), subServers: []*gatewayServer{srv}, memory: true}
	return e.measureSubscriptions(ctx, setup)
}

func (e *env) subscriptionsTwoProcesses(ctx context.Context) (*subMeasurement, error) {
	url, err := e.freshSchema(ctx, subsMultiSchema)
	if err != nil {
		return nil, err
	}
	worker, err := e.startServer(ctx, "subs-worker", url, nil)
	if err != nil {
		return nil, err
	}
	hub, err := e.startServer(ctx, "subs-hub", url, map[string]string{"WORKER": "false"})
	if err != nil {
		return nil, err
	}
	setup := &subSetup{label: "2 processes", workspace: "subs2", commitClient: newGQLClient(worker.base), subServers: []*gatewayServer{hub}, memory: true}
	return e.measureSubscriptions(ctx, setup)
}

// measureSubscriptions times one subscriber, then opens the many, reading
// the serving process's memory before, after connecting and after
// subscribing.
func (e *env) measureSubscriptions(ctx context.Context, s *subSetup) (*subMeasurement, error) {
	for i := range e.cfg.subscriptionSessions {
		s.sessions = append(s.sessions, fmt.Sprintf("s%d", i))
	}
	s.rounds = e.cfg.subscriptionRounds
	m := &subMeasurement{Label: s.label, Subscribers: e.cfg.subscribers}
	e.logf("subscriptions (%s): one subscriber, %d rounds", s.label, subsSingleRounds*s.rounds)
	single, err := e.subscriberRun(ctx, s, 1, subsSingleRounds*s.rounds, nil)
	if err != nil {
		return nil, err
	}
	m.Single = summarize(single)
	e.logf("subscriptions (%s): %d subscribers, %d rounds", s.label, e.cfg.subscribers, s.rounds)
	many, err := e.subscriberRun(ctx, s, e.cfg.subscribers, s.rounds, m)
	if err != nil {
		return nil, err
	}
	m.Many = summarize(many)
	n := float64(e.cfg.subscribers)
	m.RSSPerConnection = (m.MemoryConnected.RSS - m.MemoryBefore.RSS) / n
	m.RSSPerSubscriber = (m.MemorySubscribed.RSS - m.MemoryBefore.RSS) / n
	if m.MemoryBefore.HeapInuse != nil && m.MemoryConnected.HeapInuse != nil && m.MemorySubscribed.HeapInuse != nil {
		m.HeapPerConnection = num((*m.MemoryConnected.HeapInuse - *m.MemoryBefore.HeapInuse) / n)
		m.HeapPerSubscriber = num((*m.MemorySubscribed.HeapInuse - *m.MemoryBefore.HeapInuse) / n)
	}
	return m, nil
}

// subscriberRun opens n subscribers spread across the sessions and the
// serving processes, waits until the servers hold every subscription, runs
// a warm-up round and the measured rounds, and returns the measured rounds'
// samples. With m set it also reads the serving processes' CPU (and with
// s.memory the first one's memory) on the way.
func (e *env) subscriberRun(ctx context.Context, s *subSetup, n, rounds int, m *subMeasurement) ([]time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Subscriptions of an earlier run end asynchronously: start from none.
	for _, srv := range s.subServers {
		if _, err := srv.waitSubscriptions(ctx, func(live float64) bool { return live == 0 }); err != nil {
			return nil, err
		}
	}
	memory := m != nil && s.memory
	if memory {
		var err error
		if m.MemoryBefore, err = e.memory(ctx, s.subServers[0]); err != nil {
			return nil, err
		}
	}
	subs, err := dialSubscribers(ctx, s, n)
	defer func() {
		for _, sub := range subs {
			sub.conn.close()
		}
	}()
	if err != nil {
		return nil, err
	}
	f := &fanout{}
	var readers sync.WaitGroup
	defer readers.Wait()
	defer cancel()
	for _, sub := range subs {
		readers.Go(func() { sub.listen(ctx, f) })
	}
	if memory {
		if m.MemoryConnected, err = e.memory(ctx, s.subServers[0]); err != nil {
			return nil, err
		}
	}
	if err := subscribeAll(ctx, s, subs, m); err != nil {
		return nil, err
	}
	if _, err := s.round(ctx, f, len(subs)); err != nil {
		return nil, fmt.Errorf("warm-up round: %w", err)
	}
	if memory {
		if m.MemorySubscribed, err = e.memory(ctx, s.subServers[0]); err != nil {
			return nil, err
		}
		if err := e.heapProfile(ctx, s.subServers[0], fmt.Sprintf("subscriptions-%d", n)); err != nil {
			return nil, err
		}
	}
	return e.measuredRounds(ctx, s, f, len(subs), rounds, m)
}

// subscribeAll subscribes every subscriber and waits until each server's
// hub holds its share (or, without a gauge to read, a fixed while).
func subscribeAll(ctx context.Context, s *subSetup, subs []*subscriber, m *subMeasurement) error {
	share := make([]int, len(s.subServers))
	for i, sub := range subs {
		vars := map[string]any{"ws": s.workspace, "session": sub.session}
		if err := sub.conn.subscribe(ctx, "jobs", jobsUpdatedQuery, vars); err != nil {
			return fmt.Errorf("error subscribing %d: %w", i, err)
		}
		share[sub.server]++
	}
	observed := true
	for i, srv := range s.subServers {
		seen, err := srv.waitSubscriptions(ctx, func(live float64) bool { return live >= float64(share[i]) })
		if err != nil {
			return err
		}
		observed = observed && seen
	}
	if m != nil {
		m.RegistrationObserved = observed
	}
	if !observed {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(subsUnobservedWait):
		}
	}
	return nil
}

// measuredRounds runs the rounds whose deliveries are samples.
func (e *env) measuredRounds(ctx context.Context, s *subSetup, f *fanout, subscribers, rounds int, m *subMeasurement) ([]time.Duration, error) {
	profile := func() string { return "" }
	if m != nil {
		profile = e.profileAsync(ctx, s.subServers[0], "subscriptions-"+strings.ReplaceAll(s.label, " ", "-"), subsProfileDuration)
	}
	pids := make([]int, len(s.subServers))
	for i, srv := range s.subServers {
		pids[i] = srv.pid()
	}
	before, err := readCPU(pids[0])
	if err != nil {
		return nil, err
	}
	snapBefore, err := takeSnapshot(pids)
	if err != nil {
		return nil, err
	}
	var samples []time.Duration
	for range rounds {
		got, err := s.round(ctx, f, subscribers)
		if err != nil {
			return nil, err
		}
		samples = append(samples, got...)
	}
	after, err := readCPU(pids[0])
	if err != nil {
		return nil, err
	}
	snapAfter, err := takeSnapshot(pids)
	if err != nil {
		return nil, err
	}
	if m != nil {
		m.CPU = cpuPerOp(before, after, len(samples), 0)
		m.Split = splitCPU(snapBefore, snapAfter, len(samples))
		m.Profile = profile()
	}
	return samples, nil
}

func dialSubscribers(ctx context.Context, s *subSetup, n int) ([]*subscriber, error) {
	subs := make([]*subscriber, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(subsDialLimit)
	for i := range subs {
		g.Go(func() error {
			// Every session has subscribers on every server.
			server := (i / len(s.sessions)) % len(s.subServers)
			conn, err := dialWS(gctx, s.subServers[server].base)
			if err != nil {
				return fmt.Errorf("subscriber %d: %w", i, err)
			}
			subs[i] = &subscriber{conn: conn, session: s.sessions[i%len(s.sessions)], server: server}
			return nil
		})
	}
	err := g.Wait()
	return slices.DeleteFunc(subs, func(s *subscriber) bool { return s == nil }), err
}

// round ingests a turn into every session, commits them all at once and
// waits until every subscriber has its session's terminal state.
func (s *subSetup) round(ctx context.Context, f *fanout, subscribers int) ([]time.Duration, error) {
	index := s.commits
	s.commits++
	key := fmt.Sprintf("round-%d", index)
	var turns []turnInput
	inputs := make([]commitInput, len(s.sessions))
	r := &subRound{index: index, expected: map[string]string{}, done: make(chan struct{})}
	r.remaining.Store(int64(subscribers))
	for i, session := range s.sessions {
		turns = append(turns, turnInput{
			WorkspaceID: s.workspace, UserID: subsUser, AgentID: benchAgent, SessionID: session,
			TurnID: key, Namespace: subsNamespace, Role: "USER",
			Content: fmt.Sprintf("Round %d of session %s: the meeting moved to Thursday at noon.", index, session),
		})
		inputs[i] = commitInput{WorkspaceID: s.workspace, UserID: subsUser, AgentID: benchAgent, SessionID: session, Namespace: subsNamespace, IdempotencyKey: key}
		r.expected[session] = gateway.CommitJobID(s.workspace, session, key, "")
	}
	if err := s.commitClient.seedTurns(ctx, turns); err != nil {
		return nil, err
	}
	f.setRound(r)
	ids, err := s.commitClient.commitAll(ctx, inputs)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if want := r.expected[s.sessions[i]]; id != want {
			return nil, fmt.Errorf("commit of %s returned job %s, expected %s", s.sessions[i], id, want)
		}
	}
	if err := r.wait(ctx, f, subscribers); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.samples), nil
}

// memSample is a process's memory at one moment.
type memSample struct {
	HeapInuse *float64 `json:"heapInuseBytes"`
	RSS       float64  `json:"rssBytes"`
	// Source is "metrics" (GET /metrics) or "proc" (/proc/<pid>/status VmRSS,
	// no heap figure).
	Source string `json:"source"`
}

// memory reads a server's memory: the median of a few samples after a
// short settle, each right after a garbage collection (the heap is then
// what is live, not what the collector has yet to reclaim).
func (e *env) memory(ctx context.Context, s *gatewayServer) (memSample, error) {
	select {
	case <-ctx.Done():
		return memSample{}, ctx.Err()
	case <-time.After(subsSettle):
	}
	var samples []memSample
	for i := range subsMemorySamples {
		if i > 0 {
			time.Sleep(subsMemoryInterval)
		}
		if err := s.collectGarbage(ctx); err != nil {
			return memSample{}, err
		}
		m, err := readMemory(ctx, s)
		if err != nil {
			return memSample{}, err
		}
		samples = append(samples, m)
	}
	slices.SortFunc(samples, func(a, b memSample) int {
		switch {
		case a.RSS < b.RSS:
			return -1
		case a.RSS > b.RSS:
			return 1
		}
		return 0
	})
	mid := samples[len(samples)/2]
	var heaps []float64
	for _, m := range samples {
		if m.HeapInuse != nil {
			heaps = append(heaps, *m.HeapInuse)
		}
	}
	if len(heaps) > 0 {
		slices.Sort(heaps)
		mid.HeapInuse = num(heaps[len(heaps)/2])
	}
	return mid, nil
}

func readMemory(ctx context.Context, s *gatewayServer) (memSample, error) {
	values, ok, err := s.metrics(ctx)
	if err != nil {
		return memSample{}, err
	}
	if ok {
		if rss, found := values[metricResident]; found {
			m := memSample{RSS: rss, Source: "metrics"}
			if heap, found := values[metricHeap]; found {
				m.HeapInuse = num(heap)
			}
			return m, nil
		}
	}
	rss, err := residentBytes(s.pid())
	if err != nil {
		return memSample{}, errors.Join(errors.New("no process_resident_memory_bytes in /metrics"), err)
	}
	return memSample{RSS: rss, Source: "proc"}, nil
}

func subscriptionRows(single, multi *subMeasurement) []Row {
	var rows []Row
	for _, m := range []*subMeasurement{single, multi} {
		if m == nil {
			continue
		}
		target := subsTargetSingleRatio
		if m == multi {
			target = subsTargetMultiRatio
		}
		rows = append(rows,
			figure(fmt.Sprintf("%s: p50 delivery, %d subscribers", m.Label, m.Subscribers), unitMs, m.Many.P50, m.Single.P50, "1 subscriber"),
			figure(fmt.Sprintf("%s: p99 delivery, %d subscribers", m.Label, m.Subscribers), unitMs, m.Many.P99, m.Single.P99, "1 subscriber").ratioAtMost(target),
			figure(m.Label+": heap in use per subscriber", unitBytes, deref(m.HeapPerSubscriber), deref(m.HeapPerConnection), "per bare connection").below(subsTargetHeapPerSubKiB*1024),
			figure(m.Label+": RSS per subscriber", unitBytes, m.RSSPerSubscriber, m.RSSPerConnection, "per bare connection"),
		)
	}
	return rows
}

func deref(v *float64) float64 {
	if v == nil {
		return nan()
	}
	return *v
}

func subscriptionNotes(cfg config, single, multi *subMeasurement) []string {
	notes := []string{
		fmt.Sprintf("Each subscriber is its own graphql-transport-ws connection with commitJobsUpdated(workspaceId, sessionId), spread over %d sessions; a round ingests one turn per session and commits all sessions at once; every delivered state (ACCEPTED, RUNNING, terminal) of the round's jobs is a sample: receipt time in the bench minus the state's updatedAt (same clock). A warm-up round precedes the %d measured rounds.", cfg.subscriptionSessions, cfg.subscriptionRounds),
		"2 processes: server A runs the worker and takes the commits; server B (WORKER=false) holds every subscriber and hears job changes through LISTEN/NOTIFY.",
		"Memory: the serving process before any connection, after connecting (connection_init/ack) and after subscribing plus the warm-up round, divided by the number of subscribers; baseline = the same per bare connection. Heap in use is read right after a garbage collection the bench asks for (GET /debug/pprof/heap?gc=1), so it is what is live.",
	}
	for _, m := range []*subMeasurement{single, multi} {
		if m == nil {
			continue
		}
		registered := "every subscription confirmed live (memory_gateway_subscriptions_active) before the warm-up round"
		if !m.RegistrationObserved {
			registered = fmt.Sprintf("registration not observable (no subscription gauge in /metrics): waited %s", subsUnobservedWait)
		}
		notes = append(notes, fmt.Sprintf("%s: %d samples with %d subscribers (%d with one, over %d× the rounds); %s; memory read from %s; CPU per delivery %s.",
			m.Label, m.Many.N, m.Subscribers, m.Single.N, subsSingleRounds, registered, m.MemoryBefore.Source, m.CPU))
		if m.Profile != "" {
			notes = append(notes, fmt.Sprintf("%s: CPU profile of the subscribers' server: %s", m.Label, m.Profile))
		}
	}
	return notes
}
