package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// A turn whose write to one backend failed with a failure that trying again
// may mend (an error, a timeout, a retryable refusal) is healed through the
// outbox: the ingest records, in the transaction of its refs, an
// INGEST_TURN event for that backend, and the worker writes the turn again
// with the leases, attempts, backoff and dead letters of every event, until
// the ref is SUCCESS or the event is dead-lettered (and re-driven from
// there). The backend's write is idempotent on the turn's gateway id, so a
// write that did land although it was reported failed is not stored twice.
//
// The control plane never holds content, the event included: the event
// names the turn, and the worker reads its content back from a backend that
// keeps content (a backendtype.TurnReader: the local backend) — only when
// that backend holds the turn as it was written (same content hash: not
// corrected, deleted or erased since). When no backend can give the content
// back, nothing is queued and the ref stays FAILED with its reason in
// metadata "heal"; an event that finds the content gone is dead-lettered
// with ErrorCodeContentUnavailable. Either way only the client sending the
// turn again writes it.

// OperationIngestTurn is the outbox operation that writes a turn again to a
// backend whose ingest write failed.
const OperationIngestTurn Operation = "ingest_turn"

// Heal outcomes.
const (
	// ErrorCodeContentUnavailable: no backend holds the turn's content as
	// it was written any more; the write cannot be made again.
	ErrorCodeContentUnavailable = "content_unavailable"
	// ErrorCodeErasureInProgress: the subject is being erased; the event
	// waits, spending no attempt, and then finds the content gone.
	ErrorCodeErasureInProgress = "erasure_in_progress"
	// ReasonAlreadyWritten: the ref was no longer FAILED (the client sent
	// the turn again), so nothing was written.
	ReasonAlreadyWritten = "already_written"
	// ReasonRefMissing: no ingest ref of the turn in this backend exists.
	ReasonRefMissing = "ref_missing"
)

// What a FAILED ingest ref's metadata "heal" says when no heal was queued.
const (
	// HealNoContentSource: no configured backend holds the turn's content
	// (none keeps content, or its own write failed too).
	HealNoContentSource = "no_content_source"
	// HealNotRetryable: the backend refused the turn; writing it again
	// would be refused again.
	HealNotRetryable = "not_retryable"
)

// metadataHeal is the ref metadata key of HealNoContentSource and
// HealNotRetryable.
const metadataHeal = "heal"

// healErasureWait is how long a heal waits for an erasure of its subject
// before it looks again.
const healErasureWait = 5 * time.Second

// IngestHealCount counts one backend's FAILED ingest refs by what their
// heal is doing.
type IngestHealCount struct {
	Backend backendtype.Backend
	// Failed is every FAILED ref of the backend.
	Failed int
	// Healing have an INGEST_TURN event pending or processing.
	Healing int
	// DeadLettered have their event dead-lettered (a re-drive tries again).
	DeadLettered int
	// Unhealable have no event: nothing holds their content, or the
	// backend refused them for good.
	Unhealable int
}

// planHeals decides, for every write of this ingest that failed, whether it
// heals: it returns the events to record with the refs (and points each
// ref at its event), or notes on the ref why it does not.
func (s *Service) planHeals(t *turn, plans []*ingestPlan, now time.Time) []OutboxEvent {
	var events []OutboxEvent
	for _, p := range plans {
		if !p.call || p.ref.Status != RefStatusFailed {
			continue
		}
		if retryable, _ := p.ref.Metadata["retryable"].(bool); !retryable {
			p.ref.Metadata[metadataHeal] = HealNotRetryable
			continue
		}
		source := contentSource(plans, p)
		if source == "" {
			p.ref.Metadata[metadataHeal] = HealNoContentSource
			continue
		}
		backend := p.adapter.Name()
		id := OutboxEventID(t.gatewayID, backend, OperationIngestTurn)
		p.ref.OutboxEventID = optional(id)
		events = append(events, OutboxEvent{
			ID: id, GatewayID: t.gatewayID, WorkspaceID: t.WorkspaceID, UserID: t.UserID, AgentID: t.AgentID,
			SessionID: t.SessionID, Namespace: t.Namespace, Backend: backend, Operation: OperationIngestTurn,
			Status: OutboxPending, MaxAttempts: s.cfg.MaxAttempts,
			// The ingest's own write was the first try.
			NextRetryAt: now.Add(s.cfg.RetryDelay(1)),
			Metadata:    Metadata{"ref_id": p.ref.ID, "content_source": string(source)},
			CreatedAt:   now, UpdatedAt: now,
		})
	}
	return events
}

// contentSource is a backend of this ingest that holds the turn's content
// now: one that keeps content and whose ref of the turn is SUCCESS.
func contentSource(plans []*ingestPlan, failed *ingestPlan) backendtype.Backend {
	for _, p := range plans {
		if p == failed || p.ref.Status != RefStatusSuccess {
			continue
		}
		if _, ok := p.adapter.(backendtype.TurnReader); ok {
			return p.adapter.Name()
		}
	}
	return ""
}

