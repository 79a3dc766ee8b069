// Package everos adapts EverOS 1.x — the current release of EverMind's
// memory server, which replaced the EverMemOS "EverCore" API — as the
// EVERMEMOS backend (EVERMEMOS_API=everos). Checked against
// EverMind-AI/EverOS 1.2.3 (2026-08-07): the routes POST
// /api/v2/memory/{add,flush,search,get} and GET /health
// (src/everos/entrypoints/api/app.py@68bedaed:124-145).
//
// Scope: a workspace is a project (project_id), all under one app (app_id,
// configurable); a user is the sender of its messages (sender_id of user
// messages, which EverOS makes the owner of the episodes extracted from
// them), and an agent the sender of assistant messages. Ids are mapped into
// EverOS's charsets (UserSenderID, AgentSenderID, ScopeID).
//
// EverOS has no API that deletes or rewrites a memory (its markdown files
// are the source of truth): feedback that would change a memory ends
// UNSUPPORTED, and an erasure deletes nothing and reports what remains
// (PARTIAL). Reads are eventually consistent (an episode reaches search and
// get sub-second to ~15 s after it is written, docs/api.md#eventual-consistency):
// a commit reads back until its memories appear, within a bounded window,
// without holding a worker slot.
package everos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Defaults for Config.
const (
	// TimeoutDefault is generous: add and flush run extraction inline
	// (src/everos/service/memorize.py@06e3f9ad:229-286).
	TimeoutDefault = 60 * time.Second
	// ReadBackWindowDefault is how long a commit keeps reading back for its
	// memories: the documented index lag is up to ~15 s.
	ReadBackWindowDefault = 30 * time.Second
	// ReadBackIntervalDefault is the delay between two read-backs.
	ReadBackIntervalDefault = 2 * time.Second
	// AppIDDefault is the app every workspace's project lives in.
	AppIDDefault = "memory-gateway"
	// PageSize is the largest page get serves (memory/get/dto.py@137cf00d:78).
	PageSize = 100
	// minVersion is the first release serving /api/v2 (CHANGELOG [1.2.0]).
	minVersion = "1.2.0"
	apiPrefix  = "/api/v2/memory"
)

