// Package evermemos adapts EverMemOS (EverCore v1 HTTP API) as a memory
// backend: turns are personal-scene messages of the user, a commit flushes
// the session (extraction runs inline, so calls may take seconds) and reads
// back the episodes and profile it produced, retrieval runs the hybrid
// search over episodic memories and the profile, and feedback deletes an
// extracted memory or replaces it with a corrected fact.
package evermemos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/backends/remote"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// Defaults for Config.
const (
	// TimeoutDefault is generous: add and flush run extraction inline.
	TimeoutDefault  = 30 * time.Second
	PageSizeDefault = 100
	// maxPages bounds the episodes read back after one flush.
	maxPages = 10
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	headers := http.Header{}
	if cfg.APIKey != "" {
		headers.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	client, err := remote.New(remote.Config{
		Backend: gateway.BackendEverMemOS, BaseURL: cfg.BaseURL, Timeout: cfg.Timeout,
		Headers: headers, ParseError: parseError, Transport: cfg.Transport, Now: cfg.Now,
		HealthPath: "/health", HealthProblem: healthProblem,
	})
	if err != nil {
		return nil, err
	}
	return &Backend{client: client, now: cfg.Now, ids: cfg.Identities}, nil
}

// Name implements gateway.BackendAdapter.
func (b *Backend) Name() gateway.Backend { return gateway.BackendEverMemOS }

// RefTypes implements gateway.RefTypeDeclarer: a turn is a message memory;
// what a commit extracts is long-term memory.
func (b *Backend) RefTypes() gateway.RefTypes {
	return gateway.RefTypes{Ingest: gateway.RefTypeMessageMemory, Commit: gateway.RefTypeLongTermMemory}
}

// BreakerState reports the circuit breaker's state.
func (b *Backend) BreakerState() string { return b.client.BreakerState() }

// parseError reads EverMemOS's error body: {"code","message","request_id",…}.
func parseError(_ int, body []byte) (string, string) {
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Code, e.Message
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

// IngestTurn implements gateway.TurnIngester: POST /api/v1/memories (personal
// scene). EverMemOS has one tenant, so the user is named with its workspace
// (remote.Identity.ScopedUserID) as owner and sender. The message id is the
// turn's gateway id, stable across retries. A user message names the user
// as sender; any other speaker gets the
// backend's generated sender, as the API requires.
func (b *Backend) IngestTurn(ctx context.Context, w gateway.TurnWrite) (gateway.WriteResult, error) {
	rs, err := b.IngestTurns(ctx, []gateway.TurnWrite{w})
	if err != nil {
		return gateway.WriteResult{}, err
	}
	return rs[0], nil
}

// IngestTurns implements gateway.BatchIngester: a session's consecutive
// turns as the messages of one POST /api/v1/memories, in order (turns of
// several users go one call per user).
func (b *Backend) IngestTurns(ctx context.Context, ws []gateway.TurnWrite) ([]gateway.WriteResult, error) {
	out := make([]gateway.WriteResult, 0, len(ws))
	for _, run := range remote.SessionRuns(ws, maxMessagesPerAdd) {
		out = append(out, b.addMessages(ctx, run)...)
	}
	return out, nil
}

// maxMessagesPerAdd keeps one add well inside the API's 500 messages.
const maxMessagesPerAdd = 100

// addMessages adds turns of one user and session in one call; every turn
// gets the call's outcome.
func (b *Backend) addMessages(ctx context.Context, ws []gateway.TurnWrite) []gateway.WriteResult {
	user := b.ids.Of(ws[0].WorkspaceID, ws[0].UserID).ScopedUserID()
	msgs := make([]any, len(ws))
	for i, w := range ws {
		msg := map[string]any{
			"role": "assistant", "timestamp": w.OccurredAt.UnixMilli(), "content": w.Content, "message_id": w.GatewayID,
		}
		if w.Role == gateway.RoleUser {
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
	err := b.call(ctx, remote.Request{
		Method: http.MethodPost, Path: "/api/v1/memories", OmitErrorText: true,
		Body: map[string]any{"user_id": user, "session_id": ws[0].SessionID, "messages": msgs},
	}, &res)
	out := make([]gateway.WriteResult, len(ws))
	for i, w := range ws {
		if err != nil {
			out[i] = remote.WriteFailure(gateway.BackendEverMemOS, err)
			continue
		}
		out[i] = gateway.WriteResult{
			Status: gateway.ResultSuccess, NativeID: w.GatewayID,
			Response: map[string]any{
				"status": res.Status, "id": w.GatewayID, "session_id": w.SessionID,
				"metadata": map[string]any{"backend_request_id": res.RequestID},
			},
		}
	}
	return out
}

type getAnswer struct {
	Episodes []struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
		Episode string `json:"episode"`
	} `json:"episodes"`
	Profiles []struct {
		ID string `json:"id"`
	} `json:"profiles"`
	TotalCount int `json:"total_count"`
}

// CommitSession implements gateway.SessionCommitter: POST
// /api/v1/memories/flush, then POST /api/v1/memories/get for the session's
// episodes and the user's profile; each becomes a ref by its native id.
func (b *Backend) CommitSession(ctx context.Context, req gateway.CommitRequest) (gateway.CommitResult, error) {
	user := b.ids.Of(req.WorkspaceID, req.UserID).ScopedUserID()
	var flushed struct {
		RequestID string `json:"request_id"`
		Status    string `json:"status"`
	}
	err := b.call(ctx, remote.Request{
		Method: http.MethodPost, Path: "/api/v1/memories/flush",
		Body: map[string]any{"user_id": user, "session_id": req.SessionID},
	}, &flushed)
	if err != nil {
		return remote.CommitFailure(gateway.BackendEverMemOS, err), nil
	}
	var refs []gateway.ProducedRef
	for page := 1; page <= maxPages; page++ {
		var got getAnswer
		err := b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/get", Body: map[string]any{
			"memory_type": "episodic_memory", "filters": map[string]any{"user_id": user, "session_id": req.SessionID},
			"page": page, "page_size": PageSizeDefault, "rank_by": "timestamp", "rank_order": "asc",
		}}, &got)
		if err != nil {
			return remote.CommitFailure(gateway.BackendEverMemOS, err), nil
		}
		for _, e := range got.Episodes {
			if e.ID != "" {
				refs = append(refs, gateway.ProducedRef{RefType: gateway.RefTypeEpisodicMemory, NativeID: e.ID})
			}
		}
		if len(got.Episodes) < PageSizeDefault {
			break
		}
	}
	var profiles getAnswer
	err = b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/get", Body: map[string]any{
		"memory_type": "profile", "filters": map[string]any{"user_id": user}, "page": 1, "page_size": PageSizeDefault,
	}}, &profiles)
	if err != nil {
		return remote.CommitFailure(gateway.BackendEverMemOS, err), nil
	}
	for _, p := range profiles.Profiles {
		if p.ID != "" {
			refs = append(refs, gateway.ProducedRef{RefType: gateway.RefTypeProfile, NativeID: p.ID})
		}
	}
	response := map[string]any{"status": flushed.Status, "metadata": map[string]any{"backend_request_id": flushed.RequestID}}
	if len(refs) == 0 {
		response["reason"] = "no_memories"
		return gateway.CommitResult{Status: gateway.ResultSkipped, Response: response}, nil
	}
	return gateway.CommitResult{Status: gateway.ResultSuccess, Refs: refs, Response: response}, nil
}

