package mcpserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
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

	proxy, err := NewProxy(context.Background(), ProxyConfig{URL: gateway.URL + "/mcp", Key: "mgw_secret_0123456789abcdef"})
	require.NoError(t, err, "it starts, as before a gateway that is not up")
	t.Cleanup(func() { _ = proxy.Close() })
	clientEnd, serverEnd := mcp.NewInMemoryTransports()
	served, err := proxy.Server().Connect(context.Background(), serverEnd, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = served.Close() })
	session, err := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "1"}, nil).Connect(context.Background(), clientEnd, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = session.Close() })
	res, err := session.CallTool(context.Background(), &mcp.CallToolParams{Name: "recall", Arguments: map[string]any{"query": "x"}})
	require.NoError(t, err)
	require.True(t, res.IsError)
	text := res.Content[0].(*mcp.TextContent).Text
	require.Contains(t, text, "UNAVAILABLE: ")
	require.Contains(t, text, "redirect")
	require.False(t, leaked.Load(), "the key went to another host")

	_, err = NewProxy(context.Background(), ProxyConfig{URL: "not a url", Key: "k"})
	require.Error(t, err)
}
