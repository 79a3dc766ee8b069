package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
	"github.com/memory-gateway/memory-gateway/backends/openviking/openvikingtest"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/mcpserver"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/policy"
)

// Keys of the MCP tests: alice's and bob's agents are bound to their user and
// agent; the unbound agent key is bound to neither.
const (
	aliceAgentKey   = "mgw_mcp_alice_0123456789abcdef"
	bobAgentKey     = "mgw_mcp_bob_0123456789abcdef"
	unboundAgentKey = "mgw_mcp_unbound_0123456789abcdef"
	mcpDashKey      = "mgw_mcp_dash_0123456789abcdef"
)

func mcpKeysFile(t *testing.T) string {
	t.Helper()
	writeGrant := []map[string]any{{"namespace": "support", "access": "WRITE"}}
	doc := map[string]any{"keys": []map[string]any{
		{"name": "alice-helper", "sha256": policy.HashKey(aliceAgentKey), "workspace": "acme", "role": "AGENT", "userId": "alice", "agentId": "helper", "grants": writeGrant},
		{"name": "bob-helper", "sha256": policy.HashKey(bobAgentKey), "workspace": "acme", "role": "AGENT", "userId": "bob", "agentId": "helper", "grants": writeGrant},
		{"name": "unbound-agent", "sha256": policy.HashKey(unboundAgentKey), "workspace": "acme", "role": "AGENT", "grants": writeGrant},
		{"name": "acme-dashboard", "sha256": policy.HashKey(mcpDashKey), "workspace": "acme", "role": "DASHBOARD", "grants": []map[string]any{{"namespace": "", "access": "READ"}}},
		// The operator reads /metrics on the API port.
		{"name": "operator", "sha256": policy.HashKey(operatorKey), "workspace": "*", "role": "ADMIN", "grants": []map[string]any{{"namespace": "", "access": "ADMIN"}}},
	}}
	raw, _ := json.Marshal(doc)
	path := filepath.Join(t.TempDir(), "keys.json")
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	return path
}

// bearer adds an API key to every request of an HTTP client.
type bearer struct{ key string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.key != "" {
		r.Header.Set("Authorization", "Bearer "+b.key)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// progressLog collects the progress notifications a client receives.
type progressLog struct {
	mu       sync.Mutex
	messages []string
	changed  chan struct{} // closed and replaced on every message
}

func newProgressLog() *progressLog { return &progressLog{changed: make(chan struct{})} }

func (p *progressLog) handle(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.messages = append(p.messages, req.Params.Message)
	close(p.changed)
	p.changed = make(chan struct{})
}

// waitFor waits until a message containing text has arrived: a client may
// handle a notification after the call's answer.
func (p *progressLog) waitFor(t *testing.T, text string) {
	t.Helper()
	timeout := time.After(processTimeout)
	for {
		p.mu.Lock()
		changed := p.changed
		for _, m := range p.messages {
			if strings.Contains(m, text) {
				p.mu.Unlock()
				return
			}
		}
		p.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no progress message with %q among %q", text, p.all())
		}
	}
}

func (p *progressLog) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.messages...)
}

// mcpClient connects the SDK's client to base/mcp over real HTTP with a key.
func mcpClient(t *testing.T, base, key string, opts *mcp.ClientSessionOptions) (*mcp.ClientSession, *progressLog) {
	t.Helper()
	progress := newProgressLog()
	client := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "1"}, &mcp.ClientOptions{ProgressNotificationHandler: progress.handle})
	session, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: base + "/mcp", HTTPClient: &http.Client{Transport: bearer{key: key}},
	}, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = session.Close() })
	return session, progress
}

// callTool calls a tool and decodes its structured content.
func callTool(t *testing.T, s *mcp.ClientSession, name string, args map[string]any, progressToken any) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	params := &mcp.CallToolParams{Name: name, Arguments: args}
	if progressToken != nil {
		params.SetProgressToken(progressToken)
	}
	res, err := s.CallTool(context.Background(), params)
	require.NoError(t, err, name)
	var structured map[string]any
	raw, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &structured))
	return res, structured
}

func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// toolErrorOf asserts a tool error — isError, no structured content (a
// client would validate it against the output schema), and a text
// "CODE: field: message (fact: value)…" — and returns what the text says:
// code, field (when the message names one), message and the facts.
func toolErrorOf(t *testing.T, res *mcp.CallToolResult, structured map[string]any) map[string]any {
	t.Helper()
	require.True(t, res.IsError, "want a tool error, got %s", resultText(res))
	require.Empty(t, structured, "an error carries no structured content")
	return parseToolError(t, res.Content[0].(*mcp.TextContent).Text)
}

// toolErrorText matches the text of a tool error.
var toolErrorText = regexp.MustCompile(`^([A-Z_]+): (.*?)((?: \([A-Za-z]+: [^)]*\))*)$`)

func parseToolError(t *testing.T, text string) map[string]any {
	t.Helper()
	m := toolErrorText.FindStringSubmatch(text)
	require.NotNil(t, m, "a tool error's text starts with its code: %q", text)
	e := map[string]any{"code": m[1], "message": m[2]}
	if field, _, ok := strings.Cut(m[2], ": "); ok && !strings.Contains(field, " ") {
		e["field"] = field
	}
	for _, fact := range regexp.MustCompile(`\(([A-Za-z]+): ([^)]*)\)`).FindAllStringSubmatch(m[3], -1) {
		if n, err := strconv.ParseFloat(fact[2], 64); err == nil {
			e[fact[1]] = n
		} else {
			e[fact[1]] = fact[2]
		}
	}
	return e
}

// auditVia returns the "via" of every audit entry of an action.
func auditVia(t *testing.T, databaseURL, action string) []string {
	t.Helper()
	db, err := persistence.Open(context.Background(), databaseURL)
	require.NoError(t, err)
	defer db.Close()
	var rows []struct {
		Metadata map[string]any `bun:"metadata,type:jsonb"`
	}
	require.NoError(t, db.NewRaw("SELECT metadata FROM audit_entries WHERE action = ?", action).Scan(context.Background(), &rows))
	var out []string
	for _, r := range rows {
		via, _ := r.Metadata["via"].(string)
		out = append(out, via)
	}
	return out
}

