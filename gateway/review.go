package gateway

import (
	"context"
	"fmt"
	"strings"
)

// Reviewing feedback with what it is about in front of the reviewer: the
// feedback's own texts (kept apart from its row, as content) and the
// memory's current text (read from the backend that holds it, never
// copied into the control plane) — for whoever may decide it, unless the
// workspace reviews blind.

// MaxReviewBatch bounds ReviewMemoryFeedbacks.
const MaxReviewBatch = PageSizeMax

// TextRetired: the memory was corrected or deleted since; its backend no
// longer holds it as it was.
const TextRetired TextUnavailable = "retired"

// FeedbackReviewTexts is what a reviewer of one piece of feedback reads.
// Blind is set, and every text left empty, where the workspace reviews
// blind.
type FeedbackReviewTexts struct {
	FeedbackID string
	Blind      bool
	Comment    *string
	Correction *string
	// MemoryText is the memory as its backend holds it now; when it is not
	// given, MemoryTextUnavailable says why.
	MemoryText            *string
	MemoryTextUnavailable *TextUnavailable
}

// NodeID keys the texts by their feedback.
func (t FeedbackReviewTexts) NodeID() string { return t.FeedbackID }

// FeedbackReviewTexts returns, for the feedback among ids the caller may
// review (ADMIN on the memory's namespace, or the memory's own user with
// WRITE there: who may decide it), its texts and the memory's current
// text. Anything else — feedback out of sight, or seen but not the
// caller's to decide, such as a DASHBOARD key's — is left out, as unknown
// ids are: the texts are content. Any status is answered: a decided item's
// correction is what was decided; a retired memory's text is TextRetired.
// The ids are those of a page the query's cost already bounds.
func (s *Service) FeedbackReviewTexts(ctx context.Context, ids []string) ([]FeedbackReviewTexts, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	if s.documentsOnly(p) {
		// A key held to trusted documents reads no content at all.
		return nil, nil
	}
	feedback, err := s.Reader(ctx).FeedbackByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	refIDs := make([]string, len(feedback))
	for i, fb := range feedback {
		refIDs[i] = fb.MemoryRefID
	}
	refs, err := s.store.MemoryRefsByIDs(ctx, refIDs)
	if err != nil {
		return nil, fmt.Errorf("error loading the memory refs of feedback: %w", err)
	}
	refByID := make(map[string]MemoryRef, len(refs))
	for _, r := range refs {
		refByID[r.ID] = r
	}
	var out []FeedbackReviewTexts
	var open []string // feedback whose texts are shown
	live := map[string]MemoryRef{}
	for _, fb := range feedback {
		ref, ok := refByID[fb.MemoryRefID]
		if !ok || !mayReview(p, ref) {
			continue
		}
		if s.feedbackPolicy.BlindReview(fb.WorkspaceID) {
			out = append(out, FeedbackReviewTexts{FeedbackID: fb.ID, Blind: true})
			continue
		}
		open = append(open, fb.ID)
		if ref.Status == RefStatusSuccess {
			live[ref.ID] = ref
		}
		out = append(out, FeedbackReviewTexts{FeedbackID: fb.ID})
	}
	if len(open) == 0 {
		return out, nil
	}
	contents, err := s.store.FeedbackContents(ctx, open)
	if err != nil {
		return nil, fmt.Errorf("error loading feedback texts: %w", err)
	}
	texts := s.memoryTextsOf(ctx, live)
	byFeedback := make(map[string]MemoryFeedback, len(feedback))
	for _, fb := range feedback {
		byFeedback[fb.ID] = fb
	}
	for i := range out {
		t := &out[i]
		if t.Blind {
			continue
		}
		c := contents[t.FeedbackID]
		t.Comment, t.Correction = optional(c.Comment), optional(c.Correction)
		text, ok := texts[byFeedback[t.FeedbackID].MemoryRefID]
		switch {
		case !ok:
			t.MemoryTextUnavailable = new(TextRetired)
		default:
			t.MemoryText, t.MemoryTextUnavailable = text.Text, text.Unavailable
		}
	}
	return out, nil
}

// memoryTextsOf reads the text of live refs from their backends, by ref id.
func (s *Service) memoryTextsOf(ctx context.Context, refs map[string]MemoryRef) map[string]MemoryText {
	list := make([]MemoryRef, 0, len(refs))
	for _, r := range refs {
		list = append(list, r)
	}
	out := make(map[string]MemoryText, len(list))
	for _, t := range s.readTexts(ctx, list) {
		out[t.Ref.ID] = t
	}
	return out
}

// mayReview: ADMIN on the memory's namespace, or its own user with WRITE
// there — the rule reviewMemoryFeedback decides by.
func mayReview(p Principal, ref MemoryRef) bool {
	owner := p.UserID != "" && p.UserID == ref.UserID && p.May(AccessWrite, refScope(ref))
	return owner || p.May(AccessAdmin, refScope(ref))
}

// ReviewFeedbacksInput is one decision on several pieces of feedback.
type ReviewFeedbacksInput struct {
	IDs      []string         `json:"ids"`
	Decision FeedbackDecision `json:"decision" validate:"required,oneof=accept reject"`
	Reason   string           `json:"reason" validate:"text"`
}

// ReviewOutcome is one id's outcome in a bulk review: the feedback as
// decided, or why it was not.
type ReviewOutcome struct {
	ID       string
	Feedback MemoryFeedback
	Err      error
}

// ReviewMemoryFeedbacks decides each id as ReviewMemoryFeedback would (its
// own scope check, transaction, audit entry and route), so one id out of
// reach or already decided the other way never fails the others; the same
// request again decides nothing new. outcomes[i] is ids[i]'s. What is wrong
// with the request as a whole (no ids, too many, a bad decision or reason)
// fails it before anything is decided.
func (s *Service) ReviewMemoryFeedbacks(ctx context.Context, in ReviewFeedbacksInput) ([]ReviewOutcome, error) {
	switch {
	case len(in.IDs) == 0:
		return nil, NewInputError("ids", "must hold at least one feedback id")
	case len(in.IDs) > MaxReviewBatch:
		return nil, NewInputError("ids", fmt.Sprintf("must hold at most %d feedback ids", MaxReviewBatch))
	}
	in.Reason = strings.TrimSpace(in.Reason)
	if err := s.validateStruct(in); err != nil {
		return nil, err
	}
	if err := checkText("reason", in.Reason, maxReviewReasonBytes); err != nil {
		return nil, err
	}
	if _, err := s.principal(ctx); err != nil {
		return nil, err
	}
	outcomes := make([]ReviewOutcome, len(in.IDs))
	for i, id := range in.IDs {
		outcomes[i].ID = id
		outcomes[i].Feedback, outcomes[i].Err = s.ReviewMemoryFeedback(ctx, ReviewFeedbackInput{ID: id, Decision: in.Decision, Reason: in.Reason})
	}
	return outcomes, nil
}
