package local

import (
	"context"
	"fmt"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/namespace"
)

var _ gateway.SubjectEraser = (*Backend)(nil)

// EraseSubject implements gateway.SubjectEraser: the subject's rows — turns
// and the memories commits made of them — are deleted (its own filters
// express an agent and a namespace, so the named memories are not needed).
func (b *Backend) EraseSubject(ctx context.Context, req gateway.EraseRequest) (gateway.CommitResult, error) {
	res, err := subjectRows(b.db.NewDelete().Model((*memoryRow)(nil)), req).Exec(ctx)
	if err != nil {
		return gateway.CommitResult{}, fmt.Errorf("local: error erasing: %w", err)
	}
	n, _ := res.RowsAffected()
	outcome := gateway.ErasureOutcomeErased
	if n == 0 {
		outcome = gateway.ErasureOutcomeNothingToErase
	}
	return gateway.CommitResult{Status: gateway.ResultSuccess, Response: map[string]any{"outcome": string(outcome), "erased": n}}, nil
}

// SubjectResidue implements gateway.SubjectEraser: the subject's rows left.
func (b *Backend) SubjectResidue(ctx context.Context, req gateway.EraseRequest) (int, error) {
	n, err := subjectRows(b.db.NewSelect().Model((*memoryRow)(nil)), req).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("local: error counting what is left: %w", err)
	}
	return n, nil
}

// subjectRows narrows a query to the subject's rows.
func subjectRows[Q interface {
	Where(string, ...any) Q
}](q Q, req gateway.EraseRequest) Q {
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