// TestMCPToolsEndToEnd drives every tool with the SDK's client over real
// HTTP against a whole gateway: remember (retried), recall, feedback
// (retried), commit with progress, job status, the session resource, the
// prompt and forget_me; every write is audited via "mcp". On both stores.
func TestMCPToolsEndToEnd(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			mcpToolsEndToEnd(t, pt.URL(t, d))
		})
	}
}

func mcpToolsEndToEnd(t *testing.T, dbURL string) {
	base := startServerWith(t, map[string]string{"DATABASE_URL": dbURL, "API_KEYS_FILE": mcpKeysFile(t)})
	alice, progress := mcpClient(t, base, aliceAgentKey, nil)

	var names []string
	for tool, err := range alice.Tools(context.Background(), nil) {
		require.NoError(t, err)
		names = append(names, tool.Name)
		require.NotEmpty(t, tool.Description, tool.Name)
		schema, _ := json.Marshal(tool.InputSchema)
		require.Contains(t, string(schema), `"description"`, "%s: argument descriptions come from the Go types", tool.Name)
	}
	require.ElementsMatch(t, []string{"remember", "recall", "commit_session", "give_feedback", "job_status", "list_memories", "get_memory", "forget_memory", "forget_me"}, names)

	turns := []any{
		map[string]any{"role": "user", "content": "my favourite tea is jasmine"},
		map[string]any{"role": "assistant", "content": "noted: jasmine tea"},
	}
	remember := map[string]any{"sessionId": "s1", "namespace": "support", "turns": turns}
	res, out := callTool(t, alice, "remember", remember, nil)
	require.False(t, res.IsError, resultText(res))
	first := out["turns"].([]any)
	require.Len(t, first, 2)
	turnID := first[0].(map[string]any)["turnId"].(string)
	require.True(t, strings.HasPrefix(turnID, "mcp-"), turnID)
	require.Equal(t, false, first[0].(map[string]any)["replayed"])

	// A retried call names the same turns and stores nothing twice.
	res, out = callTool(t, alice, "remember", remember, nil)
	require.False(t, res.IsError, resultText(res))
	for i, turn := range out["turns"].([]any) {
		require.Equal(t, true, turn.(map[string]any)["replayed"], "turn %d", i)
		require.Equal(t, first[i].(map[string]any)["turnId"], turn.(map[string]any)["turnId"])
	}
	require.Equal(t, []string{"mcp", "mcp"}, auditVia(t, dbURL, gateway.AuditActionIngest), "one audit entry per turn, via mcp")

	res, out = callTool(t, alice, "commit_session", map[string]any{"sessionId": "s1", "namespace": "support", "wait": true, "waitSeconds": 60}, "commit-1")
	require.False(t, res.IsError, resultText(res))
	require.Equal(t, "SUCCESS", out["status"], resultText(res))
	require.Equal(t, true, out["terminal"])
	require.Equal(t, true, out["created"])
	jobID := out["jobId"].(string)
	progress.waitFor(t, "SUCCESS")
	require.Len(t, res.Meta[mcpserver.ProgressSentMeta], len(progress.all()),
		"the result lists the progress notifications that went before it (a proxy hands on any its client lacks)")

	res, out = callTool(t, alice, "job_status", map[string]any{"jobId": jobID}, nil)
	require.False(t, res.IsError, resultText(res))
	require.Equal(t, "SUCCESS", out["status"])
	require.Equal(t, "COMMIT", out["kind"])
	require.NotEmpty(t, out["backends"])

	res, out = callTool(t, alice, "recall", map[string]any{"query": "jasmine tea", "namespace": "support"}, nil)
	require.False(t, res.IsError, resultText(res))
	items := out["items"].([]any)
	require.NotEmpty(t, items)
	item := items[0].(map[string]any)
	require.Contains(t, item["text"], "jasmine")
	require.Equal(t, "LOCAL", item["sourceBackend"])
	require.Greater(t, item["score"], 0.0)
	refID := item["refId"].(string)
	require.NotEmpty(t, refID)
	require.Contains(t, resultText(res), "jasmine", "the text content holds the memories")

	fb := map[string]any{"refId": refID, "type": "HELPFUL", "comment": "spot on"}
	res, out = callTool(t, alice, "give_feedback", fb, nil)
	require.False(t, res.IsError, resultText(res))
	require.Equal(t, true, out["created"])
	feedbackID := out["feedbackId"]
	res, out = callTool(t, alice, "give_feedback", fb, nil)
	require.False(t, res.IsError, resultText(res))
	require.Equal(t, false, out["created"], "a retried feedback is recorded once")
	require.Equal(t, feedbackID, out["feedbackId"])

	read, err := alice.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: mcpserver.SessionURI("acme", "s1")})
	require.NoError(t, err)
	require.Equal(t, "private", read.CacheScope, "what a key reads is for its own client to cache, no one else's")
	var graph struct {
		Refs     []struct{ ID, Backend string }
		Jobs     []struct{ ID, Status string }
		Feedback []struct{ ID, RefID string }
	}
	require.NoError(t, json.Unmarshal([]byte(read.Contents[0].Text), &graph))
	require.NotEmpty(t, graph.Refs)
	require.Equal(t, jobID, graph.Jobs[0].ID)
	require.Equal(t, refID, graph.Feedback[0].RefID)
	require.NotContains(t, read.Contents[0].Text, "jasmine", "the graph holds no content")

	_, err = alice.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: mcpserver.SessionURI("acme", "nope")})
	require.Error(t, err, "a session with nothing visible is not found")

	prompt, err := alice.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: "use_memory"})
	require.NoError(t, err)
	require.Contains(t, prompt.Messages[0].Content.(*mcp.TextContent).Text, "commit_session")

	res, out = callTool(t, alice, "forget_me", map[string]any{"reason": "the user asked", "namespace": "support"}, nil)
	require.False(t, res.IsError, resultText(res))
	require.Equal(t, true, out["created"])
	require.True(t, strings.HasPrefix(out["requestId"].(string), "era_"))
	res, out = callTool(t, alice, "job_status", map[string]any{"jobId": out["jobId"]}, nil)
	require.False(t, res.IsError, resultText(res))
	require.Equal(t, "ERASURE", out["kind"])

	for _, action := range []string{gateway.AuditActionCommit, gateway.AuditActionFeedback, gateway.AuditActionErase} {
		require.Equal(t, []string{"mcp"}, auditVia(t, dbURL, action), action)
	}
}

