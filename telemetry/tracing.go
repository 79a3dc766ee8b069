package telemetry

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracing defaults.
const (
	ServiceNameDefault = "memory-gateway"
	tracesPath         = "/v1/traces"
)

// TracingConfig turns tracing on. With no endpoint, spans are not recorded,
// but W3C trace context is still accepted from callers and passed on to
// backends.
type TracingConfig struct {
	// Endpoint is the OTLP/HTTP collector, e.g. http://127.0.0.1:4318; the
	// traces path is added when the URL has none.
	Endpoint    string
	ServiceName string
	// SampleRatio is the share of new traces recorded (a caller's sampled
	// flag is honoured); 0 means 1.
	SampleRatio float64
}

// SetupTracing installs the W3C trace-context propagator and, when an
// endpoint is configured, an OTLP exporter behind a batching tracer
// provider. The returned provider is what Telemetry should use; shutdown
// flushes pending spans.
func SetupTracing(ctx context.Context, cfg TracingConfig) (trace.TracerProvider, func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if cfg.Endpoint == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	endpoint, err := tracesURL(cfg.Endpoint)
	if err != nil {
		return nil, nil, err
	}
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, nil, fmt.Errorf("error creating the OTLP trace exporter: %w", err)
	}
	name := cfg.ServiceName
	if name == "" {
		name = ServiceNameDefault
	}
	ratio := cfg.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", name))),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	otel.SetTracerProvider(tp)
	return tp, tp.Shutdown, nil
}

// tracesURL completes a collector base URL with the OTLP traces path.
func tracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("invalid OTLP endpoint %q (want a URL such as http://127.0.0.1:4318)", endpoint)
	}
	if strings.Trim(u.Path, "/") == "" {
		u.Path = tracesPath
	}
	return u.String(), nil
}
