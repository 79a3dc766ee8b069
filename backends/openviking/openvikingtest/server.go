// Package openvikingtest is an in-process fake of the OpenViking HTTP API
// that behaves like the real server's source, rule by rule. Every rule
// cites the file and lines of volcengine/OpenViking v0.4.16-9 (commit
// 6e944cc3e, the newest source readable here) that decide it; paths below
// are in that repository.
//
// The fake keeps a small virtual filesystem per account, laid out as the
// real server lays out a user's data: viking://user/{u}/memories/…,
// …/peers/{p}/memories/…, …/sessions/{sid}/messages.jsonl and
// …/sessions/{sid}/history/archive_NNN/memory_diff.json. Listings, deletes,
// reads and writes act on that tree with the real server's guards, limits
// and answers. It is test code: no binary imports it.
package openvikingtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
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

// Server is the fake. Configure it through Set and its Faults at any time.
type Server struct {
	*httptest.Server
	Faults remotetest.Faults

	mu sync.Mutex
	// RootKey, when set, must be sent by every trusted-mode request
	// (openviking/server/auth/plugins/trusted.py:98-107).
	RootKey string
	// APIKeyMode: users are registered with keys of their own
	// (RegisterUser) and the root key is ROOT; without it the server runs
	// in trusted mode.
	APIKeyMode bool
	// TaskPolls is how many task reads answer "running" before the task
	// ends.
	TaskPolls int
	// FailTasks makes commit tasks end "failed" (Phase 2 failed: no memory
	// diff, a .failed.json; openviking/session/session.py:2806-2820).
	FailTasks bool
	// OmitDiffURI makes completed commit tasks answer without
	// memory_diff_uri, as a task recovered from an archive already done
	// does (openviking/session/session.py:2210-2224).
	OmitDiffURI bool
	// Precondition makes commits answer 412 FAILED_PRECONDITION.
	Precondition bool
	// Category is the category of the memories a commit extracts
	// ("preferences" when empty): preferences, events, entities or profile.
	Category string
	// NextCommitDeletes are memory files the next extraction deletes (the
	// diff's deletes).
	NextCommitDeletes []string
	// IgnoreDeletes answers deletes as done but keeps everything (a backend
	// that lies; erasure verification must catch it).
	IgnoreDeletes bool
	conflicts     int

	fs       map[string]map[string]*node // account → uri → node
	tasks    map[string]*task
	userKeys map[string][2]string // key → account, user (registered users)
	deleting map[string]string    // account/user → user_delete task id
	seq      int
}

// node is a file or directory of the virtual filesystem.
type node struct {
	dir     bool
	content string
	// messages are a session's messages.jsonl; committed counts those
	// archived, archives the archives made.
	messages  []Message
	committed int
	archives  int
}

// New starts a fake.
func New() *Server {
	s := &Server{fs: map[string]map[string]*node{}, tasks: map[string]*task{}, userKeys: map[string][2]string{}, deleting: map[string]string{}}
	mux := http.NewServeMux()
	// /health is liveness only: always ok (openviking/server/routers/system.py:70-107).
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "healthy": true, "version": "0.4.16-fake", "auth_mode": "trusted"})
	})
	// /ready checks storage (openviking/server/routers/system.py:110-200).
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": map[string]any{
			"agfs": map[string]any{"status": "ok", "checks": map[string]any{"filesystem": "ok"}}, "vectordb": "ok",
			"api_key_manager": "not_configured", "embedding": "ok", "ollama": "not_configured",
		}})
	})
	s.route(mux, "POST /api/v1/sessions/{id}/messages", s.addMessage)
	s.route(mux, "POST /api/v1/sessions/{id}/messages/batch", s.addMessages)
	s.route(mux, "POST /api/v1/sessions/{id}/commit", s.commit)
	s.route(mux, "GET /api/v1/sessions", s.listSessions)
	s.route(mux, "GET /api/v1/sessions/{id}", s.getSession)
	s.route(mux, "DELETE /api/v1/sessions/{id}", s.deleteSession)
	s.route(mux, "GET /api/v1/tasks/{id}", s.getTask)
	s.route(mux, "GET /api/v1/tasks", s.listTasks)
	s.route(mux, "POST /api/v1/tasks/{id}/cancel", s.cancelTask)
	s.route(mux, "GET /api/v1/content/read", s.readContent)
	s.route(mux, "POST /api/v1/content/write", s.writeContent)
	s.route(mux, "DELETE /api/v1/fs", s.remove)
	s.route(mux, "GET /api/v1/fs/ls", s.ls)
	s.route(mux, "GET /api/v1/fs/tree", s.tree)
	s.route(mux, "POST /api/v1/search/find", s.find)
	s.route(mux, "POST /api/v1/search/search", s.search)
	s.route(mux, "DELETE /api/v1/admin/accounts/{account}/users/{user}", s.adminDeleteUser)
	s.route(mux, "GET /api/v1/admin/accounts/{account}/users/{user}/settings", s.adminUserSettings)
	s.Server = httptest.NewServer(s.Faults.Wrap(mux))
	return s
}

