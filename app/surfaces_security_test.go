package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// callWith posts an operation with a key and extra headers and returns the
// decoded answer.
func callWith(t *testing.T, base, key, query string, headers map[string]string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// TestStatementCountsOnlyForWhoSeesEverything: a statement count measures
// data the caller may not read, so only the operator and an admin of a
// whole workspace get one; every other key's header is ignored.
func TestStatementCountsOnlyForWhoSeesEverything(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, d), "API_KEYS_FILE": keysFile(t)})
			count := map[string]string{resolvers.StatementsHeader: "count"}
			for key, counted := range map[string]bool{agentKeyA: false, dashKeyA: false, adminKeyB: true, operatorKey: true} {
				out := callWith(t, base, key, `{ memoryRefs(first: 1) { edges { cursor } } }`, count)
				require.Nil(t, out["errors"])
				ext, _ := out["extensions"].(map[string]any)
				_, has := ext["statements"]
				require.Equal(t, counted, has, "key %s", key[:12])
			}
		})
	}
}

// TestRestrictedDashboardReadsNoContentElsewhere: a DASHBOARD key held to
// the trusted documents reads conversation content nowhere else — not
// through MCP's recall or memory tools, not through the export.
func TestRestrictedDashboardReadsNoContentElsewhere(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			base := startServerWith(t, map[string]string{
				"DATABASE_URL": pt.URL(t, d), "API_KEYS_FILE": keysFile(t), "TRUSTED_DOCUMENTS_FILE": trustedDocsFile(t),
			})
			status, out := call(t, base, agentKeyA, e2eIngest, map[string]any{"in": map[string]any{
				"workspaceId": "acme", "userId": "alice", "agentId": "helper", "sessionId": "s1", "turnId": "t1",
				"namespace": "support", "role": "USER", "content": "my blood type is AB negative",
			}})
			require.Equal(t, http.StatusOK, status, "%v", out)

			dash, _ := mcpClient(t, base, dashKeyA, nil)
			res, structured := callTool(t, dash, "recall", map[string]any{"workspaceId": "acme", "userId": "alice", "agentId": "helper", "query": "blood type"}, nil)
			require.Equal(t, "FORBIDDEN", toolErrorOf(t, res, structured)["code"], "recall: %s", resultText(res))
			require.NotContains(t, resultText(res), "AB negative")
			res, structured = callTool(t, dash, "list_memories", map[string]any{"workspaceId": "acme", "userId": "alice"}, nil)
			require.Equal(t, "FORBIDDEN", toolErrorOf(t, res, structured)["code"], "list_memories")

			export := func(key string) (int, string) {
				resp := getExport(t, base, key, url.Values{"workspaceId": {"acme"}, "userId": {"alice"}})
				raw, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				return resp.StatusCode, string(raw)
			}
			status, body := export(dashKeyA)
			require.Equal(t, http.StatusForbidden, status, body)
			require.NotContains(t, body, "AB negative")
			status, body = export(operatorKey)
			require.Equal(t, http.StatusOK, status, "an unrestricted key still exports")
			require.Contains(t, body, "AB negative")
		})
	}
}
