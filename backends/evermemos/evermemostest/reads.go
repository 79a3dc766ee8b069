package evermemostest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/memory-gateway/memory-gateway/backends/remote/remotetest"
)

// scopeFilter is the user_id / group_id / session_id / timestamp part of a
// filters object; other keys are ignored (agentic_layer/filter_parser.py:15-141).
type scopeFilter struct {
	users     []*string // user_id: a value, or {"in":[…]} where null names group-level rows
	hasUser   bool
	group     *string
	session   *string
	from, til int64 // timestamp bounds in ms, 0 when open
}

func parseFilters(raw map[string]json.RawMessage) scopeFilter {
	var f scopeFilter
	if v, found := raw["user_id"]; found && string(v) != "null" {
		var one string
		var in struct {
			In []*string `json:"in"`
		}
		switch {
		case json.Unmarshal(v, &one) == nil:
			f.users, f.hasUser = []*string{&one}, true
		case json.Unmarshal(v, &in) == nil && len(in.In) > 0:
			f.users, f.hasUser = in.In, in.In[0] != nil
		}
	}
	var str string
	if v, found := raw["group_id"]; found && json.Unmarshal(v, &str) == nil {
		f.group = &str
	}
	if v, found := raw["session_id"]; found && json.Unmarshal(v, &str) == nil {
		session := str
		f.session = &session
	}
	var ts map[string]int64
	if v, found := raw["timestamp"]; found && json.Unmarshal(v, &ts) == nil {
		f.from, f.til = max(ts["gte"], ts["gt"]), max(ts["lte"], ts["lt"])
	}
	return f
}

func (f scopeFilter) scoped() bool { return f.hasUser || f.group != nil }

// holds reports whether an episode matches. A group_id without a user
// selects the group-level episodes only (agentic_layer/get_mem_service.py:161-169).
func (f scopeFilter) holds(e Episode) bool {
	switch {
	case f.hasUser:
		match := false
		for _, u := range f.users {
			match = match || (u == nil && e.UserID == "") || (u != nil && *u == e.UserID)
		}
		if !match {
			return false
		}
	case f.group != nil && e.UserID != "":
		return false
	}
	return (f.group == nil || *f.group == e.GroupID) && (f.session == nil || *f.session == e.SessionID) &&
		(f.from == 0 || e.Timestamp >= f.from) && (f.til == 0 || e.Timestamp <= f.til)
}

func (f scopeFilter) firstUser() string {
	if f.hasUser && f.users[0] != nil {
		return *f.users[0]
	}
	return ""
}

// episodeItem is EpisodeItem: exactly these 13 keys
// (api_specs/dtos/memory.py:1074-1103, agentic_layer/get_mem_service.py:71-88).
func episodeItem(e Episode) map[string]any {
	var user any
	if e.UserID != "" {
		user = e.UserID
	}
	owner := strings.TrimPrefix(e.Summary, "conversation of ")
	return map[string]any{
		"id": e.ID, "user_id": user, "group_id": e.GroupID, "session_id": e.SessionID,
		"timestamp": time.UnixMilli(e.Timestamp).UTC().Format("2006-01-02T15:04:05.000000Z"), "participants": []string{owner},
		"sender_ids": []string{owner}, "summary": e.Summary, "subject": "Conversation", "episode": e.Episode, "type": "Conversation",
		"parent_type": "memcell", "parent_id": e.ParentID,
	}
}

