package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/memory-gateway/memory-gateway/policy"
)

// keysFileMode is the mode of a keys file the keys command writes: it holds
// only hashes, but who may use the gateway is nobody else's business.
const keysFileMode = 0o600

// keysCreateSummary says what keys create does.
const keysCreateSummary = "make an API key: print the key once with its keys-file entry, or add the entry to a keys file (--file)"

// runKeys runs a subcommand of keys.
func runKeys(_ context.Context, p process, args []string) int {
	if len(args) > 0 && args[0] == "create" {
		return runKeysCreate(p, args[1:])
	}
	fs := newFlagSet("keys", p.stderr)
	if err := fs.Parse(args); err != nil {
		return exitCode(err)
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(p.stderr, "memory-gateway keys: a subcommand is required: create")
	} else {
		fmt.Fprintf(p.stderr, "memory-gateway keys: unknown subcommand %q (want create)\n", fs.Arg(0))
	}
	return 2
}

// grantFlags collects repeated --grant [NAMESPACE=]ACCESS flags.
type grantFlags []policy.KeyGrant

func (g *grantFlags) String() string {
	parts := make([]string, 0, len(*g))
	for _, grant := range *g {
		parts = append(parts, grant.Namespace+"="+grant.Access)
	}
	return strings.Join(parts, ",")
}

func (g *grantFlags) Set(value string) error {
	grant := policy.KeyGrant{Access: value}
	if i := strings.LastIndexByte(value, '='); i >= 0 {
		grant = policy.KeyGrant{Namespace: value[:i], Access: value[i+1:]}
	}
	grant.Access = strings.ToUpper(strings.TrimSpace(grant.Access))
	*g = append(*g, grant)
	return nil
}

// keyEntryFlags names the flag that sets each field of a keys-file entry.
var keyEntryFlags = map[string]string{"name": "--name", "workspace": "--workspace", "role": "--role", "grants": "--grant"}

// runKeysCreate makes a key. The keys file's entry is built, checked and,
// with --file, added by the loader's own types (policy.KeysFile), so what it
// writes is what the gateway reads.
func runKeysCreate(p process, args []string) int {
	fs := newUsageFlagSet("keys create", "--name NAME --workspace ID --role ROLE --grant [NAMESPACE=]ACCESS [flags]", keysCreateSummary, p.stderr)
	var entry policy.KeyEntry
	var grants grantFlags
	var file string
	fs.StringVar(&entry.Name, "name", "", "the key's name, unique in the keys file; audit entries and logs show it (required)")
	fs.StringVar(&entry.Workspace, "workspace", "", `the workspace the key belongs to; "*" makes the operator key, of every workspace (required)`)
	fs.StringVar(&entry.Role, "role", "", "AGENT (reads and writes), DASHBOARD (reads) or ADMIN (required)")
	fs.StringVar(&entry.UserID, "user", "", "bind the key to this user")
	fs.StringVar(&entry.AgentID, "agent", "", "bind the key to this agent")
	fs.Var(&grants, "grant", "a grant, [NAMESPACE=]ACCESS with ACCESS READ, WRITE or ADMIN, on the namespace and everything below it (without NAMESPACE, the whole workspace); repeat for more (at least one)")
	fs.StringVar(&file, "file", "", "add the entry to this keys file (created when missing, mode 0600) and print only the key")
	if err := fs.Parse(args); err != nil {
		return exitCode(err)
	}
	usageError := func(format string, args ...any) int {
		fmt.Fprintf(p.stderr, "memory-gateway keys create: "+format+"\n", args...)
		return 2
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments: %v", fs.Args())
	}
	for _, required := range []struct{ value, flag string }{{entry.Name, "--name"}, {entry.Workspace, "--workspace"}, {entry.Role, "--role"}} {
		if strings.TrimSpace(required.value) == "" {
			return usageError("%s is required", required.flag)
		}
	}
	if len(grants) == 0 {
		return usageError("--grant is required: a key without grants reaches nothing (--grant ADMIN grants ADMIN on the whole workspace)")
	}
	entry.Role = strings.ToUpper(entry.Role)
	entry.Grants = grants

	key, err := policy.NewKey()
	if err != nil {
		fmt.Fprintln(p.stderr, "memory-gateway keys create:", err)
		return 1
	}
	entry.SHA256 = policy.HashKey(key)
	if err := entry.Check(); err != nil {
		var field *policy.KeyFieldError
		if errors.As(err, &field) && keyEntryFlags[field.Field] != "" {
			if field.Field == "grants" {
				g := grants[field.Grant]
				return usageError("--grant %q: %v", strings.TrimPrefix(g.Namespace+"="+g.Access, "="), errors.Unwrap(field.Err))
			}
			return usageError("%s: %v", keyEntryFlags[field.Field], err)
		}
		return usageError("%v", err)
	}

	if file == "" {
		line, err := json.Marshal(entry)
		if err != nil {
			fmt.Fprintln(p.stderr, "memory-gateway keys create:", err)
			return 1
		}
		fmt.Fprintln(p.stdout, key)
		fmt.Fprintln(p.stdout, string(line))
		fmt.Fprintln(p.stderr, `memory-gateway keys create: the key (first line) is shown this once: store it now. Add the entry (second line) to the "keys" array of the keys file, or let --file add it.`)
		return 0
	}
	switch err := addKeyToFile(file, entry); {
	case errors.Is(err, errDuplicateKeyName):
		return usageError("--name: %v", err)
	case err != nil:
		fmt.Fprintln(p.stderr, "memory-gateway keys create:", err)
		return 1
	}
	fmt.Fprintln(p.stdout, key)
	fmt.Fprintf(p.stderr, "memory-gateway keys create: added key %q to %s (a gateway reading it by this path reloads it); the key above is shown this once: store it now.\n", entry.Name, file)
	return 0
}