type searchAnswer struct {
	Episodes []struct {
		ID      string  `json:"id"`
		Summary string  `json:"summary"`
		Episode string  `json:"episode"`
		Subject string  `json:"subject"`
		Score   float64 `json:"score"`
	} `json:"episodes"`
	Profiles []struct {
		ID          string         `json:"id"`
		ProfileData map[string]any `json:"profile_data"`
		Score       float64        `json:"score"`
	} `json:"profiles"`
}

// Retrieve implements gateway.Retriever: POST /api/v1/memories/search,
// hybrid, over the user's episodic memories and profile.
func (b *Backend) Retrieve(ctx context.Context, q gateway.RetrievalQuery) ([]gateway.RetrievedItem, error) {
	filters := map[string]any{"user_id": b.ids.Of(q.WorkspaceID, q.UserID).ScopedUserID()}
	if q.SessionID != "" {
		filters["session_id"] = q.SessionID
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
	items := make([]gateway.RetrievedItem, 0, len(res.Episodes)+len(res.Profiles))
	for _, e := range res.Episodes {
		text := e.Episode
		if text == "" {
			text = e.Summary
		}
		if text == "" || e.ID == "" {
			continue
		}
		items = append(items, gateway.RetrievedItem{Text: text, Score: e.Score, NativeID: e.ID, MemoryType: gateway.RefTypeEpisodicMemory})
	}
	for _, p := range res.Profiles {
		text := profileText(p.ProfileData)
		if text == "" || p.ID == "" {
			continue
		}
		items = append(items, gateway.RetrievedItem{Text: text, Score: p.Score, NativeID: p.ID, MemoryType: gateway.RefTypeProfile})
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

// profileText renders profile data as "key: value" lines in key order.
func profileText(data map[string]any) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := data[k]
		var s string
		switch t := v.(type) {
		case string:
			s = t
		case nil:
			continue
		default:
			raw, _ := json.Marshal(t)
			s = string(raw)
		}
		if s == "" || s == "[]" || s == "{}" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s: %s", k, s)
	}
	return b.String()
}

// DeleteMemory soft-deletes one memory: POST /api/v1/memories/delete (204).
// The id goes alone: the API refuses user or session fields next to it.
// Deleting a memory already deleted, or unknown, succeeds.
func (b *Backend) DeleteMemory(ctx context.Context, memoryID string) error {
	return b.call(ctx, remote.Request{Method: http.MethodPost, Path: "/api/v1/memories/delete", Body: map[string]any{"memory_id": memoryID}}, nil)
}

// Health implements gateway.HealthChecker: GET /health, also the circuit
// breaker's probe.
func (b *Backend) Health(ctx context.Context) error { return b.client.Health(ctx) }

func healthProblem(body []byte) string {
	var h struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return "the health answer is not the JSON expected"
	}
	if h.Status != "healthy" && h.Status != "ok" {
		return "reports itself unhealthy"
	}
	return ""
}
