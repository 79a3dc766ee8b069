// Package openvikingtest is an in-process fake of the OpenViking HTTP API
// (v0.4.x) as documented: the {status, result, error} envelope and its error
// codes, trusted-mode identity headers, sessions and messages, asynchronous
// commits with a task lifecycle and a memory diff, memory search, content
// reads, memory files rewritten (content write) and removed (fs delete), and
// health. It is test code: no binary imports it.
package openvikingtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"

	"github.com/memory-gateway/memory-gateway/backends/remote/remotetest"
)

// Message is one stored session message.
type Message struct {
	Role, Content, TurnID, PeerID, CreatedAt string
}

// Memory is one extracted memory file.
type Memory struct {
	URI, Category, Abstract string
}

type task struct {
	id, status, archiveURI, diffURI string
	pollsLeft                       int
	fail                            bool
}

type session struct {
	messages  []Message
	committed int // messages archived so far
	archives  int
}

// Server is the fake. Configure it through its fields before use and its
// Faults at any time.
type Server struct {
	*httptest.Server
	Faults remotetest.Faults

	mu sync.Mutex
	// TaskPolls is how many task reads answer "running" before "completed".
	TaskPolls int
	// FailTasks makes every commit task end "failed".
	FailTasks bool
	// Precondition makes commits answer 412 FAILED_PRECONDITION.
	Precondition bool
	// Category is the category of the memories a commit extracts
	// ("preferences" when empty).
	Category string
	// IgnoreDeletes answers deletes as done but keeps everything (a backend
	// that lies; erasure verification must catch it).
	IgnoreDeletes bool
	sessions      map[string]*session // account/user/session
	memories      map[string][]Memory // account/user
	tasks         map[string]*task
	contents      map[string]string // account + " " + uri → file content (uris name no account)
	seq           int
}

// New starts a fake.
func New() *Server {
	s := &Server{
		sessions: map[string]*session{}, memories: map[string][]Memory{},
		tasks: map[string]*task{}, contents: map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "healthy": true, "version": "0.4.16-fake", "auth_mode": "trusted"})
	})
	mux.HandleFunc("POST /api/v1/sessions/{id}/messages", s.addMessage)
	mux.HandleFunc("POST /api/v1/sessions/{id}/messages/batch", s.addMessages)
	mux.HandleFunc("POST /api/v1/sessions/{id}/commit", s.commit)
	mux.HandleFunc("GET /api/v1/tasks/{id}", s.getTask)
	mux.HandleFunc("GET /api/v1/content/read", s.readContent)
	mux.HandleFunc("POST /api/v1/content/write", s.writeContent)
	mux.HandleFunc("DELETE /api/v1/fs", s.remove)
	mux.HandleFunc("GET /api/v1/fs/ls", s.list)
	mux.HandleFunc("GET /api/v1/sessions", s.listSessions)
	mux.HandleFunc("DELETE /api/v1/sessions/{id}", s.deleteSession)
	mux.HandleFunc("POST /api/v1/search/find", s.search)
	mux.HandleFunc("POST /api/v1/search/search", s.search)
	s.Server = httptest.NewServer(s.Faults.Wrap(mux))
	return s
}

// Messages returns the messages of a session.
func (s *Server) Messages(account, user, sessionID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess := s.sessions[account+"/"+user+"/"+sessionID]; sess != nil {
		return append([]Message(nil), sess.messages...)
	}
	return nil
}

// Memories returns the memories of a user.
func (s *Server) Memories(account, user string) []Memory {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Memory(nil), s.memories[account+"/"+user]...)
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

func ok(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "result": result, "time": 0.01})
}

// Fail writes OpenViking's error envelope.
func Fail(w http.ResponseWriter, status int, code, message string, details map[string]any) {
	e := map[string]any{"code": code, "message": message}
	if details != nil {
		e["details"] = details
	}
	writeJSON(w, status, map[string]any{"status": "error", "error": e, "time": 0.01})
}

