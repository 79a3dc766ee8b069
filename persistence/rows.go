package persistence

import (
	"time"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// Row types bind the domain records to their tables. They embed the domain
// struct, whose field names map onto the column names; RowNumber is filled
// only by the grouped (windowed) list queries.

type refRow struct {
	bun.BaseModel `bun:"table:memory_refs,alias:r"`
	gateway.MemoryRef
	RowNumber int `bun:"rn,scanonly"`
}

type jobRow struct {
	bun.BaseModel `bun:"table:commit_jobs,alias:j"`
	gateway.CommitJob
	RowNumber int `bun:"rn,scanonly"`
}

type eventRow struct {
	bun.BaseModel `bun:"table:outbox_events,alias:e"`
	gateway.OutboxEvent
	RowNumber int `bun:"rn,scanonly"`
}

type attemptRow struct {
	bun.BaseModel `bun:"table:outbox_attempts,alias:a"`
	gateway.OutboxAttempt
}

func (r attemptRow) domain() gateway.OutboxAttempt {
	a := r.OutboxAttempt
	a.StartedAt, a.FinishedAt = a.StartedAt.UTC(), a.FinishedAt.UTC()
	return a
}

type auditRow struct {
	bun.BaseModel `bun:"table:audit_entries,alias:a"`
	gateway.AuditEntry
	RowNumber int `bun:"rn,scanonly"`
}

type feedbackRow struct {
	bun.BaseModel `bun:"table:memory_feedback,alias:f"`
	gateway.MemoryFeedback
	RowNumber int `bun:"rn,scanonly"`
}

type feedbackContentRow struct {
	bun.BaseModel `bun:"table:feedback_content,alias:fc"`
	FeedbackID    string
	Comment       string
	Correction    string
}

// record is implemented by every row type: the keyset and grouping accessors
// the generic list code needs.
type record[T any] interface {
	domain() T
	rowNumber() int
}

// domain returns the record with every time in UTC: drivers hand times back
// in the local zone (SQLite) or the session zone (PostgreSQL).
func (r refRow) domain() gateway.MemoryRef {
	m := r.MemoryRef
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	m.SupersededAt = utcPtr(m.SupersededAt)
	return m
}

func (r jobRow) domain() gateway.CommitJob {
	j := r.CommitJob
	j.CreatedAt, j.UpdatedAt = j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	j.StartedAt, j.FinishedAt = utcPtr(j.StartedAt), utcPtr(j.FinishedAt)
	return j
}

func (r eventRow) domain() gateway.OutboxEvent {
	e := r.OutboxEvent
	e.CreatedAt, e.UpdatedAt, e.NextRetryAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC(), e.NextRetryAt.UTC()
	e.LockedAt, e.LeaseExpiresAt, e.CompletedAt = utcPtr(e.LockedAt), utcPtr(e.LeaseExpiresAt), utcPtr(e.CompletedAt)
	return e
}

func (r auditRow) domain() gateway.AuditEntry {
	a := r.AuditEntry
	a.CreatedAt = a.CreatedAt.UTC()
	return a
}

func (r feedbackRow) domain() gateway.MemoryFeedback {
	f := r.MemoryFeedback
	f.CreatedAt, f.UpdatedAt = f.CreatedAt.UTC(), f.UpdatedAt.UTC()
	f.ReviewedAt, f.AppliedAt = utcPtr(f.ReviewedAt), utcPtr(f.AppliedAt)
	return f
}

func (r refRow) rowNumber() int      { return r.RowNumber }
func (r jobRow) rowNumber() int      { return r.RowNumber }
func (r eventRow) rowNumber() int    { return r.RowNumber }
func (r auditRow) rowNumber() int    { return r.RowNumber }
func (r feedbackRow) rowNumber() int { return r.RowNumber }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil(m gateway.Metadata) gateway.Metadata {
	if m == nil {
		return gateway.Metadata{}
	}
	return m
}

func toRefRows(refs []gateway.MemoryRef) []refRow {
	rows := make([]refRow, len(refs))
	for i, r := range refs {
		r.Metadata = nonNil(r.Metadata)
		rows[i] = refRow{MemoryRef: r}
	}
	return rows
}

func toEventRows(events []gateway.OutboxEvent) []eventRow {
	rows := make([]eventRow, len(events))
	for i, e := range events {
		e.Metadata = nonNil(e.Metadata)
		rows[i] = eventRow{OutboxEvent: e}
	}
	return rows
}

func toDomain[T any, R record[T]](rows []R) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out
}
