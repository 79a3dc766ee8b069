package app

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// getExport asks GET /v1/export with a key.
func getExport(t *testing.T, base, key string, q url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/export?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// TestExportEndpoint: GET /v1/export streams NDJSON to a key that reads the
// whole subject, and refuses everyone else with a coded JSON error.
func TestExportEndpoint(t *testing.T) {
	t.Parallel()
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "API_KEYS_FILE": keysFile(t)})
	status, out := call(t, base, agentKeyA, `mutation { ingestConversationTurn(input: {workspaceId: "acme", userId: "alice", agentId: "helper",
		sessionId: "s1", turnId: "t1", namespace: "support", role: USER, content: "my favourite tea is jasmine"}) { status } }`, nil)
	require.Equal(t, http.StatusOK, status, out)

	resp := getExport(t, base, dashKeyA, url.Values{"workspaceId": {"acme"}, "userId": {"alice"}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/x-ndjson", resp.Header.Get("Content-Type"))
	var types []string
	texts := map[string]bool{}
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		var line struct {
			Type   string
			Memory *struct{ Text string }
		}
		require.NoError(t, json.Unmarshal(scanner.Bytes(), &line))
		types = append(types, line.Type)
		if line.Memory != nil {
			texts[line.Memory.Text] = true
		}
	}
	require.Equal(t, []string{"header", "ref", "memory", "backend", "end"}, types)
	require.True(t, texts["my favourite tea is jasmine"])

	for _, tc := range []struct {
		name, key string
		q         url.Values
		status    int
		code      string
	}{
		{"another workspace", adminKeyB, url.Values{"workspaceId": {"acme"}, "userId": {"alice"}}, http.StatusForbidden, "FORBIDDEN"},
		{"a key reading part of it", agentKeyA, url.Values{"workspaceId": {"acme"}, "userId": {"alice"}}, http.StatusForbidden, "FORBIDDEN"},
		{"no user", dashKeyA, url.Values{"workspaceId": {"acme"}}, http.StatusBadRequest, "BAD_USER_INPUT"},
		{"no key", "", url.Values{"workspaceId": {"acme"}, "userId": {"alice"}}, http.StatusUnauthorized, "UNAUTHENTICATED"},
	} {
		resp := getExport(t, base, tc.key, tc.q)
		require.Equal(t, tc.status, resp.StatusCode, tc.name)
		var body struct {
			Errors []struct {
				Extensions struct{ Code string }
			}
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), tc.name)
		require.Equal(t, tc.code, body.Errors[0].Extensions.Code, tc.name)
	}
}
