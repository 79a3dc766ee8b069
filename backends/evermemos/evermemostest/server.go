// Package evermemostest is an in-process fake of the pre-1.0 EverMemOS
// ("EverCore") HTTP API that behaves like the real server's source, rule
// by rule. Every rule cites the file and lines of EverMind-AI/EverMemOS at
// e37205f (the last pre-1.0 commit, the newest of that API) that decide it;
// paths below are relative to methods/EverCore/src in that repository.
//
// What the fake keeps mirrors the server's collections: raw messages (never
// deleted, never deduplicated), MemCells, episodes (a group-level episode
// plus one clone for the owner, each with a MongoDB row that deletes soft
// and a search-index copy that only a filter delete removes), and profiles
// (which no API deletes). It is test code: no binary imports it.
package evermemostest

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"

	"github.com/memory-gateway/memory-gateway/backends/remote/remotetest"
)

// Message is one stored raw message.
type Message struct {
	UserID, SessionID, Role, Content, MessageID, SenderID string
	Timestamp                                             int64
}

// Episode is one episodic memory: UserID is "" for the group-level episode
// of a MemCell; ParentID is the MemCell's id.
type Episode struct {
	ID, UserID, GroupID, SessionID, ParentID, Episode, Summary string
	Timestamp                                                  int64
	// Deleted: soft-deleted in MongoDB; Indexed: the search-index copy
	// (Elasticsearch and Milvus) is still there.
	Deleted, Indexed bool
}

type rawMessage struct {
	Message
	groupID  string
	consumed bool
}

type memCell struct {
	id, groupID, sessionID string
	deleted                bool
}

// Server is the fake.
type Server struct {
	*httptest.Server
	Faults remotetest.Faults

	mu sync.Mutex
	// BoundaryEvery extracts a MemCell inline after this many pending
	// messages of a session (0: only flush extracts).
	BoundaryEvery int
	// IgnoreDeletes answers deletes with 204 but keeps everything (a
	// backend that lies; erasure verification must catch it).
	IgnoreDeletes bool
	raw           []rawMessage
	memcells      []memCell
	episodes      []Episode
	profiles      map[string]*profile // user → its profile (the solo scene's one)
	seq           int
}

type profile struct {
	id       string
	explicit []string
}

// New starts a fake.
func New() *Server {
	s := &Server{profiles: map[string]*profile{}}
	mux := http.NewServeMux()
	// Liveness only (infra_layer/adapters/input/api/health/health_controller.py:24-64).
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "healthy", "timestamp": "2026-11-25T00:00:00.123456+00:00", "message": "System running normally"})
	})
	mux.HandleFunc("POST /api/v1/memories", s.locked(s.add))
	mux.HandleFunc("POST /api/v1/memories/flush", s.locked(s.flush))
	mux.HandleFunc("POST /api/v1/memories/get", s.locked(s.get))
	mux.HandleFunc("POST /api/v1/memories/search", s.locked(s.search))
	mux.HandleFunc("POST /api/v1/memories/delete", s.locked(s.delete))
	s.Server = httptest.NewServer(s.Faults.Wrap(mux))
	return s
}

func (s *Server) locked(h http.HandlerFunc) http.HandlerFunc { return remotetest.Locked(&s.mu, h) }

// Messages returns every stored raw message.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.raw))
	for i, m := range s.raw {
		out[i] = m.Message
	}
	return out
}

// Episodes returns every episode, group-level and deleted ones included.
func (s *Server) Episodes() []Episode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Episode(nil), s.episodes...)
}

