package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/groupcommit"
)

// Reasons recorded on SKIPPED refs.
const (
	ReasonAdapterMethodMissing = "adapter_method_missing"
	ReasonPolicyDisabled       = "policy_disabled"
)

// maxErrorMessageLength bounds error text kept from a backend.
const maxErrorMessageLength = 500

// AuditActionIngest is the audit action of an ingest.
const AuditActionIngest = "ingest_conversation_turn"

// IngestTurnInput is one conversation turn sent by an agent.
type IngestTurnInput struct {
	WorkspaceID    string           `json:"workspaceId" validate:"required,max=128,ident"`
	UserID         string           `json:"userId" validate:"required,max=128,ident"`
	AgentID        string           `json:"agentId" validate:"required,max=128,ident"`
	SessionID      string           `json:"sessionId" validate:"required,max=128,ident"`
	TurnID         string           `json:"turnId" validate:"required,max=128,ident"`
	Namespace      string           `json:"namespace" validate:"required,max=512,namespace"`
	Role           backendtype.Role `json:"role" validate:"required,oneof=user assistant system tool"`
	Content        string           `json:"content" validate:"required,text"`
	IdempotencyKey string           `json:"idempotencyKey" validate:"max=256,ident"`
	SourceType     string           `json:"sourceType" validate:"max=64,ident"`
	SourceEventID  string           `json:"sourceEventId" validate:"max=256,ident"`
	RequestID      string           `json:"requestId" validate:"max=128,ident"`
	Metadata       map[string]any   `json:"metadata"`
	Trace          TraceInput       `json:"trace"`
	// Policy lists the backends allowed for this turn; nil allows every
	// configured backend.
	Policy *TurnPolicy `json:"policy"`
}

// TraceInput carries the caller's trace identifiers.
type TraceInput struct {
	TraceID   string `json:"traceId" validate:"max=128,ident"`
	RequestID string `json:"requestId" validate:"max=128,ident"`
}

// TurnPolicy restricts which backends a turn may reach.
type TurnPolicy struct {
	Backends []backendtype.Backend `json:"backends" validate:"dive,backend"`
}

// IngestResult is the outcome of an ingest.
type IngestResult struct {
	Status       OperationStatus
	GatewayID    string
	ProvenanceID string
	RequestID    string
	TurnID       string
	Refs         []MemoryRef
	Errors       []string
	// Replayed is true when the same turn was already fully recorded and
	// nothing was written or sent again.
	Replayed bool
}

// turn is a validated, normalised ingest request with its derived ids.
type turn struct {
	IngestTurnInput
	basis        string
	gatewayID    string
	provenanceID string
	contentHash  string
	allowed      map[backendtype.Backend]bool // nil = all
	principal    string
	// readScope is the caller's: records already stored under the turn's
	// ids are answered only when it reaches them.
	readScope  ReadScope
	redactions map[string]int
	// prefetched, in a batch, holds what the batch read under the turn's
	// gateway id in one query for all its turns (fetched tells it did).
	prefetched []MemoryRef
	fetched    bool
}

// redactTurn applies the workspace's redaction policy to the content and
// the client metadata, once, before anything leaves for a backend. What was
// found is kept as counts per kind, never as values; the content hash is of
// the redacted content, which is all the gateway ever holds.
func (s *Service) redactTurn(t *turn) error {
	t.redactions = map[string]int{}
	content := s.redact(t.WorkspaceID, t.Content)
	addCounts(t.redactions, content.Counts)
	if len(content.Rejected) > 0 {
		return rejection("content", content)
	}
	md, rejected := s.redactMetadata(t.WorkspaceID, t.Metadata, t.redactions)
	if len(rejected) > 0 {
		return rejection("metadata", Redaction{Rejected: rejected})
	}
	t.Content, t.Metadata = strings.TrimSpace(content.Text), md
	if t.Content == "" {
		return NewInputError("content", "is empty once redacted")
	}
	t.contentHash = backendtype.ContentHash(t.Content)
	return nil
}

func (t *turn) scope() Scope {
	return Scope{WorkspaceID: t.WorkspaceID, UserID: t.UserID, AgentID: t.AgentID, Namespace: t.Namespace}
}

