package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/memory-gateway/memory-gateway/apierror"
)

// withCheckedRequests refuses, with a coded error a client can act on, a
// GraphQL request the transports would answer uncoded (or by echoing the
// body back): a body that is not JSON, not a JSON object, or whose members
// have the wrong types; an unsupported content type; a GET that asks for a
// mutation. It also refuses a request whose JSON holds a string the stores
// could not keep as sent: invalid UTF-8, or a lone UTF-16 surrogate escape
// ("\ud800"), which encoding/json would silently replace with U+FFFD —
// BAD_USER_INPUT naming the field (a variable's path, "in.content", or the
// request member, "query"). Nothing runs after a refusal. (NUL bytes decode
// faithfully and are refused by the domain, per field.) Websocket upgrades
// and server-sent event streams pass through: their transport checks its
// own frames.
func withCheckedRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isStream(r) && r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		switch {
		case r.Method == http.MethodPost && !jsonMediaType(r.Header.Get("Content-Type")):
			writeError(w, http.StatusUnsupportedMediaType, "unsupported content type: send application/json", codeUnsupportedMediaType, "")
			return
		case r.Method == http.MethodPost:
			body, err := io.ReadAll(r.Body)
			if err != nil {
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					writeError(w, http.StatusRequestEntityTooLarge, "request body is larger than "+strconv.FormatInt(tooLarge.Limit, 10)+" bytes", apierror.CodeBadUserInput, "body")
					return
				}
				writeError(w, http.StatusBadRequest, "the request body could not be read", codeBadRequest, "")
				return
			}
			// The body is decoded once, to its members; each check reads
			// those (the transport decodes it again, into its request).
			var members map[string]json.RawMessage
			decodeErr := json.Unmarshal(body, &members)
			if decodeErr == nil {
				body, members = documentIDRequest(body, members)
			}
			if msg, field := requestShape(members, decodeErr); msg != "" {
				writeError(w, http.StatusBadRequest, msg, codeBadRequest, field)
				return
			}
			if field, bad := unstorableJSON(body, nil); bad {
				writeError(w, http.StatusBadRequest, field+": must be valid UTF-8 (no lone surrogate escapes)", apierror.CodeBadUserInput, field)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		case r.Method == http.MethodGet:
			q := r.URL.Query()
			if id := q.Get("documentId"); id != "" && q.Get("query") == "" && q.Get("extensions") == "" {
				ext, _ := json.Marshal(persistedQueryExtensions(id))
				q.Set("extensions", string(ext))
				q.Del("documentId")
				r.URL.RawQuery = q.Encode()
			}
			for _, name := range []string{"query", "operationName", "variables", "extensions"} {
				v := q.Get(name)
				if !utf8.ValidString(v) {
					writeError(w, http.StatusBadRequest, name+": must be valid UTF-8", apierror.CodeBadUserInput, name)
					return
				}
				if (name == "variables" || name == "extensions") && v != "" {
					var obj map[string]any
					if json.Unmarshal([]byte(v), &obj) != nil {
						writeError(w, http.StatusBadRequest, name+": must be a JSON object", codeBadRequest, name)
						return
					}
					if field, bad := unstorableJSON([]byte(v), []string{name}); bad {
						writeError(w, http.StatusBadRequest, field+": must be valid UTF-8 (no lone surrogate escapes)", apierror.CodeBadUserInput, field)
						return
					}
				}
			}
			if getMutation(q.Get("query"), q.Get("operationName")) {
				w.Header().Set("Allow", "POST")
				writeError(w, http.StatusMethodNotAllowed, "a GET request may only run a query: send mutations and subscriptions with POST", codeMethodNotAllowed, "")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// documentIDRequest turns a request (body, decoded to its members) that
// names a persisted document by documentId (GraphQL over HTTP's persisted
// documents: "sha256:<hex>" or the bare hex) into the persisted-query form
// the server reads; other bodies are returned as they are.
func documentIDRequest(body []byte, req map[string]json.RawMessage) ([]byte, map[string]json.RawMessage) {
	var id string
	if raw, ok := req["documentId"]; !ok || json.Unmarshal(raw, &id) != nil || id == "" {
		return body, req
	}
	if q, ok := req["query"]; ok && string(q) != "null" && string(q) != `""` {
		return body, req
	}
	if _, ok := req["extensions"]; ok {
		return body, req
	}
	delete(req, "documentId")
	delete(req, "query")
	ext, _ := json.Marshal(persistedQueryExtensions(id))
	req["extensions"] = ext
	out, err := json.Marshal(req)
	if err != nil {
		return body, req
	}
	return out, req
}

func persistedQueryExtensions(documentID string) map[string]any {
	hash := strings.TrimPrefix(documentID, "sha256:")
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

// jsonMediaType reports a content type the POST transport reads.
func jsonMediaType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || mt == "application/graphql-response+json")
}

// requestShape checks a POST body, decoded to its members (decodeErr, the
// error decoding it), is a GraphQL request: a JSON object with a string
// query, and, when present, an object of variables and of extensions and a
// string operation name. It never quotes the body. The members were
// decoded from valid JSON, so a member's first byte tells its type.
func requestShape(req map[string]json.RawMessage, decodeErr error) (message, field string) {
	if decodeErr != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(decodeErr, &typeErr) {
			return "the body must be a JSON object (one request, not a batch)", "body"
		}
		return "the body is not valid JSON", "body"
	}
	for _, m := range requestMembers {
		raw, ok := req[m.name]
		if !ok || string(raw) == "null" {
			if m.name == "query" && req["extensions"] == nil {
				return "query: is required", "query"
			}
			continue
		}
		if len(raw) == 0 || raw[0] != m.first {
			return m.name + ": must be " + m.kind, m.name
		}
	}
	return "", ""
}

