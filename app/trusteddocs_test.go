package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/memory-gateway/memory-gateway/console"
	"github.com/memory-gateway/memory-gateway/graph"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// trustedDocsFile writes what `memory-gateway trusted-documents` prints,
// with extra documents merged in, and returns its path.
func trustedDocsFile(t *testing.T, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	var args []string
	if len(extra) > 0 {
		merged := map[string]string{}
		for _, d := range extra {
			merged[resolvers.DocumentHash(d)] = d
		}
		raw, _ := json.Marshal(merged)
		path := filepath.Join(dir, "dashboards.json")
		require.NoError(t, os.WriteFile(path, raw, 0o600))
		args = append(args, "--merge", path)
	}
	var out, errs bytes.Buffer
	require.Equal(t, 0, runTrustedDocuments(args, &out, &errs), errs.String())
	path := filepath.Join(dir, "trusted.json")
	require.NoError(t, os.WriteFile(path, out.Bytes(), 0o600))
	return path
}

// TestConsoleDocumentsAreStaticAndValid: every document the console sends
// is in its documents module, and each validates against the schema.
func TestConsoleDocumentsAreStaticAndValid(t *testing.T) {
	t.Parallel()
	docs, err := console.Documents()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(docs), 15)
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	for name, doc := range docs {
		_, errs := gqlparser.LoadQueryWithRules(schema, doc, rules.NewDefaultRules())
		require.Empty(t, errs, "console document %s", name)
	}
	app, err := os.ReadFile("../console/assets/app.js")
	require.NoError(t, err)
	require.NotRegexp(t, regexp.MustCompile("(query|subscribe)\\(\\s*`"), string(app), "the console builds no document inline")
}

// TestTrustedDocumentsOverHTTP: with TRUSTED_DOCUMENTS_FILE, a DASHBOARD key
// runs the listed documents by text, by documentId (POST and GET) or by
// persisted-query hash, and nothing else; other keys are not restricted.
func TestTrustedDocumentsOverHTTP(t *testing.T) {
	t.Parallel()
	const dashboard = `query Jobs { commitJobs(filter: {workspaceId: "acme"}, first: 5) { edges { node { id status } } } }`
	base := startServerWith(t, map[string]string{
		"DATABASE_URL": pt.URL(t, pt.SQLite), "API_KEYS_FILE": keysFile(t), "TRUSTED_DOCUMENTS_FILE": trustedDocsFile(t, dashboard),
	})
	hash := resolvers.DocumentHash(dashboard)
	post := func(key string, body map[string]any) (int, map[string]any) {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	for _, tc := range []struct {
		name string
		key  string
		body map[string]any
		code string
	}{
		{"a listed document's text", dashKeyA, map[string]any{"query": dashboard}, ""},
		{"its documentId", dashKeyA, map[string]any{"documentId": "sha256:" + hash}, ""},
		{"its bare hash as documentId", dashKeyA, map[string]any{"documentId": hash}, ""},
		{"its persisted-query hash", dashKeyA, map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}, ""},
		{"another document", dashKeyA, map[string]any{"query": `{ commitJobs(first: 1) { edges { node { id } } } }`}, "DOCUMENT_NOT_TRUSTED"},
		{"an unknown documentId", dashKeyA, map[string]any{"documentId": "sha256:" + resolvers.DocumentHash("query { x }")}, "PERSISTED_QUERY_NOT_FOUND"},
		{"an agent key is not restricted", agentKeyA, map[string]any{"query": `{ commitJobs(first: 1) { edges { node { id } } } }`}, ""},
	} {
		status, out := post(tc.key, tc.body)
		require.Equal(t, http.StatusOK, status, "%s: %v", tc.name, out)
		require.Equal(t, tc.code, errorCode(out), "%s: %v", tc.name, out)
	}

	// GET with documentId.
	req, _ := http.NewRequest(http.MethodGet, base+"/graphql?"+url.Values{"documentId": {"sha256:" + hash}}.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+dashKeyA)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	require.Contains(t, string(raw), `"commitJobs"`)
	require.NotContains(t, string(raw), `"errors"`)

	// Every console document is listed: the console works for the key.
	docs, err := console.Documents()
	require.NoError(t, err)
	status, out := post(dashKeyA, map[string]any{"query": docs["jobs"], "variables": map[string]any{"filter": map[string]any{"workspaceId": "acme"}}})
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, errorCode(out), "%v", out)
	// Listed too, and refused only by the key's grants: backend health is
	// for admins.
	status, out = post(dashKeyA, map[string]any{"query": docs["backends"], "variables": map[string]any{"ws": "acme"}})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "FORBIDDEN", errorCode(out), "%v", out)
}
