// Package evermemostest is an in-process fake of the EverMemOS (EverCore v1)
// HTTP API as documented: the {data} envelope and {code, message} errors,
// 422 validation failures, the personal-scene sender rules, messages that
// accumulate until a boundary or a flush extracts an episode, the profile,
// get, hybrid search with unbounded keyword scores, delete and health. It is
// test code: no binary imports it.
package evermemostest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"

	"github.com/memory-gateway/memory-gateway/backends/remote/remotetest"
)

// Message is one stored message.
type Message struct {
	UserID, SessionID, Role, Content, MessageID, SenderID string
	Timestamp                                             int64
}

// Episode is one extracted episodic memory.
type Episode struct {
	ID, UserID, SessionID, Episode, Summary string
	Deleted                                 bool
}

// Server is the fake.
type Server struct {
	*httptest.Server
	Faults remotetest.Faults

	mu sync.Mutex
	// BoundaryEvery extracts an episode inline after this many pending
	// messages of a session (0: only flush extracts).
	BoundaryEvery int
	// IgnoreDeletes answers deletes with 204 but keeps everything (a
	// backend that lies; erasure verification must catch it).
	IgnoreDeletes bool
	messages      []Message
	pending       map[string][]Message // user/session → not yet extracted
	episodes      []Episode
	profiles      map[string]map[string]any // user → profile data
	seq           int
}

// New starts a fake.
func New() *Server {
	s := &Server{pending: map[string][]Message{}, profiles: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "healthy", "timestamp": "2026-11-25T00:00:00Z", "message": "System running normally"})
	})
	mux.HandleFunc("POST /api/v1/memories", s.add)
	mux.HandleFunc("POST /api/v1/memories/flush", s.flush)
	mux.HandleFunc("POST /api/v1/memories/get", s.get)
	mux.HandleFunc("POST /api/v1/memories/search", s.search)
	mux.HandleFunc("POST /api/v1/memories/delete", s.delete)
	s.Server = httptest.NewServer(s.Faults.Wrap(mux))
	return s
}

// Messages returns every stored message.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Episodes returns every episode, deleted ones included.
func (s *Server) Episodes() []Episode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Episode(nil), s.episodes...)
}

// Set changes knobs under the lock.
func (s *Server) Set(fn func(s *Server)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func data(w http.ResponseWriter, v any) { writeJSON(w, http.StatusOK, map[string]any{"data": v}) }

// Fail writes EverMemOS's error body.
func Fail(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	writeJSON(w, status, map[string]any{"code": code, "message": message, "request_id": "req-fake", "timestamp": "2026-11-25T00:00:00Z", "path": r.URL.Path})
}

func (s *Server) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s_%04d", prefix, s.seq)
}

