// Package policy holds the gateway's security policy that is not domain
// logic: API keys and how a request proves who it is, the redaction engine
// applied to content before it leaves for a backend, and per-principal rate
// limits. The namespace ACL itself is enforced by the domain service.
package policy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/memory-gateway/memory-gateway/apierror"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// KeysFile is the keys file: {"keys": [{…}]}. Keys are stored hashed. It
// is what the gateway reads and what `memory-gateway keys create` writes.
type KeysFile struct {
	Keys []KeyEntry `json:"keys"`
}

// KeyEntry is one key of the keys file.
type KeyEntry struct {
	Name      string     `json:"name"`
	SHA256    string     `json:"sha256"`
	Workspace string     `json:"workspace"`
	Role      string     `json:"role"`
	UserID    string     `json:"userId,omitempty"`
	AgentID   string     `json:"agentId,omitempty"`
	Grants    []KeyGrant `json:"grants"`
}

// KeyGrant is one grant of a key: an access on a namespace and everything
// below it ("" is the whole workspace).
type KeyGrant struct {
	Namespace string `json:"namespace"`
	Access    string `json:"access"`
}

// KeyFieldError is a field of a keys-file entry the loader refuses.
type KeyFieldError struct {
	// Field is the entry's JSON field: name, sha256, workspace, role or
	// grants.
	Field string
	// Grant is the index of the grant refused, when Field is grants.
	Grant int
	Err   error
}

func (e *KeyFieldError) Error() string { return e.Err.Error() }
func (e *KeyFieldError) Unwrap() error { return e.Err }

func fieldError(field, format string, args ...any) error {
	return &KeyFieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// KeyPrefix starts every key the gateway makes, so a key is recognisable
// wherever it turns up (a log, a paste, a secret scanner).
const KeyPrefix = "mgw_"

// keySecretBytes is how much randomness a made key carries.
const keySecretBytes = 24

// NewKey makes a key: KeyPrefix and 24 random bytes in hex.
func NewKey() (string, error) {
	secret := make([]byte, keySecretBytes)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("error reading random bytes for a key: %w", err)
	}
	return KeyPrefix + hex.EncodeToString(secret), nil
}

// principal checks the entry on its own (not against the other entries of
// its document) and returns its hash and principal.
func (e KeyEntry) principal() ([sha256.Size]byte, gateway.Principal, error) {
	var hash [sha256.Size]byte
	if e.Name == "" {
		return hash, gateway.Principal{}, fieldError("name", "name must be set and unique")
	}
	sum, err := hex.DecodeString(strings.ToLower(e.SHA256))
	if err != nil || len(sum) != sha256.Size {
		return hash, gateway.Principal{}, fieldError("sha256", "sha256 must be 64 hex characters")
	}
	copy(hash[:], sum)
	if e.Workspace == "" {
		return hash, gateway.Principal{}, fieldError("workspace", "workspace is required (\"*\" for the operator key)")
	}
	role := gateway.PrincipalRole(strings.ToLower(e.Role))
	if role != gateway.RoleAgent && role != gateway.RoleDashboard && role != gateway.RoleAdmin {
		return hash, gateway.Principal{}, fieldError("role", "role must be AGENT, DASHBOARD or ADMIN")
	}
	p := gateway.Principal{Name: e.Name, WorkspaceID: e.Workspace, UserID: e.UserID, AgentID: e.AgentID, Role: role}
	for j, g := range e.Grants {
		access, err := gateway.ParseAccess(g.Access)
		if err != nil {
			return hash, gateway.Principal{}, &KeyFieldError{Field: "grants", Grant: j, Err: fmt.Errorf("grants[%d]: %w", j, err)}
		}
		p.Grants = append(p.Grants, gateway.Grant{Namespace: strings.Trim(g.Namespace, "/ "), Access: access})
	}
	return hash, p, nil
}

// Check says whether the loader accepts the entry on its own; a refusal is
// a *KeyFieldError.
func (e KeyEntry) Check() error {
	_, _, err := e.principal()
	return err
}

// ParseKeysFile reads a keys document as the gateway does, refusing what it
// refuses (unknown fields, a bad entry, a name or a key twice).
func ParseKeysFile(raw []byte, source string) (KeysFile, error) {
	f, err := decodeKeysFile(raw, source)
	if err != nil {
		return KeysFile{}, err
	}
	if err := add(map[[sha256.Size]byte]gateway.Principal{}, f, source); err != nil {
		return KeysFile{}, err
	}
	return f, nil
}

