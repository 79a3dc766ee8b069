package openvikingtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// task is a task record (openviking/service/task_tracker.py:45-96).
type task struct {
	id, taskType, status, account, user, resourceID string
	// archive is a commit's archive; system marks tasks owned by the
	// system (a root caller's user deletion, user_deletion.py:136-143).
	archive   string
	system    bool
	pollsLeft int
	fail      bool
	result    map[string]any
	errorText any
}

// sessionURI is where a session lives: viking://user/{u}/sessions/{sid}
// (openviking/core/namespace.py:157-173; session ids are not validated,
// but "." and ".." are refused, openviking/storage/viking_fs/_access.py:99-122).
func sessionURI(c caller, id string) string { return c.userRoot() + "/sessions/" + id }

// session is a session's messages.jsonl node, created on first use
// (openviking/server/routers/sessions.py:737).
func (s *Server) session(c caller, id string, create bool) *node {
	uri := sessionURI(c, id) + "/messages.jsonl"
	n := s.files(c.account)[uri]
	if n == nil && create {
		s.writeFile(c.account, sessionURI(c, id)+"/.meta.json", "{}")
		n = &node{}
		s.files(c.account)[uri] = n
	}
	return n
}

// Messages returns the messages of a session.
func (s *Server) Messages(account, user, sessionID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.session(caller{account: account, user: user}, sessionID, false); n != nil {
		return append([]Message(nil), n.messages...)
	}
	return nil
}

// Sessions lists the ids of a user's sessions.
func (s *Server) Sessions(account, user string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionIDs(caller{account: account, user: user})
}

func (s *Server) sessionIDs(c caller) []string {
	var ids []string
	for _, uri := range s.children(c.account, c.userRoot()+"/sessions", false) {
		if s.files(c.account)[uri].dir {
			ids = append(ids, name(uri))
		}
	}
	return ids
}

// messageBody is AddMessageRequest: extra fields are allowed, role is any
// string, content or parts is required, peer_id follows the id rule
// (openviking/server/routers/sessions.py:128-159, openviking/core/peer_id.py:10-17).
type messageBody struct {
	Role      string `json:"role"`
	Content   string `json:"content"`
	Parts     any    `json:"parts"`
	CreatedAt string `json:"created_at"`
	TurnID    string `json:"turn_id"`
	PeerID    string `json:"peer_id"`
}

func (m messageBody) problem(at string) string {
	if strings.TrimSpace(m.Content) == "" && m.Parts == nil {
		return "Invalid request parameters: " + at + ": content or parts is required"
	}
	if m.PeerID != "" {
		if p := idProblem(m.PeerID, "peer_id", false); p != "" {
			return "Invalid request parameters: " + at + ".peer_id: Invalid peer_id: " + p
		}
	}
	return ""
}

// addMessage is POST /api/v1/sessions/{id}/messages. No dedupe by turn_id:
// the same message again is appended again (sessions.py:713-775).
func (s *Server) addMessage(w http.ResponseWriter, r *http.Request, c caller) {
	var body messageBody
	if !decode(w, r, &body, false) {
		return
	}
	if p := body.problem("body"); p != "" {
		invalidArgument(w, p)
		return
	}
	id := r.PathValue("id")
	count := s.appendMessages(c, id, []messageBody{body})
	ok(w, map[string]any{"session_id": id, "message_count": count, "pending_tokens": 12 * count})
}

// addMessages is POST …/messages/batch: at most 100, all or none
// (sessions.py:162-166, :778-832).
func (s *Server) addMessages(w http.ResponseWriter, r *http.Request, c caller) {
	var body struct {
		Messages []messageBody `json:"messages"`
	}
	if !decode(w, r, &body, false) {
		return
	}
	if len(body.Messages) == 0 || len(body.Messages) > 100 {
		invalidArgument(w, "Invalid request parameters: body.messages: List should have at most 100 items")
		return
	}
	for i, m := range body.Messages {
		if p := m.problem(fmt.Sprintf("body.messages.%d", i)); p != "" {
			invalidArgument(w, p)
			return
		}
	}
	id := r.PathValue("id")
	count := s.appendMessages(c, id, body.Messages)
	ok(w, map[string]any{"session_id": id, "message_count": count, "added": len(body.Messages), "pending_tokens": 12 * count})
}

func (s *Server) appendMessages(c caller, id string, msgs []messageBody) int {
	n := s.session(c, id, true)
	for _, m := range msgs {
		n.messages = append(n.messages, Message{Role: m.Role, Content: m.Content, TurnID: m.TurnID, PeerID: m.PeerID, CreatedAt: m.CreatedAt})
	}
	return len(n.messages)
}

