package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/webhook"
)

func testConfig(t testing.TB, env map[string]string, args ...string) config {
	t.Helper()
	cfg, err := parseConfig("serve", args, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	return cfg
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, nil)
	require.Equal(t, "127.0.0.1:8080", cfg.ListenAddr)
	require.Equal(t, "", cfg.DatabaseURL)
	require.True(t, cfg.LocalBackend)
	require.Equal(t, "json", cfg.LogFormat)
	require.Equal(t, webhook.WorkspaceConcurrencyDefault, cfg.WebhookPerWorkspace)
	require.Equal(t, 8, testConfig(t, map[string]string{"WEBHOOK_WORKSPACE_CONCURRENCY": "8"}).WebhookPerWorkspace)
	require.Equal(t, 2, testConfig(t, nil, "--webhook-workspace-concurrency", "2").WebhookPerWorkspace)

	cfg = testConfig(t, map[string]string{"LISTEN_ADDR": "127.0.0.1:9000", "LOCAL_BACKEND": "false", "BACKEND_TIMEOUT": "3s"}, "--listen", "127.0.0.1:9100")
	require.Equal(t, "127.0.0.1:9100", cfg.ListenAddr, "a flag overrides the environment")
	require.False(t, cfg.LocalBackend)
	require.Equal(t, 3*time.Second, cfg.BackendTimeout)

	for _, bad := range []map[string]string{
		{"LOCAL_BACKEND": "maybe"},
		{"BACKEND_TIMEOUT": "soon"},
		{"MAX_CONTENT_BYTES": "-1"},
		{"WEBHOOK_WORKSPACE_CONCURRENCY": "0"},
	} {
		_, err := parseConfig("serve", nil, func(k string) string { return bad[k] }, io.Discard)
		require.Error(t, err, "%v", bad)
	}
	_, err := parseConfig("serve", []string{"--nope"}, func(string) string { return "" }, io.Discard)
	require.Error(t, err)
	_, err = parseConfig("dance", nil, func(string) string { return "" }, io.Discard)
	require.Error(t, err)
}

// TestSecretsFromFiles: every secret setting can be read from a file (the
// variable with _FILE, or the flag with -file), trimmed; giving a secret
// both ways at once is refused.
func TestSecretsFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, value string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(value+"\n"), 0o600))
		return path
	}
	cfg := testConfig(t, map[string]string{
		"DATABASE_URL_FILE":       write("db", "postgres://app:s3cret@127.0.0.1/prod"),
		"OPENVIKING_API_KEY_FILE": write("ov", "ov-root-key"),
	}, "--evermemos-api-key-file", write("em", "em-key"))
	require.Equal(t, "postgres://app:s3cret@127.0.0.1/prod", cfg.DatabaseURL)
	require.Equal(t, "ov-root-key", cfg.OpenVikingKey)
	require.Equal(t, "em-key", cfg.EverMemOSKey)

	_, err := parseConfig("serve", nil, func(k string) string {
		return map[string]string{"OPENVIKING_API_KEY": "a", "OPENVIKING_API_KEY_FILE": write("ov2", "b")}[k]
	}, io.Discard)
	require.ErrorContains(t, err, "both set")
	_, err = parseConfig("serve", nil, func(k string) string {
		return map[string]string{"EVERMEMOS_API_KEY_FILE": filepath.Join(dir, "missing")}[k]
	}, io.Discard)
	require.ErrorContains(t, err, "EVERMEMOS_API_KEY_FILE")

	cfg = testConfig(t, map[string]string{"PSEUDONYMOUS_BACKEND_IDS": "true", "BACKEND_ID_KEY_FILE": write("idkey", "0123456789abcdef-key")})
	require.Equal(t, "0123456789abcdef-key", cfg.BackendIDKey, "the pseudonym key from a file")
	_, err = parseConfig("serve", []string{"--backend-id-key", "x"}, func(string) string { return "" }, io.Discard)
	require.Error(t, err, "the pseudonym key is never a flag")
}

