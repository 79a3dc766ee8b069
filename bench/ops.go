package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Operations and defaults shared by the scenarios.
const (
	benchAgent      = "agent"
	seedConcurrency = 8
	jobWaitTimeout  = 60 * time.Second
	jobPollInterval = 20 * time.Millisecond
)

const ingestMutation = `mutation($in: IngestConversationTurnInput!) { ingestConversationTurn(input: $in) { status errors } }`

const commitMutation = `mutation($in: CommitSessionInput!) { commitSession(input: $in) { created job { id status sessionId updatedAt } } }`

const jobQuery = `query($id: ID!) { commitJob(id: $id) { id status sessionId updatedAt } }`

// turnInput is an IngestConversationTurnInput.
type turnInput struct {
	WorkspaceID string `json:"workspaceId"`
	UserID      string `json:"userId"`
	AgentID     string `json:"agentId"`
	SessionID   string `json:"sessionId"`
	TurnID      string `json:"turnId"`
	Namespace   string `json:"namespace"`
	Role        string `json:"role"`
	Content     string `json:"content"`
}

// ingest sends one turn and fails unless every backend stored it.
func (c *gqlClient) ingest(ctx context.Context, in turnInput) error {
	var out struct {
		Ingest struct {
			Status string   `json:"status"`
			Errors []string `json:"errors"`
		} `json:"ingestConversationTurn"`
	}
	if err := c.do(ctx, ingestMutation, map[string]any{"in": in}, &out); err != nil {
		return err
	}
	if out.Ingest.Status != "SUCCESS" {
		return fmt.Errorf("ingest of %s/%s: status %s %v", in.SessionID, in.TurnID, out.Ingest.Status, out.Ingest.Errors)
	}
	return nil
}

const ingestBatchMutation = `mutation($in: IngestConversationTurnsInput!) { ingestConversationTurns(input: $in) { results { turn { status } error { code message } } } }`

// ingestBatch sends turns in one ingestConversationTurns and fails unless
// every turn was stored by every backend.
func (c *gqlClient) ingestBatch(ctx context.Context, turns []turnInput) error {
	var out struct {
		Batch struct {
			Results []struct {
				Turn  *struct{ Status string } `json:"turn"`
				Error *struct{ Code, Message string }
			} `json:"results"`
		} `json:"ingestConversationTurns"`
	}
	if err := c.do(ctx, ingestBatchMutation, map[string]any{"in": map[string]any{"turns": turns}}, &out); err != nil {
		return err
	}
	for i, r := range out.Batch.Results {
		if r.Error != nil {
			return fmt.Errorf("turn %d of a batch: %s %s", i, r.Error.Code, r.Error.Message)
		}
		if r.Turn.Status != "SUCCESS" {
			return fmt.Errorf("turn %d of a batch: status %s", i, r.Turn.Status)
		}
	}
	return nil
}

// commitInput is a CommitSessionInput.
type commitInput struct {
	WorkspaceID    string `json:"workspaceId"`
	UserID         string `json:"userId"`
	AgentID        string `json:"agentId"`
	SessionID      string `json:"sessionId"`
	Namespace      string `json:"namespace"`
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
}

// commit commits a session and returns the new job.
func (c *gqlClient) commit(ctx context.Context, in commitInput) (jobState, error) {
	var out struct {
		Commit struct {
			Created bool     `json:"created"`
			Job     jobState `json:"job"`
		} `json:"commitSession"`
	}
	if err := c.do(ctx, commitMutation, map[string]any{"in": in}, &out); err != nil {
		return jobState{}, err
	}
	if !out.Commit.Created {
		return jobState{}, fmt.Errorf("commit of %s returned an existing job %s", in.SessionID, out.Commit.Job.ID)
	}
	return out.Commit.Job, nil
}

// job reads one commit job.
func (c *gqlClient) job(ctx context.Context, id string) (jobState, error) {
	var out struct {
		Job jobState `json:"commitJob"`
	}
	err := c.do(ctx, jobQuery, map[string]any{"id": id}, &out)
	return out.Job, err
}

// waitTerminal polls jobs until all are terminal and returns their states.
func (c *gqlClient) waitTerminal(ctx context.Context, ids []string) ([]jobState, error) {
	ctx, cancel := context.WithTimeout(ctx, jobWaitTimeout)
	defer cancel()
	out := make([]jobState, len(ids))
	for i, id := range ids {
		for {
			j, err := c.job(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("error polling job %s: %w", id, err)
			}
			if terminal(j.Status) {
				out[i] = j
				break
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("job %s still %s: %w", id, j.Status, ctx.Err())
			case <-time.After(jobPollInterval):
			}
		}
	}
	return out, nil
}

// seedTurns ingests turns concurrently.
func (c *gqlClient) seedTurns(ctx context.Context, turns []turnInput) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(seedConcurrency)
	for _, t := range turns {
		g.Go(func() error { return c.ingest(ctx, t) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("error seeding turns: %w", err)
	}
	return nil
}

// commitAll commits sessions concurrently and returns the job ids in the
// order of the inputs.
func (c *gqlClient) commitAll(ctx context.Context, inputs []commitInput) ([]string, error) {
	ids := make([]string, len(inputs))
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(seedConcurrency)
	for i, in := range inputs {
		g.Go(func() error {
			j, err := c.commit(ctx, in)
			if err != nil {
				return err
			}
			mu.Lock()
			ids[i] = j.ID
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("error committing sessions: %w", err)
	}
	return ids, nil
}

// sessionTurns returns n turns of one session.
func sessionTurns(workspace, user, session, namespace string, n int, content func(i int) string) []turnInput {
	turns := make([]turnInput, n)
	for i := range turns {
		turns[i] = turnInput{
			WorkspaceID: workspace, UserID: user, AgentID: benchAgent, SessionID: session,
			TurnID: fmt.Sprintf("t%d", i), Namespace: namespace, Role: "USER", Content: content(i),
		}
	}
	return turns
}
