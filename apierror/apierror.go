// Package apierror says what a domain error means to a client, the same way
// on every edge (GraphQL, MCP, the export endpoint): its code, its message and
// the input field at fault. Errors it does not know are internal: the edge
// logs them and shows only INTERNAL.
package apierror

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// Error codes, as clients see them.
const (
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeConflict        = "CONFLICT"
	CodeForbidden       = "FORBIDDEN"
	CodeInternal        = "INTERNAL"
	CodeNotFound        = "NOT_FOUND"
	CodeRateLimited     = "RATE_LIMITED"
	CodeTimeout         = "TIMEOUT"
	CodeUnauthenticated = "UNAUTHENTICATED"
	// CodeUnavailable: the database is down or restarting; the request may
	// be retried (retryable).
	CodeUnavailable = "UNAVAILABLE"
	// CodeTooManySubscriptions: a subscription over a cap (per connection
	// or per key).
	CodeTooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS"
)

// Error is a classified error.
type Error struct {
	Code    string
	Message string
	// Field is the input field at fault, as the edge names it; "" for none.
	Field string
	// Extra holds further machine-readable facts: reason, retryAfterMs,
	// limit, retryable.
	Extra map[string]any
}

// Extensions is the error's GraphQL extensions: code, field and extras.
func (e Error) Extensions() map[string]any {
	ext := make(map[string]any, 2+len(e.Extra))
	ext["code"] = e.Code
	if e.Field != "" {
		ext["field"] = e.Field
	}
	for k, v := range e.Extra {
		ext[k] = v
	}
	return ext
}

// Internal reports an error the client only learns happened.
func (e Error) Internal() bool { return e.Code == CodeInternal }

// Classify codes err. path turns a domain field name ("content") into the
// name the edge gave it ("input.content"); nil keeps it. An error it does not
// know is INTERNAL with the message "internal error": the caller logs err.
func Classify(err error, path func(field string) string) Error {
	if path == nil {
		path = func(f string) string { return f }
	}
	var (
		inputErr    *gateway.InputError
		notFoundErr *gateway.NotFoundError
		conflictErr *gateway.ConflictError
		rateErr     *gateway.RateLimitError
		subsErr     *gateway.TooManySubscriptionsError
	)
	switch {
	case errors.As(err, &inputErr):
		field := path(inputErr.Field)
		return Error{Code: CodeBadUserInput, Message: fmt.Sprintf("%s: %s", field, inputErr.Message), Field: field}
	case errors.As(err, &notFoundErr):
		out := Error{Code: CodeNotFound, Message: notFoundErr.Error()}
		if notFoundErr.Field != "" {
			out.Field = path(notFoundErr.Field)
		}
		return out
	case errors.Is(err, gateway.ErrNotFound):
		return Error{Code: CodeNotFound, Message: "not found"}
	case errors.As(err, &conflictErr):
		out := Error{Code: CodeConflict, Message: conflictErr.Message}
		if conflictErr.Field != "" {
			out.Field = path(conflictErr.Field)
		}
		if conflictErr.Reason != "" {
			out.Extra = map[string]any{"reason": conflictErr.Reason}
		}
		return out
	case errors.Is(err, gateway.ErrForbidden):
		return Error{Code: CodeForbidden, Message: err.Error()}
	case errors.As(err, &rateErr):
		return Error{Code: CodeRateLimited, Message: rateErr.Error(), Extra: map[string]any{"retryAfterMs": rateErr.RetryAfter.Milliseconds()}}
	case errors.As(err, &subsErr):
		return Error{Code: CodeTooManySubscriptions, Message: subsErr.Error(), Extra: map[string]any{"limit": subsErr.Limit}}
	case errors.Is(err, gateway.ErrUnauthenticated):
		return Error{Code: CodeUnauthenticated, Message: "unauthenticated"}
	case errors.Is(err, context.DeadlineExceeded):
		return Error{Code: CodeTimeout, Message: "the request timed out"}
	case Unavailable(err):
		return Error{Code: CodeUnavailable, Message: "the service is unavailable for a moment: try again", Extra: map[string]any{"retryable": true}}
	default:
		return Error{Code: CodeInternal, Message: "internal error"}
	}
}

// Unavailable reports an error of a database that is down, restarting or
// busy: refused or reset connections, PostgreSQL's connection and
// shutdown classes (08, 57P), SQLite's busy and locked.
func Unavailable(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return true
	}
	var pgErr interface{ Field(byte) string }
	if errors.As(err, &pgErr) {
		code := pgErr.Field('C')
		return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "57P")
	}
	var sqliteErr interface{ Code() int }
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	return false
}
