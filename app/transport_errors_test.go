package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// TestEveryErrorIsCoded: transport-level refusals — a body that is not JSON,
// not an object or of the wrong shape, an unsupported content type, a GET
// asking for a mutation, an unknown operation, a body too large — and
// coercion failures all carry extensions.code; no message echoes the body
// or names a Go type.
func TestEveryErrorIsCoded(t *testing.T) {
	t.Parallel()
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "MAX_BODY_BYTES": "65536"})
	huge := `{"query": "` + strings.Repeat("x", 50_000)
	ingest := `mutation($in: IngestConversationTurnInput!) { ingestConversationTurn(input: $in) { status } }`
	full := func(extra string) string {
		return `{"query": "` + strings.ReplaceAll(ingest, `"`, `\"`) + `", "variables": {"in": {"workspaceId": "w", "userId": "u", "agentId": "a", "sessionId": "s", "turnId": "t", "namespace": "n", "role": "USER", "content": "c"` + extra + `}}}`
	}
	for _, tc := range []struct {
		name, method, contentType, body, query string
		code                                   string
	}{
		{"invalid JSON", http.MethodPost, "application/json", huge, "", "BAD_REQUEST"},
		{"a JSON array", http.MethodPost, "application/json", `[{"query": "{ __typename }"}]`, "", "BAD_REQUEST"},
		{"query not a string", http.MethodPost, "application/json", `{"query": 5}`, "", "BAD_REQUEST"},
		{"variables not an object", http.MethodPost, "application/json", `{"query": "{ __typename }", "variables": [1]}`, "", "BAD_REQUEST"},
		{"unsupported content type", http.MethodPost, "text/plain", `{"query": "{ __typename }"}`, "", "UNSUPPORTED_MEDIA_TYPE"},
		{"GET with a mutation", http.MethodGet, "", "", "mutation { processOutbox { processedCount } }", "METHOD_NOT_ALLOWED"},
		{"unknown operation name", http.MethodPost, "application/json", `{"query": "query A { __typename }", "operationName": "B"}`, "", ""},
		{"body too large", http.MethodPost, "application/json", `{"query": "` + strings.Repeat("y", 70_000) + `"}`, "", "BAD_USER_INPUT"},
		{"metadata not an object", http.MethodPost, "application/json", full(`, "metadata": [1, 2]`), "", "BAD_USER_INPUT"},
		{"an input given as a list", http.MethodPost, "application/json", `{"query": "` + strings.ReplaceAll(ingest, `"`, `\"`) + `", "variables": {"in": [1]}}`, "", "BAD_USER_INPUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req *http.Request
			if tc.method == http.MethodGet {
				req, _ = http.NewRequest(http.MethodGet, base+"/graphql?query="+url.QueryEscape(tc.query), nil)
			} else {
				req, _ = http.NewRequest(tc.method, base+"/graphql", bytes.NewReader([]byte(tc.body)))
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			var out struct {
				Errors []struct {
					Message    string
					Extensions map[string]any
				}
			}
			require.NoError(t, json.Unmarshal(raw, &out), string(raw))
			require.NotEmpty(t, out.Errors, string(raw))
			e := out.Errors[0]
			require.NotEmpty(t, e.Extensions["code"], "coded: %s", raw)
			if tc.code != "" {
				require.Equal(t, tc.code, e.Extensions["code"], string(raw))
			}
			require.Less(t, len(raw), 2000, "the body is not echoed")
			for _, goWord := range []string{"interface {}", "map[string]", "[]interface", "RawParams", "Go value", "slice"} {
				require.NotContains(t, e.Message, goWord)
			}
		})
	}
}

// TestIntrospectionRefusalIsCoded: outside dev mode, asking for the schema
// is a coded refusal (FORBIDDEN), not an internal error; __typename works.
func TestIntrospectionRefusalIsCoded(t *testing.T) {
	t.Parallel()
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite), "API_KEYS_FILE": keysFile(t)})
	for _, q := range []string{`{ __schema { types { name } } }`, `{ __type(name: "Query") { name } }`, `query { ...F } fragment F on Query { __schema { queryType { name } } }`} {
		_, out := call(t, base, dashKeyA, q, nil)
		require.Equal(t, "FORBIDDEN", errorCode(out), q)
	}
	_, out := call(t, base, dashKeyA, `{ __typename }`, nil)
	require.Empty(t, out["errors"])
}
