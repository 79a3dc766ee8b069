package app

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/policy"
)

// existingKeysFile is a keys file written by hand, in its own layout, with
// the key "old-secret".
var existingKeysFile = `{"keys": [
  {"name": "ops", "sha256": "` + policy.HashKey("old-secret") + `", "workspace": "*", "role": "admin",
   "grants": [{"namespace": "", "access": "admin"}]}
]}`

// TestKeysCreate: the key keys create prints authenticates, with the
// principal its flags say, against the gateway's own keyring — whether the
// entry is printed or added to a keys file, new or holding keys already —
// and a command line the keyring would refuse is refused naming its flag,
// leaving the file as it was.
func TestKeysCreate(t *testing.T) {
	t.Parallel()
	admin := gateway.Principal{Name: "admin", WorkspaceID: "acme", Role: gateway.RoleAdmin,
		Grants: []gateway.Grant{{Namespace: "", Access: gateway.AccessAdmin}}}
	alice := gateway.Principal{Name: "alice-helper", WorkspaceID: "acme", UserID: "alice", AgentID: "helper", Role: gateway.RoleAgent,
		Grants: []gateway.Grant{{Namespace: "support", Access: gateway.AccessWrite}, {Namespace: "shared/faq", Access: gateway.AccessRead}}}
	aliceArgs := []string{"--name", "alice-helper", "--workspace", "acme", "--role", "agent", "--user", "alice", "--agent", "helper",
		"--grant", "support=WRITE", "--grant", "/shared/faq/=read"}
	for _, tc := range []struct {
		name string
		args []string
		// existing is the keys file before the command, and its mode ("":
		// no file, and none named unless the case is about one).
		existing     string
		existingMode os.FileMode
		toFile       bool
		want         gateway.Principal
		// wantErr is what standard error says of a refused command line
		// (exit 2), which leaves the file as it was.
		wantErr string
	}{
		{name: "printed", args: []string{"--name", "admin", "--workspace", "acme", "--role", "ADMIN", "--grant", "ADMIN"}, want: admin},
		{name: "printed, bound to a user and an agent", args: aliceArgs, want: alice},
		{name: "a new file", args: []string{"--name", "admin", "--workspace", "acme", "--role", "admin", "--grant", "=admin"}, toFile: true, want: admin},
		{name: "added to a file", args: aliceArgs, existing: existingKeysFile, existingMode: 0o600, toFile: true, want: alice},
		{name: "a file too open is closed", args: aliceArgs, existing: existingKeysFile, existingMode: 0o644, toFile: true, want: alice},
		{name: "a name the file holds", args: []string{"--name", "ops", "--workspace", "acme", "--role", "ADMIN", "--grant", "ADMIN"},
			existing: existingKeysFile, existingMode: 0o600, toFile: true, wantErr: `--name: a key of that name is in the keys file already: "ops"`},
		{name: "a role", args: []string{"--name", "x", "--workspace", "acme", "--role", "OWNER", "--grant", "ADMIN"},
			existing: existingKeysFile, existingMode: 0o600, toFile: true, wantErr: "--role: role must be AGENT, DASHBOARD or ADMIN"},
		{name: "an access", args: []string{"--name", "x", "--workspace", "acme", "--role", "AGENT", "--grant", "support=WRITE", "--grant", "faq=WRTIE"},
			existing: existingKeysFile, existingMode: 0o600, toFile: true, wantErr: `--grant "faq=WRTIE": unknown access "WRTIE"`},
		{name: "no grant", args: []string{"--name", "x", "--workspace", "acme", "--role", "AGENT"}, wantErr: "--grant is required"},
		{name: "no name", args: []string{"--workspace", "acme", "--role", "AGENT", "--grant", "READ"}, wantErr: "--name is required"},
		{name: "no workspace", args: []string{"--name", "x", "--role", "AGENT", "--grant", "READ"}, wantErr: "--workspace is required"},
		{name: "no role", args: []string{"--name", "x", "--workspace", "acme", "--grant", "READ"}, wantErr: "--role is required"},
		{name: "a file the gateway refuses", args: aliceArgs, existing: `{"keys": [{"name": "ops", "sha256": "nothex"}]}`, existingMode: 0o600, toFile: true,
			wantErr: "sha256 must be 64 hex characters (fix the file first: nothing was added)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "api-keys.json")
			if tc.existing != "" {
				require.NoError(t, os.WriteFile(path, []byte(tc.existing), tc.existingMode))
				require.NoError(t, os.Chmod(path, tc.existingMode)) // whatever the umask
			}
			args := append([]string{"keys", "create"}, tc.args...)
			if tc.toFile {
				args = append(args, "--file", path)
			}
			code, out, errs := runCommand(args...)

			if tc.wantErr != "" {
				require.NotEqual(t, 0, code, errs)
				require.Contains(t, errs, tc.wantErr)
				require.Empty(t, out, "no key is printed")
				if tc.existing == "" {
					require.NoFileExists(t, path)
					return
				}
				raw, err := os.ReadFile(path)
				require.NoError(t, err)
				require.Equal(t, tc.existing, string(raw), "the file is as it was")
				entries, err := os.ReadDir(filepath.Dir(path))
				require.NoError(t, err)
				require.Len(t, entries, 1, "no temporary file is left")
				return
			}
			require.Equal(t, 0, code, errs)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			key := lines[0]
			require.True(t, strings.HasPrefix(key, policy.KeyPrefix), key)
			require.Contains(t, errs, "shown this once")

			var keyring *policy.Keyring
			var err error
			if tc.toFile {
				require.Len(t, lines, 1, "with --file only the key is printed")
				info, err := os.Stat(path)
				require.NoError(t, err)
				require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
				keyring, err = policy.LoadKeyring(path, "")
				require.NoError(t, err)
				entries, err := os.ReadDir(filepath.Dir(path))
				require.NoError(t, err)
				require.Len(t, entries, 1, "no temporary file is left")
			} else {
				require.Len(t, lines, 2, "the key, then its entry")
				keyring, err = policy.LoadKeyring("", `{"keys": [`+lines[1]+`]}`)
				require.NoError(t, err)
			}
			got, ok := keyring.Authenticate(key)
			require.True(t, ok, "the printed key authenticates")
			require.Equal(t, tc.want, got)
			if tc.existing != "" {
				old, ok := keyring.Authenticate("old-secret")
				require.True(t, ok, "the file's keys stay")
				require.Equal(t, "ops", old.Name)
				require.Equal(t, 2, keyring.Len())
			}
		})
	}
}

