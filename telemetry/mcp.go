package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memory-gateway/memory-gateway/requestinfo"
)

// OperationTypeMCP is the operation type the access log names an MCP tool
// call by.
const OperationTypeMCP = "mcp_tool"

// MCPToolObserver counts MCP tool calls by tool and outcome ("ok" or the
// error's code) (memory_gateway_mcp_tool_calls_total{tool,outcome}) and
// times them (memory_gateway_mcp_tool_duration_seconds{tool,outcome}), and
// writes the principal, the tool and the outcome into the request's facts,
// so the access log line of the request names them.
func (t *Telemetry) MCPToolObserver() func(ctx context.Context, principal, tool, outcome string, took time.Duration) {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "mcp", Name: "tool_calls_total",
		Help: "MCP tool calls by tool and outcome (ok or the error code).",
	}, []string{"tool", "outcome"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "mcp", Name: "tool_duration_seconds",
		Help:    "MCP tool call latency by tool and outcome.",
		Buckets: latencyBuckets,
	}, []string{"tool", "outcome"})
	t.registry.MustRegister(calls, durations)
	return func(ctx context.Context, principal, tool, outcome string, took time.Duration) {
		calls.WithLabelValues(tool, outcome).Inc()
		durations.WithLabelValues(tool, outcome).Observe(took.Seconds())
		requestinfo.NoteOperation(ctx, requestinfo.Operation{Principal: principal, Type: OperationTypeMCP, Field: tool})
		requestinfo.NoteErrorCode(ctx, outcome)
	}
}
