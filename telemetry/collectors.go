package telemetry

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// DepthTimeout bounds the outbox depth query of one scrape.
const DepthTimeout = 2 * time.Second

// DatabaseGaugeMaxAge is how long a gauge read from the database answers
// scrapes before it is read again. Every process answers every scraper, and
// counting a backlog is work for the database that grows with it (20,000
// pending events: 20–40 ms a read); a few seconds are nothing to a scrape
// interval of 15 s or more.
const DatabaseGaugeMaxAge = 5 * time.Second

// DepthReader counts the outbox events still owed work per backend.
type DepthReader interface {
	OutboxDepth(ctx context.Context) (map[backendtype.Backend]gateway.OutboxSummary, error)
}

// ObserveDatabase exports the connection pool's statistics and, when
// statements is not nil, the number of SQL statements run so far.
func (t *Telemetry) ObserveDatabase(db *sql.DB, name string, statements func() int64) {
	t.registry.MustRegister(collectors.NewDBStatsCollector(db, name))
	if statements != nil {
		t.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "db", Name: "queries_total",
			Help: "SQL statements this process has run.",
		}, func() float64 { return float64(statements()) }))
	}
}

// ObserveSubscriptions exports the number of live subscriptions.
func (t *Telemetry) ObserveSubscriptions(live func() int) {
	t.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "subscriptions", Name: "active",
		Help: "Live job subscriptions on this process.",
	}, func() float64 { return float64(live()) }))
}

// ObserveOutbox exports the outbox depth, read from the database at scrape
// time so that every process reports the same, current figure.
// A failed read is logged to env's logger.
func (t *Telemetry) ObserveOutbox(depth DepthReader, backends []backendtype.Backend, env lifecycle.Env) {
	t.registry.MustRegister(&backendGauge{
		what: "outbox depth", backends: backends, logger: env.Logger(), now: env.Clock(),
		states: []string{string(gateway.OutboxPending), string(gateway.OutboxProcessing), string(gateway.OutboxDeadLetter)},
		desc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "outbox", "events"),
			"Outbox events still owed work or attention (pending, processing, dead_letter), by backend and status.",
			[]string{"backend", "status"}, nil),
		read: func(ctx context.Context) (map[backendtype.Backend]map[string]int, error) {
			depth, err := depth.OutboxDepth(ctx)
			out := make(map[backendtype.Backend]map[string]int, len(depth))
			for b, sum := range depth {
				out[b] = map[string]int{
					string(gateway.OutboxPending):    sum.PendingEvents,
					string(gateway.OutboxProcessing): sum.ProcessingEvents,
					string(gateway.OutboxDeadLetter): sum.DeadLetterEvents,
				}
			}
			return out, err
		},
	})
}

// HealReader counts FAILED refs per backend by the state of their heal.
type HealReader interface {
	IngestHealCounts(ctx context.Context, f gateway.RefFilter) (map[backendtype.Backend]gateway.IngestHealCount, error)
}

// Heal states of a FAILED ref, as memory_gateway_ingest_writes_failed
// labels them.
const (
	healHealing    = "healing"
	healDeadLetter = "dead_letter"
	healUnhealable = "unhealable"
)

// ObserveIngestHeals exports the FAILED refs per backend by what their heal
// is doing (healing: an event will write them again; dead_letter: it gave
// up, a re-drive tries again; unhealable: nothing can), read from the
// database at scrape time.
func (t *Telemetry) ObserveIngestHeals(heals HealReader, backends []backendtype.Backend, env lifecycle.Env) {
	t.registry.MustRegister(&backendGauge{
		what: "failed ingest writes", backends: backends, logger: env.Logger(), now: env.Clock(),
		states: []string{healHealing, healDeadLetter, healUnhealable},
		desc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "ingest_writes", "failed"),
			"FAILED ingest refs by backend and heal (healing, dead_letter, unhealable).",
			[]string{"backend", "heal"}, nil),
		read: func(ctx context.Context) (map[backendtype.Backend]map[string]int, error) {
			counts, err := heals.IngestHealCounts(ctx, gateway.RefFilter{})
			out := make(map[backendtype.Backend]map[string]int, len(counts))
			for b, h := range counts {
				out[b] = map[string]int{healHealing: h.Healing, healDeadLetter: h.DeadLettered, healUnhealable: h.Unhealable}
			}
			return out, err
		},
	})
}

// backendGauge exports, at scrape time, a gauge per backend and state read
// from the database, read again once the last read is DatabaseGaugeMaxAge
// old. Every configured backend has a series for every state, zero when it
// has none, so dashboards and alerts see 0 rather than no data.
type backendGauge struct {
	read     func(context.Context) (map[backendtype.Backend]map[string]int, error)
	what     string // what read reads, for the log line of a failed read
	states   []string
	backends []backendtype.Backend
	logger   *slog.Logger
	now      func() time.Time
	desc     *prometheus.Desc

	// mu also makes scrapes that arrive together share one read.
	mu     sync.Mutex
	readAt time.Time
	last   map[backendtype.Backend]map[string]int
}

func (c *backendGauge) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *backendGauge) Collect(ch chan<- prometheus.Metric) {
	byBackend, err := c.current()
	if err != nil {
		c.logger.Warn("telemetry: "+c.what+" unavailable", slog.String("err", err.Error()))
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for backend, counts := range byBackend {
		for _, state := range c.states {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[state]), string(backend), state)
		}
	}
}

// current returns the counts of the last read while it is fresh, or reads
// them again; a failed read is not kept.
func (c *backendGauge) current() (map[backendtype.Backend]map[string]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.last != nil && now.Sub(c.readAt) < DatabaseGaugeMaxAge {
		return c.last, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), DepthTimeout)
	defer cancel()
	byBackend, err := c.read(ctx)
	if err != nil {
		c.last = nil
		return nil, err
	}
	for _, b := range c.backends {
		if _, ok := byBackend[b]; !ok {
			byBackend[b] = nil
		}
	}
	c.last, c.readAt = byBackend, now
	return byBackend, nil
}