// normalizeTurn trims, validates and derives ids. Nothing is written before
// this succeeds.
func (s *Service) normalizeTurn(in IngestTurnInput) (*turn, error) {
	in.Namespace = normalizeNamespace(in.Namespace)
	in.Content = strings.TrimSpace(in.Content)
	if err := s.validateStruct(in); err != nil {
		return nil, err
	}
	if err := checkText("content", in.Content, s.cfg.MaxContentBytes); err != nil {
		return nil, err
	}
	if err := checkMetadataText("metadata", in.Metadata); err != nil {
		return nil, err
	}
	if in.Policy != nil {
		if err := s.checkConfigured("policy.backends", in.Policy.Backends); err != nil {
			return nil, err
		}
	}
	if in.Metadata != nil && metadataSize(in.Metadata) > s.cfg.MaxMetadataBytes {
		return nil, NewInputError("metadata", fmt.Sprintf("must be at most %d bytes encoded", s.cfg.MaxMetadataBytes))
	}
	if err := s.checkIDs(
		idField{"workspaceId", in.WorkspaceID}, idField{"userId", in.UserID}, idField{"agentId", in.AgentID},
		idField{"sessionId", in.SessionID}, idField{"turnId", in.TurnID}, idField{"namespace", in.Namespace},
		idField{"idempotencyKey", in.IdempotencyKey}, idField{"sourceType", in.SourceType},
		idField{"sourceEventId", in.SourceEventID}, idField{"requestId", in.RequestID},
		idField{"trace.traceId", in.Trace.TraceID}, idField{"trace.requestId", in.Trace.RequestID},
	); err != nil {
		return nil, err
	}
	t := &turn{IngestTurnInput: in}
	t.basis = IdempotencyBasis(in.WorkspaceID, in.IdempotencyKey, in.SourceType, in.SourceEventID, in.SessionID, in.TurnID)
	t.gatewayID = GatewayID(t.basis)
	t.provenanceID = ProvenanceID(t.gatewayID, t.basis)
	t.contentHash = backendtype.ContentHash(in.Content)
	if in.Policy != nil {
		t.allowed = make(map[backendtype.Backend]bool, len(in.Policy.Backends))
		for _, b := range in.Policy.Backends {
			t.allowed[b] = true
		}
	}
	return t, nil
}

// IngestConversationTurn validates a turn, fans it out to every configured
// backend concurrently and records one ref per backend. It is idempotent on
// the turn's basis: a replay returns the same ids and writes nothing, and
// concurrent duplicates in one process share one execution.
func (s *Service) IngestConversationTurn(ctx context.Context, in IngestTurnInput) (IngestResult, error) {
	t, err := s.prepareTurn(ctx, in)
	if err != nil {
		return IngestResult{}, err
	}
	return s.runTurn(ctx, t, in.RequestID, inBatch{})
}

// prepareTurn is everything of an ingest before the database and the
// backends: validate → authorize → take a rate-limit token → redact.
func (s *Service) prepareTurn(ctx context.Context, in IngestTurnInput) (*turn, error) {
	t, err := s.normalizeTurn(in)
	if err != nil {
		return nil, err
	}
	if err := checkSourceType(ctx, in.SourceType); err != nil {
		return nil, err
	}
	principal, err := s.authorize(ctx, AccessWrite, t.scope())
	if err != nil {
		return nil, err
	}
	t.principal, t.readScope = principal.Name, principal.ReadScope()
	if err := s.admit(ctx, principal, LimitIngest); err != nil {
		return nil, err
	}
	if err := s.redactTurn(t); err != nil {
		return nil, err
	}
	return t, nil
}

// runTurn records a prepared turn.
func (s *Service) runTurn(ctx context.Context, t *turn, requestID string, batch inBatch) (IngestResult, error) {
	// The shared execution must not die with the first caller's request.
	// Only the same key's duplicates share one: what a replay may answer
	// depends on the caller.
	key := t.flightKey()
	ch := s.ingests.DoChan(key, func() (any, error) {
		return s.ingest(context.WithoutCancel(ctx), t, batch)
	})
	select {
	case <-ctx.Done():
		return IngestResult{}, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return IngestResult{}, r.Err
		}
		res := r.Val.(IngestResult)
		res.Refs = slices.Clone(res.Refs)
		res.Errors = slices.Clone(res.Errors)
		res.RequestID = requestID
		return res, nil
	}
}

// flightKey names the executions duplicates of the turn may share.
func (t *turn) flightKey() string {
	return t.principal + "|" + t.gatewayID + "|" + t.contentHash + "|" + policyKey(t.allowed)
}

