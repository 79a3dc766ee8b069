package mcpserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProxyKeepsTheKeyAtTheGateway: a gateway URL that redirects elsewhere
// is refused, and the key never reaches the other host.
func TestProxyKeepsTheKeyAtTheGateway(t *testing.T) {
	t.Parallel()
	var leaked atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Store(true)
		}
		http.Error(w, "no", http.StatusNotFound)
	}))
	t.Cleanup(elsewhere.Close)
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/mcp", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(gateway.Close)

	_, err := NewProxy(context.Background(), ProxyConfig{URL: gateway.URL + "/mcp", Key: "mgw_secret_0123456789abcdef"})
	require.Error(t, err)
	require.False(t, leaked.Load(), "the key went to another host")

	_, err = NewProxy(context.Background(), ProxyConfig{URL: "not a url", Key: "k"})
	require.Error(t, err)
}
