package policy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// A JSON Web Token's header names its algorithm: its first segment is the
// base64url of a JSON object holding "alg" (RFC 7515, 7519; "none" for an
// unsigned one). Three dot-separated runs of base64 that start with "eyJ"
// but whose header is no such object ({"alg":"HS256","typ":"JWT" without
// its brace) or says nothing of the kind are no token. The object is read
// for its braces and "alg" only, not parsed; a header that does not decode
// whole (cut short) is read as far as it does.
func jwtHeaderNamesAlg(token string) bool {
	header, _, _ := strings.Cut(token, ".")
	header = strings.TrimRight(header, "=")
	raw, err := base64.RawURLEncoding.DecodeString(header)
	whole := err == nil
	if !whole {
		raw, err = base64.RawURLEncoding.DecodeString(header[:len(header)/4*4])
		if err != nil {
			return false
		}
	}
	raw = bytes.TrimSpace(raw)
	closed := len(raw) > 0 && raw[len(raw)-1] == '}'
	return len(raw) > 0 && raw[0] == '{' && (closed || !whole) && bytes.Contains(raw, []byte(`"alg"`))
}

// validJWT is what every detector of JWTs asks of one it found: a token
// in the compact form ("eyJ…") must name its algorithm; other forms (the
// base64 of a whole token) are judged by their own rules.
func validJWT(token string) bool {
	return !strings.HasPrefix(token, "eyJ") || jwtHeaderNamesAlg(token)
}

// A JWT without a signature and without the dot that would end one
// ("eyJ….eyJ…"): unsigned tokens are written so too. Two base64 runs
// joined by a dot are common (file names, ids); they are a token only
// when the first decodes to a JOSE header and the second to a JSON object.

// findTwoPartJWT finds a header and a payload, not followed by a
// signature (the token detector reads signed tokens).
func findTwoPartJWT(s *scan, hit, _ int, out []finding) []finding {
	t := s.text
	if hit > 0 && (isAlnum(t[hit-1]) || t[hit-1] == '-' || t[hit-1] == '_') || !strings.HasPrefix(t[hit:], "eyJ") {
		return out
	}
	dot := base64URLEnd(t, hit)
	if dot >= len(t) || t[dot] != '.' || !strings.HasPrefix(t[dot+1:], "eyJ") {
		return out
	}
	end := base64URLEnd(t, dot+1)
	if end < len(t) && (t[end] == '.' || isWord(t[end])) {
		return out
	}
	if !joseHeader(t[hit:dot]) || !jsonObject(t[dot+1:end]) {
		return out
	}
	return append(out, finding{start: hit, end: end, kind: KindJWT, priority: priorityToken})
}

// base64URLEnd is where the run of URL-safe base64 from i ends.
func base64URLEnd(t string, i int) int {
	for i < len(t) && i < maxTokenLen && (isAlnum(t[i]) || t[i] == '-' || t[i] == '_') {
		i++
	}
	return i
}

// joseHeader: base64 of a JSON object naming an algorithm or a type.
func joseHeader(v string) bool {
	var h map[string]any
	raw, ok := decodeBase64(v)
	if !ok || json.Unmarshal([]byte(raw), &h) != nil {
		return false
	}
	_, alg := h["alg"]
	_, typ := h["typ"]
	return alg || typ
}

// jsonObject: base64 of a JSON object.
func jsonObject(v string) bool {
	var o map[string]any
	raw, ok := decodeBase64(v)
	return ok && json.Unmarshal([]byte(raw), &o) == nil
}
