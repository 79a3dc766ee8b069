package main

import (
	"bytes"
	"encoding/json"
	"net/http"
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