// identity reads trusted-mode headers.
func identity(w http.ResponseWriter, r *http.Request) (string, string, bool) {
	account, user := r.Header.Get("X-OpenViking-Account"), r.Header.Get("X-OpenViking-User")
	if account == "" || user == "" {
		Fail(w, http.StatusUnauthorized, "UNAUTHENTICATED", "trusted mode requires X-OpenViking-Account and X-OpenViking-User", nil)
		return "", "", false
	}
	return account, user, true
}

// messageBody is one message of the add endpoints.
type messageBody struct {
	Role      string `json:"role"`
	Content   string `json:"content"`
	CreatedAt string `json:"created_at"`
	TurnID    string `json:"turn_id"`
	PeerID    string `json:"peer_id"`
}

// problems are a message's validation errors, located under at.
func (m messageBody) problems(at ...string) []any {
	var problems []any
	if m.Role != "user" && m.Role != "assistant" {
		problems = append(problems, map[string]any{"loc": append(at, "role"), "msg": "must be user or assistant"})
	}
	if strings.TrimSpace(m.Content) == "" {
		problems = append(problems, map[string]any{"loc": append(at, "content"), "msg": "content or parts is required"})
	}
	return problems
}

func (s *Server) addMessage(w http.ResponseWriter, r *http.Request) {
	account, user, okID := identity(w, r)
	if !okID {
		return
	}
	var body messageBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		Fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid JSON", nil)
		return
	}
	if problems := body.problems("body"); len(problems) > 0 {
		Fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "validation failed", map[string]any{"validation_errors": problems})
		return
	}
	id := r.PathValue("id")
	count := s.appendMessages(account, user, id, []messageBody{body})
	ok(w, map[string]any{"session_id": id, "message_count": count, "pending_tokens": 12 * count})
}