func (s *Server) add(w http.ResponseWriter, r *http.Request) {
	var body struct {
		UserID    string `json:"user_id"`
		SessionID string `json:"session_id"`
		Messages  []struct {
			Role      string `json:"role"`
			Timestamp *int64 `json:"timestamp"`
			Content   any    `json:"content"`
			MessageID string `json:"message_id"`
			SenderID  string `json:"sender_id"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "invalid JSON")
		return
	}
	switch {
	case body.UserID == "":
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "user_id is required")
		return
	case body.SessionID == "-1":
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "session_id -1 is reserved")
		return
	case len(body.Messages) == 0 || len(body.Messages) > 500:
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "messages must hold 1 to 500 items")
		return
	}
	var stored []Message
	for _, m := range body.Messages {
		content, _ := m.Content.(string)
		switch {
		case m.Role != "user" && m.Role != "assistant":
			Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "role must be user or assistant")
			return
		case m.Timestamp == nil:
			Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "timestamp is required")
			return
		case strings.TrimSpace(content) == "":
			Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "content must not be empty")
			return
		case m.Role == "user" && m.SenderID != "" && m.SenderID != body.UserID:
			Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "a user message's sender_id must be the user_id")
			return
		case m.Role == "assistant" && m.SenderID == body.UserID:
			Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "an assistant message cannot be sent as the user")
			return
		}
		stored = append(stored, Message{
			UserID: body.UserID, SessionID: body.SessionID, Role: m.Role, Content: content,
			MessageID: m.MessageID, SenderID: m.SenderID, Timestamp: *m.Timestamp,
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := body.UserID + "/" + body.SessionID
	s.messages = append(s.messages, stored...)
	s.pending[key] = append(s.pending[key], stored...)
	status := "accumulated"
	if s.BoundaryEvery > 0 && len(s.pending[key]) >= s.BoundaryEvery {
		s.extract(body.UserID, body.SessionID)
		status = "extracted"
	}
	data(w, map[string]any{"request_id": s.nextID("req"), "message_count": len(stored), "status": status, "message": "Messages accepted"})
}

// extract turns a session's pending messages into an episode and updates the
// user's profile (lock held).
func (s *Server) extract(user, sessionID string) bool {
	key := user + "/" + sessionID
	pending := s.pending[key]
	if len(pending) == 0 {
		return false
	}
	var parts []string
	for _, m := range pending {
		parts = append(parts, m.Content)
	}
	s.episodes = append(s.episodes, Episode{
		ID: s.nextID("ep"), UserID: user, SessionID: sessionID,
		Episode: strings.Join(parts, " "), Summary: "conversation of " + user,
	})
	if s.profiles[user] == nil {
		s.profiles[user] = map[string]any{"explicit_info": []any{}}
	}
	s.profiles[user]["explicit_info"] = append(s.profiles[user]["explicit_info"].([]any), parts[0])
	delete(s.pending, key)
	return true
}

func (s *Server) flush(w http.ResponseWriter, r *http.Request) {
	var body struct {
		UserID    string `json:"user_id"`
		SessionID string `json:"session_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.UserID == "" {
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "user_id is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	status := "no_extraction"
	if s.extract(body.UserID, body.SessionID) {
		status = "extracted"
	}
	data(w, map[string]any{"request_id": s.nextID("req"), "status": status, "message": "Flush completed"})
}

func (s *Server) profileID(user string) string { return "prof_" + user }

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	var body struct {
		MemoryType string            `json:"memory_type"`
		Filters    map[string]string `json:"filters"`
		Page       int               `json:"page"`
		PageSize   int               `json:"page_size"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Filters["user_id"] == "" {
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "filters must contain user_id or group_id")
		return
	}
	if body.Page < 1 {
		body.Page = 1
	}
	if body.PageSize < 1 || body.PageSize > 100 {
		body.PageSize = 20
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]any{"episodes": []any{}, "profiles": []any{}, "agent_cases": []any{}, "agent_skills": []any{}}
	switch body.MemoryType {
	case "episodic_memory":
		var eps []any
		for _, e := range s.episodes {
			if e.Deleted || e.UserID != body.Filters["user_id"] || (body.Filters["session_id"] != "" && e.SessionID != body.Filters["session_id"]) {
				continue
			}
			eps = append(eps, map[string]any{"id": e.ID, "user_id": e.UserID, "session_id": e.SessionID, "episode": e.Episode, "summary": e.Summary})
		}
		from := min(len(eps), (body.Page-1)*body.PageSize)
		to := min(len(eps), from+body.PageSize)
		out["episodes"], out["total_count"], out["count"] = eps[from:to], len(eps), to-from
	case "profile":
		if p, found := s.profiles[body.Filters["user_id"]]; found {
			out["profiles"] = []any{map[string]any{"id": s.profileID(body.Filters["user_id"]), "user_id": body.Filters["user_id"], "profile_data": p}}
			out["total_count"], out["count"] = 1, 1
		}
	default:
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "unsupported memory_type")
		return
	}
	data(w, out)
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Query       string            `json:"query"`
		Method      string            `json:"method"`
		MemoryTypes []string          `json:"memory_types"`
		TopK        *int              `json:"top_k"`
		Filters     map[string]string `json:"filters"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "invalid JSON")
		return
	}
	switch {
	case strings.TrimSpace(body.Query) == "":
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "query must not be empty")
		return
	case body.Method == "rrf":
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "method rrf is not accepted")
		return
	case body.TopK != nil && *body.TopK == 0:
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "top_k must not be 0")
		return
	case body.Filters["user_id"] == "" && body.Filters["group_id"] == "":
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "filters must contain user_id or group_id")
		return
	}
	topK := 100
	if body.TopK != nil && *body.TopK > 0 {
		topK = *body.TopK
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var episodes, profiles []map[string]any
	for _, e := range s.episodes {
		if e.Deleted || e.UserID != body.Filters["user_id"] {
			continue
		}
		if score := keywordScore(body.Query, e.Episode); score > 0 {
			episodes = append(episodes, map[string]any{"id": e.ID, "user_id": e.UserID, "session_id": e.SessionID, "episode": e.Episode, "summary": e.Summary, "score": score})
		}
	}
	if p, found := s.profiles[body.Filters["user_id"]]; found {
		raw, _ := json.Marshal(p)
		if score := keywordScore(body.Query, string(raw)); score > 0 {
			profiles = append(profiles, map[string]any{"id": s.profileID(body.Filters["user_id"]), "user_id": body.Filters["user_id"], "profile_data": p, "score": score})
		}
	}
	sort.SliceStable(episodes, func(i, j int) bool { return episodes[i]["score"].(float64) > episodes[j]["score"].(float64) })
	if len(episodes) > topK {
		episodes = episodes[:topK]
	}
	data(w, map[string]any{
		"episodes": episodes, "profiles": profiles, "raw_messages": []any{}, "agent_memory": nil,
		"query": map[string]any{"text": body.Query, "method": body.Method, "filters_applied": body.Filters},
	})
}