// commit is POST /api/v1/sessions/{id}/commit: an unknown session is 404;
// nothing new is "skipped" with reason no_messages; otherwise the messages
// are archived at once (Phase 1) and a session_commit task extracts
// memories (Phase 2) (sessions.py:592-699, openviking/session/session.py:1870-2187).
func (s *Server) commit(w http.ResponseWriter, r *http.Request, c caller) {
	id := r.PathValue("id")
	if s.Precondition {
		Fail(w, http.StatusPreconditionFailed, "FAILED_PRECONDITION", "an earlier archive failed", nil)
		return
	}
	n := s.session(c, id, false)
	if n == nil {
		Fail(w, http.StatusNotFound, "NOT_FOUND", "Session not found: "+id, map[string]any{"type": "session", "resource": id})
		return
	}
	if n.committed == len(n.messages) {
		ok(w, map[string]any{"session_id": id, "status": "skipped", "task_id": nil, "archive_uri": nil, "archived": false, "reason": "no_messages", "trace_id": nil})
		return
	}
	fresh := n.messages[n.committed:]
	n.committed = len(n.messages)
	n.archives++
	// archive_NNN, zero-padded (session.py:2046-2049).
	archive := fmt.Sprintf("%s/history/archive_%03d", sessionURI(c, id), n.archives)
	lines, _ := json.Marshal(fresh)
	s.writeFile(c.account, archive+"/messages.jsonl", string(lines))
	t := &task{
		id: s.nextID("task"), taskType: "session_commit", status: "pending", account: c.account, user: c.user,
		resourceID: id, archive: archive, pollsLeft: s.TaskPolls, fail: s.FailTasks,
	}
	s.tasks[t.id] = t
	ok(w, map[string]any{"session_id": id, "status": "accepted", "task_id": t.id, "archive_uri": archive, "archived": true,
		"trace_id": nil, "estimated_active_tokens": 0, "budget_exceeded": false})
}

// advance moves a task on by one look: running while polls are left, then
// its end (the work happens at the end).
func (s *Server) advance(t *task) {
	if t.status != "pending" && t.status != "running" {
		return
	}
	if t.pollsLeft > 0 {
		t.pollsLeft--
		t.status = "running"
		return
	}
	s.finish(t)
}

// finish ends a task: a commit's Phase 2 extracts memories and writes the
// archive's memory_diff.json, or fails with .failed.json
// (openviking/session/session.py:2651-2656, :2759-2820); a user deletion
// removes the user (openviking/service/user_deletion.py:256-357).
func (s *Server) finish(t *task) {
	switch {
	case t.taskType == "user_delete" && s.IgnoreDeletes:
		delete(s.deleting, t.account+"/"+t.user)
		t.status, t.result = "completed", map[string]any{"deleted": true, "stale": false}
	case t.taskType == "user_delete":
		s.removeTree(t.account, "viking://user/"+t.user)
		for id, other := range s.tasks {
			if other.account == t.account && other.user == t.user {
				delete(s.tasks, id)
			}
		}
		for key, who := range s.userKeys {
			if who == [2]string{t.account, t.user} {
				delete(s.userKeys, key)
			}
		}
		delete(s.deleting, t.account+"/"+t.user)
		t.status, t.result = "completed", map[string]any{"deleted": true, "stale": false}
	case t.fail:
		s.writeFile(t.account, t.archive+"/.failed.json", `{"stage":"extract","error":"VLM_FAILED"}`)
		t.status, t.errorText = "failed", "VLM_FAILED: extraction failed"
	default:
		diffURI := t.archive + "/memory_diff.json"
		s.extract(t, diffURI)
		t.status = "completed"
		t.result = map[string]any{"session_id": t.resourceID, "archive_uri": t.archive, "memories_extracted": map[string]any{"memory_write": 1}}
		if !s.OmitDiffURI {
			t.result["memory_diff_uri"] = diffURI
		}
	}
}

