package evermemos

import (
	"context"
	"net/http"
	"strings"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// Reasons of feedback the adapter skips (Response["reason"]).
const (
	// ReasonRawMessageNotEditable: an ingest ref names a raw message, which
	// EverMemOS keeps as source data: its delete API removes extracted
	// memories, never messages.
	ReasonRawMessageNotEditable = "raw_message_not_editable"
	// ReasonProfileNotEditable: the profile is an aggregate EverMemOS
	// derives in the background; no API rewrites or removes it.
	ReasonProfileNotEditable = "profile_not_editable"
	// ReasonNoMemoryID: the ref names no memory.
	ReasonNoMemoryID = "no_memory_id"
	// ReasonUnsupportedFeedbackType: only corrections and delete requests
	// change a memory.
	ReasonUnsupportedFeedbackType = "unsupported_feedback_type"
)

// ErrorCodeEmptyCorrection is the permanent failure of a correction without
// replacement text: the gateway never sends one, so it is a caller bug.
const ErrorCodeEmptyCorrection = gateway.ErrorCodeEmptyCorrection

// Keys of the progress a correction keeps between attempts. Both are flags:
// state never holds content.
const (
	stateDeleted = "deleted" // the old memory is deleted
	stateAdded   = "added"   // the corrected message is stored
	// stateReplacedHash is the hash of the old memory's text, read before
	// it was deleted (a hash, not content).
	stateReplacedHash = "replaced_hash"
)

// CorrectionMessageID is the message id of a correction's replacement
// message: derived from the feedback, so a retry names the same message.
func CorrectionMessageID(feedbackID string) string { return "correction_" + feedbackID }

// ApplyFeedback implements gateway.FeedbackApplier for extracted memories
// (episodic memory refs, by native id).
//
// A delete is POST /api/v1/memories/delete with the memory id alone (the DTO
// rejects user or session fields next to it; soft delete, 204, idempotent).
//
// EverMemOS has no update, so a correction takes three steps: delete the old
// memory; add the corrected fact as a user message of the memory's user and
// session (POST /api/v1/memories, message id CorrectionMessageID, sent by the
// user as ingest sends user turns); flush the session (as a commit does) so
// it is extracted and searchable before the call returns. State records the
// steps done, so a retry resumes after the last one that succeeded. The
// replacement is that message: NativeID CorrectionMessageID(FeedbackID),
// RefType message_memory, no uri, the way an ingest ref names its message.
// The episode extracted from it gets an episodic ref of its own when the
// session is next committed.
func (b *Backend) ApplyFeedback(ctx context.Context, req gateway.FeedbackRequest) (gateway.CommitResult, error) {
	if req.FeedbackType != gateway.FeedbackCorrection && req.FeedbackType != gateway.FeedbackDeleteRequest {
		return gateway.SkippedResult(ReasonUnsupportedFeedbackType), nil
	}
	switch {
	case req.NativeID == "":
		return gateway.SkippedResult(ReasonNoMemoryID), nil
	case req.RefType == gateway.RefTypeMessageMemory:
		return gateway.SkippedResult(ReasonRawMessageNotEditable), nil
	case req.RefType == gateway.RefTypeProfile:
		return gateway.SkippedResult(ReasonProfileNotEditable), nil
	}
	if req.FeedbackType == gateway.FeedbackDeleteRequest {
		hash, err := b.episodeHash(ctx, req)
		if err != nil {
			return remote.CommitFailure(gateway.BackendEverMemOS, err), nil
		}
		if err := b.DeleteMemory(ctx, req.NativeID); err != nil {
			return remote.CommitFailure(gateway.BackendEverMemOS, err), nil
		}
		return gateway.CommitResult{
			Status: gateway.ResultSuccess, ReplacedContentHash: hash,
			Response: map[string]any{"status": "deleted", "memory_id": req.NativeID},
		}, nil
	}
	if req.Correction == "" {
		return gateway.EmptyCorrectionResult(gateway.BackendEverMemOS), nil
	}
	return b.correct(ctx, req)
}

func (b *Backend) correct(ctx context.Context, req gateway.FeedbackRequest) (gateway.CommitResult, error) {
	state := gateway.Metadata{}
	for _, key := range []string{stateDeleted, stateAdded} {
		if done, _ := req.State[key].(bool); done {
			state[key] = true
		}
	}
	replaced, _ := req.State[stateReplacedHash].(string)
	if replaced != "" {
		state[stateReplacedHash] = replaced
	}
	// fail keeps the steps done so far for the next attempt.
	fail := func(err error) (gateway.CommitResult, error) {
		res := remote.CommitFailure(gateway.BackendEverMemOS, err)
		res.State = state
		return res, nil
	}
	if state[stateDeleted] != true {
		hash, err := b.episodeHash(ctx, req)
		if err != nil {
			return fail(err)
		}
		if err := b.DeleteMemory(ctx, req.NativeID); err != nil {
			return fail(err)
		}
		state[stateDeleted], replaced = true, hash
		if hash != "" {
			state[stateReplacedHash] = hash
		}
	}
	user := b.ids.Of(req.WorkspaceID, req.UserID).ScopedUserID()
	messageID := CorrectionMessageID(req.FeedbackID)
	if state[stateAdded] != true {
		msg := map[string]any{
			"role": "user", "sender_id": user, "timestamp": b.now().UnixMilli(),
			"content": req.Correction, "message_id": messageID,
		}
		if err := b.call(ctx, remote.Request{
			Method: http.MethodPost, Path: "/api/v1/memories", OmitErrorText: true,
			Body: withSession(map[string]any{"user_id": user, "messages": []any{msg}}, req.SessionID),
		}, &struct{}{}); err != nil {
			return fail(err)
		}
		state[stateAdded] = true
	}
	var flushed struct {
		RequestID string `json:"request_id"`
		Status    string `json:"status"`
	}
	if err := b.call(ctx, remote.Request{
		Method: http.MethodPost, Path: "/api/v1/memories/flush",
		Body: withSession(map[string]any{"user_id": user}, req.SessionID),
	}, &flushed); err != nil {
		return fail(err)
	}
	return gateway.CommitResult{
		Status: gateway.ResultSuccess, NativeID: messageID, RefType: gateway.RefTypeMessageMemory, ReplacedContentHash: replaced,
		Response: map[string]any{
			"status": "corrected", "id": messageID, "memory_id": req.NativeID, "session_id": req.SessionID,
			"metadata": map[string]any{"backend_request_id": flushed.RequestID},
		},
	}, nil
}

// episodeHash reads the episode about to be deleted and returns the hash of
// its text ("" when it is gone already), so that retrieval can recognise
// the old fact where EverMemOS keeps deriving from it (the profile).
func (b *Backend) episodeHash(ctx context.Context, req gateway.FeedbackRequest) (string, error) {
	filters := map[string]any{"user_id": b.ids.Of(req.WorkspaceID, req.UserID).ScopedUserID()}
	if req.SessionID != "" {
		filters["session_id"] = req.SessionID
	}
	for page := 1; page <= maxPages; page++ {
		var got getAnswer
		err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/get", Body: map[string]any{
			"memory_type": "episodic_memory", "filters": filters, "page": page, "page_size": PageSizeDefault,
		}}, &got)
		if err != nil {
			return "", err
		}
		for _, e := range got.Episodes {
			if e.ID != req.NativeID {
				continue
			}
			text := e.Episode
			if text == "" {
				text = e.Summary
			}
			if text = strings.TrimSpace(text); text == "" {
				return "", nil
			}
			return gateway.ContentHash(text), nil
		}
		if len(got.Episodes) < PageSizeDefault {
			break
		}
	}
	return "", nil
}

// withSession adds the session to a body when there is one: EverMemOS
// reserves "-1" for messages without, and sets it itself.
func withSession(body map[string]any, sessionID string) map[string]any {
	if sessionID != "" {
		body["session_id"] = sessionID
	}
	return body
}
