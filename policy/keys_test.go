package policy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/policy"
)

type keyDoc struct {
	name, key, workspace, role string
	grant                      string
}

func writeKeys(t *testing.T, path string, keys ...keyDoc) {
	t.Helper()
	var entries []map[string]any
	for _, k := range keys {
		entries = append(entries, map[string]any{
			"name": k.name, "sha256": policy.HashKey(k.key), "workspace": k.workspace, "role": k.role,
			"grants": []map[string]any{{"namespace": k.grant, "access": "READ"}},
		})
	}
	raw, err := json.Marshal(map[string]any{"keys": entries})
	require.NoError(t, err)
	// Written beside and renamed over, as a secret mount swaps files: a
	// reader never sees half a document.
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, raw, 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

var (
	keyA = keyDoc{"dash-a", "mgw_key_a_0123456789", "acme", "DASHBOARD", ""}
	keyB = keyDoc{"dash-b", "mgw_key_b_0123456789", "acme", "DASHBOARD", ""}
)

// TestKeyringReloadRevokes: a reload swaps the keys in force; a removed key,
// and a key whose grants changed, are revoked — what they authenticated is
// cancelled — while an unchanged key's requests carry on.
func TestKeyringReloadRevokes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")
	writeKeys(t, path, keyA, keyB)
	k, err := policy.LoadKeyring(path, "")
	require.NoError(t, err)
	require.False(t, k.Empty())

	// Requests in flight, each held open until its context ends or the
	// test lets it go.
	inFlight := func(key string) (done <-chan error) {
		ch := make(chan error, 1)
		started := make(chan struct{})
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		h := k.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := gateway.PrincipalFrom(r.Context())
			require.True(t, ok)
			require.NotEmpty(t, p.Name)
			close(started)
			select {
			case <-r.Context().Done():
				ch <- r.Context().Err()
			case <-release:
				ch <- nil
			}
		}))
		go func() {
			req := httptest.NewRequest(http.MethodGet, "/graphql", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			h.ServeHTTP(httptest.NewRecorder(), req)
		}()
		<-started
		return ch
	}
	streamA, streamB := inFlight(keyA.key), inFlight(keyB.key)

	changedB := keyB
	changedB.grant = "support"
	writeKeys(t, path, keyA, changedB)
	res, err := k.Reload()
	require.NoError(t, err)
	require.Equal(t, policy.ReloadResult{Keys: 2, Added: 1, Revoked: 1}, res)
	require.ErrorIs(t, <-streamB, context.Canceled, "a key whose grants changed is revoked")
	select {
	case err := <-streamA:
		t.Fatalf("an unchanged key's request ended: %v", err)
	default:
	}
	p, ok := k.Authenticate(keyB.key)
	require.True(t, ok)
	require.Equal(t, []gateway.Grant{{Namespace: "support", Access: gateway.AccessRead}}, p.Grants, "new requests get the new grants")

	writeKeys(t, path, changedB)
	_, err = k.Reload()
	require.NoError(t, err)
	require.ErrorIs(t, <-streamA, context.Canceled, "a removed key is revoked")
	_, ok = k.Authenticate(keyA.key)
	require.False(t, ok)

	t.Run("a reload that would leave no keys is refused", func(t *testing.T) {
		writeKeys(t, path)
		_, err := k.Reload()
		require.ErrorIs(t, err, policy.ErrReloadEmpty)
		_, ok := k.Authenticate(keyB.key)
		require.True(t, ok, "the keys in force stay")
	})
	t.Run("a document that does not parse is refused", func(t *testing.T) {
		require.NoError(t, os.WriteFile(path, []byte(`{"keys": [`), 0o600))
		_, err := k.Reload()
		require.Error(t, err)
		_, ok := k.Authenticate(keyB.key)
		require.True(t, ok, "the keys in force stay")
	})
	t.Run("dev mode is decided at start", func(t *testing.T) {
		dev, err := policy.LoadKeyring("", "")
		require.NoError(t, err)
		require.True(t, dev.Empty())
		_, err = dev.Reload()
		require.ErrorIs(t, err, policy.ErrReloadDevMode)
	})
}