// TestMCPGrants: the tools answer under the key's grants, with tool errors
// coded as over GraphQL.
func TestMCPGrants(t *testing.T) {
	t.Parallel()
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "API_KEYS_FILE": mcpKeysFile(t)})
	alice, _ := mcpClient(t, base, aliceAgentKey, nil)
	res, _ := callTool(t, alice, "remember", map[string]any{"sessionId": "s1", "namespace": "support",
		"turns": []any{map[string]any{"role": "user", "content": "alice's secret plan is a surprise party"}}}, nil)
	require.False(t, res.IsError, resultText(res))
	res, out := callTool(t, alice, "commit_session", map[string]any{"sessionId": "s1", "namespace": "support", "wait": true}, nil)
	require.Equal(t, "SUCCESS", out["status"], resultText(res))
	res, out = callTool(t, alice, "recall", map[string]any{"query": "surprise party", "namespace": "support"}, nil)
	require.NotEmpty(t, out["items"], "alice recalls her own: %s %v", resultText(res), out)

	bob, _ := mcpClient(t, base, bobAgentKey, nil)
	dash, _ := mcpClient(t, base, mcpDashKey, nil)
	unbound, _ := mcpClient(t, base, unboundAgentKey, nil)
	turn := []any{map[string]any{"role": "user", "content": "hello"}}
	for _, tc := range []struct {
		name    string
		session *mcp.ClientSession
		tool    string
		args    map[string]any
		code    string
		field   string
	}{
		{"bob recalls alice's memories", bob, "recall", map[string]any{"userId": "alice", "query": "surprise party", "namespace": "support"}, "FORBIDDEN", ""},
		{"bob writes as alice", bob, "remember", map[string]any{"userId": "alice", "sessionId": "s9", "namespace": "support", "turns": turn}, "FORBIDDEN", ""},
		{"bob writes into alice's session", bob, "remember", map[string]any{"sessionId": "s1", "namespace": "support", "turns": turn}, "FORBIDDEN", ""},
		{"bob erases alice", bob, "forget_me", map[string]any{"userId": "alice", "reason": "spite", "namespace": "support"}, "FORBIDDEN", ""},
		{"alice erases beyond her grants", alice, "forget_me", map[string]any{"reason": "tidy up"}, "FORBIDDEN", ""},
		{"a dashboard remembers", dash, "remember", map[string]any{"userId": "carol", "agentId": "helper", "sessionId": "s2", "namespace": "support", "turns": turn}, "FORBIDDEN", ""},
		{"a namespace outside the grants", alice, "remember", map[string]any{"sessionId": "s3", "namespace": "billing", "turns": turn}, "FORBIDDEN", ""},
		{"an unbound key names no user", unbound, "remember", map[string]any{"sessionId": "s4", "namespace": "support", "turns": turn}, "BAD_USER_INPUT", "userId"},
		{"an unknown role", alice, "remember", map[string]any{"sessionId": "s5", "namespace": "support", "turns": []any{map[string]any{"role": "boss", "content": "x"}}}, "BAD_USER_INPUT", "turns[0].role"},
		{"an empty content", alice, "remember", map[string]any{"sessionId": "s5", "namespace": "support", "turns": []any{map[string]any{"role": "user", "content": ""}}}, "BAD_USER_INPUT", "turns[0].content"},
		{"no turns", alice, "remember", map[string]any{"sessionId": "s5", "namespace": "support", "turns": []any{}}, "BAD_USER_INPUT", "turns"},
		{"an unknown argument", alice, "recall", map[string]any{"query": "x", "namespace": "support", "everything": true}, "BAD_USER_INPUT", "everything"},
		{"a wrong type", alice, "recall", map[string]any{"query": 7, "namespace": "support"}, "BAD_USER_INPUT", "query"},
		{"a wait too long", alice, "commit_session", map[string]any{"sessionId": "s1", "namespace": "support", "wait": true, "waitSeconds": 500}, "BAD_USER_INPUT", "waitSeconds"},
		{"another user's job", bob, "job_status", map[string]any{"jobId": "cmt_0123456789abcdef"}, "NOT_FOUND", "jobId"},
		{"an unknown feedback type", alice, "give_feedback", map[string]any{"refId": "ref_x", "type": "LOVE_IT"}, "BAD_USER_INPUT", "type"},
	} {
		res, out := callTool(t, tc.session, tc.tool, tc.args, nil)
		e := toolErrorOf(t, res, out)
		require.Equal(t, tc.code, e["code"], "%s: %s", tc.name, resultText(res))
		if tc.field != "" {
			require.Equal(t, tc.field, e["field"], tc.name)
		}
		require.NotContains(t, resultText(res), "surprise party", tc.name)
	}

	// Bob's recall of his own memories finds nothing of alice's.
	res, out = callTool(t, bob, "recall", map[string]any{"query": "surprise party", "namespace": "support"}, nil)
	require.False(t, res.IsError, resultText(res))
	require.Empty(t, out["items"])
	_, err := bob.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: mcpserver.SessionURI("acme", "s1")})
	require.Error(t, err, "alice's session graph is not bob's to read")

	// Without a key, or with a wrong one, there is no session at all.
	client := mcp.NewClient(&mcp.Implementation{Name: "anonymous", Version: "1"}, nil)
	for _, key := range []string{"", "mgw_wrong_0123456789abcdef"} {
		_, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: base + "/mcp", HTTPClient: &http.Client{Transport: bearer{key: key}}}, nil)
		require.Error(t, err, "key %q", key)
	}
}

