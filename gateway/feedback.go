package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/namespace"
)

// AuditActionFeedback is the audit action of recorded feedback.
const AuditActionFeedback = "record_memory_feedback"

// ReviewerAutoAccept is the reviewer of feedback the policy accepted.
const ReviewerAutoAccept = "auto_accept_policy"

// maxFeedbackTextBytes bounds a comment or a correction.
const maxFeedbackTextBytes = 16 << 10

// RecordFeedbackInput is feedback on one memory ref.
type RecordFeedbackInput struct {
	WorkspaceID   string                   `json:"workspaceId" validate:"required,max=128,ident"`
	UserID        string                   `json:"userId" validate:"required,max=128,ident"`
	AgentID       string                   `json:"agentId" validate:"required,max=128,ident"`
	Namespace     string                   `json:"namespace" validate:"required,max=512,namespace"`
	MemoryRefID   string                   `json:"memoryRefId" validate:"required,max=128,ident"`
	FeedbackType  backendtype.FeedbackType `json:"feedbackType" validate:"required,oneof=helpful not_helpful correction delete_request"`
	Comment       string                   `json:"comment" validate:"text"`
	Correction    string                   `json:"correction" validate:"text"`
	SourceType    string                   `json:"sourceType" validate:"max=64,ident"`
	SourceEventID string                   `json:"sourceEventId" validate:"max=256,ident"`
}

// RecordFeedbackResult is the stored feedback.
type RecordFeedbackResult struct {
	Feedback MemoryFeedback
	// Created is false when the same source event had already been recorded.
	Created bool
}

// RecordMemoryFeedback stores feedback against a ref in its own table (its
// text apart, as content) and audits it. It is idempotent on sourceEventId:
// validate → authorize (by the ref's own scope) → plan (feedback, audit and,
// when the policy accepts it at once, its route) → store → publish.
func (s *Service) RecordMemoryFeedback(ctx context.Context, in RecordFeedbackInput) (RecordFeedbackResult, error) {
	in, err := s.validateFeedback(in)
	if err != nil {
		return RecordFeedbackResult{}, err
	}
	if err := checkSourceType(ctx, in.SourceType); err != nil {
		return RecordFeedbackResult{}, err
	}
	principal, ref, err := s.authorizeFeedback(ctx, in)
	if err != nil {
		return RecordFeedbackResult{}, err
	}
	plan, err := s.planFeedback(ctx, in, principal, ref)
	if err != nil {
		return RecordFeedbackResult{}, err
	}
	stampVia(ctx, &plan.audit)
	var publish func(context.Context, []CommitJob)
	if plan.route != nil {
		publish = s.holdJobs(plan.route.Job.ID)
		defer publish(ctx, nil) // on every path; a no-op once published below
	}
	stored, created, err := s.store.SaveFeedback(ctx, plan.feedback, plan.content, plan.audit, plan.route)
	if err != nil {
		return RecordFeedbackResult{}, fmt.Errorf("error saving feedback %s: %w", plan.feedback.ID, err)
	}
	if created && plan.route != nil {
		publish(ctx, []CommitJob{plan.route.Job})
		s.notifyOutbox(ctx)
	}
	if !created && !answerable(principal.ReadScope(), ref.UserID, []MemoryFeedback{stored}, feedbackPlace) {
		// Another user's feedback under the same source event id.
		return RecordFeedbackResult{}, ErrOutOfScope
	}
	if !created && (stored.MemoryRefID != plan.feedback.MemoryRefID || stored.FeedbackType != plan.feedback.FeedbackType) {
		return RecordFeedbackResult{}, &ConflictError{Field: "sourceEventId", Message: "different feedback was already recorded for this sourceEventId"}
	}
	return RecordFeedbackResult{Feedback: stored, Created: created}, nil
}

