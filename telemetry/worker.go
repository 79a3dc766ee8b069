package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/worker"
)

// Results of an outbox attempt, as the worker metrics label them.
const (
	resultSuccess    = "success"
	resultSkipped    = "skipped"
	resultRetry      = "retry"
	resultWaiting    = "waiting"
	resultDeadLetter = "dead_letter"
)

// completionResult names what an attempt led to: a retry is a failed attempt
// that will run again; waiting is a backend still working remotely (no
// attempt spent).
func completionResult(c gateway.OutboxCompletion) string {
	switch c.Status {
	case gateway.OutboxSuccess:
		return resultSuccess
	case gateway.OutboxSkipped:
		return resultSkipped
	case gateway.OutboxDeadLetter:
		return resultDeadLetter
	default:
		if c.LastError != nil {
			return resultRetry
		}
		return resultWaiting
	}
}

// WorkerHooks observe a worker: a span per outbox event, and the claim,
// completion, rescue and job-duration metrics.
func (t *Telemetry) WorkerHooks() worker.Hooks {
	return worker.Hooks{
		Claimed: func(events []gateway.OutboxEvent) {
			for _, e := range events {
				t.claimed.WithLabelValues(string(e.Backend)).Inc()
			}
		},
		Executing: func(ctx context.Context, e gateway.OutboxEvent) (context.Context, func(gateway.OutboxCompletion)) {
			ctx, span := t.tracer.Start(ctx, "outbox "+string(e.Operation),
				trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(
					attribute.String("memory_gateway.backend", string(e.Backend)),
					attribute.String("memory_gateway.outbox.operation", string(e.Operation)),
					attribute.Int("memory_gateway.outbox.attempt", e.AttemptCount)))
			return ctx, func(c gateway.OutboxCompletion) {
				result := completionResult(c)
				span.SetAttributes(attribute.String("memory_gateway.outbox.result", result))
				if result == resultRetry || result == resultDeadLetter {
					span.SetStatus(codes.Error, result)
				}
				span.End()
			}
		},
		Completed: func(batch []gateway.OutboxCompletion, res gateway.CompletionResult) {
			lost := make(map[string]bool, len(res.Lost))
			for _, id := range res.Lost {
				lost[id] = true
			}
			for _, c := range batch {
				if lost[c.EventID] {
					continue
				}
				t.completed.WithLabelValues(string(c.Backend), completionResult(c)).Inc()
				if c.Operation == gateway.OperationIngestTurn && c.Status == gateway.OutboxSuccess {
					t.healed.WithLabelValues(string(c.Backend)).Inc()
				}
			}
			t.lost.Add(float64(len(res.Lost)))
			t.observeJobs(res.Jobs)
		},
		Rescued: func(res gateway.RescueResult) {
			t.rescued.WithLabelValues(resultRetry).Add(float64(res.Rescued))
			t.rescued.WithLabelValues(resultDeadLetter).Add(float64(res.DeadLettered))
			t.observeJobs(res.Jobs)
		},
	}
}

// observeJobs records the duration of the jobs that just became terminal.
func (t *Telemetry) observeJobs(jobs []gateway.CommitJob) {
	for _, j := range jobs {
		if !j.Status.Terminal() {
			continue
		}
		t.jobDuration.WithLabelValues(string(j.Status)).Observe(j.UpdatedAt.Sub(j.CreatedAt).Seconds())
	}
}