// get is POST /api/v1/memories/get (memory_get_controller.py:168-203,
// GetMemRequest api_specs/dtos/memory.py:1006-1071): page_size 1..100 (101
// is 422, no clamping); filters must name user_id or group_id; profiles need
// user_id; soft-deleted rows are left out; total_count and count, no
// has_more.
func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	var body struct {
		MemoryType string                     `json:"memory_type"`
		Filters    map[string]json.RawMessage `json:"filters"`
		Page       *int                       `json:"page"`
		PageSize   *int                       `json:"page_size"`
		RankBy     string                     `json:"rank_by"`
		RankOrder  string                     `json:"rank_order"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		invalid(w, r, "Input should be a valid dictionary")
		return
	}
	page, size := 1, 20
	if body.Page != nil {
		page = *body.Page
	}
	if body.PageSize != nil {
		size = *body.PageSize
	}
	f := parseFilters(body.Filters)
	switch {
	case body.MemoryType != "episodic_memory" && body.MemoryType != "profile" && body.MemoryType != "agent_case" && body.MemoryType != "agent_skill":
		invalid(w, r, "Value error, memory_type must be one of episodic_memory, profile, agent_case, agent_skill")
		return
	case page < 1:
		invalid(w, r, "Input should be greater than or equal to 1: page")
		return
	case size < 1 || size > 100:
		invalid(w, r, "Input should be less than or equal to 100: page_size")
		return
	case body.RankOrder != "" && body.RankOrder != "asc" && body.RankOrder != "desc":
		invalid(w, r, "Value error, rank_order must be asc or desc")
		return
	case !f.scoped():
		invalid(w, r, "filters must contain at least one of 'user_id' or 'group_id'")
		return
	case body.MemoryType != "episodic_memory" && !f.hasUser:
		invalid(w, r, "memory_type '"+body.MemoryType+"' requires 'user_id' in filters")
		return
	}
	out := map[string]any{"episodes": []any{}, "profiles": []any{}, "agent_cases": []any{}, "agent_skills": []any{}, "total_count": 0, "count": 0}
	switch body.MemoryType {
	case "episodic_memory":
		var eps []Episode
		for _, e := range s.episodes {
			if !e.Deleted && f.holds(e) {
				eps = append(eps, e)
			}
		}
		slices.SortStableFunc(eps, func(a, b Episode) int {
			if c := int(a.Timestamp - b.Timestamp); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		if body.RankOrder != "asc" {
			slices.Reverse(eps)
		}
		items := []any{}
		for _, e := range remotetest.Page(eps, page, size) {
			items = append(items, episodeItem(e))
		}
		out["episodes"], out["total_count"], out["count"] = items, len(eps), len(items)
	case "profile":
		user := f.firstUser()
		if p := s.profiles[user]; p != nil {
			explicit := []any{}
			for _, fact := range p.explicit {
				explicit = append(explicit, map[string]any{"category": "fact", "description": fact, "evidence": "", "sources": []any{}})
			}
			out["profiles"] = []any{map[string]any{
				"id": p.id, "user_id": user, "group_id": SoloGroupID(user), "scenario": "solo", "memcell_count": len(p.explicit),
				"profile_data": map[string]any{"id": p.id, "memory_type": "profile", "user_id": user, "group_id": SoloGroupID(user),
					"explicit_info": explicit, "implicit_traits": []any{}},
			}}
			out["total_count"], out["count"] = 1, 1
		}
	}
	data(w, out)
}

// search is POST /api/v1/memories/search (memory_search_controller.py:158-229,
// SearchMemoriesRequest api_specs/dtos/memory.py:1267-1398,
// agentic_layer/search_mem_service.py:316-582). Episodes come from the
// search indexes: a row soft-deleted in MongoDB by id is still found there
// (:633-676). Profile hits are per-fact index items {item_type, embed_text}
// with their own ids, never the profile's (:876-925), and only with a
// user_id and a method other than keyword (:353-359). Pending raw messages
// are listed as raw_message (:926-977).
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Query       string                     `json:"query"`
		Method      string                     `json:"method"`
		MemoryTypes []string                   `json:"memory_types"`
		TopK        *int                       `json:"top_k"`
		Filters     map[string]json.RawMessage `json:"filters"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		invalid(w, r, "Input should be a valid dictionary")
		return
	}
	if body.Method == "" {
		body.Method = "hybrid"
	}
	if body.MemoryTypes == nil {
		body.MemoryTypes = []string{"episodic_memory", "profile"}
	}
	f := parseFilters(body.Filters)
	topK := 10
	if body.TopK != nil {
		topK = *body.TopK
	}
	switch {
	case strings.TrimSpace(body.Query) == "":
		invalid(w, r, "String should have at least 1 character: query")
		return
	case !slices.Contains([]string{"keyword", "vector", "hybrid", "agentic"}, body.Method):
		invalid(w, r, "Value error, method must be one of keyword, vector, hybrid, agentic")
		return
	case topK == 0 || topK > 100 || topK < -1:
		invalid(w, r, "Value error, top_k must be -1 or between 1 and 100")
		return
	case !f.scoped():
		invalid(w, r, "Value error, filters must contain user_id or group_id")
		return
	}
	for _, t := range body.MemoryTypes {
		if !slices.Contains([]string{"episodic_memory", "profile", "raw_message", "agent_memory"}, t) {
			invalid(w, r, "Value error, unsupported memory type: "+t)
			return
		}
	}
	episodes, profiles, raw := []map[string]any{}, []map[string]any{}, []any{}
	if slices.Contains(body.MemoryTypes, "episodic_memory") {
		for _, e := range s.episodes {
			if !e.Indexed || !f.holds(e) {
				continue
			}
			if score := keywordScore(body.Query, e.Episode); score > 0 {
				item := episodeItem(e)
				delete(item, "sender_ids")
				item["score"], item["atomic_facts"] = score, []any{}
				episodes = append(episodes, item)
			}
		}
	}
	if user := f.firstUser(); slices.Contains(body.MemoryTypes, "profile") && user != "" && body.Method != "keyword" {
		if p := s.profiles[user]; p != nil {
			for i, fact := range p.explicit {
				if score := keywordScore(body.Query, fact); score > 0 {
					profiles = append(profiles, map[string]any{
						"id": fmt.Sprintf("%s%04d", p.id[:20], i), "user_id": user, "group_id": SoloGroupID(user), "scenario": "solo",
						"memcell_count": len(p.explicit), "score": score,
						"profile_data": map[string]any{"item_type": "explicit_info", "embed_text": fact},
					})
				}
			}
		}
	}
	if slices.Contains(body.MemoryTypes, "raw_message") {
		for _, m := range s.raw {
			if m.consumed || (f.group != nil && m.groupID != *f.group) || (f.hasUser && m.SenderID != f.firstUser()) || len(raw) == 100 {
				continue
			}
			raw = append(raw, map[string]any{"id": m.MessageID, "message_id": m.MessageID, "group_id": m.groupID, "session_id": m.SessionID, "sender_id": m.SenderID})
		}
	}
	byScore := func(a, b map[string]any) int {
		if d := b["score"].(float64) - a["score"].(float64); d != 0 {
			return int(d * 1000)
		}
		return strings.Compare(a["id"].(string), b["id"].(string))
	}
	slices.SortStableFunc(episodes, byScore)
	if topK > 0 && len(episodes) > topK {
		episodes = episodes[:topK]
	}
	data(w, map[string]any{
		"episodes": episodes, "profiles": profiles, "raw_messages": raw, "agent_memory": nil, "original_data": nil,
		"query": map[string]any{"text": body.Query, "method": body.Method},
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

// allValues is the delete DTO's "not given" (core/oxm/constants.py:9).
const allValues = "__all__"

// delete is POST /api/v1/memories/delete (memory_controller.py:999-1020,
// api_specs/dtos/memory_delete.py:10-55, service/memcell_delete_service.py:112-258).
// memory_id names a MemCell: it and, in MongoDB only, the episodes with
// that parent_id are soft-deleted; the search-index copies stay. A filter
// soft-deletes matching episodes in MongoDB and removes the index copies of
// the matching user_id / group_id (session and sender do not narrow the
// indexes). Profiles, raw messages and MemCells are never deleted by a
// filter. The answer is 204 with no body either way, deleted or not.
func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		invalid(w, r, "Input should be a valid dictionary")
		return
	}
	// given reads a filter: absent or "__all__" is not given; null matches
	// null or empty ("").
	given := func(key string) (*string, bool) {
		raw, found := body[key]
		if !found {
			return nil, false
		}
		v := ""
		if string(raw) != "null" && json.Unmarshal(raw, &v) != nil {
			return &v, true
		}
		if v == allValues {
			return nil, false
		}
		return &v, true
	}
	var memoryID string
	byID := string(body["memory_id"]) != "" && string(body["memory_id"]) != "null"
	if byID {
		_ = json.Unmarshal(body["memory_id"], &memoryID)
	}
	user, hasUser := given("user_id")
	group, hasGroup := given("group_id")
	session, hasSession := given("session_id")
	sender, hasSender := given("sender_id")
	switch {
	case byID && (hasUser || hasGroup || hasSession || hasSender):
		invalid(w, r, "Value error, When memory_id is provided, no other fields (user_id, group_id, session_id, sender_id) are allowed")
		return
	case !byID && !hasUser && !hasGroup:
		invalid(w, r, "Value error, Either memory_id must be provided, or at least one of user_id / group_id is required")
		return
	case byID && !objectIDPattern.MatchString(memoryID):
		// ObjectId(memory_id) raises, uncaught (memcell_raw_repository.py:615-616).
		Fail(w, r, http.StatusInternalServerError, "SYSTEM_ERROR", "Internal server error")
		return
	}
	if !s.IgnoreDeletes {
		if byID {
			s.deleteMemCell(memoryID)
		} else {
			s.deleteByFilter(user, group, session, sender)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteMemCell(id string) {
	for i := range s.memcells {
		if s.memcells[i].id == id {
			s.memcells[i].deleted = true
		}
	}
	for i := range s.episodes {
		if s.episodes[i].ParentID == id {
			s.episodes[i].Deleted = true
		}
	}
}

// deleteByFilter: a nil field is not given; "" matches null or empty.
func (s *Server) deleteByFilter(user, group, session, sender *string) {
	match := func(want *string, have string) bool { return want == nil || *want == have }
	for i := range s.episodes {
		e := &s.episodes[i]
		if !match(user, e.UserID) || !match(group, e.GroupID) {
			continue
		}
		e.Indexed = false
		owner := strings.TrimPrefix(e.Summary, "conversation of ")
		if match(session, e.SessionID) && match(sender, owner) {
			e.Deleted = true
		}
	}
}

// SeedEpisodes adds n extracted episodes (each its own MemCell, with the
// owner's clone) for a user directly (benchmarks), and returns the
// owner's episode ids.
func (s *Server) SeedEpisodes(user string, n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, n)
	for i := range n {
		cell := memCell{id: s.objectID(), groupID: SoloGroupID(user), sessionID: "seed"}
		s.memcells = append(s.memcells, cell)
		for _, owner := range []string{"", user} {
			e := Episode{ID: s.objectID(), UserID: owner, GroupID: cell.groupID, SessionID: "seed", ParentID: cell.id,
				Episode: fmt.Sprintf("seeded episode %d", i), Summary: "conversation of " + user, Timestamp: 1777626000000, Indexed: true}
			s.episodes = append(s.episodes, e)
			ids[i] = e.ID
		}
	}
	return ids
}