var errDuplicateKeyName = errors.New("a key of that name is in the keys file already")

// addKeyToFile adds entry to the keys file at path, creating it when
// missing. The file is replaced whole (written beside it, then renamed over
// it), so a gateway reading it never sees half a document; it refuses a file
// the gateway would refuse, and a name the file holds already.
func addKeyToFile(path string, entry policy.KeyEntry) error {
	// A keys file mounted through a symlink is replaced where it lives.
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		path = resolved
	}
	var keys policy.KeysFile
	existing, _ := os.Stat(path)
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("error reading the keys file: %w", err)
	default:
		if keys, err = policy.ParseKeysFile(raw, path); err != nil {
			return fmt.Errorf("%w (fix the file first: nothing was added)", err)
		}
	}
	for _, e := range keys.Keys {
		if e.Name == entry.Name {
			return fmt.Errorf("%w: %q is in %s (pick another --name, or remove the old key first)", errDuplicateKeyName, entry.Name, path)
		}
	}
	keys.Keys = append(keys.Keys, entry)
	out, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return fmt.Errorf("error writing the keys document: %w", err)
	}
	out = append(out, '\n')
	// What is written must be what the gateway reads.
	if _, err := policy.ParseKeysFile(out, path); err != nil {
		return err
	}
	return replaceFile(path, out, keysFileMode, existing)
}

// replaceFile writes content to a temporary file in path's directory, with
// mode and the owner of the file it replaces (previous, nil for none), and
// renames it over path.
func replaceFile(path string, content []byte, mode os.FileMode, previous os.FileInfo) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("error creating the new keys file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("error setting the keys file's mode: %w", err)
	}
	if previous != nil {
		if err := keepOwner(tmp, previous); err != nil {
			_ = tmp.Close()
			return err
		}
	}
	if _, err := tmp.Write(content); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("error writing the keys file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("error writing the keys file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("error writing the keys file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("error replacing the keys file: %w", err)
	}
	return nil
}

var _ flag.Value = (*grantFlags)(nil)