// Config configures the adapter.
type Config struct {
	BaseURL string
	// APIKey, when set, is sent as bearer token: EverOS has no
	// authentication of its own (docs/api.md#authentication), a proxy in
	// front of it may.
	APIKey string
	// AppID is the app_id of every request (AppIDDefault); workspaces are
	// its projects.
	AppID     string
	Timeout   time.Duration
	Transport http.RoundTripper
	// ReadBackWindow and ReadBackInterval bound a commit's wait for its
	// memories to become readable.
	ReadBackWindow   time.Duration
	ReadBackInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Identities says what EverOS is told users and agents are (their own
	// ids, or keyed pseudonyms).
	Identities remote.Identities
}

// Backend is the EverOS 1.x adapter.
type Backend struct {
	cfg    Config
	client *remote.Client
}

var (
	_ backendtype.TurnIngester     = (*Backend)(nil)
	_ backendtype.BatchIngester    = (*Backend)(nil)
	_ backendtype.SessionCommitter = (*Backend)(nil)
	_ backendtype.Retriever        = (*Backend)(nil)
	_ backendtype.FeedbackApplier  = (*Backend)(nil)
	_ backendtype.HealthChecker    = (*Backend)(nil)
	_ backendtype.RefTypeDeclarer  = (*Backend)(nil)
	_ backendtype.SubjectEraser    = (*Backend)(nil)
	_ backendtype.SubjectExporter  = (*Backend)(nil)
)

// New builds the adapter.
func New(cfg Config) (*Backend, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = TimeoutDefault
	}
	if cfg.ReadBackWindow <= 0 {
		cfg.ReadBackWindow = ReadBackWindowDefault
	}
	if cfg.ReadBackInterval <= 0 {
		cfg.ReadBackInterval = ReadBackIntervalDefault
	}
	if cfg.AppID == "" {
		cfg.AppID = AppIDDefault
	}
	if !validScope(cfg.AppID) {
		return nil, fmt.Errorf("everos: app id %q must be 1-128 characters of a-z 0-9 _ . @ + - (and no reserved name)", cfg.AppID)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	headers := http.Header{}
	if cfg.APIKey != "" {
		headers.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	client, err := remote.New(remote.Config{
		Backend: backendtype.BackendEverMemOS, BaseURL: cfg.BaseURL, Timeout: cfg.Timeout, Headers: headers,
		ParseError: parseError, Transport: cfg.Transport, Now: cfg.Now,
		HealthPath: "/health", HealthProblem: healthProblem,
	})
	if err != nil {
		return nil, err
	}
	return &Backend{cfg: cfg, client: client}, nil
}

// Name implements backendtype.BackendAdapter: EverOS is the EVERMEMOS backend.
func (b *Backend) Name() backendtype.Backend { return backendtype.BackendEverMemOS }

// RefTypes implements backendtype.RefTypeDeclarer.
func (b *Backend) RefTypes() backendtype.RefTypes {
	return backendtype.RefTypes{Ingest: backendtype.RefTypeMessageMemory, Commit: backendtype.RefTypeEpisodicMemory}
}

// BreakerState reports the circuit breaker's state.
func (b *Backend) BreakerState() string { return b.client.BreakerState() }

// parseError reads the error envelope {request_id, error:{code, message,
// timestamp, path}} (docs/api.md#error-object). Of the semantic codes only
// EXTERNAL_SERVICE_UNAVAILABLE (503) is transient; CAPABILITY_UNAVAILABLE is
// a 503 that needs an administrator (src/everos/core/errors.py@07a7cd51:116-163).
func parseError(_ int, body []byte) remote.ParsedError {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return remote.ParsedError{Code: e.Error.Code, Message: e.Error.Message,
		Permanent: e.Error.Code == codeCapabilityUnavailable || e.Error.Code == codeConfigurationError}
}

// Error codes of EverOS (src/everos/core/errors.py@07a7cd51:21-39, :189-193).
const (
	codeCapabilityUnavailable = "CAPABILITY_UNAVAILABLE"
	codeConfigurationError    = "CONFIGURATION_ERROR"
	codeProviderNotConfigured = "PROVIDER_NOT_CONFIGURED"
)

// call sends a request and decodes {"request_id", "data": …} into data.
func (b *Backend) call(ctx context.Context, req remote.Request, data any) (requestID string, err error) {
	_, body, err := b.client.Do(ctx, req)
	if err != nil {
		return "", err
	}
	var env struct {
		RequestID string          `json:"request_id"`
		Data      json.RawMessage `json:"data"`
	}
	if err := b.client.JSON(body, &env); err != nil {
		return "", err
	}
	if data == nil {
		return env.RequestID, nil
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return "", b.client.BadResponse("the answer has no data")
	}
	return env.RequestID, b.client.JSON(env.Data, data)
}

// scope is the app and project of a workspace.
func (b *Backend) scope(workspace string) map[string]any {
	return map[string]any{"app_id": b.cfg.AppID, "project_id": ScopeID(workspace)}
}

// body is a request body in a workspace's scope.
func (b *Backend) body(workspace string, fields map[string]any) map[string]any {
	out := b.scope(workspace)
	for k, v := range fields {
		out[k] = v
	}
	return out
}

// sender is what EverOS knows a user as: the sender of its messages.
func (b *Backend) sender(workspace, user string) string {
	return UserSenderID(b.cfg.Identities.Of(workspace, user).User())
}

// agent is the sender of an agent's messages.
func (b *Backend) agent(workspace, agent string) string {
	if agent == "" {
		agent = "assistant"
	}
	return AgentSenderID(b.cfg.Identities.Agent(workspace, agent))
}

// IngestTurn implements backendtype.TurnIngester: POST /api/v2/memory/add.
func (b *Backend) IngestTurn(ctx context.Context, w backendtype.TurnWrite) (backendtype.WriteResult, error) {
	rs, err := b.IngestTurns(ctx, []backendtype.TurnWrite{w})
	if err != nil {
		return backendtype.WriteResult{}, err
	}
	return rs[0], nil
}

// maxMessagesPerAdd keeps one add well inside the API's 500 messages
// (routes/memorize.py@33507bd8:100).
const maxMessagesPerAdd = 100

// IngestTurns implements backendtype.BatchIngester: a session's consecutive
// turns as the messages of one add (MemorizeAddRequest: session_id, app_id,
// project_id, messages[{sender_id, role, timestamp in ms, content}],
// routes/memorize.py@33507bd8:59-105). A user turn's sender is the user;
// any other is the agent's, as an assistant (a "tool" role needs tool-call
// ids the gateway does not have). EverOS assigns message ids itself and
// does not deduplicate: a write that failed after it landed (a timeout)
// may be stored twice.
func (b *Backend) IngestTurns(ctx context.Context, ws []backendtype.TurnWrite) ([]backendtype.WriteResult, error) {
	out := make([]backendtype.WriteResult, 0, len(ws))
	for _, run := range remote.SessionRuns(ws, maxMessagesPerAdd) {
		out = append(out, b.add(ctx, run)...)
	}
	return out, nil
}

func (b *Backend) add(ctx context.Context, ws []backendtype.TurnWrite) []backendtype.WriteResult {
	msgs := make([]any, len(ws))
	for i, w := range ws {
		msg := map[string]any{"role": "assistant", "sender_id": b.agent(w.WorkspaceID, w.AgentID), "timestamp": w.OccurredAt.UnixMilli(), "content": w.Content}
		if w.Role == backendtype.RoleUser {
			msg["role"], msg["sender_id"] = "user", b.sender(w.WorkspaceID, w.UserID)
		}
		msgs[i] = msg
	}
	var res struct {
		MessageCount int    `json:"message_count"`
		Status       string `json:"status"`
	}
	requestID, err := b.call(ctx, remote.Request{
		Method: http.MethodPost, Path: apiPrefix + "/add", OmitErrorText: true,
		Body: b.body(ws[0].WorkspaceID, map[string]any{"session_id": ws[0].SessionID, "messages": msgs}),
	}, &res)
	out := make([]backendtype.WriteResult, len(ws))
	for i, w := range ws {
		if err != nil {
			out[i] = remote.WriteFailure(backendtype.BackendEverMemOS, err)
			continue
		}
		out[i] = backendtype.WriteResult{
			Status: backendtype.ResultSuccess, NativeID: w.GatewayID,
			Response: map[string]any{
				"status": res.Status, "id": w.GatewayID, "session_id": w.SessionID,
				"metadata": map[string]any{"backend_request_id": requestID},
			},
		}
	}
	return out
}

// episode is GetEpisodeItem / SearchEpisodeItem (memory/get/dto.py@137cf00d:157-172,
// memory/search/dto.py@3338dddf:163-188).
type episode struct {
	ID        string   `json:"id"`
	SessionID *string  `json:"session_id"`
	Summary   string   `json:"summary"`
	Episode   string   `json:"episode"`
	Score     *float64 `json:"score"`
}

func (e episode) text() string {
	if e.Episode != "" {
		return e.Episode
	}
	return e.Summary
}

type profileItem struct {
	ID          string         `json:"id"`
	ProfileData map[string]any `json:"profile_data"`
	Score       *float64       `json:"score"`
}

type getData struct {
	Episodes   []episode     `json:"episodes"`
	Profiles   []profileItem `json:"profiles"`
	TotalCount int           `json:"total_count"`
}

// maxPages bounds one listing; more is reported, never cut silently.
const maxPages = 100

// episodes lists a user's episodes (of one session when filters names it),
// oldest first, every page (POST /api/v2/memory/get: user_id XOR agent_id,
// page_size ≤ 100, total_count and count, no has_more).
func (b *Backend) episodes(ctx context.Context, workspace, sender string, filters map[string]any) ([]episode, error) {
	var out []episode
	seen := map[string]bool{}
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, b.client.BadResponse(fmt.Sprintf("more than %d episodes match; the listing was not cut", maxPages*PageSize))
		}
		fields := map[string]any{"user_id": sender, "memory_type": "episode", "page": page, "page_size": PageSize, "sort_by": "timestamp", "sort_order": "asc"}
		if len(filters) > 0 {
			fields["filters"] = filters
		}
		var got getData
		if _, err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: apiPrefix + "/get", Body: b.body(workspace, fields)}, &got); err != nil {
			return nil, err
		}
		for _, e := range got.Episodes {
			// Pages are cut from a sort by timestamp, which ties: an item
			// may come twice; reading on to a short page misses none.
			if !seen[e.ID] {
				seen[e.ID] = true
				out = append(out, e)
			}
		}
		if len(got.Episodes) < PageSize {
			return out, nil
		}
	}
}

