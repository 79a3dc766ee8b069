package resolvers

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/telemetry"
)

// Error codes set in extensions.code.
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
	// be retried (extensions.retryable).
	CodeUnavailable = "UNAVAILABLE"
	// CodeTooManySubscriptions: a subscription over a cap (per connection
	// or per key); the connection stays open.
	CodeTooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS"
)

// argError ties a domain error to the GraphQL argument it came from, so a
// field named by the domain ("content") is reported by its full GraphQL path
// ("input.content").
type argError struct {
	arg string
	err error
}

func (e *argError) Error() string { return e.err.Error() }
func (e *argError) Unwrap() error { return e.err }

// inArg attributes err to the argument arg.
func inArg(arg string, err error) error {
	if err == nil {
		return nil
	}
	return &argError{arg: arg, err: err}
}

func fieldPath(err error, field string) string {
	var ae *argError
	if errors.As(err, &ae) && ae.arg != "" {
		if field == "" {
			return ae.arg
		}
		return ae.arg + "." + field
	}
	return field
}

// ErrorPresenter turns every error into a coded GraphQL error. Domain errors
// get their code and the offending field; GraphQL errors made by the
// executor keep theirs; anything else is logged with its detail and shown
// only as INTERNAL.
func ErrorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	present := presenter(logger)
	return func(ctx context.Context, err error) *gqlerror.Error {
		out := present(ctx, err)
		if code, ok := out.Extensions["code"].(string); ok {
			telemetry.NoteErrorCode(ctx, code)
		}
		return out
	}
}

func presenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		// Everything arrives wrapped in a *gqlerror.Error carrying the path;
		// one without a cause was made by the executor itself.
		var wrapped *gqlerror.Error
		if errors.As(err, &wrapped) && wrapped.Err == nil {
			return presentExecutorError(wrapped)
		}
		cause := err
		out := &gqlerror.Error{Path: graphql.GetPath(ctx), Err: err}
		if wrapped != nil {
			cause, out.Path, out.Locations = wrapped.Err, wrapped.Path, wrapped.Locations
		}
		var (
			inputErr    *gateway.InputError
			notFoundErr *gateway.NotFoundError
			conflictErr *gateway.ConflictError
			rateErr     *gateway.RateLimitError
			subsErr     *gateway.TooManySubscriptionsError
			codedErr    *gqlerror.Error
		)
		switch {
		case errors.As(cause, &inputErr):
			field := fieldPath(cause, inputErr.Field)
			out.Message = fmt.Sprintf("%s: %s", field, inputErr.Message)
			out.Extensions = map[string]any{"code": CodeBadUserInput, "field": field}
		case errors.As(cause, &notFoundErr):
			out.Message = notFoundErr.Error()
			out.Extensions = map[string]any{"code": CodeNotFound}
			if notFoundErr.Field != "" {
				out.Extensions["field"] = fieldPath(cause, notFoundErr.Field)
			}
		case errors.Is(cause, gateway.ErrNotFound):
			out.Message = "not found"
			out.Extensions = map[string]any{"code": CodeNotFound}
		case errors.As(cause, &conflictErr):
			out.Message = conflictErr.Message
			out.Extensions = map[string]any{"code": CodeConflict}
			if conflictErr.Field != "" {
				out.Extensions["field"] = fieldPath(cause, conflictErr.Field)
			}
			if conflictErr.Reason != "" {
				out.Extensions["reason"] = conflictErr.Reason
			}
		case errors.Is(cause, gateway.ErrForbidden):
			out.Message = cause.Error()
			out.Extensions = map[string]any{"code": CodeForbidden}
		case errors.As(cause, &rateErr):
			out.Message = rateErr.Error()
			out.Extensions = map[string]any{"code": CodeRateLimited, "retryAfterMs": rateErr.RetryAfter.Milliseconds()}
		case errors.As(cause, &subsErr):
			out.Message = subsErr.Error()
			out.Extensions = map[string]any{"code": CodeTooManySubscriptions, "limit": subsErr.Limit}
		case errors.Is(cause, gateway.ErrUnauthenticated):
			out.Message = "unauthenticated"
			out.Extensions = map[string]any{"code": CodeUnauthenticated}
		case errors.Is(cause, context.DeadlineExceeded):
			out.Message = "the request timed out"
			out.Extensions = map[string]any{"code": CodeTimeout}
		case argumentField(ctx, out.Path) != "":
			// An argument value the executor could not coerce (a custom
			// scalar such as JSON or Time): the caller's mistake.
			field := argumentField(ctx, out.Path)
			out.Message = fmt.Sprintf("%s: %s", field, plainMessage(cause.Error()))
			out.Extensions = map[string]any{"code": CodeBadUserInput, "field": field}
		case errors.As(cause, &codedErr) && codedErr.Extensions["code"] != nil:
			return codedErr
		case unavailable(cause):
			logger.WarnContext(ctx, "graphql: the database is unavailable",
				slog.String("path", out.Path.String()), slog.String("err", cause.Error()))
			out.Message = "the service is unavailable for a moment: try again"
			out.Extensions = map[string]any{"code": CodeUnavailable, "retryable": true}
		default:
			logger.ErrorContext(ctx, "graphql: internal error",
				slog.String("path", out.Path.String()), slog.String("err", cause.Error()))
			out.Message = "internal error"
			out.Extensions = map[string]any{"code": CodeInternal}
		}
		return out
	}
}