// addMessages is POST /api/v1/sessions/{id}/messages/batch: up to 100
// messages, all or none, in order.
func (s *Server) addMessages(w http.ResponseWriter, r *http.Request) {
	account, user, okID := identity(w, r)
	if !okID {
		return
	}
	var body struct {
		Messages []messageBody `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		Fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid JSON", nil)
		return
	}
	var problems []any
	if len(body.Messages) == 0 || len(body.Messages) > 100 {
		problems = append(problems, map[string]any{"loc": []string{"body", "messages"}, "msg": "must hold 1 to 100 messages"})
	}
	for i, m := range body.Messages {
		problems = append(problems, m.problems("body", "messages", strconv.Itoa(i))...)
	}
	if len(problems) > 0 {
		Fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "validation failed", map[string]any{"validation_errors": problems})
		return
	}
	id := r.PathValue("id")
	count := s.appendMessages(account, user, id, body.Messages)
	ok(w, map[string]any{"session_id": id, "message_count": count, "added": len(body.Messages)})
}

// appendMessages stores messages in a session (created on first use) and
// returns its message count.
func (s *Server) appendMessages(account, user, id string, msgs []messageBody) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := account + "/" + user + "/" + id
	sess := s.sessions[key]
	if sess == nil {
		sess = &session{}
		s.sessions[key] = sess
	}
	for _, m := range msgs {
		sess.messages = append(sess.messages, Message{Role: m.Role, Content: m.Content, TurnID: m.TurnID, PeerID: m.PeerID, CreatedAt: m.CreatedAt})
	}
	return len(sess.messages)
}

func (s *Server) commit(w http.ResponseWriter, r *http.Request) {
	account, user, okID := identity(w, r)
	if !okID {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Precondition {
		Fail(w, http.StatusPreconditionFailed, "FAILED_PRECONDITION", "an earlier archive failed", nil)
		return
	}
	sess := s.sessions[account+"/"+user+"/"+id]
	if sess == nil {
		Fail(w, http.StatusNotFound, "NOT_FOUND", "session not found", nil)
		return
	}
	if sess.committed == len(sess.messages) {
		ok(w, map[string]any{"status": "skipped", "task_id": nil, "archive_uri": nil, "archived": false, "reason": "no_messages"})
		return
	}
	fresh := sess.messages[sess.committed:]
	sess.committed = len(sess.messages)
	sess.archives++
	archive := fmt.Sprintf("viking://user/%s/sessions/%s/history/archive_%03d", user, id, sess.archives)
	diffURI := archive + "/memory_diff.json"
	category := s.Category
	if category == "" {
		category = "preferences"
	}
	var adds []map[string]any
	for _, m := range fresh {
		if m.Role != "user" {
			continue
		}
		sum := sha256.Sum256([]byte(account + user + m.Content))
		mem := Memory{
			URI:      fmt.Sprintf("viking://user/%s/memories/%s/mem_%s.md", user, category, hex.EncodeToString(sum[:6])),
			Category: category, Abstract: m.Content,
		}
		s.memories[account+"/"+user] = append(s.memories[account+"/"+user], mem)
		adds = append(adds, map[string]any{"uri": mem.URI, "memory_type": category, "after": m.Content})
	}
	diff, _ := json.Marshal(map[string]any{
		"archive_uri": archive, "extracted_at": "2026-11-25T00:00:00Z",
		"operations": map[string]any{"adds": adds, "updates": []any{}, "deletes": []any{}},
		"summary":    map[string]any{"total_adds": len(adds), "total_updates": 0, "total_deletes": 0},
	})
	s.contents[account+" "+diffURI] = string(diff)
	s.seq++
	t := &task{id: fmt.Sprintf("task-%04d", s.seq), status: "pending", archiveURI: archive, diffURI: diffURI, pollsLeft: s.TaskPolls, fail: s.FailTasks}
	s.tasks[t.id] = t
	ok(w, map[string]any{"session_id": id, "status": "accepted", "task_id": t.id, "archive_uri": archive, "archived": true})
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[r.PathValue("id")]
	if t == nil {
		Fail(w, http.StatusNotFound, "NOT_FOUND", "task not found", nil)
		return
	}
	switch {
	case t.pollsLeft > 0:
		t.pollsLeft--
		t.status = "running"
	case t.fail:
		t.status = "failed"
	default:
		t.status = "completed"
	}
	res := map[string]any{"task_id": t.id, "task_type": "session_commit", "status": t.status, "result": nil, "error": nil}
	switch t.status {
	case "completed":
		res["result"] = map[string]any{"archive_uri": t.archiveURI, "memory_diff_uri": t.diffURI, "memories_extracted": map[string]any{"preferences": 1}}
	case "failed":
		res["error"] = "VLM_FAILED: extraction failed"
	}
	ok(w, res)
}

func (s *Server) readContent(w http.ResponseWriter, r *http.Request) {
	account, _, okID := identity(w, r)
	if !okID {
		return
	}
	uri := r.URL.Query().Get("uri")
	s.mu.Lock()
	content, found := s.contents[account+" "+uri]
	if !found {
		// A memory file reads as its text.
		for k, mems := range s.memories {
			if !strings.HasPrefix(k, account+"/") {
				continue
			}
			for _, m := range mems {
				if m.URI == uri {
					content, found = m.Abstract, true
				}
			}
		}
	}
	s.mu.Unlock()
	if !found {
		Fail(w, http.StatusNotFound, "NOT_FOUND", "no such file", nil)
		return
	}
	ok(w, content)
}

// findMemory returns the index of a user's memory file (lock held), or -1.
func (s *Server) findMemory(key, uri string) int {
	for i, m := range s.memories[key] {
		if m.URI == uri {
			return i
		}
	}
	return -1
}

// writeContent rewrites a memory file: the memory's text is its content, so
// search matches the new text at once (as after wait=true). Like the real
// request model it forbids unknown fields; replace and append need the file,
// create needs it absent.
func (s *Server) writeContent(w http.ResponseWriter, r *http.Request) {
	account, user, okID := identity(w, r)
	if !okID {
		return
	}
	var body struct {
		URI     string   `json:"uri"`
		Content *string  `json:"content"`
		Mode    string   `json:"mode"`
		Wait    bool     `json:"wait"`
		Timeout *float64 `json:"timeout"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.URI == "" || body.Content == nil {
		Fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "validation failed: uri and content are required, no other fields", nil)
		return
	}
	if body.Mode == "" {
		body.Mode = "replace"
	}
	if body.Mode != "replace" && body.Mode != "append" && body.Mode != "create" {
		Fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "mode must be replace, append or create", nil)
		return
	}
	if !strings.HasPrefix(body.URI, "viking://") {
		Fail(w, http.StatusBadRequest, "INVALID_URI", "not a viking:// uri", nil)
		return
	}
	key := account + "/" + user
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findMemory(key, body.URI)
	switch {
	case body.Mode == "create" && i >= 0:
		Fail(w, http.StatusConflict, "ALREADY_EXISTS", "file already exists", nil)
		return
	case body.Mode == "create":
		s.memories[key] = append(s.memories[key], Memory{URI: body.URI, Category: category(body.URI), Abstract: *body.Content})
	case i < 0:
		Fail(w, http.StatusNotFound, "NOT_FOUND", "file not found", nil)
		return
	case body.Mode == "append":
		s.memories[key][i].Abstract += *body.Content
	default:
		s.memories[key][i].Abstract = *body.Content
	}
	status := "queued"
	if body.Wait {
		status = "complete"
	}
	ok(w, map[string]any{
		"uri": body.URI, "root_uri": body.URI[:strings.LastIndex(body.URI, "/")], "context_type": "memory", "mode": body.Mode,
		"written_bytes": len(*body.Content), "content_updated": true, "semantic_status": status, "vector_status": status,
	})
}