// profiles reads a user's profile (at most one). Only the defaults are
// sent: a profile get with a page, a page size or filters is refused on the
// next release (memory/get/dto.py@137cf00d:116-141).
func (b *Backend) profiles(ctx context.Context, workspace, sender string) ([]profileItem, error) {
	var got getData
	_, err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: apiPrefix + "/get",
		Body: b.body(workspace, map[string]any{"user_id": sender, "memory_type": "profile"})}, &got)
	return got.Profiles, err
}

// readBack is what a commit keeps between attempts while it waits for its
// memories to become readable.
type readBack struct {
	flushed bool
	since   time.Time
}

func loadReadBack(md backendtype.Metadata) readBack {
	raw, _ := md["backend_state"].(map[string]any)
	var r readBack
	r.flushed, _ = raw["flushed"].(bool)
	if ms, ok := raw["since_unix_ms"].(float64); ok {
		r.since = time.UnixMilli(int64(ms))
	}
	return r
}

func (r readBack) metadata() backendtype.Metadata {
	return backendtype.Metadata{"flushed": r.flushed, "since_unix_ms": float64(r.since.UnixMilli())}
}

// CommitSession implements backendtype.SessionCommitter: POST
// /api/v2/memory/flush (extraction runs inline; "extracted" or
// "no_extraction", routes/memorize.py@33507bd8:155-183), once; then the
// session's episodes and the user's profile are read back, and those the
// gateway holds no ref of become refs. The index lags the write, so while
// nothing new is readable the commit answers pending and reads again, until
// ReadBackWindow has passed since the flush (then: skipped, nothing new).
func (b *Backend) CommitSession(ctx context.Context, req backendtype.CommitRequest) (backendtype.CommitResult, error) {
	state := loadReadBack(req.Metadata)
	response := map[string]any{"status": "extracted"}
	if !state.flushed {
		var flushed struct {
			Status string `json:"status"`
		}
		requestID, err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: apiPrefix + "/flush",
			Body: b.body(req.WorkspaceID, map[string]any{"session_id": req.SessionID})}, &flushed)
		if err != nil {
			return remote.CommitFailure(backendtype.BackendEverMemOS, err), nil
		}
		state = readBack{flushed: true, since: b.cfg.Now()}
		response = map[string]any{"status": flushed.Status, "metadata": map[string]any{"backend_request_id": requestID}}
	}
	refs, err := b.newMemories(ctx, req)
	if err != nil {
		res := remote.CommitFailure(backendtype.BackendEverMemOS, err)
		res.State = state.metadata()
		return res, nil
	}
	switch {
	case len(refs) > 0:
		return backendtype.CommitResult{Status: backendtype.ResultSuccess, Refs: refs, State: backendtype.Metadata{}, Response: response}, nil
	case b.cfg.Now().Sub(state.since) < b.cfg.ReadBackWindow:
		return backendtype.CommitResult{Status: backendtype.ResultPending, RetryAfter: b.cfg.ReadBackInterval, State: state.metadata(),
			Response: map[string]any{"status": "reading_back"}}, nil
	}
	response["reason"] = "no_new_memories"
	return backendtype.CommitResult{Status: backendtype.ResultSkipped, State: backendtype.Metadata{}, Response: response}, nil
}