func decodeKeysFile(raw []byte, source string) (KeysFile, error) {
	var f KeysFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return KeysFile{}, fmt.Errorf("%s: not a keys document: %w", source, err)
	}
	return f, nil
}

// Keyring maps key hashes to principals. It may be reloaded while the
// gateway runs (Reload): a key that is removed, or whose principal changed,
// is revoked — every request and stream it authenticated is cancelled, so
// an open subscription of a revoked key is closed.
type Keyring struct {
	path, inline string
	// devMode is decided when the keyring is first loaded: a reload never
	// switches it (an empty keyring is dev mode, full access).
	devMode bool

	mu      sync.RWMutex
	entries map[[sha256.Size]byte]*keyEntry
	// digest fingerprints the keys file the keys in force were read from.
	digest string
}

// keyEntry is one key: its principal, and a context cancelled when the key
// is revoked.
type keyEntry struct {
	principal gateway.Principal
	alive     context.Context
	revoke    context.CancelFunc
}

func newKeyEntry(p gateway.Principal) *keyEntry {
	alive, revoke := context.WithCancel(context.Background())
	return &keyEntry{principal: p, alive: alive, revoke: revoke}
}

// HashKey is the hex sha256 of a key, as the keys file stores it.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// LoadKeyring reads keys from a file and/or an inline JSON document (the
// same format). Neither: an empty keyring (dev mode).
func LoadKeyring(path, inline string) (*Keyring, error) {
	k := &Keyring{path: path, inline: inline}
	k.digest = k.fileDigest()
	principals, err := k.read()
	if err != nil {
		return nil, err
	}
	k.entries = make(map[[sha256.Size]byte]*keyEntry, len(principals))
	for hash, p := range principals {
		k.entries[hash] = newKeyEntry(p)
	}
	k.devMode = len(principals) == 0
	return k, nil
}