// keywordScore is an unbounded BM25-like score: matched words × 3.7.
func keywordScore(query, text string) float64 {
	t := strings.ToLower(text)
	n := 0
	for _, w := range strings.Fields(strings.ToLower(query)) {
		if w = strings.Trim(w, "?.!,"); len(w) > 2 && strings.Contains(t, w) {
			n++
		}
	}
	return float64(n) * 3.7
}

// delete soft-deletes episodes, in one of the DTO's two exclusive modes: a
// memory_id alone, or filters (user_id and/or group_id required, session_id
// optional; group_id is the solo group, which this fake does not model).
// Search and get skip deleted episodes. Deleting what is gone or unknown is a
// 204 too.
func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	var body struct {
		MemoryID  *string `json:"memory_id"`
		UserID    *string `json:"user_id"`
		GroupID   *string `json:"group_id"`
		SessionID *string `json:"session_id"`
		SenderID  *string `json:"sender_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "invalid JSON")
		return
	}
	byID := body.MemoryID != nil
	switch {
	case byID && (body.UserID != nil || body.GroupID != nil || body.SessionID != nil || body.SenderID != nil):
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "When memory_id is provided, no other fields (user_id, group_id, session_id, sender_id) are allowed")
		return
	case !byID && body.UserID == nil && body.GroupID == nil:
		Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", "Either memory_id must be provided, or at least one of user_id / group_id is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.IgnoreDeletes {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !byID && body.UserID != nil && body.SessionID == nil && body.SenderID == nil {
		// A whole user's memories: the profile and what is not extracted
		// yet go too.
		delete(s.profiles, *body.UserID)
		for k := range s.pending {
			if strings.HasPrefix(k, *body.UserID+"/") {
				delete(s.pending, k)
			}
		}
	}
	for i := range s.episodes {
		e := &s.episodes[i]
		switch {
		case byID:
			if e.ID != *body.MemoryID {
				continue
			}
		case body.UserID == nil || e.UserID != *body.UserID:
			continue
		case body.SessionID != nil && e.SessionID != *body.SessionID:
			continue
		}
		e.Deleted = true
	}
	w.WriteHeader(http.StatusNoContent)
}

// SeedEpisodes adds n episodes for a user directly (benchmarks), and
// returns their ids.
func (s *Server) SeedEpisodes(user string, n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, n)
	for i := range n {
		ids[i] = s.nextID("ep")
		s.episodes = append(s.episodes, Episode{ID: ids[i], UserID: user, SessionID: "seed", Episode: fmt.Sprintf("seeded episode %d", i)})
	}
	return ids
}
