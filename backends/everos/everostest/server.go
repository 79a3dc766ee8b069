// Package everostest is an in-process fake of the EverOS 1.x HTTP API
// (EverMind-AI/EverOS 1.2.3) that behaves like the real server's source,
// rule by rule; each rule cites the file and commit that decide it (paths
// below are in that repository; commits are abbreviated to 8 digits).
//
// Memory routes are served under /api/v2 and the legacy alias /api/v1
// (src/everos/entrypoints/api/app.py@68bedaed:128-145); there is no memory
// delete route (docs/openapi.json@06e3f9ad#/paths), so one is 404. Reads are
// eventually consistent: an extracted episode becomes visible to get and
// search only after ReadsBeforeVisible reads (the real index lags the
// markdown write by up to ~15 s, docs/api.md#eventual-consistency). It is
// test code: no binary imports it.
package everostest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/memory-gateway/memory-gateway/backends/remote/remotetest"
)

// Message is one buffered or extracted message.
type Message struct {
	AppID, ProjectID, SessionID, SenderID, Role, Content string
	Timestamp                                            int64
}

// Episode is one extracted episode of one owner.
type Episode struct {
	ID, Owner, AppID, ProjectID, SessionID, Text string
	// readsLeft: reads before the index serves it.
	readsLeft int
}

// Server is the fake.
type Server struct {
	*httptest.Server
	Faults remotetest.Faults

	mu sync.Mutex
	// Version is what /health reports ("1.2.3" when empty).
	Version string
	// BoundaryEvery extracts inline after this many buffered messages of a
	// session (0: only flush extracts).
	BoundaryEvery int
	// ReadsBeforeVisible is how many get or search calls pass before an
	// extracted episode is served (the index lag).
	ReadsBeforeVisible int
	// NoEmbedding: the server runs without an embedding provider, so
	// vector, hybrid and agentic search are refused
	// (tests/integration/test_tiers/test_tier1_keyword_only.py@994f3492:64-101).
	NoEmbedding bool
	messages    []Message
	buffered    map[string][]int // scope/session → indexes of messages not extracted
	episodes    []Episode
	profiles    map[string][]string // scope/owner → facts
	seq         int
}

// New starts a fake.
func New() *Server {
	s := &Server{buffered: map[string][]int{}, profiles: map[string][]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.locked(s.health))
	for _, prefix := range []string{"/api/v1", "/api/v2"} {
		mux.HandleFunc("POST "+prefix+"/memory/add", s.locked(s.add))
		mux.HandleFunc("POST "+prefix+"/memory/flush", s.locked(s.flush))
		mux.HandleFunc("POST "+prefix+"/memory/get", s.locked(s.get))
		mux.HandleFunc("POST "+prefix+"/memory/search", s.locked(s.search))
	}
	// Anything else — a memory delete included — is an unmatched route.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		Fail(w, r, http.StatusNotFound, "NOT_FOUND", "Not Found")
	})
	s.Server = httptest.NewServer(s.Faults.Wrap(mux))
	return s
}

func (s *Server) locked(h http.HandlerFunc) http.HandlerFunc { return remotetest.Locked(&s.mu, h) }

// Set changes knobs under the lock.
func (s *Server) Set(fn func(s *Server)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

// Messages returns every message added.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Episodes returns every extracted episode, visible or not.
func (s *Server) Episodes() []Episode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Episode(nil), s.episodes...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) requestID() string {
	s.seq++
	return fmt.Sprintf("%032x", s.seq)
}

// ok writes the success envelope {request_id, data} (docs/api.md#response-envelope).
func (s *Server) ok(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, map[string]any{"request_id": s.requestID(), "data": data})
}

// Fail writes the error envelope {request_id, error:{code, message,
// timestamp, path}} (docs/api.md#error-object; codes in
// src/everos/core/errors.py@07a7cd51:21-39).
func Fail(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	writeJSON(w, status, map[string]any{"request_id": "00000000000000000000000000000000", "error": map[string]any{
		"code": code, "message": message, "timestamp": "2026-08-07T12:00:00+00:00", "path": r.URL.Path}})
}

func invalid(w http.ResponseWriter, r *http.Request, message string) {
	Fail(w, r, http.StatusUnprocessableEntity, "INVALID_INPUT", message)
}

// health is GET /health: always 200 while up, with version, capabilities
// and the cascade (src/everos/entrypoints/api/routes/health.py@a346abce:75-126).
func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	version := s.Version
	if version == "" {
		version = "1.2.3"
	}
	disabled := []string{}
	if s.NoEmbedding {
		disabled = []string{"vector_search", "hybrid_search", "agentic_search"}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "ok", "version": version,
		"capabilities":      map[string]any{"llm": true, "embed": !s.NoEmbedding, "rerank": false, "multimodal_llm": false, "parser": true},
		"disabled_features": disabled,
		"cascade":           map[string]any{"healthy": true, "reasons": []any{}, "pending": 0, "failed_permanent": 0, "failed_retryable": 0},
	})
}

