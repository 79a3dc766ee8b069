package telemetry

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/lifecycle"
)

// DepthTimeout bounds the outbox depth query of one scrape.
const DepthTimeout = 2 * time.Second

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
// time so that every process reports the same, current figure. Every
// configured backend has a series for every status, zero when it owes
// nothing, so dashboards and alerts see 0 rather than no data.
// A failed read is logged to env's logger.
func (t *Telemetry) ObserveOutbox(depth DepthReader, backends []backendtype.Backend, env lifecycle.Env) {
	t.registry.MustRegister(&outboxCollector{depth: depth, backends: backends, logger: env.Logger(), desc: prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "outbox", "events"),
		"Outbox events still owed work or attention (pending, processing, dead_letter), by backend and status.",
		[]string{"backend", "status"}, nil)})
}

type outboxCollector struct {
	depth    DepthReader
	backends []backendtype.Backend
	logger   *slog.Logger
	desc     *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), DepthTimeout)
	defer cancel()
	depth, err := c.depth.OutboxDepth(ctx)
	if err != nil {
		c.logger.Warn("telemetry: outbox depth unavailable", slog.String("err", err.Error()))
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	if depth == nil {
		depth = map[backendtype.Backend]gateway.OutboxSummary{}
	}
	for _, b := range c.backends {
		if _, ok := depth[b]; !ok {
			depth[b] = gateway.OutboxSummary{}
		}
	}
	for backend, sum := range depth {
		for status, n := range map[gateway.OutboxStatus]int{
			gateway.OutboxPending:    sum.PendingEvents,
			gateway.OutboxProcessing: sum.ProcessingEvents,
			gateway.OutboxDeadLetter: sum.DeadLetterEvents,
		} {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(backend), string(status))
		}
	}
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
// database at scrape time. Every configured backend has every series.
func (t *Telemetry) ObserveIngestHeals(heals HealReader, backends []backendtype.Backend, env lifecycle.Env) {
	t.registry.MustRegister(&healCollector{heals: heals, backends: backends, logger: env.Logger(), desc: prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "ingest_writes", "failed"),
		"FAILED ingest refs by backend and heal (healing, dead_letter, unhealable).",
		[]string{"backend", "heal"}, nil)})
}

type healCollector struct {
	heals    HealReader
	backends []backendtype.Backend
	logger   *slog.Logger
	desc     *prometheus.Desc
}

func (c *healCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *healCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), DepthTimeout)
	defer cancel()
	counts, err := c.heals.IngestHealCounts(ctx, gateway.RefFilter{})
	if err != nil {
		c.logger.Warn("telemetry: failed ingest writes unavailable", slog.String("err", err.Error()))
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	seen := map[backendtype.Backend]bool{}
	emit := func(b backendtype.Backend, h gateway.IngestHealCount) {
		seen[b] = true
		for heal, n := range map[string]int{healHealing: h.Healing, healDeadLetter: h.DeadLettered, healUnhealable: h.Unhealable} {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(b), heal)
		}
	}
	for b, h := range counts {
		emit(b, h)
	}
	for _, b := range c.backends {
		if !seen[b] {
			emit(b, gateway.IngestHealCount{})
		}
	}
}
