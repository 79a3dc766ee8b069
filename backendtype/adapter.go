package backendtype

import (
	"context"
	"time"
)

// BackendAdapter is a configured memory backend. What it can do is expressed by
// the optional capability interfaces below; a missing capability is not an
// error, it yields SKIPPED with reason "adapter_method_missing".
//
// The contract every adapter keeps, checked for each by
// backends/backendtest.Exercise:
//   - every call honours its context: cancelled, it does not report success;
//   - a failure is a result with Status ResultFailed, an ErrorCode, and
//     Retryable when trying again may help (an outage: unreachable, timeout,
//     5xx) or not (a refusal: 4xx); an error return counts as retryable;
//   - writes are idempotent on their ids (below), so the worker's retries
//     after failures and lost leases never duplicate a memory;
//   - error texts never carry the content the request held.
type BackendAdapter interface {
	Name() Backend
}

// RefTypes are the types a backend's refs are recorded as.
type RefTypes struct {
	// Ingest is the type of an ingested turn's ref.
	Ingest RefType
	// Commit is the type of a commit's produced ref that names none.
	Commit RefType
}

// DefaultRefTypes are a backend's ref types when it declares none.
var DefaultRefTypes = RefTypes{Ingest: RefTypeMessageMemory, Commit: RefTypeDraftReview}

// RefTypeDeclarer is implemented by a backend whose refs are of other types
// than DefaultRefTypes: the domain asks, it never decides by backend name.
type RefTypeDeclarer interface {
	RefTypes() RefTypes
}

// TurnIngester writes one conversation turn. Writing the same GatewayID
// again is the same memory (same NativeID/NativeURI), and Created is false.
type TurnIngester interface {
	IngestTurn(ctx context.Context, turn TurnWrite) (WriteResult, error)
}

// BatchIngester is a TurnIngester that also takes several turns of one
// session in one call, stored in the order given; results[i] is turns[i]'s.
// A batch ingest uses it for consecutive turns of a session.
type BatchIngester interface {
	IngestTurns(ctx context.Context, turns []TurnWrite) ([]WriteResult, error)
}

// SessionCommitter turns a session's turns into durable memories. The same
// EventID again (a retry) produces no second memory; it answers
// ResultSuccess or ResultSkipped. A commit that runs on remotely answers
// ResultPending with State and is asked again with that state.
type SessionCommitter interface {
	CommitSession(ctx context.Context, req CommitRequest) (CommitResult, error)
}

// Retriever answers a context query: at most Limit items of the query's
// workspace and user only, each with its text and the memory's NativeID or
// NativeURI, scores not negative.
type Retriever interface {
	Retrieve(ctx context.Context, q RetrievalQuery) ([]RetrievedItem, error)
}

// FeedbackApplier applies accepted feedback (a correction or a delete) to the
// memory the backend owns; see FeedbackRequest for the answers. Applying the
// same EventID again succeeds without changing more; deleting what is gone
// succeeds; a correction without text is a permanent failure
// (EmptyCorrectionResult); ratings (HELPFUL, NOT_HELPFUL) are skipped with
// a reason.
type FeedbackApplier interface {
	ApplyFeedback(ctx context.Context, req FeedbackRequest) (CommitResult, error)
}

// TurnRemover takes back a turn the backend stored in this very call, when
// the control plane could not record it: the gateway never leaves a memory
// it holds no ref of. Only writes that created something (Created) are
// taken back.
type TurnRemover interface {
	RemoveTurn(ctx context.Context, turn TurnWrite) error
}

// TurnReader is implemented by a backend that keeps turns' content in its
// own storage (the local backend): it reads one turn back by its gateway id,
// as it was written (found false when it is not there). The control plane
// never holds content, so this is the only source a failed write to another
// backend can be sent again from. The TurnWrite's ContentHash is of the
// content held now: a turn corrected since it was written has another hash.
type TurnReader interface {
	ReadTurn(ctx context.Context, gatewayID string) (turn TurnWrite, found bool, err error)
}

// HealthChecker reports whether the backend is reachable.
type HealthChecker interface {
	Health(ctx context.Context) error
}

// TurnWrite is what a backend receives for one turn: content already
// normalised and redacted, plus the ids that make the write idempotent.
type TurnWrite struct {
	GatewayID     string
	ProvenanceID  string
	WorkspaceID   string
	UserID        string
	AgentID       string
	SessionID     string
	TurnID        string
	Namespace     string
	Role          Role
	Content       string
	ContentHash   string
	SourceType    string
	SourceEventID string
	TraceID       string
	RequestID     string
	OccurredAt    time.Time
}

// ResultStatus is a backend's verdict on one call.
type ResultStatus string

// Result statuses. Pending on a commit means "not finished yet, ask again
// later" and does not count as a failed attempt.
const (
	ResultFailed  ResultStatus = "failed"
	ResultPending ResultStatus = "pending"
	ResultSkipped ResultStatus = "skipped"
	ResultSuccess ResultStatus = "success"
)

// WriteResult is a backend's answer to a turn write.
type WriteResult struct {
	Status    ResultStatus
	NativeID  string
	NativeURI string
	Retryable bool
	ErrorCode string
	// ErrorMessage says what failed without naming the backend: the
	// gateway records it against its backend.
	ErrorMessage string
	// Response holds the backend's raw response fields; only the allow-list
	// (the gateway's BackendResultMetadata) reaches the control plane.
	Response map[string]any
	// Created is true when this call stored the turn (it was not there
	// before): a write the gateway may take back (TurnRemover).
	Created bool
}