// TestMCPDevModeAndOlderClients: in dev mode no key is needed, and a call
// that names no workspace, user, agent or namespace acts as the documented
// defaults; a client of an older protocol revision is served too, and told
// the binary's version.
func TestMCPDevModeAndOlderClients(t *testing.T) {
	t.Parallel()
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite)})
	session, _ := mcpClient(t, base, "", &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	require.Equal(t, testVersion, session.InitializeResult().ServerInfo.Version, "the handshake gives the version the version command prints")
	res, out := callTool(t, session, "remember", map[string]any{"sessionId": "s1",
		"turns": []any{map[string]any{"role": "USER", "content": "hi from dev mode"}}}, nil)
	require.False(t, res.IsError, resultText(res))
	ref := out["turns"].([]any)[0].(map[string]any)["refs"].([]any)[0].(map[string]any)["id"].(string)
	var got struct {
		MemoryRef struct{ WorkspaceID, UserID, AgentID, Namespace string }
	}
	gql(t, base, `query($id: ID!) { memoryRef(id: $id) { workspaceId userId agentId namespace } }`, map[string]any{"id": ref}, &got)
	require.Equal(t, mcpserver.DevWorkspace, got.MemoryRef.WorkspaceID)
	require.Equal(t, mcpserver.DevUser, got.MemoryRef.UserID)
	require.Equal(t, mcpserver.DevAgent, got.MemoryRef.AgentID)
	require.Equal(t, mcpserver.DefaultNamespace, got.MemoryRef.Namespace)

	res, out = callTool(t, session, "remember", map[string]any{"workspaceId": "acme", "userId": "alice", "agentId": "helper",
		"sessionId": "s2", "namespace": "support", "turns": []any{map[string]any{"role": "user", "content": "hi", "turnId": "t1"}}}, nil)
	require.False(t, res.IsError, resultText(res))
	require.Equal(t, "t1", out["turns"].([]any)[0].(map[string]any)["turnId"])
}

// TestMCPFewerIDs: a key with one grant needs no namespace; the closed sets
// are enums in one casing; a commit of a conversation nobody remembered is
// refused.
func TestMCPFewerIDs(t *testing.T) {
	t.Parallel()
	dbURL := pt.URL(t, pt.SQLite)
	base := startServerWith(t, map[string]string{"DATABASE_URL": dbURL, "API_KEYS_FILE": mcpKeysFile(t)})
	alice, _ := mcpClient(t, base, aliceAgentKey, nil)
	res, out := callTool(t, alice, "remember", map[string]any{"sessionId": "s1",
		"turns": []any{map[string]any{"content": "I grow tomatoes"}}}, nil)
	require.False(t, res.IsError, resultText(res))
	require.Equal(t, "SUCCESS", out["turns"].([]any)[0].(map[string]any)["status"], "a session id and the text are enough")
	db, err := persistence.Open(context.Background(), dbURL)
	require.NoError(t, err)
	var stored []struct{ Role, Namespace string }
	require.NoError(t, db.NewRaw("SELECT role, namespace FROM local_memories").Scan(context.Background(), &stored))
	require.NoError(t, db.Close())
	require.Equal(t, []struct{ Role, Namespace string }{{"user", "support"}}, stored, "the user's turn, in the key's one namespace")
	res, out = callTool(t, alice, "recall", map[string]any{"query": "tomatoes"}, nil)
	require.False(t, res.IsError, resultText(res))
	require.NotEmpty(t, out["items"], "the key's one namespace is searched")
	res, _ = callTool(t, alice, "commit_session", map[string]any{"sessionId": "s1"}, nil)
	require.False(t, res.IsError, resultText(res))

	res, out = callTool(t, alice, "commit_session", map[string]any{"sessionId": "never-written"}, nil)
	e := toolErrorOf(t, res, out)
	require.Equal(t, "BAD_USER_INPUT", e["code"])
	require.Equal(t, "sessionId", e["field"])
	res, out = callTool(t, alice, "recall", map[string]any{"query": "x", "backends": []any{"pinecone"}}, nil)
	require.Equal(t, "backends[0]", toolErrorOf(t, res, out)["field"])

	schemas := map[string]string{}
	for tool, err := range alice.Tools(context.Background(), nil) {
		require.NoError(t, err)
		in, _ := json.Marshal(tool.InputSchema)
		outSchema, _ := json.Marshal(tool.OutputSchema)
		schemas[tool.Name] = string(in) + string(outSchema)
	}
	require.Contains(t, schemas["remember"], `"enum":["USER","ASSISTANT","SYSTEM","TOOL"]`)
	require.Contains(t, schemas["give_feedback"], `"enum":["HELPFUL","NOT_HELPFUL","CORRECTION","DELETE_REQUEST"]`)
	require.Contains(t, schemas["recall"], `"enum":["LOCAL"]`, "the configured backends, in the case outputs use")
}

// TestMCPStdio runs `memory-gateway mcp-stdio` as a real subprocess and
// drives it with the SDK's client over its standard input and output:
// tools, a call, and progress notifications forwarded from the gateway.
func TestMCPStdio(t *testing.T) {
	t.Parallel()
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "API_KEYS_FILE": mcpKeysFile(t)})
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(aliceAgentKey+"\n"), 0o600))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", helperArgsEnv+"=mcp-stdio --url "+base+"/mcp --key-file "+keyFile)
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	progress := newProgressLog()
	client := mcp.NewClient(&mcp.Implementation{Name: "stdio-agent", Version: "1"}, &mcp.ClientOptions{ProgressNotificationHandler: progress.handle})
	ctx, cancel := context.WithTimeout(context.Background(), processTimeout)
	defer cancel()
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 10 * time.Second}, nil)
	require.NoError(t, err, "stdio proxy output:\n%s", logs.String())
	defer func() {
		require.NoError(t, session.Close())
		if t.Failed() {
			t.Logf("stdio proxy output:\n%s", logs.String())
		}
	}()

	var names []string
	for tool, err := range session.Tools(ctx, nil) {
		require.NoError(t, err)
		names = append(names, tool.Name)
	}
	require.Contains(t, names, "remember")
	require.Contains(t, names, "forget_me")

	res, out := callTool(t, session, "remember", map[string]any{"sessionId": "s1", "namespace": "support",
		"turns": []any{map[string]any{"role": "user", "content": "I live in Lisbon"}}}, nil)
	require.False(t, res.IsError, resultText(res))
	require.Len(t, out["turns"], 1)

	res, out = callTool(t, session, "commit_session", map[string]any{"sessionId": "s1", "namespace": "support", "wait": true}, "stdio-commit")
	require.False(t, res.IsError, resultText(res))
	require.Equal(t, "SUCCESS", out["status"])
	progress.waitFor(t, "SUCCESS") // forwarded from the gateway

	res, out = callTool(t, session, "recall", map[string]any{"query": "Lisbon", "namespace": "support"}, nil)
	require.False(t, res.IsError, resultText(res))
	require.Contains(t, resultText(res), "Lisbon")
	require.NotEmpty(t, out["items"])

	res, out = callTool(t, session, "recall", map[string]any{"userId": "bob", "query": "x", "namespace": "support"}, nil)
	require.Equal(t, "FORBIDDEN", toolErrorOf(t, res, out)["code"], "errors come through unchanged")

	prompt, err := session.GetPrompt(ctx, &mcp.GetPromptParams{Name: "use_memory"})
	require.NoError(t, err)
	require.NotEmpty(t, prompt.Messages)
}