// idPattern is the sender and (1.0.1–1.2.3) scope id charset
// (src/everos/entrypoints/api/routes/memorize.py@33507bd8:64-69,
// docs/openapi.json@a346abce#/components/schemas/MemorizeAddRequest).
var idPattern = regexp.MustCompile(`^[a-zA-Z0-9_.@+-]+$`)

func validID(id string) bool {
	return len(id) >= 1 && len(id) <= 128 && id != "." && id != ".." && idPattern.MatchString(id)
}

// scopeOf reads app_id and project_id ("default" when absent).
func scopeOf(app, project *string) string {
	a, p := "default", "default"
	if app != nil {
		a = *app
	}
	if project != nil {
		p = *project
	}
	return a + "/" + p
}

// add is POST /memory/add (MemorizeAddRequest, routes/memorize.py@33507bd8:59-105):
// no message id (unknown keys are dropped), no dedupe; extraction runs
// inline when the boundary trips; always 200 with message_count and status
// (service/memorize.py@06e3f9ad:229-301).
func (s *Server) add(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SessionID string  `json:"session_id"`
		AppID     *string `json:"app_id"`
		ProjectID *string `json:"project_id"`
		Messages  []struct {
			SenderID  string `json:"sender_id"`
			Role      string `json:"role"`
			Timestamp int64  `json:"timestamp"`
			Content   any    `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		invalid(w, r, "Input should be a valid dictionary: body")
		return
	}
	switch {
	case body.SessionID == "" || len(body.SessionID) > 128:
		invalid(w, r, "String should have at least 1 character: session_id")
		return
	case (body.AppID != nil && !validID(*body.AppID)) || (body.ProjectID != nil && !validID(*body.ProjectID)):
		invalid(w, r, "String should match pattern '^[a-zA-Z0-9_.@+-]+$': app_id")
		return
	case len(body.Messages) == 0 || len(body.Messages) > 500:
		invalid(w, r, "List should have at least 1 item after validation, not 0: messages")
		return
	}
	scope := scopeOf(body.AppID, body.ProjectID)
	for i, m := range body.Messages {
		content, _ := m.Content.(string)
		switch {
		case !validID(m.SenderID):
			invalid(w, r, fmt.Sprintf("String should match pattern '^[a-zA-Z0-9_.@+-]+$': messages.%d.sender_id", i))
			return
		case m.Role != "user" && m.Role != "assistant" && m.Role != "tool":
			invalid(w, r, fmt.Sprintf("Input should be 'user', 'assistant' or 'tool': messages.%d.role", i))
			return
		case m.Timestamp <= 0:
			invalid(w, r, fmt.Sprintf("Input should be greater than 0: messages.%d.timestamp", i))
			return
		case strings.TrimSpace(content) == "":
			invalid(w, r, fmt.Sprintf("Field required: messages.%d.content", i))
			return
		}
	}
	key := scope + "/" + body.SessionID
	a, p, _ := strings.Cut(scope, "/")
	for _, m := range body.Messages {
		content, _ := m.Content.(string)
		s.messages = append(s.messages, Message{AppID: a, ProjectID: p, SessionID: body.SessionID, SenderID: m.SenderID, Role: m.Role, Content: content, Timestamp: m.Timestamp})
		s.buffered[key] = append(s.buffered[key], len(s.messages)-1)
	}
	status := "accumulated"
	if s.BoundaryEvery > 0 && len(s.buffered[key]) >= s.BoundaryEvery && s.extract(key) {
		status = "extracted"
	}
	s.ok(w, map[string]any{"message_count": len(body.Messages), "status": status})
}

// extract turns a session's buffer into one episode per distinct user-role
// sender, each owned by that sender (memory/extract/pipeline/user_memory.py@e0c03e27:109-146),
// with ids <owner>_ep_<YYYYMMDD>_<8 digits> (docs/storage_layout.md@1321df80#4),
// and grows each owner's profile (written later by OME in the server).
// A buffer without user messages writes no episode and still counts as
// extracted (:109-111).
func (s *Server) extract(key string) bool {
	idx := s.buffered[key]
	if len(idx) == 0 {
		return false
	}
	delete(s.buffered, key)
	var parts []string
	var owners []string
	first := map[string]string{}
	for _, i := range idx {
		m := s.messages[i]
		parts = append(parts, m.Content)
		if m.Role == "user" && !slices.Contains(owners, m.SenderID) {
			owners = append(owners, m.SenderID)
			first[m.SenderID] = m.Content
		}
	}
	m := s.messages[idx[0]]
	for _, owner := range owners {
		s.seq++
		s.episodes = append(s.episodes, Episode{
			ID: fmt.Sprintf("%s_ep_20260528_%08d", owner, s.seq), Owner: owner, AppID: m.AppID, ProjectID: m.ProjectID,
			SessionID: m.SessionID, Text: strings.Join(parts, " "), readsLeft: s.ReadsBeforeVisible,
		})
		pk := m.AppID + "/" + m.ProjectID + "/" + owner
		s.profiles[pk] = append(s.profiles[pk], first[owner])
	}
	return true
}

// flush is POST /memory/flush: "extracted" or, for an empty buffer,
// "no_extraction" (routes/memorize.py@33507bd8:108-183).
func (s *Server) flush(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SessionID string  `json:"session_id"`
		AppID     *string `json:"app_id"`
		ProjectID *string `json:"project_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.SessionID == "" {
		invalid(w, r, "Field required: session_id")
		return
	}
	status := "no_extraction"
	if s.extract(scopeOf(body.AppID, body.ProjectID) + "/" + body.SessionID) {
		status = "extracted"
	}
	s.ok(w, map[string]any{"status": status})
}