// startServer runs serve on a free port until the test ends.
func startServer(t *testing.T, databaseURL string) string {
	t.Helper()
	return startServerWith(t, map[string]string{"DATABASE_URL": databaseURL, "MAX_BODY_BYTES": "4096"})
}

// startServerWith runs serve with the given environment.
func startServerWith(t testing.TB, env map[string]string) string {
	t.Helper()
	return startServerLogging(t, env, io.Discard)
}

// startServerLogging runs serve with the given environment, logging (debug
// level, JSON) to logs.
func startServerLogging(t testing.TB, env map[string]string, logs io.Writer) string {
	t.Helper()
	cfg := testConfig(t, env, "--listen", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() { done <- serve(ctx, cfg, logger, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve exited: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done, "graceful shutdown")
	})
	return "http://" + addr
}

func TestServeHTTP(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			base := startServer(t, pt.URL(t, d))

			resp, err := http.Get(base + "/healthz")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			_ = resp.Body.Close()

			resp, err = http.Get(base + "/readyz")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			_ = resp.Body.Close()

			// POST, GraphQL over HTTP.
			body := `{"query":"mutation { ingestConversationTurn(input: {workspaceId: \"ws\", userId: \"u\", agentId: \"a\", sessionId: \"s\", turnId: \"t\", namespace: \"n\", role: USER, content: \"hello world\"}) { status gatewayId } }"}`
			req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/graphql-response+json")
			resp, err = http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "application/graphql-response+json", resp.Header.Get("Content-Type"))
			require.NotEmpty(t, resp.Header.Get("X-Request-Id"))
			var out struct {
				Data struct {
					IngestConversationTurn struct{ Status, GatewayID string }
				}
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			_ = resp.Body.Close()
			require.Equal(t, "SUCCESS", out.Data.IngestConversationTurn.Status)

			// GET for queries.
			q := url.Values{"query": {`{ memoryRefs(filter: {workspaceId: "ws"}) { edges { node { id backend } } } }`}}
			resp, err = http.Get(base + "/graphql?" + q.Encode())
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			require.Contains(t, string(raw), `"backend":"LOCAL"`)

			// GET cannot mutate.
			q = url.Values{"query": {`mutation { commitSession(input: {workspaceId: "ws", userId: "u", agentId: "a", sessionId: "s", namespace: "n"}) { created } }`}}
			resp, err = http.Get(base + "/graphql?" + q.Encode())
			require.NoError(t, err)
			require.GreaterOrEqual(t, resp.StatusCode, 400)
			_ = resp.Body.Close()

			// Bodies over the limit are refused.
			big := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", 5000) + `"}}`
			resp, err = http.Post(base+"/graphql", "application/json", strings.NewReader(big))
			require.NoError(t, err)
			require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
			_ = resp.Body.Close()

			// GraphiQL in dev mode.
			resp, err = http.Get(base + "/")
			require.NoError(t, err)
			raw, _ = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Contains(t, strings.ToLower(string(raw)), "graphiql")
			resp, err = http.Get(base + "/graphiql/graphiql.min.js")
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "its scripts are served from the binary")
		})
	}
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gw.db")
	env := map[string]string{"DATABASE_URL": "file:" + path, "LOG_LEVEL": "error"}
	code := run(context.Background(), []string{"migrate"}, process{getenv: func(k string) string { return env[k] }, stdout: io.Discard, stderr: io.Discard})
	require.Equal(t, 0, code)
	code = run(context.Background(), []string{"migrate"}, process{getenv: func(k string) string { return env[k] }, stdout: io.Discard, stderr: io.Discard})
	require.Equal(t, 0, code, "migrating twice is a no-op")
	code = run(context.Background(), []string{"bogus"}, process{getenv: func(k string) string { return env[k] }, stdout: io.Discard, stderr: io.Discard})
	require.Equal(t, 2, code)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