// TestMCPEdgeLimits: /mcp keeps the GraphQL endpoint's body limit,
// per-principal rate limits and CORS, and GraphQL's writes are audited via
// "graphql".
func TestMCPEdgeLimits(t *testing.T) {
	t.Parallel()
	dbURL := pt.URL(t, pt.SQLite)
	base := startServerWith(t, map[string]string{
		"DATABASE_URL": dbURL, "API_KEYS_FILE": mcpKeysFile(t), "MAX_BODY_BYTES": "4096",
		"RATE_LIMIT_INGEST": "0.01", "RATE_LIMIT_INGEST_BURST": "1", "CORS_ALLOWED_ORIGINS": "https://console.example",
	})
	alice, _ := mcpClient(t, base, aliceAgentKey, nil)
	turn := func(content string) map[string]any {
		return map[string]any{"sessionId": "s1", "namespace": "support", "turns": []any{map[string]any{"role": "user", "content": content}}}
	}

	res, _ := callTool(t, alice, "remember", turn("first"), nil)
	require.False(t, res.IsError, resultText(res))
	res, out := callTool(t, alice, "remember", turn("second"), nil)
	e := toolErrorOf(t, res, out)
	require.Equal(t, "RATE_LIMITED", e["code"])
	require.Greater(t, e["retryAfterMs"], 0.0)

	preflight, _ := http.NewRequest(http.MethodOptions, base+"/mcp", nil)
	preflight.Header.Set("Origin", "https://console.example")
	preflight.Header.Set("Access-Control-Request-Method", http.MethodPost)
	preflight.Header.Set("Access-Control-Request-Headers", "authorization, content-type, mcp-protocol-version")
	resp, err := http.DefaultClient.Do(preflight)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, "https://console.example", resp.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "mcp-protocol-version")

	status, body := call(t, base, unboundAgentKey, `mutation { ingestConversationTurn(input: {workspaceId: "acme", userId: "carol", agentId: "helper",
		sessionId: "g1", turnId: "t1", namespace: "support", role: USER, content: "over graphql"}) { status } }`, nil)
	require.Equal(t, http.StatusOK, status, body)
	require.ElementsMatch(t, []string{"mcp", "graphql"}, auditVia(t, dbURL, gateway.AuditActionIngest))

	// The SDK's client gives up its session on a refused request: a new one.
	bob, _ := mcpClient(t, base, bobAgentKey, nil)
	_, err = bob.CallTool(context.Background(), &mcp.CallToolParams{Name: "remember", Arguments: turn(strings.Repeat("x", 5000))})
	require.ErrorContains(t, err, "Request Entity Too Large", "a body over MAX_BODY_BYTES is refused")
}

// TestMCPWaitEndsWithTheRequest: a client that gives up on commit_session's
// wait ends it on the server (its subscription is released), instead of
// holding it for waitSeconds.
func TestMCPWaitEndsWithTheRequest(t *testing.T) {
	t.Parallel()
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "API_KEYS_FILE": mcpKeysFile(t), "WORKER": "false"})
	alice, _ := mcpClient(t, base, aliceAgentKey, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	res, _ := callTool(t, alice, "remember", map[string]any{"sessionId": "s1", "namespace": "support",
		"turns": []any{map[string]any{"role": "user", "content": "hello"}}}, nil)
	require.False(t, res.IsError, resultText(res))

	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() {
		_, err := alice.CallTool(ctx, &mcp.CallToolParams{Name: "commit_session", Arguments: map[string]any{
			"sessionId": "s1", "namespace": "support", "wait": true, "waitSeconds": 120}})
		waiting <- err
	}()
	live := func() float64 {
		resp := getMetrics(t, base)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "memory_gateway_subscriptions_active "); ok {
				f, err := strconv.ParseFloat(v, 64)
				require.NoError(t, err)
				return f
			}
		}
		return -1
	}
	require.Eventually(t, func() bool { return live() == 1 }, processTimeout, 10*time.Millisecond, "the wait holds a subscription")
	cancel()
	require.Error(t, <-waiting)
	require.Eventually(t, func() bool { return live() == 0 }, 10*time.Second, 10*time.Millisecond, "the wait ended with the request")
}

// TestMCPStdioKeyStaysSecret: the usage text never shows the key taken
// from the environment.
func TestMCPStdioKeyStaysSecret(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	env := map[string]string{"MEMORY_GATEWAY_KEY": "mgw_secret_0123456789abcdef", "MEMORY_GATEWAY_URL": "http://127.0.0.1:1/mcp"}
	_, err := parseMCPStdioConfig([]string{"--bogus"}, func(k string) string { return env[k] }, &out)
	require.Error(t, err)
	require.NotContains(t, out.String(), "mgw_secret")
	cfg, err := parseMCPStdioConfig(nil, func(k string) string { return env[k] }, &out)
	require.NoError(t, err)
	require.Equal(t, "mgw_secret_0123456789abcdef", cfg.Key, "the environment's key is used")
}

// TestMCPStdioURLCheck: the key is never sent in the clear to another
// machine unless asked for.
func TestMCPStdioURLCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"http://127.0.0.1:8080/mcp", false, true},
		{"http://localhost:8080/mcp", false, true},
		{"http://[::1]:8080/mcp", false, true},
		{"https://gateway.example/mcp", false, true},
		{"http://gateway.example/mcp", false, false},
		{"http://10.0.0.5/mcp", false, false},
		{"http://gateway.example/mcp", true, true},
		{"ftp://gateway.example/mcp", true, false},
		{"gateway.example/mcp", false, false},
		// Look-alikes of a loopback host are other machines.
		{"HTTP://gateway.example/mcp", false, false},
		{"HtTp://127.0.0.1:8080/mcp", false, true},
		{"http://localhost.gateway.example/mcp", false, false},
		{"http://127.0.0.1.nip.io/mcp", false, false},
		{"http://127.0.0.1@gateway.example/mcp", false, false},
		{"http://localhost:8080@gateway.example/mcp", false, false},
		{"http://[::1]@gateway.example/mcp", false, false},
		{"http://gateway.example#@127.0.0.1/mcp", false, false},
		{"http://gateway.example?@127.0.0.1/mcp", false, false},
		{"http://[::ffff:127.0.0.1]:8080/mcp", false, true},
		{"http://[::ffff:10.0.0.5]:8080/mcp", false, false},
		{"http://0.0.0.0:8080/mcp", false, false},
		{"http://2130706433/mcp", false, false},
	} {
		args := []string{"--url", tc.url}
		if tc.insecure {
			args = append(args, "--allow-insecure-http")
		}
		_, err := parseMCPStdioConfig(args, func(string) string { return "" }, io.Discard)
		require.Equal(t, tc.ok, err == nil, "%s insecure=%v: %v", tc.url, tc.insecure, err)
	}
}

