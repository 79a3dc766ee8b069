package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// TestBodiesTheStoresCannotHoldAreRefused: invalid UTF-8 in the raw body
// and lone surrogate escapes — which JSON decoding would silently replace —
// are BAD_USER_INPUT naming the field, on both stores, and nothing runs;
// a proper surrogate pair and an escaped backslash pass.
func TestBodiesTheStoresCannotHoldAreRefused(t *testing.T) {
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			base := startServer(t, pt.URL(t, d))
			post := func(body []byte) (int, map[string]any) {
				resp, err := http.Post(base+"/graphql", "application/json", bytes.NewReader(body))
				require.NoError(t, err)
				defer func() { _ = resp.Body.Close() }()
				var out map[string]any
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
				return resp.StatusCode, out
			}
			mutation := `mutation($in: IngestConversationTurnInput!) { ingestConversationTurn(input: $in) { status } }`
			turn := func(content string) []byte {
				return []byte(`{"query": "` + mutation + `", "variables": {"in": {"workspaceId": "ws", "userId": "u", "agentId": "a", "sessionId": "s", "turnId": "t", "namespace": "n", "role": "USER", "content": "` + content + `"}}}`)
			}
			for name, tc := range map[string]struct {
				body  []byte
				field string
			}{
				"invalid UTF-8":       {turn("bad \xff bytes"), "in.content"},
				"lone high surrogate": {turn(`bad \ud800 here`), "in.content"},
				"lone low surrogate":  {turn(`bad \udc00`), "in.content"},
				"in the query":        {[]byte(`{"query": "{ __typename } # \udfff"}`), "query"},
				"in a key":            {[]byte(`{"query": "{ __typename }", "variables": {"in": {"k\ud800": 1}}}`), "in"},
			} {
				status, out := post(tc.body)
				require.Equal(t, http.StatusBadRequest, status, name)
				require.Equal(t, "BAD_USER_INPUT", errorCode(out), name)
				ext := out["errors"].([]any)[0].(map[string]any)["extensions"].(map[string]any)
				require.Equal(t, tc.field, ext["field"], name)
			}
			status, out := post(turn(`a pair \ud83d\ude00 and an escaped backslash \\ud800`))
			require.Equal(t, http.StatusOK, status, "%v", out)
			require.Empty(t, out["errors"])

			resp, err := http.Get(base + "/graphql?query=" + url.QueryEscape("{ __typename }") + "&variables=%7B%22x%22%3A%22%FF%22%7D")
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "GET variables are held to the same rule")
		})
	}
}