// newMemories are the session's episodes and the user's profile the gateway
// holds no ref of yet.
func (b *Backend) newMemories(ctx context.Context, req backendtype.CommitRequest) ([]backendtype.ProducedRef, error) {
	known := map[string]bool{}
	if req.Known != nil {
		var err error
		if known, err = req.Known(ctx); err != nil {
			return nil, err
		}
	}
	sender := b.sender(req.WorkspaceID, req.UserID)
	eps, err := b.episodes(ctx, req.WorkspaceID, sender, map[string]any{"session_id": req.SessionID})
	if err != nil {
		return nil, err
	}
	var refs []backendtype.ProducedRef
	for _, e := range eps {
		if e.ID != "" && !known[e.ID] {
			refs = append(refs, backendtype.ProducedRef{RefType: backendtype.RefTypeEpisodicMemory, NativeID: e.ID})
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	profiles, err := b.profiles(ctx, req.WorkspaceID, sender)
	if err != nil {
		return nil, err
	}
	for _, p := range profiles {
		if p.ID != "" && !known[p.ID] {
			refs = append(refs, backendtype.ProducedRef{RefType: backendtype.RefTypeProfile, NativeID: p.ID})
		}
	}
	return refs, nil
}

// Matching implements backendtype.RecallMatcher: the search is hybrid, keyword
// and vector. A server without an embedding provider answers by keyword
// only (see Retrieve); that is its operator's choice, not seen here.
func (b *Backend) Matching() backendtype.Matching { return backendtype.MatchMeaning }

// Retrieve implements backendtype.Retriever: POST /api/v2/memory/search over the
// user's episodes and profile (include_profile), hybrid; a server without an
// embedding provider refuses hybrid (422 PROVIDER_NOT_CONFIGURED, or
// CAPABILITY_UNAVAILABLE) and is asked again by keyword
// (tests/integration/test_tiers/test_tier1_keyword_only.py@994f3492:64-101).
func (b *Backend) Retrieve(ctx context.Context, q backendtype.RetrievalQuery) ([]backendtype.RetrievedItem, error) {
	topK := min(max(q.Limit, 1), 100)
	fields := map[string]any{"user_id": b.sender(q.WorkspaceID, q.UserID), "query": q.Query, "method": "hybrid", "top_k": topK, "include_profile": true}
	if q.SessionID != "" {
		fields["filters"] = map[string]any{"session_id": q.SessionID}
	}
	var res struct {
		Episodes []episode     `json:"episodes"`
		Profiles []profileItem `json:"profiles"`
	}
	search := func() error {
		_, err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: apiPrefix + "/search", OmitErrorText: true, Body: b.body(q.WorkspaceID, fields)}, &res)
		return err
	}
	err := search()
	if re := remote.AsError(backendtype.BackendEverMemOS, err); err != nil && (re.Code == codeProviderNotConfigured || re.Code == codeCapabilityUnavailable) {
		fields["method"] = "keyword"
		err = search()
	}
	if err != nil {
		return nil, err
	}
	items := make([]backendtype.RetrievedItem, 0, len(res.Episodes)+len(res.Profiles))
	for _, e := range res.Episodes {
		if text := e.text(); text != "" && e.ID != "" {
			items = append(items, backendtype.RetrievedItem{Text: text, Score: score(e.Score), NativeID: e.ID, MemoryType: backendtype.RefTypeEpisodicMemory})
		}
	}
	for _, p := range res.Profiles {
		if text := profileText(p.ProfileData); text != "" && p.ID != "" {
			items = append(items, backendtype.RetrievedItem{Text: text, Score: score(p.Score), NativeID: p.ID, MemoryType: backendtype.RefTypeProfile})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Score > items[j].Score })
	if len(items) > topK {
		items = items[:topK]
	}
	return items, nil
}

