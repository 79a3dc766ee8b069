package memorygateway

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error codes the gateway sends in extensions.code.
const (
	CodeBadUserInput            = "BAD_USER_INPUT"
	CodeBadRequest              = "BAD_REQUEST"
	CodeNotFound                = "NOT_FOUND"
	CodeConflict                = "CONFLICT"
	CodeForbidden               = "FORBIDDEN"
	CodeUnauthenticated         = "UNAUTHENTICATED"
	CodeRateLimited             = "RATE_LIMITED"
	CodeUnavailable             = "UNAVAILABLE"
	CodeTimeout                 = "TIMEOUT"
	CodeInternal                = "INTERNAL"
	CodeTooManySubscriptions    = "TOO_MANY_SUBSCRIPTIONS"
	CodeComplexityLimitExceeded = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeQueryTooDeep            = "QUERY_TOO_DEEP"
	CodeTooManyAliases          = "TOO_MANY_ALIASES"
	CodeParseFailed             = "GRAPHQL_PARSE_FAILED"
	CodeValidationFailed        = "GRAPHQL_VALIDATION_FAILED"
)

// Error is one error the gateway answered (or, for Code UNAVAILABLE with a
// non-nil Unwrap, a request that did not reach it or got no GraphQL answer).
type Error struct {
	// Code is extensions.code, e.g. BAD_USER_INPUT, RATE_LIMITED.
	Code    string
	Message string
	// Field is the input field at fault (extensions.field), e.g.
	// "input.content"; "" when the error names none.
	Field string
	// Retryable says sending the same request again may succeed: the
	// gateway marked it retryable, or it is RATE_LIMITED or UNAVAILABLE.
	Retryable bool
	// RetryAfterMs is how long the gateway asked to wait before trying
	// again (extensions.retryAfterMs, or an HTTP Retry-After); 0 for none.
	RetryAfterMs int64
	// Reason is extensions.reason, e.g. "erasure_in_progress" on CONFLICT.
	Reason string
	// Path is the GraphQL path of the field that failed, if any.
	Path []any
	// Extensions holds every extension the gateway sent.
	Extensions map[string]any
	// HTTPStatus is the status of the answer that carried the error (0 when
	// there was no answer).
	HTTPStatus int

	cause error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("memory gateway: ")
	b.WriteString(e.Code)
	b.WriteString(": ")
	b.WriteString(e.Message)
	if e.cause != nil {
		fmt.Fprintf(&b, ": %v", e.cause)
	}
	return b.String()
}

// Unwrap is the transport error behind an error the gateway did not send.
func (e *Error) Unwrap() error { return e.cause }

// RetryAfter is RetryAfterMs as a duration.
func (e *Error) RetryAfter() time.Duration { return time.Duration(e.RetryAfterMs) * time.Millisecond }

// Errors is an answer that carried several errors. errors.As finds the first
// *Error in it.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap gives errors.Is and errors.As each error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// IsRetryable reports whether err is a gateway error (or every error of an
// answer) that sending the request again may mend.
func IsRetryable(err error) bool {
	var es Errors
	if errors.As(err, &es) {
		for _, e := range es {
			if !e.Retryable {
				return false
			}
		}
		return len(es) > 0
	}
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// retryAfter is the longest wait the errors of err asked for.
func retryAfter(err error) time.Duration {
	var es Errors
	if errors.As(err, &es) {
		var longest time.Duration
		for _, e := range es {
			longest = max(longest, e.RetryAfter())
		}
		return longest
	}
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter()
	}
	return 0
}

// wireError is an error as GraphQL sends it.
type wireError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (w wireError) toError(httpStatus int) *Error {
	e := &Error{Message: w.Message, Path: w.Path, Extensions: w.Extensions, HTTPStatus: httpStatus}
	e.Code, _ = w.Extensions["code"].(string)
	if e.Code == "" {
		e.Code = CodeInternal
	}
	e.Field, _ = w.Extensions["field"].(string)
	e.Reason, _ = w.Extensions["reason"].(string)
	if ms, ok := w.Extensions["retryAfterMs"].(float64); ok && ms > 0 {
		e.RetryAfterMs = int64(ms)
	}
	retryable, _ := w.Extensions["retryable"].(bool)
	e.Retryable = retryable || retryableCode(e.Code)
	return e
}

// retryableCode says whether an error of this code may succeed when sent
// again unchanged.
func retryableCode(code string) bool {
	return code == CodeRateLimited || code == CodeUnavailable
}

func errorsOf(ws []wireError, httpStatus int) error {
	if len(ws) == 1 {
		return ws[0].toError(httpStatus)
	}
	out := make(Errors, len(ws))
	for i, w := range ws {
		out[i] = w.toError(httpStatus)
	}
	return out
}

// Err is the turn's error as an *Error, nil when the turn succeeded.
func (r *IngestTurnsResult) Err() error {
	if r.Error == nil {
		return nil
	}
	e := &Error{Code: r.Error.Code, Message: r.Error.Message, Retryable: retryableCode(r.Error.Code)}
	if r.Error.Field != nil {
		e.Field = *r.Error.Field
	}
	return e
}
