package gateway

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Store is the persistence the domain needs. Each write method is one unit of
// work: the implementation runs it in a single transaction, so nothing is ever
// half-written.
type Store interface {
	SessionStore
	IngestStore
	CommitStore
	FeedbackStore
	ReadStore
	OutboxAdminStore
	ErasureStore
}

// IngestStore persists the control-plane side of ingest.
type IngestStore interface {
	// RefsByGatewayID returns every ref recorded under a gateway id.
	RefsByGatewayID(ctx context.Context, gatewayID string) ([]MemoryRef, error)
	// IngestBasis is what a turn's ingest reads before anything else, in
	// one query: the refs recorded under its gateway id, and whether any
	// erasure of its user is under way (ErasureStore.ActiveErasures then
	// says which).
	IngestBasis(ctx context.Context, gatewayID, workspaceID, userID string) (refs []MemoryRef, erasing bool, err error)
	// SaveIngest upserts refs (keeping created_at, never downgrading a
	// successful ref), records the audit entry (once per id) and the heal
	// events of failed writes (once per id: an event already there is kept
	// as it is).
	SaveIngest(ctx context.Context, refs []MemoryRef, audit AuditEntry, heals ...OutboxEvent) error
}

// CommitStore persists commit jobs.
type CommitStore interface {
	// CreateCommitJob stores the job, its outbox events and the audit entry in
	// one transaction, and returns them. If a job with the same id exists,
	// nothing is written and the stored job and its events are returned, read
	// consistently with each other, with created=false.
	CreateCommitJob(ctx context.Context, job CommitJob, events []OutboxEvent, audit AuditEntry) (stored JobSnapshot, created bool, err error)
}

// FeedbackStore persists feedback.
type FeedbackStore interface {
	// SaveFeedback stores feedback, its text, the audit entry and, for
	// feedback accepted at once, its route (job and outbox event) in one
	// transaction. If feedback with the same id exists, nothing is written
	// and the stored feedback is returned with created=false.
	SaveFeedback(ctx context.Context, fb MemoryFeedback, content FeedbackContent, audit AuditEntry, route *FeedbackRoute) (stored MemoryFeedback, created bool, err error)
	// ReviewFeedback applies a decision (and its route and audit entry) if
	// the feedback is still RECEIVED, in one transaction; it returns the
	// feedback as stored and whether this call changed it.
	ReviewFeedback(ctx context.Context, review FeedbackReview) (stored MemoryFeedback, changed bool, err error)
	// FeedbackContent returns feedback's text (content, for the worker).
	FeedbackContent(ctx context.Context, feedbackID string) (FeedbackContent, error)
	// FeedbackContents returns the text of each of the feedback ids that
	// has any (for its reviewers).
	FeedbackContents(ctx context.Context, feedbackIDs []string) (map[string]FeedbackContent, error)
}

