// Package httpapi is the gateway's HTTP edge: its routes, the middleware
// every request passes (request ids and the access log, panics, CORS, body
// limits, streams), the checks GraphQL over HTTP asks of a request before
// the transports read it, the export endpoint and the probes. Every error it
// answers has the one envelope apierror writes.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/console"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/graphiql"
	"github.com/memory-gateway/memory-gateway/policy"
)

// Paths of the API.
const (
	// GraphQLPath is where the GraphQL API is served.
	GraphQLPath = "/graphql"
	// MCPPath is where agents reach the MCP server.
	MCPPath = "/mcp"
	// ExportPath serves a subject's export.
	ExportPath = "/v1/export"
	// MetricsPath is where Prometheus metrics are served.
	MetricsPath = "/metrics"
	// pprofPath is the subtree of the Go runtime profiles.
	pprofPath = "/debug/pprof/"
)

// Telemetry is what the HTTP edge reports to: spans per request (and the
// trace a request is part of), the count of GraphQL requests refused before
// they became operations, and the metrics it serves.
type Telemetry interface {
	HTTPHandler(next http.Handler) http.Handler
	TraceID(ctx context.Context) string
	ObserveRejected(outcome string, elapsed time.Duration)
	Handler() http.Handler
}

// Options are what the API's routes are built from.
type Options struct {
	Logger    *slog.Logger
	Telemetry Telemetry
	// Keyring authenticates requests; with no keys (dev mode) every caller
	// is the dev principal and only loopback hosts are answered.
	Keyring *policy.Keyring
	// GraphQL serves the GraphQL transports (resolvers.NewHandler).
	GraphQL http.Handler
	// MCP serves agents' MCP sessions.
	MCP http.Handler
	// Exporter streams exports; Database answers the readiness probe.
	Exporter Exporter
	Database Database
	// Streams, when cancelled, ends every open stream (shutdown does it).
	Streams context.Context
	// Origins may call the API from a browser (CORS).
	Origins      []string
	MaxBodyBytes int64
	// Explore serves GraphiQL at /.
	Explore bool
	// Metrics and Pprof serve /metrics and /debug/pprof/ to the operator.
	Metrics bool
	Pprof   bool
}

// Handler is the API: every route behind the middleware every request
// passes.
func Handler(opts Options) http.Handler {
	keyring, origins := opts.Keyring, opts.Origins
	mux := http.NewServeMux()
	mux.Handle(GraphQLPath, withVia(gateway.ViaGraphQL, withCORS(origins, keyring.Middleware(
		limitBody(opts.MaxBodyBytes, withCheckedRequests(withHTTPConformance(opts.GraphQL)))))))
	mux.Handle(MCPPath, withCORS(origins, keyring.Middleware(opts.MCP)))
	mux.HandleFunc("GET /healthz", healthHandler)
	mux.HandleFunc("GET /readyz", readyHandler(opts.Database))
	mux.Handle("GET "+console.Path, console.Handler())
	mux.Handle("GET /console", console.Handler())
	mux.Handle("GET "+ExportPath, withVia(gateway.ViaHTTP, keyring.Middleware(exportHandler(opts.Exporter, opts.Logger))))
	if opts.Explore {
		mux.Handle("GET /{$}", graphiql.Handler("Memory Gateway", GraphQLPath))
		mux.Handle("GET "+graphiql.AssetsPath, graphiql.Assets())
	}
	if opts.Metrics {
		// On the API port, metrics are the operator's: their figures cover
		// every workspace, and whoever reaches the API is not the operator.
		// A scraper reads METRICS_ADDR instead (OperationsHandler), a
		// listener of its own meant for a private network, and needs no key.
		metrics := http.NewServeMux()
		metrics.Handle("GET "+MetricsPath, opts.Telemetry.Handler())
		handleOperatorOnly(mux, keyring, metrics, MetricsPath)
	}
	if opts.Pprof {
		handleOperatorOnly(mux, keyring, pprofHandler(), pprofPath, strings.TrimSuffix(pprofPath, "/"))
	}
	var routes http.Handler = mux
	if keyring.Empty() {
		routes = loopbackHostsOnly(routes)
	}
	return opts.Telemetry.HTTPHandler(withRequestLog(opts.Logger, opts.Telemetry,
		withRecover(opts.Logger, withStreams(opts.Streams, routes))))
}

// OperationsHandler serves what a private operations listener (METRICS_ADDR)
// offers without a key: metrics and the probes. A worker has no other
// listener, so its probes live here.
func OperationsHandler(metrics http.Handler, db Database) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, metrics)
	mux.HandleFunc("GET /healthz", healthHandler)
	mux.HandleFunc("GET /readyz", readyHandler(db))
	return mux
}
