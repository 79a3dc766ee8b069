// Package openviking adapts OpenViking (v0.4.x HTTP API, checked against
// volcengine/OpenViking v0.4.16-9) as a memory backend: turns become
// session messages, a commit archives the session and follows the
// asynchronous extraction task to the memories it produced, retrieval
// searches the user's memory files, feedback rewrites or removes a memory
// file, and an erasure removes what the user's tree holds.
//
// Identity: in trusted mode (the default) every request carries
// X-OpenViking-Account (the workspace) and X-OpenViking-User (the user),
// both mapped into the server's id charset (EncodeID), with the configured
// API key as bearer; a user with a key of its own (api_key mode) is
// identified by that key instead. The agent is the peer of assistant
// messages, and reads of one agent go through its view
// (X-OpenViking-Actor-Peer).
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
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
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
	// ListPage is the node limit of one listing call (ListPageDefault).
	ListPage int
}

// Backend is the OpenViking adapter.
type Backend struct {
	cfg    Config
	client *remote.Client
}

var (
	_ backendtype.TurnIngester     = (*Backend)(nil)
	_ backendtype.SessionCommitter = (*Backend)(nil)
	_ backendtype.Retriever        = (*Backend)(nil)
	_ backendtype.FeedbackApplier  = (*Backend)(nil)
	_ backendtype.HealthChecker    = (*Backend)(nil)
	_ backendtype.RefTypeDeclarer  = (*Backend)(nil)
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
	if cfg.ListPage <= 0 {
		cfg.ListPage = ListPageDefault
	}
	for userKey, key := range cfg.UserKeys {
		workspace, user, found := strings.Cut(userKey, "/")
		if !found || workspace == "" || user == "" || key == "" {
			return nil, fmt.Errorf("openviking: user key %q must name \"workspace/user\" and hold a key", userKey)
		}
	}
	client, err := remote.New(remote.Config{
		Backend: backendtype.BackendOpenViking, BaseURL: cfg.BaseURL, Timeout: cfg.Timeout,
		ParseError: parseError, Transport: cfg.Transport, Now: cfg.Now,
		HealthPath: "/ready", HealthProblem: healthProblem,
	})
	if err != nil {
		return nil, err
	}
	return &Backend{cfg: cfg, client: client}, nil
}

// Name implements backendtype.BackendAdapter.
func (b *Backend) Name() backendtype.Backend { return backendtype.BackendOpenViking }

// RefTypes implements backendtype.RefTypeDeclarer: a turn lands in a session,
// which a commit archives.
func (b *Backend) RefTypes() backendtype.RefTypes {
	return backendtype.RefTypes{Ingest: backendtype.RefTypeSessionArchive, Commit: backendtype.RefTypeSessionArchive}
}

// BreakerState reports the circuit breaker's state.
func (b *Backend) BreakerState() string { return b.client.BreakerState() }