// readRequest is the shared part of GetRequest and SearchRequest: both
// forbid unknown fields, and take user_id XOR agent_id
// (memory/get/dto.py@137cf00d:56-113, memory/search/dto.py@3338dddf:61-123).
type readRequest struct {
	UserID    *string        `json:"user_id"`
	AgentID   *string        `json:"agent_id"`
	AppID     *string        `json:"app_id"`
	ProjectID *string        `json:"project_id"`
	Filters   map[string]any `json:"filters"`
}

func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		invalid(w, r, "Extra inputs are not permitted: "+err.Error())
		return false
	}
	return true
}

// check validates the owner and the filters: only session_id, parent_type,
// parent_id, timestamp and sender_id, with AND / OR
// (memory/search/filters.py@0d383394:37-111).
func (q readRequest) check(w http.ResponseWriter, r *http.Request) bool {
	if (q.UserID == nil) == (q.AgentID == nil) {
		invalid(w, r, "Value error, exactly one of user_id / agent_id must be provided")
		return false
	}
	for k := range q.Filters {
		switch k {
		case "session_id", "parent_type", "parent_id", "timestamp", "sender_id", "AND", "OR":
		default:
			invalid(w, r, "unsupported filter field: '"+k+"'")
			return false
		}
	}
	return true
}

// visible are the caller's episodes the index serves, oldest first; each
// read brings the pending ones closer to visible.
func (s *Server) visible(q readRequest) []Episode {
	scope := scopeOf(q.AppID, q.ProjectID)
	session, _ := q.Filters["session_id"].(string)
	var out []Episode
	for i := range s.episodes {
		e := &s.episodes[i]
		if e.readsLeft > 0 {
			e.readsLeft--
			continue
		}
		if q.UserID != nil && e.Owner == *q.UserID && e.AppID+"/"+e.ProjectID == scope && (session == "" || e.SessionID == session) {
			out = append(out, *e)
		}
	}
	return out
}

func episodeItem(e Episode) map[string]any {
	return map[string]any{
		"id": e.ID, "user_id": e.Owner, "app_id": e.AppID, "project_id": e.ProjectID, "session_id": e.SessionID,
		"timestamp": "2026-05-28T11:30:36Z", "sender_ids": []string{e.Owner}, "summary": "conversation", "subject": "conversation",
		"episode": e.Text, "type": "Conversation",
	}
}

// profile is a user's profile item, at most one (memory/get/dto.py@137cf00d:175-184).
func (s *Server) profile(q readRequest) map[string]any {
	if q.UserID == nil {
		return nil
	}
	scope := scopeOf(q.AppID, q.ProjectID)
	facts := s.profiles[scope+"/"+*q.UserID]
	if len(facts) == 0 {
		return nil
	}
	a, p, _ := strings.Cut(scope, "/")
	return map[string]any{"id": *q.UserID + "_profile", "user_id": *q.UserID, "app_id": a, "project_id": p,
		"profile_data": map[string]any{"explicit_info": facts}}
}