func policyKey(allowed map[backendtype.Backend]bool) string {
	if allowed == nil {
		return "*"
	}
	names := make([]string, 0, len(allowed))
	for b := range allowed {
		names = append(names, string(b))
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// inBatch is what a turn of a batch ingest shares with the rest of its
// batch; the zero value is a turn ingested alone.
type inBatch struct {
	// erasures are the batch's recent answers to "is an erasure of this
	// user under way?".
	erasures *erasureChecks
	// writers queue the batch's backend writes per (session, backend), and
	// order places this turn's after its session's previous turn's; both
	// nil for a turn written on its own.
	writers *sessionWriters
	order   *turnOrder
}

// ingestPlan is what happens to one backend for one turn.
type ingestPlan struct {
	adapter  backendtype.BackendAdapter
	ingester backendtype.TurnIngester
	prev     *MemoryRef
	ref      MemoryRef
	call     bool
	changed  bool
	// created: the backend stored the turn in this call.
	created bool
}

func (s *Service) ingest(ctx context.Context, t *turn, batch inBatch) (IngestResult, error) {
	// Whose session it is comes first: a write into another user's session
	// is refused at the same cost whatever it names, so the refusal tells
	// nothing of the session's turns (whether a turn id, or with derived
	// ids a sentence, is there).
	now := s.clock()
	if err := s.claimSession(ctx, SessionClaim{
		WorkspaceID: t.WorkspaceID, SessionID: t.SessionID, UserID: t.UserID,
		AgentID: t.AgentID, Namespace: t.Namespace, At: now,
	}); err != nil {
		return IngestResult{}, err
	}
	prevByBackend, replay, mayErase, err := s.previousRefs(ctx, t)
	if err != nil {
		return IngestResult{}, err
	}
	if replay != nil {
		return *replay, nil
	}
	// No write may land while an erasure of the subject is under way: it
	// could outlive the delete.
	if mayErase {
		if err := s.erasingSubject(ctx, batch.erasures, t.WorkspaceID, t.UserID, t.AgentID, t.Namespace, t.SessionID); err != nil {
			return IngestResult{}, err
		}
	}
	plans := s.planIngest(t, prevByBackend, now)
	// In a batch, a session's turns reach the backends in their order; all
	// else of their ingests overlaps. The wait may be long, so an erasure
	// accepted meanwhile is checked for again right before the write.
	if batch.order != nil {
		batch.order.wait()
		if err := s.erasingSubject(ctx, batch.erasures, t.WorkspaceID, t.UserID, t.AgentID, t.Namespace, t.SessionID); err != nil {
			return IngestResult{}, err
		}
		s.writeBackendsInOrder(ctx, t, plans, now, batch)
	} else {
		s.writeBackends(ctx, t, plans, now)
	}

	// A failed write that may heal gets its event, recorded with the refs.
	heals := s.planHeals(t, plans, now)
	refs := make([]MemoryRef, 0, len(plans))
	var changed []MemoryRef
	for _, p := range plans {
		if p.prev != nil && p.ref.ID == p.prev.ID && !p.call && sameOutcome(*p.prev, p.ref) {
			p.ref = *p.prev
		} else {
			p.changed = true
			if p.prev != nil {
				p.ref.CreatedAt = p.prev.CreatedAt
			}
			changed = append(changed, p.ref)
		}
		refs = append(refs, p.ref)
	}
	res := IngestResult{
		Status: AggregateRefStatus(refs), GatewayID: t.gatewayID, ProvenanceID: t.provenanceID, TurnID: t.TurnID,
		Refs: refs, Errors: refErrors(refs), Replayed: len(changed) == 0,
	}
	if res.Replayed {
		return res, nil
	}
	audit := s.ingestAudit(ctx, t, res, now)
	stampVia(ctx, &audit)
	if err := s.store.SaveIngest(ctx, changed, audit, heals...); err != nil {
		s.takeBack(ctx, t, plans)
		return IngestResult{}, fmt.Errorf("error saving ingest of %s: %w", t.gatewayID, err)
	}
	return res, nil
}

// previousRefs reads what was recorded under the turn's gateway id: the
// ingest ref of each backend, or — when the turn can only be answered from
// the record — the replay. Ids are unique per workspace: what another user
// (or a scope this key does not reach) recorded under them is never
// answered, whatever it holds; other content under the same id is a
// conflict. mayErase is false when the same read found no erasure of the
// user under way (a batch reads its refs ahead, and erasures apart).
func (s *Service) previousRefs(ctx context.Context, t *turn) (map[backendtype.Backend]*MemoryRef, *IngestResult, bool, error) {
	existing, mayErase := t.prefetched, true
	if !t.fetched {
		var err error
		if existing, mayErase, err = s.store.IngestBasis(ctx, t.gatewayID, t.WorkspaceID, t.UserID); err != nil {
			return nil, nil, false, fmt.Errorf("error loading refs of %s: %w", t.gatewayID, err)
		}
	}
	if !answerable(t.readScope, t.UserID, existing, refPlace) {
		return nil, nil, false, ErrOutOfScope
	}
	prevByBackend := make(map[backendtype.Backend]*MemoryRef, len(existing))
	for i := range existing {
		r := &existing[i]
		if r.ContentHash != nil && *r.ContentHash != t.contentHash {
			if current := s.rulesVersion(); current != "" && refRulesVersion(*r) != current {
				// Recorded under another redaction rule set: the same turn
				// may redact differently now. It is answered as the replay
				// it may be, from what is recorded, not as a conflict.
				replay := s.replayOf(t, existing)
				return nil, &replay, false, nil
			}
			return nil, nil, false, &ConflictError{Field: idempotencyField(t), Message: "a turn with different content was already ingested under this " + idempotencyField(t)}
		}
		if r.RefType == s.refTypesOf(r.Backend).Ingest {
			prevByBackend[r.Backend] = r
		}
	}
	return prevByBackend, nil, mayErase, nil
}

// planIngest decides, per backend, whether the turn is sent: never twice
// once written, never to a backend the turn's policy excludes or that
// cannot ingest (those get a SKIPPED ref).
func (s *Service) planIngest(t *turn, prevByBackend map[backendtype.Backend]*MemoryRef, now time.Time) []*ingestPlan {
	plans := make([]*ingestPlan, 0, len(s.backends))
	for _, adapter := range s.backends {
		p := &ingestPlan{adapter: adapter, prev: prevByBackend[adapter.Name()]}
		switch {
		case p.prev != nil && (p.prev.Status == RefStatusSuccess || p.prev.Status == RefStatusPending):
			p.ref = *p.prev // already written: never send twice
		case t.allowed != nil && !t.allowed[adapter.Name()]:
			p.ref = s.newIngestRef(t, adapter.Name(), RefStatusSkipped, now, Metadata{"reason": ReasonPolicyDisabled})
		default:
			ingester, ok := adapter.(backendtype.TurnIngester)
			if !ok {
				p.ref = s.newIngestRef(t, adapter.Name(), RefStatusSkipped, now, Metadata{"reason": ReasonAdapterMethodMissing})
				break
			}
			p.ingester, p.call = ingester, true
		}
		plans = append(plans, p)
	}
	return plans
}

// takeBack removes what backends stored in this ingest when its refs could
// not be recorded, so no backend holds a memory the gateway has no ref of.
// (A backend that cannot take a write back keeps it; a replay of the turn
// records its ref then.)
func (s *Service) takeBack(ctx context.Context, t *turn, plans []*ingestPlan) {
	w := s.turnWrite(t, time.Time{})
	for _, p := range plans {
		remover, ok := p.adapter.(backendtype.TurnRemover)
		if !p.created || !ok {
			continue
		}
		s.removeTurn(ctx, p.adapter.Name(), remover, w)
	}
}

// removeTurn takes a turn back from a backend: a backend call like any
// other (bounded by the backend's write timeout, observed, its panic
// contained), whatever the caller's context has become.
func (s *core) removeTurn(ctx context.Context, backend backendtype.Backend, remover backendtype.TurnRemover, w backendtype.TurnWrite) {
	_, err := callAdapter(context.WithoutCancel(ctx), s, adapterCall[struct{}]{
		backend: backend, operation: CallRemoveTurn, timeout: s.writeTimeout(backend),
		call: func(ctx context.Context) (struct{}, error) { return struct{}{}, remover.RemoveTurn(ctx, w) },
	})
	if err != nil {
		s.logger.ErrorContext(ctx, "gateway: could not take back a turn whose refs were not recorded",
			slog.String("backend", string(backend)), slog.String("gateway_id", w.GatewayID),
			slog.String("err", truncate(s.redactError(w.WorkspaceID, err.Error()), maxErrorMessageLength)))
	}
}

// metadataRulesVersion records, beside a content hash, the redaction rule
// set the content was redacted with.
const metadataRulesVersion = "redaction_rules"

// refRulesVersion is the rule set a ref's content was redacted with (""
// for refs recorded before versions were: the original detectors).
func refRulesVersion(r MemoryRef) string {
	v, _ := r.Metadata[metadataRulesVersion].(string)
	return v
}

// replayOf answers a replay from what is recorded, writing nothing.
func (s *core) replayOf(t *turn, refs []MemoryRef) IngestResult {
	out := make([]MemoryRef, 0, len(refs))
	for _, r := range refs {
		if r.RefType == s.refTypesOf(r.Backend).Ingest {
			out = append(out, r)
		}
	}
	return IngestResult{
		Status: AggregateRefStatus(out), GatewayID: t.gatewayID, ProvenanceID: t.provenanceID, TurnID: t.TurnID,
		Refs: out, Errors: refErrors(out), Replayed: true,
	}
}

func idempotencyField(t *turn) string {
	switch {
	case t.IdempotencyKey != "":
		return "idempotencyKey"
	case t.SourceEventID != "":
		return "sourceEventId"
	default:
		return "turnId"
	}
}

// sameOutcome reports whether a recomputed ref says nothing new.
func sameOutcome(prev, next MemoryRef) bool {
	return prev.Status == next.Status && prev.Metadata["reason"] == next.Metadata["reason"]
}

// writeBackends calls every planned backend concurrently, each under its own
// timeout, and turns each answer (or error, or panic) into the plan's ref.
func (s *Service) turnWrite(t *turn, now time.Time) backendtype.TurnWrite {
	return backendtype.TurnWrite{
		GatewayID: t.gatewayID, ProvenanceID: t.provenanceID, WorkspaceID: t.WorkspaceID,
		UserID: t.UserID, AgentID: t.AgentID, SessionID: t.SessionID, TurnID: t.TurnID,
		Namespace: t.Namespace, Role: t.Role, Content: t.Content, ContentHash: t.contentHash,
		SourceType: t.SourceType, SourceEventID: t.SourceEventID, TraceID: t.Trace.TraceID,
		RequestID: t.RequestID, OccurredAt: now,
	}
}

func (s *Service) writeBackends(ctx context.Context, t *turn, plans []*ingestPlan, now time.Time) {
	write := s.turnWrite(t, now)
	send := func(p *ingestPlan) {
		started := time.Now()
		res, err := s.callIngester(ctx, p.adapter.Name(), p.ingester, write, s.writeTimeout(p.adapter.Name()))
		s.recordWrite(ctx, t, p, res, err, time.Since(started), now)
	}
	calls := 0
	for _, p := range plans {
		if p.call {
			calls++
		}
	}
	var wg sync.WaitGroup
	for _, p := range plans {
		switch {
		case !p.call:
		case calls == 1:
			// One backend to call: here, rather than on a goroutine this
			// one would only wait for (a hand-over costs a thread wake-up).
			send(p)
		default:
			wg.Go(func() { send(p) })
		}
	}
	wg.Wait()
}

// recordWrite turns one backend's answer (or error) into the plan's ref.
func (s *Service) recordWrite(ctx context.Context, t *turn, p *ingestPlan, res backendtype.WriteResult, err error, latency time.Duration, now time.Time) {
	p.created = err == nil && res.Created
	p.ref = s.refFromWrite(t, p.adapter.Name(), res, err, latency, now)
	if err != nil {
		s.logger.WarnContext(ctx, "gateway: backend write failed",
			slog.String("backend", string(p.adapter.Name())),
			slog.String("gateway_id", t.gatewayID),
			slog.String("err", truncate(s.redactError(t.WorkspaceID, err.Error()), maxErrorMessageLength)))
	}
}

// writeBackendsInOrder is writeBackends for a turn of a batch: the turn's
// writes join its session's queue for each backend, after the previous
// turn's, and the next turn may queue as soon as these are queued. Each
// queue writes in order and hands consecutive turns to a BatchIngester in
// one call.
func (s *Service) writeBackendsInOrder(ctx context.Context, t *turn, plans []*ingestPlan, now time.Time, batch inBatch) {
	write := s.turnWrite(t, now)
	type queued struct {
		plan    *ingestPlan
		pending *groupcommit.Pending[backendtype.TurnWrite, backendtype.WriteResult]
	}
	var all []queued
	started := time.Now()
	for _, p := range plans {
		if p.call {
			all = append(all, queued{plan: p, pending: batch.writers.queue(s, t, p).Submit(write)})
		}
	}
	batch.order.written()
	for _, q := range all {
		res, err := q.pending.Wait(ctx)
		s.recordWrite(ctx, t, q.plan, res, err, time.Since(started), now)
	}
}

// sessionWriters are, for one batch, the queue of each (session, backend).
type sessionWriters struct {
	mu     sync.Mutex
	queues map[string]*groupcommit.Batcher[backendtype.TurnWrite, backendtype.WriteResult]
}

// queue is the session's queue for the plan's backend: one writer at a
// time, so in the order turns were queued.
func (w *sessionWriters) queue(s *Service, t *turn, p *ingestPlan) *groupcommit.Batcher[backendtype.TurnWrite, backendtype.WriteResult] {
	key := t.WorkspaceID + "\x00" + t.SessionID + "\x00" + string(p.adapter.Name())
	w.mu.Lock()
	defer w.mu.Unlock()
	if q, ok := w.queues[key]; ok {
		return q
	}
	backend, ingester := p.adapter.Name(), p.ingester
	timeout := s.writeTimeout(backend)
	q := &groupcommit.Batcher[backendtype.TurnWrite, backendtype.WriteResult]{
		Alone: func(ctx context.Context, tw backendtype.TurnWrite) (backendtype.WriteResult, error) {
			return s.callIngester(ctx, backend, ingester, tw, timeout)
		},
		Write: func(ctx context.Context, batch []backendtype.TurnWrite) ([]backendtype.WriteResult, []error, error) {
			results, errs := make([]backendtype.WriteResult, len(batch)), make([]error, len(batch))
			bi, ok := ingester.(backendtype.BatchIngester)
			if !ok {
				for i, tw := range batch {
					results[i], errs[i] = s.callIngester(ctx, backend, ingester, tw, timeout)
				}
				return results, errs, nil
			}
			got, err := s.callBatchIngester(ctx, backend, bi, ingester, batch, timeout)
			for i := range batch {
				if err != nil {
					errs[i] = err
				} else {
					results[i] = got[i]
				}
			}
			return results, errs, nil
		},
	}
	if w.queues == nil {
		w.queues = map[string]*groupcommit.Batcher[backendtype.TurnWrite, backendtype.WriteResult]{}
	}
	w.queues[key] = q
	return q
}

// callBatchIngester is one backend call for several turns of a session,
// bounded and observed like every call; a batch that lands after the
// caller stopped waiting is taken back where the backend can.
func (s *Service) callBatchIngester(ctx context.Context, backend backendtype.Backend, bi backendtype.BatchIngester, ingester backendtype.TurnIngester, batch []backendtype.TurnWrite, timeout time.Duration) ([]backendtype.WriteResult, error) {
	return callAdapter(ctx, s.core, adapterCall[[]backendtype.WriteResult]{
		backend: backend, operation: CallIngestTurn, timeout: timeout,
		status: func(rs []backendtype.WriteResult) backendtype.ResultStatus {
			for _, r := range rs {
				if r.Status != backendtype.ResultSuccess {
					return r.Status
				}
			}
			return backendtype.ResultSuccess
		},
		call: func(ctx context.Context) ([]backendtype.WriteResult, error) {
			rs, err := bi.IngestTurns(ctx, batch)
			if err == nil && len(rs) != len(batch) {
				err = fmt.Errorf("%s answered %d results for %d turns", backend, len(rs), len(batch))
			}
			return rs, err
		},
		late: func(rs []backendtype.WriteResult) {
			remover, ok := ingester.(backendtype.TurnRemover)
			if !ok || len(rs) != len(batch) {
				return
			}
			for i, r := range rs {
				if r.Created {
					s.removeTurn(ctx, backend, remover, batch[i])
				}
			}
		},
	})
}

func (s *core) callIngester(ctx context.Context, backend backendtype.Backend, ingester backendtype.TurnIngester, w backendtype.TurnWrite, timeout time.Duration) (backendtype.WriteResult, error) {
	return callAdapter(ctx, s, adapterCall[backendtype.WriteResult]{
		backend: backend, operation: CallIngestTurn, timeout: timeout,
		status: func(r backendtype.WriteResult) backendtype.ResultStatus { return r.Status },
		call:   func(ctx context.Context) (backendtype.WriteResult, error) { return ingester.IngestTurn(ctx, w) },
		// A write that lands after the ingest stopped waiting is recorded
		// nowhere but as a failure: take it back if the backend can.
		late: func(r backendtype.WriteResult) {
			if remover, ok := ingester.(backendtype.TurnRemover); ok && r.Created {
				s.removeTurn(ctx, backend, remover, w)
			}
		},
	})
}

func (s *Service) refFromWrite(t *turn, backend backendtype.Backend, res backendtype.WriteResult, err error, latency time.Duration, now time.Time) MemoryRef {
	resp := BackendResultMetadata(res.Response)
	resp["latency_ms"] = latency.Milliseconds()
	if err != nil {
		ref := s.newIngestRef(t, backend, RefStatusFailed, now, Metadata{"backend_response": resp, "retryable": true})
		ref.ErrorMessage = optional(truncate(s.redactError(t.WorkspaceID, err.Error()), maxErrorMessageLength))
		return ref
	}
	status := RefStatusSuccess
	switch res.Status {
	case backendtype.ResultFailed:
		status = RefStatusFailed
	case backendtype.ResultPending:
		status = RefStatusPending
	case backendtype.ResultSkipped:
		status = RefStatusSkipped
	}
	extra := Metadata{"backend_response": resp}
	if status == RefStatusFailed {
		extra["retryable"] = res.Retryable
		if res.ErrorCode != "" {
			extra["error_code"] = res.ErrorCode
		}
	}
	ref := s.newIngestRef(t, backend, status, now, extra)
	ref.NativeID = optional(res.NativeID)
	ref.NativeURI = optional(res.NativeURI)
	if res.ErrorMessage != "" {
		ref.ErrorMessage = optional(truncate(s.redactError(t.WorkspaceID, res.ErrorMessage), maxErrorMessageLength))
	} else if status == RefStatusFailed {
		ref.ErrorMessage = optional("backend reported failure")
	}
	return ref
}

func (s *Service) newIngestRef(t *turn, backend backendtype.Backend, status RefStatus, now time.Time, extra Metadata) MemoryRef {
	refType := s.refTypesOf(backend).Ingest
	return MemoryRef{
		ID:             RefID(t.gatewayID, backend, refType, "", "", ""),
		GatewayID:      t.gatewayID,
		ProvenanceID:   t.provenanceID,
		WorkspaceID:    t.WorkspaceID,
		UserID:         t.UserID,
		AgentID:        t.AgentID,
		SessionID:      t.SessionID,
		TurnID:         optional(t.TurnID),
		Namespace:      t.Namespace,
		Backend:        backend,
		RefType:        refType,
		Status:         status,
		IdempotencyKey: optional(t.IdempotencyKey),
		SourceType:     optional(t.SourceType),
		SourceEventID:  optional(t.SourceEventID),
		ContentHash:    optional(t.contentHash),
		Metadata:       s.controlMetadata(t, extra),
		CreatedAt:      now,
		UpdatedAt:      now,
	}
}

// controlMetadata is what a ref remembers about the request: ids, hashes and
// filtered client metadata, never content.
func (s *Service) controlMetadata(t *turn, extra Metadata) Metadata {
	m := Metadata{
		"schema_version":    SchemaVersionControlRef,
		"idempotency_basis": t.basis,
		"content_hash":      t.contentHash,
		"role":              string(t.Role),
	}
	if v := s.rulesVersion(); v != "" {
		m[metadataRulesVersion] = v
	}
	for _, key := range []string{"source_channel", "channel"} {
		if v, ok := t.Metadata[key].(string); ok && v != "" {
			m["source_channel"] = v
			break
		}
	}
	if t.Trace.TraceID != "" {
		m["trace_id"] = t.Trace.TraceID
	}
	if t.Trace.RequestID != "" {
		m["trace_request_id"] = t.Trace.RequestID
	}
	if client := SafeMetadata(t.Metadata); len(client) > 0 {
		m["client_metadata"] = client
	}
	if r := countsMetadata(t.redactions); r != nil {
		m["redactions"] = r
	}
	for k, v := range extra {
		m[k] = v
	}
	return SafeMetadata(m)
}

func (s *Service) ingestAudit(ctx context.Context, t *turn, res IngestResult, now time.Time) AuditEntry {
	backends := Metadata{}
	outcome := make([]string, 0, len(res.Refs))
	for _, r := range res.Refs {
		backends[string(r.Backend)] = string(r.Status)
		outcome = append(outcome, string(r.Backend)+"="+string(r.Status))
	}
	md := Metadata{
		"gateway_id":        t.gatewayID,
		"provenance_id":     t.provenanceID,
		"idempotency_basis": t.basis,
		"content_hash":      t.contentHash,
		"status":            string(res.Status),
		"backends":          backends,
	}
	if t.SourceType != "" {
		md["source_type"] = t.SourceType
	}
	if t.SourceEventID != "" {
		md["source_event_id"] = t.SourceEventID
	}
	if t.RequestID != "" {
		md["request_id"] = t.RequestID
	}
	if r := countsMetadata(t.redactions); r != nil {
		md["redactions"] = r
	}
	return auditEntry(AuditActionIngest, []string{t.gatewayID, t.contentHash, strings.Join(outcome, ",")}, auditSubject{
		WorkspaceID: t.WorkspaceID, UserID: t.UserID, AgentID: t.AgentID, Principal: t.principal,
		TargetType: "conversation_turn", TargetID: t.TurnID,
		Namespace: t.Namespace, SessionID: t.SessionID, GatewayID: t.gatewayID,
	}, md, now)
}

// AggregateRefStatus folds ref statuses into one: all success → SUCCESS;
// success with any failed/skipped → PARTIAL_SUCCESS; all failed → FAILED;
// failed with skipped → PARTIAL_SUCCESS; all skipped → SKIPPED; else PENDING.
func AggregateRefStatus(refs []MemoryRef) OperationStatus {
	if len(refs) == 0 {
		return OperationSkipped
	}
	seen := map[RefStatus]bool{}
	for _, r := range refs {
		seen[r.Status] = true
	}
	only := func(s RefStatus) bool { return len(seen) == 1 && seen[s] }
	switch {
	case only(RefStatusSuccess):
		return OperationSuccess
	case seen[RefStatusSuccess] && (seen[RefStatusFailed] || seen[RefStatusSkipped]):
		return OperationPartialSuccess
	case only(RefStatusFailed):
		return OperationFailed
	case seen[RefStatusFailed]:
		return OperationPartialSuccess
	case only(RefStatusSkipped):
		return OperationSkipped
	default:
		return OperationPending
	}
}

func refErrors(refs []MemoryRef) []string {
	errs := []string{}
	for _, r := range refs {
		if r.ErrorMessage != nil && *r.ErrorMessage != "" {
			errs = append(errs, string(r.Backend)+": "+*r.ErrorMessage)
		}
	}
	return errs
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// MaxTurnsPerBatch bounds IngestConversationTurns.
const MaxTurnsPerBatch = 100

// TurnOutcome is one turn's outcome in a batch: its result or its error.
type TurnOutcome struct {
	Result IngestResult
	Err    error
}

// IngestConversationTurns ingests a batch: each turn exactly as
// IngestConversationTurn would (its own validation, grants, rate-limit token,
// idempotency and audit), so one bad turn never fails its neighbours. Turns
// are prepared in the order given (so rate-limit tokens go in that order),
// then recorded concurrently: a session's turns reach the backends in their
// order, while the rest of their work, and other sessions', overlaps and
// shares control-plane transactions through the store's group commit.
// outcomes[i] is turn i's.
func (s *Service) IngestConversationTurns(ctx context.Context, turns []IngestTurnInput) ([]TurnOutcome, error) {
	switch {
	case len(turns) == 0:
		return nil, NewInputError("turns", "must hold at least one turn")
	case len(turns) > MaxTurnsPerBatch:
		return nil, NewInputError("turns", fmt.Sprintf("must hold at most %d turns", MaxTurnsPerBatch))
	}
	if _, err := s.principal(ctx); err != nil {
		return nil, err
	}
	outcomes := make([]TurnOutcome, len(turns))
	prepared := make([]*turn, len(turns))
	for i := range turns {
		prepared[i], outcomes[i].Err = s.prepareTurn(ctx, turns[i])
	}
	if err := s.prefetchRefs(ctx, prepared); err != nil {
		return nil, err
	}
	shared := inBatch{erasures: &erasureChecks{}, writers: &sessionWriters{}}
	// Each session's turns form a chain: turn i writes to the backends after
	// the session's previous turn has. A turn the batch holds twice is
	// answered after the rest, as the replay it is.
	last := map[string]*turnOrder{}
	seen := map[string]bool{}
	var again []int
	var wg sync.WaitGroup
	for i, t := range prepared {
		if t == nil {
			continue
		}
		// By gateway id, not flight key: a second turn under the same
		// basis (even with other content) must see what the first wrote.
		if seen[t.gatewayID] {
			again = append(again, i)
			continue
		}
		seen[t.gatewayID] = true
		key := t.WorkspaceID + "\x00" + t.SessionID
		order := newTurnOrder(last[key])
		last[key] = order
		batch := shared
		batch.order = order
		wg.Go(func() {
			defer order.written()
			outcomes[i] = s.ingestOneOfBatch(ctx, t, turns[i].RequestID, batch)
		})
	}
	wg.Wait()
	for _, i := range again {
		outcomes[i] = s.ingestOneOfBatch(ctx, prepared[i], turns[i].RequestID, inBatch{erasures: shared.erasures})
	}
	return outcomes, nil
}

// RefsBatchReader is a store that reads the refs of many gateway ids in
// one query; a batch uses it when the store has it.
type RefsBatchReader interface {
	RefsByGatewayIDs(ctx context.Context, gatewayIDs []string) (map[string][]MemoryRef, error)
}

// prefetchRefs reads, in one query, what is recorded under every prepared
// turn's gateway id. A turn the batch holds twice is read afresh when its
// turn comes (the first may have written meanwhile).
func (s *Service) prefetchRefs(ctx context.Context, prepared []*turn) error {
	reader, ok := s.store.(RefsBatchReader)
	if !ok {
		return nil
	}
	ids := make([]string, 0, len(prepared))
	count := map[string]int{}
	for _, t := range prepared {
		if t != nil {
			if count[t.gatewayID]++; count[t.gatewayID] == 1 {
				ids = append(ids, t.gatewayID)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	refs, err := reader.RefsByGatewayIDs(ctx, ids)
	if err != nil {
		return fmt.Errorf("error loading the refs of a batch: %w", err)
	}
	for _, t := range prepared {
		if t != nil && count[t.gatewayID] == 1 {
			t.prefetched, t.fetched = refs[t.gatewayID], true
		}
	}
	return nil
}

// erasureCheckReuse is how long a batch reuses its answer to "is an erasure
// of this user under way?". It is well inside the second an erasure waits,
// beyond the longest ingest, before it deletes (erasureGrace), so no write
// a reused answer let through can land after the delete.
const erasureCheckReuse = 250 * time.Millisecond

// erasureChecks remembers, for one batch, the active erasures of each user;
// concurrent checks of one user share one query.
type erasureChecks struct {
	mu     sync.Mutex
	byUser map[string]*erasureCheck
}

type erasureCheck struct {
	ready  chan struct{} // closed once the query answered
	at     time.Time
	active []ErasureRequest
	err    error
}

// activeErasures is the user's active erasures, from the batch's recent
// answer when there is one (checks is nil outside a batch).
func (s *Service) activeErasures(ctx context.Context, checks *erasureChecks, workspaceID, userID string) ([]ErasureRequest, error) {
	if checks == nil {
		return s.store.ActiveErasures(ctx, workspaceID, userID)
	}
	key := workspaceID + "\x00" + userID
	checks.mu.Lock()
	c, ok := checks.byUser[key]
	if ok {
		select {
		case <-c.ready:
			if c.err != nil || s.clock().Sub(c.at) >= erasureCheckReuse {
				ok = false // failed or stale: ask again
			}
		default: // in flight: share it
		}
	}
	if !ok {
		c = &erasureCheck{ready: make(chan struct{}), at: s.clock()}
		if checks.byUser == nil {
			checks.byUser = map[string]*erasureCheck{}
		}
		checks.byUser[key] = c
		checks.mu.Unlock()
		c.active, c.err = s.store.ActiveErasures(ctx, workspaceID, userID)
		close(c.ready)
		return c.active, c.err
	}
	checks.mu.Unlock()
	<-c.ready
	return c.active, c.err
}

// turnOrder orders one turn's backend writes after its predecessor's.
type turnOrder struct {
	after <-chan struct{} // nil: first of its session
	done  chan struct{}
	once  sync.Once
}

func newTurnOrder(prev *turnOrder) *turnOrder {
	o := &turnOrder{done: make(chan struct{})}
	if prev != nil {
		o.after = prev.done
	}
	return o
}

// wait returns once the predecessor wrote (or gave up); nil waits for
// nothing.
func (o *turnOrder) wait() {
	if o != nil && o.after != nil {
		<-o.after
	}
}

// written lets the successor write; it may be called more than once.
func (o *turnOrder) written() {
	if o != nil {
		o.once.Do(func() { close(o.done) })
	}
}

// ingestOneOfBatch ingests one turn of a batch; a panic fails that turn
// alone (it runs outside the request's own goroutine, where nothing else
// would recover it).
func (s *Service) ingestOneOfBatch(ctx context.Context, t *turn, requestID string, batch inBatch) (out TurnOutcome) {
	defer func() {
		if p := recover(); p != nil {
			s.logger.ErrorContext(ctx, "gateway: panic ingesting a turn of a batch",
				slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
			out = TurnOutcome{Err: fmt.Errorf("panic ingesting a turn of a batch: %v", p)}
		}
	}()
	if batch.order == nil {
		res, err := s.runTurn(ctx, t, requestID, batch)
		return TurnOutcome{Result: res, Err: err}
	}
	// Not shared with other requests' duplicates: an execution owned by
	// another batch would wait on that batch's order, and two batches
	// holding the same turns in opposite orders would wait on each other.
	// The store's upserts keep one set of refs, as across processes.
	res, err := s.ingest(context.WithoutCancel(ctx), t, batch)
	if err != nil {
		return TurnOutcome{Err: err}
	}
	res.Refs, res.Errors, res.RequestID = slices.Clone(res.Refs), slices.Clone(res.Errors), requestID
	return TurnOutcome{Result: res}
}