// extract turns the archived user messages into memory files. Only
// user-role messages decide where memories go: a user message with a
// peer_id files them under peers/{peer}/memories
// (openviking/session/memory/memory_isolation_handler.py:29-33, :71-84).
// Paths follow the memory templates: preferences/{user}/…,
// events/YYYY/MM/DD/…, entities/{kind}/…, profile.md
// (openviking/prompts/templates/memory/*.yaml). The diff lists adds,
// updates and deletes (openviking/session/compressor_v3.py:250-349).
func (s *Server) extract(t *task, diffURI string) {
	var msgs []Message
	_ = json.Unmarshal([]byte(s.files(t.account)[t.archive+"/messages.jsonl"].content), &msgs)
	cat := s.Category
	if cat == "" {
		cat = "preferences"
	}
	adds, updates, deletes := []any{}, []any{}, []any{}
	for _, m := range msgs {
		if m.Role != "user" {
			continue
		}
		root := "viking://user/" + t.user + "/memories"
		if m.PeerID != "" {
			root = "viking://user/" + t.user + "/peers/" + m.PeerID + "/memories"
		}
		sum := sha256.Sum256([]byte(t.account + t.user + m.Content))
		file := "mem_" + hex.EncodeToString(sum[:6]) + ".md"
		var uri string
		switch cat {
		case "events":
			uri = root + "/events/2026/05/01/" + file
		case "entities":
			uri = root + "/entities/people/" + file
		case "profile":
			uri = root + "/profile.md"
		default:
			uri = root + "/" + cat + "/" + t.user + "/" + file
		}
		content := m.Content
		prior := s.files(t.account)[uri]
		if prior != nil && cat == "profile" {
			content = prior.content + "\n" + m.Content
		}
		switch {
		case prior == nil:
			adds = append(adds, map[string]any{"uri": uri, "memory_type": cat, "after": content})
		case prior.content != content:
			updates = append(updates, map[string]any{"uri": uri, "memory_type": cat, "before": prior.content, "after": content})
		}
		s.writeFile(t.account, uri, content)
	}
	for _, uri := range s.NextCommitDeletes {
		if n := s.files(t.account)[uri]; n != nil {
			deletes = append(deletes, map[string]any{"uri": uri, "memory_type": category(uri), "deleted_content": n.content})
			delete(s.files(t.account), uri)
		}
	}
	s.NextCommitDeletes = nil
	diff, _ := json.MarshalIndent(map[string]any{
		"archive_uri": t.archive, "trace_id": nil, "extracted_at": "2026-05-01T12:00:35.123456Z",
		"operations": map[string]any{"adds": adds, "updates": updates, "deletes": deletes},
		"summary":    map[string]any{"total_adds": len(adds), "total_updates": len(updates), "total_deletes": len(deletes)},
	}, "", "    ")
	s.writeFile(t.account, diffURI, string(diff))
	s.writeFile(t.account, t.archive+"/.done", "")
}

// ExpireTasks ends every task still running (its work done, as the
// server's queue does) and forgets every task record, as the task
// tracker's TTL does 24 h after completion and 7 d after failure
// (openviking/service/task_tracker.py:251-326).
func (s *Server) ExpireTasks() {
	s.Set(func(s *Server) {
		for id, t := range s.tasks {
			t.pollsLeft = 0
			s.advance(t)
			delete(s.tasks, id)
		}
	})
}

// record is a task as the API shows it (task_tracker.py:67-96).
func (t *task) record() map[string]any {
	return map[string]any{
		"task_id": t.id, "task_type": t.taskType, "status": t.status, "created_at": 1746100800.12, "updated_at": 1746100835.55,
		"resource_id": t.resourceID, "meta": map[string]any{}, "stage": nil, "result": t.result, "error": t.errorText,
	}
}

// visibleTask: non-root callers see only their own tasks; anything else,
// expired ones included, is 404 (openviking/server/routers/tasks.py:28-55).
func (s *Server) visibleTask(w http.ResponseWriter, r *http.Request, c caller) *task {
	t := s.tasks[r.PathValue("id")]
	if t == nil || (c.root && !t.system) || (!c.root && (t.system || t.account != c.account || t.user != c.user)) {
		Fail(w, http.StatusNotFound, "NOT_FOUND", "Task not found or expired", map[string]any{"resource": r.PathValue("id"), "type": "task"})
		return nil
	}
	return t
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request, c caller) {
	if t := s.visibleTask(w, r, c); t != nil {
		s.advance(t)
		ok(w, t.record())
	}
}

// listTasks is GET /api/v1/tasks: exact filters, the caller's own tasks,
// limit ≤ 200 (tasks.py:84-124).
func (s *Server) listTasks(w http.ResponseWriter, r *http.Request, c caller) {
	q := r.URL.Query()
	limit := intParam(r, "limit", 50)
	if limit > 200 {
		invalidArgument(w, "Invalid request parameters: query.limit: Input should be less than or equal to 200")
		return
	}
	ids := make([]string, 0, len(s.tasks))
	for id := range s.tasks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := []any{}
	for _, id := range ids {
		t := s.tasks[id]
		if t.system || t.account != c.account || t.user != c.user ||
			(q.Get("task_type") != "" && t.taskType != q.Get("task_type")) || (q.Get("status") != "" && t.status != q.Get("status")) {
			continue
		}
		if len(out) < limit {
			out = append(out, t.record())
		}
	}
	ok(w, out)
}

