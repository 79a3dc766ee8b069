package openviking

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Reasons of feedback the adapter skips (Response["reason"]).
const (
	// ReasonNoMemoryURI: the ref names no memory file. Ingest refs name the
	// session and archive refs its history: neither is a memory OpenViking
	// can rewrite or remove on its own.
	ReasonNoMemoryURI = "no_memory_uri"
	// ReasonMemoryNotFound: the memory file to correct no longer exists
	// (replace needs an existing file, and recreating it would resurrect a
	// deleted memory).
	ReasonMemoryNotFound = "memory_not_found"
	// ReasonUnsupportedFeedbackType: only corrections and delete requests
	// change a memory.
	ReasonUnsupportedFeedbackType = "unsupported_feedback_type"
)

// ErrorCodeEmptyCorrection is the permanent failure of a correction without
// replacement text: the gateway never sends one, so it is a caller bug.
const ErrorCodeEmptyCorrection = backendtype.ErrorCodeEmptyCorrection

// codeNotFound is OpenViking's error code for a missing file.
const codeNotFound = "NOT_FOUND"

// ApplyFeedback implements backendtype.FeedbackApplier. OpenViking memories are
// files: a correction replaces the file's content (POST
// /api/v1/content/write, mode "replace", waiting for the re-index so the old
// text stops matching before the call returns), a delete removes the file
// (DELETE /api/v1/fs, not recursive, waiting likewise). The replacement of a
// correction is the same file: same uri and ref type.
//
// Both are idempotent: writing the same content again changes nothing, and
// a file already gone counts as deleted. A busy path lock is 409 CONFLICT
// with details.retryable (openviking/storage/content_write.py:1188-1195):
// a retryable failure. Requests carry the identity of
// req.UserID, the memory's owner.
func (b *Backend) ApplyFeedback(ctx context.Context, req backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
	if req.FeedbackType != backendtype.FeedbackCorrection && req.FeedbackType != backendtype.FeedbackDeleteRequest {
		return backendtype.SkippedResult(ReasonUnsupportedFeedbackType), nil
	}
	if !isMemoryURI(req.NativeURI) {
		return backendtype.SkippedResult(ReasonNoMemoryURI), nil
	}
	if req.FeedbackType == backendtype.FeedbackDeleteRequest {
		return b.deleteMemory(ctx, req)
	}
	if req.Correction == "" {
		return backendtype.EmptyCorrectionResult(backendtype.BackendOpenViking), nil
	}
	return b.correctMemory(ctx, req)
}

// isMemoryURI reports whether uri names a memory file: a viking:// uri with a
// file below a memories directory (the user's or a peer's).
func isMemoryURI(uri string) bool {
	rest, ok := strings.CutPrefix(uri, "viking://")
	if !ok || strings.HasSuffix(rest, "/") {
		return false
	}
	_, file, ok := strings.Cut(rest, "/memories/")
	return ok && file != ""
}

func (b *Backend) correctMemory(ctx context.Context, req backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
	// The answer (written bytes, index statuses) adds nothing: with wait the
	// re-index is done when the call returns.
	err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
		Method: http.MethodPost, Path: "/api/v1/content/write", OmitErrorText: true,
		Body: map[string]any{"uri": req.NativeURI, "content": req.Correction, "mode": "replace", "wait": true},
	}, nil)
	if re := remote.AsError(backendtype.BackendOpenViking, err); err != nil && re.Code == codeNotFound {
		return backendtype.SkippedResult(ReasonMemoryNotFound), nil
	}
	if err != nil {
		return remote.CommitFailure(backendtype.BackendOpenViking, err), nil
	}
	refType := req.RefType
	if refType == "" {
		refType = refTypeOf("", req.NativeURI)
	}
	return backendtype.CommitResult{
		Status: backendtype.ResultSuccess, NativeID: req.NativeID, NativeURI: req.NativeURI, RefType: refType,
		Response: map[string]any{"status": "corrected", "uri": req.NativeURI},
	}, nil
}

// deleteMemory removes the memory file. Deleting a path that is gone is 200
// too (openviking/storage/viking_fs/_ops.py:156-173), so a retry after a
// lost answer succeeds like the first delete.
func (b *Backend) deleteMemory(ctx context.Context, req backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
	err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
		Method: http.MethodDelete, Path: "/api/v1/fs",
		Query: url.Values{"uri": {req.NativeURI}, "recursive": {"false"}, "wait": {"true"}},
	}, nil)
	if err != nil {
		return remote.CommitFailure(backendtype.BackendOpenViking, err), nil
	}
	return backendtype.CommitResult{Status: backendtype.ResultSuccess, Response: map[string]any{"status": "deleted", "uri": req.NativeURI}}, nil
}