// validateFeedback normalises and checks the input alone.
func (s *Service) validateFeedback(in RecordFeedbackInput) (RecordFeedbackInput, error) {
	in.Namespace = normalizeNamespace(in.Namespace)
	in.Comment = strings.TrimSpace(in.Comment)
	in.Correction = strings.TrimSpace(in.Correction)
	if err := s.validateStruct(in); err != nil {
		return in, err
	}
	if err := s.checkIDs(
		idField{"workspaceId", in.WorkspaceID}, idField{"userId", in.UserID}, idField{"agentId", in.AgentID},
		idField{"namespace", in.Namespace}, idField{"sourceType", in.SourceType}, idField{"sourceEventId", in.SourceEventID},
	); err != nil {
		return in, err
	}
	if in.FeedbackType == backendtype.FeedbackCorrection && in.Correction == "" {
		return in, NewInputError("correction", "is required for a CORRECTION")
	}
	if in.FeedbackType != backendtype.FeedbackCorrection && in.Correction != "" {
		return in, NewInputError("correction", "is only allowed for a CORRECTION")
	}
	if err := checkText("comment", in.Comment, maxFeedbackTextBytes); err != nil {
		return in, err
	}
	return in, checkText("correction", in.Correction, maxFeedbackTextBytes)
}

// authorizeFeedback finds the ref and decides by its own scope, never by
// the input's claim: the ref must be visible to the caller and belong to the
// workspace the feedback is given in (anything else is not found), and the
// key must grant WRITE on the memory's namespace, user and agent.
func (s *Service) authorizeFeedback(ctx context.Context, in RecordFeedbackInput) (Principal, MemoryRef, error) {
	principal, err := s.principal(ctx)
	if err != nil {
		return Principal{}, MemoryRef{}, err
	}
	ref, err := s.Reader(ctx).MemoryRef(ctx, in.MemoryRefID)
	if IsNotFound(err) || (err == nil && ref.WorkspaceID != in.WorkspaceID) {
		return Principal{}, MemoryRef{}, &NotFoundError{Field: "memoryRefId", What: "memory ref"}
	}
	if err != nil {
		return Principal{}, MemoryRef{}, fmt.Errorf("error loading memory ref: %w", err)
	}
	if !principal.May(AccessWrite, refScope(ref)) || !principal.ownsIdentity(in.UserID, in.AgentID) {
		return Principal{}, MemoryRef{}, fmt.Errorf("%w: the key does not grant WRITE on the memory's namespace, user or agent", ErrForbidden)
	}
	if err := claimsRef(in, ref); err != nil {
		return Principal{}, MemoryRef{}, err
	}
	return principal, ref, nil
}

// feedbackPlan is what recording feedback writes, in one transaction.
type feedbackPlan struct {
	feedback MemoryFeedback
	content  FeedbackContent
	audit    AuditEntry
	route    *FeedbackRoute
}