// executeIngestHeal writes a turn again to the event's backend, with the
// content read back from a backend that keeps it, and on success records
// the ref SUCCESS in the completion's transaction.
func (s *OutboxExecutor) executeIngestHeal(ctx context.Context, c OutboxCompletion, e OutboxEvent, adapter backendtype.BackendAdapter, now time.Time) OutboxCompletion {
	ingester, ok := adapter.(backendtype.TurnIngester)
	if !ok {
		return s.skipped(c, now, ReasonAdapterMethodMissing)
	}
	ref, found, err := s.ingestRefOf(ctx, e)
	if err != nil {
		return s.failed(c, now, true, ErrorCodeAdapterException, err.Error())
	}
	if !found {
		return s.skipped(c, now, ReasonRefMissing)
	}
	if ref.Status != RefStatusFailed {
		return s.skipped(c, now, ReasonAlreadyWritten)
	}
	// An erasure of the subject deletes what the backends hold after its
	// grace; a write now could outlive it. Wait for it to end (it removes
	// the content too, and the next look dead-letters the event).
	active, err := s.store.ActiveErasures(ctx, e.WorkspaceID, e.UserID)
	if err != nil {
		return s.failed(c, now, true, ErrorCodeAdapterException, fmt.Sprintf("error checking erasures: %v", err))
	}
	if len(active) > 0 {
		return s.waitForBackend(c, e, now, now.Add(healErasureWait), ErrorCodeErasureInProgress,
			"an erasure of this user's memories is in progress ("+active[0].ID+")")
	}
	w, err := s.readTurnContent(ctx, ref)
	if err != nil {
		return s.failed(c, now, true, ErrorCodeAdapterException, err.Error())
	}
	if w == nil {
		return s.failed(c, now, false, ErrorCodeContentUnavailable,
			"no configured backend holds this turn's content as it was written (corrected, deleted or erased since, or never stored): only sending the turn again writes it")
	}
	started := time.Now()
	res, err := s.callIngester(ctx, e.Backend, ingester, *w, s.writeTimeout(e.Backend))
	latency := time.Since(started)
	if err != nil {
		return s.callFailed(c, e, now, err)
	}
	if res.Status == backendtype.ResultFailed {
		msg := res.ErrorMessage
		if msg == "" {
			msg = "backend reported failure"
		}
		return s.failed(c, now, res.Retryable, res.ErrorCode, msg)
	}
	c.Status = OutboxSuccess
	c.CompletedAt = &now
	c.LastError, c.LastErrorCode = nil, nil
	c.Refs = []MemoryRef{healedRef(ref, e, res, latency, now)}
	if res.Status == backendtype.ResultSkipped {
		c.Status = OutboxSkipped
	}
	return c
}

// ingestRefOf is the event's turn's ingest ref in the event's backend.
func (s *OutboxExecutor) ingestRefOf(ctx context.Context, e OutboxEvent) (MemoryRef, bool, error) {
	refs, err := s.store.RefsByGatewayID(ctx, e.GatewayID)
	if err != nil {
		return MemoryRef{}, false, fmt.Errorf("error loading refs of %s: %w", e.GatewayID, err)
	}
	ingest := s.refTypesOf(e.Backend).Ingest
	for _, r := range refs {
		if r.Backend == e.Backend && r.RefType == ingest {
			return r, true, nil
		}
	}
	return MemoryRef{}, false, nil
}

// readTurnContent reads the turn back from a backend that keeps content,
// as the ref's write would have sent it; nil when none holds it as it was
// written.
func (s *OutboxExecutor) readTurnContent(ctx context.Context, ref MemoryRef) (*backendtype.TurnWrite, error) {
	for _, b := range s.backends {
		reader, ok := b.(backendtype.TurnReader)
		if !ok || b.Name() == ref.Backend {
			continue
		}
		type read struct {
			w     backendtype.TurnWrite
			found bool
		}
		got, err := callAdapter(ctx, s.core, adapterCall[read]{
			backend: b.Name(), operation: CallReadTurn, timeout: s.writeTimeout(b.Name()),
			call: func(ctx context.Context) (read, error) {
				w, found, err := reader.ReadTurn(ctx, ref.GatewayID)
				return read{w, found}, err
			},
		})
		if err != nil {
			return nil, fmt.Errorf("error reading the turn back from %s: %w", b.Name(), err)
		}
		w := got.w
		if !got.found || ref.ContentHash == nil || w.ContentHash != *ref.ContentHash ||
			w.WorkspaceID != ref.WorkspaceID || w.UserID != ref.UserID {
			continue
		}
		// The ids are the ref's, as the ingest sent them.
		w.ProvenanceID, w.AgentID, w.SessionID, w.Namespace = ref.ProvenanceID, ref.AgentID, ref.SessionID, ref.Namespace
		w.TurnID, w.SourceType, w.SourceEventID = deref(ref.TurnID), deref(ref.SourceType), deref(ref.SourceEventID)
		if role, ok := ref.Metadata["role"].(string); ok && role != "" {
			w.Role = backendtype.Role(role)
		}
		w.TraceID, _ = ref.Metadata["trace_id"].(string)
		w.OccurredAt = ref.CreatedAt
		return &w, nil
	}
	return nil, nil
}

// healedRef is the FAILED ref as the heal's write left it.
func healedRef(ref MemoryRef, e OutboxEvent, res backendtype.WriteResult, latency time.Duration, now time.Time) MemoryRef {
	status := RefStatusSuccess
	switch res.Status {
	case backendtype.ResultPending:
		status = RefStatusPending
	case backendtype.ResultSkipped:
		status = RefStatusSkipped
	}
	resp := BackendResultMetadata(res.Response)
	resp["latency_ms"] = latency.Milliseconds()
	md := Metadata{}
	for k, v := range ref.Metadata {
		md[k] = v
	}
	delete(md, "retryable")
	delete(md, "error_code")
	md["backend_response"] = resp
	md["healed_by"] = e.ID
	ref.Metadata = SafeMetadata(md)
	ref.Status = status
	ref.NativeID, ref.NativeURI = optional(res.NativeID), optional(res.NativeURI)
	ref.ErrorMessage = nil
	ref.OutboxEventID = optional(e.ID)
	ref.UpdatedAt = now
	return ref
}