// Profile returns a user's profile facts (nil when it has none).
func (s *Server) Profile(user string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.profiles[user]; p != nil {
		return append([]string(nil), p.explicit...)
	}
	return nil
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

// Fail writes EverMemOS's error body: HTTP_ERROR for validation and
// controller errors, SYSTEM_ERROR for anything else
// (core/middleware/global_exception_handler.py:26-105, api_specs/dtos/base.py:28-39).
func Fail(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	writeJSON(w, status, map[string]any{"code": code, "message": message, "request_id": "req-fake", "timestamp": "2026-11-25T00:00:00+00:00", "path": r.URL.Path})
}

func invalid(w http.ResponseWriter, r *http.Request, message string) {
	Fail(w, r, http.StatusUnprocessableEntity, "HTTP_ERROR", message)
}

// objectID is a MongoDB ObjectId: its first 8 hex digits are the creation
// time (infra_layer/adapters/out/persistence/document/memory/memcell.py:102-104).
func (s *Server) objectID() string {
	s.seq++
	return fmt.Sprintf("%08x%016x", 0x66500000+s.seq, s.seq)
}

var objectIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

// md5Short is md5(x)[:12], lower-case hex (api_specs/id_generator.py:46-93).
func md5Short(x string) string {
	sum := md5.Sum([]byte(x))
	return hex.EncodeToString(sum[:])[:12]
}

// SoloGroupID is the group of a user's personal scene: "gen_solo_" +
// md5(user_id)[:12] (api_specs/id_generator.py:46-59).
func SoloGroupID(user string) string { return "gen_solo_" + md5Short(user) }

// assistantSender is an assistant message's default sender
// (api_specs/id_generator.py:80-93, api_specs/request_converter.py:313-320).
func assistantSender(user string) string { return "gen_sdr_" + md5Short(user) }

// add is POST /api/v1/memories, the personal add
// (infra_layer/adapters/input/api/memory/memory_controller.py:93-233,
// api_specs/dtos/memory.py:359-398, api_specs/request_converter.py:234-343).
// Raw messages are stored without dedupe (check_duplicate_message is never
// called, service/raw_message_service.py:166-208); extraction runs inline.
func (s *Server) add(w http.ResponseWriter, r *http.Request) {
	var body struct {
		UserID    *string `json:"user_id"`
		SessionID *string `json:"session_id"`
		Messages  []struct {
			Role      string  `json:"role"`
			Timestamp *int64  `json:"timestamp"`
			Content   any     `json:"content"`
			MessageID *string `json:"message_id"`
			SenderID  *string `json:"sender_id"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		invalid(w, r, "Input should be a valid dictionary: "+err.Error())
		return
	}
	switch {
	case body.UserID == nil || *body.UserID == "":
		invalid(w, r, "Missing required field: user_id")
		return
	case len(body.Messages) == 0 || len(body.Messages) > 500:
		invalid(w, r, "List should have at least 1 item after validation: messages")
		return
	}
	user := *body.UserID
	session := "-1" // absent: the sentinel (request_converter.py:253)
	if body.SessionID != nil {
		if *body.SessionID == "-1" {
			invalid(w, r, "session_id must not be '-1'. This value is reserved for messages without a session")
			return
		}
		session = *body.SessionID
	}
	var stored []rawMessage
	for _, m := range body.Messages {
		content, _ := m.Content.(string)
		id := ""
		if m.MessageID != nil {
			id = *m.MessageID
		}
		switch {
		case strings.TrimSpace(content) == "":
			invalid(w, r, "messages[].content must not be empty")
			return
		case m.Timestamp == nil || *m.Timestamp == 0:
			invalid(w, r, "Missing required field: messages[].timestamp")
			return
		case strings.HasPrefix(id, "gen_"):
			invalid(w, r, "message_id must not start with 'gen_'")
			return
		case m.Role != "user" && m.Role != "assistant":
			invalid(w, r, "Invalid value for messages[].role: '"+m.Role+"'. Must be 'user' or 'assistant'")
			return
		case m.SenderID != nil && strings.HasPrefix(*m.SenderID, "gen_"):
			invalid(w, r, "sender_id must not start with 'gen_'")
			return
		case m.Role == "user" && m.SenderID != nil && *m.SenderID != user:
			invalid(w, r, "sender_id mismatch: role=user requires sender_id="+user+", got "+*m.SenderID)
			return
		case m.Role == "assistant" && m.SenderID != nil && *m.SenderID == user:
			invalid(w, r, "sender_id conflict: role=assistant cannot use user_id as sender_id")
			return
		}
		sender := user
		if m.Role == "assistant" {
			sender = assistantSender(user)
			if m.SenderID != nil {
				sender = *m.SenderID
			}
		}
		if id == "" {
			id = "gen_msg_" + md5Short(fmt.Sprintf("%s_%d", user, *m.Timestamp))
		}
		stored = append(stored, rawMessage{groupID: SoloGroupID(user), Message: Message{
			UserID: user, SessionID: session, Role: m.Role, Content: content, MessageID: id, SenderID: sender, Timestamp: *m.Timestamp,
		}})
	}
	s.raw = append(s.raw, stored...)
	status := "accumulated"
	if s.BoundaryEvery > 0 && len(s.pending(SoloGroupID(user), session)) >= s.BoundaryEvery && s.extract(user, session) {
		status = "extracted"
	}
	data(w, map[string]any{"request_id": s.requestID(), "message_count": len(stored), "status": status, "message": "Messages accepted"})
}

func (s *Server) requestID() string {
	s.seq++
	return fmt.Sprintf("9b2f0000-0000-4000-8000-%012d", s.seq)
}

// pending are the indexes of a session's messages not yet consumed.
func (s *Server) pending(group, session string) []int {
	var out []int
	for i, m := range s.raw {
		if !m.consumed && m.groupID == group && m.SessionID == session {
			out = append(out, i)
		}
	}
	return out
}

// extract packs a session's pending messages into a MemCell and saves its
// episodes: the group-level one (user_id null) and one clone per
// participant, the senders of user-role messages only — in the personal
// scene, the owner (biz_layer/mem_memorize.py:921-983, :1025-1050, :1167-1176;
// memory_layer/memcell_extractor/conv_memcell_extractor.py:129-151). Every
// episode shares the MemCell id as parent_id and is written to MongoDB and
// to the search indexes. The profile grows from the user's messages
// (background in the server, biz_layer/mem_memorize.py:379-530). The raw
// messages are kept, marked consumed.
func (s *Server) extract(user, session string) bool {
	idx := s.pending(SoloGroupID(user), session)
	if len(idx) == 0 {
		return false
	}
	var parts, userParts []string
	var last int64
	for _, i := range idx {
		m := &s.raw[i]
		m.consumed = true
		parts = append(parts, m.Content)
		last = m.Timestamp
		if m.Role == "user" {
			userParts = append(userParts, m.Content)
		}
	}
	cell := memCell{id: s.objectID(), groupID: SoloGroupID(user), sessionID: session}
	s.memcells = append(s.memcells, cell)
	text := strings.Join(parts, " ")
	owners := []string{""}
	if len(userParts) > 0 {
		owners = append(owners, user)
	}
	for _, owner := range owners {
		s.episodes = append(s.episodes, Episode{
			ID: s.objectID(), UserID: owner, GroupID: cell.groupID, SessionID: session, ParentID: cell.id,
			Episode: text, Summary: "conversation of " + user, Timestamp: last, Indexed: true,
		})
	}
	if len(userParts) > 0 {
		if s.profiles[user] == nil {
			s.profiles[user] = &profile{id: s.objectID()}
		}
		// A profile fact is the extractor's description of what the user
		// said, not the message itself.
		s.profiles[user].explicit = append(s.profiles[user].explicit, "The user said: "+userParts[0])
	}
	return true
}

// flush is POST /api/v1/memories/flush: the session's buffer becomes a
// final MemCell; without session_id the "-1" session is meant
// (memory_controller.py:386-436, api_specs/request_converter.py:438-475).
func (s *Server) flush(w http.ResponseWriter, r *http.Request) {
	var body struct {
		UserID    string  `json:"user_id"`
		SessionID *string `json:"session_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.UserID == "" {
		invalid(w, r, "Missing required field: user_id")
		return
	}
	session := "-1"
	if body.SessionID != nil {
		if *body.SessionID == "-1" {
			invalid(w, r, "session_id must not be '-1'. This value is reserved for messages without a session")
			return
		}
		session = *body.SessionID
	}
	status := "no_extraction"
	if s.extract(body.UserID, session) {
		status = "extracted"
	}
	data(w, map[string]any{"request_id": s.requestID(), "status": status, "message": "Flush completed"})
}
