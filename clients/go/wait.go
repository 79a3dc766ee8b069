package memorygateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"time"

	"github.com/Khan/genqlient/graphql"
)

// maxEventBytes bounds one server-sent event.
const maxEventBytes = 1 << 20

// JobUpdate is one state of a job (a commit, a feedback routing or an
// erasure) as its subscription sends it.
type JobUpdate struct {
	ID     string
	Kind   JobKind
	Status CommitJobStatus
	// ErrorMessage is why the job failed, in part or whole; "" otherwise.
	ErrorMessage string
	FinishedAt   *time.Time
	// CreatedRefsCount is the refs a commit created (0 for an erasure).
	CreatedRefsCount int
}

// Terminal reports whether the job has ended: SUCCESS, PARTIAL_SUCCESS or FAILED.
func (u JobUpdate) Terminal() bool {
	switch u.Status {
	case CommitJobStatusSuccess, CommitJobStatusPartialSuccess, CommitJobStatusFailed:
		return true
	}
	return false
}

// WaitForJob follows a job until it ends and returns its last state. The
// job ending FAILED is not an error of WaitForJob: read the state's Status.
func (c *Client) WaitForJob(ctx context.Context, jobID string) (*JobUpdate, error) {
	return c.FollowJob(ctx, jobID, nil)
}

// CommitAndWait commits a session and waits for its job to end.
func (c *Client) CommitAndWait(ctx context.Context, in CommitSessionInput) (*JobUpdate, error) {
	payload, err := c.CommitSession(ctx, in)
	if err != nil {
		return nil, err
	}
	return c.WaitForJob(ctx, payload.Job.Id)
}

// FollowJob calls onState (when not nil) with every state of the job the
// gateway sends — its current state first, then each change, in order —
// until a terminal one, which it returns. It follows the jobUpdated
// subscription over server-sent events; a stream that breaks is opened
// again (it starts with the job's current state, so the end is never
// missed), and retryable errors are retried as the client's policy says,
// counted from the last state received.
func (c *Client) FollowJob(ctx context.Context, jobID string, onState func(JobUpdate)) (*JobUpdate, error) {
	body, err := encodeRequest(&graphql.Request{
		OpName:    "jobUpdates",
		Query:     jobUpdates_Operation,
		Variables: &__jobUpdatesInput{Id: jobID},
	})
	if err != nil {
		return nil, err
	}
	failures := 0
	for {
		last, progressed, err := c.followOnce(ctx, body, onState)
		if last != nil && last.Terminal() {
			return last, nil
		}
		if progressed {
			failures = 0
		}
		if err == nil {
			// The stream ended before the job did (the gateway restarting,
			// a proxy's idle timeout): open it again.
			err = &Error{Code: CodeUnavailable, Message: "the job's stream ended before the job", Retryable: true}
		}
		failures++
		if !IsRetryable(err) || failures >= c.retry.MaxAttempts {
			return last, err
		}
		if ctxErr := sleep(ctx, c.backoff(failures, retryAfter(err))); ctxErr != nil {
			return last, errors.Join(err, ctxErr)
		}
	}
}

// followOnce reads one stream until it ends, a terminal state, or an error.
func (c *Client) followOnce(ctx context.Context, body []byte, onState func(JobUpdate)) (last *JobUpdate, progressed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	httpResp, err := c.post(ctx, body, "text/event-stream")
	if err != nil {
		return nil, false, err
	}
	defer httpResp.Body.Close()
	if mediaType, _, _ := mime.ParseMediaType(httpResp.Header.Get("Content-Type")); mediaType != "text/event-stream" {
		// A refusal before the stream began (a bad key, a bad request).
		if err := decodeResponse(httpResp, nil); err != nil {
			return nil, false, err
		}
		return nil, false, httpError(httpResp)
	}
	events := bufio.NewScanner(httpResp.Body)
	events.Buffer(make([]byte, 0, 4096), maxEventBytes)
	var event string
	var data bytes.Buffer
	for events.Scan() {
		line := events.Bytes()
		switch {
		case len(line) == 0: // the end of an event
			if event == "complete" {
				return last, progressed, nil
			}
			if event == "next" && data.Len() > 0 {
				update, err := decodeJobEvent(data.Bytes())
				if err != nil {
					return last, progressed, err
				}
				last, progressed = update, true
				if onState != nil {
					onState(*update)
				}
				if update.Terminal() {
					return last, progressed, nil
				}
			}
			event = ""
			data.Reset()
		case line[0] == ':': // a comment: the stream's keep-alive
		case bytes.HasPrefix(line, []byte("event:")):
			event = string(bytes.TrimSpace(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(bytes.TrimPrefix(line[len("data:"):], []byte(" ")))
		}
	}
	if ctx.Err() != nil {
		return last, progressed, ctx.Err()
	}
	if err := events.Err(); err != nil {
		return last, progressed, &Error{Code: CodeUnavailable, Message: "the job's stream broke", Retryable: true, cause: err}
	}
	return last, progressed, nil
}

// decodeJobEvent reads one "next" event of the jobUpdates subscription.
func decodeJobEvent(raw []byte) (*JobUpdate, error) {
	var msg struct {
		Data   *jobUpdatesResponse `json:"data"`
		Errors []wireError         `json:"errors"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil {
		return nil, fmt.Errorf("memory gateway: decode a job event: %w", err)
	}
	if len(msg.Errors) > 0 {
		return nil, errorsOf(msg.Errors, 0)
	}
	if msg.Data == nil || msg.Data.JobUpdated == nil {
		return nil, fmt.Errorf("memory gateway: a job event without the job")
	}
	job := msg.Data.JobUpdated
	update := &JobUpdate{ID: job.GetId(), Kind: job.GetKind(), Status: job.GetStatus(), FinishedAt: job.GetFinishedAt()}
	if m := job.GetErrorMessage(); m != nil {
		update.ErrorMessage = *m
	}
	if commit, ok := job.(*jobUpdatesJobUpdatedCommitJob); ok {
		update.CreatedRefsCount = commit.CreatedRefsCount
	}
	return update, nil
}
