package everos

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
)

// EverOS ids: a sender id is 1–128 characters of ^[a-zA-Z0-9_.@+-]+$, not
// "." or ".." (src/everos/entrypoints/api/routes/memorize.py@33507bd8:64-69,
// src/everos/core/scope_ids.py@06e3f9ad:15,47-54); an app or project id
// the same on 1.0.1–1.2.3, and lower case only, without a trailing dot, a
// Windows device name or a reserved name on the next release
// (scope_ids.py@06e3f9ad:15-45,57-86). The gateway accepts any printable id,
// so ids are mapped into the portable subset: an id EverOS accepts goes as
// it is; any other id, and any id that starts with the encoding's prefix,
// goes as encodedPrefix + the unpadded lower-case base32 of its bytes; an
// encoding longer than maxIDLength goes as hashedPrefix + its sha256
// (hex, 40 characters). The mapping is stable, and injective but for
// sha256 collisions.
const (
	encodedPrefix = "mg-"
	hashedPrefix  = "mgh-"
	maxIDLength   = 128
)

var (
	senderPattern = regexp.MustCompile(`^[a-zA-Z0-9_.@+-]+$`)
	scopePattern  = regexp.MustCompile(`^[a-z0-9_.@+-]+$`)
	idEncoding    = base32.HexEncoding.WithPadding(base32.NoPadding)
	// reservedScopes are refused as app or project ids (scope_ids.py@06e3f9ad:15-45).
	reservedScopes = []string{
		"con", "nul", "aux", "prn", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9",
		"lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
		".index", ".lock", ".projection.lock", ".tmp", "default_app", "everos.toml", "ome.toml", "default_project",
	}
)

// agentPrefix starts every agent's sender id and no user's: EverOS makes
// the senders of user messages owners of episodes and those of assistant
// messages owners of agent cases (memory/extract/pipeline/user_memory.py@e0c03e27:109-116,
// memory/strategies/extract_agent_case.py@07a7cd51:120-140), so a user
// named like an agent must never share its sender id.
const agentPrefix = "agent."

// UserSenderID maps a user id onto the sender id EverOS knows the user by.
func UserSenderID(id string) string {
	return mapID(id, func(s string) bool { return validSender(s) && !strings.HasPrefix(s, agentPrefix) })
}

// AgentSenderID maps an agent id onto its sender id: agentPrefix + the
// mapped id (hashed when that would be too long).
func AgentSenderID(id string) string {
	sender := agentPrefix + mapID(id, validSender)
	if len(sender) > maxIDLength {
		sum := sha256.Sum256([]byte(id))
		sender = agentPrefix + hashedPrefix + hex.EncodeToString(sum[:20])
	}
	return sender
}

// ScopeID maps a workspace onto an app or project id every EverOS 1.x
// accepts.
func ScopeID(id string) string { return mapID(id, validScope) }

func validSender(id string) bool {
	return id != "." && id != ".." && len(id) <= maxIDLength && senderPattern.MatchString(id)
}

func validScope(id string) bool {
	base, _, _ := strings.Cut(id, ".")
	return validSender(id) && scopePattern.MatchString(id) && !strings.HasSuffix(id, ".") &&
		!slices.Contains(reservedScopes, id) && !slices.Contains(reservedScopes, base)
}

func mapID(id string, valid func(string) bool) string {
	if valid(id) && !strings.HasPrefix(id, encodedPrefix) && !strings.HasPrefix(id, hashedPrefix) {
		return id
	}
	encoded := encodedPrefix + strings.ToLower(idEncoding.EncodeToString([]byte(id)))
	if len(encoded) <= maxIDLength {
		return encoded
	}
	sum := sha256.Sum256([]byte(id))
	return hashedPrefix + hex.EncodeToString(sum[:20])
}
