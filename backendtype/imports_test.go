package backendtype_test

import (
	"errors"
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	module      = "github.com/memory-gateway/memory-gateway"
	domain      = module + "/gateway"
	moduleRoot  = ".."
	adaptersDir = "../backends"
)

// TestAdaptersDoNotImportTheDomain: the adapters (every package under
// backends/) speak to the gateway through this package only. Their code
// reaches the domain package by no chain of imports, and their tests do
// not import it (a test may still set up a database through a package
// that does).
func TestAdaptersDoNotImportTheDomain(t *testing.T) {
	t.Parallel()
	var checked int
	err := filepath.WalkDir(adaptersDir, func(dir string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		pkg, err := build.ImportDir(dir, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil
		}
		require.NoError(t, err, dir)
		checked++
		rel, err := filepath.Rel(moduleRoot, dir)
		require.NoError(t, err)
		path := module + "/" + filepath.ToSlash(rel)
		if chain := importChain(t, pkg.Imports, domain, map[string]bool{}); chain != nil {
			t.Errorf("%s reaches the domain: %s", path, strings.Join(append([]string{path}, chain...), " → "))
		}
		for _, imp := range append(pkg.TestImports, pkg.XTestImports...) {
			if imp == domain {
				t.Errorf("the tests of %s import %s: use backendtype", path, domain)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, checked, 5, "the adapters were found")
}

// importChain is the chain of module imports from one of imports to
// target, nil when there is none.
func importChain(t *testing.T, imports []string, target string, seen map[string]bool) []string {
	t.Helper()
	for _, imp := range imports {
		if imp == target {
			return []string{imp}
		}
		if seen[imp] || !strings.HasPrefix(imp, module+"/") {
			continue
		}
		seen[imp] = true
		pkg, err := build.ImportDir(filepath.Join(moduleRoot, strings.TrimPrefix(imp, module+"/")), 0)
		require.NoError(t, err, imp)
		if chain := importChain(t, pkg.Imports, target, seen); chain != nil {
			return append([]string{imp}, chain...)
		}
	}
	return nil
}