// planFeedback redacts the texts and builds the feedback (under the ref's
// scope), its audit entry and, when the policy accepts it at once and it is
// routed, the job and event that apply it.
func (s *Service) planFeedback(ctx context.Context, in RecordFeedbackInput, principal Principal, ref MemoryRef) (feedbackPlan, error) {
	redactions := map[string]int{}
	for _, field := range []struct {
		name string
		text *string
	}{{"comment", &in.Comment}, {"correction", &in.Correction}} {
		r := s.redact(in.WorkspaceID, *field.text)
		if len(r.Rejected) > 0 {
			return feedbackPlan{}, rejection(field.name, r)
		}
		addCounts(redactions, r.Counts)
		*field.text = r.Text
	}
	if in.FeedbackType.Routed() {
		if err := routable(ref); err != nil && !s.feedbackExists(ctx, in) {
			// A replay of feedback that was applied meanwhile is answered
			// as the replay it is.
			return feedbackPlan{}, err
		}
	}
	now := s.clock()
	fb := MemoryFeedback{
		ID: FeedbackID(in.WorkspaceID, in.SourceType, in.SourceEventID), WorkspaceID: ref.WorkspaceID,
		UserID: ref.UserID, AgentID: ref.AgentID, Namespace: ref.Namespace, MemoryRefID: ref.ID,
		FeedbackType: in.FeedbackType, Status: FeedbackReceived,
		HasComment: in.Comment != "", HasCorrection: in.Correction != "",
		SourceType: optional(in.SourceType), SourceEventID: optional(in.SourceEventID),
		Metadata:  Metadata{"backend": string(ref.Backend), "ref_type": string(ref.RefType)},
		CreatedAt: now, UpdatedAt: now,
	}
	md := feedbackAuditMetadata(in, fb, ref, redactions)
	subject := auditSubject{
		WorkspaceID: in.WorkspaceID, UserID: in.UserID, AgentID: in.AgentID, Principal: principal.Name,
		TargetType: "memory_ref", TargetID: ref.ID,
		Namespace: ref.Namespace, SessionID: ref.SessionID, GatewayID: ref.GatewayID, JobID: deref(ref.JobID),
	}
	var route *FeedbackRoute
	if s.feedbackPolicy.AutoAccepts(in.WorkspaceID, in.FeedbackType) {
		fb.Status, fb.ReviewedBy, fb.ReviewedAt = FeedbackAccepted, optional(ReviewerAutoAccept), &now
		md["auto_accepted"] = true
		if in.FeedbackType.Routed() {
			route = s.feedbackRoute(fb, ref, now)
			fb.JobID, fb.OutboxEventID = &route.Job.ID, &route.Event.ID
			md["job_id"], md["outbox_event_id"] = route.Job.ID, route.Event.ID
			subject.JobID = route.Job.ID
		}
	}
	return feedbackPlan{
		feedback: fb,
		content:  FeedbackContent{Comment: in.Comment, Correction: in.Correction},
		audit:    auditEntry(AuditActionFeedback, []string{fb.ID}, subject, md, now),
		route:    route,
	}, nil
}

// feedbackAuditMetadata is what the audit entry of recorded feedback says:
// ids, types and flags, never the texts.
func feedbackAuditMetadata(in RecordFeedbackInput, fb MemoryFeedback, ref MemoryRef, redactions map[string]int) Metadata {
	md := Metadata{
		"feedback_id":    fb.ID,
		"feedback_type":  string(fb.FeedbackType),
		"memory_ref_id":  ref.ID,
		"backend":        string(ref.Backend),
		"has_comment":    fb.HasComment,
		"has_correction": fb.HasCorrection,
	}
	if in.SourceType != "" {
		md["source_type"] = in.SourceType
	}
	if in.SourceEventID != "" {
		md["source_event_id"] = in.SourceEventID
	}
	if r := countsMetadata(redactions); r != nil {
		md["redactions"] = r
	}
	return md
}

// refScope is the scope a memory ref lies in.
func refScope(ref MemoryRef) Scope {
	return Scope{WorkspaceID: ref.WorkspaceID, UserID: ref.UserID, AgentID: ref.AgentID, Namespace: ref.Namespace}
}

// claimsRef checks the input's user and namespace are the memory's (the
// namespace may name one above it): the input may not place feedback
// anywhere else than where the memory lies. Its agent is the actor,
// recorded in the audit entry: a key not bound to an agent may give
// feedback on any of its user's memories.
func claimsRef(in RecordFeedbackInput, ref MemoryRef) error {
	if in.UserID != ref.UserID {
		return NewInputError("userId", "must be the memory's user")
	}
	if !namespace.Covers(in.Namespace, ref.Namespace) {
		return NewInputError("namespace", fmt.Sprintf("must be the memory's namespace (%q) or one above it", ref.Namespace))
	}
	return nil
}

// feedbackExists reports whether feedback from the same source event was
// recorded already.
func (s *Service) feedbackExists(ctx context.Context, in RecordFeedbackInput) bool {
	if in.SourceEventID == "" {
		return false
	}
	found, err := s.store.FeedbackByIDs(ctx, []string{FeedbackID(in.WorkspaceID, in.SourceType, in.SourceEventID)})
	return err == nil && len(found) > 0
}

// IsNotFound reports whether err means "not found".
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
