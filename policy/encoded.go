package policy

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// Encoded secrets: base64 payloads whose decoded form is a credential (a
// PEM private key in a kubeconfig's client-key-data, "user:password" in a
// Docker config.json's auth or a Basic header), and the signature of an
// Azure shared access signature URL.

// base64PEM is "-----BEGIN" in base64, the start of every base64-encoded
// PEM block.
const base64PEM = "LS0tLS1CRUdJTi"

// findBase64PrivateKey finds a base64-encoded PEM block that decodes to a
// private key (client-key-data, tls.key); certificates stay.
func findBase64PrivateKey(s *scan, hit, _ int, out []finding) []finding {
	t := s.text
	if hit > 0 && isBase64Char(t[hit-1]) || !strings.HasPrefix(t[hit:], base64PEM) {
		return out
	}
	e := hit
	for e < len(t) && isBase64Char(t[e]) {
		e++
	}
	for e < len(t) && t[e] == '=' {
		e++
	}
	head := t[hit : hit+min(e-hit, 96)/4*4] // the first line is enough to know the block
	decoded, ok := decodeBase64(head)
	if !ok || !strings.Contains(decoded, "PRIVATE KEY") {
		return out
	}
	return append(out, finding{start: hit, end: e, kind: KindPrivateKey, priority: priorityBlock})
}

func isBase64Char(c byte) bool { return isAlnum(c) || c == '+' || c == '/' }

// decodeBase64 decodes standard or URL-safe base64, padded or not.
func decodeBase64(v string) (string, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(v); err == nil {
			return string(raw), true
		}
	}
	if trimmed := strings.TrimRight(v, "="); trimmed != v {
		return decodeBase64(trimmed)
	}
	return "", false
}

// isBasicCredential reports base64 that decodes to printable
// "user:password" — a password, not a placeholder ("username:password"
// of the documentation).
func isBasicCredential(v string) bool {
	password, ok := basicPassword(v)
	return ok && !isPlaceholder(password)
}

// isBasicPlaceholder reports base64 of a documentation credential
// ("dXNlcjpwYXNz" is "user:pass").
func isBasicPlaceholder(v string) bool {
	password, ok := basicPassword(v)
	return ok && isPlaceholder(password)
}

// basicPassword decodes base64 "user:password" to its password.
func basicPassword(v string) (string, bool) {
	raw, ok := decodeBase64(v)
	if !ok || !utf8.ValidString(raw) {
		return "", false
	}
	colon := strings.IndexByte(raw, ':')
	if colon < 1 || colon == len(raw)-1 {
		return "", false
	}
	for _, r := range raw {
		if r < ' ' || r == 0x7f {
			return "", false
		}
	}
	return raw[colon+1:], true
}

// findSASSignature finds the signature of an Azure shared access
// signature (…&sig=…): the rest of such a URL (permissions, expiry) is no
// secret.
func findSASSignature(s *scan, hit, hitEnd int, out []finding) []finding {
	t := s.text
	if hit == 0 || strings.IndexByte("?&;", t[hit-1]) < 0 {
		return out
	}
	e := hitEnd
	for e < len(t) && (isAlnum(t[e]) || strings.IndexByte("%+/=-_", t[e]) >= 0) {
		e++
	}
	if e-hitEnd < 16 || isPlaceholder(t[hitEnd:e]) {
		return out
	}
	return append(out, finding{start: hitEnd, end: e, kind: KindAPIKey, priority: prioritySecret})
}