// CommitRequest asks a backend to commit a session (or, for feedback events,
// identifies the event being executed).
type CommitRequest struct {
	EventID     string
	JobID       string
	GatewayID   string
	WorkspaceID string
	UserID      string
	AgentID     string
	SessionID   string
	Namespace   string
	Attempt     int
	Metadata    Metadata
	// Known, when the backend asks, reads the native ids of the memories of
	// this session in this backend the gateway already holds refs of (one
	// read, paged): a backend that can only list all of a session's
	// memories reports the new ones only. Nil outside the worker.
	Known func(ctx context.Context) (map[string]bool, error)
}

// ProducedRef is one memory a commit produced.
type ProducedRef struct {
	RefType   RefType
	NativeID  string
	NativeURI string
	Metadata  Metadata
	// Scope, when the backend knows the memory holds only what one turn
	// said, is that turn's agent and namespace; nil: the memory is derived
	// from the whole session and is recorded under the session's scope.
	Scope *SessionScope
}

// CommitResult is a backend's answer to an outbox operation.
type CommitResult struct {
	Status    ResultStatus
	Refs      []ProducedRef
	NativeID  string
	NativeURI string
	RefType   RefType
	Retryable bool
	ErrorCode string
	// ErrorMessage says what failed without naming the backend (as
	// WriteResult's).
	ErrorMessage string
	// RetryAfter asks the worker to look again after this long (Pending only).
	RetryAfter time.Duration
	// DownUntil, on a failure, says the backend is known to be down until
	// then (its circuit breaker is open): the event waits without spending
	// an attempt. An adapter may instead return an error that has a
	// BackendDownUntil() time.Time method.
	DownUntil time.Time
	// State is opaque progress the backend wants back on the next attempt
	// (e.g. a remote task id); it must not hold content.
	State    Metadata
	Response map[string]any
	// Retired, on a successful commit, are memories the backend itself
	// deleted while producing Refs (OpenViking's memory diff deletes): their
	// refs are marked DELETED in the completion's transaction.
	Retired []ProducedRef
	// DeletedSessions, on a narrowed erasure, are the sessions (gateway
	// ids) the backend deleted whole, with what every agent and namespace
	// wrote there (a SessionWideEraser).
	DeletedSessions []string
	// ReplacedContentHash, for applied feedback, is the ContentHash of the
	// trimmed text the correction or delete removed, when the backend could
	// read it: retrieval then recognises the old fact wherever it still
	// appears (a derived profile, another backend's copy).
	ReplacedContentHash string
}

// FeedbackRequest asks a backend to apply accepted feedback to a memory it
// owns: a CORRECTION replaces the memory's content with Correction (already
// redacted), a DELETE_REQUEST removes it. The call must be idempotent: the
// worker retries it after failures and lost leases, with the same EventID.
//
// The answer is a CommitResult: ResultSuccess, for a correction with the
// replacement memory's NativeID/NativeURI/RefType (the same ones when the
// backend rewrites in place); ResultSkipped with Response["reason"] when the
// backend cannot apply this operation to this memory; ResultFailed (or an
// error) otherwise, Retryable when trying again may help. State is kept
// between attempts, as for commits, for multi-step operations.
type FeedbackRequest struct {
	EventID      string
	FeedbackID   string
	FeedbackType FeedbackType
	WorkspaceID  string
	UserID       string
	AgentID      string
	SessionID    string
	Namespace    string
	// The memory: its ref's type and native identifiers, and what the
	// backend said of it when a commit produced it (ProducedRef.Metadata).
	RefType    RefType
	NativeID   string
	NativeURI  string
	Produced   Metadata
	Correction string
	Attempt    int
	State      Metadata
}

// RetrieveLimitDefault is the Limit of a query that names none.
const RetrieveLimitDefault = 10

// RetrievalQuery is one backend query of a retrieveContext call.
type RetrievalQuery struct {
	WorkspaceID string
	UserID      string
	AgentID     string
	Namespace   string
	SessionID   string
	Query       string
	Limit       int
}

// RetrievedItem is one memory a backend returned.
type RetrievedItem struct {
	Text       string
	Score      float64
	NativeID   string
	NativeURI  string
	MemoryType RefType
	// ContentHash, when the backend knows it, lets the merge dedupe across
	// backends exactly.
	ContentHash string
}

// ErrorCodeEmptyCorrection is an adapter's permanent failure of a correction
// without replacement text: the service never sends one, so it is a bug.
const ErrorCodeEmptyCorrection = "empty_correction"

// SkippedResult is an adapter's answer for an operation it cannot apply to
// this memory; reason is a short snake_case word shown on the feedback.
func SkippedResult(reason string) CommitResult {
	return CommitResult{Status: ResultSkipped, Response: map[string]any{"status": "skipped", "reason": reason}}
}

// StatusUnsupported is the Response["status"] of UnsupportedResult.
const StatusUnsupported = "unsupported"

// UnsupportedResult is an adapter's answer for an operation its backend's
// API offers no way to perform on this memory (EverOS has no delete; no
// EverMemOS API rewrites a profile): nothing changed, and nothing will by
// trying again. The feedback ends UNSUPPORTED with reason.
func UnsupportedResult(reason string) CommitResult {
	return CommitResult{Status: ResultSkipped, Response: map[string]any{"status": StatusUnsupported, "reason": reason}}
}

// EmptyCorrectionResult is an adapter's answer to a correction without text.
func EmptyCorrectionResult(_ Backend) CommitResult {
	return CommitResult{
		Status: ResultFailed, ErrorCode: ErrorCodeEmptyCorrection,
		ErrorMessage: "a correction needs replacement text",
		Response:     map[string]any{"status": "error", "error_code": ErrorCodeEmptyCorrection, "retryable": false},
	}
}
