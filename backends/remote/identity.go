package remote

import (
	"fmt"
	"strings"
)

// Identity is who a remote backend is asked to act for: one user of one
// workspace. Every adapter derives what it sends from it, so a user id
// reaches a backend only together with its workspace: the same user id in
// two workspaces is two users everywhere.
type Identity struct {
	WorkspaceID string
	UserID      string
}

// Identify is the one identity function of the remote backends.
func Identify(workspaceID, userID string) Identity {
	return Identity{WorkspaceID: workspaceID, UserID: userID}
}

// Account and User are the identity for a backend with tenants of its own
// (OpenViking's accounts): the workspace is the tenant.
func (i Identity) Account() string { return i.WorkspaceID }

// User is the user inside the account.
func (i Identity) User() string { return i.UserID }

// ScopedUserID is the identity for a backend with a single tenant
// (EverMemOS): one user id that names the workspace too,
// "{workspace}:{user}" with each part escaped so that no two identities
// meet ("a:b" + "c" and "a" + "b:c" stay apart). Ordinary ids stay
// readable: "acme:alice".
func (i Identity) ScopedUserID() string {
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