// TestKeyringWatch: the watcher reloads when the file's content changes and
// on a signal, and says so; an unreadable file is reported once.
func TestKeyringWatch(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")
	writeKeys(t, path, keyA)
	k, err := policy.LoadKeyring(path, "")
	require.NoError(t, err)
	type outcome struct {
		res policy.ReloadResult
		err error
	}
	reports := make(chan outcome, 10)
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go k.Watch(ctx, 10*time.Millisecond, hup, func(res policy.ReloadResult, err error) { reports <- outcome{res, err} })

	writeKeys(t, path, keyA, keyB)
	got := <-reports
	require.NoError(t, got.err)
	require.Equal(t, policy.ReloadResult{Keys: 2, Added: 1}, got.res, "a changed file is reloaded")
	_, ok := k.Authenticate(keyB.key)
	require.True(t, ok)

	hup <- os.Interrupt
	got = <-reports
	require.NoError(t, got.err)
	require.Equal(t, policy.ReloadResult{Keys: 2}, got.res, "a signal reloads, changed or not")

	require.NoError(t, os.Remove(path))
	got = <-reports
	require.Error(t, got.err, "a missing file is reported")
	writeKeys(t, path, keyB)
	got = <-reports
	require.NoError(t, got.err, "and the next change reloads: nothing was reported in between")
	require.Equal(t, policy.ReloadResult{Keys: 1, Revoked: 1}, got.res)
}

// TestKeyringGate: a gate serves the principals it allows and gives every
// other caller — no key, an unknown key, a key of another scheme, a key it
// refuses — the denied answer, byte for byte, with no 401 or
// WWW-Authenticate that would say something is there. Dev mode serves its
// principal, when allowed.
func TestKeyringGate(t *testing.T) {
	t.Parallel()
	const (
		operatorKey = "mgw_operator_0123456789"
		adminKey    = "mgw_admin_0123456789"
	)
	inline, err := json.Marshal(map[string]any{"keys": []map[string]any{
		{"name": "ops", "sha256": policy.HashKey(operatorKey), "workspace": "*", "role": "ADMIN",
			"grants": []map[string]any{{"namespace": "", "access": "ADMIN"}}},
		{"name": "acme-admin", "sha256": policy.HashKey(adminKey), "workspace": "acme", "role": "ADMIN",
			"grants": []map[string]any{{"namespace": "", "access": "ADMIN"}}},
		{"name": keyA.name, "sha256": policy.HashKey(keyA.key), "workspace": keyA.workspace, "role": keyA.role,
			"grants": []map[string]any{{"namespace": "", "access": "READ"}}},
	}})
	require.NoError(t, err)
	keyed, err := policy.LoadKeyring("", string(inline))
	require.NoError(t, err)
	dev, err := policy.LoadKeyring("", "")
	require.NoError(t, err)

	denied := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Denied", "yes")
		http.Error(w, "nothing here", http.StatusNotFound)
	})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := gateway.PrincipalFrom(r.Context())
		require.True(t, ok, "the principal reaches what the gate guards")
		_, _ = w.Write([]byte("served to " + p.Name))
	})
	deniedAnswer := httptest.NewRecorder()
	denied.ServeHTTP(deniedAnswer, httptest.NewRequest(http.MethodGet, "/guarded", nil))

	for _, tc := range []struct {
		name          string
		keyring       *policy.Keyring
		authorization string
		served        string // empty: denied
	}{
		{"no key", keyed, "", ""},
		{"an unknown key", keyed, "Bearer mgw_nobody_0123456789", ""},
		{"an empty bearer", keyed, "Bearer ", ""},
		{"the operator's key under another scheme", keyed, "Basic " + operatorKey, ""},
		{"a workspace admin's key", keyed, "Bearer " + adminKey, ""},
		{"a dashboard key", keyed, "Bearer " + keyA.key, ""},
		{"the operator's key", keyed, "Bearer " + operatorKey, "served to ops"},
		{"the operator's key, scheme in any case", keyed, "bearer " + operatorKey, "served to ops"},
		{"dev mode, no key", dev, "", "served to dev"},
		{"dev mode, any key", dev, "Bearer mgw_nobody_0123456789", "served to dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/guarded", nil)
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			rec := httptest.NewRecorder()
			tc.keyring.Gate(gateway.Principal.IsOperator, denied, next).ServeHTTP(rec, req)
			if tc.served != "" {
				require.Equal(t, http.StatusOK, rec.Code)
				require.Equal(t, tc.served, rec.Body.String())
				return
			}
			require.Equal(t, deniedAnswer.Code, rec.Code)
			require.Equal(t, deniedAnswer.Header(), rec.Header(), "no WWW-Authenticate, nothing but the denied answer's headers")
			require.Equal(t, deniedAnswer.Body.String(), rec.Body.String())
		})
	}

	t.Run("dev mode, its principal refused", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		dev.Gate(func(gateway.Principal) bool { return false }, denied, next).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/guarded", nil))
		require.Equal(t, http.StatusNotFound, rec.Code)
	})
}