// TestMCPProxySurvivesItsClientAndRestarts: progress tokens of every JSON
// type reach the gateway and come back; a gateway that goes away fails the
// calls with a coded tool error, and once it is back, calls succeed again.
func TestMCPProxySurvivesItsClientAndRestarts(t *testing.T) {
	t.Parallel()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := listener.Addr().String()
	require.NoError(t, listener.Close())
	env := map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "API_KEYS_FILE": mcpKeysFile(t), "LISTEN_ADDR": addr}
	start := func() (stop func()) {
		cfg := testConfig(t, env)
		ctx, cancel := context.WithCancel(context.Background())
		ready, done := make(chan string, 1), make(chan error, 1)
		go func() { done <- serve(ctx, cfg, slog.New(slog.DiscardHandler), ready) }()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("serve exited: %v", err)
		}
		return func() { cancel(); require.NoError(t, <-done) }
	}
	// The client starts the proxy before the gateway is up.
	proxy, err := mcpserver.NewProxy(context.Background(), mcpserver.ProxyConfig{URL: "http://" + addr + "/mcp", Key: aliceAgentKey})
	require.NoError(t, err, "the proxy starts without its gateway")
	t.Cleanup(func() { _ = proxy.Close() })
	local, remote := mcp.NewInMemoryTransports()
	served, err := proxy.Server().Connect(context.Background(), remote, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = served.Close() })
	progress := newProgressLog()
	toolsChanged := make(chan struct{}, 1)
	session, err := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: progress.handle,
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case toolsChanged <- struct{}{}:
			default:
			}
		},
	}).Connect(context.Background(), local, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = session.Close() })
	recallBackends := func() string {
		for tool, err := range session.Tools(context.Background(), nil) {
			require.NoError(t, err)
			if tool.Name == "recall" {
				schema, _ := json.Marshal(tool.InputSchema)
				return string(schema)
			}
		}
		t.Fatal("no recall tool")
		return ""
	}
	require.NotContains(t, recallBackends(), "LOCAL", "this version's own tools, no backend known yet")

	remember := map[string]any{"sessionId": "s1", "namespace": "support", "turns": []any{map[string]any{"role": "user", "content": "I live in Porto"}}}
	res, _ := callTool(t, session, "remember", remember, nil)
	require.Equal(t, "UNAVAILABLE", parseToolError(t, resultText(res))["code"], resultText(res))
	stop := start()
	res, _ = callTool(t, session, "remember", remember, nil)
	require.False(t, res.IsError, resultText(res))
	<-toolsChanged
	require.Contains(t, recallBackends(), `"enum":["LOCAL"]`, "the gateway's own tools, once it is reached")
	for i, token := range []any{float64(3), "three", 4.5} {
		params := &mcp.CallToolParams{Name: "commit_session", Arguments: map[string]any{
			"sessionId": "s1", "namespace": "support", "wait": true, "idempotencyKey": fmt.Sprintf("c%d", i),
		}, Meta: mcp.Meta{"progressToken": token}}
		res, err := session.CallTool(context.Background(), params)
		require.NoError(t, err, "a progress token of type %T", token)
		require.False(t, res.IsError, resultText(res))
	}
	progress.waitFor(t, "SUCCESS")

	stop()
	res, _ = callTool(t, session, "remember", remember, nil)
	require.True(t, res.IsError)
	require.Equal(t, "UNAVAILABLE", parseToolError(t, resultText(res))["code"], resultText(res))
	stop = start()
	defer stop()
	res, _ = callTool(t, session, "remember", remember, nil)
	require.False(t, res.IsError, "the gateway is back: %s", resultText(res))
}

// TestMCPProxyAnswersAfterItsProgressIsRead: a call's answer reaches the
// client only after the client has read the call's progress notifications —
// the proxy pings the client after the last one and answers once the ping
// is answered. The TypeScript SDK drops a notification it reads together
// with its call's answer (it handles notifications a moment later, and the
// answer removes the call's progress handler); the conformance run's
// official client lost every notification of a call whose gateway answer
// came before them.
func TestMCPProxyAnswersAfterItsProgressIsRead(t *testing.T) {
	t.Parallel()
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "API_KEYS_FILE": mcpKeysFile(t)})
	proxy, err := mcpserver.NewProxy(context.Background(), mcpserver.ProxyConfig{URL: base + "/mcp", Key: aliceAgentKey})
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	local, remote := mcp.NewInMemoryTransports()
	served, err := proxy.Server().Connect(context.Background(), remote, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = served.Close() })
	read := &readLog{Transport: local}
	session, err := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "1"}, nil).Connect(context.Background(), read, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = session.Close() })

	res, _ := callTool(t, session, "remember", map[string]any{"sessionId": "s1", "namespace": "support",
		"turns": []any{map[string]any{"role": "user", "content": "I live in Porto"}}}, nil)
	require.False(t, res.IsError, resultText(res))
	for i, token := range []any{float64(7), "seven"} {
		read.reset()
		// The token goes in _meta as the client chose it: the TypeScript
		// SDK's is its numeric request id.
		res, err := session.CallTool(context.Background(), &mcp.CallToolParams{Name: "commit_session", Arguments: map[string]any{
			"sessionId": "s1", "namespace": "support", "wait": true, "idempotencyKey": fmt.Sprintf("c%d", i),
		}, Meta: mcp.Meta{"progressToken": token}})
		require.NoError(t, err)
		require.False(t, res.IsError, resultText(res))
		got := read.all()
		lastProgress, ping, answer := -1, -1, -1
		for j, m := range got {
			switch {
			case m == "notification notifications/progress":
				lastProgress = j
			case m == "request ping" && lastProgress >= 0:
				ping = j
			case strings.HasPrefix(m, "response"):
				answer = j
			}
		}
		require.GreaterOrEqual(t, lastProgress, 0, "token %v: no progress in %q", token, got)
		require.Greater(t, ping, lastProgress, "token %v: no ping after the progress: %q", token, got)
		require.Greater(t, answer, ping, "token %v: the answer came before the ping was answered: %q", token, got)
	}
}