// cancelTask is POST /api/v1/tasks/{id}/cancel: a commit in progress is
// cancelled (its archive gets .failed.json); a finished one is 412
// (tasks.py:58-81, task_tracker.py:618-680, session.py:2189-2195).
func (s *Server) cancelTask(w http.ResponseWriter, r *http.Request, c caller) {
	if c.root {
		Fail(w, http.StatusForbidden, "PERMISSION_DENIED", "ROOT may not cancel tasks", nil)
		return
	}
	t := s.visibleTask(w, r, c)
	switch {
	case t == nil:
		return
	case t.status == "cancelled":
	case t.taskType != "session_commit":
		Fail(w, http.StatusPreconditionFailed, "FAILED_PRECONDITION", "Task type '"+t.taskType+"' does not support cancellation", nil)
		return
	case t.status == "completed" || t.status == "failed":
		Fail(w, http.StatusPreconditionFailed, "FAILED_PRECONDITION", "Task is already "+t.status, nil)
		return
	default:
		t.status = "cancelled"
		s.writeFile(t.account, t.archive+"/.failed.json", `{"stage":"cancelled"}`)
	}
	ok(w, t.record())
}

// listSessions is GET /api/v1/sessions: the caller's sessions, with is_dir
// in snake_case here (sessions.py:346-353, session_service.py:311-341).
func (s *Server) listSessions(w http.ResponseWriter, _ *http.Request, c caller) {
	out := []map[string]any{}
	for _, id := range s.sessionIDs(c) {
		out = append(out, map[string]any{"session_id": id, "uri": sessionURI(c, id), "is_dir": true, "mod_time": "2026-05-01T12:00:00Z"})
	}
	ok(w, out)
}

// deleteSession is DELETE /api/v1/sessions/{id}: a missing session is 404
// (sessions.py:551-559, session_service.py:343-363).
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request, c caller) {
	id := r.PathValue("id")
	uri := sessionURI(c, id)
	if n := s.files(c.account)[uri]; n == nil || !n.dir {
		Fail(w, http.StatusNotFound, "NOT_FOUND", "Session not found: "+id, map[string]any{"type": "session", "resource": id})
		return
	}
	s.removeTree(c.account, uri)
	ok(w, map[string]any{"session_id": id})
}

// adminDeleteUser is DELETE /api/v1/admin/accounts/{a}/users/{u}: ROOT
// only here; registered users only (404 otherwise); 202 with a user_delete
// task owned by the system; from then on the user's requests are 412
// (openviking/server/routers/admin.py:572-586,
// openviking/service/user_deletion.py:128-198,
// openviking/server/api_keys/legacy.py:426-442).
func (s *Server) adminDeleteUser(w http.ResponseWriter, r *http.Request, _ caller) {
	account, user := r.PathValue("account"), r.PathValue("user")
	registered := false
	for _, who := range s.userKeys {
		registered = registered || who == [2]string{account, user}
	}
	if !registered {
		Fail(w, http.StatusNotFound, "NOT_FOUND", "User not found: "+user, map[string]any{"type": "user", "resource": user})
		return
	}
	id, found := s.deleting[account+"/"+user]
	if !found {
		t := &task{id: s.nextID("task"), taskType: "user_delete", status: "pending", account: account, user: user,
			resourceID: account + "/" + user, system: true, pollsLeft: s.TaskPolls}
		s.tasks[t.id] = t
		s.deleting[account+"/"+user] = t.id
		id = t.id
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "ok", "result": map[string]any{
		"account_id": account, "user_id": user, "status": "deleting", "task_id": id}, "error": nil, "telemetry": nil, "profile": nil})
}

// adminUserSettings is GET /api/v1/admin/accounts/{a}/users/{u}/settings:
// 404 for a user the server does not know (openviking/server/routers/admin.py:508-520).
func (s *Server) adminUserSettings(w http.ResponseWriter, r *http.Request, _ caller) {
	account, user := r.PathValue("account"), r.PathValue("user")
	for _, who := range s.userKeys {
		if who == [2]string{account, user} {
			ok(w, map[string]any{"account_id": account, "user_id": user, "memory_policy": map[string]any{}})
			return
		}
	}
	Fail(w, http.StatusNotFound, "NOT_FOUND", "User not found: "+user, map[string]any{"type": "user", "resource": user})
}

// getSession is GET /api/v1/sessions/{id}: a missing session is 404
// "Session {id} not found" (openviking/server/routers/sessions.py:356-379).
func (s *Server) getSession(w http.ResponseWriter, r *http.Request, c caller) {
	id := r.PathValue("id")
	n := s.session(c, id, false)
	if n == nil {
		Fail(w, http.StatusNotFound, "NOT_FOUND", "Session "+id+" not found", nil)
		return
	}
	ok(w, map[string]any{"session_id": id, "uri": sessionURI(c, id), "message_count": len(n.messages), "commit_count": n.archives})
}
