// Package policy holds the gateway's security policy that is not domain
// logic: API keys and how a request proves who it is, the redaction engine
// applied to content before it leaves for a backend, and per-principal rate
// limits. The namespace ACL itself is enforced by the domain service.
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/memory-gateway/memory-gateway/gateway"
)

// keyFile is the keys file: {"keys": [{…}]}. Keys are stored hashed.
type keyFile struct {
	Keys []struct {
		Name      string `json:"name"`
		SHA256    string `json:"sha256"`
		Workspace string `json:"workspace"`
		Role      string `json:"role"`
		UserID    string `json:"userId"`
		AgentID   string `json:"agentId"`
		Grants    []struct {
			Namespace string `json:"namespace"`
			Access    string `json:"access"`
		} `json:"grants"`
	} `json:"keys"`
}

// Keyring maps key hashes to principals.
type Keyring struct {
	byHash map[[sha256.Size]byte]gateway.Principal
}

// HashKey is the hex sha256 of a key, as the keys file stores it.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// LoadKeyring reads keys from a file and/or an inline JSON document (the
// same format). Neither: an empty keyring (dev mode).
func LoadKeyring(path, inline string) (*Keyring, error) {
	k := &Keyring{byHash: map[[sha256.Size]byte]gateway.Principal{}}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("error reading the API keys file: %w", err)
		}
		if err := k.add(raw, path); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(inline) != "" {
		if err := k.add([]byte(inline), "API_KEYS"); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func (k *Keyring) add(raw []byte, source string) error {
	var f keyFile
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("%s: not a keys document: %w", source, err)
	}
	names := map[string]bool{}
	for _, p := range k.byHash {
		names[p.Name] = true
	}
	for i, e := range f.Keys {
		where := fmt.Sprintf("%s: keys[%d]", source, i)
		sum, err := hex.DecodeString(strings.ToLower(e.SHA256))
		if err != nil || len(sum) != sha256.Size {
			return fmt.Errorf("%s: sha256 must be 64 hex characters", where)
		}
		if e.Name == "" || names[e.Name] {
			return fmt.Errorf("%s: name must be set and unique", where)
		}
		if e.Workspace == "" {
			return fmt.Errorf("%s: workspace is required", where)
		}
		role := gateway.PrincipalRole(strings.ToLower(e.Role))
		if role != gateway.RoleAgent && role != gateway.RoleDashboard && role != gateway.RoleAdmin {
			return fmt.Errorf("%s: role must be AGENT, DASHBOARD or ADMIN", where)
		}
		p := gateway.Principal{Name: e.Name, WorkspaceID: e.Workspace, UserID: e.UserID, AgentID: e.AgentID, Role: role}
		for j, g := range e.Grants {
			access, err := gateway.ParseAccess(g.Access)
			if err != nil {
				return fmt.Errorf("%s.grants[%d]: %w", where, j, err)
			}
			p.Grants = append(p.Grants, gateway.Grant{Namespace: strings.Trim(g.Namespace, "/ "), Access: access})
		}
		var key [sha256.Size]byte
		copy(key[:], sum)
		if _, dup := k.byHash[key]; dup {
			return fmt.Errorf("%s: the same key appears twice", where)
		}
		names[e.Name] = true
		k.byHash[key] = p
	}
	return nil
}

// Empty reports whether no key is configured (dev mode).
func (k *Keyring) Empty() bool { return k == nil || len(k.byHash) == 0 }

// Len counts the keys.
func (k *Keyring) Len() int {
	if k == nil {
		return 0
	}
	return len(k.byHash)
}

// Authenticate returns the principal of a presented key.
func (k *Keyring) Authenticate(key string) (gateway.Principal, bool) {
	if k == nil || key == "" {
		return gateway.Principal{}, false
	}
	p, ok := k.byHash[sha256.Sum256([]byte(key))]
	return p, ok
}

// bearer extracts the token of an "Authorization: Bearer …" value.
func bearer(value string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(value), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// ErrBadCredentials is a presented key that matches no principal.
var ErrBadCredentials = errors.New("the API key is not valid")

// Middleware authenticates HTTP requests by their bearer key. A valid key
// puts its principal in the request context; an invalid one is refused with
// 401. A request without a key goes on unauthenticated: the domain then
// refuses it (UNAUTHENTICATED) unless the server runs in dev mode, and a
// websocket authenticates later, in its connection_init payload.
func (k *Keyring) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if k.Empty() {
			// Dev mode: every caller is the dev principal, named so in logs.
			next.ServeHTTP(w, r.WithContext(gateway.WithPrincipal(r.Context(), gateway.DevPrincipal)))
			return
		}
		if header == "" {
			if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
				next.ServeHTTP(w, r)
				return
			}
			unauthenticated(w, "an API key is required: send Authorization: Bearer <key>")
			return
		}
		p, ok := k.Authenticate(bearer(header))
		if !ok {
			unauthenticated(w, ErrBadCredentials.Error())
			return
		}
		next.ServeHTTP(w, r.WithContext(gateway.WithPrincipal(r.Context(), p)))
	})
}

func unauthenticated(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("WWW-Authenticate", `Bearer realm="memory-gateway"`)
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": message, "extensions": map[string]any{"code": "UNAUTHENTICATED"}}},
	})
}

// WebsocketInit authenticates a websocket from its connection_init payload:
// {"authToken": "<key>"} or {"Authorization": "Bearer <key>"}.
func (k *Keyring) WebsocketInit(ctx context.Context, payload map[string]any) (context.Context, error) {
	if _, ok := gateway.PrincipalFrom(ctx); ok {
		return ctx, nil // authenticated by header already
	}
	token, _ := payload["authToken"].(string)
	if token == "" {
		for _, name := range []string{"Authorization", "authorization"} {
			if v, ok := payload[name].(string); ok {
				token = bearer(v)
			}
		}
	}
	if token == "" {
		if k.Empty() {
			return ctx, nil
		}
		return ctx, errors.New("unauthenticated: send the API key as authToken in connection_init")
	}
	p, ok := k.Authenticate(token)
	if !ok {
		return ctx, ErrBadCredentials
	}
	return gateway.WithPrincipal(ctx, p), nil
}
