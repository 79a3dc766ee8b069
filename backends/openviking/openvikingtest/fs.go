package openvikingtest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The virtual filesystem: canonical uris (no trailing slash,
// openviking/core/namespace.py:87-95) of one account to their nodes.

func (s *Server) files(account string) map[string]*node {
	if s.fs[account] == nil {
		s.fs[account] = map[string]*node{}
	}
	return s.fs[account]
}

// mkdirs creates uri and its parents up to the user root.
func (s *Server) mkdirs(account, uri string) {
	files := s.files(account)
	for u := uri; strings.Count(u, "/") >= 3; u = parent(u) {
		if files[u] == nil {
			files[u] = &node{dir: true}
		}
	}
}

// writeFile writes a file, creating its directories.
func (s *Server) writeFile(account, uri, content string) {
	s.mkdirs(account, parent(uri))
	s.files(account)[uri] = &node{content: content}
}

func parent(uri string) string { return uri[:strings.LastIndex(uri, "/")] }

func name(uri string) string { return uri[strings.LastIndex(uri, "/")+1:] }

// canonical validates and normalises a request uri
// (openviking/core/uri_validation.py:35-85, openviking/core/namespace.py:257-313):
// public scopes only, no trailing slash, "~" and "session/…" resolved to the
// caller's tree.
func canonical(w http.ResponseWriter, c caller, raw string) (string, bool) {
	rest, found := strings.CutPrefix(raw, "viking://")
	if !found {
		Fail(w, http.StatusBadRequest, "INVALID_URI", "Invalid URI: "+raw+" (must start with viking://)", map[string]any{"uri": raw})
		return "", false
	}
	rest = strings.TrimRight(rest, "/")
	scope, tail, _ := strings.Cut(rest, "/")
	switch scope {
	case "~":
		rest = strings.TrimRight("user/"+c.user+"/"+tail, "/")
	case "session":
		rest = strings.TrimRight("user/"+c.user+"/sessions/"+tail, "/")
	case "", "resources", "user", "agent":
	default:
		Fail(w, http.StatusBadRequest, "INVALID_URI", "Invalid URI: "+raw+" (scope is not public)", map[string]any{"uri": raw})
		return "", false
	}
	return "viking://" + rest, true
}

// accessible refuses another user's tree for non-root callers: 403 "Access
// denied for <uri>" (openviking/storage/viking_fs/_access.py:148-151), and
// other peers under an actor-peer view (openviking/core/namespace.py:194-225).
func accessible(w http.ResponseWriter, c caller, uri string) bool {
	if c.root {
		return true
	}
	parts := strings.Split(strings.TrimPrefix(uri, "viking://"), "/")
	denied := len(parts) >= 2 && parts[0] == "user" && parts[1] != c.user
	if c.actorPeer != "" && len(parts) >= 4 && parts[2] == "peers" && parts[3] != c.actorPeer {
		denied = true
	}
	if denied {
		Fail(w, http.StatusForbidden, "PERMISSION_DENIED", "Access denied for "+uri, map[string]any{"resource": uri})
		return false
	}
	return true
}

// hidden names are omitted from listings unless asked for; internal names
// never show (openviking/storage/internal_names.py, _access.py:267-313).
func hidden(n string) bool { return strings.HasPrefix(n, ".") }
func internal(n string) bool {
	return n == "_system" || n == "tasks" || strings.HasSuffix(n, ".ovlock")
}

// children are a directory's entries: directories first, then files, each
// by case-insensitive name (crates/ragfs/src/core/filesystem.rs:40-55).
func (s *Server) children(account, dir string, showHidden bool) []string {
	var dirs, files []string
	for uri, n := range s.files(account) {
		if parent(uri) != dir || internal(name(uri)) || (!n.dir && hidden(name(uri)) && !showHidden) {
			continue
		}
		if n.dir {
			dirs = append(dirs, uri)
		} else {
			files = append(files, uri)
		}
	}
	byName := func(a, b string) int {
		if c := strings.Compare(strings.ToLower(name(a)), strings.ToLower(name(b))); c != 0 {
			return c
		}
		return strings.Compare(name(a), name(b))
	}
	slices.SortFunc(dirs, byName)
	slices.SortFunc(files, byName)
	return append(dirs, files...)
}

// entry is an agent-format listing entry: isDir in camelCase, a rel_path
// for tree listings, no trailing slash on directories
// (openviking/storage/viking_fs/_ops.py:785-816).
func (s *Server) entry(account, root, uri string, withRel bool) map[string]any {
	n := s.files(account)[uri]
	e := map[string]any{"uri": uri, "size": len(n.content), "isDir": n.dir, "modTime": "2026-05-01T12:00:00.000Z", "abstract": ""}
	if n.dir {
		e["size"] = 0
		e["abstract"] = "# " + uri + " [Directory abstract is not ready]"
	}
	if withRel {
		e["rel_path"] = strings.TrimPrefix(uri, root+"/")
	}
	return e
}

// walk lists below root in DFS pre-order, entries of depth ≤ levelLimit,
// at most nodeLimit of them, silently cut (crates/ragfs/src/core/filesystem.rs:602-678,
// openviking/storage/viking_fs/_access.py:330-413).
func (s *Server) walk(account, root string, levelLimit, nodeLimit int, showHidden bool) []map[string]any {
	out := []map[string]any{}
	var visit func(dir string, depth int)
	visit = func(dir string, depth int) {
		for _, uri := range s.children(account, dir, showHidden) {
			if len(out) >= nodeLimit {
				return
			}
			out = append(out, s.entry(account, root, uri, true))
			if s.files(account)[uri].dir && depth < levelLimit {
				visit(uri, depth+1)
			}
		}
	}
	if levelLimit > 0 && nodeLimit > 0 {
		visit(root, 1)
	}
	return out
}

func intParam(r *http.Request, key string, def int) int {
	if v, err := strconv.Atoi(r.URL.Query().Get(key)); err == nil {
		return v
	}
	return def
}

// listed resolves a listing's uri: 404 "Directory not found" when missing,
// [] for a user's sessions root that does not exist yet
// (openviking/storage/viking_fs/_access.py:364-367).
func (s *Server) listed(w http.ResponseWriter, r *http.Request, c caller) (string, bool) {
	uri, valid := canonical(w, c, r.URL.Query().Get("uri"))
	if !valid || !accessible(w, c, uri) {
		return "", false
	}
	if n := s.files(c.account)[uri]; n == nil || !n.dir {
		if strings.HasSuffix(uri, "/sessions") {
			ok(w, []any{})
			return "", false
		}
		Fail(w, http.StatusNotFound, "NOT_FOUND", "Directory not found: "+uri, map[string]any{"type": "directory", "resource": uri})
		return "", false
	}
	return uri, true
}

// tree is GET /api/v1/fs/tree: level_limit (default 3) and node_limit
// (default 1000, alias limit), no maximum of either
// (openviking/server/routers/filesystem.py:114-147).
func (s *Server) tree(w http.ResponseWriter, r *http.Request, c caller) {
	uri, found := s.listed(w, r, c)
	if !found {
		return
	}
	nodeLimit := intParam(r, "limit", intParam(r, "node_limit", 1000))
	ok(w, s.walk(c.account, uri, max(0, intParam(r, "level_limit", 3)), nodeLimit, r.URL.Query().Get("show_all_hidden") == "true"))
}

// ls is GET /api/v1/fs/ls: recursive is a tree of depth 3 and no way to go
// deeper; non-recursive entries carry no rel_path
// (openviking/service/fs_service.py:113-186, _ops.py:1201-1249).
func (s *Server) ls(w http.ResponseWriter, r *http.Request, c caller) {
	uri, found := s.listed(w, r, c)
	if !found {
		return
	}
	nodeLimit := intParam(r, "limit", intParam(r, "node_limit", 1000))
	showHidden := r.URL.Query().Get("show_all_hidden") == "true"
	if r.URL.Query().Get("recursive") == "true" {
		ok(w, s.walk(c.account, uri, 3, nodeLimit, showHidden))
		return
	}
	out := []map[string]any{}
	for _, child := range s.children(c.account, uri, showHidden) {
		if len(out) >= nodeLimit {
			break
		}
		out = append(out, s.entry(c.account, uri, child, false))
	}
	ok(w, out)
}

// remove is DELETE /api/v1/fs (openviking/server/routers/filesystem.py:249-287,
// openviking/storage/viking_fs/_ops.py:117-224, guards in
// openviking/storage/viking_fs/_access.py:166-220).
func (s *Server) remove(w http.ResponseWriter, r *http.Request, c caller) {
	uri, valid := canonical(w, c, r.URL.Query().Get("uri"))
	if !valid || !accessible(w, c, uri) {
		return
	}
	parts := strings.Split(strings.TrimPrefix(uri, "viking://"), "/")
	switch {
	// Unsupported for every role, root included (_access.py:198-220).
	case uri == "viking://" || uri == "viking://user" || uri == "viking://agent":
		Fail(w, http.StatusForbidden, "PERMISSION_DENIED", "Deleting "+uri+" is not supported; use a concrete scope instead.", map[string]any{"resource": uri})
		return
	// The namespace-root guard: a user root or resources needs ROOT, which
	// trusted mode never is on data routes (_access.py:173-182, PR #4074).
	case !c.root && (uri == "viking://resources" || (parts[0] == "user" && len(parts) == 2)):
		Fail(w, http.StatusForbidden, "PERMISSION_DENIED", "Deleting a namespace root requires root access; use a concrete content path instead.", map[string]any{"resource": uri})
		return
	// Under an actor-peer view the peers directory is refused too (_access.py:170-171).
	case c.actorPeer != "" && len(parts) == 3 && parts[2] == "peers":
		Fail(w, http.StatusForbidden, "PERMISSION_DENIED", "Access denied for "+uri, map[string]any{"resource": uri})
		return
	}
	n := s.files(c.account)[uri]
	if n == nil {
		// Deleting a missing path is 200: orphan index records are cleaned
		// (_ops.py:156-173).
		ok(w, map[string]any{"uri": uri, "estimated_deleted_count": 0})
		return
	}
	if n.dir && r.URL.Query().Get("recursive") != "true" {
		Fail(w, http.StatusPreconditionFailed, "FAILED_PRECONDITION", "Cannot remove directory without --recursive: "+uri,
			map[string]any{"resource": uri, "expected_flag": "recursive"})
		return
	}
	count := s.removeTree(c.account, uri)
	ok(w, map[string]any{"uri": uri, "estimated_deleted_count": count})
}

// removeTree deletes uri and everything below it (unless the fake lies),
// and returns how many files went.
func (s *Server) removeTree(account, uri string) int {
	count := 0
	files := s.files(account)
	for u, n := range files {
		if u == uri || strings.HasPrefix(u, uri+"/") {
			if !n.dir {
				count++
			}
			if !s.IgnoreDeletes {
				delete(files, u)
			}
		}
	}
	return count
}

// readContent is GET /api/v1/content/read: a file's text as a JSON string;
// a directory is 400, a missing file 404
// (openviking/server/routers/content.py:122-146, _ops.py:950-969).
func (s *Server) readContent(w http.ResponseWriter, r *http.Request, c caller) {
	uri, valid := canonical(w, c, r.URL.Query().Get("uri"))
	if !valid || !accessible(w, c, uri) {
		return
	}
	n := s.files(c.account)[uri]
	switch {
	case n == nil:
		Fail(w, http.StatusNotFound, "NOT_FOUND", "File not found: "+uri, map[string]any{"type": "file", "resource": uri})
	case n.dir:
		Fail(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Directory URI is not readable as a file: "+uri+". List it first, then read a file URI.",
			map[string]any{"resource": uri, "expected": "file", "actual": "directory"})
	default:
		ok(w, n.content)
	}
}

// writeContent is POST /api/v1/content/write: extra fields are forbidden;
// replace and append need the file, create needs it absent; a directory is
// 400; user-scope writes only under memories/ or resources/
// (openviking/server/routers/content.py:37-48, :223-248;
// openviking/storage/content_write.py:117-183, :958-1024, :1478-1499).
func (s *Server) writeContent(w http.ResponseWriter, r *http.Request, c caller) {
	var body struct {
		URI            string   `json:"uri"`
		Content        *string  `json:"content"`
		Mode           string   `json:"mode"`
		Wait           bool     `json:"wait"`
		Timeout        *float64 `json:"timeout"`
		Telemetry      any      `json:"telemetry"`
		ProcessingMode string   `json:"processing_mode"`
	}
	if !decode(w, r, &body, true) {
		return
	}
	if body.URI == "" || body.Content == nil {
		invalidArgument(w, "Invalid request parameters: body.uri, body.content: Field required")
		return
	}
	uri, valid := canonical(w, c, body.URI)
	if !valid || !accessible(w, c, uri) {
		return
	}
	if body.Mode == "" {
		body.Mode = "replace"
	}
	if body.Mode != "replace" && body.Mode != "append" && body.Mode != "create" {
		invalidArgument(w, "unsupported write mode: "+body.Mode)
		return
	}
	if !strings.Contains(uri, "/memories/") && !strings.Contains(uri, "/resources/") {
		invalidArgument(w, "user-scope writes need a file under memories/, resources/, or directly at the user root: "+uri)
		return
	}
	n := s.files(c.account)[uri]
	switch {
	case n != nil && n.dir:
		invalidArgument(w, "write only supports existing files, got directory: "+uri)
		return
	case body.Mode == "create" && n != nil:
		Fail(w, http.StatusConflict, "ALREADY_EXISTS", "File already exists: "+uri, map[string]any{"resource": uri})
		return
	case body.Mode == "create":
		s.writeFile(c.account, uri, *body.Content)
	case n == nil:
		Fail(w, http.StatusNotFound, "NOT_FOUND", "File not found: "+uri, map[string]any{"type": "file", "resource": uri})
		return
	case body.Mode == "append":
		n.content += *body.Content
	default:
		n.content = *body.Content
	}
	status := "queued"
	if body.Wait {
		status = "complete"
	}
	ok(w, map[string]any{
		"uri": uri, "root_uri": parent(uri), "context_type": "memory", "mode": body.Mode, "written_bytes": len(*body.Content),
		"content_updated": true, "semantic_status": "skipped", "vector_status": status, "queue_status": nil, "overview_status": "complete",
	})
}

// isMemoryFile: a file below the user's or a peer's memories directory.
func isMemoryFile(uri string) bool {
	parts := strings.Split(strings.TrimPrefix(uri, "viking://"), "/")
	return len(parts) >= 4 && parts[0] == "user" && (parts[2] == "memories" || (len(parts) >= 6 && parts[2] == "peers" && parts[4] == "memories"))
}

// memoryFiles are a user's memory files, sorted.
func (s *Server) memoryFiles(account, user string) []string {
	var out []string
	prefix := "viking://user/" + user + "/"
	for uri, n := range s.files(account) {
		if !n.dir && strings.HasPrefix(uri, prefix) && isMemoryFile(uri) && !hidden(name(uri)) {
			out = append(out, uri)
		}
	}
	slices.Sort(out)
	return out
}

// Memories returns the memory files of a user (its own and its peers').
func (s *Server) Memories(account, user string) []Memory {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Memory
	for _, uri := range s.memoryFiles(account, user) {
		out = append(out, Memory{URI: uri, Category: category(uri), Abstract: s.files(account)[uri].content})
	}
	return out
}

// WriteFile writes a file of an account directly (what other clients of
// the server write: settings/user_config.json, files at a user's root).
func (s *Server) WriteFile(account, uri, content string) {
	s.Set(func(s *Server) { s.writeFile(account, uri, content) })
}

// Files returns every file below a user's root, hidden ones included.
func (s *Server) Files(account, user string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for uri, n := range s.files(account) {
		if !n.dir && strings.HasPrefix(uri, "viking://user/"+user+"/") {
			out = append(out, uri)
		}
	}
	slices.Sort(out)
	return out
}

// category is the memory category of a uri: …/memories/<category>/… or
// …/memories/<category>.md.
func category(uri string) string {
	_, rest, _ := strings.Cut(uri, "/memories/")
	c, _, _ := strings.Cut(rest, "/")
	return strings.TrimSuffix(c, ".md")
}

// SeedMemories adds n event memories for a user directly, twenty a day
// as events/YYYY/MM/DD/… (benchmarks, listings larger than a page), and
// returns their uris.
func (s *Server) SeedMemories(account, user string, n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	uris := make([]string, n)
	for i := range n {
		day := i / 20
		uris[i] = fmt.Sprintf("viking://user/%s/memories/events/%04d/%02d/%02d/seed_%06d.md", user, 2020+day/336, 1+day/28%12, 1+day%28, i)
		s.writeFile(account, uris[i], "seeded memory "+strconv.Itoa(i))
	}
	return uris
}