// read parses the keyring's sources.
func (k *Keyring) read() (map[[sha256.Size]byte]gateway.Principal, error) {
	out := map[[sha256.Size]byte]gateway.Principal{}
	if k.path != "" {
		raw, err := os.ReadFile(k.path)
		if err != nil {
			return nil, fmt.Errorf("error reading the API keys file: %w", err)
		}
		if err := parse(out, raw, k.path); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(k.inline) != "" {
		if err := parse(out, []byte(k.inline), "API_KEYS"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReloadResult says what a reload changed.
type ReloadResult struct {
	Keys    int
	Added   int
	Revoked int
}

// Errors of a refused reload: the keys in force stay as they were.
var (
	ErrReloadEmpty   = errors.New("the new keys document holds no keys: refusing to leave the gateway without keys (dev mode is decided at start)")
	ErrReloadDevMode = errors.New("the gateway started without keys (dev mode): restart it to require keys")
)

// Reload reads the sources again (the keys file; inline keys cannot change)
// and swaps the keys in force. Keys whose principal is unchanged carry on;
// a key removed or changed is revoked, which cancels what it opened. A
// document that does not parse, or holds no keys, is refused and the keys
// in force stay.
func (k *Keyring) Reload() (ReloadResult, error) {
	if k.devMode {
		return ReloadResult{}, ErrReloadDevMode
	}
	digest := k.fileDigest()
	principals, err := k.read()
	if err != nil {
		return ReloadResult{}, err
	}
	if len(principals) == 0 {
		return ReloadResult{}, ErrReloadEmpty
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.digest = digest
	res := ReloadResult{Keys: len(principals)}
	next := make(map[[sha256.Size]byte]*keyEntry, len(principals))
	for hash, p := range principals {
		if old, ok := k.entries[hash]; ok && reflect.DeepEqual(old.principal, p) {
			next[hash] = old
			continue
		}
		next[hash] = newKeyEntry(p)
		res.Added++
	}
	for hash, old := range k.entries {
		if next[hash] != old {
			old.revoke()
			res.Revoked++
		}
	}
	k.entries = next
	return res, nil
}

// parse adds one keys document to out.
func parse(out map[[sha256.Size]byte]gateway.Principal, raw []byte, source string) error {
	f, err := decodeKeysFile(raw, source)
	if err != nil {
		return err
	}
	return add(out, f, source)
}

// add adds the keys of a document to out.
func add(out map[[sha256.Size]byte]gateway.Principal, f KeysFile, source string) error {
	names := map[string]bool{}
	for _, p := range out {
		names[p.Name] = true
	}
	for i, e := range f.Keys {
		where := fmt.Sprintf("%s: keys[%d]", source, i)
		key, p, err := e.principal()
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if names[e.Name] {
			return fmt.Errorf("%s: name must be set and unique", where)
		}
		if _, dup := out[key]; dup {
			return fmt.Errorf("%s: the same key appears twice", where)
		}
		names[e.Name] = true
		out[key] = p
	}
	return nil
}

// Empty reports whether the gateway runs without keys (dev mode), which is
// decided when the keyring is first loaded.
func (k *Keyring) Empty() bool { return k == nil || k.devMode }

// Len counts the keys in force.
func (k *Keyring) Len() int {
	if k == nil {
		return 0
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.entries)
}

func (k *Keyring) lookup(key string) (*keyEntry, bool) {
	if k == nil || key == "" {
		return nil, false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	e, ok := k.entries[sha256.Sum256([]byte(key))]
	return e, ok
}

// Authenticate returns the principal of a presented key.
func (k *Keyring) Authenticate(key string) (gateway.Principal, bool) {
	e, ok := k.lookup(key)
	if !ok {
		return gateway.Principal{}, false
	}
	return e.principal, true
}

// bind returns ctx carrying the key's principal, cancelled when the key is
// revoked, and a function that lets go of the binding (call it when ctx's
// work is done).
func bind(ctx context.Context, e *keyEntry) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(gateway.WithPrincipal(ctx, e.principal))
	stop := context.AfterFunc(e.alive, func() { cancel(gateway.ErrKeyRevoked) })
	return ctx, func() {
		stop()
		cancel(context.Canceled)
	}
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
		e, ok := k.lookup(bearer(header))
		if !ok {
			unauthenticated(w, ErrBadCredentials.Error())
			return
		}
		// A stream (a subscription over SSE or a websocket) lives in this
		// request: revoking the key ends it.
		ctx, release := bind(r.Context(), e)
		defer release()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Gate serves next only to a request whose key's principal allow accepts
// (in dev mode, which has no keys, to every request as the dev principal,
// when allow accepts that). Every other request — without a key, with a key
// that matches nothing, with a key allow refuses — is answered by denied,
// one and the same answer for all: unlike Middleware's 401 with its
// WWW-Authenticate, it tells a caller without access nothing, not even that
// there is something to authenticate to. What next serves still ends when
// the key is revoked.
func (k *Keyring) Gate(allow func(gateway.Principal) bool, denied, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k.Empty() {
			if !allow(gateway.DevPrincipal) {
				denied.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r.WithContext(gateway.WithPrincipal(r.Context(), gateway.DevPrincipal)))
			return
		}
		e, ok := k.lookup(bearer(r.Header.Get("Authorization")))
		if !ok || !allow(e.principal) {
			denied.ServeHTTP(w, r)
			return
		}
		ctx, release := bind(r.Context(), e)
		defer release()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func unauthenticated(w http.ResponseWriter, message string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="memory-gateway"`)
	apierror.WriteHTTP(w, http.StatusUnauthorized, apierror.Error{Code: apierror.CodeUnauthenticated, Message: message})
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
	e, ok := k.lookup(token)
	if !ok {
		return ctx, ErrBadCredentials
	}
	// The connection lives in ctx: revoking the key closes it, with every
	// subscription on it. The binding goes when the connection does.
	ctx, release := bind(ctx, e)
	context.AfterFunc(ctx, release)
	return ctx, nil
}

// KeysReloadIntervalDefault is how often Watch looks at the keys file.
const KeysReloadIntervalDefault = 5 * time.Second

// Watch reloads the keyring whenever the keys file's content changes (read
// every interval, so a file replaced through a symlink swap, as secret
// mounts do, is seen too) and whenever reload delivers (SIGHUP). It returns
// when ctx is done. report is told every outcome; a file that cannot be
// read or parsed is reported once, until it changes.
func (k *Keyring) Watch(ctx context.Context, interval time.Duration, reload <-chan os.Signal, report func(ReloadResult, error)) {
	if interval <= 0 {
		interval = KeysReloadIntervalDefault
	}
	// Changes made since the keys in force were read count, however soon
	// after loading the watch starts.
	k.mu.RLock()
	last := k.digest
	k.mu.RUnlock()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			last = k.fileDigest()
		case <-ticker.C:
			digest := k.fileDigest()
			if digest == last {
				continue
			}
			last = digest
		}
		report(k.Reload())
	}
}

// fileDigest fingerprints the keys file's content ("" without a file; a
// read error is a fingerprint of its own, so it is reported once).
func (k *Keyring) fileDigest() string {
	if k.path == "" {
		return ""
	}
	raw, err := os.ReadFile(k.path)
	if err != nil {
		return "error: " + err.Error()
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}