// handler is a route's work once the caller is known, under the lock.
type handler func(w http.ResponseWriter, r *http.Request, c caller)

// route resolves the caller, then serves the route under the lock.
func (s *Server) route(mux *http.ServeMux, pattern string, h handler) {
	mutating := !strings.HasPrefix(pattern, "GET ")
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		c, ok := s.identify(w, r)
		if !ok {
			return
		}
		if mutating && s.conflicts > 0 {
			s.conflicts--
			// A busy path lock (openviking/server/error_mapping.py:449-456).
			Fail(w, http.StatusConflict, "CONFLICT", "Resource is being processed: "+r.URL.Path,
				map[string]any{"resource": nil, "uri": nil, "conflict_type": "path_busy", "retryable": true})
			return
		}
		h(w, r, c)
	})
}

// ConflictNext makes the next n mutating requests answer 409 CONFLICT with
// details.retryable, as a busy path lock does.
func (s *Server) ConflictNext(n int) { s.Set(func(s *Server) { s.conflicts = n }) }

// Set changes knobs under the lock.
func (s *Server) Set(fn func(s *Server)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

// RegisterUser registers a user with its own key, as the admin API does:
// requests with that key act as the user (api_key mode,
// openviking/server/auth/plugins/api_key.py:68-105), and the admin user
// deletion can remove it.
func (s *Server) RegisterUser(account, user, key string) {
	s.Set(func(s *Server) { s.userKeys[key] = [2]string{account, user} })
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ok writes the success envelope; bare Response models carry the null
// top-level keys too (openviking/server/models.py:18-25).
func ok(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "result": result, "error": nil, "telemetry": nil, "profile": nil})
}

// Fail writes OpenViking's error envelope; details is always an object
// (openviking_cli/exceptions.py:15-19, openviking/server/app.py:488-502).
func Fail(w http.ResponseWriter, status int, code, message string, details map[string]any) {
	if details == nil {
		details = map[string]any{}
	}
	writeJSON(w, status, map[string]any{"status": "error", "result": nil, "telemetry": nil, "profile": nil,
		"error": map[string]any{"code": code, "message": message, "details": details}})
}

func invalidArgument(w http.ResponseWriter, message string) {
	Fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", message, nil)
}

// decode reads a JSON body; forbid refuses unknown fields as the request
// models with extra="forbid" do, with the validation answer of
// openviking/server/app.py:504-525.
func decode(w http.ResponseWriter, r *http.Request, v any, forbid bool) bool {
	dec := json.NewDecoder(r.Body)
	if forbid {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		message := "Invalid request parameters: body: " + err.Error()
		if forbid && strings.Contains(err.Error(), "unknown field") {
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			message = "Invalid request parameters: body." + field + ": Extra inputs are not permitted"
		}
		Fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", message, map[string]any{"validation_errors": []any{map[string]any{"message": err.Error()}}})
		return false
	}
	return true
}

func (s *Server) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s-%04d", prefix, s.seq)
}
