package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
	"github.com/memory-gateway/memory-gateway/backends/openviking/openvikingtest"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/policy"
	"github.com/memory-gateway/memory-gateway/policy/policytest"
)

const (
	agentKeyA = "mgw_agent_a_0123456789abcdef"
	dashKeyA  = "mgw_dash_a_0123456789abcdef"
	adminKeyB = "mgw_admin_b_0123456789abcdef"
	// operatorKey is the deployment's operator: ADMIN of every workspace.
	operatorKey = "mgw_operator_0123456789abcdef"
)

// keysFile writes a keys file for workspaces acme and globex, and the
// operator's.
func keysFile(t *testing.T) string {
	t.Helper()
	doc := map[string]any{"keys": []map[string]any{
		{"name": "support-agent", "sha256": policy.HashKey(agentKeyA), "workspace": "acme", "role": "AGENT",
			"grants": []map[string]any{{"namespace": "support", "access": "WRITE"}}},
		{"name": "acme-dashboard", "sha256": policy.HashKey(dashKeyA), "workspace": "acme", "role": "DASHBOARD",
			"grants": []map[string]any{{"namespace": "", "access": "READ"}}},
		{"name": "globex-admin", "sha256": policy.HashKey(adminKeyB), "workspace": "globex", "role": "ADMIN",
			"grants": []map[string]any{{"namespace": "", "access": "ADMIN"}}},
		{"name": "operator", "sha256": policy.HashKey(operatorKey), "workspace": "*", "role": "ADMIN",
			"grants": []map[string]any{{"namespace": "", "access": "ADMIN"}}},
	}}
	raw, _ := json.Marshal(doc)
	path := filepath.Join(t.TempDir(), "keys.json")
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	return path
}

// call posts an operation with a key and returns status and body.
func call(t *testing.T, base, key, query string, vars map[string]any) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func errorCode(out map[string]any) string {
	errs, _ := out["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
	code, _ := ext["code"].(string)
	return code
}

type lockedLog struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newLockedLog() *lockedLog { return &lockedLog{mu: make(chan struct{}, 1)} }

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.b.String()
}