// get is POST /memory/get: memory_type pairs with the owner kind; page ≥ 1,
// page_size 1..100; every array present, total_count and count, no
// has_more (memory/get/dto.py@137cf00d:35-257).
func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	var body struct {
		readRequest
		MemoryType string `json:"memory_type"`
		Page       *int   `json:"page"`
		PageSize   *int   `json:"page_size"`
		SortBy     string `json:"sort_by"`
		SortOrder  string `json:"sort_order"`
	}
	if !decodeStrict(w, r, &body) || !body.check(w, r) {
		return
	}
	page, size := 1, 20
	if body.Page != nil {
		page = *body.Page
	}
	if body.PageSize != nil {
		size = *body.PageSize
	}
	switch {
	case !slices.Contains([]string{"episode", "profile", "agent_case", "agent_skill"}, body.MemoryType):
		invalid(w, r, "Input should be 'episode', 'profile', 'agent_case' or 'agent_skill': memory_type")
		return
	case (body.MemoryType == "episode" || body.MemoryType == "profile") && body.UserID == nil:
		invalid(w, r, "Value error, memory_type '"+body.MemoryType+"' requires user_id")
		return
	case page < 1 || size < 1 || size > 100:
		invalid(w, r, "Input should be less than or equal to 100: page_size")
		return
	case body.SortBy != "" && body.SortBy != "timestamp" && body.SortBy != "updated_at":
		invalid(w, r, "Input should be 'timestamp' or 'updated_at': sort_by")
		return
	}
	out := map[string]any{"episodes": []any{}, "profiles": []any{}, "agent_cases": []any{}, "agent_skills": []any{}, "total_count": 0, "count": 0}
	switch body.MemoryType {
	case "episode":
		eps := s.visible(body.readRequest)
		if body.SortOrder != "asc" {
			slices.Reverse(eps)
		}
		items := []any{}
		for _, e := range remotetest.Page(eps, page, size) {
			items = append(items, episodeItem(e))
		}
		out["episodes"], out["total_count"], out["count"] = items, len(eps), len(items)
	case "profile":
		if p := s.profile(body.readRequest); p != nil {
			out["profiles"], out["total_count"], out["count"] = []any{p}, 1, 1
		}
	}
	s.ok(w, out)
}

// search is POST /memory/search: top_k -1 or 1..100; the profile only with
// include_profile, score null; every array present
// (memory/search/dto.py@3338dddf:61-326).
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	var body struct {
		readRequest
		Query          string   `json:"query"`
		Method         string   `json:"method"`
		TopK           *int     `json:"top_k"`
		Radius         *float64 `json:"radius"`
		MinScore       *float64 `json:"min_score"`
		IncludeProfile bool     `json:"include_profile"`
		EnableRerank   bool     `json:"enable_llm_rerank"`
	}
	if !decodeStrict(w, r, &body) || !body.check(w, r) {
		return
	}
	topK := -1
	if body.TopK != nil {
		topK = *body.TopK
	}
	if body.Method == "" {
		body.Method = "hybrid"
	}
	switch {
	case strings.TrimSpace(body.Query) == "":
		invalid(w, r, "String should have at least 1 character: query")
		return
	case !slices.Contains([]string{"keyword", "vector", "hybrid", "agentic"}, body.Method):
		invalid(w, r, "Input should be 'keyword', 'vector', 'hybrid' or 'agentic': method")
		return
	case topK == 0 || topK < -1 || topK > 100:
		invalid(w, r, "Value error, top_k must be -1 or in 1..100")
		return
	case s.NoEmbedding && body.Method != "keyword":
		Fail(w, r, http.StatusUnprocessableEntity, "PROVIDER_NOT_CONFIGURED", "no embedding provider is configured: "+body.Method)
		return
	}
	episodes := []map[string]any{}
	for _, e := range s.visible(body.readRequest) {
		if score := overlap(body.Query, e.Text); score > 0 {
			item := episodeItem(e)
			item["score"], item["atomic_facts"] = score, []any{}
			episodes = append(episodes, item)
		}
	}
	slices.SortStableFunc(episodes, func(a, b map[string]any) int {
		switch x, y := a["score"].(float64), b["score"].(float64); {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return strings.Compare(a["id"].(string), b["id"].(string))
	})
	if topK > 0 && len(episodes) > topK {
		episodes = episodes[:topK]
	}
	profiles := []any{}
	if p := s.profile(body.readRequest); p != nil && body.IncludeProfile {
		p["score"] = nil
		profiles = append(profiles, p)
	}
	s.ok(w, map[string]any{"episodes": episodes, "profiles": profiles, "agent_cases": []any{}, "agent_skills": []any{}, "unprocessed_messages": []any{}})
}

// overlap is the share of query words found in text: a 0–1 score.
func overlap(query, text string) float64 {
	q := strings.Fields(strings.ToLower(query))
	t := strings.ToLower(text)
	n := 0
	for _, w := range q {
		if strings.Contains(t, strings.Trim(w, "?.!,")) {
			n++
		}
	}
	if len(q) == 0 {
		return 0
	}
	return float64(n) / float64(len(q))
}
