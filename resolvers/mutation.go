package resolvers

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/memory-gateway/memory-gateway/apierror"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/graph/model"
	"github.com/memory-gateway/memory-gateway/requestinfo"
)

// IngestConversationTurn implements graph.MutationResolver.
func (r *mutationResolver) IngestConversationTurn(ctx context.Context, input gateway.IngestTurnInput) (*model.IngestConversationTurnPayload, error) {
	if input.Trace.TraceID == "" {
		input.Trace.TraceID = requestinfo.TraceID(ctx)
	}
	res, err := r.Service.IngestConversationTurn(ctx, input)
	if err != nil {
		return nil, inArg("input", err)
	}
	return turnPayload(res, res.RequestID), nil
}

func turnPayload(res gateway.IngestResult, requestID string) *model.IngestConversationTurnPayload {
	var rid *string
	if requestID != "" {
		rid = &requestID
	}
	return &model.IngestConversationTurnPayload{
		Status:       res.Status,
		GatewayID:    res.GatewayID,
		ProvenanceID: res.ProvenanceID,
		RequestID:    rid,
		TurnID:       res.TurnID,
		Refs:         res.Refs,
		Errors:       res.Errors,
		Replayed:     res.Replayed,
	}
}

// IngestConversationTurns implements graph.MutationResolver: one result
// per turn, holding its payload or its coded error.
func (r *mutationResolver) IngestConversationTurns(ctx context.Context, input model.IngestConversationTurnsInput) (*model.IngestConversationTurnsPayload, error) {
	for i := range input.Turns {
		if input.Turns[i].Trace.TraceID == "" {
			input.Turns[i].Trace.TraceID = requestinfo.TraceID(ctx)
		}
	}
	outcomes, err := r.Service.IngestConversationTurns(ctx, input.Turns)
	if err != nil {
		return nil, inArg("input", err)
	}
	results := make([]model.IngestConversationTurnResult, len(outcomes))
	for i, o := range outcomes {
		if o.Err == nil {
			results[i].Turn = turnPayload(o.Result, input.Turns[i].RequestID)
			continue
		}
		prefix := fmt.Sprintf("input.turns[%d]", i)
		e := r.itemError(ctx, prefix, o.Err, func(field string) string { return prefix + "." + field })
		results[i].Error = &model.IngestConversationTurnError{Code: e.Code, Message: e.Message}
		if e.Field != "" {
			results[i].Error.Field = &e.Field
		}
	}
	return &model.IngestConversationTurnsPayload{Results: results}, nil
}

// ReviewMemoryFeedback implements graph.MutationResolver.
func (r *mutationResolver) ReviewMemoryFeedback(ctx context.Context, input gateway.ReviewFeedbackInput) (*model.ReviewMemoryFeedbackPayload, error) {
	fb, err := r.Service.ReviewMemoryFeedback(ctx, input)
	if err != nil {
		return nil, inArg("input", err)
	}
	return &model.ReviewMemoryFeedbackPayload{Feedback: &fb}, nil
}

// ReviewMemoryFeedbacks implements graph.MutationResolver: one result per
// id, holding the feedback as decided or its coded error.
func (r *mutationResolver) ReviewMemoryFeedbacks(ctx context.Context, input gateway.ReviewFeedbacksInput) (*model.ReviewMemoryFeedbacksPayload, error) {
	outcomes, err := r.Service.ReviewMemoryFeedbacks(ctx, input)
	if err != nil {
		return nil, inArg("input", err)
	}
	results := make([]model.ReviewMemoryFeedbackResult, len(outcomes))
	for i, o := range outcomes {
		results[i].ID = o.ID
		if o.Err == nil {
			results[i].Feedback = &o.Feedback
			continue
		}
		idPath := fmt.Sprintf("input.ids[%d]", i)
		e := r.itemError(ctx, idPath, o.Err, func(field string) string {
			if field == "id" {
				return idPath
			}
			return "input." + field
		})
		results[i].Error = &model.ReviewMemoryFeedbackError{Code: e.Code, Message: e.Message}
		if e.Field != "" {
			results[i].Error.Field = &e.Field
		}
	}
	return &model.ReviewMemoryFeedbacksPayload{Results: results}, nil
}

// CommitSession implements graph.MutationResolver.
func (r *mutationResolver) CommitSession(ctx context.Context, input gateway.CommitSessionInput) (*model.CommitSessionPayload, error) {
	res, err := r.Service.CommitSession(ctx, input)
	if err != nil {
		return nil, inArg("input", err)
	}
	loadersFrom(ctx).useSnapshot(res.Snapshot)
	return &model.CommitSessionPayload{Job: &res.Job, Created: res.Created}, nil
}

// RecordMemoryFeedback implements graph.MutationResolver.
func (r *mutationResolver) RecordMemoryFeedback(ctx context.Context, input gateway.RecordFeedbackInput) (*model.RecordMemoryFeedbackPayload, error) {
	res, err := r.Service.RecordMemoryFeedback(ctx, input)
	if err != nil {
		return nil, inArg("input", err)
	}
	return &model.RecordMemoryFeedbackPayload{Feedback: &res.Feedback, Created: res.Created}, nil
}

// ProcessOutbox implements graph.MutationResolver.
func (r *mutationResolver) ProcessOutbox(ctx context.Context, limit *int, workspaceID *string) (*gateway.ProcessOutboxResult, error) {
	res, err := r.Service.ProcessOutbox(ctx, limit, deref(workspaceID))
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// RedriveOutboxEvent implements graph.MutationResolver.
func (r *mutationResolver) RedriveOutboxEvent(ctx context.Context, id string) (*gateway.OutboxEvent, error) {
	e, err := r.Service.RedriveOutboxEvent(ctx, id)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// RedriveOutboxEvents implements graph.MutationResolver.
func (r *mutationResolver) RedriveOutboxEvents(ctx context.Context, filter gateway.EventFilter) (*model.RedriveOutboxEventsPayload, error) {
	events, err := r.Service.RedriveOutboxEvents(ctx, filter)
	if err != nil {
		return nil, err
	}
	return &model.RedriveOutboxEventsPayload{RedrivenCount: len(events), Events: events}, nil
}

// itemError codes the error of one item of a batch mutation, whose fields
// fieldOf names in the input; an internal or database error is logged
// with the item's path, since the client is told only its code.
func (r *mutationResolver) itemError(ctx context.Context, path string, err error, fieldOf func(string) string) apierror.Error {
	e := apierror.Classify(err, fieldOf)
	switch e.Code {
	case apierror.CodeInternal:
		r.Env.Logger().ErrorContext(ctx, "graphql: internal error", slog.String("path", path), slog.String("err", err.Error()))
	case apierror.CodeUnavailable:
		r.Env.Logger().WarnContext(ctx, "graphql: the database is unavailable", slog.String("path", path), slog.String("err", err.Error()))
	}
	return e
}
