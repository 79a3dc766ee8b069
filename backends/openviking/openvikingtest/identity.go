package openvikingtest

import (
	"net/http"
	"regexp"
	"strings"
)

// caller is who a request acts for.
type caller struct {
	account, user string
	// root: a root key on an admin route (openviking/server/auth/plugins/trusted.py:130-152).
	root bool
	// actorPeer is X-OpenViking-Actor-Peer: a read-time view of one peer
	// (openviking/server/auth/__init__.py:164-172).
	actorPeer string
}

// userRoot is the caller's tree.
func (c caller) userRoot() string { return "viking://user/" + c.user }

// idPattern is the account, user and peer charset
// (openviking/core/identifiers.py:8).
var idPattern = regexp.MustCompile(`^[a-zA-Z0-9_.@-]+$`)

// idProblem is the validation of openviking/core/identifiers.py:11-53.
func idProblem(id, part string, account bool) string {
	switch {
	case id == "":
		return part + " is empty"
	case id == "." || id == "..":
		return part + " must not be '.' or '..'"
	case !idPattern.MatchString(id):
		return part + " must be alpha_numeric string."
	case strings.Count(id, "@") > 1:
		return part + " must have at most one @."
	case account && strings.HasPrefix(id, "_"):
		return "account_id cannot start with underscore _."
	}
	return ""
}

// identify resolves the caller; it answers the request itself when it
// cannot.
func (s *Server) identify(w http.ResponseWriter, r *http.Request) (caller, bool) {
	key := r.Header.Get("X-API-Key")
	if key == "" {
		key, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	// A registered user's key decides the identity; the identity headers
	// are ignored (openviking/server/auth/plugins/api_key.py:68-105).
	if who, found := s.userKeys[key]; found && key != "" {
		c := caller{account: who[0], user: who[1]}
		return c, s.notBeingDeleted(w, c)
	}
	// api_key mode: the root key is ROOT, any other key or none is 401
	// (openviking/server/auth/plugins/api_key.py:68-105).
	if s.APIKeyMode {
		switch {
		case key == "":
			Fail(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Missing API Key when resolving identity.", nil)
			return caller{}, false
		case key != s.RootKey:
			Fail(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Invalid API Key.", nil)
			return caller{}, false
		}
		return caller{root: true}, true
	}
	// Trusted mode: the root key when one is configured
	// (openviking/server/auth/plugins/trusted.py:98-107).
	if s.RootKey != "" {
		switch {
		case key == "":
			Fail(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Missing API Key in trusted mode with Root API Key enabled.", nil)
			return caller{}, false
		case key != s.RootKey:
			Fail(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Invalid API Key in trusted mode with Root API Key enabled.", nil)
			return caller{}, false
		}
	}
	// On admin routes a root key is ROOT and the identity headers are
	// informational (trusted.py:130-152).
	if strings.HasPrefix(r.URL.Path, "/api/v1/admin/") {
		if s.RootKey == "" || key != s.RootKey {
			Fail(w, http.StatusForbidden, "PERMISSION_DENIED", "Admin API requires api_key mode with root_api_key configured.", nil)
			return caller{}, false
		}
		return caller{root: true}, true
	}
	// Both headers are required: 400, not 401 (trusted.py:154-163).
	c := caller{account: strings.TrimSpace(r.Header.Get("X-OpenViking-Account")), user: strings.TrimSpace(r.Header.Get("X-OpenViking-User"))}
	switch {
	case c.account == "" && c.user == "":
		invalidArgument(w, "Trusted mode requests must include X-OpenViking-Account or explicit account_id in the URL and X-OpenViking-User or explicit user_id in the URL.")
		return caller{}, false
	case c.account == "":
		invalidArgument(w, "Trusted mode requests must include X-OpenViking-Account or explicit account_id in the URL.")
		return caller{}, false
	case c.user == "":
		invalidArgument(w, "Trusted mode requests must include X-OpenViking-User or explicit user_id in the URL.")
		return caller{}, false
	}
	// Ids are validated as the context is built: a bad one is 400
	// (openviking/server/auth/__init__.py:110-114).
	if p := idProblem(c.account, "account_id", true); p != "" {
		invalidArgument(w, p)
		return caller{}, false
	}
	if p := idProblem(c.user, "user_id", false); p != "" {
		invalidArgument(w, p)
		return caller{}, false
	}
	// Session routes ignore the actor peer (openviking/server/auth/__init__.py:177-188).
	if peer := strings.TrimSpace(r.Header.Get("X-OpenViking-Actor-Peer")); peer != "" && !strings.HasPrefix(r.URL.Path, "/api/v1/sessions") {
		if strings.ContainsAny(peer, `/\`) {
			invalidArgument(w, "actor_peer_id must not contain path separators.")
			return caller{}, false
		}
		if p := idProblem(peer, "peer_id", false); p != "" {
			invalidArgument(w, "Invalid peer_id: "+p)
			return caller{}, false
		}
		c.actorPeer = peer
	}
	return c, s.notBeingDeleted(w, c)
}

// notBeingDeleted refuses every request of a user whose admin deletion
// runs: 412 with the task (openviking/server/auth/__init__.py:120-131).
func (s *Server) notBeingDeleted(w http.ResponseWriter, c caller) bool {
	if id, found := s.deleting[c.account+"/"+c.user]; found {
		Fail(w, http.StatusPreconditionFailed, "FAILED_PRECONDITION", "User deletion is in progress", map[string]any{"task_id": id})
		return false
	}
	return true
}