// ReadStore serves the dashboard graph. Lists are ordered newest first by
// (created_at, id) and paged by keyset cursors.
type ReadStore interface {
	MemoryRefsByIDs(ctx context.Context, ids []string) ([]MemoryRef, error)
	CommitJobsByIDs(ctx context.Context, ids []string) ([]CommitJob, error)
	OutboxEventsByIDs(ctx context.Context, ids []string) ([]OutboxEvent, error)
	AuditEntriesByIDs(ctx context.Context, ids []string) ([]AuditEntry, error)
	FeedbackByIDs(ctx context.Context, ids []string) ([]MemoryFeedback, error)
	ErasureRequestsByIDs(ctx context.Context, ids []string) ([]ErasureRequest, error)

	ListMemoryRefs(ctx context.Context, f RefFilter, p PageRequest) (Page[MemoryRef], error)
	ListCommitJobs(ctx context.Context, f JobFilter, p PageRequest) (Page[CommitJob], error)
	ListOutboxEvents(ctx context.Context, f EventFilter, p PageRequest) (Page[OutboxEvent], error)
	ListAuditEntries(ctx context.Context, f AuditFilter, p PageRequest) (Page[AuditEntry], error)
	ListFeedback(ctx context.Context, f FeedbackFilter, p PageRequest) (Page[MemoryFeedback], error)
	ListErasureRequests(ctx context.Context, f ErasureFilter, p PageRequest) (Page[ErasureRequest], error)

	// The grouped lists return one page per parent key in one query, which is
	// what the dataloaders batch onto.
	ListMemoryRefsGrouped(ctx context.Context, by RefGroup, keys []string, f RefFilter, p PageRequest) (map[string]Page[MemoryRef], error)
	ListCommitJobsGrouped(ctx context.Context, by JobGroup, keys []string, f JobFilter, p PageRequest) (map[string]Page[CommitJob], error)
	ListOutboxEventsGrouped(ctx context.Context, by EventGroup, keys []string, f EventFilter, p PageRequest) (map[string]Page[OutboxEvent], error)
	ListAuditEntriesGrouped(ctx context.Context, by AuditGroup, keys []string, f AuditFilter, p PageRequest) (map[string]Page[AuditEntry], error)
	ListFeedbackGrouped(ctx context.Context, by FeedbackGroup, keys []string, f FeedbackFilter, p PageRequest) (map[string]Page[MemoryFeedback], error)
	// The grouped counts count every parent key's children under the same
	// grouping and filter, scope included, in one statement (every key
	// present, possibly 0): a nested list's totalCount.
	CountMemoryRefsGrouped(ctx context.Context, by RefGroup, keys []string, f RefFilter) (map[string]int, error)
	CountCommitJobsGrouped(ctx context.Context, by JobGroup, keys []string, f JobFilter) (map[string]int, error)
	CountOutboxEventsGrouped(ctx context.Context, by EventGroup, keys []string, f EventFilter) (map[string]int, error)
	CountAuditEntriesGrouped(ctx context.Context, by AuditGroup, keys []string, f AuditFilter) (map[string]int, error)
	CountFeedbackGrouped(ctx context.Context, by FeedbackGroup, keys []string, f FeedbackFilter) (map[string]int, error)

	// OutboxAttempts returns the kept attempts of each event, newest
	// first (every key present, possibly empty).
	OutboxAttempts(ctx context.Context, eventIDs []string) (map[string][]OutboxAttempt, error)

	// The counts of a list apply its filter, scope included, in one
	// statement each.
	CountMemoryRefs(ctx context.Context, f RefFilter) (int, error)
	CountCommitJobs(ctx context.Context, f JobFilter) (int, error)
	CountOutboxEvents(ctx context.Context, f EventFilter) (int, error)
	CountAuditEntries(ctx context.Context, f AuditFilter) (int, error)
	CountFeedback(ctx context.Context, f FeedbackFilter) (int, error)
	CountErasureRequests(ctx context.Context, f ErasureFilter) (int, error)
	CommitJobStatusCounts(ctx context.Context, f JobFilter) (map[JobStatus]int, error)

	// ListSessions lists the sessions with a ref or job in the filter's
	// scope, newest first; CountSessions counts them.
	ListSessions(ctx context.Context, f SessionFilter, p PageRequest) (Page[SessionInfo], error)
	CountSessions(ctx context.Context, f SessionFilter) (int, error)

	// OutboxSummaries counts events by status per job id.
	OutboxSummaries(ctx context.Context, jobIDs []string) (map[string]OutboxSummary, error)
	// OutboxSummary counts events by status under a filter.
	OutboxSummary(ctx context.Context, f EventFilter) (OutboxSummary, error)
	// IngestHealCounts counts the FAILED refs matching f per backend, by
	// the state of their heal event.
	IngestHealCounts(ctx context.Context, f RefFilter) (map[backendtype.Backend]IngestHealCount, error)
	// SessionExists reports whether any ref or job within scope is recorded
	// for the session.
	SessionExists(ctx context.Context, workspaceID, sessionID string, scope ReadScope) (bool, error)
	// RefsByNative finds the successful, superseded and deleted refs of one
	// backend by native id or uri.
	RefsByNative(ctx context.Context, workspaceID string, backend backendtype.Backend, nativeIDs, nativeURIs []string) ([]MemoryRef, error)
	// RetiredContentHashes returns the content hashes of a user's
	// superseded and deleted refs, the most recently retired first.
	RetiredContentHashes(ctx context.Context, workspaceID, userID string, limit int) ([]string, error)
}

// PageRequest asks for the first N items after a cursor or, paging
// backward, for the last N items before one (or at the list's end).
type PageRequest struct {
	First int
	After *Cursor
	// Backward pages hold the Last items just before Before (the list's
	// oldest items when Before is nil), still ordered newest first.
	Backward bool
	Last     int
	Before   *Cursor
}

// Cursor is a keyset position: lists are ordered by (created_at DESC, id DESC).
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// cursorVersion prefixes every cursor so the format can change later.
const cursorVersion = "c1"

// EncodeCursor makes an opaque cursor from a keyset position.
func EncodeCursor(createdAt time.Time, id string) string {
	raw := cursorVersion + "|" + createdAt.UTC().Format(time.RFC3339Nano) + "|" + id
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor parses a cursor made by EncodeCursor given as after.
func DecodeCursor(s string) (*Cursor, error) { return DecodeCursorOf("after", s) }

// DecodeCursorOf parses a cursor made by EncodeCursor; a bad one is an
// input error naming field.
func DecodeCursorOf(field, s string) (*Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, NewInputError(field, "is not a valid cursor")
	}
	parts := strings.SplitN(string(raw), "|", 3)
	if len(parts) != 3 || parts[0] != cursorVersion || parts[2] == "" {
		return nil, NewInputError(field, "is not a valid cursor")
	}
	ts, err := time.Parse(time.RFC3339Nano, parts[1])
	if err != nil {
		return nil, NewInputError(field, "is not a valid cursor")
	}
	return &Cursor{CreatedAt: ts, ID: parts[2]}, nil
}

// Page is one page of a list.
type Page[T any] struct {
	Items           []T
	HasNextPage     bool
	HasPreviousPage bool
}

