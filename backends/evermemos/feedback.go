package evermemos

import (
	"context"
	"net/http"
	"strings"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Reasons of feedback the adapter skips (Response["reason"]).
const (
	// ReasonRawMessageNotEditable: an ingest ref names a raw message, which
	// EverMemOS keeps as source data: its delete API removes extracted
	// memories, never messages (UNSUPPORTED).
	ReasonRawMessageNotEditable = "raw_message_not_editable"
	// ReasonProfileNotEditable: the profile is an aggregate EverMemOS
	// derives in the background; no API rewrites or removes it
	// (UNSUPPORTED).
	ReasonProfileNotEditable = "profile_not_editable"
	// ReasonNoMemoryID: the ref names no memory.
	ReasonNoMemoryID = "no_memory_id"
	// ReasonUnsupportedFeedbackType: only corrections and delete requests
	// change a memory.
	ReasonUnsupportedFeedbackType = "unsupported_feedback_type"
)

// ErrorCodeEmptyCorrection is the permanent failure of a correction without
// replacement text: the gateway never sends one, so it is a caller bug.
const ErrorCodeEmptyCorrection = backendtype.ErrorCodeEmptyCorrection

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

// ApplyFeedback implements backendtype.FeedbackApplier for extracted memories
// (episodic memory refs, by native id).
//
// A delete removes the episode's MemCell (POST /api/v1/memories/delete with
// the MemCell id: the API deletes MemCells and cascades to their episodes,
// service/memcell_delete_service.py:112-143; an episode id would delete
// nothing and still answer 204). The MemCell id is the one the commit kept
// on the ref, else the episode's parent_id read back. The delete reaches
// MongoDB only, and search keeps serving the episode from its indexes: the
// gateway leaves it out of retrieval by its ref, which the applied delete
// retires.
//
// EverMemOS has no update, so a correction takes three steps: delete the old
// memory; add the corrected fact as a user message of the memory's user and
// session (POST /api/v1/memories, message id CorrectionMessageID, sent by the
// user as ingest sends user turns); flush the session (as a commit does) so
// it is extracted before the call returns. State records the steps done, so
// a retry resumes after the last one that succeeded. The replacement is that
// message: NativeID CorrectionMessageID(FeedbackID), RefType message_memory,
// no uri, the way an ingest ref names its message. The episode extracted
// from it gets an episodic ref of its own when the session is next
// committed.
//
// Profiles and raw messages: no EverMemOS API rewrites or deletes them
// (the delete service has no profile repository, and filters never reach
// raw messages, memcell_delete_service.py:65-105, :243): UNSUPPORTED.
func (b *Backend) ApplyFeedback(ctx context.Context, req backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
	if req.FeedbackType != backendtype.FeedbackCorrection && req.FeedbackType != backendtype.FeedbackDeleteRequest {
		return backendtype.SkippedResult(ReasonUnsupportedFeedbackType), nil
	}
	switch {
	case req.NativeID == "":
		return backendtype.SkippedResult(ReasonNoMemoryID), nil
	case req.RefType == backendtype.RefTypeMessageMemory:
		return backendtype.UnsupportedResult(ReasonRawMessageNotEditable), nil
	case req.RefType == backendtype.RefTypeProfile:
		return backendtype.UnsupportedResult(ReasonProfileNotEditable), nil
	}
	if req.FeedbackType == backendtype.FeedbackDeleteRequest {
		hash, err := b.deleteEpisode(ctx, req)
		if err != nil {
			return remote.CommitFailure(backendtype.BackendEverMemOS, err), nil
		}
		return backendtype.CommitResult{
			Status: backendtype.ResultSuccess, ReplacedContentHash: hash,
			Response: map[string]any{"status": "deleted", "memory_id": req.NativeID},
		}, nil
	}
	if req.Correction == "" {
		return backendtype.EmptyCorrectionResult(backendtype.BackendEverMemOS), nil
	}
	return b.correct(ctx, req)
}

// deleteEpisode deletes the episode's MemCell and returns the hash of the
// episode's text ("" when it is gone already).
func (b *Backend) deleteEpisode(ctx context.Context, req backendtype.FeedbackRequest) (string, error) {
	memcell, _ := req.Produced[memcellKey].(string)
	found, err := b.episodeOf(ctx, req)
	if err != nil {
		return "", err
	}
	hash := ""
	if found != nil {
		if memcell == "" {
			memcell = found.ParentID
		}
		if text := strings.TrimSpace(found.text()); text != "" {
			hash = backendtype.ContentHash(text)
		}
	}
	if memcell == "" {
		// Neither the ref nor the server names a MemCell: the episode is
		// gone already (a retry after the delete landed).
		return hash, nil
	}
	return hash, b.deleteMemCell(ctx, memcell)
}

func (b *Backend) correct(ctx context.Context, req backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
	state := backendtype.Metadata{}
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
	fail := func(err error) (backendtype.CommitResult, error) {
		res := remote.CommitFailure(backendtype.BackendEverMemOS, err)
		res.State = state
		return res, nil
	}
	session, err := sessionID(req.SessionID)
	if err != nil {
		return fail(err)
	}
	if state[stateDeleted] != true {
		hash, err := b.deleteEpisode(ctx, req)
		if err != nil {
			return fail(err)
		}
		state[stateDeleted], replaced = true, hash
		if hash != "" {
			state[stateReplacedHash] = hash
		}
	}
	user := b.userID(req.WorkspaceID, req.UserID)
	messageID := CorrectionMessageID(req.FeedbackID)
	if state[stateAdded] != true {
		msg := map[string]any{
			"role": "user", "sender_id": user, "timestamp": b.now().UnixMilli(),
			"content": req.Correction, "message_id": messageID,
		}
		if err := b.call(ctx, remote.Request{
			Method: http.MethodPost, Path: "/api/v1/memories", OmitErrorText: true,
			Body: map[string]any{"user_id": user, "session_id": session, "messages": []any{msg}},
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
		Body: map[string]any{"user_id": user, "session_id": session},
	}, &flushed); err != nil {
		return fail(err)
	}
	return backendtype.CommitResult{
		Status: backendtype.ResultSuccess, NativeID: messageID, RefType: backendtype.RefTypeMessageMemory, ReplacedContentHash: replaced,
		Response: map[string]any{
			"status": "corrected", "id": messageID, "memory_id": req.NativeID, "session_id": req.SessionID,
			"metadata": map[string]any{"backend_request_id": flushed.RequestID},
		},
	}, nil
}

// episodeOf reads the episode a ref names among the session's episodes
// (nil when it is gone).
func (b *Backend) episodeOf(ctx context.Context, req backendtype.FeedbackRequest) (*episode, error) {
	filters := map[string]any{"user_id": b.userID(req.WorkspaceID, req.UserID)}
	if session, err := sessionID(req.SessionID); err == nil && req.SessionID != "" {
		filters["session_id"] = session
	}
	eps, err := b.episodes(ctx, filters)
	if err != nil {
		return nil, err
	}
	for _, e := range eps {
		if e.ID == req.NativeID {
			return &e, nil
		}
	}
	return nil, nil
}