// readLog is a client transport that records what the client reads, in
// order: "request <method>", "notification <method>" or "response".
type readLog struct {
	mcp.Transport
	mu   sync.Mutex
	read []string
}

func (l *readLog) Connect(ctx context.Context) (mcp.Connection, error) {
	conn, err := l.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &readLogConn{Connection: conn, log: l}, nil
}

func (l *readLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.read = nil
}

func (l *readLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.read)
}

type readLogConn struct {
	mcp.Connection
	log *readLog
}

func (c *readLogConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	m, err := c.Connection.Read(ctx)
	if err != nil {
		return m, err
	}
	entry := "response"
	if r, ok := m.(*jsonrpc.Request); ok {
		entry = "notification " + r.Method
		if r.ID.IsValid() {
			entry = "request " + r.Method
		}
	}
	c.log.mu.Lock()
	c.log.read = append(c.log.read, entry)
	c.log.mu.Unlock()
	return m, nil
}

// TestMCPOwnMemories: an agent lists, reads and forgets its user's
// memories; nobody else reads their text; whether forgetting deletes at
// once or waits for review is the workspace's policy, and the result says
// which.
func TestMCPOwnMemories(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"", `{"workspaces": {"acme": ["HELPFUL", "NOT_HELPFUL", "DELETE_REQUEST"]}}`} {
		dbURL := pt.URL(t, pt.SQLite)
		env := map[string]string{"DATABASE_URL": dbURL, "API_KEYS_FILE": mcpKeysFile(t), "WORKER_POLL_INTERVAL": "50ms"}
		if policy != "" {
			env["FEEDBACK_AUTO_ACCEPT"] = policy
		}
		base := startServerWith(t, env)
		alice, _ := mcpClient(t, base, aliceAgentKey, nil)
		res, _ := callTool(t, alice, "remember", map[string]any{"sessionId": "s1", "turns": []any{
			map[string]any{"role": "USER", "content": "I am allergic to peanuts"},
			map[string]any{"role": "USER", "content": "my sister is called Ines"},
		}}, nil)
		require.False(t, res.IsError, resultText(res))

		res, out := callTool(t, alice, "list_memories", map[string]any{"first": 1}, nil)
		require.False(t, res.IsError, resultText(res))
		first := out["memories"].([]any)
		require.Len(t, first, 1)
		require.Equal(t, "my sister is called Ines", first[0].(map[string]any)["text"], "newest first, with its text")
		cursor, _ := out["nextCursor"].(string)
		require.NotEmpty(t, cursor)
		res, out = callTool(t, alice, "list_memories", map[string]any{"first": 1, "after": cursor}, nil)
		require.False(t, res.IsError, resultText(res))
		peanuts := out["memories"].([]any)[0].(map[string]any)
		require.Equal(t, "I am allergic to peanuts", peanuts["text"])
		refID := peanuts["refId"].(string)

		for _, filter := range []map[string]any{{"namespace": "support/billing"}, {"type": "PROFILE"}} {
			res, out = callTool(t, alice, "list_memories", filter, nil)
			require.False(t, res.IsError, resultText(res))
			require.Empty(t, out["memories"], "filtered by %v", filter)
		}
		res, out = callTool(t, alice, "list_memories", map[string]any{"namespace": "support", "type": "MESSAGE_MEMORY"}, nil)
		require.False(t, res.IsError, resultText(res))
		require.Len(t, out["memories"], 2)

		res, out = callTool(t, alice, "get_memory", map[string]any{"refId": refID}, nil)
		require.False(t, res.IsError, resultText(res))
		require.Equal(t, "I am allergic to peanuts", out["text"])
		require.Equal(t, "LOCAL", out["backend"])
		require.NotEmpty(t, out["provenanceId"])

		bob, _ := mcpClient(t, base, bobAgentKey, nil)
		res, out = callTool(t, bob, "get_memory", map[string]any{"refId": refID}, nil)
		require.Equal(t, "NOT_FOUND", toolErrorOf(t, res, out)["code"], "bob reads nothing of alice's")
		dash, _ := mcpClient(t, base, mcpDashKey, nil)
		res, out = callTool(t, dash, "list_memories", map[string]any{"userId": "alice"}, nil)
		require.Equal(t, "FORBIDDEN", toolErrorOf(t, res, out)["code"], "a dashboard reads no conversation text")
		texts := gqlData(t, base, mcpDashKey, `query($ids: [ID!]!) { memoryTexts(ids: $ids) { text } }`, map[string]any{"ids": []string{refID}})
		require.Empty(t, texts["memoryTexts"], "nor over GraphQL")
		texts = gqlData(t, base, aliceAgentKey, `query($ids: [ID!]!) { memoryTexts(ids: $ids) { text ref { id } } }`, map[string]any{"ids": []string{refID}})
		require.Equal(t, "I am allergic to peanuts", texts["memoryTexts"].([]any)[0].(map[string]any)["text"])

		res, out = callTool(t, alice, "forget_memory", map[string]any{"refId": refID, "reason": "the user asked"}, nil)
		require.False(t, res.IsError, resultText(res))
		require.Equal(t, true, out["created"])
		res, again := callTool(t, alice, "forget_memory", map[string]any{"refId": refID, "reason": "the user asked"}, nil)
		require.False(t, res.IsError, resultText(res))
		require.Equal(t, false, again["created"], "a retry records the request once")
		require.Equal(t, out["feedbackId"], again["feedbackId"])
		require.Equal(t, []string{"mcp"}, auditVia(t, dbURL, gateway.AuditActionFeedback), "audited once, via mcp")
		if policy == "" {
			require.Equal(t, "AWAITING_REVIEW", out["mode"], resultText(res))
			require.Equal(t, "RECEIVED", out["status"])
			continue
		}
		require.Equal(t, "DELETING", out["mode"], resultText(res))
		waitJobStatusAs(t, base, aliceAgentKey, out["jobId"].(string), "SUCCESS")
		res, again = callTool(t, alice, "forget_memory", map[string]any{"refId": refID, "reason": "the user asked"}, nil)
		require.False(t, res.IsError, resultText(res))
		require.Equal(t, false, again["created"], "a retry after the deletion answers the request made")
		res, out = callTool(t, alice, "get_memory", map[string]any{"refId": refID}, nil)
		require.Equal(t, "NOT_FOUND", toolErrorOf(t, res, out)["code"], "a forgotten memory is not read")
		res, out = callTool(t, alice, "list_memories", nil, nil)
		require.False(t, res.IsError, resultText(res))
		for _, m := range out["memories"].([]any) {
			require.NotEqual(t, refID, m.(map[string]any)["refId"], "the forgotten memory is gone")
		}
	}
}

