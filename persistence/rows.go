package persistence

import (
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

func (r refRow) domain() gateway.MemoryRef           { return r.MemoryRef }
func (r refRow) rowNumber() int                      { return r.RowNumber }
func (r jobRow) domain() gateway.CommitJob           { return r.CommitJob }
func (r jobRow) rowNumber() int                      { return r.RowNumber }
func (r eventRow) domain() gateway.OutboxEvent       { return r.OutboxEvent }
func (r eventRow) rowNumber() int                    { return r.RowNumber }
func (r auditRow) domain() gateway.AuditEntry        { return r.AuditEntry }
func (r auditRow) rowNumber() int                    { return r.RowNumber }
func (r feedbackRow) domain() gateway.MemoryFeedback { return r.MemoryFeedback }
func (r feedbackRow) rowNumber() int                 { return r.RowNumber }

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
