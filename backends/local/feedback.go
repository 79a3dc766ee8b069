package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Reasons of feedback the local backend skips (Response["reason"]).
const (
	// ReasonSessionArchiveNotCorrectable: an archive is a whole session of
	// turns; one correction text cannot replace it. Correct its turns instead.
	ReasonSessionArchiveNotCorrectable = "session_archive_not_correctable"
	// ReasonMemoryNotFound: the memory to correct no longer exists (it was
	// deleted); there is nothing left to rewrite.
	ReasonMemoryNotFound = "memory_not_found"
	// ReasonNoMemoryID: the ref names no local memory or archive.
	ReasonNoMemoryID = "no_memory_id"
	// ReasonUnsupportedFeedbackType: only corrections and delete requests
	// change a memory.
	ReasonUnsupportedFeedbackType = "unsupported_feedback_type"
)

// ErrorCodeEmptyCorrection is the permanent failure of a correction without
// replacement text: the gateway never sends one, so it is a caller bug.
const ErrorCodeEmptyCorrection = backendtype.ErrorCodeEmptyCorrection

// Local native id prefixes: see memoryID and archiveID.
const (
	memoryIDPrefix  = "lm_"
	archiveIDPrefix = "la_"
)

// ApplyFeedback implements backendtype.FeedbackApplier.
//
// A memory (lm_…, the native id of both the turn's ingest ref and the
// long-term memory ref its commit produced: they are the same row) is
// corrected in place: its content and content hash are rewritten, and the
// full-text index follows (the PostgreSQL tsvector is a generated column, the
// SQLite FTS5 table is kept in step by triggers). The replacement is the same
// memory: same native id, uri and ref type. A delete removes the row, and
// with it the index entry.
//
// A session archive (la_…) holds no text of its own: it groups the turns its
// commit archived. Deleting it deletes the archive and every one of those
// turns (forgetting the archived conversation); correcting it is skipped.
//
// Only the memory's own user's rows are touched: the request names the
// ref's user, and a row of anyone else is treated as not there.
//
// Both operations are idempotent: correcting again writes the same text,
// deleting something already gone succeeds. Correcting a memory that is gone
// is skipped with ReasonMemoryNotFound: there is nothing to rewrite, and
// recreating the row would resurrect deleted content under a stale id.
func (b *Backend) ApplyFeedback(ctx context.Context, req backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
	if req.FeedbackType != backendtype.FeedbackCorrection && req.FeedbackType != backendtype.FeedbackDeleteRequest {
		return backendtype.SkippedResult(ReasonUnsupportedFeedbackType), nil
	}
	if req.FeedbackType == backendtype.FeedbackCorrection && req.Correction == "" {
		return backendtype.EmptyCorrectionResult(backendtype.BackendLocal), nil
	}
	switch {
	case strings.HasPrefix(req.NativeID, memoryIDPrefix):
		if req.FeedbackType == backendtype.FeedbackCorrection {
			return b.correctMemory(ctx, req)
		}
		return b.deleteMemory(ctx, req)
	case strings.HasPrefix(req.NativeID, archiveIDPrefix):
		if req.FeedbackType == backendtype.FeedbackCorrection {
			return backendtype.SkippedResult(ReasonSessionArchiveNotCorrectable), nil
		}
		return b.deleteArchive(ctx, req)
	default:
		return backendtype.SkippedResult(ReasonNoMemoryID), nil
	}
}

func (b *Backend) correctMemory(ctx context.Context, req backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
	now := b.now().UTC().Truncate(time.Microsecond)
	var row memoryRow
	found := true
	err := b.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*memoryRow)(nil)).
			Set("content = ?", req.Correction).
			Set("content_hash = ?", backendtype.ContentHash(req.Correction)).
			Set("updated_at = ?", now).
			Where("id = ?", req.NativeID).
			Where("workspace_id = ?", req.WorkspaceID).
			Where("user_id = ?", req.UserID).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("error correcting memory: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("error correcting memory: %w", err)
		}
		if n == 0 {
			found = false
			return nil
		}
		// Read back what the uri is made of, in the same transaction as the
		// update so a concurrent delete cannot slip between them.
		if err := tx.NewSelect().Model(&row).
			Column("seq", "id", "workspace_id", "user_id", "session_id", "turn_id", "committed_by").
			Where("id = ?", req.NativeID).Scan(ctx); err != nil {
			return fmt.Errorf("error reading corrected memory: %w", err)
		}
		if !b.search.writesIndex() {
			return nil
		}
		if err := b.search.unindex(ctx, tx, row.Seq); err != nil {
			return err
		}
		indexed := row
		indexed.Content = req.Correction
		return b.search.index(ctx, tx, []memoryRow{indexed})
	})
	if err != nil {
		return backendtype.CommitResult{}, err
	}
	if !found {
		return backendtype.SkippedResult(ReasonMemoryNotFound), nil
	}
	refType := req.RefType
	if refType == "" {
		refType = backendtype.RefTypeMessageMemory
		if row.CommittedBy != nil {
			refType = backendtype.RefTypeLongTermMemory
		}
	}
	uri := memoryURI(&row)
	return backendtype.CommitResult{
		Status: backendtype.ResultSuccess, NativeID: row.ID, NativeURI: uri, RefType: refType,
		Response: map[string]any{"status": "corrected", "id": row.ID, "uri": uri},
	}, nil
}

func (b *Backend) deleteMemory(ctx context.Context, req backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
	res, err := b.db.NewDelete().Model((*memoryRow)(nil)).
		Where("id = ?", req.NativeID).
		Where("workspace_id = ?", req.WorkspaceID).
		Where("user_id = ?", req.UserID).
		Exec(ctx)
	if err != nil {
		return backendtype.CommitResult{}, fmt.Errorf("error deleting memory: %w", err)
	}
	return deleted(req.NativeID, res), nil
}

// deleteArchive deletes an archive and the turns its commit archived, in one
// transaction. An archive already gone has nothing left to delete: its turns
// went with it.
func (b *Backend) deleteArchive(ctx context.Context, req backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
	var res sql.Result
	err := b.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var archive archiveRow
		err := tx.NewSelect().Model(&archive).Column("id", "job_id").
			Where("id = ?", req.NativeID).
			Where("workspace_id = ?", req.WorkspaceID).
			Where("user_id = ?", req.UserID).
			Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("error reading archive: %w", err)
		}
		if _, err := tx.NewDelete().Model((*memoryRow)(nil)).
			Where("workspace_id = ?", req.WorkspaceID).
			Where("user_id = ?", req.UserID).
			Where("committed_by = ?", archive.JobID).
			Exec(ctx); err != nil {
			return fmt.Errorf("error deleting archived turns: %w", err)
		}
		if res, err = tx.NewDelete().Model((*archiveRow)(nil)).Where("id = ?", archive.ID).Exec(ctx); err != nil {
			return fmt.Errorf("error deleting archive: %w", err)
		}
		return nil
	})
	if err != nil {
		return backendtype.CommitResult{}, err
	}
	return deleted(req.NativeID, res), nil
}

// deleted is the success of a delete; the status tells a first delete from a
// repeated one, which only matters to someone reading the outbox event.
func deleted(id string, res sql.Result) backendtype.CommitResult {
	status := "already_deleted"
	if res != nil {
		if n, err := res.RowsAffected(); err == nil && n > 0 {
			status = "deleted"
		}
	}
	return backendtype.CommitResult{Status: backendtype.ResultSuccess, Response: map[string]any{"status": status, "id": id}}
}