// argumentField returns the argument path ("input.metadata") when an error's
// path runs past the path of the field being resolved, which happens only
// while its arguments are coerced; otherwise "".
func argumentField(ctx context.Context, full ast.Path) string {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return ""
	}
	own := fc.Path()
	if len(full) <= len(own) {
		return ""
	}
	return ast.Path(full[len(own):]).String()
}

// presentExecutorError names the field of a variable that failed coercion
// (an unknown enum value, a missing required field) and codes it
// BAD_USER_INPUT; the executor reports those as a path only.
func presentExecutorError(e *gqlerror.Error) *gqlerror.Error {
	if len(e.Path) < 2 || e.Path[0] != ast.PathName("variable") {
		return e
	}
	if code, _ := e.Extensions["code"].(string); code != errcode.ValidationFailed {
		return e
	}
	field := ast.Path(e.Path[1:]).String()
	e.Message = fmt.Sprintf("variable %s: %s", field, plainMessage(e.Message))
	e.Extensions["code"] = CodeBadUserInput
	e.Extensions["field"] = field
	return e
}

// RecoverFunc keeps a panic in a resolver from reaching the client: it is
// logged with its stack and reported as INTERNAL.
func RecoverFunc(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "graphql: panic in resolver",
			slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
		return &gqlerror.Error{
			Path:       graphql.GetPath(ctx),
			Message:    "internal error",
			Extensions: map[string]any{"code": CodeInternal},
		}
	}
}

// goTypeWords are how Go's reflection and JSON decoding name JSON values.
var goTypeWords = strings.NewReplacer(
	"[]interface {}", "a list", "map[string]interface {}", "an object", "interface {}", "a value",
	"not a slice", "not a list", "not a map", "not an object", "not a float64", "not a number",
	"not a int64", "not an integer", "not a bool", "not a boolean",
)

// isNotAMap is coercion's "<Go type> is not a map".
var isNotAMap = regexp.MustCompile(`^.* is not a map$`)

// plainMessage words a coercion failure in terms of JSON, not Go: "must be
// a JSON object" rather than "[]interface {} is not a map".
func plainMessage(msg string) string {
	if isNotAMap.MatchString(msg) {
		return "must be a JSON object"
	}
	return goTypeWords.Replace(msg)
}

// unavailable reports an error of a database that is down, restarting or
// busy: refused or reset connections, PostgreSQL's connection and
// shutdown classes (08, 57P), SQLite's busy and locked.
func unavailable(err error) bool {
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
