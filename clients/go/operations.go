package memorygateway

import "context"

// The Client's methods send the generated operations and return what an
// agent or a dashboard reads, without the response wrappers.

// IngestTurn records one conversation turn. Sending the same turn again is
// answered from what was stored (Replayed).
func (c *Client) IngestTurn(ctx context.Context, in IngestConversationTurnInput) (*TurnResult, error) {
	resp, err := IngestTurn(ctx, c, in)
	if err != nil {
		return nil, err
	}
	return &resp.IngestConversationTurn, nil
}

// IngestTurns records up to 100 turns in one request: one result per turn,
// in order, each with its payload or its error (IngestTurnsResult.Err). One
// bad turn never fails the others.
func (c *Client) IngestTurns(ctx context.Context, turns []IngestConversationTurnInput) ([]IngestTurnsResult, error) {
	resp, err := IngestTurns(ctx, c, IngestConversationTurnsInput{Turns: turns})
	if err != nil {
		return nil, err
	}
	return resp.IngestConversationTurns.Results, nil
}

// RetrieveContext recalls memories for a query, merged across backends.
func (c *Client) RetrieveContext(ctx context.Context, in RetrieveContextInput) (*RetrievedContext, error) {
	resp, err := RetrieveContext(ctx, c, in)
	if err != nil {
		return nil, err
	}
	return &resp.RetrieveContext, nil
}

// CommitSession commits a session to every backend and returns its job at
// once; WaitForJob follows it.
func (c *Client) CommitSession(ctx context.Context, in CommitSessionInput) (*CommitSessionPayload, error) {
	resp, err := CommitSession(ctx, c, in)
	if err != nil {
		return nil, err
	}
	return &resp.CommitSession, nil
}

// RecordFeedback records feedback on a memory ref (idempotent on
// SourceEventId).
func (c *Client) RecordFeedback(ctx context.Context, in RecordMemoryFeedbackInput) (*RecordFeedbackPayload, error) {
	resp, err := RecordMemoryFeedback(ctx, c, in)
	if err != nil {
		return nil, err
	}
	return &resp.RecordMemoryFeedback, nil
}

// CommitJob is a commit or feedback-routing job's status with its work per
// backend.
func (c *Client) CommitJob(ctx context.Context, id string) (*CommitJobDetail, error) {
	resp, err := CommitJob(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return &resp.CommitJob, nil
}

// EraseSubject asks to erase everything about a user (optionally narrowed to
// an agent or a namespace) in every backend. Follow Job.Id with WaitForJob.
func (c *Client) EraseSubject(ctx context.Context, in EraseSubjectInput) (*EraseSubjectPayload, error) {
	resp, err := EraseSubject(ctx, c, in)
	if err != nil {
		return nil, err
	}
	return &resp.EraseSubject, nil
}

// ErasureRequest is an erasure request's state, per backend.
func (c *Client) ErasureRequest(ctx context.Context, id string) (*ErasureState, error) {
	resp, err := ErasureRequest(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return &resp.ErasureRequest, nil
}

// MemoryRefs lists memory refs, newest first; first is at most 100 (nil for
// the gateway's default), after the previous page's EndCursor.
func (c *Client) MemoryRefs(ctx context.Context, filter *MemoryRefFilter, first *int, after *string) (*MemoryRefPage, error) {
	resp, err := MemoryRefs(ctx, c, filter, first, after)
	if err != nil {
		return nil, err
	}
	return &resp.MemoryRefs, nil
}

// MemoryRefGraph is one ref with what replaced it, what it replaced, its
// siblings in other backends, its job and its feedback.
func (c *Client) MemoryRefGraph(ctx context.Context, id string) (*RefGraph, error) {
	resp, err := MemoryRefGraph(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return &resp.MemoryRef, nil
}

// Session is what the control plane holds under a session: its refs and
// jobs, the first of each (nil for the gateway's default of 20).
func (c *Client) Session(ctx context.Context, workspaceID, sessionID string, first *int) (*SessionGraph, error) {
	resp, err := Session(ctx, c, workspaceID, sessionID, first)
	if err != nil {
		return nil, err
	}
	return &resp.Session, nil
}

// Ptr returns a pointer to v, for the optional fields of inputs.
func Ptr[T any](v T) *T { return &v }
