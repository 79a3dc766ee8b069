package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/memory-gateway/memory-gateway/apierror"
	"github.com/memory-gateway/memory-gateway/requestinfo"
)

// Error codes set in extensions.code: the same on every edge.
const (
	CodeBadUserInput    = apierror.CodeBadUserInput
	CodeConflict        = apierror.CodeConflict
	CodeForbidden       = apierror.CodeForbidden
	CodeInternal        = apierror.CodeInternal
	CodeNotFound        = apierror.CodeNotFound
	CodeRateLimited     = apierror.CodeRateLimited
	CodeTimeout         = apierror.CodeTimeout
	CodeUnauthenticated = apierror.CodeUnauthenticated
	// CodeUnavailable: the database is down or restarting; the request may
	// be retried (extensions.retryable).
	CodeUnavailable = apierror.CodeUnavailable
	// CodeTooManySubscriptions: a subscription over a cap (per connection
	// or per key); the connection stays open.
	CodeTooManySubscriptions = apierror.CodeTooManySubscriptions
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
			requestinfo.NoteErrorCode(ctx, code)
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
		e := apierror.Classify(cause, func(field string) string { return fieldPath(cause, field) })
		var codedErr *gqlerror.Error
		switch {
		case !e.Internal():
			if e.Code == CodeUnavailable {
				logger.WarnContext(ctx, "graphql: the database is unavailable",
					slog.String("path", out.Path.String()), slog.String("err", cause.Error()))
			}
			out.Message, out.Extensions = e.Message, e.Extensions()
		case argumentField(ctx, out.Path) != "":
			// An argument value the executor could not coerce (a custom
			// scalar such as JSON or Time): the caller's mistake.
			field := argumentField(ctx, out.Path)
			out.Message = fmt.Sprintf("%s: %s", field, plainMessage(cause.Error()))
			out.Extensions = map[string]any{"code": CodeBadUserInput, "field": field}
		case errors.As(cause, &codedErr) && codedErr.Extensions["code"] != nil:
			return codedErr
		default:
			logger.ErrorContext(ctx, "graphql: internal error",
				slog.String("path", out.Path.String()), slog.String("err", cause.Error()))
			out.Message, out.Extensions = e.Message, e.Extensions()
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
