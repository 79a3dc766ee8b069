package openviking

import (
	"encoding/base32"
	"fmt"
	"strings"
)

// OpenViking accepts account, user and peer ids that match
// ^[a-zA-Z0-9_.@-]+$, hold at most one "@", are not "." or "..", and (for an
// account) do not start with "_" (volcengine/OpenViking
// openviking/core/identifiers.py:8-48, v0.4.16-9; a bad id is a permanent
// 400 INVALID_ARGUMENT, openviking/server/error_mapping.py:482-488). The
// gateway accepts any printable id, so ids are mapped into that charset:
// an id the server accepts as it is goes as it is, and every other id — and
// every id that starts with the encoding's own prefix, so that no two ids
// meet — goes as encodedIDPrefix + the unpadded lower-case base32 of its
// UTF-8 bytes. The mapping is reversible (DecodeID) and stable.
const encodedIDPrefix = "mg-"

var idEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// EncodeID maps a gateway id (a workspace, user or agent) onto an id
// OpenViking accepts. account says whether it names an account (which may
// not start with "_").
func EncodeID(id string, account bool) string {
	if ValidID(id, account) && !strings.HasPrefix(id, encodedIDPrefix) {
		return id
	}
	return encodedIDPrefix + strings.ToLower(idEncoding.EncodeToString([]byte(id)))
}

// DecodeID is EncodeID's inverse.
func DecodeID(id string) (string, error) {
	rest, ok := strings.CutPrefix(id, encodedIDPrefix)
	if !ok {
		return id, nil
	}
	raw, err := idEncoding.DecodeString(strings.ToUpper(rest))
	if err != nil {
		return "", fmt.Errorf("%q is not an encoded id: %w", id, err)
	}
	return string(raw), nil
}

// ValidID reports whether OpenViking accepts id as it is (the rules of
// openviking/core/identifiers.py:11-48).
func ValidID(id string, account bool) bool {
	if id == "" || id == "." || id == ".." || strings.Count(id, "@") > 1 || (account && strings.HasPrefix(id, "_")) {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '@' || c == '-') {
			return false
		}
	}
	return true
}
