package remote_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
)

// TestPathIdsAreEscapedOnce: a path segment escaped by the adapter reaches
// the server escaped once, so the server reads back the id the gateway
// meant (not "a%20b" for "a b"), below a base URL with a path of its own.
func TestPathIdsAreEscapedOnce(t *testing.T) {
	t.Parallel()
	seen := make(chan [2]string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- [2]string{r.URL.EscapedPath(), r.URL.Path}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	c, err := remote.New(remote.Config{Backend: backendtype.BackendOpenViking, BaseURL: srv.URL + "/prefix"})
	require.NoError(t, err)
	_, _, err = c.Do(context.Background(), remote.Request{Method: http.MethodGet, Path: "/sessions/" + url.PathEscape("a b/c%d")})
	require.NoError(t, err)
	got := <-seen
	require.Equal(t, "/prefix/sessions/a%20b%2Fc%25d", got[0], "on the wire")
	require.Equal(t, "/prefix/sessions/a b/c%d", got[1], "as the server decodes it")
}

// TestTheBackendDecidesRetryability: an error envelope may mark a failure
// retryable or permanent whatever its status.
func TestTheBackendDecidesRetryability(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status    int
		parsed    remote.ParsedError
		retryable bool
	}{
		{http.StatusConflict, remote.ParsedError{Code: "CONFLICT"}, false},
		{http.StatusConflict, remote.ParsedError{Code: "CONFLICT", Retryable: true}, true},
		{http.StatusServiceUnavailable, remote.ParsedError{Code: "EXTERNAL_SERVICE_UNAVAILABLE"}, true},
		{http.StatusServiceUnavailable, remote.ParsedError{Code: "CAPABILITY_UNAVAILABLE", Permanent: true}, false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(tc.status) }))
		c, err := remote.New(remote.Config{Backend: backendtype.BackendEverMemOS, BaseURL: srv.URL,
			ParseError: func(int, []byte) remote.ParsedError { return tc.parsed }})
		require.NoError(t, err)
		_, _, err = c.Do(context.Background(), remote.Request{Method: http.MethodGet, Path: "/x"})
		srv.Close()
		re := remote.AsError(backendtype.BackendEverMemOS, err)
		require.Equal(t, tc.retryable, re.Retryable, "%d %+v", tc.status, tc.parsed)
		require.Equal(t, tc.parsed.Code, re.Code)
	}
}

// The gateway records every error against its backend ("evermemos: …"), so
// the error itself never names it: a name here made it twice.
func TestErrorDoesNotNameTheBackend(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  remote.Error
		want string
	}{
		{remote.Error{Backend: "evermemos", Status: 503, Message: "upstream busy"}, "HTTP 503: upstream busy"},
		{remote.Error{Backend: "evermemos", Status: 400, Code: "bad_request", Message: "no"}, "HTTP 400 bad_request: no"},
		{remote.Error{Backend: "openviking", Code: remote.CodeTimeout, Message: "no answer in time"}, "timeout: no answer in time"},
		{remote.Error{Backend: "openviking", Message: "only a message"}, "only a message"},
		{remote.Error{Backend: "openviking", Status: 502}, "HTTP 502"},
	} {
		require.Equal(t, tc.want, tc.err.Error())
	}
	res := remote.CommitFailure("evermemos", &remote.Error{Backend: "evermemos", Status: 503, Message: "busy", Retryable: true})
	require.Equal(t, "HTTP 503: busy", res.ErrorMessage)
	write := remote.WriteFailure("evermemos", errors.New("socket closed"))
	require.Equal(t, "adapter_error: socket closed", write.ErrorMessage)
}
