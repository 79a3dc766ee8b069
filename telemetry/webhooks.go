package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memory-gateway/memory-gateway/webhook"
)

// WebhookHooks observe webhook deliveries: attempts by outcome
// (memory_gateway_webhook_deliveries_total{outcome}), how long an attempt's
// request took (memory_gateway_webhook_attempt_duration_seconds) and how
// long a delivery took from the change to its successful attempt
// (memory_gateway_webhook_delivery_latency_seconds).
func (t *Telemetry) WebhookHooks() webhook.Hooks {
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "webhook", Name: "deliveries_total",
		Help: "Webhook delivery attempts, by outcome (success, retry, dead_letter).",
	}, []string{"outcome"})
	took := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "webhook", Name: "attempt_duration_seconds",
		Help:    "Duration of one webhook attempt's request.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	})
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "webhook", Name: "delivery_latency_seconds",
		Help:    "Time from the change to its delivery's successful attempt (retries included).",
		Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300, 1800, 7200, 36000, 129600},
	})
	t.registry.MustRegister(attempts, took, latency)
	for _, o := range []string{webhook.OutcomeSuccess, webhook.OutcomeRetry, webhook.OutcomeDeadLetter} {
		attempts.WithLabelValues(o)
	}
	return webhook.Hooks{
		Attempted: func(outcome string, d time.Duration) {
			attempts.WithLabelValues(outcome).Inc()
			took.Observe(d.Seconds())
		},
		Delivered: func(d time.Duration) { latency.Observe(d.Seconds()) },
	}
}