// remove deletes a memory file (DELETE /api/v1/fs?uri=…), or with
// recursive=true a directory: the user's root takes the user's memories and
// session histories with it. Something that is not there is 404 NOT_FOUND,
// as the real router answers.
func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	account, user, okID := identity(w, r)
	if !okID {
		return
	}
	uri := r.URL.Query().Get("uri")
	if !strings.HasPrefix(uri, "viking://") {
		Fail(w, http.StatusBadRequest, "INVALID_URI", "uri must be a viking:// uri", nil)
		return
	}
	key := account + "/" + user
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.HasSuffix(uri, "/") {
		if r.URL.Query().Get("recursive") != "true" {
			Fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "a directory needs recursive=true", nil)
			return
		}
		removed := 0
		var kept []Memory
		for _, m := range s.memories[key] {
			if strings.HasPrefix(m.URI, uri) {
				removed++
				continue
			}
			kept = append(kept, m)
		}
		root := "viking://user/" + user + "/"
		var sessions []string
		if strings.HasPrefix(root, uri) || strings.HasPrefix(root+"sessions/", uri) {
			for k := range s.sessions {
				if strings.HasPrefix(k, key+"/") {
					sessions = append(sessions, k)
				}
			}
		}
		if removed == 0 && len(sessions) == 0 {
			Fail(w, http.StatusNotFound, "NOT_FOUND", "directory not found", nil)
			return
		}
		if !s.IgnoreDeletes {
			s.memories[key] = kept
			for _, k := range sessions {
				delete(s.sessions, k)
			}
		}
		ok(w, map[string]any{"uri": uri})
		return
	}
	i := s.findMemory(key, uri)
	if i < 0 {
		Fail(w, http.StatusNotFound, "NOT_FOUND", "file not found", nil)
		return
	}
	if !s.IgnoreDeletes {
		s.memories[key] = append(s.memories[key][:i], s.memories[key][i+1:]...)
	}
	ok(w, map[string]any{"uri": uri})
}

// list lists the files below a directory (GET /api/v1/fs/ls?uri=…).
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	account, user, okID := identity(w, r)
	if !okID {
		return
	}
	uri := r.URL.Query().Get("uri")
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := []map[string]any{}
	for _, m := range s.memories[account+"/"+user] {
		if strings.HasPrefix(m.URI, uri) {
			entries = append(entries, map[string]any{"uri": m.URI, "is_dir": false, "size": len(m.Abstract)})
		}
	}
	if len(entries) == 0 && !strings.HasPrefix(uri, "viking://user/"+user+"/") {
		Fail(w, http.StatusNotFound, "NOT_FOUND", "directory not found", nil)
		return
	}
	ok(w, entries)
}

