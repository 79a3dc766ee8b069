package policy

import (
	"bytes"
	"encoding/base64"
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
