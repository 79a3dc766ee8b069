package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

func healthcheck(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	code := run(context.Background(), append([]string{"healthcheck"}, args...), process{getenv: func(k string) string { return env[k] }, stdout: io.Discard, stderr: &stderr})
	return code, stderr.String()
}

// TestHealthcheckCommand: 0 when /readyz answers ready, 1 otherwise, silent
// unless --verbose; LISTEN_ADDR or --listen name the address.
func TestHealthcheckCommand(t *testing.T) {
	t.Parallel()
	base := startServer(t, pt.URL(t, pt.SQLite))
	addr := strings.TrimPrefix(base, "http://")

	code, out := healthcheck(t, map[string]string{"LISTEN_ADDR": addr})
	require.Equal(t, 0, code)
	require.Empty(t, out, "silent")
	code, out = healthcheck(t, nil, "--listen", addr, "--verbose")
	require.Equal(t, 0, code)
	require.Contains(t, out, "is ready")

	// Nothing listens on a port just released.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	code, out = healthcheck(t, map[string]string{"LISTEN_ADDR": closed})
	require.Equal(t, 1, code)
	require.Empty(t, out)
	code, out = healthcheck(t, nil, "--listen", closed, "--verbose")
	require.Equal(t, 1, code)
	require.Contains(t, out, "readyz")

	// Something that answers but is not ready.
	notReady := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status":"unavailable","reason":"migrations pending"}`)
	})}
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = notReady.Serve(ln) }()
	t.Cleanup(func() { _ = notReady.Close() })
	code, out = healthcheck(t, nil, "--listen", ln.Addr().String(), "--verbose")
	require.Equal(t, 1, code)
	require.Contains(t, out, "migrations pending")

	code, _ = healthcheck(t, nil, "--listen", "not-an-address")
	require.Equal(t, 1, code)
	code, _ = healthcheck(t, nil, "extra")
	require.Equal(t, 2, code)
}

// TestWorkerServesProbesBesideMetrics: the worker command's only listener,
// METRICS_ADDR, answers /healthz and /readyz, which healthcheck probes.
func TestWorkerServesProbesBesideMetrics(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, map[string]string{"DATABASE_URL": pt.URL(t, d), "METRICS_ADDR": "127.0.0.1:0"})
			ctx := context.Background()
			logger := slog.New(slog.DiscardHandler)
			require.NoError(t, migrateOnly(ctx, cfg, logger))
			a, err := buildApp(ctx, cfg, logger, role{worker: true})
			require.NoError(t, err)
			require.NoError(t, a.start(ctx))
			t.Cleanup(func() { require.NoError(t, a.stop(context.Background())) })

			for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
				resp, err := http.Get("http://" + a.metricsAddr() + path)
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode, path)
				if path == "/readyz" {
					require.Contains(t, string(body), `"ready"`)
				}
			}
			code, _ := healthcheck(t, nil, "--listen", a.metricsAddr())
			require.Equal(t, 0, code)
		})
	}
}
