package openvikingtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// searchBody is FindRequest: extra fields are forbidden
// (openviking/server/routers/search.py:121-140); search adds session_id and
// mode (:175-231).
type searchBody struct {
	Query          string          `json:"query"`
	ImageURL       string          `json:"image_url"`
	TargetURI      any             `json:"target_uri"`
	ContextType    any             `json:"context_type"`
	Limit          int             `json:"limit"`
	NodeLimit      int             `json:"node_limit"`
	ScoreThreshold *float64        `json:"score_threshold"`
	Filter         any             `json:"filter"`
	Provenance     bool            `json:"include_provenance"`
	Tags           []string        `json:"tags"`
	Since          string          `json:"since"`
	Until          string          `json:"until"`
	TimeField      string          `json:"time_field"`
	Level          json.RawMessage `json:"level"`
	Telemetry      any             `json:"telemetry"`
}

type sessionSearchBody struct {
	searchBody
	SessionID string `json:"session_id"`
	Mode      string `json:"mode"`
}

// find is POST /api/v1/search/find: session_id and mode are refused as
// extra inputs.
func (s *Server) find(w http.ResponseWriter, r *http.Request, c caller) {
	var body searchBody
	if decode(w, r, &body, true) {
		s.answerSearch(w, c, body)
	}
}

// search is POST /api/v1/search/search; an unknown session_id is no 404
// (search.py:418-420).
func (s *Server) search(w http.ResponseWriter, r *http.Request, c caller) {
	var body sessionSearchBody
	if !decode(w, r, &body, true) {
		return
	}
	if body.Mode != "" && body.Mode != "list" {
		invalidArgument(w, "mode must be list or context")
		return
	}
	s.answerSearch(w, c, body.searchBody)
}

// answerSearch searches the caller's memories. Without an actor peer the
// targets are the whole user root, peers included; with one, other peers
// are left out (openviking/core/retrieval_targets.py:50-83). Files are
// level-2 hits; their directories carry level-0 abstract records and come
// back as hits too unless level asks for 2 only
// (openviking/core/context.py:34-39). A hit is {context_type, uri, level,
// score, abstract, tags} and nothing else
// (openviking_cli/retrieve/types.py:369-384).
func (s *Server) answerSearch(w http.ResponseWriter, c caller, body searchBody) {
	if strings.TrimSpace(body.Query) == "" && body.ImageURL == "" {
		invalidArgument(w, "Search query or image_url must not be empty.")
		return
	}
	limit := body.Limit
	if body.NodeLimit > 0 {
		limit = body.NodeLimit
	}
	if limit <= 0 {
		limit = 10 // openviking/retrieve/context_assembler/params.py:33
	}
	levels := map[int]bool{0: true, 1: true, 2: true}
	if len(body.Level) > 0 && string(body.Level) != "null" {
		levels = map[int]bool{}
		var one int
		var many []int
		switch {
		case json.Unmarshal(body.Level, &one) == nil:
			levels[one] = true
		case json.Unmarshal(body.Level, &many) == nil:
			for _, l := range many {
				levels[l] = true
			}
		}
	}
	hits := []map[string]any{}
	dirs := map[string][]string{}
	for _, uri := range s.memoryFiles(c.account, c.user) {
		parts := strings.Split(strings.TrimPrefix(uri, "viking://"), "/")
		if c.actorPeer != "" && parts[2] == "peers" && parts[3] != c.actorPeer {
			continue
		}
		text := s.files(c.account)[uri].content
		score := overlap(body.Query, text)
		if score == 0 {
			continue
		}
		if levels[2] {
			hits = append(hits, map[string]any{"context_type": "memory", "uri": uri, "level": 2, "score": score, "abstract": text, "tags": []any{}})
		}
		dirs[parent(uri)] = append(dirs[parent(uri)], text)
	}
	if levels[0] {
		for dir, texts := range dirs {
			abstract := strings.Join(texts, "; ")
			hits = append(hits, map[string]any{"context_type": "memory", "uri": dir, "level": 0, "score": overlap(body.Query, abstract) * 0.9, "abstract": abstract, "tags": []any{}})
		}
	}
	slices.SortStableFunc(hits, func(a, b map[string]any) int {
		if c := compareFloat(b["score"].(float64), a["score"].(float64)); c != 0 {
			return c
		}
		return strings.Compare(a["uri"].(string), b["uri"].(string))
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	// find and search drop top-level nulls (exclude_none, search.py:325-329).
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "result": map[string]any{"memories": hits, "resources": []any{}, "skills": []any{}, "total": len(hits)}})
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
