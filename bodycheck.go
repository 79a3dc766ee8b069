package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// withStorableJSON refuses a GraphQL request whose JSON holds a string the
// stores could not keep as sent: invalid UTF-8, or a lone UTF-16 surrogate
// escape ("\ud800"). encoding/json would silently replace either with
// U+FFFD, so what is stored would differ from what was sent. The refusal is
// BAD_USER_INPUT naming the field (a variable's path, "in.content", or the
// request member, "query"); nothing runs. (NUL bytes decode faithfully and
// are refused by the domain, per field.)
func withStorableJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && strings.Contains(r.Header.Get("Content-Type"), "json"):
			body, err := io.ReadAll(r.Body)
			if err != nil {
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					writeJSON(w, http.StatusRequestEntityTooLarge, codedError("request body is larger than "+strconv.FormatInt(tooLarge.Limit, 10)+" bytes", "BAD_USER_INPUT", "body"))
					return
				}
				writeJSON(w, http.StatusBadRequest, codedError("the request body could not be read", "BAD_REQUEST", ""))
				return
			}
			if field, bad := unstorableJSON(body, nil); bad {
				writeJSON(w, http.StatusBadRequest, codedError(field+": must be valid UTF-8 (no lone surrogate escapes)", "BAD_USER_INPUT", field))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		case r.Method == http.MethodGet:
			q := r.URL.Query()
			for _, name := range []string{"query", "operationName", "variables", "extensions"} {
				v := q.Get(name)
				if !utf8.ValidString(v) {
					writeJSON(w, http.StatusBadRequest, codedError(name+": must be valid UTF-8", "BAD_USER_INPUT", name))
					return
				}
				if name == "variables" && v != "" {
					if field, bad := unstorableJSON([]byte(v), []string{"variables"}); bad {
						writeJSON(w, http.StatusBadRequest, codedError(field+": must be valid UTF-8 (no lone surrogate escapes)", "BAD_USER_INPUT", field))
						return
					}
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func codedError(message, code, field string) map[string]any {
	ext := map[string]any{"code": code}
	if field != "" {
		ext["field"] = field
	}
	return map[string]any{"errors": []map[string]any{{"message": message, "extensions": ext}}}
}

// unstorableJSON walks a JSON document token by token and reports the path
// of the first string (key or value) whose raw bytes are not valid UTF-8 or
// hold a lone surrogate escape. A document that does not parse is left to
// the GraphQL transport to refuse.
func unstorableJSON(doc []byte, root []string) (string, bool) {
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
