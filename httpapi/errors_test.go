package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRefusalsShareOneEnvelope: every refusal of the HTTP layer — a panic,
// an oversized body, a content type the transports do not read, a mutation
// over GET, a foreign host in dev mode — is a coded error in the one
// envelope, with the status that says what happened.
func TestRefusalsShareOneEnvelope(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	panics := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	for _, tc := range []struct {
		name    string
		handler http.Handler
		request func() *http.Request
		status  int
		code    string
		field   string
	}{
		{"a panic", withRecover(logger, panics), func() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) },
			http.StatusInternalServerError, "INTERNAL", ""},
		{"an oversized body", limitBody(4, ok), func() *http.Request {
			return httptest.NewRequest(http.MethodPost, GraphQLPath, strings.NewReader(`{"query":"{ __typename }"}`))
		}, http.StatusRequestEntityTooLarge, "BAD_USER_INPUT", "body"},
		{"a content type the transports do not read", withCheckedRequests(ok), func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, GraphQLPath, strings.NewReader(`query`))
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"a body that is not an object", withCheckedRequests(ok), func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, GraphQLPath, strings.NewReader(`[1]`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, http.StatusBadRequest, "BAD_REQUEST", "body"},
		{"a mutation over GET", withCheckedRequests(ok), func() *http.Request {
			return httptest.NewRequest(http.MethodGet, GraphQLPath+"?query=mutation%7Bx%7D", nil)
		}, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", ""},
		{"a foreign host in dev mode", loopbackHostsOnly(ok), func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Host = "attacker.example:8080"
			return r
		}, http.StatusForbidden, "FORBIDDEN", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			tc.handler.ServeHTTP(rec, tc.request())
			require.Equal(t, tc.status, rec.Code)
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var body struct {
				Errors []struct {
					Message    string
					Extensions map[string]any
				}
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
			require.Len(t, body.Errors, 1)
			require.NotEmpty(t, body.Errors[0].Message)
			require.Equal(t, tc.code, body.Errors[0].Extensions["code"])
			if tc.field == "" {
				require.NotContains(t, body.Errors[0].Extensions, "field")
			} else {
				require.Equal(t, tc.field, body.Errors[0].Extensions["field"])
			}
		})
	}
}
