// Package evermemos adapts EverMemOS through its pre-1.0 "EverCore" HTTP
// API (/api/v1/memories…, checked against EverMind-AI/EverMemOS e37205f,
// the last commit of that API) as a memory backend: turns are
// personal-scene messages of the user, a commit flushes the session
// (extraction runs inline, so calls may take seconds) and reads back the
// episodes and profile it produced, retrieval runs the hybrid search over
// episodic memories and the profile, feedback deletes an extracted memory
// (by its MemCell) or replaces it with a corrected fact, and an erasure
// deletes what the API can delete and reports what it cannot. EverOS 1.x
// speaks another API: see package everos.
package evermemos

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/backendtype"
)

// Defaults for Config.
const (
	// TimeoutDefault is generous: add and flush run extraction inline.
	TimeoutDefault = 30 * time.Second
	// PageSizeDefault is the largest page get serves
	// (api_specs/dtos/memory.py:1025-1031).
	PageSizeDefault = 100
)

// Config configures the adapter.
type Config struct {
	BaseURL string
	// APIKey, when set, is sent as bearer token (hosted EverMemOS).
	APIKey    string
	Timeout   time.Duration
	Transport http.RoundTripper
	// Now is the clock (the timestamp of correction messages); nil means
	// time.Now.
	Now func() time.Time
	// Identities says what EverMemOS is told users are (their workspace
	// and id, or keyed pseudonyms).
	Identities remote.Identities
}

// Backend is the EverMemOS adapter.
type Backend struct {
	client *remote.Client
	now    func() time.Time
	ids    remote.Identities
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	headers := http.Header{}
	if cfg.APIKey != "" {
		headers.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	client, err := remote.New(remote.Config{
		Backend: backendtype.BackendEverMemOS, BaseURL: cfg.BaseURL, Timeout: cfg.Timeout,
		Headers: headers, ParseError: parseError, Transport: cfg.Transport, Now: cfg.Now,
		HealthPath: "/health", HealthProblem: healthProblem,
	})
	if err != nil {
		return nil, err
	}
	return &Backend{client: client, now: cfg.Now, ids: cfg.Identities}, nil
}

// Name implements backendtype.BackendAdapter.
func (b *Backend) Name() backendtype.Backend { return backendtype.BackendEverMemOS }

// RefTypes implements backendtype.RefTypeDeclarer: a turn is a message memory;
// what a commit extracts is long-term memory.
func (b *Backend) RefTypes() backendtype.RefTypes {
	return backendtype.RefTypes{Ingest: backendtype.RefTypeMessageMemory, Commit: backendtype.RefTypeLongTermMemory}
}

// BreakerState reports the circuit breaker's state.
func (b *Backend) BreakerState() string { return b.client.BreakerState() }

// parseError reads EverMemOS's error body: {"code","message","request_id",…}.
func parseError(_ int, body []byte) remote.ParsedError {
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &e)
	return remote.ParsedError{Code: e.Code, Message: e.Message}
}

