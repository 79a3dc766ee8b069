package gateway

import (
	"errors"
	"fmt"
)

// Sentinel errors. The GraphQL edge maps them to coded errors; anything else is
// an internal error and is logged, never shown.
var (
	// ErrNotFound: the thing does not exist or is outside the caller's grants.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request contradicts what is already stored under the same
	// idempotency basis.
	ErrConflict = errors.New("conflict")
	// ErrForbidden: the caller may see the thing but not do this to it.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthenticated: no valid credentials.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrKeyRevoked is the cause a revoked key's requests and streams end
	// with.
	ErrKeyRevoked = errors.New("the API key was revoked")

	// ErrIdempotencyKeyTaken: a store found the request's idempotency key
	// already used by a request of another subject.
	ErrIdempotencyKeyTaken = errors.New("idempotency key already used for another subject")

	// ErrAdapterPanicked is a backend call whose adapter panicked; the
	// panic and its stack are logged, never returned.
	ErrAdapterPanicked = errors.New("backend adapter panicked")
)

// InputError is a validation failure naming the offending input field with its
// API (camelCase) path, e.g. "content" or "policy.backends[1]".
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("%s: %s", e.Field, e.Message)
}

// NewInputError returns an *InputError.
func NewInputError(field, message string) *InputError {
	return &InputError{Field: field, Message: message}
}

// NotFoundError names what was not found; it wraps ErrNotFound.
type NotFoundError struct {
	// Field is the input field that referenced the missing thing, if any.
	Field string
	What  string
}

func (e *NotFoundError) Error() string {
	return e.What + " not found"
}

// Unwrap makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// ConflictError explains a conflict; it wraps ErrConflict.
type ConflictError struct {
	Field   string
	Message string
	// Reason, when set, is a machine-readable cause (erasure_in_progress).
	Reason string
}

func (e *ConflictError) Error() string { return e.Message }

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }
