package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Audit actions of the feedback lifecycle after it is recorded.
const (
	AuditActionFeedbackReview = "review_memory_feedback"
	AuditActionFeedbackApply  = "apply_memory_feedback"
)

// JobKindApplyFeedback marks the job that carries an accepted correction or
// delete request to its backend (metadata "kind"); commit jobs carry none.
const JobKindApplyFeedback = "apply_feedback"

// Reasons and error codes of feedback routing.
const (
	ErrorCodeFeedbackMissing = "feedback_missing"
	// stableKeyReplacement distinguishes a replacement ref's id from the ref
	// a commit produced for the same native memory.
	stableKeyReplacement = "replacement"
	// maxReviewReasonBytes bounds a reviewer's reason.
	maxReviewReasonBytes = 1024
)

// FeedbackPolicy says which feedback is accepted without review, per
// workspace and feedback type. Feedback it does not auto-accept waits as
// RECEIVED for reviewMemoryFeedback.
type FeedbackPolicy struct {
	// Default applies to workspaces not listed in Workspaces.
	Default []backendtype.FeedbackType
	// Workspaces overrides Default per workspace.
	Workspaces map[string][]backendtype.FeedbackType
	// BlindReviewDefault, when set, has workspaces not listed in
	// BlindReviewWorkspaces review blind: reviewers are not shown the
	// feedback's texts nor the memory's.
	BlindReviewDefault bool
	// BlindReviewWorkspaces overrides BlindReviewDefault per workspace.
	BlindReviewWorkspaces map[string]bool
}

// DefaultFeedbackPolicy accepts HELPFUL and NOT_HELPFUL at once (they change
// nothing in a backend) and holds corrections and delete requests for review.
var DefaultFeedbackPolicy = FeedbackPolicy{Default: []backendtype.FeedbackType{backendtype.FeedbackHelpful, backendtype.FeedbackNotHelpful}}

// AutoAccepts reports whether feedback of type t in the workspace is
// accepted without review.
func (p FeedbackPolicy) AutoAccepts(workspaceID string, t backendtype.FeedbackType) bool {
	types, ok := p.Workspaces[workspaceID]
	if !ok {
		types = p.Default
	}
	return slices.Contains(types, t)
}

// BlindReview reports whether the workspace's reviewers decide without the
// texts.
func (p FeedbackPolicy) BlindReview(workspaceID string) bool {
	if blind, ok := p.BlindReviewWorkspaces[workspaceID]; ok {
		return blind
	}
	return p.BlindReviewDefault
}

// FeedbackJobID is "gwc_" + sha256("apply_feedback:{feedback_id}")[:24]: the
// job that routes one piece of feedback, also the gateway id of what it
// produces.
func FeedbackJobID(feedbackID string) string {
	return PrefixCommit + hashHex("apply_feedback:"+feedbackID, 24)
}

// FeedbackRoute is what accepting a correction or delete request writes with
// it: a job and its one outbox event for the backend that owns the ref.
type FeedbackRoute struct {
	Job   CommitJob
	Event OutboxEvent
}

// FeedbackReview is a reviewer's decision, applied only while the feedback
// is still RECEIVED.
type FeedbackReview struct {
	FeedbackID string
	Status     FeedbackStatus
	Reason     *string
	ReviewedBy *string
	ReviewedAt time.Time
	Route      *FeedbackRoute
	Audit      AuditEntry
}

// FeedbackOutcome is what an APPLY_FEEDBACK event's completion does to the
// feedback and the memory's refs, written with the completion.
type FeedbackOutcome struct {
	FeedbackID       string
	Status           FeedbackStatus
	ReplacementRefID *string
	ResultReason     *string
	// Retire, when set, marks the memory's live refs superseded or deleted.
	Retire *RefRetirement
	Audit  AuditEntry
}

// RefRetirement marks every live ref of one backend memory (the ref the
// feedback was given on and any other ref of the same native id or uri)
// superseded by a replacement, or deleted.
type RefRetirement struct {
	WorkspaceID string
	// UserID, when set, limits the retirement to that user's refs.
	UserID       string
	Backend      backendtype.Backend
	RefID        string
	NativeID     string
	NativeURI    string
	Status       RefStatus
	SupersededBy *string
	// ContentHash, when known, is recorded on refs that had none: the hash
	// of the content retired.
	ContentHash *string
}

// ReviewFeedbackInput is a reviewer's decision on feedback.
type ReviewFeedbackInput struct {
	ID       string           `json:"id" validate:"required,max=128,ident"`
	Decision FeedbackDecision `json:"decision" validate:"required,oneof=accept reject"`
	Reason   string           `json:"reason" validate:"text"`
}

// ReviewMemoryFeedback accepts or rejects RECEIVED feedback. Admins of the
// ref's namespace may review, and so may its owning user (a key bound to the
// ref's user with write access there). Accepting a correction or a delete
// request routes it to the backend that owns the ref, through the outbox.
// Repeating the same decision returns the feedback as it is; the opposite
// decision on decided feedback is a CONFLICT. validate → authorize → plan →
// store → publish.
func (s *Service) ReviewMemoryFeedback(ctx context.Context, in ReviewFeedbackInput) (MemoryFeedback, error) {
	in.Reason = strings.TrimSpace(in.Reason)
	if err := s.validateStruct(in); err != nil {
		return MemoryFeedback{}, err
	}
	if err := checkText("reason", in.Reason, maxReviewReasonBytes); err != nil {
		return MemoryFeedback{}, err
	}
	p, fb, ref, err := s.authorizeReview(ctx, in)
	if err != nil {
		return MemoryFeedback{}, err
	}
	if fb.Status != FeedbackReceived {
		return decided(fb, in.Decision)
	}
	review, err := s.planReview(in, p, fb, ref)
	if err != nil {
		return MemoryFeedback{}, err
	}
	stampVia(ctx, &review.Audit)
	publish := s.publishJobs
	if review.Route != nil {
		publish = s.holdJobs(review.Route.Job.ID)
		defer publish(ctx, nil) // on every path; a no-op once published below
	}
	stored, changed, err := s.store.ReviewFeedback(ctx, review)
	if err != nil {
		return MemoryFeedback{}, fmt.Errorf("error reviewing feedback %s: %w", fb.ID, err)
	}
	if !changed {
		// Another reviewer decided first.
		return decided(stored, in.Decision)
	}
	if review.Route != nil {
		publish(ctx, []CommitJob{review.Route.Job})
		s.notifyOutbox(ctx)
	}
	return stored, nil
}

// authorizeReview loads the feedback (visible to the caller) and its ref,
// and decides by the ref's scope: ADMIN there, or its own user with WRITE.
func (s *Service) authorizeReview(ctx context.Context, in ReviewFeedbackInput) (Principal, MemoryFeedback, MemoryRef, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return Principal{}, MemoryFeedback{}, MemoryRef{}, err
	}
	fb, err := s.Reader(ctx).Feedback(ctx, in.ID)
	if IsNotFound(err) {
		return Principal{}, MemoryFeedback{}, MemoryRef{}, &NotFoundError{Field: "id", What: "feedback"}
	}
	if err != nil {
		return Principal{}, MemoryFeedback{}, MemoryRef{}, fmt.Errorf("error loading feedback: %w", err)
	}
	ref, err := s.refOf(ctx, fb)
	if err != nil {
		return Principal{}, MemoryFeedback{}, MemoryRef{}, err
	}
	if !mayReview(p, ref) {
		return Principal{}, MemoryFeedback{}, MemoryRef{}, fmt.Errorf("%w: reviewing feedback needs ADMIN on the memory's namespace, or to be the memory's user", ErrForbidden)
	}
	return p, fb, ref, nil
}

// planReview builds the decision with its audit entry and, for accepted
// routed feedback, the job and event that apply it.
func (s *Service) planReview(in ReviewFeedbackInput, p Principal, fb MemoryFeedback, ref MemoryRef) (FeedbackReview, error) {
	status := FeedbackRejected
	if in.Decision == DecisionAccept {
		status = FeedbackAccepted
	}
	r := s.redact(fb.WorkspaceID, in.Reason)
	if len(r.Rejected) > 0 {
		return FeedbackReview{}, rejection("reason", r)
	}
	now := s.clock()
	review := FeedbackReview{
		FeedbackID: fb.ID, Status: status, Reason: optional(r.Text), ReviewedBy: optional(p.Name), ReviewedAt: now,
	}
	md := Metadata{
		"feedback_id":   fb.ID,
		"feedback_type": string(fb.FeedbackType),
		"decision":      string(in.Decision),
		"memory_ref_id": ref.ID,
		"backend":       string(ref.Backend),
		"has_reason":    r.Text != "",
	}
	if counts := countsMetadata(r.Counts); counts != nil {
		md["redactions"] = counts
	}
	subject := auditSubject{
		WorkspaceID: fb.WorkspaceID, Principal: p.Name, TargetType: "memory_feedback", TargetID: fb.ID,
		Namespace: ref.Namespace, SessionID: ref.SessionID, GatewayID: ref.GatewayID,
	}
	if status == FeedbackAccepted && fb.FeedbackType.Routed() {
		if err := routable(ref); err != nil {
			return FeedbackReview{}, err
		}
		review.Route = s.feedbackRoute(fb, ref, now)
		md["job_id"], md["outbox_event_id"] = review.Route.Job.ID, review.Route.Event.ID
		subject.JobID = review.Route.Job.ID
	}
	review.Audit = auditEntry(AuditActionFeedbackReview, []string{fb.ID}, subject, md, now)
	return review, nil
}

// decided answers a review of feedback that is no longer RECEIVED: the same
// decision again is a no-op, the other one a conflict.
func decided(fb MemoryFeedback, d FeedbackDecision) (MemoryFeedback, error) {
	if (d == DecisionReject) == (fb.Status == FeedbackRejected) {
		return fb, nil
	}
	return MemoryFeedback{}, &ConflictError{Field: "decision",
		Message: fmt.Sprintf("the feedback was already decided (it is %s)", strings.ToUpper(string(fb.Status)))}
}

// refOf loads the ref feedback was given on, unscoped: the feedback's
// visibility was checked already.
func (s *Service) refOf(ctx context.Context, fb MemoryFeedback) (MemoryRef, error) {
	refs, err := s.store.MemoryRefsByIDs(ctx, []string{fb.MemoryRefID})
	if err != nil {
		return MemoryRef{}, fmt.Errorf("error loading memory ref: %w", err)
	}
	if len(refs) == 0 {
		return MemoryRef{}, fmt.Errorf("memory ref %s of feedback %s is missing", fb.MemoryRefID, fb.ID)
	}
	return refs[0], nil
}

// routable checks a correction or delete can be routed for ref: it must name
// a live memory.
func routable(ref MemoryRef) error {
	switch ref.Status {
	case RefStatusSuccess:
		return nil
	case RefStatusSuperseded:
		return &ConflictError{Field: "memoryRefId", Message: "the memory was already corrected: give feedback on its replacement ref"}
	case RefStatusDeleted:
		return &ConflictError{Field: "memoryRefId", Message: "the memory was already deleted"}
	default:
		return &ConflictError{Field: "memoryRefId", Message: fmt.Sprintf("the memory ref is %s: there is no memory to change", strings.ToUpper(string(ref.Status)))}
	}
}

// feedbackRoute builds the job and outbox event that carry accepted
// feedback to the backend owning ref.
func (s *Service) feedbackRoute(fb MemoryFeedback, ref MemoryRef, now time.Time) *FeedbackRoute {
	jobID := FeedbackJobID(fb.ID)
	md := Metadata{
		"kind":          JobKindApplyFeedback,
		"feedback_id":   fb.ID,
		"feedback_type": string(fb.FeedbackType),
		"memory_ref_id": ref.ID,
	}
	job := CommitJob{
		ID: jobID, WorkspaceID: ref.WorkspaceID, UserID: ref.UserID, AgentID: ref.AgentID,
		SessionID: ref.SessionID, Namespace: ref.Namespace, Status: JobAccepted,
		Metadata: md, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	event := OutboxEvent{
		ID:          OutboxEventID(jobID, ref.Backend, OperationApplyFeedback),
		JobID:       &job.ID,
		FeedbackID:  &fb.ID,
		GatewayID:   jobID,
		WorkspaceID: ref.WorkspaceID,
		UserID:      ref.UserID,
		AgentID:     ref.AgentID,
		SessionID:   ref.SessionID,
		Namespace:   ref.Namespace,
		Backend:     ref.Backend,
		Operation:   OperationApplyFeedback,
		Status:      OutboxPending,
		MaxAttempts: s.cfg.MaxAttempts,
		NextRetryAt: now,
		Metadata: Metadata{
			"schema_version": SchemaVersionOutbox,
			"job_id":         jobID,
			"feedback_id":    fb.ID,
			"feedback_type":  string(fb.FeedbackType),
			"memory_ref_id":  ref.ID,
		},
		CreatedAt: now,
		UpdatedAt: now,
	}
	return &FeedbackRoute{Job: job, Event: event}
}

// executeFeedback applies an APPLY_FEEDBACK event: it loads the feedback,
// its correction and the ref, asks the owning backend, and turns the answer
// into the completion, the replacement ref and the feedback's outcome.
func (s *OutboxExecutor) executeFeedback(ctx context.Context, c OutboxCompletion, e OutboxEvent, adapter backendtype.BackendAdapter, now time.Time) OutboxCompletion {
	fb, ref, content, err := s.feedbackTarget(ctx, e)
	if errors.Is(err, ErrNotFound) {
		return s.failed(c, now, false, ErrorCodeFeedbackMissing, err.Error())
	}
	if err != nil {
		return s.failed(c, now, true, ErrorCodeAdapterException, err.Error())
	}
	applier, ok := adapter.(backendtype.FeedbackApplier)
	if !ok {
		c = s.skipped(c, now, ReasonAdapterMethodMissing)
		return s.withFeedbackOutcome(c, e, fb, ref, nil, nil, now)
	}
	state, _ := e.Metadata["backend_state"].(map[string]any)
	res, err := s.callFeedbackApplier(ctx, applier, e, backendtype.FeedbackRequest{
		EventID: e.ID, FeedbackID: fb.ID, FeedbackType: fb.FeedbackType,
		WorkspaceID: ref.WorkspaceID, UserID: ref.UserID, AgentID: ref.AgentID, SessionID: ref.SessionID,
		Namespace: ref.Namespace, RefType: ref.RefType, NativeID: deref(ref.NativeID), NativeURI: deref(ref.NativeURI),
		Produced: ProducedMetadata(ref), Correction: content.Correction, Attempt: e.AttemptCount, State: state,
	})
	c = s.applyCommitResult(c, e, res, err, now)
	var replacement *MemoryRef
	c.Refs, c.SessionLabelled = nil, nil
	if c.Status == OutboxSuccess && fb.FeedbackType == backendtype.FeedbackCorrection {
		r := replacementRef(e, ref, res, content.Correction, BackendResultMetadata(res.Response), now)
		replacement = &r
		c.Refs = []MemoryRef{r}
	}
	return s.withFeedbackOutcome(c, e, fb, ref, replacement, optional(res.ReplacedContentHash), now)
}

// feedbackTarget loads what an APPLY_FEEDBACK event needs.
func (s *OutboxExecutor) feedbackTarget(ctx context.Context, e OutboxEvent) (MemoryFeedback, MemoryRef, FeedbackContent, error) {
	id := deref(e.FeedbackID)
	fbs, err := s.store.FeedbackByIDs(ctx, []string{id})
	if err != nil {
		return MemoryFeedback{}, MemoryRef{}, FeedbackContent{}, fmt.Errorf("error loading feedback: %w", err)
	}
	if len(fbs) == 0 {
		return MemoryFeedback{}, MemoryRef{}, FeedbackContent{}, fmt.Errorf("%w: feedback %q of the event", ErrNotFound, id)
	}
	refs, err := s.store.MemoryRefsByIDs(ctx, []string{fbs[0].MemoryRefID})
	if err != nil {
		return MemoryFeedback{}, MemoryRef{}, FeedbackContent{}, fmt.Errorf("error loading memory ref: %w", err)
	}
	if len(refs) == 0 {
		return MemoryFeedback{}, MemoryRef{}, FeedbackContent{}, fmt.Errorf("%w: memory ref %q of the feedback", ErrNotFound, fbs[0].MemoryRefID)
	}
	content, err := s.store.FeedbackContent(ctx, id)
	if err != nil {
		return MemoryFeedback{}, MemoryRef{}, FeedbackContent{}, fmt.Errorf("error loading the correction: %w", err)
	}
	return fbs[0], refs[0], content, nil
}

func (s *OutboxExecutor) callFeedbackApplier(ctx context.Context, applier backendtype.FeedbackApplier, e OutboxEvent, req backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
	return callAdapter(ctx, s.core, adapterCall[backendtype.CommitResult]{
		backend: e.Backend, operation: CallApplyFeedback, timeout: s.cfg.CommitTimeout, status: commitStatus,
		call: func(ctx context.Context) (backendtype.CommitResult, error) { return applier.ApplyFeedback(ctx, req) },
	})
}

// replacementRef is the ref of the corrected memory: the backend's new
// memory, or the same native memory rewritten in place.
func replacementRef(e OutboxEvent, old MemoryRef, res backendtype.CommitResult, correction string, result Metadata, now time.Time) MemoryRef {
	nativeID, nativeURI, refType := res.NativeID, res.NativeURI, res.RefType
	if nativeID == "" && nativeURI == "" {
		nativeID, nativeURI = deref(old.NativeID), deref(old.NativeURI)
	}
	if refType == "" {
		refType = old.RefType
	}
	hash := backendtype.ContentHash(strings.TrimSpace(correction))
	return MemoryRef{
		ID:            RefID(e.GatewayID, e.Backend, refType, nativeID, nativeURI, stableKeyReplacement),
		GatewayID:     e.GatewayID,
		ProvenanceID:  CommitProvenanceID(e.ID, refType, nativeID, nativeURI),
		WorkspaceID:   old.WorkspaceID,
		UserID:        old.UserID,
		AgentID:       old.AgentID,
		SessionID:     old.SessionID,
		TurnID:        old.TurnID,
		Namespace:     old.Namespace,
		Backend:       e.Backend,
		RefType:       refType,
		Status:        RefStatusSuccess,
		NativeID:      optional(nativeID),
		NativeURI:     optional(nativeURI),
		ContentHash:   &hash,
		JobID:         e.JobID,
		OutboxEventID: &e.ID,
		Metadata: Metadata{
			"schema_version":  SchemaVersionCommitRef,
			"feedback_id":     deref(e.FeedbackID),
			"replaces_ref_id": old.ID,
			"operation":       string(e.Operation),
			"backend_result":  result,
		},
		CreatedAt: now,
		UpdatedAt: now,
	}
}

// withFeedbackOutcome attaches what a finished attempt means for the
// feedback: APPLIED (and the memory's refs retired), SKIPPED or FAILED. A
// retry leaves the feedback ACCEPTED.
func (s *OutboxExecutor) withFeedbackOutcome(c OutboxCompletion, e OutboxEvent, fb MemoryFeedback, ref MemoryRef, replacement *MemoryRef, replacedHash *string, now time.Time) OutboxCompletion {
	out := &FeedbackOutcome{FeedbackID: fb.ID}
	switch c.Status {
	case OutboxSuccess:
		out.Status = FeedbackApplied
		retire := &RefRetirement{
			WorkspaceID: ref.WorkspaceID, Backend: ref.Backend, RefID: ref.ID,
			NativeID: deref(ref.NativeID), NativeURI: deref(ref.NativeURI), Status: RefStatusDeleted,
			ContentHash: replacedHash,
		}
		if replacement != nil {
			out.ReplacementRefID = &replacement.ID
			retire.Status, retire.SupersededBy = RefStatusSuperseded, &replacement.ID
		}
		out.Retire = retire
	case OutboxSkipped:
		out.Status = FeedbackSkipped
		if result, _ := c.Metadata["backend_result"].(Metadata); result["status"] == backendtype.StatusUnsupported {
			out.Status = FeedbackUnsupported
		}
		reason, _ := c.Metadata["reason"].(string)
		out.ResultReason = optional(reason)
	case OutboxDeadLetter:
		out.Status = FeedbackFailed
		out.ResultReason = c.LastErrorCode
		if out.ResultReason == nil {
			out.ResultReason = c.LastError
		}
	default:
		return c
	}
	md := Metadata{
		"feedback_id":   fb.ID,
		"feedback_type": string(fb.FeedbackType),
		"status":        string(out.Status),
		"memory_ref_id": ref.ID,
		"backend":       string(ref.Backend),
	}
	if out.ReplacementRefID != nil {
		md["replacement_ref_id"] = *out.ReplacementRefID
	}
	if out.ResultReason != nil {
		md["reason"] = truncate(*out.ResultReason, maxErrorMessageLength)
	}
	out.Audit = auditEntry(AuditActionFeedbackApply, []string{fb.ID, string(out.Status)}, auditSubject{
		WorkspaceID: fb.WorkspaceID, TargetType: "memory_feedback", TargetID: fb.ID,
		Namespace: ref.Namespace, SessionID: ref.SessionID, JobID: deref(e.JobID), GatewayID: e.GatewayID,
	}, md, now)
	c.Feedback = out
	return c
}