// envelope is OpenViking's answer: {"status":"ok","result":…} or
// {"status":"error","error":{"code","message","details"}}
// (openviking/server/responses.py:32-73, codes and statuses in
// openviking/server/models.py:29-65).
type envelope struct {
	Status string          `json:"status"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details struct {
			// Retryable: a lock was busy (409 CONFLICT with
			// details.retryable, openviking/server/error_mapping.py:449-470).
			Retryable bool `json:"retryable"`
		} `json:"details"`
	} `json:"error"`
}

func parseError(_ int, body []byte) remote.ParsedError {
	var env envelope
	if json.Unmarshal(body, &env) != nil || env.Error == nil {
		return remote.ParsedError{}
	}
	return remote.ParsedError{Code: env.Error.Code, Message: env.Error.Message, Retryable: env.Error.Details.Retryable}
}

// retryableCodes are OpenViking error codes worth trying again even when
// they arrive inside a 2xx answer.
var retryableCodes = map[string]bool{"UNAVAILABLE": true, "DEADLINE_EXCEEDED": true, "RESOURCE_EXHAUSTED": true, "INTERNAL": true, "PROCESSING_ERROR": true}

// call sends a request as a user and decodes the envelope's result.
func (b *Backend) call(ctx context.Context, workspace, user string, req remote.Request, result any) error {
	return b.callAs(ctx, b.user(workspace, user), req, result)
}

// callAs sends a request with who's identity (an admin call carries the
// root key alone) and decodes the envelope's result.
func (b *Backend) callAs(ctx context.Context, who identity, req remote.Request, result any) error {
	req.Headers = b.headers(who, req.Headers)
	_, body, err := b.client.Do(ctx, req)
	if err != nil {
		return err
	}
	var env envelope
	if err := b.client.JSON(body, &env); err != nil {
		return err
	}
	if env.Status != "ok" {
		// The server never sends this (responses.py:32-73); kept so that a
		// proxy's rewrite cannot pass for success.
		code, msg := "", ""
		if env.Error != nil {
			code, msg = env.Error.Code, env.Error.Message
		}
		if req.OmitErrorText {
			msg = ""
		}
		return &remote.Error{Backend: backendtype.BackendOpenViking, Code: code, Message: msg, Retryable: retryableCodes[code]}
	}
	if result == nil || len(env.Result) == 0 || string(env.Result) == "null" {
		return nil
	}
	return b.client.JSON(env.Result, result)
}

// identity is who OpenViking is told a request acts for: an account and a
// user (mapped into OpenViking's charset, EncodeID), and the user's own key
// when it has one (api_key mode); admin marks a call with the root key
// alone (the admin API).
type identity struct {
	account, user, key string
	admin              bool
}

// user is the identity of a gateway user.
func (b *Backend) user(workspace, userID string) identity {
	id := b.cfg.Identities.Of(workspace, userID)
	return identity{
		account: EncodeID(id.Account(), true), user: EncodeID(id.User(), false),
		key: b.cfg.UserKeys[workspace+"/"+userID],
	}
}

// peer is the peer id of an agent of a workspace.
func (b *Backend) peer(workspace, agent string) string {
	if agent == "" {
		return ""
	}
	return EncodeID(b.cfg.Identities.Agent(workspace, agent), false)
}

// headers are a request's identity headers: the user's own key (which
// decides the identity, api_key mode), else the root key with the trusted
// headers (openviking/server/auth/plugins/trusted.py:98-178).
func (b *Backend) headers(who identity, extra http.Header) http.Header {
	h := http.Header{}
	for k, v := range extra {
		h[k] = v
	}
	switch {
	case who.admin:
		h.Set("Authorization", "Bearer "+b.cfg.APIKey)
	case who.key != "":
		h.Set("Authorization", "Bearer "+who.key)
	default:
		if b.cfg.APIKey != "" {
			h.Set("Authorization", "Bearer "+b.cfg.APIKey)
		}
		h.Set("X-OpenViking-Account", who.account)
		h.Set("X-OpenViking-User", who.user)
	}
	return h
}

// sessionID is the id OpenViking knows a session by: session ids are not
// validated by the server (openviking/storage/viking_fs/_access.py:99-122),
// but they are a path segment, so they are mapped like every other id.
func sessionID(session string) string { return EncodeID(session, false) }

func sessionPath(session string) string {
	return "/api/v1/sessions/" + url.PathEscape(sessionID(session))
}

// sessionURI is where a session lives (openviking/core/namespace.py:157-173).
func sessionURI(who identity, session string) string {
	return userRoot(who) + "/sessions/" + sessionID(session)
}

// userRoot is the user's tree, canonical: no trailing slash
// (openviking/core/namespace.py:87-95).
func userRoot(who identity) string { return "viking://user/" + who.user }

// messageRole maps turn roles onto OpenViking's two speaker roles.
func messageRole(r backendtype.Role) string {
	if r == backendtype.RoleUser {
		return "user"
	}
	return "assistant"
}

// IngestTurn implements backendtype.TurnIngester:
// POST /api/v1/sessions/{session}/messages (the session is created on first
// use, openviking/server/routers/sessions.py:713-775). OpenViking does not
// deduplicate by turn_id: the gateway sends a turn again only after a
// failed write, so a write that failed after it landed (a timeout) may be
// stored twice.
func (b *Backend) IngestTurn(ctx context.Context, w backendtype.TurnWrite) (backendtype.WriteResult, error) {
	var res struct {
		SessionID    string `json:"session_id"`
		MessageCount int    `json:"message_count"`
	}
	err := b.call(ctx, w.WorkspaceID, w.UserID, remote.Request{
		Method: http.MethodPost, Path: sessionPath(w.SessionID) + "/messages", OmitErrorText: true,
		Body: b.message(w),
	}, &res)
	if err != nil {
		return remote.WriteFailure(backendtype.BackendOpenViking, err), nil
	}
	return b.written(w, res.SessionID), nil
}

// maxMessagesPerBatch is the API's bound on one messages/batch
// (sessions.py:162-166).
const maxMessagesPerBatch = 100

// IngestTurns implements backendtype.BatchIngester: a session's consecutive
// turns in one POST /api/v1/sessions/{session}/messages/batch, in order
// (turns of several users or sessions go one call each).
func (b *Backend) IngestTurns(ctx context.Context, ws []backendtype.TurnWrite) ([]backendtype.WriteResult, error) {
	out := make([]backendtype.WriteResult, 0, len(ws))
	for _, run := range remote.SessionRuns(ws, maxMessagesPerBatch) {
		out = append(out, b.addBatch(ctx, run)...)
	}
	return out, nil
}

// addBatch adds turns of one user and session in one call (all or none,
// openviking/session/session.py:1402-1409); every turn gets the call's
// outcome.
func (b *Backend) addBatch(ctx context.Context, ws []backendtype.TurnWrite) []backendtype.WriteResult {
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
	out := make([]backendtype.WriteResult, len(ws))
	for i, w := range ws {
		if err != nil {
			out[i] = remote.WriteFailure(backendtype.BackendOpenViking, err)
			continue
		}
		out[i] = b.written(w, res.SessionID)
	}
	return out
}

// createdAtLayout is ISO 8601 with microseconds and a numeric offset: the
// server reads created_at with datetime.fromisoformat
// (openviking/session/memory/memory_updater.py:384-400), which before
// Python 3.11 refuses a "Z" and more than six fractional digits.
const createdAtLayout = "2006-01-02T15:04:05.000000-07:00"

// message is a turn as OpenViking's message body. The agent is the peer of
// assistant messages only: a peer_id on a user message files the user's
// own memories under peers/{peer}
// (openviking/session/memory/memory_isolation_handler.py:71-84).
func (b *Backend) message(w backendtype.TurnWrite) map[string]any {
	msg := map[string]any{
		"role": messageRole(w.Role), "content": w.Content, "created_at": w.OccurredAt.UTC().Format(createdAtLayout), "turn_id": w.TurnID,
	}
	if peer := b.peer(w.WorkspaceID, w.AgentID); peer != "" && w.Role != backendtype.RoleUser {
		msg["peer_id"] = peer
	}
	return msg
}

// written is a stored turn's result.
func (b *Backend) written(w backendtype.TurnWrite, session string) backendtype.WriteResult {
	if session == "" {
		session = sessionID(w.SessionID)
	}
	return backendtype.WriteResult{
		Status: backendtype.ResultSuccess, NativeID: session, NativeURI: sessionURI(b.user(w.WorkspaceID, w.UserID), w.SessionID),
		Response: map[string]any{"status": "ok", "session_id": session},
	}
}

// searchAnswer is find's and search's list answer; a hit is {context_type,
// uri, level, score, abstract, tags} and nothing else
// (openviking_cli/retrieve/types.py:369-384).
type searchAnswer struct {
	Memories []struct {
		URI      string  `json:"uri"`
		Level    *int    `json:"level"`
		Score    float64 `json:"score"`
		Abstract string  `json:"abstract"`
	} `json:"memories"`
}

// memoryLevel is the level of file content: levels 0 and 1 are a
// directory's abstract and overview records (openviking/core/context.py:34-39).
const memoryLevel = 2

// Matching implements backendtype.RecallMatcher: find and search rank memory
// files by embedding similarity (openviking/retrieve/hierarchical_retriever.py:149-160).
func (b *Backend) Matching() backendtype.Matching { return backendtype.MatchMeaning }

// Retrieve implements backendtype.Retriever: POST /api/v1/search/find, or the
// session-aware POST /api/v1/search/search when a session is given
// (openviking/server/routers/search.py:121-231). Only memory files answer
// (level 2): a directory's summary is no memory a ref can name. A query of
// one agent reads through that agent's view (X-OpenViking-Actor-Peer): the
// user's own memories and that agent's peer memories, not other agents'
// (openviking/core/retrieval_targets.py:50-83).
func (b *Backend) Retrieve(ctx context.Context, q backendtype.RetrievalQuery) ([]backendtype.RetrievedItem, error) {
	body := map[string]any{"query": q.Query, "context_type": "memory", "limit": q.Limit, "level": memoryLevel}
	path := "/api/v1/search/find"
	if q.SessionID != "" {
		path = "/api/v1/search/search"
		body["session_id"] = sessionID(q.SessionID)
		body["mode"] = "list"
	}
	var headers http.Header
	if peer := b.peer(q.WorkspaceID, q.AgentID); peer != "" {
		headers = http.Header{"X-Openviking-Actor-Peer": {peer}}
	}
	var res searchAnswer
	err := b.call(ctx, q.WorkspaceID, q.UserID, remote.Request{Method: http.MethodPost, Path: path, Body: body, Headers: headers, OmitErrorText: true}, &res)
	if err != nil {
		return nil, err
	}
	items := make([]backendtype.RetrievedItem, 0, len(res.Memories))
	for _, m := range res.Memories {
		if m.Abstract == "" || m.URI == "" || (m.Level != nil && *m.Level != memoryLevel) {
			continue
		}
		items = append(items, backendtype.RetrievedItem{Text: m.Abstract, Score: max(m.Score, 0), NativeURI: m.URI, MemoryType: refTypeOf("", m.URI)})
	}
	return items, nil
}

// Health implements backendtype.HealthChecker: GET /ready (no envelope, no
// auth), also the circuit breaker's probe. /health is liveness only and
// answers ok while storage is down; /ready checks storage, the vector
// database and the key manager, and is 503 until they are ready
// (openviking/server/routers/system.py:70-200).
func (b *Backend) Health(ctx context.Context) error { return b.client.Health(ctx) }

func healthProblem(body []byte) string {
	var h struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return "the readiness answer is not the JSON expected"
	}
	if h.Status != "ready" {
		return "reports itself not ready (" + h.Status + ")"
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
