package graphiql_test

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/graphiql"
)

// TestExplorerNeedsNoInternet: the page loads nothing from another origin,
// and every script and stylesheet it names is served here, with the
// integrity hash the page demands.
func TestExplorerNeedsNoInternet(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", graphiql.Handler("Memory Gateway", "/graphql"))
	mux.Handle("GET "+graphiql.AssetsPath, graphiql.Assets())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	get := func(path string) (*http.Response, []byte) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, body
	}
	resp, page := get("/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotRegexp(t, `(src|href)="https?://`, string(page), "nothing from another origin")

	refs := regexp.MustCompile(`(?s)(?:src|href)="([^"]+)"\s+integrity="([^"]+)"`).FindAllStringSubmatch(string(page), -1)
	require.Len(t, refs, 4, "react, react-dom, the stylesheet and the script")
	for _, ref := range refs {
		resp, body := get(ref[1])
		require.Equal(t, http.StatusOK, resp.StatusCode, ref[1])
		sum := sha256.Sum256(body)
		require.Equal(t, html.UnescapeString(ref[2]), "sha256-"+base64.StdEncoding.EncodeToString(sum[:]), ref[1])
		require.Regexp(t, `^(text/javascript|text/css)`, resp.Header.Get("Content-Type"), ref[1])
	}
	// The files are the ones gqlgen pins for the CDN (same hashes).
	require.Contains(t, string(page), "sha256-hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs=")

	resp, _ = get(graphiql.AssetsPath + "LICENSES.md")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "only the assets are embedded")
}