// requestMembers are the members of a GraphQL request with a type, the
// kind named in a refusal, and the first byte of a JSON value of it.
var requestMembers = []struct {
	name, kind string
	first      byte
}{
	{"query", "a string", '"'}, {"operationName", "a string", '"'},
	{"variables", "a JSON object", '{'}, {"extensions", "a JSON object", '{'},
}

// getMutation reports whether a GET request's document asks for a mutation
// or subscription (the operation named, or its only one).
func getMutation(query, operationName string) bool {
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return false // the transport reports what does not parse
	}
	for _, op := range doc.Operations {
		if operationName != "" && op.Name != operationName {
			continue
		}
		if op.Operation != ast.Query {
			return true
		}
	}
	return false
}

// unstorableJSON walks a JSON document token by token and reports the path
// of the first string (key or value) whose raw bytes are not valid UTF-8 or
// hold a lone surrogate escape. A document that does not parse is left to
// the GraphQL transport to refuse.
func unstorableJSON(doc []byte, root []string) (string, bool) {
	// Outside strings valid JSON holds no backslash, so a document that
	// is valid UTF-8 with no lone surrogate escape anywhere has none in
	// any string: only then is the path worth walking for.
	if utf8.Valid(doc) && !loneSurrogate(doc) {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		object  bool
		wantKey bool
		key     string
		index   int
	}
	var stack []frame
	path := func(frames []frame) string {
		parts := append([]string(nil), root...)
		for _, f := range frames {
			if f.object {
				parts = append(parts, f.key)
			} else {
				parts = append(parts, "["+strconv.Itoa(f.index)+"]")
			}
		}
		// A variable's path is what clients name: "in.content", not
		// "variables.in.content".
		if len(parts) > 0 && parts[0] == "variables" {
			parts = parts[1:]
		}
		return strings.ReplaceAll(strings.Join(parts, "."), ".[", "[")
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		raw := doc[start:dec.InputOffset()]
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, frame{object: t == '{', wantKey: true, index: -1})
				if t == '[' {
					stack[len(stack)-1].index = 0
				}
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && top.object && top.wantKey {
				if !utf8.Valid(raw) || loneSurrogate(raw) {
					return path(stack[:len(stack)-1]), true // the object holding the key
				}
				top.key = t
				top.wantKey = false
				continue
			}
			if !utf8.Valid(raw) || loneSurrogate(raw) {
				return path(stack), true
			}
		}
		// A value ended: the parent expects its next key or element.
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
			if top.object {
				top.wantKey = true
			} else {
				top.index++
			}
		}
	}
}

// loneSurrogate reports a \uD800–\uDFFF escape that is not a high surrogate
// followed at once by a low one.
func loneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // an escaped character: skip it (it may be a backslash)
			continue
		}
		v, ok := hex4(raw, i+2)
		if !ok {
			continue
		}
		switch {
		case v >= 0xD800 && v <= 0xDBFF:
			if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				if low, ok := hex4(raw, i+8); ok && low >= 0xDC00 && low <= 0xDFFF {
					i += 11
					continue
				}
			}
			return true
		case v >= 0xDC00 && v <= 0xDFFF:
			return true
		}
		i += 5
	}
	return false
}

func hex4(b []byte, at int) (int, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	return int(v), err == nil
}