// score is a hit's score; the profile's is null (ranked last).
func score(s *float64) float64 {
	if s == nil {
		return 0
	}
	return max(*s, 0)
}

// profileText renders a free-form profile as "key: value" lines in key
// order.
func profileText(data map[string]any) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var lines []string
	for _, k := range keys {
		var s string
		switch v := data[k].(type) {
		case string:
			s = v
		case nil:
			continue
		default:
			raw, _ := json.Marshal(v)
			s = string(raw)
		}
		if s != "" && s != "[]" && s != "{}" {
			lines = append(lines, k+": "+s)
		}
	}
	return strings.Join(lines, "\n")
}

// Feedback reasons.
const (
	// ReasonNoDeleteAPI: EverOS 1.x has no API that deletes or rewrites a
	// memory; its markdown files are the source of truth.
	ReasonNoDeleteAPI = "everos_has_no_delete_api"
	// ReasonUnsupportedFeedbackType: only corrections and delete requests
	// change a memory.
	ReasonUnsupportedFeedbackType = "unsupported_feedback_type"
)

// ApplyFeedback implements backendtype.FeedbackApplier: EverOS 1.x offers no
// memory delete or update (the OpenAPI paths under /memory are add, flush,
// search and get only, docs/openapi.json@06e3f9ad#/paths), so a correction
// or a delete request ends UNSUPPORTED and changes nothing.
func (b *Backend) ApplyFeedback(_ context.Context, req backendtype.FeedbackRequest) (backendtype.CommitResult, error) {
	if req.FeedbackType != backendtype.FeedbackCorrection && req.FeedbackType != backendtype.FeedbackDeleteRequest {
		return backendtype.SkippedResult(ReasonUnsupportedFeedbackType), nil
	}
	if req.FeedbackType == backendtype.FeedbackCorrection && req.Correction == "" {
		return backendtype.EmptyCorrectionResult(backendtype.BackendEverMemOS), nil
	}
	return backendtype.UnsupportedResult(ReasonNoDeleteAPI), nil
}