// call sends a request and decodes {"data": …} into data.
func (b *Backend) call(ctx context.Context, req remote.Request, data any) error {
	status, body, err := b.client.Do(ctx, req)
	if err != nil {
		return err
	}
	if data == nil || status == http.StatusNoContent {
		return nil
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := b.client.JSON(body, &env); err != nil {
		return err
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return b.client.BadResponse("the answer has no data")
	}
	return b.client.JSON(env.Data, data)
}

// IngestTurn implements backendtype.TurnIngester: POST /api/v1/memories (personal
// scene). EverMemOS has one tenant, so the user is named with its workspace
// (userID) as owner and sender. The message id is the turn's gateway id,
// stable across retries, though EverMemOS does not deduplicate by it
// (service/raw_message_service.py:166-208): a write that failed after it
// landed (a timeout) may be stored twice. A user message names the user as
// sender; any other speaker gets the backend's generated sender, as the API
// requires (api_specs/request_converter.py:307-320).
func (b *Backend) IngestTurn(ctx context.Context, w backendtype.TurnWrite) (backendtype.WriteResult, error) {
	rs, err := b.IngestTurns(ctx, []backendtype.TurnWrite{w})
	if err != nil {
		return backendtype.WriteResult{}, err
	}
	return rs[0], nil
}

// IngestTurns implements backendtype.BatchIngester: a session's consecutive
// turns as the messages of one POST /api/v1/memories, in order (turns of
// several users go one call per user).
func (b *Backend) IngestTurns(ctx context.Context, ws []backendtype.TurnWrite) ([]backendtype.WriteResult, error) {
	out := make([]backendtype.WriteResult, 0, len(ws))
	for _, run := range remote.SessionRuns(ws, maxMessagesPerAdd) {
		out = append(out, b.addMessages(ctx, run)...)
	}
	return out, nil
}

// maxMessagesPerAdd keeps one add well inside the API's 500 messages
// (api_specs/dtos/memory.py:396-398).
const maxMessagesPerAdd = 100

// addMessages adds turns of one user and session in one call; every turn
// gets the call's outcome.
func (b *Backend) addMessages(ctx context.Context, ws []backendtype.TurnWrite) []backendtype.WriteResult {
	out := make([]backendtype.WriteResult, len(ws))
	session, err := sessionID(ws[0].SessionID)
	if err != nil {
		for i := range out {
			out[i] = refused(err)
		}
		return out
	}
	user := b.userID(ws[0].WorkspaceID, ws[0].UserID)
	msgs := make([]any, len(ws))
	for i, w := range ws {
		msg := map[string]any{
			"role": "assistant", "timestamp": w.OccurredAt.UnixMilli(), "content": w.Content, "message_id": w.GatewayID,
		}
		if w.Role == backendtype.RoleUser {
			msg["role"] = "user"
			msg["sender_id"] = user
		}
		msgs[i] = msg
	}
	var res struct {
		RequestID    string `json:"request_id"`
		MessageCount int    `json:"message_count"`
		Status       string `json:"status"`
	}
	err = b.call(ctx, remote.Request{
		Method: http.MethodPost, Path: "/api/v1/memories", OmitErrorText: true,
		Body: map[string]any{"user_id": user, "session_id": session, "messages": msgs},
	}, &res)
	for i, w := range ws {
		if err != nil {
			out[i] = remote.WriteFailure(backendtype.BackendEverMemOS, err)
			continue
		}
		out[i] = backendtype.WriteResult{
			Status: backendtype.ResultSuccess, NativeID: w.GatewayID,
			Response: map[string]any{
				"status": res.Status, "id": w.GatewayID, "session_id": w.SessionID,
				"metadata": map[string]any{"backend_request_id": res.RequestID},
			},
		}
	}
	return out
}

// refused is a permanent failure of an id EverMemOS reserves.
func refused(err error) backendtype.WriteResult {
	return backendtype.WriteResult{
		Status: backendtype.ResultFailed, ErrorCode: ErrorCodeIDRefused, ErrorMessage: err.Error(),
		Response: map[string]any{"status": "error", "error_code": ErrorCodeIDRefused, "retryable": false},
	}
}

// episode is EpisodeItem (api_specs/dtos/memory.py:1074-1103) and, with a
// score, SearchEpisodeItem (:1443-1475): parent_id is the MemCell the
// episode was extracted from, the id its delete takes. user_id is null on
// the group-level copy of a MemCell's episode.
type episode struct {
	ID        string  `json:"id"`
	UserID    *string `json:"user_id"`
	SessionID string  `json:"session_id"`
	ParentID  string  `json:"parent_id"`
	Summary   string  `json:"summary"`
	Episode   string  `json:"episode"`
	Score     float64 `json:"score"`
}

func (e episode) text() string {
	if e.Episode != "" {
		return e.Episode
	}
	return e.Summary
}

type getAnswer struct {
	Episodes []episode `json:"episodes"`
	Profiles []struct {
		ID          string         `json:"id"`
		ProfileData map[string]any `json:"profile_data"`
	} `json:"profiles"`
	TotalCount int `json:"total_count"`
}

// maxGetPages bounds one listing: 100 pages of 100 episodes. A session or
// user with more is reported as a failure, never cut silently.
const maxGetPages = 100

// episodes lists every episode the filters select, page by page
// (POST /api/v1/memories/get; page_size at most 100, api_specs/dtos/memory.py:1025-1031),
// oldest first.
func (b *Backend) episodes(ctx context.Context, filters map[string]any) ([]episode, error) {
	var out []episode
	seen := map[string]bool{}
	for page := 1; ; page++ {
		if page > maxGetPages {
			return nil, b.client.BadResponse(fmt.Sprintf("more than %d episodes match; the listing was not cut", maxGetPages*PageSizeDefault))
		}
		var got getAnswer
		err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/get", Body: map[string]any{
			"memory_type": "episodic_memory", "filters": filters, "page": page, "page_size": PageSizeDefault,
			"rank_by": "timestamp", "rank_order": "asc",
		}}, &got)
		if err != nil {
			return nil, err
		}
		for _, e := range got.Episodes {
			// Pages are cut from a sort by timestamp, which ties
			// (agentic_layer/get_mem_service.py:113-125): an episode may
			// come twice; reading on to a short page misses none.
			if !seen[e.ID] {
				seen[e.ID] = true
				out = append(out, e)
			}
		}
		if len(got.Episodes) < PageSizeDefault {
			return out, nil
		}
	}
}

