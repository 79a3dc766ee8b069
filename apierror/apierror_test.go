package apierror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		err     error
		code    string
		message string
		field   string
		extra   map[string]any
	}{
		{"input", fmt.Errorf("wrapped: %w", gateway.NewInputError("content", "is required")), CodeBadUserInput, "input.content: is required", "input.content", nil},
		{"not found", &gateway.NotFoundError{Field: "id", What: "job"}, CodeNotFound, "", "input.id", nil},
		{"conflict", &gateway.ConflictError{Message: "busy", Reason: "erasure_in_progress"}, CodeConflict, "busy", "", map[string]any{"reason": "erasure_in_progress"}},
		{"forbidden", fmt.Errorf("%w: no", gateway.ErrForbidden), CodeForbidden, "", "", nil},
		{"rate", &gateway.RateLimitError{RetryAfter: 1500 * time.Millisecond}, CodeRateLimited, "", "", map[string]any{"retryAfterMs": int64(1500)}},
		{"unauthenticated", gateway.ErrUnauthenticated, CodeUnauthenticated, "unauthenticated", "", nil},
		{"timeout", context.DeadlineExceeded, CodeTimeout, "the request timed out", "", nil},
		{"database down", fmt.Errorf("query: %w", syscall.ECONNREFUSED), CodeUnavailable, "", "", map[string]any{"retryable": true}},
		{"anything else", errors.New("pq: relation secret_table does not exist"), CodeInternal, "internal error", "", nil},
	} {
		e := Classify(tc.err, func(f string) string { return "input." + f })
		require.Equal(t, tc.code, e.Code, tc.name)
		if tc.message != "" {
			require.Equal(t, tc.message, e.Message, tc.name)
		}
		require.Equal(t, tc.field, e.Field, tc.name)
		for k, v := range tc.extra {
			require.Equal(t, v, e.Extensions()[k], tc.name)
		}
		require.NotContains(t, e.Message, "secret_table", "%s: internal detail never shown", tc.name)
	}
}

func TestWriteHTTP(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	WriteHTTP(rec, http.StatusBadRequest, Error{Code: CodeBadUserInput, Message: "in.content: too long", Field: "in.content"})
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.JSONEq(t, `{"errors": [{"message": "in.content: too long", "extensions": {"code": "BAD_USER_INPUT", "field": "in.content"}}]}`, rec.Body.String())
}