// TestKeysAndRedactionAsANewUser: with a keys file configured, unauthenticated
// calls are refused; an agent key writes only under its grant; a turn holding
// sensitive values reaches both backends and the database masked, with the
// counts (never the values) on the audit entry; nothing leaks to the logs;
// a dashboard key of one workspace sees nothing of another.
func TestKeysAndRedactionAsANewUser(t *testing.T) {
	t.Parallel()
	ov, em := openvikingtest.New(), evermemostest.New()
	t.Cleanup(ov.Close)
	t.Cleanup(em.Close)
	dbURL := pt.URL(t, pt.SQLite)
	logs := newLockedLog()
	base := startServerLogging(t, map[string]string{
		"DATABASE_URL": dbURL, "API_KEYS_FILE": keysFile(t), "OPENVIKING_URL": ov.URL, "EVERMEMOS_URL": em.URL,
	}, logs)

	// Who are you?
	status, out := call(t, base, "", `{ memoryRefs { edges { cursor } } }`, nil)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "UNAUTHENTICATED", errorCode(out))
	status, out = call(t, base, "mgw_wrong", `{ memoryRefs { edges { cursor } } }`, nil)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "UNAUTHENTICATED", errorCode(out))
	resp, err := http.Get(base + "/")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no GraphiQL outside dev mode")
	_, out = call(t, base, dashKeyA, `{ __schema { types { name } } }`, nil)
	require.NotEmpty(t, out["errors"], "no introspection outside dev mode")

	ingest := func(key, ws, ns, turn, content string) (int, map[string]any) {
		return call(t, base, key, e2eIngest, map[string]any{"in": map[string]any{
			"workspaceId": ws, "userId": "alice", "agentId": "helper", "sessionId": "s1", "turnId": turn,
			"namespace": ns, "role": "USER", "content": content,
		}})
	}

	// The example a user would try first.
	status, out = ingest(agentKeyA, "acme", "support", "t1", "email me at jane.doe@example.com, my AWS key is AKIA4QZ7R2M6XK3PLW5N")
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, out["errors"])
	var audit struct {
		AuditLog struct {
			Edges []struct {
				Node struct{ Metadata map[string]any }
			}
		}
	}
	_, out = call(t, base, dashKeyA, `{ auditLog(filter: {action: "ingest_conversation_turn"}) { edges { node { metadata } } } }`, nil)
	raw, _ := json.Marshal(out["data"])
	require.NoError(t, json.Unmarshal(raw, &audit))
	require.Len(t, audit.AuditLog.Edges, 1)
	require.Equal(t, map[string]any{"email": float64(1), "aws_access_key": float64(1)}, audit.AuditLog.Edges[0].Node.Metadata["redactions"])
	msgs := ov.Messages("acme", "alice", "s1")
	require.Len(t, msgs, 1)
	require.Equal(t, "email me at [REDACTED:email], my AWS key is [REDACTED:aws_access_key]", msgs[0].Content)

	// The whole corpus, through ingest and retrieval.
	var kinds []string
	for kind := range policytest.Corpus {
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)
	for i, kind := range kinds {
		for j, v := range policytest.Corpus[kind] {
			status, out := ingest(agentKeyA, "acme", "support", fmt.Sprintf("c%d-%d", i, j), "remember "+policytest.Sentence(kind, v))
			require.Equal(t, http.StatusOK, status)
			require.Empty(t, out["errors"], "%s %q", kind, v)
		}
	}
	_, out = call(t, base, agentKeyA, `{ retrieveContext(input: {workspaceId: "acme", userId: "alice", agentId: "helper", namespace: "support", query: "remember note keep safe login", limit: 100}) { items { text sourceBackend } } }`, nil)
	require.Empty(t, out["errors"])
	retrieved, _ := json.Marshal(out["data"])
	require.Contains(t, string(retrieved), "[REDACTED:")

	// Nothing a detector caught reaches a backend, the database or the logs.
	var backendText strings.Builder
	for _, m := range ov.Messages("acme", "alice", "s1") {
		backendText.WriteString(m.Content + "\n")
	}
	for _, m := range em.Messages() {
		backendText.WriteString(m.Content + "\n")
	}
	require.GreaterOrEqual(t, strings.Count(backendText.String(), "\n"), 2*20, "both backends got every turn")
	db, err := persistence.Open(context.Background(), dbURL)
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	var dbText strings.Builder
	for _, table := range []string{"memory_refs", "commit_jobs", "outbox_events", "audit_entries", "memory_feedback", "feedback_content", "local_memories"} {
		rows, err := db.QueryContext(context.Background(), "SELECT * FROM "+table)
		require.NoError(t, err)
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			fmt.Fprintln(&dbText, vals...)
		}
		_ = rows.Close()
	}
	require.Contains(t, dbText.String(), "[REDACTED:email]", "the search could find something")
	for _, needle := range append(policytest.Needles(), "jane.doe@example.com", "AKIA4QZ7R2M6XK3PLW5N") {
		require.NotContains(t, backendText.String(), needle)
		require.NotContains(t, dbText.String(), needle)
		require.NotContains(t, logs.String(), needle)
		require.NotContains(t, string(retrieved), needle)
	}
	for _, key := range []string{agentKeyA, dashKeyA, adminKeyB} {
		require.NotContains(t, logs.String(), key, "secrets are never logged")
	}

	// Grants: the agent writes only under support, only in acme.
	_, out = ingest(agentKeyA, "acme", "billing", "x1", "hi")
	require.Equal(t, "FORBIDDEN", errorCode(out))
	_, out = ingest(agentKeyA, "globex", "support", "x2", "hi")
	require.Equal(t, "FORBIDDEN", errorCode(out))
	_, out = ingest(dashKeyA, "acme", "support", "x3", "hi")
	require.Equal(t, "FORBIDDEN", errorCode(out))

	// Workspace isolation: globex data is invisible to acme's dashboard.
	_, out = ingest(adminKeyB, "globex", "ops", "g1", "globex quarterly plan")
	require.Empty(t, out["errors"])
	for _, q := range []string{
		`{ memoryRefs(first: 100) { edges { node { workspaceId } } } }`,
		`{ memoryRefs(filter: {workspaceId: "globex"}) { edges { node { workspaceId } } } }`,
		`{ auditLog(first: 100) { edges { node { workspaceId } } } }`,
		`{ auditLog(filter: {workspaceId: "globex"}) { edges { node { workspaceId } } } }`,
	} {
		_, out = call(t, base, dashKeyA, q, nil)
		require.Empty(t, out["errors"])
		data, _ := json.Marshal(out["data"])
		require.NotContains(t, string(data), "globex", q)
	}

	// Websockets authenticate in connection_init.
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/graphql"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": map[string]any{}}))
	_, _, err = conn.Read(ctx)
	require.Error(t, err, "no key in connection_init: the socket is closed")
	conn, _, err = websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	defer func() { _ = conn.CloseNow() }()
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": map[string]any{"authToken": dashKeyA}}))
	var ack struct{ Type string }
	require.NoError(t, wsjson.Read(ctx, conn, &ack))
	require.Equal(t, "connection_ack", ack.Type)
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": `subscription { commitJobsUpdated(workspaceId: "globex") { id } }`}}))
	var denied struct {
		Type    string
		Payload json.RawMessage
	}
	require.NoError(t, wsjson.Read(ctx, conn, &denied))
	require.Contains(t, string(denied.Payload), "NOT_FOUND", "another workspace does not exist for this key")
}