// profiles lists the user's profile documents (one per group; the
// personal scene has one).
func (b *Backend) profiles(ctx context.Context, user string) (getAnswer, error) {
	var got getAnswer
	err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/get", Body: map[string]any{
		"memory_type": "profile", "filters": map[string]any{"user_id": user}, "page": 1, "page_size": PageSizeDefault,
	}}, &got)
	return got, err
}

// CommitSession implements backendtype.SessionCommitter: POST
// /api/v1/memories/flush (the session's buffer becomes a final MemCell,
// extracted inline, memory_controller.py:386-436), then the session's
// episodes and the user's profile are read back (POST /api/v1/memories/get)
// and those the gateway holds no ref of yet become refs: every commit
// reports what is new since the last, and the listing is never cut
// silently. An episode's ref keeps its MemCell id (memcell_id), the id a
// delete takes.
func (b *Backend) CommitSession(ctx context.Context, req backendtype.CommitRequest) (backendtype.CommitResult, error) {
	session, err := sessionID(req.SessionID)
	if err != nil {
		return backendtype.CommitResult{Status: backendtype.ResultFailed, ErrorCode: ErrorCodeIDRefused, ErrorMessage: err.Error(),
			Response: map[string]any{"status": "error", "error_code": ErrorCodeIDRefused, "retryable": false}}, nil
	}
	user := b.userID(req.WorkspaceID, req.UserID)
	var flushed struct {
		RequestID string `json:"request_id"`
		Status    string `json:"status"`
	}
	err = b.call(ctx, remote.Request{
		Method: http.MethodPost, Path: "/api/v1/memories/flush",
		Body: map[string]any{"user_id": user, "session_id": session},
	}, &flushed)
	if err != nil {
		return remote.CommitFailure(backendtype.BackendEverMemOS, err), nil
	}
	known := map[string]bool{}
	if req.Known != nil {
		if known, err = req.Known(ctx); err != nil {
			return backendtype.CommitResult{}, err
		}
	}
	eps, err := b.episodes(ctx, map[string]any{"user_id": user, "session_id": session})
	if err != nil {
		return remote.CommitFailure(backendtype.BackendEverMemOS, err), nil
	}
	var refs []backendtype.ProducedRef
	for _, e := range eps {
		if e.ID != "" && !known[e.ID] {
			refs = append(refs, backendtype.ProducedRef{RefType: backendtype.RefTypeEpisodicMemory, NativeID: e.ID, Metadata: backendtype.Metadata{memcellKey: e.ParentID}})
		}
	}
	profiles, err := b.profiles(ctx, user)
	if err != nil {
		return remote.CommitFailure(backendtype.BackendEverMemOS, err), nil
	}
	for _, p := range profiles.Profiles {
		if p.ID != "" && !known[p.ID] {
			refs = append(refs, backendtype.ProducedRef{RefType: backendtype.RefTypeProfile, NativeID: p.ID, NativeURI: ProfileURI(user)})
		}
	}
	response := map[string]any{"status": flushed.Status, "metadata": map[string]any{"backend_request_id": flushed.RequestID}}
	if len(refs) == 0 {
		response["reason"] = "no_new_memories"
		return backendtype.CommitResult{Status: backendtype.ResultSkipped, Response: response}, nil
	}
	return backendtype.CommitResult{Status: backendtype.ResultSuccess, Refs: refs, Response: response}, nil
}

// ProfileURI names a user's profile for the gateway: a search hit of the
// profile is one fact with an index id of its own, never the profile's id
// (agentic_layer/search_mem_service.py:876-925), so hits and the profile's
// ref meet on this locator. It is the gateway's name, not EverMemOS's.
func ProfileURI(userID string) string { return "evermemos:profile/" + url.PathEscape(userID) }

// memcellKey is the produced ref metadata that holds an episode's MemCell id.
const memcellKey = "memcell_id"

type searchAnswer struct {
	Episodes []episode `json:"episodes"`
	Profiles []struct {
		ID          string `json:"id"`
		ProfileData struct {
			ItemType  string `json:"item_type"`
			EmbedText string `json:"embed_text"`
		} `json:"profile_data"`
		Score *float64 `json:"score"`
	} `json:"profiles"`
}

// Matching implements backendtype.RecallMatcher: the search is hybrid, keyword
// and vector (see Retrieve).
func (b *Backend) Matching() backendtype.Matching { return backendtype.MatchMeaning }

