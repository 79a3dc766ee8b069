package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// Error codes set in extensions.code.
const (
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeConflict        = "CONFLICT"
	CodeForbidden       = "FORBIDDEN"
	CodeInternal        = "INTERNAL"
	CodeNotFound        = "NOT_FOUND"
	CodeTimeout         = "TIMEOUT"
	CodeUnauthenticated = "UNAUTHENTICATED"
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
	return func(ctx context.Context, err error) *gqlerror.Error {
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && gqlErr.Err == nil {
			// Made by the executor (validation, complexity, non-null...).
			return presentExecutorError(gqlErr)
		}
		out := &gqlerror.Error{Path: graphql.GetPath(ctx), Err: err}
		var (
			inputErr    *gateway.InputError
			notFoundErr *gateway.NotFoundError
			conflictErr *gateway.ConflictError
		)
		switch {
		case errors.As(err, &inputErr):
			field := fieldPath(err, inputErr.Field)
			out.Message = fmt.Sprintf("%s: %s", field, inputErr.Message)
			out.Extensions = map[string]any{"code": CodeBadUserInput, "field": field}
		case errors.As(err, &notFoundErr):
			out.Message = notFoundErr.Error()
			out.Extensions = map[string]any{"code": CodeNotFound}
			if notFoundErr.Field != "" {
				out.Extensions["field"] = fieldPath(err, notFoundErr.Field)
			}
		case errors.Is(err, gateway.ErrNotFound):
			out.Message = "not found"
			out.Extensions = map[string]any{"code": CodeNotFound}
		case errors.As(err, &conflictErr):
			out.Message = conflictErr.Message
			out.Extensions = map[string]any{"code": CodeConflict}
			if conflictErr.Field != "" {
				out.Extensions["field"] = fieldPath(err, conflictErr.Field)
			}
		case errors.Is(err, gateway.ErrForbidden):
			out.Message = "forbidden"
			out.Extensions = map[string]any{"code": CodeForbidden}
		case errors.Is(err, gateway.ErrUnauthenticated):
			out.Message = "unauthenticated"
			out.Extensions = map[string]any{"code": CodeUnauthenticated}
		case errors.Is(err, context.DeadlineExceeded):
			out.Message = "the request timed out"
			out.Extensions = map[string]any{"code": CodeTimeout}
		case errors.As(err, &gqlErr):
			// A coded GraphQL error wrapped by a resolver.
			return gqlErr
		default:
			logger.ErrorContext(ctx, "graphql: internal error",
				slog.String("path", out.Path.String()), slog.String("err", err.Error()))
			out.Message = "internal error"
			out.Extensions = map[string]any{"code": CodeInternal}
		}
		return out
	}
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
	e.Message = fmt.Sprintf("variable %s: %s", field, e.Message)
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
