// Package openviking adapts OpenViking (v0.4.x HTTP API) as a memory
// backend: turns become session messages, a commit archives the session and
// follows the asynchronous extraction task to the memories it produced,
// retrieval searches the user's memories, and feedback rewrites or removes a
// memory file.
//
// Identity: in trusted mode (the default) every request carries
// X-OpenViking-Account (the workspace) and X-OpenViking-User (the user),
// with the configured API key as bearer; with per-user keys configured, a
// user's own key identifies it instead. The agent is the message's peer_id.
//
// A commit is asynchronous in OpenViking: the first attempt starts it and
// keeps the task id in the outbox event's state; the event goes back to
// PENDING with a delay (not a failed attempt) and later attempts poll the
// task, with growing delays, until it completes. No worker slot waits idle
// while OpenViking extracts memories.
package openviking

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// Defaults for Config.
const (
	TimeoutDefault      = 15 * time.Second
	PollIntervalDefault = 2 * time.Second
	PollIntervalMax     = 30 * time.Second
	TaskDeadlineDefault = 30 * time.Minute
)

// Config configures the adapter.
type Config struct {
	BaseURL string
	// APIKey is sent as bearer token (the root key in trusted mode).
	APIKey string
	// UserKeys maps "workspace/user" to that user's own key; a user found
	// here is identified by its key instead of trusted-mode headers.
	UserKeys map[string]string
	Timeout  time.Duration
	// PollInterval is the first delay before looking at a commit task; it
	// doubles per poll up to PollIntervalMax.
	PollInterval time.Duration
	// TaskDeadline is how long a commit task may run before the attempt
	// counts as failed.
	TaskDeadline time.Duration
	Transport    http.RoundTripper
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Identities says what OpenViking is told users and agents are (their
	// own ids, or keyed pseudonyms); the workspace is the account.
	Identities remote.Identities
}

// Backend is the OpenViking adapter.
type Backend struct {
	cfg    Config
	client *remote.Client
}

var (
	_ gateway.TurnIngester     = (*Backend)(nil)
	_ gateway.SessionCommitter = (*Backend)(nil)
	_ gateway.Retriever        = (*Backend)(nil)
	_ gateway.FeedbackApplier  = (*Backend)(nil)
	_ gateway.HealthChecker    = (*Backend)(nil)
	_ gateway.RefTypeDeclarer  = (*Backend)(nil)
)

// New builds the adapter.
func New(cfg Config) (*Backend, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = TimeoutDefault
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = PollIntervalDefault
	}
	if cfg.TaskDeadline <= 0 {
		cfg.TaskDeadline = TaskDeadlineDefault
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client, err := remote.New(remote.Config{
		Backend: gateway.BackendOpenViking, BaseURL: cfg.BaseURL, Timeout: cfg.Timeout,
		ParseError: parseError, Transport: cfg.Transport, Now: cfg.Now,
		HealthPath: "/health", HealthProblem: healthProblem,
	})
	if err != nil {
		return nil, err
	}
	return &Backend{cfg: cfg, client: client}, nil
}

// Name implements gateway.BackendAdapter.
func (b *Backend) Name() gateway.Backend { return gateway.BackendOpenViking }

// RefTypes implements gateway.RefTypeDeclarer: a turn lands in a session,
// which a commit archives.
func (b *Backend) RefTypes() gateway.RefTypes {
	return gateway.RefTypes{Ingest: gateway.RefTypeSessionArchive, Commit: gateway.RefTypeSessionArchive}
}

// BreakerState reports the circuit breaker's state.
func (b *Backend) BreakerState() string { return b.client.BreakerState() }

// envelope is OpenViking's answer: {"status":"ok","result":…} or
// {"status":"error","error":{"code","message"}}.
type envelope struct {
	Status string          `json:"status"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func parseError(_ int, body []byte) (string, string) {
	var env envelope
	if json.Unmarshal(body, &env) != nil || env.Error == nil {
		return "", ""
	}
	return env.Error.Code, env.Error.Message
}

// retryableCodes are OpenViking error codes worth trying again even when
// they arrive inside a 2xx answer.
var retryableCodes = map[string]bool{"UNAVAILABLE": true, "DEADLINE_EXCEEDED": true, "RESOURCE_EXHAUSTED": true, "INTERNAL": true, "PROCESSING_ERROR": true}

// call sends a request for a user and decodes the envelope's result.
func (b *Backend) call(ctx context.Context, workspace, user string, req remote.Request, result any) error {
	req.Headers = b.identity(workspace, user)
	_, body, err := b.client.Do(ctx, req)
	if err != nil {
		return err
	}
	var env envelope
	if err := b.client.JSON(body, &env); err != nil {
		return err
	}
	if env.Status != "ok" {
		code, msg := "", ""
		if env.Error != nil {
			code, msg = env.Error.Code, env.Error.Message
		}
		if req.OmitErrorText {
			msg = ""
		}
		return &remote.Error{Backend: gateway.BackendOpenViking, Code: code, Message: msg, Retryable: retryableCodes[code]}
	}
	if result == nil || len(env.Result) == 0 || string(env.Result) == "null" {
		return nil
	}
	return b.client.JSON(env.Result, result)
}

// identity is how a request names its user: the account (the workspace)
// and the user, or that user's own key.
func (b *Backend) identity(workspace, user string) http.Header {
	id := b.cfg.Identities.Of(workspace, user)
	h := http.Header{}
	if key, ok := b.cfg.UserKeys[id.Account()+"/"+id.User()]; ok {
		h.Set("Authorization", "Bearer "+key)
		return h
	}
	if b.cfg.APIKey != "" {
		h.Set("Authorization", "Bearer "+b.cfg.APIKey)
	}
	h.Set("X-OpenViking-Account", id.Account())
	h.Set("X-OpenViking-User", id.User())
	return h
}

func sessionPath(session string) string {
	return "/api/v1/sessions/" + url.PathEscape(session)
}

func sessionURI(user, session string) string {
	return "viking://user/" + url.PathEscape(user) + "/sessions/" + url.PathEscape(session)
}

// peerID turns an agent id into the safe path segment OpenViking expects.
func peerID(agent string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, agent)
}

// messageRole maps turn roles onto OpenViking's two speaker roles.
func messageRole(r gateway.Role) string {
	if r == gateway.RoleUser {
		return "user"
	}
	return "assistant"
}

// IngestTurn implements gateway.TurnIngester:
// POST /api/v1/sessions/{session}/messages (the session is created on first use).
func (b *Backend) IngestTurn(ctx context.Context, w gateway.TurnWrite) (gateway.WriteResult, error) {
	var res struct {
		SessionID    string `json:"session_id"`
		MessageCount int    `json:"message_count"`
	}
	err := b.call(ctx, w.WorkspaceID, w.UserID, remote.Request{
		Method: http.MethodPost, Path: sessionPath(w.SessionID) + "/messages", OmitErrorText: true,
		Body: b.message(w),
	}, &res)
	if err != nil {
		return remote.WriteFailure(gateway.BackendOpenViking, err), nil
	}
	return b.written(w, res.SessionID), nil
}

// maxMessagesPerBatch is the API's bound on one messages/batch.
const maxMessagesPerBatch = 100

// IngestTurns implements gateway.BatchIngester: a session's consecutive
// turns in one POST /api/v1/sessions/{session}/messages/batch, in order
// (turns of several users or sessions go one call each).
func (b *Backend) IngestTurns(ctx context.Context, ws []gateway.TurnWrite) ([]gateway.WriteResult, error) {
	out := make([]gateway.WriteResult, 0, len(ws))
	for _, run := range remote.SessionRuns(ws, maxMessagesPerBatch) {
		out = append(out, b.addBatch(ctx, run)...)
	}
	return out, nil
}

// addBatch adds turns of one user and session in one call; every turn gets
// the call's outcome.
func (b *Backend) addBatch(ctx context.Context, ws []gateway.TurnWrite) []gateway.WriteResult {
	msgs := make([]any, len(ws))
	for i, w := range ws {
		msgs[i] = b.message(w)
	}
	var res struct {
		SessionID string `json:"session_id"`
	}
	err := b.call(ctx, ws[0].WorkspaceID, ws[0].UserID, remote.Request{
		Method: http.MethodPost, Path: sessionPath(ws[0].SessionID) + "/messages/batch", OmitErrorText: true,
		Body: map[string]any{"messages": msgs},
	}, &res)
	out := make([]gateway.WriteResult, len(ws))
	for i, w := range ws {
		if err != nil {
			out[i] = remote.WriteFailure(gateway.BackendOpenViking, err)
			continue
		}
		out[i] = b.written(w, res.SessionID)
	}
	return out
}

// message is a turn as OpenViking's message body.
func (b *Backend) message(w gateway.TurnWrite) map[string]any {
	return map[string]any{
		"role": messageRole(w.Role), "content": w.Content, "created_at": w.OccurredAt.UTC().Format(time.RFC3339Nano),
		"turn_id": w.TurnID, "peer_id": peerID(b.cfg.Identities.Agent(w.WorkspaceID, w.AgentID)),
	}
}

// written is a stored turn's result.
func (b *Backend) written(w gateway.TurnWrite, session string) gateway.WriteResult {
	if session == "" {
		session = w.SessionID
	}
	return gateway.WriteResult{
		Status: gateway.ResultSuccess, NativeID: session, NativeURI: sessionURI(b.cfg.Identities.Of(w.WorkspaceID, w.UserID).User(), w.SessionID),
		Response: map[string]any{"status": "ok", "session_id": session},
	}
}

// commitState is what the outbox event remembers between attempts.
type commitState struct {
	TaskID     string
	ArchiveURI string
	Polls      int
	Since      time.Time
}

func loadState(md gateway.Metadata) commitState {
	raw, _ := md["backend_state"].(map[string]any)
	var s commitState
	s.TaskID, _ = raw["task_id"].(string)
	s.ArchiveURI, _ = raw["archive_uri"].(string)
	s.Polls = int(number(raw["polls"]))
	if since := number(raw["since_unix_ms"]); since > 0 {
		s.Since = time.UnixMilli(int64(since))
	}
	return s
}

func (s commitState) metadata() gateway.Metadata {
	return gateway.Metadata{"task_id": s.TaskID, "archive_uri": s.ArchiveURI, "polls": s.Polls, "since_unix_ms": s.Since.UnixMilli()}
}

func number(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case json.Number:
		f, _ := n.Float64()
		return f
	}
	return 0
}

// CommitSession implements gateway.SessionCommitter. The first attempt starts
// the commit (POST …/commit); while its task runs, the event is rescheduled
// with growing delays; once the task completed, its memory diff becomes the
// refs: the archive plus one ref per added or updated memory.
func (b *Backend) CommitSession(ctx context.Context, req gateway.CommitRequest) (gateway.CommitResult, error) {
	state := loadState(req.Metadata)
	if state.TaskID == "" {
		return b.startCommit(ctx, req)
	}
	return b.pollCommit(ctx, req, state)
}

type commitAnswer struct {
	Status     string  `json:"status"`
	TaskID     *string `json:"task_id"`
	ArchiveURI *string `json:"archive_uri"`
	Archived   bool    `json:"archived"`
	Reason     string  `json:"reason"`
}

func (b *Backend) startCommit(ctx context.Context, req gateway.CommitRequest) (gateway.CommitResult, error) {
	var res commitAnswer
	err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
		Method: http.MethodPost, Path: sessionPath(req.SessionID) + "/commit", Body: map[string]any{},
	}, &res)
	if re := remote.AsError(gateway.BackendOpenViking, err); err != nil && re.Code == "NOT_FOUND" {
		// No turn of this session ever reached OpenViking.
		return gateway.CommitResult{Status: gateway.ResultSkipped, Response: map[string]any{"status": "skipped", "reason": "session_not_found"}}, nil
	}
	if err != nil {
		return remote.CommitFailure(gateway.BackendOpenViking, err), nil
	}
	switch {
	case res.Status == "skipped":
		reason := res.Reason
		if reason == "" {
			reason = "skipped"
		}
		return gateway.CommitResult{Status: gateway.ResultSkipped, Response: map[string]any{"status": "skipped", "reason": reason}}, nil
	case res.TaskID == nil || *res.TaskID == "":
		// Finished without a background task: the archive is all there is.
		return b.archiveOnly(req, deref(res.ArchiveURI)), nil
	}
	state := commitState{TaskID: *res.TaskID, ArchiveURI: deref(res.ArchiveURI), Since: b.cfg.Now()}
	return gateway.CommitResult{
		Status: gateway.ResultPending, RetryAfter: b.cfg.PollInterval, State: state.metadata(),
		Response: map[string]any{"status": "accepted", "id": state.TaskID, "uri": state.ArchiveURI},
	}, nil
}

func (b *Backend) archiveOnly(req gateway.CommitRequest, archiveURI string) gateway.CommitResult {
	if archiveURI == "" {
		archiveURI = sessionURI(b.cfg.Identities.Of(req.WorkspaceID, req.UserID).User(), req.SessionID)
	}
	return gateway.CommitResult{
		Status: gateway.ResultSuccess, State: gateway.Metadata{},
		Refs:     []gateway.ProducedRef{{RefType: gateway.RefTypeSessionArchive, NativeURI: archiveURI}},
		Response: map[string]any{"status": "completed", "uri": archiveURI},
	}
}

type taskAnswer struct {
	TaskID string `json:"task_id"`
	Status string `json:"status"`
	Result *struct {
		ArchiveURI    string `json:"archive_uri"`
		MemoryDiffURI string `json:"memory_diff_uri"`
	} `json:"result"`
	Error any `json:"error"`
}

func (b *Backend) pollCommit(ctx context.Context, req gateway.CommitRequest, state commitState) (gateway.CommitResult, error) {
	var task taskAnswer
	err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
		Method: http.MethodGet, Path: "/api/v1/tasks/" + url.PathEscape(state.TaskID),
	}, &task)
	if re := remote.AsError(gateway.BackendOpenViking, err); err != nil && re.Code == "NOT_FOUND" {
		// The task is gone (the server restarted): start over next attempt.
		return gateway.CommitResult{
			Status: gateway.ResultFailed, Retryable: true, ErrorCode: "task_lost", ErrorMessage: "openviking: commit task " + state.TaskID + " no longer exists",
			State: gateway.Metadata{}, Response: map[string]any{"status": "error", "error_code": "task_lost"},
		}, nil
	}
	if err != nil {
		return remote.CommitFailure(gateway.BackendOpenViking, err), nil
	}
	switch task.Status {
	case "pending", "running", "cancelling":
		if b.cfg.Now().Sub(state.Since) > b.cfg.TaskDeadline {
			return gateway.CommitResult{
				Status: gateway.ResultFailed, Retryable: true, ErrorCode: "task_deadline",
				ErrorMessage: fmt.Sprintf("openviking: commit task %s did not finish within %s", state.TaskID, b.cfg.TaskDeadline),
				State:        gateway.Metadata{}, Response: map[string]any{"status": "error", "error_code": "task_deadline"},
			}, nil
		}
		state.Polls++
		return gateway.CommitResult{
			Status: gateway.ResultPending, RetryAfter: b.pollDelay(state.Polls), State: state.metadata(),
			Response: map[string]any{"status": task.Status, "id": state.TaskID},
		}, nil
	case "completed":
	default: // failed, cancelled, or anything unknown
		return gateway.CommitResult{
			Status: gateway.ResultFailed, Retryable: true, ErrorCode: "task_" + task.Status,
			ErrorMessage: "openviking: commit task " + state.TaskID + " ended " + task.Status,
			State:        gateway.Metadata{}, Response: map[string]any{"status": "error", "error_code": "task_" + task.Status},
		}, nil
	}
	archiveURI := state.ArchiveURI
	diffURI := ""
	if task.Result != nil {
		if task.Result.ArchiveURI != "" {
			archiveURI = task.Result.ArchiveURI
		}
		diffURI = task.Result.MemoryDiffURI
	}
	res := b.archiveOnly(req, archiveURI)
	if diffURI == "" {
		return res, nil
	}
	diff, err := b.readDiff(ctx, req, diffURI)
	if err != nil {
		// Keep the task: the next attempt reads the diff again.
		return remote.CommitFailure(gateway.BackendOpenViking, err), nil
	}
	for _, op := range append(diff.Operations.Adds, diff.Operations.Updates...) {
		if op.URI == "" {
			continue
		}
		res.Refs = append(res.Refs, gateway.ProducedRef{
			RefType: refTypeOf(op.MemoryType, op.URI), NativeURI: vikingURI(op.URI),
			Metadata: gateway.Metadata{"category": op.MemoryType},
		})
	}
	res.Response = map[string]any{"status": "completed", "id": state.TaskID, "uri": archiveURI}
	return res, nil
}

func (b *Backend) pollDelay(polls int) time.Duration {
	d := time.Duration(float64(b.cfg.PollInterval) * math.Pow(2, float64(min(polls, 10))))
	return min(d, PollIntervalMax)
}

type memoryDiff struct {
	Operations struct {
		Adds    []diffOp `json:"adds"`
		Updates []diffOp `json:"updates"`
		Deletes []diffOp `json:"deletes"`
	} `json:"operations"`
}

type diffOp struct {
	URI        string `json:"uri"`
	MemoryType string `json:"memory_type"`
}

// readDiff reads memory_diff.json (GET /api/v1/content/read?uri=…): the
// result is the file's text, or already its JSON.
func (b *Backend) readDiff(ctx context.Context, req gateway.CommitRequest, uri string) (memoryDiff, error) {
	var raw json.RawMessage
	err := b.call(ctx, req.WorkspaceID, req.UserID, remote.Request{
		Method: http.MethodGet, Path: "/api/v1/content/read", Query: url.Values{"uri": {uri}},
	}, &raw)
	if err != nil {
		return memoryDiff{}, err
	}
	var diff memoryDiff
	var text string
	if json.Unmarshal(raw, &text) == nil {
		raw = json.RawMessage(text)
	}
	if err := json.Unmarshal(raw, &diff); err != nil {
		return memoryDiff{}, b.client.BadResponse("memory diff is not valid JSON")
	}
	return diff, nil
}

// vikingURI makes a relative memory path absolute.
func vikingURI(uri string) string {
	if strings.Contains(uri, "://") {
		return uri
	}
	return "viking://" + strings.TrimPrefix(uri, "/")
}

// refTypeOf maps an OpenViking memory category onto a ref type.
func refTypeOf(category, uri string) gateway.RefType {
	if category == "" {
		// .../memories/<category>/...
		if _, rest, ok := strings.Cut(uri, "/memories/"); ok {
			category, _, _ = strings.Cut(rest, "/")
		}
	}
	switch strings.ToLower(category) {
	case "profile", "identity", "soul":
		return gateway.RefTypeProfile
	case "preferences", "preference":
		return gateway.RefTypePreference
	case "entities", "entity":
		return gateway.RefTypeEntity
	case "events", "event":
		return gateway.RefTypeEvent
	case "cases", "case":
		return gateway.RefTypeCase
	case "skills", "skill", "tools", "tool":
		return gateway.RefTypeSkill
	case "trajectories", "trajectory":
		return gateway.RefTypeEpisodicMemory
	default:
		return gateway.RefTypeLongTermMemory
	}
}

type searchAnswer struct {
	Memories []struct {
		URI      string  `json:"uri"`
		Score    float64 `json:"score"`
		Category string  `json:"category"`
		Abstract string  `json:"abstract"`
		Overview *string `json:"overview"`
	} `json:"memories"`
}

// Retrieve implements gateway.Retriever: POST /api/v1/search/find, or the
// session-aware POST /api/v1/search/search when a session is given.
func (b *Backend) Retrieve(ctx context.Context, q gateway.RetrievalQuery) ([]gateway.RetrievedItem, error) {
	body := map[string]any{"query": q.Query, "context_type": "memory", "limit": q.Limit}
	path := "/api/v1/search/find"
	if q.SessionID != "" {
		path = "/api/v1/search/search"
		body["session_id"] = q.SessionID
		body["mode"] = "list"
	}
	var res searchAnswer
	if err := b.call(ctx, q.WorkspaceID, q.UserID, remote.Request{Method: http.MethodPost, Path: path, Body: body, OmitErrorText: true}, &res); err != nil {
		return nil, err
	}
	items := make([]gateway.RetrievedItem, 0, len(res.Memories))
	for _, m := range res.Memories {
		text := m.Abstract
		if text == "" && m.Overview != nil {
			text = *m.Overview
		}
		if text == "" || m.URI == "" {
			continue
		}
		items = append(items, gateway.RetrievedItem{
			Text: text, Score: m.Score, NativeURI: m.URI, MemoryType: refTypeOf(m.Category, m.URI),
		})
	}
	return items, nil
}

// Health implements gateway.HealthChecker: GET /health (no envelope, no
// auth), also the circuit breaker's probe.
func (b *Backend) Health(ctx context.Context) error { return b.client.Health(ctx) }

func healthProblem(body []byte) string {
	var h struct {
		Status  string `json:"status"`
		Healthy *bool  `json:"healthy"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return "the health answer is not the JSON expected"
	}
	if (h.Healthy != nil && !*h.Healthy) || (h.Status != "" && h.Status != "ok") {
		return "reports itself unhealthy"
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
