package local

import (
	"context"
	"fmt"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/namespace"
)

var _ backendtype.SubjectEraser = (*Backend)(nil)

// EraseSubject implements backendtype.SubjectEraser: the subject's rows — turns
// and the memories commits made of them — are deleted (its own filters
// express an agent and a namespace, so the named memories are not needed).
func (b *Backend) EraseSubject(ctx context.Context, req backendtype.EraseRequest) (backendtype.CommitResult, error) {
	res, err := subjectRows(b.db.NewDelete().Model((*memoryRow)(nil)), req).Exec(ctx)
	if err != nil {
		return backendtype.CommitResult{}, fmt.Errorf("local: error erasing: %w", err)
	}
	n, _ := res.RowsAffected()
	outcome := backendtype.ErasureOutcomeErased
	if n == 0 {
		outcome = backendtype.ErasureOutcomeNothingToErase
	}
	return backendtype.CommitResult{Status: backendtype.ResultSuccess, Response: map[string]any{"outcome": string(outcome), "erased": n}}, nil
}

// SubjectResidue implements backendtype.SubjectEraser: the subject's rows left.
func (b *Backend) SubjectResidue(ctx context.Context, req backendtype.EraseRequest) (backendtype.Residue, error) {
	n, err := subjectRows(b.db.NewSelect().Model((*memoryRow)(nil)), req).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("local: error counting what is left: %w", err)
	}
	return backendtype.Residue{{Kind: "memory", Count: n}}, nil
}

// subjectRows narrows a query to the subject's rows.
func subjectRows[Q interface {
	Where(string, ...any) Q
}](q Q, req backendtype.EraseRequest) Q {
	q = q.Where("workspace_id = ?", req.WorkspaceID).Where("user_id = ?", req.UserID)
	if req.AgentID != "" {
		q = q.Where("agent_id = ?", req.AgentID)
	}
	if req.Namespace != "" {
		cond, args := namespace.Condition("namespace", req.Namespace)
		q = q.Where(cond, args...)
	}
	return q
}

// exportPage is how many rows one read of an export takes.
const exportPage = 500

var _ backendtype.SubjectExporter = (*Backend)(nil)

// ExportSubject implements backendtype.SubjectExporter: the user's rows with
// their text, read page by page in insertion order.
func (b *Backend) ExportSubject(ctx context.Context, req backendtype.EraseRequest, emit func([]backendtype.ExportedMemory) error) error {
	var after int64
	for {
		var rows []memoryRow
		err := subjectRows(b.db.NewSelect().Model(&rows), req).Where("seq > ?", after).OrderExpr("seq").Limit(exportPage).Scan(ctx)
		if err != nil {
			return fmt.Errorf("local: error reading memories: %w", err)
		}
		page := make([]backendtype.ExportedMemory, len(rows))
		for i := range rows {
			m := &rows[i]
			kind := backendtype.RefTypeMessageMemory
			if m.CommittedBy != nil {
				kind = backendtype.RefTypeLongTermMemory
			}
			page[i] = backendtype.ExportedMemory{NativeID: m.ID, NativeURI: memoryURI(m), MemoryType: kind, SessionID: m.SessionID, Text: m.Content}
		}
		if len(page) > 0 {
			if err := emit(page); err != nil {
				return err
			}
		}
		if len(rows) < exportPage {
			return nil
		}
		after = rows[len(rows)-1].Seq
	}
}