// Retrieve implements backendtype.Retriever: POST /api/v1/memories/search,
// hybrid, over the user's episodic memories and profile
// (memory_search_controller.py:158-229). The search indexes keep serving an
// episode deleted by id (a delete by id reaches MongoDB only,
// service/memcell_delete_service.py:112-143): the gateway leaves those out
// by their refs. A hit without text (an index copy whose row is gone,
// agentic_layer/search_mem_service.py:836-865) is left out here. Profile
// hits are per-fact items {item_type, embed_text} with ids of their own
// (:876-925).
func (b *Backend) Retrieve(ctx context.Context, q backendtype.RetrievalQuery) ([]backendtype.RetrievedItem, error) {
	filters := map[string]any{"user_id": b.userID(q.WorkspaceID, q.UserID)}
	if q.SessionID != "" {
		session, err := sessionID(q.SessionID)
		if err != nil {
			return nil, nil
		}
		filters["session_id"] = session
	}
	topK := min(max(q.Limit, 1), 100)
	var res searchAnswer
	err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/search", OmitErrorText: true, Body: map[string]any{
		"query": q.Query, "method": "hybrid", "memory_types": []string{"episodic_memory", "profile"},
		"top_k": topK, "filters": filters,
	}}, &res)
	if err != nil {
		return nil, err
	}
	items := make([]backendtype.RetrievedItem, 0, len(res.Episodes)+len(res.Profiles))
	for _, e := range res.Episodes {
		if text := e.text(); text != "" && e.ID != "" {
			items = append(items, backendtype.RetrievedItem{Text: text, Score: max(e.Score, 0), NativeID: e.ID, MemoryType: backendtype.RefTypeEpisodicMemory})
		}
	}
	for _, p := range res.Profiles {
		score := 0.0
		if p.Score != nil {
			score = max(*p.Score, 0)
		}
		if text := p.ProfileData.EmbedText; text != "" && p.ID != "" {
			items = append(items, backendtype.RetrievedItem{Text: text, Score: score, NativeID: p.ID, NativeURI: ProfileURI(filters["user_id"].(string)), MemoryType: backendtype.RefTypeProfile})
		}
	}
	// The API returns two lists; rank them together by score.
	sort.SliceStable(items, func(i, j int) bool { return items[i].Score > items[j].Score })
	// Episodes and profile entries are asked for topK each: the answer is
	// the best topK of both.
	if len(items) > topK {
		items = items[:topK]
	}
	return items, nil
}

// deleteMemCell deletes a MemCell: POST /api/v1/memories/delete with
// memory_id, which names a MemCell, never an episode
// (api_specs/dtos/memory_delete.py:23-25): the MemCell and every episode
// extracted from it (its parent_id) are soft-deleted in MongoDB; the search
// indexes are not touched (service/memcell_delete_service.py:112-143). The
// id goes alone (the DTO refuses any filter next to it, even null). The
// answer is 204 whether anything was deleted or not, so a retry succeeds.
func (b *Backend) deleteMemCell(ctx context.Context, memcellID string) error {
	if !isObjectID(memcellID) {
		// Not a MongoDB id: no MemCell has it, and the server would answer
		// 500 (memcell_raw_repository.py:615-616).
		return nil
	}
	return b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/delete", Body: map[string]any{"memory_id": memcellID}}, nil)
}

// Health implements backendtype.HealthChecker: GET /health, also the circuit
// breaker's probe. EverCore answers {"status":"healthy"}
// (infra_layer/adapters/input/api/health/health_controller.py:24-64);
// EverOS 1.x answers {"status":"ok", "version", "capabilities"}
// (EverMind-AI/EverOS src/everos/entrypoints/api/routes/health.py), and
// serves none of the /api/v1/memories routes this adapter speaks: such a
// server is unhealthy here, with the reason.
func (b *Backend) Health(ctx context.Context) error { return b.client.Health(ctx) }

func healthProblem(body []byte) string {
	var h struct {
		Status       string `json:"status"`
		Version      string `json:"version"`
		Capabilities any    `json:"capabilities"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return "the health answer is not the JSON expected"
	}
	if h.Version != "" || h.Capabilities != nil {
		return "the server is EverOS " + h.Version + ", whose API (/api/v2/memory) replaced the EverCore API this backend is configured for: set EVERMEMOS_API=everos"
	}
	if h.Status != "healthy" && h.Status != "ok" {
		return "reports itself unhealthy"
	}
	return ""
}

// isObjectID reports whether id is a MongoDB ObjectId (24 hex digits), the
// form of every MemCell id.
func isObjectID(id string) bool {
	if len(id) != 24 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}