// TestMCPObservability: tool calls are counted per tool and outcome, and the
// access log line of the call names the principal and the tool.
func TestMCPObservability(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	base := startServerLogging(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "API_KEYS_FILE": mcpKeysFile(t)}, logs)
	alice, _ := mcpClient(t, base, aliceAgentKey, nil)
	res, _ := callTool(t, alice, "remember", map[string]any{"sessionId": "s1",
		"turns": []any{map[string]any{"role": "USER", "content": "my locker code is 4411"}}}, nil)
	require.False(t, res.IsError, resultText(res))
	res, _ = callTool(t, alice, "remember", map[string]any{"sessionId": "s1",
		"turns": []any{map[string]any{"role": "narrator", "content": "x"}}}, nil)
	require.True(t, res.IsError)

	_, samples := scrapeMetrics(t, base)
	require.Equal(t, 1.0, sum(samples, "memory_gateway_mcp_tool_calls_total", `tool="remember"`, `outcome="ok"`))
	require.Equal(t, 1.0, sum(samples, "memory_gateway_mcp_tool_calls_total", `tool="remember"`, `outcome="BAD_USER_INPUT"`))
	require.Equal(t, 2.0, sum(samples, "memory_gateway_mcp_tool_duration_seconds_count", `tool="remember"`))

	// A request's log line is written once its handler returns, which may
	// be after the client has read the answer.
	logs.await(t, func(written string) bool { return strings.Count(written, `"operation_type":"mcp_tool"`) >= 2 })
	outcomes := map[any]bool{}
	for _, line := range strings.Split(logs.String(), "\n") {
		if !strings.Contains(line, `"msg":"http: request"`) || !strings.Contains(line, `"operation_type":"mcp_tool"`) {
			continue
		}
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &entry))
		require.Equal(t, "alice-helper", entry["principal"])
		require.Equal(t, "remember", entry["operation"])
		outcomes[entry["outcome"]] = true
	}
	require.Equal(t, map[any]bool{"ok": true, "BAD_USER_INPUT": true}, outcomes, "the access log names every call")
	require.NotContains(t, logs.String(), "locker code", "no content in the logs")
}

// TestMCPHonestRecall: what recall, its query, the instructions and the
// use_memory prompt say about phrasing a query follows the configured
// backends, and the advice for the local backend is true of it.
func TestMCPHonestRecall(t *testing.T) {
	t.Parallel()
	ov, em := openvikingtest.New(), evermemostest.New()
	t.Cleanup(ov.Close)
	t.Cleanup(em.Close)
	for _, tc := range []struct {
		name     string
		env      map[string]string
		says     string
		query    string
		prompt   string
		notSaids []string
	}{
		{"local only", map[string]string{}, "matches words, not meaning", "Words the memory would contain",
			`"what does the user eat?" does not`, []string{"by meaning"}},
		{"semantic backends only", map[string]string{"OPENVIKING_URL": ov.URL, "EVERMEMOS_URL": em.URL, "LOCAL_BACKEND": "false"},
			"The configured backends (openviking, evermemos) match by meaning", "the user's question or the topic at hand",
			"with the user's question or the topic at hand as the query", []string{"matches words", "words only"}},
		{"with semantic backends", map[string]string{"OPENVIKING_URL": ov.URL, "EVERMEMOS_URL": em.URL},
			"openviking, evermemos match by meaning; local matches words only", "plus the words a memory would contain",
			"the user's question plus the words", []string{"not meaning"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite)}
			for k, v := range tc.env {
				env[k] = v
			}
			session, _ := mcpClient(t, startServerWith(t, env), "", nil)
			ctx := context.Background()
			var recall *mcp.Tool
			for tool, err := range session.Tools(ctx, nil) {
				require.NoError(t, err)
				if tool.Name == "recall" {
					recall = tool
				}
			}
			require.NotNil(t, recall)
			require.Contains(t, recall.Description, tc.says)
			schema, err := json.Marshal(recall.InputSchema)
			require.NoError(t, err)
			require.Contains(t, string(schema), tc.query)
			require.Contains(t, session.InitializeResult().Instructions, tc.says)
			prompt, err := session.GetPrompt(ctx, &mcp.GetPromptParams{Name: "use_memory"})
			require.NoError(t, err)
			text := prompt.Messages[0].Content.(*mcp.TextContent).Text
			require.Contains(t, text, tc.prompt)
			for _, wrong := range tc.notSaids {
				require.NotContains(t, recall.Description+string(schema)+text, wrong)
			}
		})
	}

	t.Run("the local advice is true", func(t *testing.T) {
		t.Parallel()
		session, _ := mcpClient(t, startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite)}), "", nil)
		res, _ := callTool(t, session, "remember", map[string]any{"sessionId": "s1",
			"turns": []any{map[string]any{"role": "USER", "content": "I'm vegetarian"}}}, nil)
		require.False(t, res.IsError, resultText(res))
		_, out := callTool(t, session, "recall", map[string]any{"query": "what does the user eat?"}, nil)
		require.Empty(t, out["items"], "a question misses a memory without its words")
		_, out = callTool(t, session, "recall", map[string]any{"query": "vegetarian vegan diet food"}, nil)
		require.Len(t, out["items"], 1, "the words the memory would hold find it")
	})
}