func TestRejectingPolicyWritesNothing(t *testing.T) {
	t.Parallel()
	policyPath := filepath.Join(t.TempDir(), "redaction.json")
	require.NoError(t, os.WriteFile(policyPath, []byte(`{"default": {"actions": {"private_key": "reject"}},
		"workspaces": {"acme": {"rules": [{"name": "employee_id", "pattern": "EMP-[0-9]{6}", "action": "hash"}]}}}`), 0o600))
	dbURL := pt.URL(t, pt.SQLite)
	base := startServerWith(t, map[string]string{"DATABASE_URL": dbURL, "API_KEYS_FILE": keysFile(t), "REDACTION_POLICY_FILE": policyPath})
	ingest := func(turn, content string) map[string]any {
		_, out := call(t, base, agentKeyA, e2eIngest, map[string]any{"in": map[string]any{
			"workspaceId": "acme", "userId": "alice", "agentId": "helper", "sessionId": "s1", "turnId": turn,
			"namespace": "support", "role": "USER", "content": content,
		}})
		return out
	}
	out := ingest("t1", "here is my key "+policytest.Corpus["private_key"][0])
	require.Equal(t, "BAD_USER_INPUT", errorCode(out))
	errs := out["errors"].([]any)
	require.Equal(t, "input.content", errs[0].(map[string]any)["extensions"].(map[string]any)["field"])
	require.NotContains(t, fmt.Sprint(out), "MIIEowIBAAKCAQEA7bq")

	out = ingest("t2", "badge EMP-123456")
	require.Empty(t, out["errors"])
	db, err := persistence.Open(context.Background(), dbURL)
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	var contents []string
	require.NoError(t, db.NewRaw("SELECT content FROM local_memories").Scan(context.Background(), &contents))
	require.Len(t, contents, 1, "the rejected turn wrote nothing")
	require.Regexp(t, `^badge \[employee_id:[0-9a-f]{12}\]$`, contents[0])
}

func TestDevModeOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite)}, "--listen", "0.0.0.0:0")
	err := serve(context.Background(), cfg, discardLogger(), nil)
	require.ErrorContains(t, err, "dev mode")

	cfg = testConfig(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "API_KEYS_FILE": keysFile(t)}, "--listen", "0.0.0.0:0")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, discardLogger(), ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("with keys the gateway may listen anywhere: %v", err)
	}
	cancel()
	require.NoError(t, <-done)
}

// TestDevModeRefusesOtherHosts: in dev mode a request naming a host that is
// not loopback (DNS rebinding) is refused before it reaches any route.
func TestDevModeRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite)})
	for _, tc := range []struct {
		host   string
		status int
	}{
		{"evil.example", http.StatusForbidden},
		{"evil.example:8080", http.StatusForbidden},
		{"10.0.0.5:8080", http.StatusForbidden},
		{"localhost", http.StatusOK},
		{strings.TrimPrefix(base, "http://"), http.StatusOK},
		{"[::1]:8080", http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodGet, base+"/graphql?query=%7B__typename%7D", nil)
		req.Host = tc.host
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, tc.status, resp.StatusCode, tc.host)
	}
}

// TestBackendHealthIsForAdmins: over HTTP, with the keys file, backend
// health answers ADMIN keys of a whole workspace and the operator, refuses
// every other key with FORBIDDEN on the field, and holds each key to
// RATE_LIMIT_HEALTH.
func TestBackendHealthIsForAdmins(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			base := startServerWith(t, map[string]string{
				"DATABASE_URL": pt.URL(t, d), "API_KEYS_FILE": keysFile(t), "WORKER": "false",
				"RATE_LIMIT_HEALTH": "0.001", "RATE_LIMIT_HEALTH_BURST": "2",
			})
			for _, key := range []string{agentKeyA, dashKeyA} {
				_, out := call(t, base, key, `{ backends { backend healthy } }`, nil)
				require.Equal(t, "FORBIDDEN", errorCode(out), "%v", out)
				require.Equal(t, []any{"backends"}, out["errors"].([]any)[0].(map[string]any)["path"])
			}
			data := gqlData(t, base, adminKeyB, `{ backends { backend healthy } }`, nil)
			require.Len(t, data["backends"], 1, "a workspace's admin")
			_, out := call(t, base, operatorKey, `{ a: backends { backend } b: backends { backend } c: backends { backend } }`, nil)
			require.Equal(t, "RATE_LIMITED", errorCode(out), "a burst of two: %v", out)
		})
	}
}
