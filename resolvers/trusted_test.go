package resolvers_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
	"github.com/memory-gateway/memory-gateway/resolvers"
)

// TestTrustedDocuments: restricted keys run only listed documents (by hash
// or by their text, however it is spaced), get coded errors otherwise, and
// cannot register documents through automatic persisted queries; other keys
// are not affected and may use the hashes too.
func TestTrustedDocuments(t *testing.T) {
	t.Parallel()
	const listed = `query Jobs($ws: ID) { commitJobs(filter: {workspaceId: $ws}, first: 5) { edges { node { id status } } } }`
	const unlisted = `query { commitJobs(first: 1) { edges { node { id } } } }`
	respaced := "query Jobs($ws: ID) {\n  commitJobs(filter: {workspaceId: $ws}, first: 5) {\n    edges { node { id status } }\n  }\n}\n"
	dash := &gateway.Principal{Name: "dash", WorkspaceID: "ws", Role: gateway.RoleDashboard, Grants: []gateway.Grant{{Access: gateway.AccessRead}}}
	agent := &gateway.Principal{Name: "agent", WorkspaceID: "ws", Role: gateway.RoleAgent, Grants: []gateway.Grant{{Access: gateway.AccessWrite}}}
	admin := &gateway.Principal{Name: "admin", WorkspaceID: "ws", Role: gateway.RoleAdmin, Grants: []gateway.Grant{{Access: gateway.AccessAdmin}}}
	persisted := func(hash string) map[string]any {
		return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	}

	for _, scope := range []resolvers.TrustedScope{resolvers.TrustedForDashboards, resolvers.TrustedForNonAdmins} {
		t.Run(string(scope), func(t *testing.T) {
			t.Parallel()
			docs, err := resolvers.NewTrustedDocuments(map[string]string{resolvers.DocumentHash(listed): listed}, scope)
			require.NoError(t, err)
			h := newHarness(t, pt.Open(t, pt.SQLite), strict(), withHandlerConfig(resolvers.HandlerConfig{TrustedDocuments: docs}))
			agentCode := ""
			if scope == resolvers.TrustedForNonAdmins {
				agentCode = resolvers.CodeDocumentNotTrusted
			}
			for _, tc := range []struct {
				name    string
				who     *gateway.Principal
				request map[string]any
				code    string
			}{
				{"a listed document's text", dash, map[string]any{"query": listed}, ""},
				{"the same document spaced otherwise", dash, map[string]any{"query": respaced}, ""},
				{"a listed document's hash", dash, map[string]any{"extensions": persisted(resolvers.DocumentHash(listed))}, ""},
				{"another document", dash, map[string]any{"query": unlisted}, resolvers.CodeDocumentNotTrusted},
				{"an unknown hash", dash, map[string]any{"extensions": persisted(resolvers.DocumentHash(unlisted))}, resolvers.CodePersistedQueryNotFound},
				{"registering through persisted queries", dash, map[string]any{"query": unlisted, "extensions": persisted(resolvers.DocumentHash(unlisted))}, resolvers.CodeDocumentNotTrusted},
				{"nothing was registered", admin, map[string]any{"extensions": persisted(resolvers.DocumentHash(unlisted))}, resolvers.CodePersistedQueryNotFound},
				{"an admin key runs anything", admin, map[string]any{"query": unlisted}, ""},
				{"an admin key may use the hashes", admin, map[string]any{"extensions": persisted(resolvers.DocumentHash(listed))}, ""},
				{"an agent key", agent, map[string]any{"query": unlisted}, agentCode},
			} {
				_, resp := h.doRawAs(t, tc.who, tc.request)
				if tc.code == "" {
					require.Empty(t, resp.Errors, tc.name)
					require.Contains(t, string(resp.Data), "commitJobs", tc.name)
					continue
				}
				require.Len(t, resp.Errors, 1, tc.name)
				require.Equal(t, tc.code, resp.Errors[0].Extensions["code"], tc.name)
				require.True(t, len(resp.Data) == 0 || string(resp.Data) == "null", "%s: nothing ran", tc.name)
			}
		})
	}

	_, err := resolvers.NewTrustedDocuments(map[string]string{"00ff": listed}, resolvers.TrustedForDashboards)
	require.ErrorContains(t, err, "is not the sha256", "a hash must be its document's")
	_, err = resolvers.NewTrustedDocuments(map[string]string{resolvers.DocumentHash("query {"): "query {"}, resolvers.TrustedForDashboards)
	require.Error(t, err, "every document parses")
	_, err = resolvers.NewTrustedDocuments(nil, "everyone")
	require.Error(t, err)
}

// TestTrustedDocumentsReload: a changed file replaces the list; a broken one
// is refused and the list in force stays.
func TestTrustedDocumentsReload(t *testing.T) {
	t.Parallel()
	const first = `query A { commitJobs(first: 1) { edges { node { id } } } }`
	const second = `query B { commitJobs(first: 2) { edges { node { id status } } } }`
	path := filepath.Join(t.TempDir(), "trusted.json")
	write := func(docs ...string) {
		m := map[string]string{}
		for _, d := range docs {
			m[resolvers.DocumentHash(d)] = d
		}
		raw, _ := json.Marshal(m)
		require.NoError(t, os.WriteFile(path, raw, 0o600))
	}
	write(first)
	docs, err := resolvers.LoadTrustedDocuments(path, resolvers.TrustedForDashboards)
	require.NoError(t, err)
	h := newHarness(t, pt.Open(t, pt.SQLite), strict(), withHandlerConfig(resolvers.HandlerConfig{TrustedDocuments: docs}))
	dash := &gateway.Principal{Name: "dash", WorkspaceID: "ws", Role: gateway.RoleDashboard, Grants: []gateway.Grant{{Access: gateway.AccessRead}}}
	code := func(doc string) any {
		_, resp := h.doRawAs(t, dash, map[string]any{"query": doc})
		if len(resp.Errors) == 0 {
			return nil
		}
		return resp.Errors[0].Extensions["code"]
	}
	require.Nil(t, code(first))
	require.Equal(t, resolvers.CodeDocumentNotTrusted, code(second))

	write(second)
	changed, err := docs.Reload()
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, resolvers.CodeDocumentNotTrusted, code(first), "a document taken off the list no longer runs")
	require.Nil(t, code(second))

	require.NoError(t, os.WriteFile(path, []byte(`{"00": "query {"}`), 0o600))
	_, err = docs.Reload()
	require.Error(t, err)
	require.Nil(t, code(second), "a broken file leaves the list in force")
	changed, err = docs.Reload()
	require.Error(t, err)
	require.False(t, changed)
}