// TestKeysCreateMakesNewKeys: two keys are never the same, and the second
// of two names is added beside the first.
func TestKeysCreateMakesNewKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "api-keys.json")
	var keys []string
	for _, name := range []string{"one", "two"} {
		code, out, errs := runCommand("keys", "create", "--name", name, "--workspace", "acme", "--role", "DASHBOARD", "--grant", "READ", "--file", path)
		require.Equal(t, 0, code, errs)
		keys = append(keys, strings.TrimSpace(out))
	}
	require.NotEqual(t, keys[0], keys[1])
	keyring, err := policy.LoadKeyring(path, "")
	require.NoError(t, err)
	for i, name := range []string{"one", "two"} {
		p, ok := keyring.Authenticate(keys[i])
		require.True(t, ok)
		require.Equal(t, name, p.Name)
	}
}

// TestKeysCommandUsage: keys names its subcommand; keys create has its own
// usage and flags.
func TestKeysCommandUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"keys", "create", "--help"}, {"keys", "create", "-h"}} {
		code, _, errs := runCommand(args...)
		require.Equal(t, 0, code)
		require.Contains(t, errs, "Usage: memory-gateway keys create --name NAME")
		for _, flag := range []string{"-name", "-workspace", "-role", "-user", "-agent", "-grant", "-file"} {
			require.Contains(t, errs, "  "+flag+" ")
		}
	}
	code, out, _ := runCommand("help", "keys")
	require.Equal(t, 0, code)
	require.Contains(t, out, "Usage: memory-gateway keys create")

	code, _, errs := runCommand("keys")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "a subcommand is required: create")
	code, _, errs = runCommand("keys", "delete")
	require.Equal(t, 2, code)
	require.Contains(t, errs, `unknown subcommand "delete"`)
	code, _, errs = runCommand("keys", "create", "--name", "x", "--workspace", "acme", "--role", "AGENT", "--grant", "READ", "extra")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "unexpected arguments")
}

// TestKeysCreateKeepsTheFilesOwner: root adding a key to a keys file of the
// gateway's user leaves the file that user's, so the gateway still reads it.
func TestKeysCreateKeepsTheFilesOwner(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user takes root")
	}
	const gatewayUser = 65532 // the image's user
	path := filepath.Join(t.TempDir(), "api-keys.json")
	require.NoError(t, os.WriteFile(path, []byte(existingKeysFile), 0o600))
	require.NoError(t, os.Chown(path, gatewayUser, gatewayUser))

	code, _, errs := runCommand("keys", "create", "--name", "x", "--workspace", "acme", "--role", "AGENT", "--grant", "READ", "--file", path)
	require.Equal(t, 0, code, errs)
	info, err := os.Stat(path)
	require.NoError(t, err)
	st, ok := info.Sys().(*syscall.Stat_t)
	require.True(t, ok)
	require.Equal(t, [2]uint32{gatewayUser, gatewayUser}, [2]uint32{st.Uid, st.Gid})
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}
