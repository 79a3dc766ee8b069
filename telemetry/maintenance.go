package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/memory-gateway/memory-gateway/maintenance"
)

// MaintenanceHooks observe retention: rows deleted per table
// (memory_gateway_retention_deleted_rows_total{table}) and memories whose
// deletion a TTL routed (memory_gateway_retention_expired_memories_total).
func (t *Telemetry) MaintenanceHooks() maintenance.Hooks {
	deleted := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "retention", Name: "deleted_rows_total",
		Help: "Control-plane rows deleted by the retention policy, by table.",
	}, []string{"table"})
	expired := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "retention", Name: "expired_memories_total",
		Help: "Memories a TTL expired, whose deletion was routed to their backend.",
	})
	t.registry.MustRegister(deleted, expired)
	for _, table := range []string{maintenance.TableCommitJobs, maintenance.TableOutboxEvents, maintenance.TableAuditEntries, maintenance.TableMemoryFeedback, maintenance.TableWebhookDeliveries} {
		deleted.WithLabelValues(table)
	}
	return maintenance.Hooks{
		Deleted: func(table string, rows int) { deleted.WithLabelValues(table).Add(float64(rows)) },
		Expired: func(n int) { expired.Add(float64(n)) },
	}
}