// RefFilter narrows memory refs. Empty fields do not filter. Namespace matches
// the namespace and everything below it.
type RefFilter struct {
	WorkspaceID   string
	UserID        string
	AgentID       string
	SessionID     string
	Namespace     string
	GatewayID     string
	JobID         string
	OutboxEventID string
	Backend       backendtype.Backend
	RefType       backendtype.RefType
	Status        RefStatus
	// Scope is the caller's read scope; the Reader sets it.
	Scope ReadScope
}

// RefGroup is the parent a grouped ref list is keyed by (a name of the
// domain; the store knows which column holds it).
type RefGroup string

// Ref groupings.
const (
	RefsByGateway     RefGroup = "gateway"
	RefsByJob         RefGroup = "job"
	RefsByOutboxEvent RefGroup = "outbox_event"
	RefsBySession     RefGroup = "session"
	// RefsBySupersededBy groups the refs a replacement ref superseded.
	RefsBySupersededBy RefGroup = "superseded_by"
)

// JobFilter narrows commit jobs.
type JobFilter struct {
	WorkspaceID string
	UserID      string
	AgentID     string
	SessionID   string
	Namespace   string
	Status      JobStatus
	// Kind selects one kind of job (KindOf). Empty selects commits and
	// feedback routing (the jobs commitJobs lists), or every kind with
	// AllKinds.
	Kind     JobKind
	AllKinds bool
	// CreatedAt selects jobs accepted within a time range.
	CreatedAt *TimeRange
	// Scope is the caller's read scope; the Reader sets it.
	Scope ReadScope
}

// JobGroup is the parent a grouped job list is keyed by.
type JobGroup string

// Job groupings.
const (
	JobsBySession JobGroup = "session"
)

// EventFilter narrows outbox events.
type EventFilter struct {
	WorkspaceID string
	SessionID   string
	JobID       string
	Backend     backendtype.Backend
	Operation   Operation
	Status      OutboxStatus
	// ErrorCode matches the last error's code.
	ErrorCode string
	// Scope is the caller's read scope; the Reader sets it.
	Scope ReadScope
}

// EventGroup is the parent a grouped event list is keyed by.
type EventGroup string

// Event groupings.
const (
	EventsByJob EventGroup = "job"
)

// AuditFilter narrows audit entries.
type AuditFilter struct {
	WorkspaceID string
	Action      string
	TargetType  string
	TargetID    string
	SessionID   string
	JobID       string
	GatewayID   string
	Since       *time.Time
	Until       *time.Time
	// Scope is the caller's read scope; the Reader sets it.
	Scope ReadScope
}

// AuditGroup is the parent a grouped audit list is keyed by.
type AuditGroup string

// Audit groupings.
const (
	AuditByJob     AuditGroup = "job"
	AuditBySession AuditGroup = "session"
	AuditByTarget  AuditGroup = "target"
)

// FeedbackFilter narrows feedback.
type FeedbackFilter struct {
	WorkspaceID  string
	UserID       string
	MemoryRefID  string
	FeedbackType backendtype.FeedbackType
	Status       FeedbackStatus
	// Decided, when set, keeps only decided feedback (true: accepted or
	// rejected, by a reviewer or the policy, whatever happened next) or
	// only feedback awaiting review (false).
	Decided *bool
	// Scope is the caller's read scope; the Reader sets it.
	Scope ReadScope
}

// FeedbackGroup is the parent a grouped feedback list is keyed by.
type FeedbackGroup string

// Feedback groupings.
const (
	FeedbackByRef FeedbackGroup = "memory_ref"
)

// EmptyPage is the page a request gets when nothing is on it: an empty
// list that says only what the request's cursor already tells (a page after
// a cursor has one before it; a page before a cursor has one after it).
func EmptyPage[T any](p PageRequest) Page[T] {
	return Page[T]{Items: []T{}, HasPreviousPage: !p.Backward && p.After != nil, HasNextPage: p.Backward && p.Before != nil}
}

// Size is how many items p asks for, in its direction.
func (p PageRequest) Size() int {
	if p.Backward {
		return p.Last
	}
	return p.First
}

// Grown is p asking for n more items in its direction.
func (p PageRequest) Grown(n int) PageRequest {
	if p.Backward {
		p.Last += n
	} else {
		p.First += n
	}
	return p
}

// Without drops the items drop matches from a page read for p.Grown(n),
// and cuts what is left to p's size at the far end of its direction (the
// oldest items forward, the newest backward), which then has more beyond it.
func Without[T any](page Page[T], drop func(T) bool, p PageRequest) Page[T] {
	kept := make([]T, 0, len(page.Items))
	for _, it := range page.Items {
		if !drop(it) {
			kept = append(kept, it)
		}
	}
	if size := p.Size(); len(kept) > size {
		if p.Backward {
			kept, page.HasPreviousPage = kept[len(kept)-size:], true
		} else {
			kept, page.HasNextPage = kept[:size], true
		}
	}
	page.Items = kept
	return page
}