// listSessions lists the caller's sessions (GET /api/v1/sessions).
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	account, user, okID := identity(w, r)
	if !okID {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := account + "/" + user + "/"
	out := []map[string]any{}
	for k := range s.sessions {
		if id, found := strings.CutPrefix(k, prefix); found {
			out = append(out, map[string]any{"session_id": id, "uri": "viking://user/" + user + "/sessions/" + id, "is_dir": true})
		}
	}
	ok(w, out)
}

// deleteSession deletes one session (DELETE /api/v1/sessions/{id}).
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	account, user, okID := identity(w, r)
	if !okID {
		return
	}
	key := account + "/" + user + "/" + r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[key] == nil {
		Fail(w, http.StatusNotFound, "NOT_FOUND", "session not found", nil)
		return
	}
	if !s.IgnoreDeletes {
		delete(s.sessions, key)
	}
	ok(w, map[string]any{"session_id": r.PathValue("id")})
}

// Sessions lists the ids of a user's sessions.
func (s *Server) Sessions(account, user string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for k := range s.sessions {
		if id, found := strings.CutPrefix(k, account+"/"+user+"/"); found {
			ids = append(ids, id)
		}
	}
	return ids
}

// category is the memory category of a uri: …/memories/<category>/….
func category(uri string) string {
	_, rest, _ := strings.Cut(uri, "/memories/")
	c, _, _ := strings.Cut(rest, "/")
	return c
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	account, user, okID := identity(w, r)
	if !okID {
		return
	}
	var body struct {
		Query string `json:"query"`
		Limit int    `json:"limit"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || strings.TrimSpace(body.Query) == "" {
		Fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "query is required", nil)
		return
	}
	if body.Limit <= 0 {
		body.Limit = 10
	}
	s.mu.Lock()
	mems := append([]Memory(nil), s.memories[account+"/"+user]...)
	s.mu.Unlock()
	var hits []map[string]any
	for _, m := range mems {
		score := overlap(body.Query, m.Abstract)
		if score == 0 {
			continue
		}
		hits = append(hits, map[string]any{
			"uri": m.URI, "context_type": "memory", "level": 2, "score": score, "category": m.Category,
			"match_reason": "semantic", "abstract": m.Abstract, "overview": nil,
		})
	}
	sortByScore(hits)
	if len(hits) > body.Limit {
		hits = hits[:body.Limit]
	}
	ok(w, map[string]any{"memories": hits, "resources": []any{}, "skills": []any{}, "total": len(hits)})
}

// overlap is the share of query words found in text: a 0–1 score.
func overlap(query, text string) float64 {
	q := strings.Fields(strings.ToLower(query))
	t := strings.ToLower(text)
	if len(q) == 0 {
		return 0
	}
	n := 0
	for _, w := range q {
		if strings.Contains(t, strings.Trim(w, "?.!,")) {
			n++
		}
	}
	return float64(n) / float64(len(q))
}

func sortByScore(hits []map[string]any) {
	for i := 1; i < len(hits); i++ {
		for j := i; j > 0 && hits[j]["score"].(float64) > hits[j-1]["score"].(float64); j-- {
			hits[j], hits[j-1] = hits[j-1], hits[j]
		}
	}
}

// SeedMemories adds n memory files for a user directly (benchmarks), and
// returns their uris.
func (s *Server) SeedMemories(account, user string, n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	uris := make([]string, n)
	for i := range n {
		uri := fmt.Sprintf("viking://user/%s/memories/preferences/seed_%06d.md", user, i)
		s.memories[account+"/"+user] = append(s.memories[account+"/"+user], Memory{URI: uri, Category: "preferences", Abstract: fmt.Sprintf("seeded memory %d", i)})
		uris[i] = uri
	}
	return uris
}
