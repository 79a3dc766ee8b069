package remote

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Identities derives what remote backends are told about who they act for.
// Its zero value tells them the gateway's own ids (a user id always with its
// workspace); with a key (PSEUDONYMOUS_BACKEND_IDS) it tells them keyed
// hashes instead, so no backend ever holds a raw user or agent id.
type Identities struct {
	key []byte
}

// NewIdentities returns pseudonymous identities keyed by key; a nil or
// empty key gives the gateway's own ids.
func NewIdentities(key []byte) Identities { return Identities{key: key} }

// Pseudonymous reports whether backends get keyed hashes.
func (ids Identities) Pseudonymous() bool { return len(ids.key) > 0 }

// Identity is who a remote backend is asked to act for: one user of one
// workspace. Every adapter derives what it sends from it, so a user id
// reaches a backend only together with its workspace: the same user id in
// two workspaces is two users everywhere.
type Identity struct {
	WorkspaceID string
	UserID      string
	// pseudonym, when set, is what backends know the user as.
	pseudonym string
}

// Identify is the identity function of the remote backends with the
// gateway's own ids.
func Identify(workspaceID, userID string) Identity { return Identities{}.Of(workspaceID, userID) }

// Of is the identity of a user of a workspace.
func (ids Identities) Of(workspaceID, userID string) Identity {
	id := Identity{WorkspaceID: workspaceID, UserID: userID}
	if ids.Pseudonymous() {
		id.pseudonym = "u_" + ids.hash("user", workspaceID, userID)
	}
	return id
}

// Agent is what a backend is told an agent of a workspace is.
func (ids Identities) Agent(workspaceID, agentID string) string {
	if !ids.Pseudonymous() {
		return agentID
	}
	return "a_" + ids.hash("agent", workspaceID, agentID)
}

// hash is HMAC-SHA-256 of the kind, workspace and id (length-prefixed, so
// no two triples meet), 32 hex characters: stable, and unreadable without
// the key.
func (ids Identities) hash(kind, workspaceID, id string) string {
	mac := hmac.New(sha256.New, ids.key)
	for _, part := range []string{kind, workspaceID, id} {
		fmt.Fprintf(mac, "%d:%s", len(part), part)
	}
	return hex.EncodeToString(mac.Sum(nil))[:32]
}

// Account is the identity for a backend with tenants of its own
// (OpenViking's accounts): the workspace is the tenant.
func (i Identity) Account() string { return i.WorkspaceID }

// User is the user inside the account.
func (i Identity) User() string {
	if i.pseudonym != "" {
		return i.pseudonym
	}
	return i.UserID
}

// ScopedUserID is the identity for a backend with a single tenant
// (EverMemOS): one user id that names the workspace too,
// "{workspace}:{user}" with each part escaped so that no two identities
// meet ("a:b" + "c" and "a" + "b:c" stay apart). Ordinary ids stay
// readable: "acme:alice". A pseudonym names the workspace already.
func (i Identity) ScopedUserID() string {
	if i.pseudonym != "" {
		return i.pseudonym
	}
	return escapeIDPart(i.WorkspaceID) + ":" + escapeIDPart(i.UserID)
}

// escapeIDPart percent-escapes everything but letters, digits and ._-@.
func escapeIDPart(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-', c == '@':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
