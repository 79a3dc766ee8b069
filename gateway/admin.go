package gateway

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Admin limits.
const (
	ProcessOutboxLimitDefault = 100
	ProcessOutboxLimitMax     = 10_000
	AuditActionRedrive        = "redrive_outbox_events"
)

// OutboxDrainer processes due outbox events right now (the worker): of one
// workspace, or of every workspace when workspaceID is "".
type OutboxDrainer interface {
	Drain(ctx context.Context, limit int, workspaceID string) (int, error)
}

// OutboxAdminStore is what the admin operations need beyond the ReadStore.
type OutboxAdminStore interface {
	RedriveOutboxEvents(ctx context.Context, f EventFilter, ids []string, now time.Time) ([]OutboxEvent, []CommitJob, error)
	InsertAudit(ctx context.Context, entries []AuditEntry) error
}

// ProcessOutboxResult is what a synchronous drain did.
type ProcessOutboxResult struct {
	ProcessedCount int
	Summary        OutboxSummary
}

// ProcessOutbox drains up to limit due events now and returns the outbox
// summary afterwards. A workspace admin drains its own workspace; only an
// operator drains every workspace (workspaceID "") or names another one.
func (s *Service) ProcessOutbox(ctx context.Context, limit *int, workspaceID string) (ProcessOutboxResult, error) {
	p, err := s.requireAdmin(ctx)
	if err != nil {
		return ProcessOutboxResult{}, err
	}
	if !p.IsOperator() {
		if workspaceID != "" && workspaceID != p.WorkspaceID {
			return ProcessOutboxResult{}, &NotFoundError{Field: "workspaceId", What: "workspace"}
		}
		workspaceID = p.WorkspaceID
	}
	n := ProcessOutboxLimitDefault
	if limit != nil {
		n = *limit
	}
	if n < 1 || n > ProcessOutboxLimitMax {
		return ProcessOutboxResult{}, NewInputError("limit", fmt.Sprintf("must be between 1 and %d", ProcessOutboxLimitMax))
	}
	if s.drainer == nil {
		return ProcessOutboxResult{}, fmt.Errorf("no outbox worker is attached to this service")
	}
	processed, err := s.drainer.Drain(ctx, n, workspaceID)
	if err != nil {
		return ProcessOutboxResult{}, fmt.Errorf("error draining the outbox: %w", err)
	}
	// The summary covers only what the caller may see.
	sum, err := s.store.OutboxSummary(ctx, EventFilter{WorkspaceID: workspaceID, Scope: p.ReadScope()})
	if err != nil {
		return ProcessOutboxResult{}, fmt.Errorf("error summarising the outbox: %w", err)
	}
	return ProcessOutboxResult{ProcessedCount: processed, Summary: sum}, nil
}

// RedriveOutboxEvent puts one dead-lettered event back to PENDING with a
// fresh set of attempts.
func (s *Service) RedriveOutboxEvent(ctx context.Context, id string) (OutboxEvent, error) {
	event, err := s.Reader(ctx).OutboxEvent(ctx, id)
	if IsNotFound(err) {
		return OutboxEvent{}, &NotFoundError{Field: "id", What: "outbox event"}
	}
	if err != nil {
		return OutboxEvent{}, err
	}
	p, err := s.authorize(ctx, AccessAdmin, Scope{WorkspaceID: event.WorkspaceID, UserID: event.UserID, AgentID: event.AgentID, Namespace: event.Namespace})
	if err != nil {
		return OutboxEvent{}, err
	}
	if event.Status != OutboxDeadLetter {
		return OutboxEvent{}, &ConflictError{Field: "id", Message: "only a DEAD_LETTER event can be re-driven (this one is " + string(event.Status) + ")"}
	}
	redriven, err := s.redrive(ctx, p, EventFilter{}, []string{id})
	if err != nil {
		return OutboxEvent{}, err
	}
	if len(redriven) == 0 {
		return OutboxEvent{}, &ConflictError{Field: "id", Message: "the event changed state while being re-driven"}
	}
	return redriven[0], nil
}

// RedriveOutboxEvents re-drives every dead-lettered event matching f.
func (s *Service) RedriveOutboxEvents(ctx context.Context, f EventFilter) ([]OutboxEvent, error) {
	if f.Status != "" && f.Status != OutboxDeadLetter {
		return nil, NewInputError("filter.status", "only DEAD_LETTER events can be re-driven")
	}
	p, err := s.requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	return s.redrive(ctx, p, f, nil)
}

// requireAdmin checks the caller holds ADMIN on its whole workspace.
func (s *Service) requireAdmin(ctx context.Context) (Principal, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return Principal{}, err
	}
	if p.AccessTo(p.WorkspaceID, "") < AccessAdmin || p.UserID != "" || p.AgentID != "" {
		return Principal{}, fmt.Errorf("%w: admin operations need an ADMIN key of the whole workspace", ErrForbidden)
	}
	return p, nil
}

func (s *Service) redrive(ctx context.Context, p Principal, f EventFilter, ids []string) ([]OutboxEvent, error) {
	now := s.clock()
	f.Scope = p.ReadScope()
	events, jobs, err := s.store.RedriveOutboxEvents(ctx, f, ids, now)
	if err != nil {
		return nil, fmt.Errorf("error re-driving outbox events: %w", err)
	}
	if len(events) == 0 {
		return events, nil
	}
	perWorkspace := map[string][]string{}
	for _, e := range events {
		perWorkspace[e.WorkspaceID] = append(perWorkspace[e.WorkspaceID], e.ID)
	}
	var audits []AuditEntry
	for ws, eventIDs := range perWorkspace {
		slices.Sort(eventIDs)
		audits = append(audits, auditEntry(AuditActionRedrive, []string{ws, now.String(), eventIDs[0]},
			auditSubject{WorkspaceID: ws, Principal: p.Name, TargetType: "outbox_event", TargetID: eventIDs[0]},
			Metadata{"event_ids": eventIDs[:min(len(eventIDs), 100)], "count": len(eventIDs)}, now))
	}
	for i := range audits {
		stampVia(ctx, &audits[i])
	}
	if err := s.store.InsertAudit(ctx, audits); err != nil {
		return nil, fmt.Errorf("error auditing re-drive: %w", err)
	}
	s.publishJobs(ctx, jobs)
	s.notifyOutbox(ctx)
	return events, nil
}

// holdJobs is called before a transaction that creates jobs ids; the
// release it returns publishes what was created (nil: nothing), after the
// commit. Must be called on every path.
func (s *Service) holdJobs(ids ...string) (release func(ctx context.Context, created []CommitJob)) {
	if holder, ok := s.publisher.(JobHolder); ok {
		return holder.HoldJobs(ids)
	}
	return s.publishJobs
}

func (s *Service) publishJobs(ctx context.Context, jobs []CommitJob) {
	if s.publisher != nil && len(jobs) > 0 {
		s.publisher.PublishJobStates(ctx, jobs)
	}
}