// Health implements backendtype.HealthChecker: GET /health, also the breaker's
// probe: {"status":"ok", "version", "capabilities", "cascade"}
// (routes/health.py@a346abce:75-126). A server older than 1.2.0 serves no
// /api/v2; an EverCore server answers {"status":"healthy"} without a
// version; a cascade that reports itself unhealthy cannot index what is
// written. Each is unhealthy here, with the reason.
func (b *Backend) Health(ctx context.Context) error { return b.client.Health(ctx) }

func healthProblem(body []byte) string {
	var h struct {
		Status  string `json:"status"`
		Version string `json:"version"`
		Cascade *struct {
			Healthy *bool    `json:"healthy"`
			Reasons []string `json:"reasons"`
		} `json:"cascade"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return "the health answer is not the JSON expected"
	}
	switch {
	case h.Version == "":
		return "the server is not EverOS 1.x (no version in /health; an EverMemOS EverCore server answers so): set EVERMEMOS_API=evercore"
	case olderThan(h.Version, minVersion):
		return "EverOS " + h.Version + " serves the /api/v1 routes only; this backend speaks /api/v2 (EverOS " + minVersion + " or later)"
	case h.Status != "ok":
		return "reports itself unhealthy (" + h.Status + ")"
	case h.Cascade != nil && h.Cascade.Healthy != nil && !*h.Cascade.Healthy:
		return "its cascade (the indexer) reports itself unhealthy: " + strings.Join(h.Cascade.Reasons, "; ")
	}
	return ""
}

// olderThan compares dotted versions numerically ("1.10.0" > "1.9.2");
// anything after a "-" or "+" is ignored.
func olderThan(version, than string) bool {
	parse := func(v string) []int {
		v, _, _ = strings.Cut(strings.TrimPrefix(v, "v"), "-")
		v, _, _ = strings.Cut(v, "+")
		var out []int
		for _, part := range strings.Split(v, ".") {
			n, _ := strconv.Atoi(part)
			out = append(out, n)
		}
		return out
	}
	return slices.Compare(parse(version), parse(than)) < 0
}
